"""A scripted MQTT server in the test's own event loop, for what no real broker does:
malformed packets, protocol violations, refusals, redirects, AUTH challenges.

    fb = FakeBroker(); await fb.start()
    client_task = asyncio.create_task(mq.dial(fb.url, ...))
    conn = await fb.accept()
    connect = await conn.recv()        # a decoded packet record
    conn.send_packet(Connack(False, 0))
    ...
    await fb.aclose()                  # closes every connection it ever accepted
"""

import asyncio
import random

import mq
from mq.wire_decode import Decoder
from mq.wire_encode import encode_bytes
from mq.wire_packets import CONNECT, Ack, Connack

TIMEOUT = 10
_CONNECT = 1


class FakeConn:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.buf = b""
        self.version = 5
        self.decoder = Decoder(5)
        self.closed = asyncio.Event()
        self.eof = False

    async def recv(self, timeout=TIMEOUT):
        """The next packet from the client (acks copied out of the decoder's record).
        Raises EOFError once the client has closed the connection."""
        while True:
            d = self.decoder
            if self.buf:
                p = d.decode(self.buf)
                if p is not None:
                    self.buf = self.buf[d.size :]
                    if p.type == _CONNECT:
                        # CONNECT carries its own version; later packets use it.
                        self.version = p.version
                        d.version = p.version
                    elif 4 <= p.type <= 7:  # PUBACK .. PUBCOMP
                        p = Ack(p.type, p.packet_id, p.reason_code, p.properties)
                    return p
            if self.eof:
                raise EOFError("client closed the connection")
            try:
                data = await asyncio.wait_for(self.reader.read(4096), timeout)
            except OSError:  # reset by the client
                data = b""
            if not data:
                self.eof = True
                raise EOFError("client closed the connection")
            self.buf += data

    async def recv_type(self, ptype, timeout=TIMEOUT):
        """Skip packets until one of ptype arrives (PINGREQs, say)."""
        while True:
            p = await self.recv(timeout)
            if p.type == ptype:
                return p

    async def closed_by_client(self, timeout=TIMEOUT):
        """Wait until the client closes; return what it sent before."""
        got = []
        try:
            while True:
                got.append(await self.recv(timeout))
        except EOFError:
            return got

    def send(self, data):
        self.writer.write(data)

    def send_packet(self, packet, version=None):
        self.writer.write(encode_bytes(packet, version or self.version))

    async def drain(self):
        await self.writer.drain()

    def close(self):
        if self.closed.is_set():
            return
        try:
            self.writer.close()
            s = getattr(self.writer, "s", None)
            if s is not None:
                s.close()  # MicroPython's close() leaves the socket open
        except OSError:
            pass
        self.closed.set()


class FakeBroker:
    def __init__(self):
        self.conns = []  # accepted by the socket, not yet taken by accept()
        self.all = []  # every connection, for close()
        self._new = asyncio.Event()
        self.server = None
        self.port = 0
        self.url = ""

    async def start(self):
        # MicroPython cannot report the port it bound: pick a random free one.
        for _ in range(100):
            port = 20000 + random.getrandbits(16) % 40000
            try:
                self.server = await asyncio.start_server(self._on_conn, "127.0.0.1", port)
            except OSError:
                continue
            self.port = port
            self.url = "mqtt://127.0.0.1:%d" % port
            return self
        raise OSError("no free port found")

    async def _on_conn(self, reader, writer):
        conn = FakeConn(reader, writer)
        self.conns.append(conn)
        self.all.append(conn)
        self._new.set()
        await conn.closed.wait()

    async def accept(self, timeout=TIMEOUT):
        """The next client connection."""
        while not self.conns:
            self._new.clear()
            await asyncio.wait_for(self._new.wait(), timeout)
        return self.conns.pop(0)

    def close(self):
        """Close every connection and stop listening."""
        for c in self.all:
            c.close()
        self.conns = []
        if self.server is not None:
            self.server.close()

    async def aclose(self):
        """close(), then wait until the listening socket is closed too (on MicroPython
        that happens in the server's task, which must get to run)."""
        self.close()
        server = self.server
        self.server = None
        if server is not None:
            try:
                await server.wait_closed()
            except asyncio.CancelledError:
                pass


# -- the client side of fake-broker tests -------------------------------------------

WAIT = 5  # s: a coarse upper bound for anything that should happen at once


class Log:
    """A logger that keeps what it is told (and keeps the test output quiet)."""

    def __init__(self):
        self.lines = []

    def _add(self, level, msg, args):
        self.lines.append((level, msg % args if args else msg))

    def debug(self, msg, *args, **kw):
        pass

    def info(self, msg, *args, **kw):
        pass

    def warning(self, msg, *args, **kw):
        self._add("warning", msg, args)

    def error(self, msg, *args, **kw):
        self._add("error", msg, args)

    def exception(self, msg, *args, **kw):
        self._add("error", msg, args)

    def errors(self):
        return [text for level, text in self.lines if level == "error"]


class Events:
    """The client's callbacks, recorded, with a way to wait for the next one."""

    def __init__(self):
        self.lost = []
        self.connects = 0
        self.redirects = []
        self._changed = asyncio.Event()

    def on_connection_lost(self, client, err):
        self.lost.append(err)
        self._changed.set()

    def on_connect(self, client):
        self.connects += 1
        self._changed.set()

    def on_server_redirect(self, reference):
        self.redirects.append(reference)

    def options(self):
        return {
            "on_connection_lost": self.on_connection_lost,
            "on_connect": self.on_connect,
            "on_server_redirect": self.on_server_redirect,
        }

    async def _until(self, cond):
        while not cond():
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), WAIT)

    async def wait_lost(self, n=1):
        """The n-th error given to on_connection_lost."""
        await self._until(lambda: len(self.lost) >= n)
        return self.lost[n - 1]

    async def wait_connects(self, n):
        await self._until(lambda: self.connects >= n)


def _options(opts):
    o = {
        "keepalive": 30,
        "connect_timeout": 2,
        "reconnect_delay": 0.01,
        "reconnect_max_delay": 0.05,
        "logger": Log(),
    }
    o.update(opts)
    return o


class Harness:
    """One fake broker and the clients dialled to it; ``close`` releases them all."""

    def __init__(self):
        self.fb = FakeBroker()
        self.clients = []
        self.tasks = []

    async def start(self):
        await self.fb.start()
        return self

    def dial_task(self, **opts):
        t = asyncio.create_task(mq.dial(self.fb.url, **_options(opts)))
        self.tasks.append(t)
        return t

    async def dial(self, connack=None, **opts):
        """Dial, answer CONNECT with connack; return (client, conn, the CONNECT)."""
        task = self.dial_task(**opts)
        conn = await self.fb.accept()
        connect = await conn.recv()
        assert connect.type == CONNECT
        conn.send_packet(connack if connack is not None else Connack(False, 0))
        client = await task
        self.clients.append(client)
        return client, conn, connect

    async def refused(self, answer, **opts):
        """Dial, answer CONNECT with answer (bytes or a packet); return what dial raised."""
        task = self.dial_task(**opts)
        conn = await self.fb.accept()
        await conn.recv()
        if isinstance(answer, bytes):
            conn.send(answer)
        else:
            conn.send_packet(answer)
        try:
            client = await task
        except mq.ConnectionRefused as e:
            assert await conn.closed_by_client() == []
            return e
        self.clients.append(client)
        raise AssertionError("dial did not fail")

    async def close(self):
        for t in self.tasks:
            if not t.done():
                t.cancel()
        for c in self.clients:
            await c.disconnect(timeout=1)
        await self.fb.aclose()
