"""Instructions per received message of mq on the MicroPython unix port, counted by
valgrind: the receive path (decoder, protocol, routing, the handler's call), which the
publishing figures of bench/mp_instructions.py leave out.

    .venv/bin/python bench/mp_receive.py [--heap 256K] [--json FILE]

mq is compiled to .mpy (tools/build_mpy.py, as a device would load it) and a probe
(below) feeds PUBLISH packets of 32 B, ten per read, through the client's protocol into
``Client.on_message`` and a handler that counts them: no socket, no broker. It runs
under ``valgrind --tool=cachegrind --cache-sim=no`` with 10 and with 5010 messages;
the difference divided by 5000 is the figure. The count repeats to the instruction
for the same code and heap size. Most of it can be the allocator: a frame that
MicroPython takes from the heap (tools/mpy_frames.py) and frees again on every call
makes the next allocations search the garbage left since the last collection, so the
figure moves with the heap size and with any change in what is allocated when
(MP_RESULTS.md). Needs valgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tools"))

import build_mpy  # noqa: E402
import run  # noqa: E402
from mp_instructions import valgrind_count  # noqa: E402

PROBE = """
import sys
import mq
from mq.io_subs import Subscription
from mq.wire_encode import encode_bytes
from mq.wire_packets import Connack, Message
from mq.wire_props import Properties

N, V, QOS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
got = [0]


def handler(client, message):
    got[0] += 1


c = mq.Client("mqtt://127.0.0.1:1", protocol=V)
sub = Subscription("bench/#", QOS, handler)
c._subs.add(sub)
p = c.proto
p.start(c._connect_packet(), 0)
p.out.clear()
p.feed(encode_bytes(Connack(False, 0), V), 0)
props = None
if V == 5:  # tagged with the subscription's identifier, as Mosquitto sends them
    c._subs.number(sub, True)
    props = Properties(subscription_identifier=[sub.sid])
one = encode_bytes(Message("bench/recv/topic", b"x" * 32, QOS, packet_id=1 if QOS else 0, properties=props), V)
batch = one * 10
for _ in range(N // 10):
    p.rx_space()[: len(batch)] = batch
    p.received(len(batch), 0)
    p.out.clear()  # the acknowledgements, which a socket would take
assert got[0] == N, got
print('{"received": %d}' % got[0])
"""

CELLS = [(4, 0), (4, 1), (5, 0), (5, 1)]  # (protocol version, QoS)


def count(mp: str, path: str, probe: Path, heap: str, n: int, version: int, qos: int) -> int:
    # The probe asserts that its handler got all n messages, and prints its JSON line only then.
    argv = [mp, "-X", "heapsize=" + heap, str(probe), str(n), str(version), str(qos)]
    return valgrind_count(argv, dict(os.environ, MICROPYPATH=path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heap", default="256K", help="MicroPython's -X heapsize (default 256K)")
    ap.add_argument("--json", help="also write the cells to this file")
    args = ap.parse_args()
    mp = run.micropython_binary()
    if mp is None:
        raise SystemExit("no micropython binary: run tools/setup.sh")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mq-receive-") as tmp:
        build_mpy.build(Path(tmp))
        probe = Path(tmp) / "receive_probe.py"
        probe.write_text(PROBE)
        path = tmp + ":.frozen"
        for version, qos in CELLS:
            a = count(mp, path, probe, args.heap, 10, version, qos)
            b = count(mp, path, probe, args.heap, 5010, version, qos)
            per = round((b - a) / 5000)
            rows.append({"version": version, "qos": qos, "heap": args.heap, "per_message": per})
            print("mq %s QoS %d, heap %s: %d instructions per received message"
                  % ("3.1.1" if version == 4 else "5.0", qos, args.heap, per), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cells": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
