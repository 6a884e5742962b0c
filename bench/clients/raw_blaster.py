"""The ceiling: pre-encoded MQTT 5.0 PUBLISH packets written to a plain socket as fast as
the broker takes them. No library, no per-message work in the timed loop beyond counting
acknowledgements (QoS 1: PUBACK; QoS 2: PUBREC, answered with a pre-encoded PUBREL, then
PUBCOMP), pipelined up to the server's Receive Maximum (QoS 2: at most QOS2_WINDOW, see
_common.py). At QoS 0 the clock stops when the
broker has read every PUBLISH (a PINGREQ behind them is answered), not when the socket
buffer took them."""

import selectors
import socket
import struct

from _common import QOS2_WINDOW, main, perf_counter, start

NAME = "raw_blaster"
_PUBACK = 4
_PUBREC = 5
_PUBCOMP = 7
_PINGRESP = 13

# CONNACK properties: identifier -> size (0 = a UTF-8 string or binary, 2 = a string pair).
_PROP_SIZE = {
    0x11: 4, 0x12: 0, 0x13: 2, 0x15: 0, 0x16: 0, 0x1A: 0, 0x1C: 0, 0x1F: 0, 0x21: 2, 0x22: 2,
    0x24: 1, 0x25: 1, 0x26: -2, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def read_varint(buf: "bytes | bytearray", i: int) -> "tuple[int, int] | None":
    """The variable byte integer at buf[i:]: (its value, the index after it), or None
    if buf ends before it does."""
    n = shift = 0
    while i < len(buf):
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i
    return None


def mqtt_str(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by the broker")
        buf += chunk
    return buf


def read_packet(sock: socket.socket) -> "tuple[int, bytes]":
    first = read_exact(sock, 1)[0]
    n = 0
    shift = 0
    while True:
        b = read_exact(sock, 1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, read_exact(sock, n) if n else b""


def receive_maximum(props: bytes) -> int:
    i = 0
    while i < len(props):
        pid = props[i]
        i += 1
        size = _PROP_SIZE.get(pid)
        if size is None:
            break  # unknown: stop reading, keep the default
        if pid == 0x21:
            return int(struct.unpack_from("!H", props, i)[0])
        if size == 0:
            i += 2 + struct.unpack_from("!H", props, i)[0]
        elif size == -2:
            i += 2 + struct.unpack_from("!H", props, i)[0]
            i += 2 + struct.unpack_from("!H", props, i)[0]
        else:
            i += size
    return 65535


def connect(host: str, port: int) -> "tuple[socket.socket, int]":
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # MQTT 5.0, clean start, keepalive 60 s, no properties.
    body = mqtt_str(b"MQTT") + bytes((5, 0x02)) + struct.pack("!H", 60) + b"\x00" + mqtt_str(NAME.encode())
    sock.sendall(packet(0x10, body))
    first, body = read_packet(sock)
    if first >> 4 != 2 or body[1] != 0:
        raise OSError("connection refused: %r" % body[:2])
    length = read_varint(body, 2)
    if length is None:
        raise OSError("CONNACK cut short: %r" % body)
    plen, i = length
    return sock, receive_maximum(body[i:i + plen])


def encode_publishes(topic: bytes, payload: bytes, qos: int, count: int) -> "list[bytes]":
    first = 0x30 | (qos << 1)
    t = mqtt_str(topic)
    if qos == 0:
        return [packet(first, t + b"\x00" + payload)] * count
    return [packet(first, t + struct.pack("!H", i % 65535 + 1) + b"\x00" + payload) for i in range(count)]


def blast_qos0(sock: socket.socket, packets: "list[bytes]") -> float:
    """Until the broker has read them all: the socket buffers would otherwise take a
    burst of small messages in no time, so a PINGREQ follows and the clock stops at its
    PINGRESP, which the broker sends after reading every PUBLISH before it."""
    blob = b"".join(packets)
    t0 = start()
    sock.sendall(blob)
    sock.sendall(b"\xc0\x00")  # PINGREQ
    while read_packet(sock)[0] >> 4 != _PINGRESP:
        pass
    return perf_counter() - t0


def blast_acked(sock: socket.socket, packets: "list[bytes]", qos: int, window: int) -> float:
    """Keep up to `window` publishes in flight; count the final acknowledgements."""
    n = len(packets)
    sel = selectors.DefaultSelector()
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
    out = bytearray()
    rx = b""
    queued = done = 0
    writing = False
    recv = sock.recv
    t0 = start()
    while done < n:
        room = window - (queued - done)
        if room > 0 and queued < n and len(out) < 262144:
            k = min(room, n - queued, 256)
            out += b"".join(packets[queued:queued + k])
            queued += k
        if out:
            try:
                m = sock.send(out)
                del out[:m]
            except BlockingIOError:
                pass
        want_write = bool(out) or (queued < n and queued - done < window)
        if want_write != writing:
            writing = want_write
            sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0))
        events = sel.select(None if not writing else 0 if queued < n and not out else None)
        readable = any(mask & selectors.EVENT_READ for _, mask in events)
        if not readable:
            continue
        data = recv(1 << 18)
        if not data:
            raise OSError("connection closed by the broker")
        buf = rx + data if rx else data
        i = 0
        end_all = len(buf)
        while i + 2 <= end_all:
            ln = buf[i + 1]
            if ln & 0x80:
                raise OSError("unexpected long acknowledgement")
            end = i + 2 + ln
            if end > end_all:
                break
            kind = buf[i] >> 4
            if kind == _PUBACK or kind == _PUBCOMP:
                done += 1
            elif kind == _PUBREC:
                if ln > 2 and buf[i + 4] >= 0x80:
                    done += 1  # refused: the flow ends here
                else:
                    out += b"\x62\x02" + buf[i + 2:i + 4]
            i = end
        rx = buf[i:]
    sel.close()
    sock.setblocking(True)
    return perf_counter() - t0


def latency(sock: socket.socket, packets: "list[bytes]", qos: int) -> "list[float]":
    times = []
    for p in packets:
        t0 = perf_counter()
        sock.sendall(p)
        first, body = read_packet(sock)
        if qos == 2 and first >> 4 == _PUBREC:
            sock.sendall(b"\x62\x02" + body[:2])
            first, body = read_packet(sock)
        times.append(perf_counter() - t0)
    return times


def run(a: "object") -> "tuple[float, list[float] | None]":
    sock, window = connect(a.host, a.port)  # type: ignore[attr-defined]
    packets = encode_publishes(("bench/" + NAME).encode(), b"x" * a.size, a.qos, a.count)  # type: ignore[attr-defined]
    lat = None
    if a.mode == "latency":  # type: ignore[attr-defined]
        lat = latency(sock, packets, a.qos)  # type: ignore[attr-defined]
        seconds = sum(lat)
    elif a.qos == 0:  # type: ignore[attr-defined]
        seconds = blast_qos0(sock, packets)
    else:
        if a.qos == 2:  # type: ignore[attr-defined]
            window = min(window, QOS2_WINDOW)
        seconds = blast_acked(sock, packets, a.qos, window)  # type: ignore[attr-defined]
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    return seconds, lat


if __name__ == "__main__":
    main(NAME, run)
