"""Bench client: mq on the MicroPython unix port (see bench/mp_common.py for the CLI).

publish: QoS 0 with ``qos0_policy=QOS0_BLOCK`` (a publish that would overrun the send
buffer waits instead of being dropped), each publish awaited; the clock stops when
``disconnect()`` has flushed the last byte. QoS 1/2: pipelined, at most the server's
receive maximum (capped by WINDOW) in flight; the clock stops at the last PUBACK/PUBCOMP.
latency: each publish awaited before the next.
"""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../..")
sys.path.insert(0, _here + "/..")

import asyncio  # noqa: E402

import mp_common  # noqa: E402

import mq  # noqa: E402

WINDOW = 64  # most tokens in flight (and the receive maximum): each holds a copy of the payload


async def run(name, url, mode, qos, size, count):
    client = await mq.dial(url, client_id=name, qos0_policy=mq.QOS0_BLOCK, auto_reconnect=False)
    topic = "bench/" + name
    payload = b"x" * size
    ticks_us = mp_common.ticks_us
    ticks_diff = mp_common.ticks_diff
    latencies = None
    try:
        if mode == "latency":
            latencies = []
            t0 = ticks_us()
            for _ in range(count):
                t = ticks_us()
                await client.publish(topic, payload, qos)
                latencies.append(ticks_diff(ticks_us(), t))
            micros = ticks_diff(ticks_us(), t0)
        elif qos == 0:
            t0 = ticks_us()
            for _ in range(count):
                await client.publish(topic, payload, 0)
            await client.disconnect()
            micros = ticks_diff(ticks_us(), t0)
        else:
            window = min(client.server_capabilities.receive_maximum, WINDOW, count)
            ring = [None] * window
            t0 = ticks_us()
            for i in range(count):
                j = i % window
                tok = ring[j]
                if tok is not None:
                    await tok
                ring[j] = client.publish(topic, payload, qos)
            for tok in ring:
                if tok is not None:
                    await tok
            micros = ticks_diff(ticks_us(), t0)
    finally:
        if client.is_connected:
            await client.disconnect()
    return micros, latencies


def main():
    name, url, _, _, mode, qos, size, count = mp_common.parse_args()
    try:
        micros, latencies = asyncio.run(run(name, url, mode, qos, size, count))
    except Exception as e:
        mp_common.report(name, mode, qos, size, count, error=mp_common.error_text(e))
        return
    mp_common.report(name, mode, qos, size, count, micros, latencies)


main()
