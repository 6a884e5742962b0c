"""mq on CPython, driven as its DESIGN.md shows: ``await mq.dial(url)``, then
``client.publish(topic, payload, qos)`` returning an awaitable Token.

QoS 0 uses ``qos0_policy=mq.QOS0_BLOCK`` and awaits every token (a token is complete at
once unless the send buffer is over its high-water mark), then ``disconnect()``, which
drains what is still buffered. QoS 1/2 keep up to the server's Receive Maximum of tokens
pending and await the oldest when the window is full; for QoS 2 the client is made with
``max_inflight=QOS2_WINDOW`` (the README's advice for Mosquitto; the ceiling uses the same).
"""

import asyncio
import sys
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _common import QOS2_WINDOW, main, perf_counter, start

import mq

NAME = "cpy_mq"


async def bench(a: "object") -> "tuple[float, list[float] | None]":
    inflight = QOS2_WINDOW if a.qos == 2 else 65535  # type: ignore[attr-defined]
    client = await mq.dial(
        a.url, client_id=NAME, qos0_policy=mq.QOS0_BLOCK, max_inflight=inflight  # type: ignore[attr-defined]
    )
    topic = "bench/" + NAME
    payload = b"x" * a.size  # type: ignore[attr-defined]
    qos = a.qos  # type: ignore[attr-defined]
    count = a.count  # type: ignore[attr-defined]
    publish = client.publish
    if a.mode == "latency":  # type: ignore[attr-defined]
        times = []
        for _ in range(count):
            t0 = perf_counter()
            await publish(topic, payload, qos)
            times.append(perf_counter() - t0)
        await client.disconnect()
        return sum(times), times
    t0 = start()
    if qos == 0:
        for _ in range(count):
            await publish(topic, payload, 0)
        await client.disconnect()
        return perf_counter() - t0, None
    window = min(client.server_capabilities.receive_maximum, inflight)
    pending: "deque[mq.Token]" = deque()
    for _ in range(count):
        if len(pending) >= window:
            await pending.popleft()
        pending.append(publish(topic, payload, qos))
    for tok in pending:
        await tok
    seconds = perf_counter() - t0
    await client.disconnect()
    return seconds, None


def run(a: "object") -> "tuple[float, list[float] | None]":
    return asyncio.run(bench(a))


if __name__ == "__main__":
    main(NAME, run)
