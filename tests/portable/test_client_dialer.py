"""A user dialer (``dialer=``): the client talks through the streams it returns, against a
real Mosquitto, paho counting on the other side. One of them holds on to what it is given
without copying it, as CPython's socket transport does (3.12 and later) with what it
cannot send at once: the client must not write into a buffer the stream still refers to."""

import asyncio

from support import control, run

import mq

COUNT = 60


class KeepingWriter:
    """Sends nothing on write(): keeps a view of each buffer until drain()."""

    def __init__(self, writer):
        self.writer = writer
        self.kept = []

    def write(self, data):
        self.kept.append(memoryview(data))

    async def drain(self):
        kept = self.kept
        self.kept = []
        for view in kept:
            self.writer.write(bytes(view))
        await self.writer.drain()

    def close(self):
        self.writer.close()


def _host_port(url):
    host, _, port = url.split("://", 1)[1].rpartition(":")
    return host, int(port)


async def _dialer_keeping_views():
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="dial/#", qos=0)
    writers = []

    async def dialer(scheme, url):
        assert scheme == "mqtt" and url == b["url"]
        reader, writer = await asyncio.open_connection(*_host_port(url))
        w = KeepingWriter(writer)
        writers.append(w)
        return reader, w

    # A 256-byte send buffer: the burst below fills it many times over before the
    # writer task first drains, so each flush's bytes must survive the next packets.
    c = await mq.dial(b["url"], dialer=dialer, buffer_size=256, qos0_policy=mq.QOS0_BLOCK)
    try:
        for i in range(COUNT):
            c.publish("dial/t", b"%03d" % i + bytes([i]) * 40, 0)
        await c.publish("dial/t", b"end", 1)
        got = await control("paho_messages", id=sub, count=COUNT + 1)
    finally:
        await c.disconnect()
    assert len(writers) == 1
    payloads = [bytes.fromhex(m["payload"]) for m in got]
    assert payloads == [b"%03d" % i + bytes([i]) * 40 for i in range(COUNT)] + [b"end"]


def test_a_stream_that_keeps_views_of_written_buffers_gets_intact_packets():
    run(_dialer_keeping_views())
