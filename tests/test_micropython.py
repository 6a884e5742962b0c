"""The portable tests again, on the MicroPython unix port: one pytest item per test.

Each module runs in its own micropython process (a crash stays in its module);
results are cached so that a module runs once per session.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PORTABLE = ROOT / "tests" / "portable"
RUNNER = ROOT / "tests" / "mp_runner.py"
TIMEOUT = 600


def micropython_binary() -> str | None:
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    return shutil.which("micropython")


MP = micropython_binary()
MODULES = sorted(p.stem for p in PORTABLE.glob("test_*.py"))


def _collect() -> list[str]:
    if MP is None or not MODULES:
        return []
    out = subprocess.run(
        [MP, str(RUNNER), "--list", *MODULES], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    if out.returncode != 0:
        # Collection failing on MicroPython is itself a failure; surface it as a test.
        return ["<collection>::" + (out.stderr or out.stdout).strip().replace("\n", " | ")[-300:]]
    return [line for line in out.stdout.split() if "::" in line]


TESTS = _collect()
_results: dict[str, dict[str, tuple[str, str]]] = {}


def _run_module(module: str, env: dict[str, str]) -> dict[str, tuple[str, str]]:
    assert MP is not None
    proc = subprocess.run(
        [MP, str(RUNNER), module], capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT, env=env
    )
    results: dict[str, tuple[str, str]] = {}
    log: list[str] = []
    for line in proc.stdout.splitlines():
        if line.startswith("@@ "):
            status, _, rest = line[3:].partition(" ")
            test_id, _, note = rest.partition(" ")
            results[test_id] = (status, "\n".join(log) + note)
            log = []
        else:
            log.append(line)
    if proc.returncode not in (0, 1) or proc.stderr:
        tail = "\n".join(log) + "\n" + proc.stderr
        results.setdefault("__crash__", ("FAIL", "exit %d\n%s" % (proc.returncode, tail)))
    return results


@pytest.mark.skipif(MP is None, reason="micropython binary not installed")
@pytest.mark.parametrize("test_id", TESTS)
def test_micropython(test_id: str, mp_env: dict[str, str]) -> None:
    module = test_id.split("::", maxsplit=1)[0]
    assert module != "<collection>", "collection failed on MicroPython: " + test_id
    if module not in _results:
        _results[module] = _run_module(module, mp_env)
    results = _results[module]
    if test_id not in results:
        crash = results.get("__crash__", ("FAIL", "no result"))[1]
        pytest.fail("no result from MicroPython for %s:\n%s" % (test_id, crash))
    status, detail = results[test_id]
    if status == "SKIP":
        pytest.skip(detail)
    assert status == "PASS", detail


@pytest.fixture
def mp_env() -> dict[str, str]:
    env = dict(os.environ)
    return env
