"""tools/build_mpy.py: what it builds for a device works there. The unix port imports mq
only from the built .mpy files (or only from the ROMFS image, mounted as a device
mounts its partition) and runs a QoS 0/1/2 round against a real Mosquitto."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import Mosquitto, mosquitto_binary

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import build_mpy  # noqa: E402

MICROPYTHON = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")

pytestmark = pytest.mark.skipif(
    MICROPYTHON is None or mosquitto_binary() is None, reason="needs the unix port and Mosquitto"
)

# URL is replaced by the broker's.
ROUND = """import asyncio, mq
import mq.io_client
print("loaded", mq.io_client.__file__)

async def main():
    got = []
    done = asyncio.Event()

    def on_message(client, m):
        got.append("%s=%s/%d" % (m.topic, m.payload.decode(), m.qos))
        if len(got) == 3:
            done.set()

    c = await mq.dial(URL, client_id="built-mpy")
    await c.subscribe("built/#", 2, on_message)
    for qos in (0, 1, 2):
        await c.publish("built/%d" % qos, b"m%d" % qos, qos)
    await asyncio.wait_for(done.wait(), 10)
    await c.disconnect()
    print("got", " ".join(sorted(got)))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    b = Mosquitto().start()
    try:
        yield b
    finally:
        b.close()


def _run(script: str, path: str, broker: Mosquitto, cwd: Path) -> str:
    assert MICROPYTHON is not None
    script = script.replace("URL", repr(broker.url))
    env = dict(os.environ, MICROPYPATH=path)
    # cwd: away from the sources, which "-c" would otherwise find first.
    out = subprocess.run([MICROPYTHON, "-c", script], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_built_mpy_files_run_a_qos_0_1_2_round(tmp_path: Path, broker: Mosquitto) -> None:
    sizes = build_mpy.build(tmp_path)
    assert set(sizes) == {p.stem + ".mpy" for p in (ROOT / "mq").glob("*.py")}
    out = _run(ROUND, ".frozen", broker, tmp_path)  # the build in the working directory
    assert "loaded mq/io_client.mpy" in out
    assert "got built/0=m0/0 built/1=m1/1 built/2=m2/2" in out


def test_built_romfs_image_runs_in_place(tmp_path: Path, broker: Mosquitto) -> None:
    image = tmp_path / "mq.romfs"
    build_mpy.build(tmp_path / "out", romfs=image)
    out = _run(build_mpy.mount_script(image) + ROUND, ".frozen", broker, tmp_path)
    assert "loaded /rom/mq/io_client.mpy" in out
    assert "got built/0=m0/0 built/1=m1/1 built/2=m2/2" in out
