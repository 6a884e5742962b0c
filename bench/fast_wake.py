"""Fast wake, measured: a sensor's wake cycle (connect, one QoS 1 reading, PUBACK) on the
MicroPython unix port against Mosquitto, through a proxy that delays every chunk by a
fixed one-way latency, so that the number of round trips shows in the time.

    .venv/bin/python bench/fast_wake.py [one_way_ms] [runs]

Prints one JSON line per mode with the median time and the packet counts; the round
trips are the time divided by the round-trip time the proxy adds.
"""

import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from brokers import Mosquitto  # noqa: E402


async def delay_proxy(target_port: int, one_way: float) -> "asyncio.Server":
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(one_way)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        try:
            await asyncio.gather(pipe(r, uw), pipe(ur, w))
        except asyncio.CancelledError:
            pass  # the benchmark is over

    return await asyncio.start_server(on_conn, "127.0.0.1", 0)


async def main(one_way_ms: int, runs: int) -> None:
    mp = str(Path(sys.executable).parent / "micropython")
    with Mosquitto() as broker:
        server = await delay_proxy(broker.port, one_way_ms / 1000)
        port = server.sockets[0].getsockname()[1]
        url = "mqtt://127.0.0.1:%d" % port
        rtt = 2 * one_way_ms
        for fast in (0, 1):
            results = []
            for _ in range(runs):
                proc = await asyncio.create_subprocess_exec(
                    mp, str(ROOT / "bench" / "fast_wake_cycle.py"), url, str(fast),
                    stdout=subprocess.PIPE, cwd=ROOT,
                )
                out, _ = await proc.communicate()
                results.append(json.loads(out.decode().strip().splitlines()[-1]))
            ms = statistics.median(r["ms"] for r in results)
            print(json.dumps({
                "runtime": "micropython", "fast_wake": bool(fast), "one_way_ms": one_way_ms, "runs": runs,
                "median_ms_connect_to_puback": ms, "round_trips": round(ms / rtt, 2),
                "packets_sent": results[0]["sent"], "packets_received": results[0]["received"],
            }))
        server.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(int(a[0]) if a else 50, int(a[1]) if len(a) > 1 else 5))
