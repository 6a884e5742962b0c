"""Primitive MQTT data types over preallocated buffers (MQTT 5.0 section 1.5).

Writers store into a bytearray or memoryview at an offset and return the offset
after what they wrote; none of them allocates. Reading goes through Reader, a
cursor that checks every bound and raises MalformedPacket instead of IndexError.
"""

from ._compat import const, decode_utf8
from .errors import MalformedPacket

MAX_VARINT = const(268435455)
_MAX_VARINT = const(268435455)

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Union

    Buffer = Union[bytearray, memoryview]
    ReadBuffer = Union[bytes, bytearray, memoryview]


def varint_size(n: int) -> int:
    """Bytes a Variable Byte Integer of value n takes (1 to 4)."""
    if n < 128:
        return 1
    if n < 16384:
        return 2
    if n < 2097152:
        return 3
    return 4


def put_varint(buf: "Buffer", pos: int, n: int) -> int:
    if n < 0 or n > _MAX_VARINT:
        raise ValueError("variable byte integer out of range")
    while n > 127:
        buf[pos] = (n & 127) | 128
        n >>= 7
        pos += 1
    buf[pos] = n
    return pos + 1


def put_u16(buf: "Buffer", pos: int, n: int) -> int:
    buf[pos] = n >> 8
    buf[pos + 1] = n & 255
    return pos + 2


def put_u32(buf: "Buffer", pos: int, n: int) -> int:
    buf[pos] = n >> 24
    buf[pos + 1] = (n >> 16) & 255
    buf[pos + 2] = (n >> 8) & 255
    buf[pos + 3] = n & 255
    return pos + 4


def put_bin(buf: "Buffer", pos: int, b: "ReadBuffer") -> int:
    """Two-byte length, then the bytes (Binary Data, or an encoded UTF-8 String)."""
    n = len(b)
    buf[pos] = n >> 8
    buf[pos + 1] = n & 255
    pos += 2
    buf[pos : pos + n] = b
    return pos + n


def encode_str(s: "str | bytes", what: str = "string") -> bytes:
    """A UTF-8 String checked for what MQTT forbids; bytes are validated too."""
    b = s.encode() if isinstance(s, str) else bytes(s)  # alloc: caller-side, once per string
    if len(b) > 65535:
        raise ValueError(what + " longer than 65535 bytes")
    try:
        decode_utf8(b)
    except ValueError as e:
        raise ValueError("%s: %s" % (what, e)) from None
    return b


class Reader:
    """A bounds-checked cursor over one packet's bytes; reused from packet to packet."""

    def __init__(self) -> None:
        self.buf: "ReadBuffer" = b""
        self.pos = 0
        self.end = 0

    def reset(self, buf: "ReadBuffer", pos: int, end: int) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end

    def _need(self, n: int) -> int:
        p = self.pos
        if p + n > self.end:
            raise MalformedPacket("packet too short")
        self.pos = p + n
        return p

    def u8(self) -> int:
        return self.buf[self._need(1)]

    def u16(self) -> int:
        p = self._need(2)
        b = self.buf
        return (b[p] << 8) | b[p + 1]

    def u32(self) -> int:
        p = self._need(4)
        b = self.buf
        return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]

    def varint(self) -> int:
        n = 0
        shift = 0
        while True:
            c = self.u8()
            n |= (c & 127) << shift
            if c < 128:
                if c == 0 and shift:
                    raise MalformedPacket("variable byte integer not minimally encoded")
                return n
            shift += 7
            if shift == 28:
                raise MalformedPacket("variable byte integer longer than 4 bytes")

    def span(self) -> int:
        """Skip a two-byte length prefix and its bytes; return where they start."""
        n = self.u16()
        return self._need(n)

    def binary(self) -> bytes:
        n = self.u16()
        p = self._need(n)
        return bytes(self.buf[p : p + n])  # alloc: the value outlives the buffer

    def string(self) -> str:
        n = self.u16()
        p = self._need(n)
        try:
            return decode_utf8(self.buf[p : p + n])
        except ValueError as e:
            raise MalformedPacket("bad UTF-8 string: %s" % e) from None

    def rest(self) -> bytes:
        """Everything up to the end of the packet (a PUBLISH payload)."""
        p = self.pos
        self.pos = self.end
        return bytes(self.buf[p : self.end])  # alloc: the payload outlives the buffer

    def remaining(self) -> int:
        return self.end - self.pos
