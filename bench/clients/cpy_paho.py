"""paho-mqtt 2.x, driven as its documentation shows: ``Client(CallbackAPIVersion.VERSION2,
protocol=MQTTv5)``, ``connect`` + ``loop_start`` (the network loop in its own thread),
``publish`` from the main thread, completions counted in ``on_publish``.

In flight: paho's documented default, 20 QoS 1/2 messages (``max_inflight_messages_set``;
the rest wait in its queue). paho does not read the server's Receive Maximum, and a
deeper window makes it slower, not faster: it walks its whole outgoing table on every
acknowledgement (QoS 1, 32 B, here: 16k msg/s at 20, 19k at 100, 9.6k at 1000, 1.5k at
65535).
Latency: ``publish(...).wait_for_publish()`` per message.
"""

import threading

import paho.mqtt.client as mqtt
from _common import main, perf_counter, start

NAME = "cpy_paho"


def run(a: "object") -> "tuple[float, list[float] | None]":
    count = a.count  # type: ignore[attr-defined]
    qos = a.qos  # type: ignore[attr-defined]
    topic = "bench/" + NAME
    payload = b"x" * a.size  # type: ignore[attr-defined]
    connected = threading.Event()
    finished = threading.Event()
    state = {"published": 0, "rc": None}

    def on_connect(client: "mqtt.Client", userdata: "object", flags: "object", rc: "object", props: "object") -> None:
        state["rc"] = rc
        connected.set()

    def on_publish(client: "mqtt.Client", userdata: "object", mid: int, rc: "object", props: "object") -> None:
        state["published"] += 1
        if state["published"] >= count:
            finished.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=NAME, protocol=mqtt.MQTTv5)
    client.on_connect = on_connect
    client.connect(a.host, a.port, keepalive=60)  # type: ignore[attr-defined]
    client.loop_start()
    if not connected.wait(10) or getattr(state["rc"], "is_failure", False):
        raise OSError("not connected: %r" % (state["rc"],))
    publish = client.publish
    if a.mode == "latency":  # type: ignore[attr-defined]
        times = []
        for _ in range(count):
            t0 = perf_counter()
            publish(topic, payload, qos).wait_for_publish()
            times.append(perf_counter() - t0)
        client.disconnect()
        client.loop_stop()
        return sum(times), times
    client.on_publish = on_publish
    t0 = start()
    for _ in range(count):
        publish(topic, payload, qos)
    if not finished.wait(600):
        raise TimeoutError("%d of %d publishes completed" % (state["published"], count))
    seconds = perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    return seconds, None


if __name__ == "__main__":
    main(NAME, run)
