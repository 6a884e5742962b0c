"""Bench client: umqtt.simple (micropython-umqtt-simple, fetched into bench/mp_lib by
bench/setup_mp_peers.sh) on the MicroPython unix port; see bench/mp_common.py for the CLI.

Blocking API as its docs show: ``MQTTClient(id, server, port)``, ``connect()``,
``publish(topic, msg, qos=...)``, ``disconnect()``. It cannot pipeline: a QoS 1
publish returns once its PUBACK is read. QoS 2 is not implemented (``assert 0``).
"""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../mp_lib")
sys.path.insert(0, _here + "/..")

import mp_common  # noqa: E402
from umqtt.simple import MQTTClient  # noqa: E402


def run(name, host, port, mode, qos, size, count):
    c = MQTTClient(name.encode(), host, port)
    c.connect()
    topic = b"bench/" + name.encode()
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
                c.publish(topic, payload, qos=qos)
                latencies.append(ticks_diff(ticks_us(), t))
        else:
            t0 = ticks_us()
            for _ in range(count):
                c.publish(topic, payload, qos=qos)
        micros = ticks_diff(ticks_us(), t0)
    finally:
        c.disconnect()
    return micros, latencies


def main():
    name, _, host, port, mode, qos, size, count = mp_common.parse_args()
    if qos == 2:
        mp_common.report(name, mode, qos, size, count, error="QoS 2 not supported")
        return
    try:
        micros, latencies = run(name, host, port, mode, qos, size, count)
    except Exception as e:
        mp_common.report(name, mode, qos, size, count, error=mp_common.error_text(e))
        return
    mp_common.report(name, mode, qos, size, count, micros, latencies)


main()
