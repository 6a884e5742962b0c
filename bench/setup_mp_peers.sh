#!/bin/sh
# Fetch the MicroPython peers of the benchmark into bench/mp_lib/ (gitignored):
#   micropython-umqtt-simple  ->  bench/mp_lib/umqtt/simple.py
#   micropython-mqtt          ->  bench/mp_lib/mqtt_async.py
# Both are upip-era source tarballs without setup.py or pyproject.toml, so
# `pip install --target` refuses them ("does not appear to be a Python project").
# pip still finds and downloads them: this drives pip's own package finder and HTTP
# session (so the venv's pip index, proxy and certificate settings apply), checks
# the sdist's hash against the index, and unpacks its .py files. Idempotent.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" - bench/mp_lib micropython-umqtt-simple micropython-mqtt <<'PYEOF'
import hashlib
import io
import os
import sys
import tarfile

from pip._internal.commands import create_command


def get(session, finder, dest, name):
    best = finder.find_best_candidate(name).best_candidate
    if best is None:
        sys.exit("no distribution found for %s" % name)
    link = best.link
    resp = session.get(link.url)
    resp.raise_for_status()
    data = resp.content
    if not link.has_hash:
        sys.exit("%s: the index gave no hash" % link.filename)
    if hashlib.new(link.hash_name, data).hexdigest() != link.hash:
        sys.exit("%s: %s hash mismatch" % (link.filename, link.hash_name))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")[1:]  # drop the top folder
            if not m.isfile() or not m.name.endswith(".py") or ".." in parts:
                continue
            path = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(tar.extractfile(m).read())
            print("%s %s -> %s" % (name, best.version, path))


def main(dest, names):
    os.makedirs(dest, exist_ok=True)
    cmd = create_command("download")
    options, _ = cmd.parse_args(["--no-deps"])
    with cmd.main_context():
        session = cmd.get_default_session(options)
        finder = cmd._build_package_finder(options, session)
        for name in names:
            get(session, finder, dest, name)


main(sys.argv[1], sys.argv[2:])
PYEOF
