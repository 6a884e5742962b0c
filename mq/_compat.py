"""The only platform seam of mq: what MicroPython and CPython spell differently."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mq_cpython_shim import sleep_ms, ticks_add, ticks_diff, ticks_ms
    from mq_cpython_shim.micropython import const

    MICROPYTHON = False
else:
    try:
        from micropython import const

        MICROPYTHON = True
    except ImportError:
        from mq_cpython_shim.micropython import const

        MICROPYTHON = False
    try:
        from time import ticks_add, ticks_diff, ticks_ms
    except ImportError:
        from mq_cpython_shim import ticks_add, ticks_diff, ticks_ms
    try:
        from asyncio import sleep_ms
    except ImportError:
        from mq_cpython_shim import sleep_ms


if TYPE_CHECKING:
    from typing import Any

    # What the other modules import from here (for the type checker; no list at run time).
    __all__ = [
        "MICROPYTHON", "close_stream", "const", "decode_utf8", "limit_backlog", "park", "park_read", "readinto",
        "send", "set_nodelay", "sleep_ms", "stream_backlog", "stream_socket", "sync_dir", "sync_file", "ticks_add",
        "ticks_diff", "ticks_ms",
    ]


async def readinto(reader: "Any", mv: memoryview) -> int:
    """Read what is available (at least one byte, 0 at EOF) into mv."""
    if MICROPYTHON:
        n: int = await reader.readinto(mv)
        return n or 0
    data = await reader.read(len(mv))
    n = len(data)
    mv[:n] = data
    return n


# MicroPython's asyncio internals: what lets the client's reader and writer tasks wait and
# move bytes without allocating (see stream_socket).
_core: "Any" = None
if MICROPYTHON:
    import asyncio

    _core = getattr(asyncio, "core", None)


def stream_socket(writer: "Any") -> "Any":
    """MicroPython: the socket under an asyncio stream, for tasks that are plain
    generators and use park, park_read and send instead of the stream's coroutines
    (each of which allocates). None on CPython, and for a stream that is not asyncio's."""
    if _core is None or not hasattr(writer, "out_buf"):
        return None
    return getattr(writer, "s", None)


def park(event: "Any") -> bool:
    """MicroPython, in a generator task: if event is not set, queue the running task on
    it as Event.wait() does and return True; the generator then yields once."""
    if event.state:
        return False
    task = _core.cur_task
    event.waiting.push(task)
    task.data = event.waiting
    return True


def park_read(sock: "Any") -> None:
    """MicroPython, in a generator task: queue the running task until sock is readable
    (as the stream's readinto() does); the generator then yields once."""
    _core._io_queue.queue_read(sock)


def send(writer: "Any", sock: "Any", buf: "Any", view: "Any", n: int) -> bool:
    """Hand buf[:n] (view: a memoryview of buf) to the stream. Returns True when the
    stream may still refer to buf, which must then not be written to again.

    With sock (stream_socket: MicroPython's stream), straight to the socket, which takes
    (buf, offset, length): no view, no copy, and nothing for drain() to do when it takes
    it all; the stream copies whatever it keeps. CPython's transports keep what they
    could not send at once without copying it (since 3.12), and a stream that is not
    asyncio's may do anything."""
    if sock is not None:
        off = 0
        if not writer.out_buf:
            r = sock.write(buf, 0, n)
            if r == n:
                return False
            off = r or 0
        writer.write(view[off:n])
        return False
    writer.write(view[:n])
    transport = getattr(writer, "transport", None)
    return transport is None or transport.get_write_buffer_size() > 0


def stream_backlog(writer: "Any") -> int:
    """Bytes the stream holds that the network has not taken yet."""
    if MICROPYTHON:
        return len(getattr(writer, "out_buf", b""))
    transport = getattr(writer, "transport", None)
    return transport.get_write_buffer_size() if transport is not None else 0


def limit_backlog(writer: "Any", limit: int) -> None:
    """Make drain() return only once the stream holds less than limit: a QoS 0 publish
    held back at limit (QOS0_BLOCK) is released after a drain. CPython's transports
    return from drain() at their own low-water mark (16 KiB by default), which may be
    above a small limit; MicroPython's drain() sends everything."""
    transport = getattr(writer, "transport", None)
    if transport is None or MICROPYTHON:
        return
    try:
        low, high = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(min(high, limit // 2), min(low, limit // 4))
    except (AttributeError, NotImplementedError):
        pass  # a transport without limits


def close_stream(writer: "Any") -> None:
    """Close a stream now. MicroPython's ``close`` leaves the socket open until
    ``wait_closed``, which cannot be awaited everywhere we close: close the socket."""
    writer.close()
    if MICROPYTHON:
        s = getattr(writer, "s", None)
        if s is not None:
            s.close()


def set_nodelay(writer: "Any") -> None:
    """Disable Nagle: MQTT packets are small and a PUBACK must not wait 40 ms."""
    try:
        if MICROPYTHON:
            writer.s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        else:
            import socket

            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):
        pass  # not a TCP socket (a user dialer, TLS on some ports)


def _valid_utf8(b: "bytes | bytearray | memoryview") -> bool:
    # MicroPython's decoder accepts overlong forms, surrogates and code points above
    # U+10FFFF, all of which MQTT forbids (MQTT-1.5.4-1); check them by hand.
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k = 1
            lo = 0x80
            hi = 0xBF
        elif 0xE0 <= c <= 0xEF:
            k = 2
            lo = 0xA0 if c == 0xE0 else 0x80
            hi = 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            k = 3
            lo = 0x90 if c == 0xF0 else 0x80
            hi = 0x8F if c == 0xF4 else 0xBF
        else:
            return False
        if i + k >= n:
            return False
        c = b[i + 1]
        if c < lo or c > hi:
            return False
        for j in range(i + 2, i + k + 1):
            if b[j] & 0xC0 != 0x80:
                return False
        i += k + 1
    return True


def decode_utf8(b: "bytes | bytearray | memoryview") -> str:
    """Decode an MQTT UTF-8 string; raise ValueError on anything MQTT forbids."""
    try:
        s = str(b, "utf-8")
    except UnicodeError:
        raise ValueError("invalid UTF-8") from None
    if MICROPYTHON and len(s) != len(b) and not _valid_utf8(b):
        raise ValueError("invalid UTF-8")
    if "\x00" in s:
        raise ValueError("U+0000 in UTF-8 string")
    return s


def sync_file(f: "Any") -> None:
    """Flush f to the device. CPython has fsync; MicroPython has not (a littlefs flush
    is already a commit)."""
    f.flush()
    import os

    fsync = getattr(os, "fsync", None)
    if fsync is not None:
        fsync(f.fileno())


def sync_dir(directory: str) -> None:
    """Make a rename or unlink in directory durable (POSIX; littlefs commits it in the
    operation itself, and Windows cannot open a directory)."""
    import os

    fsync = getattr(os, "fsync", None)
    if fsync is None or getattr(os, "open", None) is None:
        return
    try:
        fd = os.open(directory or "/", os.O_RDONLY)
    except OSError:
        return
    try:
        fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
