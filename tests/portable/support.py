"""Helpers for the portable tests (CPython under pytest, and the MicroPython unix port)."""

import sys

MICROPYTHON = sys.implementation.name == "micropython"
RUNTIME = "micropython" if MICROPYTHON else "cpython"  # the harness's name, for spawn


class SkipTest(Exception):
    """Raised by a portable test that does not apply to this runtime."""


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception of exc_type it raised; fail if it did not."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %s%r" % (exc_type.__name__, getattr(fn, "__name__", fn), args))


def unhex(s):
    """Bytes from hex with spaces allowed, for readable byte vectors."""
    s = s.replace(" ", "")
    return bytes(int(s[i : i + 2], 16) for i in range(0, len(s), 2))


def run(coro):
    """Run a test coroutine in a fresh event loop (on MicroPython, tasks left over by an
    earlier test are dropped), then release what it asked the harness for."""
    import asyncio

    if MICROPYTHON:
        asyncio.new_event_loop()
    try:
        return asyncio.run(coro)
    finally:
        if _control_used:
            _control_used.clear()
            if MICROPYTHON:
                asyncio.new_event_loop()
            asyncio.run(control("cleanup"))


_control_used = []


def _control_port():
    import os

    port = os.getenv("MQ_TEST_CONTROL")
    if not port:
        raise SkipTest("no test harness (MQ_TEST_CONTROL is not set): run under pytest")
    return int(port)


async def control(op, **args):
    """Ask the CPython test harness (tests/harness.py) to do something the test cannot
    do itself on every runtime: start and kill brokers, run paho-mqtt, stall a proxy,
    make certificates. Returns the operation's result; raises RuntimeError on failure."""
    import asyncio
    import json

    port = _control_port()
    _control_used.append(op)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        await writer.drain()
        line = b""
        while not line.endswith(b"\n"):
            chunk = await reader.read(4096)
            if not chunk:
                break
            line += chunk
    finally:
        writer.close()
    reply = json.loads(line)
    if "error" in reply:
        raise RuntimeError("harness %s failed: %s" % (op, reply["error"]))
    return reply["ok"]


def hexlify(data):
    import binascii

    return binascii.hexlify(data).decode()


def unhexlify(s):
    import binascii

    return binascii.unhexlify(s)


async def araises(exc_type, aw):
    """Await aw and return the exception of exc_type it raised; fail if it did not."""
    try:
        await aw
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % exc_type.__name__)


class Calls:
    """A callback that records its calls, awaitable by count (``await flag.wait(2)``)."""

    def __init__(self):
        import asyncio

        self.calls = []
        self.event = asyncio.Event()

    def __call__(self, *args):
        self.calls.append(args)
        self.event.set()

    async def wait(self, count=1, timeout=10):
        import asyncio

        async def until():
            while len(self.calls) < count:
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(until(), timeout)
        return self.calls


class Inbox(Calls):
    """A message handler that keeps what it is handed: ``await inbox.wait(n)`` returns
    the messages once n have arrived."""

    def __call__(self, client, message):
        Calls.__call__(self, message)

    @property
    def messages(self):
        return [c[0] for c in self.calls]

    async def wait(self, count=1, timeout=10):
        await Calls.wait(self, count, timeout)
        return self.messages
