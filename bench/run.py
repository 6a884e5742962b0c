"""Throughput and latency of MQTT clients against a Mosquitto of our own.

    .venv/bin/python bench/run.py [--quick|--full] [--clients a,b] [--runs N] [--no-write]

Starts Mosquitto on a free loopback port for each round (``tests/brokers.py``, with
``max_inflight_messages 0``, ``max_queued_messages 0`` and ``max_queued_bytes 0``: no
in-flight or queue limit, since Mosquitto 2.0.11 stalls pipelined QoS 2 under the default
20), and runs every client in ``bench/clients/`` for each QoS, payload size and mode:

* ``publish``: the client publishes COUNT messages as fast as its library allows and
  reports its own rate; a raw-socket subscriber in this process (``bench/subscriber.py``),
  subscribed to ``bench/#`` at the same QoS before the client starts, counts arrivals:
  end-to-end rate = arrivals / (last arrival - first arrival), lost = COUNT - arrivals.
* ``latency``: COUNT sequential QoS 1 (and QoS 2) round trips, p50 and p99.

Each round runs every client once per combination, one after the other (in reverse
order every other round), so the ratios to paho-mqtt and to the raw-socket ceiling
(``raw_blaster``) are taken pair by pair within a round; the tables give the median over the rounds. Writes
``bench/results.json``, the generated section of ``bench/RESULTS.md`` and
``bench/throughput.png``. Then ``bench/mp_memory.py`` measures the MicroPython heap,
allocation and size figures (``bench/mp_report.py`` reports them; the quick mode for mq
alone), and in the full mode ``bench/mp_instructions.py`` counts the MicroPython
clients' instructions per message under valgrind.
"""

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CLIENTS_DIR = BENCH / "clients"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(CLIENTS_DIR))

import mp_report  # noqa: E402
from brokers import Mosquitto  # noqa: E402
from report_fmt import at_least, fmt_size, verdict  # noqa: E402
from subscriber import Subscriber  # noqa: E402

BROKER_CONFIG = [
    "max_inflight_messages 0",  # no in-flight limit (2.0.11 stalls pipelined QoS 2 at 20)
    "max_queued_messages 0",  # no queue limit: a slow subscriber must not lose messages
    "max_queued_bytes 0",
]


class BenchBroker(Mosquitto):
    """tests/brokers.py's Mosquitto with its log cut to errors and warnings: the tests'
    ``log_type all`` writes a debug line for every packet, which would cost the broker
    more than some clients do."""

    def _write_config(self) -> None:
        super()._write_config()
        lines = self.conf_path.read_text().splitlines()
        lines = [ln for ln in lines if not ln.startswith("log_type")] + ["log_type error", "log_type warning"]
        self.conf_path.write_text("\n".join(lines) + "\n")

BASELINE = "cpy_paho"
CEILING = "raw_blaster"

# name -> runtime, in table order; other files in bench/clients/ are picked up as well.
KNOWN_CLIENTS = [
    ("raw_blaster", "cpython"),
    ("cpy_mq", "cpython"),
    ("cpy_paho", "cpython"),
    ("cpy_gmqtt", "cpython"),
    ("cpy_aiomqtt", "cpython"),
    ("mp_mq", "micropython"),
    ("mp_umqtt", "micropython"),
    ("mp_mqtt_as", "micropython"),
]

PLANS = {
    "quick": {
        "qos": [0, 1, 2],
        "sizes": [32],
        "counts": {0: 20000, 1: 5000, 2: 2000},
        "latency_qos": [1],
        "latency_size": 32,
        "latency_count": 500,
        "runs": 3,
        "timeout": 20.0,
        "window_sweep": 0,
    },
    "full": {
        "qos": [0, 1, 2],
        "sizes": [32, 1024],
        # QoS 2 at 20,000: 5,000 messages took a quarter of a second, and the ratio to the
        # ceiling moved between 0.76 and 1.18 from one pair of runs to the next.
        "counts": {0: 100000, 1: 30000, 2: 20000},
        "latency_qos": [1, 2],
        "latency_size": 32,
        "latency_count": 2000,
        "runs": 5,
        "timeout": 45.0,
        "window_sweep": 20000,  # messages per point
    },
}

# umqtt.simple waits for each PUBACK, which takes about 40 ms on Linux loopback (it never
# disables Nagle, MP_RESULTS.md): its QoS 1 cells send this many messages, so that they
# report a rate and a round trip instead of running into the timeout.
SLOW_COUNTS = {("mp_umqtt", 1): 100}

IDLE = 3.0  # after the client exits: how long without an arrival before counting stops
DRAIN_MAX = 60.0  # and at most this long

MARK_BEGIN = "<!-- bench/run.py: begin (generated from bench/results.json; edit the driver, not this) -->"
MARK_END = "<!-- bench/run.py: end -->"


# -- running one client ------------------------------------------------------------------


def micropython_binary() -> "str | None":
    for p in (Path(sys.executable).parent / "micropython", ROOT / ".venv" / "bin" / "micropython"):
        if os.access(p, os.X_OK):
            return str(p)
    return shutil.which("micropython")


def discover_clients() -> "list[tuple[str, str]]":
    known = dict(KNOWN_CLIENTS)
    names = [n for n, _ in KNOWN_CLIENTS]
    if CLIENTS_DIR.is_dir():
        for p in sorted(CLIENTS_DIR.glob("*.py")):
            if p.stem not in known and not p.stem.startswith("_"):
                names.append(p.stem)
                known[p.stem] = "micropython" if p.stem.startswith("mp_") else "cpython"
    return [(n, known[n]) for n in names]


def sanitize(text: str) -> str:
    """No path of this machine in the results."""
    for p in (str(ROOT), tempfile.gettempdir(), str(Path.home())):
        text = text.replace(p + "/", "").replace(p, ".")
    return text.strip()


def last_json_line(out: str) -> "dict | None":
    for raw in reversed(out.strip().splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def run_client(broker: BenchBroker, name: str, runtime: str, mode: str, qos: int, size: int, count: int,
               timeout: float, exe: str) -> dict:
    argv = [exe, "bench/clients/%s.py" % name, broker.url, mode, str(qos), str(size), str(count)]
    sub = None
    if mode == "publish":
        sub = Subscriber(broker.host, broker.port, qos)
        sub.start()
    t_start = time.perf_counter()
    error = None
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        error = "timeout after %.0f s" % timeout
    wall = time.perf_counter() - t_start
    rec = last_json_line(out) or {}
    if not rec:
        tail = sanitize(err).splitlines()[-1:] or ["no output"]
        error = error or "no JSON line (exit %s): %s" % (proc.returncode, tail[0][:200])
    elif rec.get("error"):
        error = sanitize(str(rec["error"]))[:300]
    result = {
        "client": name,
        "runtime": runtime,
        "mode": mode,
        "qos": qos,
        "size": size,
        "count": count,
        "seconds": rec.get("seconds"),
        "rate": rec.get("rate") if not error else None,
        "p50_ms": rec.get("p50_ms"),
        "p99_ms": rec.get("p99_ms"),
        "peak_rss_kb": rec.get("peak_rss_kb"),
        "wall_seconds": round(wall, 3),
        "error": error,
    }
    if sub is not None:
        # A failed client sent what it sent before it stopped: no need to wait long.
        sub.wait_for(count, 0.3 if error else IDLE, time.time() + DRAIN_MAX)
        sub.close()
        got = sub.count
        # The end-to-end clock starts at the client's first publish where it says when
        # that was (t0_wall), else at the first arrival.
        t0 = rec.get("t0_wall")
        origin = "first publish"
        if not isinstance(t0, (int, float)) or sub.first is None or not t0 <= sub.first:
            t0, origin = sub.first, "first arrival"
        e2e = None
        if got >= 2 and t0 is not None and sub.last is not None and sub.last > t0:
            e2e = round(got / (sub.last - t0), 1)
        # A client that failed did not send everything: what it did not send is not lost.
        result.update({
            "received": got,
            "lost": max(0, count - got) if not error else None,
            "duplicates": max(0, got - count),
            "e2e_rate": e2e if not error else None,
            "e2e_from": origin,
            "subscriber_error": sub.error,
        })
    return result


# -- the plan ----------------------------------------------------------------------------


def combos(plan: dict) -> "list[tuple[str, int, int, int]]":
    out = []
    for qos in plan["qos"]:
        for size in plan["sizes"]:
            out.append(("publish", qos, size, plan["counts"][qos]))
    for qos in plan["latency_qos"]:
        out.append(("latency", qos, plan["latency_size"], plan["latency_count"]))
    return out


def window_sweep(runs: int, count: int) -> "list[dict]":
    """The raw blaster alone at QoS 1 and 2 with a bounded window: how the broker's own
    cost grows with the number of messages in flight."""
    import raw_blaster

    rows = []
    for qos in (1, 2):
        for window in (20, 256, 4096, 65535):
            rates = []
            for _ in range(runs):
                with BenchBroker(BROKER_CONFIG) as broker:
                    sock, rm = raw_blaster.connect(broker.host, broker.port)
                    packets = raw_blaster.encode_publishes(b"bench/sweep", b"x" * 32, qos, count)
                    seconds = raw_blaster.blast_acked(sock, packets, qos, min(window, rm))
                    sock.close()
                rates.append(count / seconds)
            rows.append({"qos": qos, "window": window, "count": count, "rate": round(statistics.median(rates), 1)})
            log("  window sweep qos %d window %5d: %s msg/s" % (qos, window, fmt_rate(rows[-1]["rate"])))
    return rows


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_plan(mode_name: str, plan: dict, clients: "list[tuple[str, str]]", runs: int) -> dict:
    mp = micropython_binary()
    exes = {"cpython": sys.executable, "micropython": mp}
    notes = []
    todo = []
    for name, runtime in clients:
        if not (CLIENTS_DIR / ("%s.py" % name)).is_file():
            notes.append("%s skipped: bench/clients/%s.py is missing" % (name, name))
        elif exes.get(runtime) is None:
            notes.append("%s skipped: no %s binary" % (name, runtime))
        else:
            todo.append((name, runtime))
    for n in notes:
        log("note: " + n)
    results = []
    failed: "dict[tuple, str]" = {}  # a combination a client failed: not tried again
    t0 = time.perf_counter()
    for r in range(runs):
        with BenchBroker(BROKER_CONFIG) as broker:
            # Table order in even rounds, reversed in odd ones: no client always runs
            # first after the previous combination, and each pair that a ratio is taken
            # of (a client and paho, mq and the ceiling) stays side by side.
            order = todo if r % 2 == 0 else todo[::-1]
            for mode, qos, size, count in combos(plan):
                for name, runtime in order:
                    key = (name, mode, qos, size)
                    if key in failed:
                        res = {"client": name, "runtime": runtime, "mode": mode, "qos": qos, "size": size,
                               "count": count, "seconds": None, "rate": None, "p50_ms": None, "p99_ms": None,
                               "peak_rss_kb": None, "error": failed[key], "skipped": True}
                        if mode == "publish":
                            res.update({"received": 0, "lost": None, "duplicates": 0, "e2e_rate": None})
                    else:
                        sent = min(count, SLOW_COUNTS.get((name, qos), count))
                        res = run_client(broker, name, runtime, mode, qos, size, sent, plan["timeout"],
                                         exes[runtime])
                        if res["error"]:
                            failed[key] = res["error"]
                    res["round"] = r
                    results.append(res)
                    if not res.get("skipped"):
                        log(progress_line(res))
                if not broker.running:
                    raise RuntimeError("mosquitto died:\n" + broker.log_tail())
    sweep = window_sweep(runs, plan["window_sweep"]) if plan["window_sweep"] else []
    elapsed = time.perf_counter() - t0
    return {
        "mode": mode_name,
        "date": datetime.date.today().isoformat(),
        "runs": runs,
        "plan": {k: v for k, v in plan.items() if k != "timeout"},
        "clients": [n for n, _ in todo],
        "notes": notes,
        "elapsed_seconds": round(elapsed, 1),
        "results": results,
        "window_sweep": sweep,
    }


def progress_line(res: dict) -> str:
    head = "[r%d] %-12s %-7s q%d %5dB" % (res["round"] + 1, res["client"], res["mode"], res["qos"], res["size"])
    if res["mode"] == "latency":
        body = "p50 %s ms p99 %s ms" % (res["p50_ms"], res["p99_ms"])
    else:
        body = "%s msg/s  e2e %s msg/s  lost %s" % (fmt_rate(res["rate"]), fmt_rate(res["e2e_rate"]), res["lost"])
    return head + "  " + body + ("  ERROR " + res["error"] if res["error"] else "")


# -- summary -----------------------------------------------------------------------------


def _median(values: "list") -> "float | None":
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def index(results: "list[dict]") -> dict:
    """(client, mode, qos, size) -> {round: result}"""
    out: dict = {}
    for r in results:
        out.setdefault((r["client"], r["mode"], r["qos"], r["size"]), {})[r["round"]] = r
    return out


def paired_ratio(idx: dict, client: str, base: str, mode: str, qos: int, size: int, field: str,
                 invert: bool = False) -> "float | None":
    """Median over rounds of client/base for `field`, taken within each round."""
    a = idx.get((client, mode, qos, size), {})
    b = idx.get((base, mode, qos, size), {})
    ratios = []
    for rnd, ra in a.items():
        rb = b.get(rnd)
        if rb is None:
            continue
        x, y = ra.get(field), rb.get(field)
        if x and y:
            ratios.append(y / x if invert else x / y)
    return round(statistics.median(ratios), 3) if ratios else None


def summarise(run: dict) -> "list[dict]":
    idx = index(run["results"])
    rows = []
    for (client, mode, qos, size), by_round in idx.items():
        rs = list(by_round.values())
        row = {
            "client": client,
            "runtime": rs[0]["runtime"],
            "mode": mode,
            "qos": qos,
            "size": size,
            "count": rs[0]["count"],
            "runs": len(rs),
            "errors": sorted({r["error"] for r in rs if r["error"]}),
            "peak_rss_kb": _median([r["peak_rss_kb"] for r in rs]),
        }
        if mode == "publish":
            row.update({
                "rate": _median([r["rate"] for r in rs]),
                "e2e_rate": _median([r["e2e_rate"] for r in rs]),
                "lost": sum(r["lost"] for r in rs if r["lost"] is not None) if any(
                    r["lost"] is not None for r in rs) else None,
                "duplicates": sum(r["duplicates"] for r in rs),
                "sent_total": sum(r["count"] for r in rs if r["lost"] is not None),
                "e2e_from_first_arrival": any(r.get("e2e_from") == "first arrival" and r["e2e_rate"] for r in rs),
            })
            for field in ("rate", "e2e_rate"):
                row[field + "_x_paho"] = paired_ratio(idx, client, BASELINE, mode, qos, size, field)
                row[field + "_x_ceiling"] = paired_ratio(idx, client, CEILING, mode, qos, size, field)
        else:
            row.update({
                "p50_ms": _median([r["p50_ms"] for r in rs]),
                "p99_ms": _median([r["p99_ms"] for r in rs]),
                "p50_x_paho": paired_ratio(idx, client, BASELINE, mode, qos, size, "p50_ms"),
            })
        rows.append(row)
    order = {n: i for i, (n, _) in enumerate(KNOWN_CLIENTS)}
    rows.sort(key=lambda r: (r["mode"] != "publish", r["qos"], r["size"], order.get(r["client"], 99), r["client"]))
    return rows


def targets(run: dict) -> "list[tuple[str, str, str]]":
    """mq on CPython against the issue's targets: (target, measured, met)."""
    idx = index(run["results"])
    summ = {(r["client"], r["mode"], r["qos"], r["size"]): r for r in run["summary"]}
    sizes = run["plan"]["sizes"]
    mq, out = "cpy_mq", []

    def ratios(base: str, qos: int, field: str = "rate") -> "list[float | None]":
        return [paired_ratio(idx, mq, base, "publish", qos, s, field) for s in sizes]

    def show(vals: "list[float | None]") -> str:
        return " / ".join(("%.3fx" % v) if v is not None else "-" for v in vals)

    label = " / ".join(fmt_size(s) for s in sizes)
    v = ratios(CEILING, 0)
    e = ratios(CEILING, 0, "e2e_rate")
    out.append(("QoS 0 publish rate ≥ 0.8x raw ceiling (%s)" % label,
                "%s (end-to-end: %s)" % (show(v), show(e)), verdict(at_least(v, 0.8))))
    v = ratios("cpy_gmqtt", 0)
    out.append(("QoS 0 publish rate ≥ gmqtt's", show(v) + " gmqtt", verdict(at_least(v, 1.0))))
    for qos in (1, 2):
        v = ratios(CEILING, qos)
        e = ratios(CEILING, qos, "e2e_rate")
        out.append(("QoS %d publish rate ≥ 0.9x raw ceiling" % qos,
                    "%s (end-to-end: %s)" % (show(v), show(e)), verdict(at_least(v, 0.9))))
        v = ratios(BASELINE, qos)
        c = [paired_ratio(idx, CEILING, BASELINE, "publish", qos, s, "rate") for s in sizes]
        out.append(("QoS %d publish rate ≥ 1.5x paho" % qos, "%s paho (the raw ceiling itself: %s paho)"
                    % (show(v), show(c)), verdict(at_least(v, 1.5))))
    a = summ.get((mq, "latency", 1, run["plan"]["latency_size"]))
    b = summ.get((BASELINE, "latency", 1, run["plan"]["latency_size"]))
    if a and b and a["p50_ms"] and b["p50_ms"]:
        ok = a["p50_ms"] <= b["p50_ms"]
        out.append(("QoS 1 round trip p50 ≤ paho's", "%.3f ms vs %.3f ms (p99 %.3f vs %.3f)"
                    % (a["p50_ms"], b["p50_ms"], a["p99_ms"], b["p99_ms"]), verdict(ok)))
    pubs = [(k, r) for k, r in summ.items() if k[0] in (mq, BASELINE) and k[1] == "publish"]
    mq_rss = max((r["peak_rss_kb"] or 0 for k, r in pubs if k[0] == mq), default=0)
    paho_rss = max((r["peak_rss_kb"] or 0 for k, r in pubs if k[0] == BASELINE), default=0)
    worse = [(k[2], k[3]) for k, r in pubs if k[0] == mq
             and (r["peak_rss_kb"] or 0) >= (summ.get((BASELINE, *k[1:]), {}).get("peak_rss_kb") or 1 << 40)]
    if mq_rss and paho_rss:
        out.append(("peak RSS < paho's", "largest: %.1f MB vs %.1f MB; not below paho in %d of %d combinations%s"
                    % (mq_rss / 1024, paho_rss / 1024, len(worse), len([k for k, _ in pubs if k[0] == mq]),
                       (" (" + ", ".join("QoS %d %d B" % w for w in sorted(worse)) + ")") if worse else ""),
                    verdict(not worse)))
    mine = [r for r in run["summary"] if r["client"] == mq and r["mode"] == "publish"]
    lost = sum(r["lost"] or 0 for r in mine)
    sent = sum(r["sent_total"] for r in mine)
    errs = sum(len(r["errors"]) for r in mine)
    out.append(("nothing lost", "%d of %d lost, %d duplicates, %d errors" % (
        lost, sent, sum(r["duplicates"] for r in mine), errs), verdict(lost == 0 and errs == 0)))
    return out


# -- machine -----------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mp = micropython_binary()
    mp_version = None
    if mp:
        with contextlib.suppress(Exception):
            mp_version = subprocess.run(
                [mp, "-c", "import sys; print('%d.%d.%d' % sys.implementation.version[:3])"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip()
    mosq = None
    with contextlib.suppress(Exception):
        from brokers import mosquitto_binary

        binary = mosquitto_binary()
        if binary:
            text = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10).stdout
            mosq = text.splitlines()[0].replace("mosquitto version ", "")
    libs = {}
    from importlib import metadata

    for dist in ("paho-mqtt", "gmqtt", "aiomqtt", "mq"):
        with contextlib.suppress(Exception):
            libs[dist] = metadata.version(dist)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "python": platform.python_version(),
        "micropython": mp_version,
        "mosquitto": mosq,
        "libraries": libs,
    }


def host_speed() -> float:
    """Seconds a fixed CPython loop takes, best of 3: the machine's speed at that moment.
    Cores shared with other work slow every client and the broker together, the ratios
    less than the rates; this says how loaded the host was around a run."""
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(3000000):
            total += i
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return round(best, 3)


def machine_line(m: dict) -> str:
    libs = ", ".join("%s %s" % kv for kv in sorted(m.get("libraries", {}).items()))
    return "%s, %s cores, %s, CPython %s, MicroPython %s, Mosquitto %s; %s" % (
        m["cpu"], m["cores"], m["kernel"], m["python"], m["micropython"] or "-", m["mosquitto"] or "-", libs)


# -- output ------------------------------------------------------------------------------


def fmt_rate(v: "float | None") -> str:
    if v is None:
        return "-"
    if v >= 100000:
        return "%.0fk" % (v / 1000)
    if v >= 1000:
        return "%.1fk" % (v / 1000)
    return "%.0f" % v


def fmt_x(v: "float | None") -> str:
    if v is None:
        return "-"
    return "%.2f" % v if v >= 0.1 else "%.2g" % v  # (umqtt.simple's QoS 1: 0.0033)


def tables(run: dict) -> "list[str]":
    lines = []
    summ = run["summary"]
    for qos in run["plan"]["qos"]:
        for size in run["plan"]["sizes"]:
            rows = [r for r in summ if r["mode"] == "publish" and r["qos"] == qos and r["size"] == size]
            if not rows:
                continue
            lines += [
                "",
                "**QoS %d, %s payload, %d messages**" % (qos, fmt_size(size), rows[0]["count"]),
                "",
                "| client | publish msg/s | /paho | /ceiling | end-to-end msg/s | /paho | /ceiling | lost | peak RSS |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in rows:
                rss = "%.1f MB" % (r["peak_rss_kb"] / 1024) if r["peak_rss_kb"] else "-"
                e2e = fmt_rate(r["e2e_rate"]) + (" †" if r.get("e2e_from_first_arrival") else "")
                name = "**%s**" % r["client"] if r["client"].endswith("_mq") else r["client"]
                if r["count"] != rows[0]["count"]:
                    name += " (%d messages)" % r["count"]
                err = " (%s)" % "; ".join(r["errors"])[:120] if r["errors"] else ""
                lines.append("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    name, err, fmt_rate(r["rate"]), fmt_x(r["rate_x_paho"]), fmt_x(r["rate_x_ceiling"]),
                    e2e, fmt_x(r["e2e_rate_x_paho"]), fmt_x(r["e2e_rate_x_ceiling"]),
                    "-" if r["lost"] is None else r["lost"], rss))
    lat = [r for r in summ if r["mode"] == "latency"]
    if lat:
        qs = run["plan"]["latency_qos"]
        lines += [
            "",
            "**Round trip (PUBLISH to %s), %s payload, %d sequential messages**" % (
                " / ".join({1: "PUBACK", 2: "PUBCOMP"}[q] for q in qs), fmt_size(run["plan"]["latency_size"]),
                run["plan"]["latency_count"]),
            "",
            "| client | " + " | ".join("QoS %d p50 | p99 | p50 /paho" % q for q in qs) + " |",
            "|---|" + "---:|---:|---:|" * len(qs),
        ]
        names = []
        for r in lat:
            if r["client"] not in names:
                names.append(r["client"])
        by = {(r["client"], r["qos"]): r for r in lat}
        for n in names:
            cells = []
            fewer = []
            for q in qs:
                r = by.get((n, q))
                if r is None or r["p50_ms"] is None:
                    cells += ["-", "-", "-"]
                else:
                    cells += ["%.3f ms" % r["p50_ms"], "%.3f ms" % r["p99_ms"], fmt_x(r["p50_x_paho"])]
                    if r["count"] != run["plan"]["latency_count"]:
                        fewer.append("QoS %d: %d messages" % (q, r["count"]))
            name = "**%s**" % n if n.endswith("_mq") else n
            if fewer:
                name += " (%s)" % ", ".join(fewer)
            lines.append("| %s | %s |" % (name, " | ".join(cells)))
    if run.get("window_sweep"):
        lines += [
            "",
            "**Broker cost of a deep window**: the raw blaster alone (no subscriber), %d messages of 32 B, "
            "at most WINDOW in flight (at QoS 2, Mosquitto 2.0.11 slows down as more messages are in flight):"
            % run["window_sweep"][0]["count"],
            "",
            "| QoS | " + " | ".join("window %d" % w["window"] for w in run["window_sweep"] if w["qos"] == 1) + " |",
            "|---|" + "---:|" * len([w for w in run["window_sweep"] if w["qos"] == 1]),
        ]
        for q in (1, 2):
            lines.append("| %d | %s |" % (q, " | ".join(
                fmt_rate(w["rate"]) + " msg/s" for w in run["window_sweep"] if w["qos"] == q)))
    lines += ["", "**mq on CPython against the targets** (ratios: median of the per-round ratios)", "",
              "| target | measured | met |", "|---|---|---|"]
    for t, m, ok in targets(run):
        lines.append("| %s | %s | %s |" % (t, m, ok))
    return lines


COMMANDS = {
    "quick": "sh tools/bench.sh --quick     # or: .venv/bin/python bench/run.py --quick",
    "full": "sh tools/bench.sh --full      # or: .venv/bin/python bench/run.py --full",
}


def results_section(data: dict) -> str:
    lines = [
        MARK_BEGIN,
        "## Throughput and latency against Mosquitto (`bench/run.py`)",
        "",
        "One command sets up the extras (`pip install -e .[bench]`, the MicroPython peers, valgrind) and",
        "runs the driver, then `bench/mp_memory.py` for the MicroPython memory figures and, in the full",
        "mode, `bench/mp_instructions.py` for their CPU; the quick mode takes under two minutes, the",
        "full one about twenty:",
        "",
        "    " + COMMANDS["quick"],
        "    " + COMMANDS["full"],
        "",
        "The driver starts its own Mosquitto on a free loopback port for each round, with",
        "`max_inflight_messages 0`, `max_queued_messages 0` and `max_queued_bytes 0` (2.0.11 stalls",
        "pipelined QoS 2 under the default limit of 20). Every client in `bench/clients/` is a",
        "small script driving its library as the library's documentation shows, and prints one",
        "JSON line (see the docstring of `bench/clients/_common.py` and `bench/mp_common.py`).",
        "",
        "- **publish msg/s**: the client's own clock, from its first publish until every",
        "  message is acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP) or, at QoS 0, written to the",
        "  socket. QoS 1/2 are pipelined where the library can, within the server's Receive",
        "  Maximum (65535 here): mq and gmqtt on CPython up to that maximum (mq at QoS 2: 256,",
        "  `max_inflight=`, see `bench/clients/_common.py`), paho and aiomqtt at",
        "  paho's default of 20 in flight (paho gets slower with a deeper window: see",
        "  `cpy_paho.py`); each file in `bench/clients/` says how it drives its library.",
        "- **ceiling** (`raw_blaster`): pre-encoded MQTT 5.0 PUBLISH packets written to a plain",
        "  socket, acknowledgements counted with a minimal parser, window = Receive Maximum",
        "  (QoS 2: 256, as mq). At",
        "  QoS 0 its clock stops when the broker has read everything (a PINGREQ behind the",
        "  burst is answered), while the libraries stop when the socket took their last byte:",
        "  loopback socket buffers hold megabytes, so a fast library's QoS 0 *publish* rate can",
        "  pass the ceiling. The end-to-end rate is the comparison that holds at QoS 0.",
        "- **end-to-end msg/s**: a raw-socket subscriber in the driver (`bench/subscriber.py`),",
        "  subscribed to `bench/#` at the same QoS before the client starts, counts PUBLISH",
        "  packets: arrivals / (last arrival - the client's first publish, `t0_wall` in its",
        "  JSON line); † marks a client that does not report `t0_wall`, timed from the first",
        "  arrival instead (which flatters a client that writes its whole burst before the",
        "  broker releases anything, as QoS 2 does on PUBREL). **lost** = sent - arrived,",
        "  summed over the rounds. Broker, client and subscriber share the machine's cores.",
        "- **/paho, /ceiling**: within each round, the client's figure divided by paho-mqtt's",
        "  (resp. the raw blaster's) measured right next to it; the median over the rounds. The",
        "  clients run in table order in even rounds and in reverse order in odd ones, so that",
        "  none always comes first after the previous combination.",
        "- **peak RSS**: the client process's VmHWM (`ru_maxrss` would report the driver's",
        "  peak: Linux carries it across fork and exec). None for MicroPython: the unix port",
        "  from PyPI runs inside a CPython process, whose RSS says nothing about MicroPython.",
        "- The machine is a small VM whose cores other work may share: absolute rates move by",
        "  10-20 % from run to run; the ratios, taken pair by pair within a round, move less.",
        "- Round trips: sequential publishes, each awaited (PUBACK / PUBCOMP) before the next;",
        "  no subscriber.",
        "",
    ]
    machine_info = data.get("machine")
    if machine_info:
        lines += ["Machine: " + machine_line(machine_info) + ".", ""]
    for mode in ("full", "quick"):
        run = data.get(mode)
        if not run:
            continue
        lines += [
            "### %s mode (%s; %d rounds, median; %s)" % (mode.capitalize(), run["date"], run["runs"],
                                                         "%.0f s" % run["elapsed_seconds"]),
            "",
            "    " + COMMANDS[mode],
        ]
        if run.get("host_speed"):
            lines += ["", "Host speed: a CPython loop of 3 million additions took %.2f s before the rounds "
                      "and %.2f s after (best of 3; it takes longer when other work shares the cores)."
                      % tuple(run["host_speed"])]
        if run.get("notes"):
            lines += [""] + ["Note: %s." % n for n in run["notes"]]
        lines += tables(run)
        lines.append("")
        lines += mp_report.section(run, functools.partial(paired_ratio, index(run["results"])))
    if (BENCH / "throughput.png").exists():
        lines += ["![publish and end-to-end rate per client](throughput.png)", "",
                  "The chart shows the %s mode." % data.get("chart_mode", "full"), ""]
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def write_results_md(data: dict) -> None:
    path = BENCH / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = results_section(data)
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        _, tail = rest.split(MARK_END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def chart(run: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("note: matplotlib is not installed: no chart (pip install -e .[bench])")
        return False
    summ = [r for r in run["summary"] if r["mode"] == "publish"]
    groups = [(q, s) for q in run["plan"]["qos"] for s in run["plan"]["sizes"]]
    names = []
    for r in summ:
        if r["client"] not in names:
            names.append(r["client"])
    order = {n: i for i, (n, _) in enumerate(KNOWN_CLIENTS)}
    names.sort(key=lambda n: order.get(n, 99))
    by = {(r["client"], r["qos"], r["size"]): r for r in summ}
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), sharey=True)
    width = 0.8 / max(1, len(names))
    cmap = plt.get_cmap("tab10")
    for ax, field, title in zip(axes, ("rate", "e2e_rate"), ("publish rate (client's clock)",
                                                              "end-to-end rate (subscriber's count)"), strict=True):
        for i, n in enumerate(names):
            xs, ys = [], []
            for g, (q, s) in enumerate(groups):
                r = by.get((n, q, s))
                if r and r[field]:
                    xs.append(g + (i - (len(names) - 1) / 2) * width)
                    ys.append(r[field])
            style = {"edgecolor": "black", "linewidth": 1.2} if n.endswith("_mq") else {}
            if n == CEILING:
                style = {"hatch": "//", "edgecolor": "white"}
            ax.bar(xs, ys, width, label=n + (" (ceiling)" if n == CEILING else ""), color=cmap(i % 10), **style)
        ax.set_yscale("log")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(["QoS %d\n%s" % (q, fmt_size(s)) for q, s in groups])
        ax.set_title(title)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("messages per second (log scale)")
    axes[1].legend(loc="upper right", fontsize=8, ncol=2)
    fig.suptitle("MQTT clients against Mosquitto %s on loopback, %s mode, median of %d rounds" % (
        run.get("mosquitto", ""), run["mode"], run["runs"]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="fewer messages and combinations (default)")
    g.add_argument("--full", action="store_true", help="every combination, more messages")
    ap.add_argument("--clients", help="comma-separated client names (default: all in bench/clients/)")
    ap.add_argument("--runs", type=int, help="rounds (default 3); the median is reported")
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json and RESULTS.md")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: rewrite RESULTS.md and the chart from bench/results.json")
    a = ap.parse_args()
    if a.report_only:
        data = json.loads((BENCH / "results.json").read_text())
        chart_run = data.get("full") or data.get("quick")
        if chart_run and chart(chart_run, BENCH / "throughput.png"):
            data["chart_mode"] = chart_run["mode"]
        write_results_md(data)
        return
    mode = "full" if a.full else "quick"
    plan = PLANS[mode]
    runs = a.runs or plan["runs"]
    clients = discover_clients()
    if a.clients:
        wanted = [c.strip() for c in a.clients.split(",") if c.strip()]
        known = dict(clients)
        clients = [(c, known.get(c, "micropython" if c.startswith("mp_") else "cpython")) for c in wanted]
    info = machine()
    log("machine: " + machine_line(info))
    speed = host_speed()
    log("host speed: %.3f s for the loop" % speed)
    run = run_plan(mode, plan, clients, runs)
    run["host_speed"] = [speed, host_speed()]
    run["mosquitto"] = info["mosquitto"]
    run["summary"] = summarise(run)
    if any(c.startswith("mp_") for c in run["clients"]):
        run["mp_memory"] = mp_report.measure(mode)
        if mode == "full":
            run["mp_instructions"] = mp_report.measure_instructions()
    print("\n".join(tables(run)))
    log("%s mode: %.0f s" % (mode, run["elapsed_seconds"]))
    if a.no_write:
        return
    path = BENCH / "results.json"
    data = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            data = json.loads(path.read_text())
    data["machine"] = info
    data[mode] = run
    chart_run = data.get("full") or run
    if chart(chart_run, BENCH / "throughput.png"):
        data["chart_mode"] = chart_run["mode"]
    path.write_text(json.dumps(data, indent=1) + "\n")
    write_results_md(data)
    log("wrote bench/results.json, bench/RESULTS.md, bench/throughput.png")


if __name__ == "__main__":
    main()
