"""pytest set-up shared by the CPython tests and the MicroPython wrapper."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "portable"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from harness import ControlServer, Harness  # noqa: E402
from support import SkipTest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def harness() -> "Iterator[ControlServer]":
    # Portable tests reach it through support.control(); the MicroPython processes
    # inherit the variable.
    server = ControlServer(Harness())
    os.environ["MQ_TEST_CONTROL"] = str(server.port)
    try:
        yield server
    finally:
        del os.environ["MQ_TEST_CONTROL"]
        server.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    # A portable test signals "not applicable here" with support.SkipTest.
    outcome = yield
    exc = outcome.excinfo
    if exc is not None and isinstance(exc[1], SkipTest):
        outcome.force_exception(pytest.skip.Exception(str(exc[1]), _use_item_location=True))


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    counts = {"CPython": {}, "MicroPython unix port": {}}
    for status in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(status, []):
            if getattr(rep, "when", "call") != "call" and status != "error" and status != "skipped":
                continue
            runtime = "MicroPython unix port" if "test_micropython.py" in rep.nodeid else "CPython"
            counts[runtime][status] = counts[runtime].get(status, 0) + 1
    terminalreporter.section("tests per runtime")
    for runtime, c in counts.items():
        parts = ", ".join("%d %s" % (n, s) for s, n in sorted(c.items())) or "none"
        terminalreporter.write_line("%s: %s" % (runtime, parts))
