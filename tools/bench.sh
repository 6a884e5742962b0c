#!/bin/sh
# The benchmarks: installs the `bench` extra (paho-mqtt, gmqtt, aiomqtt, matplotlib) and
# the MicroPython peers, then runs bench/run.py, which starts its own Mosquitto, runs
# the clients and then bench/mp_memory.py (the MicroPython heap and .mpy figures) and,
# in the full mode, bench/mp_instructions.py (instructions per message), and
# rewrites bench/results.json, bench/RESULTS.md and bench/throughput.png.
#   sh tools/bench.sh [--quick|--full] [--clients a,b] [--runs N]
set -eu
cd "$(dirname "$0")/.."
. tools/setup.sh
stamp=.venv/.mq-bench-installed
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
    echo "bench: installing the bench extra into .venv"
    pip install -q -e ".[bench]"
    cp pyproject.toml "$stamp"
fi
# valgrind counts the MicroPython clients' instructions per message in the full mode
# (bench/mp_instructions.py): a CPU figure the host's load does not move.
if [ "${1:-}" = "--full" ] && ! command -v valgrind >/dev/null 2>&1; then
    apt_install valgrind
fi
if [ -f bench/setup_mp_peers.sh ] && [ ! -f bench/mp_lib/umqtt/simple.py ]; then
    sh bench/setup_mp_peers.sh
fi
python bench/run.py "$@"
