"""Helpers for the portable tests (CPython under pytest, and the MicroPython unix port)."""

import sys

MICROPYTHON = sys.implementation.name == "micropython"


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
