"""CPU per QoS 0 publish on the MicroPython unix port, without I/O: where the time of
``await client.publish()`` goes, layer by layer (RESULTS: bench/MP_RESULTS.md).

    micropython bench/mp_publish_cpu.py URL [SIZE]

Connects to the broker at URL, then replaces the client's socket with a stub that
takes every write, so what is timed is mq's own code. Each figure is the best of 5
rounds of 100,000 calls, in µs per call; every line includes the layers below it:

    await publish   await client.publish(topic, payload, 0)
    publish()       the same call, its token not awaited
    publish_plain   Protocol.publish_plain (protocol layer: header, counters)
    Output.put      the send buffer (room, the server's size limit)
    encode_plain_publish  the wire codec alone

These are the layers of a publish without properties or alias; the general ones
(``publish_qos0``, ``Output.publish``, ``encode_publish``) take the rest.
"""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/..")

import asyncio  # noqa: E402
import time  # noqa: E402

import mq  # noqa: E402
from mq.wire_encode import encode_plain_publish  # noqa: E402

N = 100000
ROUNDS = 5
TOPIC = "bench/cpu"


class _StubSocket:
    def write(self, buf, off=0, n=-1):
        return n if n >= 0 else len(buf)


def _best(fn):
    best = None
    for _ in range(ROUNDS):
        t = time.ticks_us()
        fn()
        us = time.ticks_diff(time.ticks_us(), t) / N
        best = us if best is None or us < best else best
    return best


async def _best_async(fn):
    best = None
    for _ in range(ROUNDS):
        t = time.ticks_us()
        await fn()
        us = time.ticks_diff(time.ticks_us(), t) / N
        best = us if best is None or us < best else best
    return best


async def main(url, size):
    client = await mq.dial(url, client_id="mp_publish_cpu", qos0_policy=mq.QOS0_BLOCK)
    link = client._link  # the connection's socket is swapped for the stub, then restored
    sock = link.sock
    link.sock = _StubSocket()
    payload = b"x" * size
    topic = TOPIC.encode()
    proto = client.proto
    out = proto.out
    # Room for the packet: the client's buffer has not grown for a large one yet, and
    # the encoder would only find that it does not fit.
    buf = bytearray(max(len(out.buf), size + 64))

    async def awaited():
        for _ in range(N):
            await client.publish(TOPIC, payload, 0)

    def called():
        for _ in range(N):
            client.publish(TOPIC, payload, 0)

    def protocol():
        for _ in range(N):
            proto.publish_plain(topic, payload, False, 0)
            if out.n > out.flush_at:
                out.clear()

    def output():
        for _ in range(N):
            out.put(0x130, topic, payload)
            if out.n > out.flush_at:
                out.clear()

    def codec():
        for _ in range(N):
            encode_plain_publish(buf, 0, 0x130, topic, payload)

    def empty():
        for _ in range(N):
            pass

    try:
        rows = [("await publish", await _best_async(awaited)), ("publish()", _best(called))]
        out.clear()
        rows += [
            ("publish_plain", _best(protocol)),
            ("Output.put", _best(output)),
            ("encode_plain_publish", _best(codec)),
            ("empty loop", _best(empty)),
        ]
        out.clear()
    finally:
        link.sock = sock
        await client.disconnect()
    print("QoS 0, %d B payload, µs per call (best of %d x %d):" % (size, ROUNDS, N))
    for name, us in rows:
        print("  %-21s %6.3f" % (name, us))


asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 32))
