"""Instructions per message of mq on CPython when acknowledgements come a few at a time,
counted by valgrind: the event loop's cost per read and write, which the in-process
figures leave out and which the broker's share of the two cores makes matter (RESULTS.md).

    .venv/bin/python bench/cpy_lockstep.py [--ack-batch 4] [--count 5000] [--json FILE]

A lock-step MQTT 5.0 peer (a thread of this script, not under valgrind) acknowledges
what bench/clients/cpy_mq.py publishes in chunks of ``--ack-batch`` packets, and sends
the next chunk only once the client has answered the last one (a PUBREL for each
PUBREC, a new PUBLISH for each PUBACK or PUBCOMP while messages remain). Each read of
the client then holds the same acknowledgements however fast it runs, so the count
repeats from run to run. The client runs under ``valgrind --tool=cachegrind
--cache-sim=no`` with 1000 messages and with 1000 + count; the difference divided by
count is the figure (user space only). Needs valgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

sys.path.insert(0, str(BENCH / "clients"))

from mp_instructions import valgrind_count  # noqa: E402
from raw_blaster import read_varint  # noqa: E402

CELLS = [(0, 32), (1, 32), (2, 32), (2, 1024)]
BASE = 1000  # messages of the shorter run


def _packets(buf: bytearray) -> "list[tuple[int, bytes]]":
    """Take the complete packets off the front of buf."""
    out = []
    i = 0
    while len(buf) - i >= 2:
        length = read_varint(buf, i + 1)
        if length is None:
            break
        n, j = length
        if j + n > len(buf):
            break
        out.append((buf[i], bytes(buf[j:j + n])))
        i = j + n
    del buf[:i]
    return out


class LockstepPeer(threading.Thread):
    """Serves one connection at a time on a loopback port, as the docstring says."""

    def __init__(self, batch: int) -> None:
        super().__init__(daemon=True)
        self.batch = batch
        self.count = 0  # messages the next client publishes in all
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.url = "mqtt://127.0.0.1:%d" % self.srv.getsockname()[1]

    def run(self) -> None:
        while True:
            conn, _ = self.srv.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._serve(conn)
            except OSError:
                pass
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        pending: "list[bytes]" = []  # acknowledgements not sent yet, in order
        rel = pub = 0  # answers still due to the last chunk: PUBRELs, new PUBLISHes
        published = 0
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            buf += data
            for first, body in _packets(buf):
                kind = first >> 4
                if kind == 1:  # CONNECT: accepted, Receive Maximum 65535
                    conn.sendall(b"\x20\x06\x00\x00\x03\x21\xff\xff")
                elif kind == 3:
                    published += 1
                    pub = max(0, pub - 1)
                    qos = (first >> 1) & 3
                    if qos:
                        end = 2 + (body[0] << 8 | body[1])
                        pending.append((b"\x40\x02" if qos == 1 else b"\x50\x02") + body[end:end + 2])
                elif kind == 6:  # PUBREL
                    rel = max(0, rel - 1)
                    pending.append(b"\x70\x02" + body[:2])
                elif kind == 12:
                    conn.sendall(b"\xd0\x00")
                elif kind == 14:
                    return
            while not rel and not pub and pending:
                chunk, pending = pending[:self.batch], pending[self.batch:]
                conn.sendall(b"".join(chunk))
                rel = sum(1 for a in chunk if a[0] == 0x50)
                pub = min(len(chunk) - rel, self.count - published)


def instructions(peer: LockstepPeer, qos: int, size: int, count: int) -> int:
    peer.count = count
    script = str(BENCH / "clients" / "cpy_mq.py")
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in every run
    return valgrind_count([sys.executable, script, peer.url, "publish", str(qos), str(size), str(count)], env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ack-batch", type=int, default=4)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--json", help="also write the cells to this file")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind")
    peer = LockstepPeer(args.ack_batch)
    peer.start()
    rows = []
    for qos, size in CELLS:
        one = instructions(peer, qos, size, BASE)
        more = instructions(peer, qos, size, BASE + args.count)
        rows.append({"qos": qos, "size": size, "per_message": round((more - one) / args.count)})
        print("cpy_mq QoS %d %5d B: %8d instructions per message" % (qos, size, rows[-1]["per_message"]), flush=True)
    if args.json:
        doc = {"ack_batch": args.ack_batch, "count": args.count, "cells": rows}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
