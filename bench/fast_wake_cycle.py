"""One wake cycle of a sensor, for bench/fast_wake.py (MicroPython unix port or CPython):

    fast_wake_cycle.py URL 0|1

Publishes one QoS 1 reading before the connection exists, connects with a persistent
session and prints one JSON line: milliseconds from connect() to the PUBACK, and the
packets each way.
"""

import sys

sys.path.insert(0, (__file__.rsplit("/", 2)[0] if "/" in __file__ else "."))

import asyncio
import json
import time

import mq


async def main(url, fast):
    client = mq.Client(url, client_id="wake-bench", clean_start=False, session_expiry=3600, fast_wake=fast)
    tok = client.publish("bench/wake", b"21.5", qos=1)
    t0 = time.ticks_ms()
    await client.connect()
    await tok
    ms = time.ticks_diff(time.ticks_ms(), t0)
    s = client.stats()
    await client.disconnect()
    print(json.dumps({"fast_wake": fast, "ms": ms, "sent": s["packets_sent"], "received": s["packets_received"]}))


if not hasattr(time, "ticks_ms"):
    from mq_cpython_shim import ticks_diff, ticks_ms

    time.ticks_ms = ticks_ms
    time.ticks_diff = ticks_diff
asyncio.run(main(sys.argv[1], sys.argv[2] == "1"))
