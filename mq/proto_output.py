"""The send buffer of a connection: packets are encoded straight into it.

One preallocated bytearray takes the packets; a packet that does not fit goes,
with everything after it, into its own chunk (order is kept). The driver writes
``buf[:n]``, then the chunks in ``extra``, then calls ``clear()``.

A packet larger than the buffer makes it grow, once, to ``max_size``: a device that
publishes 1 KiB readings then sends several in one write instead of each in two
(header, then payload), and allocates nothing more for them. Larger packets take the
payload from the caller's bytes as it is.
"""

from ._compat import const
from .wire_encode import encode_ack, encode_plain_publish, encode_publish

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import List, Optional, Union

    from .wire_buf import ReadBuffer
    from .wire_props import EncodedProperties

    Chunk = Union[bytearray, bytes, memoryview]


_MAX_PACKET = const(268435460)  # what MQTT can frame (wire_decode.MAX_PACKET_SIZE)
_EMPTY = bytearray(0)  # encoding into it only measures the packet
_BIG = 256  # payloads from this size that do not fit the buffer are not copied


class Output:
    def __init__(self, size: int, max_size: int = 0) -> None:
        self._use(bytearray(size))
        self.max_size = max(size, max_size)  # what the buffer grows to for a large packet
        self.n = 0  # bytes used in buf
        self.extra: "List[Chunk]" = []  # chunks after buf, in order
        self.extra_bytes = 0
        self.limit = _MAX_PACKET  # the largest PUBLISH the server takes (its Maximum Packet Size)

    def _use(self, buf: bytearray) -> None:
        # The buffer and the two figures the driver's hot path reads derived from its size.
        size = len(buf)
        self.buf = buf
        self.mv = memoryview(buf)
        self.flush_at = size * 3 // 4  # the driver writes at once from this much on
        # A QoS 0 packet whose topic and payload are longer than this may not fit behind
        # what the buffer holds (header and v5 property length: at most 8 bytes).
        self.fit = size - 8

    def pending(self) -> int:
        """Bytes waiting to be sent."""
        return self.n + self.extra_bytes

    def clear(self) -> None:
        self.n = 0
        if self.extra:
            del self.extra[:]  # in place: no new list per flush
            self.extra_bytes = 0

    def renew(self) -> None:
        """Take a new buffer: the stream still refers to this one (_compat.send)."""
        self._use(bytearray(len(self.buf)))  # alloc: only while the link is backed up

    def _grow(self, size: int) -> None:
        buf = bytearray(size)  # alloc: once, for a packet larger than the buffer
        buf[: self.n] = self.mv[: self.n]
        self._use(buf)

    def _chunk(self, size: int) -> bytearray:
        b = bytearray(size)  # alloc: the packet does not fit the send buffer
        self.extra.append(b)
        self.extra_bytes += size
        return b

    def put(self, head: int, topic: "ReadBuffer", payload: "ReadBuffer") -> int:
        """The common QoS 0 PUBLISH into the buffer (``encode_plain_publish``, whose head
        it takes); return its size, or 0 if it is not that case (then nothing is written:
        the caller uses ``publish``). Narrow for MicroPython's frame, as that is."""
        if self.extra:
            return 0
        end = encode_plain_publish(self.mv, self.n, head, topic, payload)
        if end < 0 or end - self.n > self.limit:
            return 0
        head = end - self.n
        self.n = end
        return head

    def publish(
        self,
        version: int,
        topic: "ReadBuffer",
        payload: "ReadBuffer",
        qos: int,
        retain: bool,
        dup: bool,
        packet_id: int,
        props: "Optional[EncodedProperties]",
        alias: int,
    ) -> int:
        """Encode a PUBLISH; return its size, or minus its size when it is larger
        than ``self.limit`` (then nothing is written)."""
        limit = self.limit
        start = self.n
        if not self.extra:
            # Into the view: CPython stores a slice through a memoryview in less than half
            # the time it takes into the bytearray itself (MicroPython: the same).
            end = encode_publish(self.mv, start, version, topic, payload, qos, retain, dup, packet_id, props, alias)
            if end >= 0:
                if end - start > limit:
                    return start - end
                self.n = end
                return end - start
            size = -end
            if len(self.buf) < size <= self.max_size and size <= limit:
                self._grow(self.max_size)
                return self.publish(version, topic, payload, qos, retain, dup, packet_id, props, alias)
        else:
            size = -encode_publish(_EMPTY, 0, version, topic, payload, qos, retain, dup, packet_id, props, alias)
        if size > limit:
            return -size
        m = len(payload)
        if m >= _BIG and type(payload) is bytes:
            # A large payload nobody can change (QoS 1/2 keep a bytes copy anyway) goes
            # out as it is, not copied: only the header is encoded, into the buffer if
            # it fits there, else into a chunk of its own.
            end = -1
            if not self.extra:
                end = encode_publish(
                    self.mv, start, version, topic, payload, qos, retain, dup, packet_id, props, alias, False
                )
            if end >= 0:
                self.n = end
            else:
                hdr = self._chunk(size - m)
                encode_publish(hdr, 0, version, topic, payload, qos, retain, dup, packet_id, props, alias, False)
            self.extra.append(payload)
            self.extra_bytes += m
            return size
        encode_publish(self._chunk(size), 0, version, topic, payload, qos, retain, dup, packet_id, props, alias)
        return size

    def ack(
        self,
        version: int,
        ptype: int,
        packet_id: int,
        reason_code: int = 0,
        props: "Optional[EncodedProperties]" = None,
    ) -> None:
        if not self.extra:
            end = encode_ack(self.buf, self.n, version, ptype, packet_id, reason_code, props)
            if end >= 0:
                self.n = end
                return
        size = -encode_ack(_EMPTY, 0, version, ptype, packet_id, reason_code, props)
        encode_ack(self._chunk(size), 0, version, ptype, packet_id, reason_code, props)

    def raw(self, data: "ReadBuffer") -> None:
        """Append already encoded bytes (a CONNECT, SUBSCRIBE, ...)."""
        n = len(data)
        if not self.extra and self.n + n <= len(self.buf):
            self.mv[self.n : self.n + n] = data
            self.n += n
        else:
            self.extra.append(data)
            self.extra_bytes += n
