"""The demo's sensor: runs on the MicroPython unix port (or CPython) and publishes a
reading every interval at QoS 1 with a persistent session, riding out broker restarts.

    micropython tools/demo_sensor.py mqtt://127.0.0.1:1883 [count] [interval_ms]
"""

import sys

sys.path.insert(0, __file__.rsplit("/", 2)[0] if "/" in __file__ else "..")

import asyncio

import mq


async def main(url, count, interval_ms):
    client = await mq.dial(
        url, client_id="demo-sensor-1", clean_start=False, session_expiry=3600, keepalive=5,
        reconnect_max_delay=1.0, will=mq.Will("demo/sensor-1/status", b"offline", qos=1, retain=True),
    )
    runtime = sys.implementation.name
    print("sensor (%s): connected to %s" % (runtime, url))
    client.publish("demo/sensor-1/status", b"online", qos=1, retain=True)
    tokens = []
    for i in range(1, count + 1):
        reading = "%d %.1f" % (i, 20.0 + (i % 17) * 0.3)
        tokens.append(client.publish("demo/sensor-1/temp", reading, qos=1))
        s = client.stats()
        state = "online" if client.is_connected else "offline, queued"
        print("sensor: reading %d published (%s, %d unacknowledged)" % (i, state, s["inflight"]))
        await asyncio.sleep_ms(interval_ms) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(interval_ms / 1000)
    for t in tokens:
        await t.wait(30)
    print("sensor: all %d readings acknowledged by the broker" % count)
    await client.disconnect()


args = sys.argv[1:]
asyncio.run(main(args[0], int(args[1]) if len(args) > 1 else 30, int(args[2]) if len(args) > 2 else 500))
