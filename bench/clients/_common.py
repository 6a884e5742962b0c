"""Shared by the CPython clients of bench/run.py: the command line and the one JSON line
of the client protocol.

    <python> bench/clients/<name>.py URL MODE QOS SIZE COUNT

MODE ``publish``: COUNT messages of SIZE bytes at QOS on ``bench/<name>``, as fast as the
library allows, timed from the first publish until all are acknowledged (QoS 0: written).
MODE ``latency``: COUNT sequential round trips (PUBLISH to PUBACK/PUBCOMP), each timed.

Besides the protocol's keys the line carries ``t0_wall``, ``time.time()`` at the first
publish: the driver's end-to-end clock then starts there rather than at the first
arrival (optional: the driver falls back to the first arrival without it).
"""

import json
import math
import resource
import sys
import time
import traceback

perf_counter = time.perf_counter

# QoS 2 in flight for mq (``max_inflight=``) and for the raw blaster alike. Mosquitto
# 2.0.11 handles QoS 2 several times faster with a few hundred messages in flight than
# with its whole Receive Maximum of 65,535 (RESULTS.md, "broker cost of a deep window"),
# so the ceiling is taken at this depth too. QoS 1 goes faster the deeper the window:
# both use the server's Receive Maximum there.
QOS2_WINDOW = 256


class Args:
    def __init__(self, argv: "list[str]") -> None:
        if len(argv) != 5:
            raise SystemExit("usage: CLIENT.py URL publish|latency QOS SIZE COUNT")
        self.url = argv[0]
        hostport = self.url.split("://", 1)[-1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.mode = argv[1]
        if self.mode not in ("publish", "latency"):
            raise SystemExit("MODE must be publish or latency")
        self.qos = int(argv[2])
        self.size = int(argv[3])
        self.count = int(argv[4])


def args() -> Args:
    return Args(sys.argv[1:])


_t0_wall: "float | None" = None


def start() -> float:
    """The clock starts: returns perf_counter() and notes the wall-clock time, which the
    driver's subscriber shares, for the end-to-end rate (``t0_wall``)."""
    global _t0_wall
    _t0_wall = time.time()
    return perf_counter()


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB. VmHWM where there is /proc: on Linux ``ru_maxrss``
    keeps the parent's peak across fork and exec, so a child of a 30 MB driver never
    reports less than 30 MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def percentile_ms(seconds: "list[float]", p: float) -> "float | None":
    """Nearest-rank percentile of a list of durations in seconds, in milliseconds."""
    if not seconds:
        return None
    s = sorted(seconds)
    i = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return round(s[i] * 1000.0, 4)


def report(
    name: str,
    a: Args,
    seconds: "float | None",
    latencies: "list[float] | None" = None,
    error: "str | None" = None,
    runtime: str = "cpython",
) -> None:
    rate = a.count / seconds if seconds else None
    print(json.dumps({
        "client": name,
        "runtime": runtime,
        "mode": a.mode,
        "qos": a.qos,
        "size": a.size,
        "count": a.count,
        "seconds": round(seconds, 6) if seconds is not None else None,
        "rate": round(rate, 1) if rate is not None else None,
        "p50_ms": percentile_ms(latencies, 50) if latencies else None,
        "p99_ms": percentile_ms(latencies, 99) if latencies else None,
        "peak_rss_kb": peak_rss_kb(),
        "error": error,
        "t0_wall": _t0_wall,
    }), flush=True)


def error_text(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = "%s:%d" % (tb[-1].filename.rsplit("/", 1)[-1], tb[-1].lineno) if tb else "?"
    return "%s: %s (at %s)" % (type(e).__name__, e, where)


def main(name: str, run: "object") -> None:
    """Run ``run(a) -> (seconds, latencies)`` and print the JSON line, whatever happens."""
    a = args()
    try:
        seconds, latencies = run(a)  # type: ignore[operator]
    except BaseException as e:
        report(name, a, None, None, error_text(e))
        sys.exit(1)
    report(name, a, seconds, latencies)
