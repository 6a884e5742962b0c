"""MicroPython-only names for CPython, so that ``mq`` imports unchanged on both.

Only ``mq._compat`` imports from here; nothing in this package runs on a device.
"""

import asyncio
import time

# MicroPython's ticks wrap around; use a small period here too so the wrap-around
# arithmetic in mq is exercised on CPython as well.
TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


def ticks_ms() -> int:
    # Integer nanoseconds: no float arithmetic on a path taken for every packet.
    return time.monotonic_ns() // 1000000 & _TICKS_MAX


def ticks_add(ticks: int, delta: int) -> int:
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(end: int, start: int) -> int:
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


async def sleep_ms(ms: int) -> None:
    await asyncio.sleep(ms / 1000)
