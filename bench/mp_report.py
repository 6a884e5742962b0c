"""The MicroPython part of bench/RESULTS.md: bench/mp_memory.py's figures (heap, bytes
allocated per operation, .mpy size, smallest heap) and mq on the unix port against the
issue's targets, from those figures and from the run's mp_* clients.

bench/run.py calls ``measure()`` after the throughput rounds (the quick mode measures mq
alone, the full mode its peers too) and ``section()`` when it writes RESULTS.md;
bench/MP_RESULTS.md holds the analysis behind these numbers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from report_fmt import at_least, fmt_size, verdict

BENCH = Path(__file__).resolve().parent
COMMANDS = {
    "quick": ".venv/bin/python bench/mp_memory.py --quick   # mq only, from .mpy and ROMFS",
    "full": ".venv/bin/python bench/mp_memory.py           # and the peers, and from .py",
}


def measure(mode: str) -> "list[dict[str, Any]] | None":
    """Run bench/mp_memory.py (its own Mosquitto; quick: seconds, full: minutes); its
    figures, or None if it failed."""
    with tempfile.TemporaryDirectory(prefix="mq-bench-") as tmp:
        out = Path(tmp) / "mp_memory.json"
        cmd = [sys.executable, str(BENCH / "mp_memory.py"), "--json", str(out)]
        if mode == "quick":
            cmd.append("--quick")
        proc = subprocess.run(cmd, cwd=BENCH.parent)
        if proc.returncode != 0 or not out.exists():
            print("bench: mp_memory.py failed (exit %d); no memory figures" % proc.returncode, file=sys.stderr)
            return None
        figures: list[dict[str, Any]] = json.loads(out.read_text())
        return figures


def measure_instructions() -> "list[dict[str, Any]] | None":
    """Run bench/mp_instructions.py (about 4 minutes, under valgrind); its cells, or None
    if valgrind is missing or the script failed."""
    if shutil.which("valgrind") is None:
        print("bench: no valgrind; no instruction counts (apt-get install valgrind)", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="mq-bench-") as tmp:
        out = Path(tmp) / "mp_instructions.json"
        proc = subprocess.run([sys.executable, str(BENCH / "mp_instructions.py"), "--json", str(out)],
                              cwd=BENCH.parent)
        if proc.returncode != 0 or not out.exists():
            print("bench: mp_instructions.py failed (exit %d)" % proc.returncode, file=sys.stderr)
            return None
        cells: list[dict[str, Any]] = json.loads(out.read_text())["cells"]
        return cells


def _per_message(run: "dict[str, Any]", client: str, qos: int, size: int) -> int:
    """Instructions per message from the run's bench/mp_instructions.py cells (0: none)."""
    for c in run.get("mp_instructions") or []:
        if (c["client"], c["qos"], c["size"]) == (client, qos, size):
            n: int = c["per_message"]
            return n
    return 0


def _find(figures: "list[dict[str, Any]]", figure: str, **match: Any) -> "dict[str, Any] | None":
    for f in figures:
        if f.get("figure") == figure and all(f.get(k) == v for k, v in match.items()) and "error" not in f:
            return f
    return None


def targets(run: "dict[str, Any]", figures: "list[dict[str, Any]]",
            ratio: Any) -> "list[tuple[str, str, str]]":
    """(target, measured, met) for mq on the unix port. ratio is run.py's paired_ratio
    over the run's results: ratio(client, base, mode, qos, size, field)."""
    summ = {(r["client"], r["mode"], r["qos"], r["size"]): r for r in run["summary"]}
    sizes = run["plan"]["sizes"]
    out: list[tuple[str, str, str]] = []

    def rate(qos: int, size: int) -> "float | None":
        r = summ.get(("mp_mq", "publish", qos, size))
        return r["rate"] if r else None

    v = [ratio("mp_mq", "mp_mqtt_as", "publish", 0, s, "rate") for s in sizes]
    c = [ratio("mp_mq", "raw_blaster", "publish", 0, s, "rate") for s in sizes]
    out.append(("QoS 0 publish rate ≥ 2x mqtt_as (%s)" % " / ".join(fmt_size(s) for s in sizes),
                "%s mqtt_as (mq at %s of the raw ceiling; with the subscriber, see MP_RESULTS.md for"
                " client and broker alone)" % (" / ".join("%.2fx" % x if x else "-" for x in v),
                                                 " / ".join("%.2fx" % x if x else "-" for x in c)),
                verdict(at_least(v, 2))))
    cpu = [(_per_message(run, "mp_mqtt_as", 0, s), _per_message(run, "mp_mq", 0, s)) for s in sizes]
    if all(a and b for a, b in cpu):
        fewer = [a / b for a, b in cpu]
        out.append(("(the same, in CPU: instructions per QoS 0 message, `bench/mp_instructions.py`)",
                    "%s fewer than mqtt_async (mq: %s)" % (
                        " / ".join("%.2fx" % x for x in fewer), " / ".join(format(b, ",") for _, b in cpu)),
                    verdict(min(fewer) >= 2)))
    for qos, bound in ((1, 10000), (2, 5000)):
        r = [rate(qos, s) for s in sizes]
        out.append(("pipelined QoS %d ≥ %s msg/s" % (qos, format(bound, ",")),
                    " / ".join("%s msg/s" % format(round(x), ",") if x else "-" for x in r),
                    verdict(at_least(r, bound))))
    lat = summ.get(("mp_mq", "latency", 1, run["plan"]["latency_size"]))
    if lat and lat["p50_ms"]:
        out.append(("QoS 1 round trip p50 < 1 ms", "%.3f ms (p99 %.3f ms)" % (lat["p50_ms"], lat["p99_ms"]),
                    verdict(lat["p50_ms"] < 1)))
    a = _find(figures, "alloc", lib="mq5", op="pub0")
    if a:
        out.append(("≤ 64 B per steady-state QoS 0 publish", "%g B (.mpy, 1000 publishes of 32 B)" % a["per_op"],
                    verdict(a["per_op"] <= 64)))
    heaps = {src: _find(figures, "heap", lib="mq5", source=src) for src in ("mpy", "romfs")}
    peer = _find(figures, "heap", lib="mqtt_as", source="mpy")
    if heaps["mpy"] and heaps["romfs"]:
        out.append(("heap after import + connect ≤ 20 KB", "%.1f KB from .mpy, %.1f KB from ROMFS%s" % (
            heaps["mpy"]["heap"] / 1000, heaps["romfs"]["heap"] / 1000,
            " (mqtt_async: %.1f KB from .mpy)" % (peer["heap"] / 1000) if peer else ""),
            verdict(min(heaps["mpy"]["heap"], heaps["romfs"]["heap"]) <= 20000)))
    m = _find(figures, "mpy", lib="mq")
    if m:
        out.append(("core .mpy ≤ 16 KB", "%.1f KB (%d modules; all of mq: %.1f KB)" % (
            m["core"] / 1000, len(m["core_modules"]), m["total"] / 1000), verdict(m["core"] <= 16000)))
    mins = {src: _find(figures, "minheap", lib="mq5", source=src) for src in ("mpy", "romfs")}
    if mins["mpy"] and mins["romfs"] and mins["mpy"]["kib"] and mins["romfs"]["kib"]:
        out.append(("a QoS 0/1/2 session in a 48 KiB heap", "%d KiB from .mpy; %.1f KiB beside a ROMFS image" % (
            mins["mpy"]["kib"], mins["romfs"]["kib_beyond_image"]),
            verdict(min(mins["mpy"]["kib"], mins["romfs"]["kib_beyond_image"]) <= 48)))
    return out


def section(run: "dict[str, Any]", ratio: Any) -> "list[str]":
    """RESULTS.md lines for a run: its memory tables and mq's MicroPython targets."""
    figures = run.get("mp_memory")
    if not figures:
        return []
    from mp_memory import tables

    lines = [
        "**MicroPython unix port: memory** (`bench/mp_memory.py`, run by this mode; the method is in",
        "MP_RESULTS.md)",
        "",
        "    " + COMMANDS[run["mode"]],
        "",
        "mq5 / mq311: mq speaking MQTT 5.0 / 3.1.1; mqtt_as: `mqtt_async`, the mqtt_as API as",
        "PyPI ships it. Heap: `gc.mem_alloc()` after import (asyncio included) and connect,",
        "less the probe's own; per operation: the delta over 1000 operations with the",
        "collector off; smallest heap: the least `-X heapsize` at which connect, subscribe,",
        "publish at QoS 0/1/2 to ourselves and disconnect work. The unix port is 64-bit.",
        "",
        tables(figures),
        "",
    ]
    cells = run.get("mp_instructions")
    if cells:
        lines += [
            "**MicroPython unix port: instructions per message** (`bench/mp_instructions.py`, run by this",
            "mode under valgrind: the client's user-space instructions for 10,001 messages less those for 1,",
            "per message; QoS 0 with each publish awaited, QoS 1/2 pipelined, as in the rounds above)",
            "",
            "| client | QoS | payload | instructions per message |",
            "|---|---|---|---:|",
        ]
        lines += ["| %s | %d | %s | %s |" % (c["client"], c["qos"], fmt_size(c["size"]), format(c["per_message"], ","))
                  for c in cells]
        lines.append("")
    lines += ["**mq on the MicroPython unix port against the targets** (rates from this mode's"
              " rounds above)", "", "| target | measured | met |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % row for row in targets(run, figures, ratio)]
    lines += ["", "Where a target is missed, MP_RESULTS.md (\"What holds mq back\") says by how much and why.", ""]
    return lines
