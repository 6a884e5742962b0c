"""What the MicroPython bench clients (bench/clients/mp_*.py) share: their command
line, clock, percentiles and the one JSON line they print.

    micropython bench/clients/<name>.py URL MODE QOS SIZE COUNT

URL is mqtt://HOST:PORT, MODE ``publish`` or ``latency``.
"""

import json
import sys
import time

ticks_us = time.ticks_us
ticks_diff = time.ticks_diff


def parse_args():
    """(name, url, host, port, mode, qos, size, count) from sys.argv."""
    name = sys.argv[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    url, mode, qos, size, count = sys.argv[1:6]
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if mode not in ("publish", "latency"):
        raise SystemExit("MODE must be publish or latency")
    return name, url, host, int(port), mode, int(qos), int(size), int(count)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    n = len(sorted_values)
    if not n:
        return None
    k = (p * n + 99) // 100  # ceil(p/100 * n), 1-based
    return sorted_values[min(max(k, 1), n) - 1]


def report(name, mode, qos, size, count, micros=None, latencies=None, error=None):
    """Print the client's one JSON line. micros: the whole run; latencies: one per
    round trip, in microseconds."""
    seconds = micros / 1e6 if micros is not None else None
    rate = count / seconds if seconds and error is None else None
    p50 = p99 = None
    if latencies:
        latencies.sort()
        p50 = percentile(latencies, 50) / 1000
        p99 = percentile(latencies, 99) / 1000
    print(
        json.dumps(
            {
                "client": name, "runtime": "micropython", "mode": mode, "qos": qos, "size": size, "count": count,
                "seconds": seconds, "rate": rate, "p50_ms": p50, "p99_ms": p99, "peak_rss_kb": None,
                "error": error,
            }
        )
    )


def error_text(e):
    return "%s: %s" % (type(e).__name__, e)
