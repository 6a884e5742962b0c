"""Instructions per message of the MicroPython bench clients, counted by valgrind: a CPU
figure that does not move with the host's load (bench/MP_RESULTS.md).

    .venv/bin/python bench/mp_instructions.py [--count 10000] [--json FILE]

Each client of bench/clients/ (mp_mq, mp_mqtt_as, mp_umqtt) publishes to a Mosquitto
of bench/run.py under ``valgrind --tool=cachegrind --cache-sim=no``, once with one
message and once with count + 1; the difference of the two totals of executed
instructions, divided by count, is what one more message costs the client process in
user space (the MicroPython VM and the C library; not the kernel, whose share is in the
wall-clock tables). The same run gives the same figure to within a few instructions,
where rates on this shared machine move by 20 % and more. The clients run as in the
rate tables (QoS 0 with each publish awaited, QoS 1 pipelined), so the figure includes
their bench loop. Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402

# (client, QoS, payload size): QoS 1 only where the client pipelines it (umqtt.simple
# waits about 40 ms per message for its PUBACK, see MP_RESULTS.md).
CELLS = [
    ("mp_mq", 0, 32), ("mp_mqtt_as", 0, 32), ("mp_umqtt", 0, 32),
    ("mp_mq", 0, 1024), ("mp_mqtt_as", 0, 1024), ("mp_umqtt", 0, 1024),
    ("mp_mq", 1, 32), ("mp_mqtt_as", 1, 32),
    ("mp_mq", 2, 32),
]


def valgrind_count(argv: "list[str]", env: "dict[str, str] | None" = None) -> int:
    """Run a bench client under cachegrind; the instructions it executed in user space.
    Fails unless the client printed its JSON line without an error."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    report = run.last_json_line(p.stdout)
    if report is None or report.get("error"):
        raise RuntimeError("%s failed: %s" % (Path(argv[1]).stem, (report or {}).get("error") or p.stderr[-300:]))
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    if m is None:
        raise RuntimeError("no instruction count from valgrind: " + p.stderr[-300:])
    return int(m.group(1).replace(",", ""))


def instructions(mp: str, url: str, client: str, qos: int, size: int, count: int) -> int:
    script = str(BENCH / "clients" / (client + ".py"))
    return valgrind_count([mp, script, url, "publish", str(qos), str(size), str(count)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--json", help="also write the cells to this file")
    args = ap.parse_args()
    mp = run.micropython_binary()
    if mp is None or shutil.which("valgrind") is None:
        sys.exit("needs the micropython binary and valgrind")
    rows = []
    with run.BenchBroker(run.BROKER_CONFIG) as broker:
        for client, qos, size in CELLS:
            one = instructions(mp, broker.url, client, qos, size, 1)
            more = instructions(mp, broker.url, client, qos, size, args.count + 1)
            rows.append({"client": client, "qos": qos, "size": size, "per_message": round((more - one) / args.count)})
            print("%-11s QoS %d %5d B: %8d instructions per message" % (client, qos, size, rows[-1]["per_message"]),
                  flush=True)
    mq = {(r["qos"], r["size"]): r["per_message"] for r in rows if r["client"] == "mp_mq"}
    print("\n| client | QoS | payload | instructions per message | / mq |\n|---|---|---|---:|---:|")
    for r in rows:
        print("| %s | %d | %d B | %d | %.2f |" % (
            r["client"], r["qos"], r["size"], r["per_message"], r["per_message"] / mq[(r["qos"], r["size"])]))
    if args.json:
        Path(args.json).write_text(json.dumps({"count": args.count, "cells": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
