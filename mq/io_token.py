"""Token: the awaitable result of publish, subscribe and unsubscribe."""

import asyncio

from ._compat import MICROPYTHON, const, park

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Generator, Optional

    from .wire_props import Properties


# Tokens being awaited, and the events of readers paused by a full handler queue: a
# handler awaiting an acknowledgement needs its reader, so a wait wakes them.
waiting = [0]
paused_readers: "list[Any]" = []


class Token:
    """Completes when the operation does. ``await token`` returns the token, or
    raises its error; ``wait(timeout)`` does the same with a time limit."""

    # Defaults live in the class: an instance holds only what was set on it, and on
    # MicroPython each attribute of an instance costs 16 bytes and may grow its table.
    _done = False
    _event: "Optional[asyncio.Event]" = None
    error: "Optional[BaseException]" = None
    dropped = False
    reason_code = 0
    reason_codes: "Optional[list[int]]" = None  # SUBACK / UNSUBACK: one per filter
    properties: "Optional[Properties]" = None  # of the PUBACK, PUBCOMP, SUBACK or UNSUBACK

    def done(self) -> bool:
        return self._done

    def _complete(self, error: "Optional[BaseException]" = None, reason_code: int = 0) -> None:
        if self._done:
            return
        self._done = True
        if error is not None:
            self.error = error
        if reason_code:
            self.reason_code = reason_code
        if self._event is not None:
            self._event.set()

    async def wait(self, timeout: "Optional[float]" = None) -> "Token":
        """Wait until done; raise the operation's error, or asyncio.TimeoutError."""
        if timeout is None or self._done:
            return await self
        self._waiting()
        try:
            await asyncio.wait_for(self._event.wait(), timeout)  # type: ignore[union-attr]
        finally:
            waiting[0] -= 1
        return self._result()

    def _waiting(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        waiting[0] += 1
        for e in paused_readers:
            e.set()

    def _result(self) -> "Token":
        if self.error is not None:
            raise self.error
        return self

    if MICROPYTHON:

        def __await__(self) -> "Generator[Any, None, Token]":
            if self._done and self.error is None:
                # Done (every QoS 0 publish that went out): the token is its own
                # iterator, and __next__ ends the await with it. No generator to make:
                # on MicroPython that costs a multi-block allocation, 12 us on a large heap.
                return self  # type: ignore[return-value]
            return self._wait()

    else:

        def __await__(self) -> "Generator[Any, None, Token]":
            # CPython makes a generator faster than it raises the StopIteration that
            # __next__ ends a done token's await with.
            return self._wait()

    def _wait(self) -> "Generator[Any, None, Token]":
        # One generator per await of a pending token: on MicroPython it parks its task
        # on the event itself (no wait() coroutine, no Event.wait() generator).
        if not self._done:
            self._waiting()
            try:
                if MICROPYTHON:
                    if park(self._event):
                        yield
                else:
                    yield from self._event.wait().__await__()  # type: ignore[union-attr]
            finally:
                waiting[0] -= 1
        return self._result()

    __iter__ = __await__  # MicroPython awaits through __iter__

    def __next__(self) -> "Any":
        raise StopIteration(self)

    def __repr__(self) -> str:
        if not self._done:
            state = "pending"
        elif self.dropped:
            state = "dropped"
        else:
            state = "error=%r" % self.error if self.error else "ok"
        return "<Token %s>" % state


def _completed(dropped: bool) -> Token:
    t = Token()
    t.dropped = dropped
    t._complete()
    return t


# QoS 0 publishes share these: no allocation per message.
DONE = _completed(False)
DROPPED = _completed(True)
