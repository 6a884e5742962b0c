"""CPython: the client's own asyncio streams without their reader task and with less of
their writer task. The transport's callback reads straight into the protocol's receive
buffer (``asyncio.BufferedProtocol``), instead of through the stream's buffer, a copy
and a step of a reader task; what the client queued goes out from a plain loop
callback. A read and its answer then cost one turn of the event loop instead of three,
which counts when the broker answers a few packets at a time. Loaded only on CPython,
for the streams asyncio made; a dialer's own streams keep both tasks."""

import asyncio

from ._compat import stream_backlog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


class Feed(asyncio.BufferedProtocol):
    """Put under the transport of an asyncio stream pair. The stream's own protocol
    keeps the write side's callbacks, so that ``drain()`` works as before, and hears
    of the connection's end."""

    def __init__(self, client: "Any", link: "Any", stream_protocol: "Any") -> None:
        self.client = client
        self.link = link
        self.stream = stream_protocol
        self.call_soon = asyncio.get_running_loop().call_soon

    # -- the write side: what publishes and acknowledgements queued goes out from a
    # plain loop callback once the running task yields, cheaper than a step of the
    # client's writer task, which is left to drain a full socket.

    def nudge(self) -> None:
        self.call_soon(self.flush)

    def flush(self) -> None:
        client = self.client
        client._woken = False
        link = self.link
        if link.closed:
            return
        writer = link.writer
        try:
            if not stream_backlog(writer):
                client._write(link)  # (it notes the stream's backlog in _held)
                if link.closed:
                    return
                if not client._held:
                    client._flushed()
                    return
            client._wake.set()  # the socket is full: the writer task writes after drain()
        except Exception as e:
            client._lost(link, e)

    # -- the read side

    def get_buffer(self, sizehint: int) -> memoryview:
        view: memoryview = self.client.proto.rx_space()
        return view

    def buffer_updated(self, nbytes: int) -> None:
        client = self.client
        link = self.link
        if link.closed:
            return
        try:
            more = client._after_read(link, nbytes)
        except BaseException as e:
            client._read_failed(link, e)
            return
        if more > 0:
            link.writer.transport.pause_reading()
            # Registered before any other task runs: a token awaited from now on
            # resumes reading (its acknowledgement must be read).
            drained = client._pause(link)
            link.tasks.append(asyncio.create_task(self._resume(drained)))

    async def _resume(self, drained: "Any") -> None:
        link = self.link
        task = asyncio.current_task()
        try:
            await self.client._pause_reading(link, drained)
        finally:
            if task in link.tasks:
                link.tasks.remove(task)
        if not link.closed:
            link.writer.transport.resume_reading()

    def eof_received(self) -> None:
        self.buffer_updated(0)  # the server closed: a lost connection

    def connection_lost(self, exc: "Optional[BaseException]") -> None:
        self.stream.connection_lost(exc)
        if exc is None:
            self.buffer_updated(0)  # (nothing if the client closed it)
        elif not self.link.closed:
            self.client._read_failed(self.link, exc)

    def pause_writing(self) -> None:
        self.stream.pause_writing()

    def resume_writing(self) -> None:
        self.stream.resume_writing()


def feed(client: "Any", link: "Any") -> None:
    """Put a Feed under link's stream: from now on its transport feeds the client, and
    the client's nudges reach the Feed."""
    transport = link.writer.transport
    link.feed = Feed(client, link, transport.get_protocol())
    transport.set_protocol(link.feed)
