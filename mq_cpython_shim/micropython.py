"""The parts of MicroPython's ``micropython`` module that mq uses, for CPython."""

from typing import TypeVar

T = TypeVar("T")


def const(value: T) -> T:
    """MicroPython folds these at compile time; on CPython it is the identity."""
    return value


def heap_lock() -> int:
    return 0


def heap_unlock() -> int:
    return 0
