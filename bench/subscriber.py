"""The driver's end-to-end counter: a raw-socket MQTT 5.0 subscriber to ``bench/#`` in a
thread. It counts PUBLISH packets with a minimal parser and answers QoS 1 with PUBACK and
QoS 2 with PUBREC, then PUBREL with PUBCOMP, one send per chunk read, so that it is never
the slowest party."""

import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "clients"))

from raw_blaster import mqtt_str, packet, varint  # the same minimal encoders

_PUBLISH = 3
_PUBREL = 6


class Subscriber(threading.Thread):
    """Connect and subscribe in the constructor (SUBACK received); count in the thread."""

    def __init__(self, host: str, port: int, qos: int, receive_maximum: int = 65535,
                 topic_filter: str = "bench/#") -> None:
        super().__init__(daemon=True)
        self.qos = qos
        self.count = 0  # PUBLISH packets received
        self.dups = 0  # of which with the DUP flag
        self.first: "float | None" = None  # arrival time (time.time(), as the clients' t0_wall)
        self.last: "float | None" = None
        self.error: "str | None" = None
        self._halt = threading.Event()
        self._arrived = threading.Condition()
        sock = socket.create_connection((host, port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        props = b"\x21" + struct.pack("!H", receive_maximum)
        body = mqtt_str(b"MQTT") + bytes((5, 0x02)) + struct.pack("!H", 600) + varint(len(props)) + props
        sock.sendall(packet(0x10, body + mqtt_str(b"bench-run-subscriber")))
        self.sock = sock
        self._rx = b""
        first, body = self._read_packet()
        if first >> 4 != 2 or body[1] != 0:
            raise OSError("subscriber: connection refused %r" % body[:2])
        sub = struct.pack("!H", 1) + b"\x00" + mqtt_str(topic_filter.encode()) + bytes((qos,))
        sock.sendall(packet(0x82, sub))
        first, body = self._read_packet()
        if first >> 4 != 9 or body[-1] >= 0x80:
            raise OSError("subscriber: subscription refused %r" % body)
        sock.settimeout(0.05)

    def _read_packet(self) -> "tuple[int, bytes]":
        while True:
            buf = self._rx
            if len(buf) >= 2:
                n = shift = 0
                i = 1
                while i < len(buf):
                    b = buf[i]
                    n |= (b & 0x7F) << shift
                    shift += 7
                    i += 1
                    if not b & 0x80:
                        if len(buf) >= i + n:
                            self._rx = buf[i + n:]
                            return buf[0], buf[i:i + n]
                        break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("subscriber: connection closed")
            self._rx += chunk

    def run(self) -> None:
        sock = self.sock
        recv = sock.recv
        buf = self._rx
        qos = self.qos
        try:
            while not self._halt.is_set():
                try:
                    data = recv(1 << 20)
                except TimeoutError:
                    continue
                if not data:
                    raise OSError("subscriber: connection closed by the broker")
                now = time.time()
                buf = buf + data if buf else data
                n = len(buf)
                i = 0
                got = 0
                dups = 0
                acks = []
                while i + 2 <= n:
                    first = buf[i]
                    # Remaining length: one to four bytes.
                    b = buf[i + 1]
                    if b < 0x80:
                        ln = b
                        j = i + 2
                    else:
                        ln = b & 0x7F
                        shift = 7
                        j = i + 2
                        while True:
                            if j >= n:
                                ln = -1
                                break
                            b = buf[j]
                            j += 1
                            ln |= (b & 0x7F) << shift
                            shift += 7
                            if not b & 0x80:
                                break
                        if ln < 0:
                            break
                    end = j + ln
                    if end > n:
                        break
                    kind = first >> 4
                    if kind == _PUBLISH:
                        got += 1
                        if first & 0x08:
                            dups += 1
                        q = (first >> 1) & 3
                        if q:
                            k = j + 2 + (buf[j] << 8 | buf[j + 1])
                            acks.append((b"\x40\x02" if q == 1 else b"\x50\x02") + buf[k:k + 2])
                    elif kind == _PUBREL:
                        acks.append(b"\x70\x02" + buf[j:j + 2])
                    i = end
                buf = buf[i:]
                if acks:
                    sock.sendall(b"".join(acks))
                if got:
                    with self._arrived:
                        if self.first is None:
                            self.first = now
                        self.last = now
                        self.count += got
                        self.dups += dups
                        self._arrived.notify_all()
        except OSError as e:
            if not self._halt.is_set():
                self.error = str(e)
        del qos

    def wait_for(self, count: int, idle: float, deadline: float) -> None:
        """Until count arrived, nothing arrived for `idle` seconds (counted from the call at
        the earliest), or time.time() passes deadline."""
        called = time.time()
        with self._arrived:
            while self.count < count and self.error is None:
                now = time.time()
                quiet = now - max(self.last or called, called)
                if now >= deadline or quiet >= idle:
                    return
                self._arrived.wait(min(deadline - now, idle - quiet))

    def close(self) -> None:
        self._halt.set()
        self.join(5)
        try:
            self.sock.settimeout(1)
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()
