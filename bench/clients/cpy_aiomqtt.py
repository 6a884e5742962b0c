"""aiomqtt, driven as its documentation shows: ``async with Client(host, port) as
client`` and ``await client.publish(topic, payload, qos)``; MQTT 5.0.

Pipelined by running publishes concurrently: CONCURRENCY tasks, each awaiting one
publish after the other; paho underneath keeps its default of 20 in flight, as in
cpy_paho.py. Not thousands of tasks: aiomqtt counts every pending call on each publish
(``len(list(self._pending_calls))``), so its rate falls as they grow (64 is about its
best on this machine; 2048 halves it). Latency: one awaited publish after the other.
"""

import asyncio

import aiomqtt
from _common import main, perf_counter, start

NAME = "cpy_aiomqtt"
CONCURRENCY = 64


async def bench(a: "object") -> "tuple[float, list[float] | None]":
    topic = "bench/" + NAME
    payload = b"x" * a.size  # type: ignore[attr-defined]
    qos = a.qos  # type: ignore[attr-defined]
    count = a.count  # type: ignore[attr-defined]
    async with aiomqtt.Client(
        a.host, a.port, identifier=NAME,  # type: ignore[attr-defined]
        protocol=aiomqtt.ProtocolVersion.V5, timeout=600,
    ) as client:
        client.pending_calls_threshold = CONCURRENCY + 1
        publish = client.publish
        if a.mode == "latency":  # type: ignore[attr-defined]
            times = []
            for _ in range(count):
                t0 = perf_counter()
                await publish(topic, payload, qos)
                times.append(perf_counter() - t0)
            return sum(times), times
        left = count

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await publish(topic, payload, qos)

        t0 = start()
        await asyncio.gather(*[worker() for _ in range(min(CONCURRENCY, count))])
        return perf_counter() - t0, None


def run(a: "object") -> "tuple[float, list[float] | None]":
    return asyncio.run(bench(a))


if __name__ == "__main__":
    main(NAME, run)
