"""The demo: a local Mosquitto, a sensor on the MicroPython unix port publishing at
QoS 1 with a persistent session, and a CPython subscriber printing what arrives. The
broker is killed and restarted in the middle; nothing is lost.

    python tools/demo.py [--readings N] [--interval-ms MS] [--no-restart]
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from brokers import Mosquitto  # noqa: E402

import mq  # noqa: E402


def micropython() -> str:
    here = Path(sys.executable).parent / "micropython"
    return str(here) if here.exists() else (shutil.which("micropython") or sys.executable)


async def run(readings: int, interval_ms: int, restart: bool) -> int:
    # Saved every second, so that a broker killed outright (no time to save) still comes
    # back with the sessions: the subscriber's subscription and its queued messages.
    broker = Mosquitto(["max_inflight_messages 0", "autosave_interval 1"], persistence=True).start()
    print("demo: Mosquitto listening on %s" % broker.url)
    seen: dict[int, int] = {}
    all_in = asyncio.Event()

    def on_reading(client: mq.Client, msg: mq.Message) -> None:
        n, value = msg.payload.decode().split()
        i = int(n)
        seen[i] = seen.get(i, 0) + 1
        note = "" if seen[i] == 1 else "  (duplicate delivery, QoS 1 allows it)"
        print("subscriber (CPython): reading %3d = %s C%s" % (i, value, note))
        if len(seen) == readings:
            all_in.set()

    def on_status(client: mq.Client, msg: mq.Message) -> None:
        print("subscriber (CPython): sensor is %s" % msg.payload.decode())

    sub = await mq.dial(
        broker.url, client_id="demo-subscriber", clean_start=False, session_expiry=3600, keepalive=5,
        reconnect_max_delay=1.0,
        subscriptions={"demo/sensor-1/temp": (on_reading, 1), "demo/sensor-1/status": (on_status, 1)},
    )
    sensor = subprocess.Popen(
        [micropython(), str(ROOT / "tools" / "demo_sensor.py"), broker.url, str(readings), str(interval_ms)],
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        if restart:
            await asyncio.sleep(readings * interval_ms / 3000)
            print("demo: --- killing the broker ---")
            broker.kill()
            await asyncio.sleep(2.0)
            print("demo: --- starting the broker again ---")
            broker.start()
        await asyncio.wait_for(all_in.wait(), readings * interval_ms / 1000 + 60)
        code = await asyncio.get_running_loop().run_in_executor(None, sensor.wait)
        missing = [i for i in range(1, readings + 1) if i not in seen]
        print("demo: %d readings received, %d missing, sensor exit code %d" % (len(seen), len(missing), code))
        return 0 if not missing and code == 0 else 1
    finally:
        if sensor.poll() is None:
            sensor.terminate()
        await sub.disconnect()
        broker.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readings", type=int, default=40)
    ap.add_argument("--interval-ms", type=int, default=250)
    ap.add_argument("--no-restart", action="store_true")
    a = ap.parse_args()
    try:
        return asyncio.run(run(a.readings, a.interval_ms, not a.no_restart))
    except KeyboardInterrupt:
        print("demo: stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
