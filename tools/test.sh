#!/bin/sh
# The whole test suite: ruff, mypy --strict, then pytest on CPython, which also runs
# the portable tests on the MicroPython unix port. Extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
. tools/setup.sh
echo "== ruff"
ruff check mq mq_cpython_shim tests tools $(ls -d bench ports 2>/dev/null)
echo "== mypy --strict"
mypy
echo "== pytest (CPython and the MicroPython unix port)"
python -m pytest "$@"
