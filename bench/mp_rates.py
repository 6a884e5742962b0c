"""Publish rates and round-trip latency of the MicroPython bench clients
(bench/clients/mp_*.py) against one Mosquitto, with a paho-mqtt subscriber on
``bench/#`` (QoS 2) counting what arrives. CPython script; bench/run.py is the driver
for the whole comparison, this one only covers the unix-port clients for
bench/MP_RESULTS.md.

    .venv/bin/python bench/mp_rates.py [--runs 3] [--count 10000] [--json FILE]

Each cell is the median of --runs runs (each run goes through every cell once, the
clients of a cell back to back, so that load from elsewhere on the machine spreads over
all clients and the per-run ratios compare like with like); "lost" is the
largest count - received of those runs. umqtt.simple publishes QoS 1 one message per round trip (about 44 ms each
on Linux loopback, see MP_RESULTS.md), so its QoS 1 runs use --slow-count messages.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from brokers import Mosquitto  # noqa: E402

CLIENTS = ("mp_mq", "mp_umqtt", "mp_mqtt_as")
BROKER_CONFIG = ["max_inflight_messages 0", "max_queued_messages 0"]


def micropython() -> str:
    here = Path(sys.executable).parent / "micropython"
    return str(here) if here.exists() else (shutil.which("micropython") or "micropython")


class Counter:
    def __init__(self, port: int) -> None:
        import paho.mqtt.client as paho

        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="mp-rates-sub", protocol=paho.MQTTv5)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe("bench/#", qos=2)
        self.c.loop_start()
        time.sleep(0.3)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1

    def take(self, topic: str, expect: int, quiet: float = 10.0, limit: float = 120.0) -> int:
        """Messages on topic since the last take: once expect have come, or none has
        for quiet seconds (the broker may still be sending to us after the client ends;
        on a busy machine it pauses a QoS 2 delivery for seconds, and 2 s of quiet once
        counted 31,000 messages that came later as lost)."""
        end = time.monotonic() + limit
        last, since = -1, time.monotonic()
        while time.monotonic() < end:
            with self.lock:
                n = self.counts.get(topic, 0)
            if n >= expect:
                break
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > quiet:
                break
            time.sleep(0.05)
        with self.lock:
            return self.counts.pop(topic, 0)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def run_client(url: str, name: str, mode: str, qos: int, size: int, count: int) -> dict[str, Any]:
    cmd = [micropython(), str(BENCH / "clients" / (name + ".py")), url, mode, str(qos), str(size), str(count)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]}
    result: dict[str, Any] = json.loads(lines[-1])
    # The client process's CPU time (user + system), start-up and connect included.
    result["cpu_s"] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return result


def summary(spec: tuple[str, str, int, int, int], results: list[dict[str, Any]]) -> dict[str, Any]:
    name, mode, qos, size, count = spec
    ok = [r for r in results if not r.get("error")]
    out: dict[str, Any] = {"client": name, "mode": mode, "qos": qos, "size": size, "count": count, "runs": len(ok)}
    if not ok:
        out["error"] = results[-1].get("error") if results else "not run"
        return out
    out["rate"] = statistics.median(r["rate"] for r in ok)
    out["rate_min"] = min(r["rate"] for r in ok)
    out["rate_max"] = max(r["rate"] for r in ok)
    got = [r["received"] for r in ok if r["received"] is not None]
    out["lost"] = max(count - n for n in got) if got else None
    if mode == "latency":
        out["p50_ms"] = statistics.median(r["p50_ms"] for r in ok)
        out["p99_ms"] = statistics.median(r["p99_ms"] for r in ok)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--latency-count", type=int, default=1000)
    ap.add_argument("--slow-count", type=int, default=200, help="umqtt.simple QoS 1 messages")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--no-subscriber", action="store_true", help="no subscriber: the client and broker only")
    ap.add_argument("--json", help="also write the cells to this file")
    args = ap.parse_args()
    specs: list[tuple[str, str, int, int, int]] = []
    names = args.clients.split(",")
    # Cell by cell, every client in turn: the clients of one cell run back to back, so
    # their per-run ratio compares them under the same load.
    cells = [("publish", qos, size) for qos in (0, 1, 2) for size in (32, 1024)]
    cells += [("latency", qos, 32) for qos in (1, 2)]
    for mode, qos, size in cells:
        for name in names:
            slow = name == "mp_umqtt"
            if mode == "publish":
                specs.append((name, mode, qos, size, args.slow_count if slow and qos else args.count))
            else:
                specs.append((name, mode, qos, size, args.slow_count if slow else args.latency_count))
    results: dict[tuple[str, str, int, int, int], list[dict[str, Any]]] = {s: [] for s in specs}
    startup: dict[str, float] = {}
    with Mosquitto(BROKER_CONFIG) as b:
        url = "mqtt://127.0.0.1:%d" % b.port
        sub = None if args.no_subscriber else Counter(b.port)
        try:
            # What a client's process costs without the messages (start-up, import,
            # connect, one publish): taken off its CPU time per message below.
            for name in names:
                startup[name] = statistics.median(
                    run_client(url, name, "publish", 0, 32, 1).get("cpu_s") or 0.0 for _ in range(3)
                )
                if sub is not None:
                    sub.take("bench/" + name, 3, quiet=2.0)
            # Runs outermost: a spell of load from elsewhere on the machine hits every
            # client, not just one.
            for i in range(args.runs):
                for spec in specs:
                    done = results[spec]
                    if done and done[-1].get("error"):
                        continue  # e.g. "QoS 2 not supported": once is enough
                    name, mode, qos, size, count = spec
                    r = run_client(url, name, mode, qos, size, count)
                    r["received"] = sub.take("bench/" + name, count) if sub is not None else None
                    done.append(r)
                    print(json.dumps({"run": i, **r}), flush=True)
        finally:
            if sub is not None:
                sub.close()
    order = sorted(specs, key=lambda spec: names.index(spec[0]))  # the tables: client by client
    summaries = [summary(spec, results[spec]) for spec in order]
    for c in summaries:
        print(json.dumps(c))
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=1) + "\n")
    print()
    print(tables(summaries))
    if "mp_mq" in names and "mp_mqtt_as" in names:
        print()
        print(qos0_ratios(results, startup, args.count))


def qos0_ratios(
    results: dict[tuple[str, str, int, int, int], list[dict[str, Any]]], startup: dict[str, float], count: int
) -> str:
    """mq against mqtt_async at QoS 0, run by run (each pair ran back to back): the
    publish rate, and the CPU time per message less the process's start-up."""
    lines = []
    for size in (32, 1024):
        mq = results[("mp_mq", "publish", 0, size, count)]
        other = results[("mp_mqtt_as", "publish", 0, size, count)]
        pairs = [(a, b) for a, b in zip(mq, other, strict=True) if a.get("rate") and b.get("rate")]
        if not pairs:
            continue
        ratios = [a["rate"] / b["rate"] for a, b in pairs]
        shown = ", ".join("%.2f" % r for r in ratios)
        median = statistics.median(ratios)
        lines.append("QoS 0 %d B, rate mq / mqtt_async per run: %s (median %.2f)" % (size, shown, median))
        us_mq = statistics.median((a["cpu_s"] - startup["mp_mq"]) / count * 1e6 for a, _ in pairs)
        us_as = statistics.median((b["cpu_s"] - startup["mp_mqtt_as"]) / count * 1e6 for _, b in pairs)
        lines.append(
            "QoS 0 %d B, CPU per message less start-up (median): mq %.2f us, mqtt_async %.2f us (%.2fx)"
            % (size, us_mq, us_as, us_as / us_mq)
        )
    return "\n".join(lines)


def tables(cells: list[dict[str, Any]]) -> str:
    out = ["| client | QoS | payload | msg/s (median) | min..max | lost |", "|---|---|---|---|---|---|"]
    for c in cells:
        if c["mode"] != "publish":
            continue
        if c.get("error"):
            out.append("| %s | %d | %d B | %s | | |" % (c["client"], c["qos"], c["size"], c["error"]))
        else:
            lost = "-" if c["lost"] is None else str(c["lost"])
            row = (c["client"], c["qos"], c["size"], c["rate"], c["rate_min"], c["rate_max"], lost)
            out.append("| %s | %d | %d B | %.0f | %.0f..%.0f | %s |" % row)
    out += ["", "| client | QoS | round trips | p50 | p99 |", "|---|---|---|---|---|"]
    for c in cells:
        if c["mode"] != "latency":
            continue
        if c.get("error"):
            out.append("| %s | %d | %d | %s | |" % (c["client"], c["qos"], c["count"], c["error"]))
        else:
            row = (c["client"], c["qos"], c["count"], c["p50_ms"], c["p99_ms"])
            out.append("| %s | %d | %d | %.3f ms | %.3f ms |" % row)
    return "\n".join(out)


if __name__ == "__main__":
    main()
