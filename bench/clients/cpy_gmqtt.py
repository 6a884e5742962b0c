"""gmqtt, driven as its README shows: ``MQTTClient(client_id)``, ``await
client.connect(host, port)`` (MQTT 5.0 by default), ``client.publish(topic, payload,
qos=...)``, ``await client.disconnect()``.

``publish`` is synchronous and gmqtt has no per-message acknowledgement callback, so QoS
1/2 wait for its in-flight store to drain (``wait_empty``, what its own ``connect`` uses
after a replay), in windows of the server's Receive Maximum (gmqtt's packet-id pool is
that large). QoS 0 ends with ``disconnect()``, which closes the transport once its
buffer is written. Latency: publish, then wait for the store to drain.
"""

import asyncio
import logging

from _common import main, perf_counter, start
from gmqtt import Client as MQTTClient

NAME = "cpy_gmqtt"


async def bench(a: "object") -> "tuple[float, list[float] | None]":
    logging.getLogger("gmqtt").setLevel(logging.WARNING)
    client = MQTTClient(NAME)
    await client.connect(a.host, a.port)  # type: ignore[attr-defined]
    topic = "bench/" + NAME
    payload = b"x" * a.size  # type: ignore[attr-defined]
    qos = a.qos  # type: ignore[attr-defined]
    count = a.count  # type: ignore[attr-defined]
    publish = client.publish
    store = client._persistent_storage  # no public way to learn of PUBACK/PUBCOMP
    if a.mode == "latency":  # type: ignore[attr-defined]
        times = []
        for _ in range(count):
            t0 = perf_counter()
            publish(topic, payload, qos=qos)
            await store.wait_empty()
            times.append(perf_counter() - t0)
        await client.disconnect()
        return sum(times), times
    t0 = start()
    if qos == 0:
        for _ in range(count):
            publish(topic, payload, qos=0)
        await client.disconnect()
        return perf_counter() - t0, None
    # gmqtt's packet-id pool is sized from CONNACK's Receive Maximum and holds one less.
    window = client._package_handler.id_generator._max - 1
    sent = 0
    while sent < count:
        k = min(window, count - sent)
        for _ in range(k):
            publish(topic, payload, qos=qos)
        sent += k
        await store.wait_empty()
    seconds = perf_counter() - t0
    await client.disconnect()
    return seconds, None


def run(a: "object") -> "tuple[float, list[float] | None]":
    return asyncio.run(bench(a))


if __name__ == "__main__":
    main(NAME, run)
