"""Bench client: the mqtt_as API on the MicroPython unix port, as PyPI ships it:
``micropython-mqtt`` 0.7b4 is ``mqtt_async.py``, T. von Eicken's asyncio fork of
Peter Hinch's mqtt_as ("API largely compatible"), QoS 0 and 1 only. Fetched into
bench/mp_lib by bench/setup_mp_peers.sh; see bench/mp_common.py for the CLI.

Driven as its docs show: fill ``config``, ``MQTTClient(config)``, ``await
client.connect()``, ``await client.publish(topic, msg, qos=...)``. Its pipelining is
``sync=False`` (the PUBACK of a publish is awaited after the next one is sent): the
publish run uses it, the last publish is synchronous so that every PUBACK is in.

Unix-port shims, none inside the library: bench/mp_fakes gives it ``network`` (a
station that is always up) and ``machine.unique_id``; the unix port's getaddrinfo
returns a raw sockaddr where the Wi-Fi ports return ``(ip, port)``, so the module's
``socket`` name gets a getaddrinfo of the Wi-Fi ports' shape.
"""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../mp_lib")
sys.path.insert(0, _here + "/../mp_fakes")
sys.path.insert(0, _here + "/..")

import asyncio  # noqa: E402

import mp_common  # noqa: E402
import mqtt_async  # noqa: E402
from mqtt_async import MQTTClient, config  # noqa: E402


class _WifiPortSocket:
    @staticmethod
    def getaddrinfo(host, port):
        return [(2, 1, 0, "", (host, port))]


mqtt_async.socket = _WifiPortSocket


async def run(client, name, mode, qos, size, count):
    await client.connect()
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
                await client.publish(topic, payload, qos=qos)
                latencies.append(ticks_diff(ticks_us(), t))
        else:
            t0 = ticks_us()
            for _ in range(count - 1):
                await client.publish(topic, payload, qos=qos, sync=False)
            await client.publish(topic, payload, qos=qos)
        micros = ticks_diff(ticks_us(), t0)
    finally:
        await client.disconnect()
    return micros, latencies


def main():
    name, _, host, port, mode, qos, size, count = mp_common.parse_args()
    if qos == 2:
        mp_common.report(name, mode, qos, size, count, error="QoS 2 not supported")
        return
    config.server = host
    config.port = port
    config.client_id = name
    config.ssid = "bench"
    config.wifi_pw = "bench"
    try:
        client = MQTTClient(config)
        micros, latencies = asyncio.run(run(client, name, mode, qos, size, count))
    except Exception as e:
        mp_common.report(name, mode, qos, size, count, error=mp_common.error_text(e))
        return
    mp_common.report(name, mode, qos, size, count, micros, latencies)


main()
