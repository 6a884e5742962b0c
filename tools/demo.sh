#!/bin/sh
# The demo: a sensor on the MicroPython unix port publishes to a local Mosquitto, a
# CPython subscriber prints the readings, and the broker is restarted in the middle.
set -eu
cd "$(dirname "$0")/.."
. tools/setup.sh
python tools/demo.py "$@"
