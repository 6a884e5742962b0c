"""Memory and size of mq on the MicroPython unix port, beside umqtt.simple and mqtt_as
(as PyPI ships it: mqtt_async). CPython script; it starts its own Mosquitto and runs
bench/mp_probe.py once per figure under the unix port.

    .venv/bin/python bench/mp_memory.py [--quick] [--json FILE]

Figures (JSON lines on stdout, then Markdown tables):
  heap      gc.mem_alloc() after gc.collect(), after import + connect, asyncio
            included, minus the same figure at the top of the probe (the interpreter and
            the probe's own code); libraries loaded from .py sources, from .mpy files, and
            from a ROMFS image (see "Loading" below).
  alloc     bytes allocated per operation: gc.mem_alloc() delta over 1000 operations
            with the collector disabled (gc.collect(); gc.disable() after 200 warm-up
            operations), divided by 1000; bytes payload of 32 B. Nothing is freed while
            the collector is off, so the delta is every byte allocated (less what was
            explicitly freed, e.g. a list's old storage when it grows). The unix port is
            64-bit: its GC block is 32 bytes and objects are about twice their size on
            the 32-bit ESP32/RP2040.
  mpy       size of each mq module compiled with mpy-cross; the total, and the core: the
            modules in sys.modules after import, connect and a QoS 0/1/2 round; and the
            size of the library's ROMFS image.
  modules   heap cost of each core module imported on its own (dependency order).
  minheap   the smallest -X heapsize (1 KiB steps, 16 KiB..512 KiB) at which a session
            (connect, subscribe, publish QoS 0/1/2 to itself, receive all, disconnect)
            runs; QoS 0/1 only for umqtt.simple and mqtt_as, which have no QoS 2. The
            probe runs as .mpy; "none" is the probe with asyncio and no MQTT at all.
            With ROMFS the image itself sits in that heap (see below): the figure is
            given as found, and less the image, the heap a device needs beside the
            image in flash.

Loading: "py" imports the sources (compiled at import, into the heap); "mpy" the files
mpy-cross compiles with -O3, no asserts and no line numbers, as tools/build_mpy.py builds
mq for a device (every library gets the same; their bytecode is copied into the heap);
"romfs" the same .mpy files packed by `mpremote romfs build` into one image per library (mq; umqtt; mqtt_async) and
executed in place, as from a device's ROMFS partition or frozen into its firmware: only
what the code creates at run time (and the interned names) takes heap. The unix port has
no flash, so the image is a bytearray in the GC heap, read and mounted at /rom before
the probe takes its baseline: the heap figures exclude it, the smallest heap includes it.
asyncio is frozen into the port in every case.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

from brokers import Mosquitto  # noqa: E402
from build_mpy import OPT, mount_script, tool  # noqa: E402  (OPT: the level mq is built with)

PROBE = BENCH / "mp_probe.py"
MP_LIB = BENCH / "mp_lib"
MP_FAKES = BENCH / "mp_fakes"
LIBS = ("mq5", "mq311", "umqtt", "mqtt_as")
OPS = ("pub0", "pub0await", "pub0burst", "pub1", "recv0", "recv1", "loop")
BIG_HEAP = "64M"  # room for 1000 operations' garbage with the collector off



MICROPYTHON = tool("micropython")
MPY_CROSS = tool("mpy-cross")
MPREMOTE = tool("mpremote")

# The library each probe LIB imports, as a ROMFS image: its .mpy files, by relative path.
ROMFS_IMAGE = {"mq5": "mq", "mq311": "mq", "umqtt": "umqtt", "mqtt_as": "mqtt_async"}


def compile_tree(src_files: list[tuple[Path, str]], dest: Path, opt: int = OPT) -> dict[str, int]:
    """mpy-cross -O<opt> each (source, relative .mpy path); return the .mpy sizes."""
    sizes = {}
    for src, rel in src_files:
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([MPY_CROSS, "-O%d" % opt, "-o", str(out), "-s", src.name, str(src)], check=True)
        sizes[rel] = out.stat().st_size
    return sizes


def build_romfs(files: list[Path], src_root: Path, tree: Path, image: Path) -> int:
    """Pack the given .mpy files (paths kept relative to src_root) into a ROMFS image."""
    for f in files:
        out = tree / f.relative_to(src_root)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, out)
    cmd = [MPREMOTE, "romfs", "--no-mpy", "--output", str(image), "build", str(tree)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return image.stat().st_size


class Env:
    """The import paths: .py sources, .mpy files compiled into a temporary tree, or those
    .mpy files in a ROMFS image per library."""

    def __init__(self, tmp: Path) -> None:
        self.mpy = tmp / "mpy"
        mq_files = sorted((ROOT / "mq").glob("*.py"))
        self.mq_sizes = compile_tree([(p, "mq/%s.mpy" % p.stem) for p in mq_files], self.mpy)
        # The same at -O0 (asserts and line numbers kept), for the size table only.
        self.mq_sizes_o0 = compile_tree([(p, "mq/%s.mpy" % p.stem) for p in mq_files], tmp / "mpy-o0", 0)
        peers = [(MP_LIB / "umqtt" / "simple.py", "umqtt/simple.mpy"), (MP_LIB / "mqtt_async.py", "mqtt_async.mpy")]
        self.peer_sizes = compile_tree(peers, self.mpy)
        self.romfs: dict[str, Path] = {}
        self.romfs_sizes: dict[str, int] = {}
        for name in sorted(set(ROMFS_IMAGE.values())):
            files = sorted((self.mpy / name).rglob("*.mpy")) or [self.mpy / (name + ".mpy")]
            self.romfs[name] = tmp / "romfs" / (name + ".img")
            self.romfs_sizes[name] = build_romfs(files, self.mpy, tmp / "romfs" / name, self.romfs[name])
        # The probe runs as .mpy (micropython -m mp_probe): compiling its source would
        # take heap of its own, and the smallest-heap search would measure that.
        self.tools = tmp / "tools"
        compile_tree([(PROBE, "mp_probe.mpy")], self.tools)
        # The same modules under a package with an empty __init__, to import them one by one.
        self.solo = tmp / "solo"
        shutil.copytree(self.mpy / "mq", self.solo / "mqsolo")
        (self.solo / "mqsolo" / "__init__.mpy").unlink()
        (self.solo / "mqsolo" / "__init__.py").write_text("")

    def path(self, kind: str) -> str:
        first = [str(self.mpy)] if kind == "mpy" else [str(ROOT), str(MP_LIB)]
        if kind == "solo":
            first = [str(self.solo)]
        if kind == "romfs":
            first = []  # the library only from the image at /rom
        # .frozen first: asyncio is frozen into the port.
        return ":".join([".frozen", str(self.tools), *first, str(MP_FAKES)])


def probe(env: Env, kind: str, args: list[str], heap: str = BIG_HEAP, on_line: Any = None, timeout: float = 180) -> Any:
    cmd = [MICROPYTHON, "-X", "heapsize=%s" % heap, "-m", "mp_probe", *args]
    if kind == "romfs":  # args: MEASURE LIB ...
        # The image mounted as a device's boot does, then the probe (as .mpy), which takes
        # its baseline with the image and the mount already there; this -c script's own
        # compile garbage is collected before that.
        cmd[3:5] = ["-c", mount_script(env.romfs[ROMFS_IMAGE[args[1]]]) + "import mp_probe\n"]
    e = dict(os.environ, MICROPYPATH=env.path(kind))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=str(env.tools))
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    result = None
    other = []
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.strip()
            if line.startswith("@"):
                if on_line is not None:
                    on_line(line)
            elif line.startswith("{"):
                result = json.loads(line)
            elif line:
                other.append(line)  # the unix port prints an uncaught exception here
        other += (proc.stderr.read() if proc.stderr is not None else "").strip().splitlines()
        proc.wait()
    finally:
        timer.cancel()
    if proc.returncode != 0 or result is None:
        return {"error": (other or ["exit %s" % proc.returncode])[-1]}
    return result


class Publisher:
    """Publishes the messages a recv probe counts: WARMUP on @ready, N on @go."""

    def __init__(self, port: int, qos: int) -> None:
        import paho.mqtt.client as paho

        self.qos = qos
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="mp-memory-pub")
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def on_line(self, line: str) -> None:
        n = {"@ready": 200, "@go": 1000}.get(line, 0)
        payload = b"y" * 32
        for _ in range(n):
            self.c.publish("bench/mem", payload, qos=self.qos)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def import_order(core: list[str]) -> list[str]:
    """The core modules (short names), each after the mq modules it imports at load time."""
    deps: dict[str, set[str]] = {}
    for name in core:
        tree = ast.parse((ROOT / "mq" / (name + ".py")).read_text())
        found: set[str] = set()
        for node in tree.body:
            stmts = [node]
            if isinstance(node, ast.Try):
                stmts = node.body
            elif isinstance(node, ast.If):
                continue  # `if TYPE_CHECKING:` and the like
            for s in stmts:
                if isinstance(s, ast.ImportFrom) and s.level == 1 and s.module:
                    found.add(s.module)
        deps[name] = found & set(core)
    order: list[str] = []

    def visit(n: str) -> None:
        if n in order:
            return
        for d in sorted(deps[n]):
            visit(d)
        order.append(n)

    for n in sorted(core):
        visit(n)
    return order


def min_heap(env: Env, kind: str, lib: str, url: str, lo: int = 16, hi: int = 512) -> int | None:
    def ok(k: int) -> bool:
        r = probe(env, kind, ["session", lib, url], heap="%dK" % k, timeout=60)
        return bool(r.get("ok"))

    if not ok(hi):
        return None
    while lo < hi:  # smallest k in [lo, hi] that runs
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    # Fragmentation can make this not quite monotonic: the figure must hold above it too.
    k = lo
    while not all(ok(k + d) for d in (1, 2, 3, 4)):
        k += 1
    return k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="mq only, .mpy and ROMFS only")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    if not (MP_LIB / "umqtt" / "simple.py").exists():
        raise SystemExit("run sh bench/setup_mp_peers.sh first")
    libs = ("mq5", "mq311") if args.quick else LIBS
    kinds = ("mpy", "romfs") if args.quick else ("py", "mpy", "romfs")
    figures: list[dict[str, Any]] = []

    def emit(**kw: Any) -> None:
        figures.append(kw)
        print(json.dumps(kw), flush=True)

    with tempfile.TemporaryDirectory(prefix="mq-mp-memory-") as tmpdir, Mosquitto(["max_inflight_messages 0"]) as b:
        env = Env(Path(tmpdir))
        url = "mqtt://127.0.0.1:%d" % b.port
        core: list[str] = []
        for lib in libs:
            for kind in kinds:
                r = probe(env, kind, ["heap", lib, url])
                if "error" not in r:
                    r["heap"] = r["after"] - r["base"]
                    r["heap_round"] = r["after_round"] - r["base"]
                    if lib == "mq5" and kind == "mpy":
                        core = [m[3:] if m != "mq" else "__init__" for m in r["modules_round"]]
                    r.pop("modules", None)
                    r.pop("modules_round", None)
                if kind == "romfs":
                    r["image"] = env.romfs_sizes[ROMFS_IMAGE[lib]]
                emit(figure="heap", lib=lib, source=kind, **r)
        total = sum(env.mq_sizes.values())
        core_size = sum(env.mq_sizes["mq/%s.mpy" % m] for m in core)
        emit(figure="mpy", lib="mq", total=total, core=core_size, core_modules=sorted(core),
             modules={k[3:-4]: v for k, v in sorted(env.mq_sizes.items())}, romfs=env.romfs_sizes["mq"],
             total_o0=sum(env.mq_sizes_o0.values()),
             core_o0=sum(env.mq_sizes_o0["mq/%s.mpy" % m] for m in core))
        for rel, size in env.peer_sizes.items():
            image = rel.split("/")[0].removesuffix(".mpy")
            emit(figure="mpy", lib=rel, total=size, core=size, romfs=env.romfs_sizes[image])
        solo = import_order([m for m in core if m != "__init__"])
        r = probe(env, "solo", ["modules", "mqsolo", ",".join(solo)])
        emit(figure="modules", **r)
        for lib in libs:
            for op in OPS:
                if lib in ("umqtt",) and op in ("pub0await", "pub0burst"):
                    continue
                if lib == "mqtt_as" and op in ("pub0await", "pub0burst"):
                    continue
                pub = Publisher(b.port, 1 if op == "recv1" else 0) if op.startswith("recv") else None
                try:
                    r = probe(env, "mpy", ["alloc", lib, url, op], on_line=pub.on_line if pub else None)
                finally:
                    if pub is not None:
                        pub.close()
                emit(figure="alloc", lib=lib, **r)
        emit(figure="minheap", lib="none", source="mpy", kib=min_heap(env, "mpy", "none", url, lo=4))
        for lib in libs:
            for kind in kinds:
                kib = min_heap(env, kind, lib, url)
                if kind == "romfs":
                    image = env.romfs_sizes[ROMFS_IMAGE[lib]]
                    beyond = round(kib - image / 1024, 1) if kib else None
                    emit(figure="minheap", lib=lib, source=kind, kib=kib, image=image, kib_beyond_image=beyond)
                else:
                    emit(figure="minheap", lib=lib, source=kind, kib=kib)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    print()
    print(tables(figures))


def loaded_from(f: dict[str, Any]) -> str:
    return "ROMFS" if f["source"] == "romfs" else "." + f["source"]


def tables(figures: list[dict[str, Any]]) -> str:
    out = []
    heap = [f for f in figures if f["figure"] == "heap"]
    out += ["| client | loaded from | heap after import + connect | after a QoS round |", "|---|---|---|---|"]
    for f in heap:
        if "error" in f:
            out.append("| %s | %s | error: %s | |" % (f["lib"], loaded_from(f), f["error"]))
        else:
            out.append("| %s | %s | %d B | %d B |" % (f["lib"], loaded_from(f), f["heap"], f["heap_round"]))
    out += ["", "| client | op | bytes allocated per op |", "|---|---|---|"]
    for f in figures:
        if f["figure"] == "alloc":
            per_op = "%.0f B" % f["per_op"] if "per_op" in f else "error: %s" % f.get("error")
            out.append("| %s | %s | %s |" % (f["lib"], f.get("op", "?"), per_op))
    out += ["", "| .mpy (-O%d) | total | core | ROMFS image |" % OPT, "|---|---|---|---|"]
    for f in figures:
        if f["figure"] == "mpy":
            out.append("| %s | %d B | %d B | %d B |" % (f["lib"], f["total"], f["core"], f["romfs"]))
            if "total_o0" in f:
                out.append("| %s at -O0 | %d B | %d B | |" % (f["lib"], f["total_o0"], f["core_o0"]))
    for f in figures:
        if f["figure"] == "modules" and "modules" in f:
            out += ["", "| module (imported alone, .mpy) | heap |", "|---|---|"]
            out += ["| %s | %d B |" % (name, size) for name, size in f["modules"]]
    out += [
        "",
        "| client | loaded from | smallest -X heapsize | of which the ROMFS image | heap beside the image |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        if f["figure"] == "minheap":
            found = "%d KiB" % f["kib"] if f["kib"] else "> 512 KiB"
            if f["source"] == "romfs":
                image = "%.1f KiB" % (f["image"] / 1024)
                beside = "%.1f KiB" % f["kib_beyond_image"] if f["kib"] else "?"
            else:
                image, beside = "-", found
            out.append("| %s | %s | %s | %s | %s |" % (f["lib"], loaded_from(f), found, image, beside))
    return "\n".join(out)


if __name__ == "__main__":
    main()
