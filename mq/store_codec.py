"""The binary records of the file and flash session stores.

A record is framed as::

    length   Variable Byte Integer: bytes of payload
    type     one byte (the constants below)
    crc      four bytes, big-endian: CRC-32 of length, type and payload
    payload

Strings are MQTT UTF-8 Strings (two-byte length), and properties are an MQTT 5.0
property section, written and read by the wire codec: a stored publish or
subscription carries exactly what the packet would.

Payloads by type:
    HEADER            b"mq", format version, client id
    PUBLISH           packet id (u16), flags, topic, properties (PUBLISH), message
                      flags: bits 0-1 QoS, bit 2 retain, bit 3 released
    PUBLISH_RELEASE   packet id: the PUBLISH record before it is now released
                      (the flash log's way to flag a QoS 2 message in 8 bytes)
    PUBLISH_DELETE    packet id
    SUBSCRIPTION      one or more of: filter, options, properties (SUBSCRIBE)
                      options: the SUBSCRIBE options byte (QoS, no local,
                      retain as published, retain handling)
    SUBSCRIPTION_DELETE  filter
    QOS2              zero or more packet ids, each received and awaiting PUBREL
    QOS2_DELETE       packet id
    CLEAR_PUBLISHES, CLEAR_QOS2, CLEAR   empty
"""

from binascii import crc32

from ._compat import const
from .errors import MQTTError
from .store import PersistedPublish, PersistedSubscription
from .wire_buf import Reader, encode_str, put_bin, put_u16, put_u32, put_varint, varint_size
from .wire_props import EncodedProperties, Properties, read_properties

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

HEADER = const(1)
PUBLISH = const(2)
PUBLISH_RELEASE = const(3)
PUBLISH_DELETE = const(4)
SUBSCRIPTION = const(5)
SUBSCRIPTION_DELETE = const(6)
QOS2 = const(7)
QOS2_DELETE = const(8)
CLEAR_PUBLISHES = const(9)
CLEAR_QOS2 = const(10)
CLEAR = const(11)

VERSION = const(1)
_MAGIC = b"mq"
_PUBLISH_PROPS = const(3)  # MQTT packet types, for the property rules of each
_SUBSCRIBE_PROPS = const(8)


class CorruptRecord(ValueError):
    """A record is torn (cut short by a power loss) or its bytes are damaged."""


def _start(rtype: int, n: int) -> "Tuple[bytearray, int]":
    h = varint_size(n) + 5
    buf = bytearray(h + n)  # alloc: one record, written out and dropped
    buf[put_varint(buf, 0, n)] = rtype
    return buf, h


def _crc(buf: "Any", h: int) -> int:
    mv = memoryview(buf)
    return crc32(mv[h:], crc32(mv[: h - 4])) & 0xFFFFFFFF


def _seal(buf: bytearray, h: int) -> bytearray:
    put_u32(buf, h - 4, _crc(buf, h))
    return buf


def empty_record(rtype: int) -> bytearray:
    buf, h = _start(rtype, 0)
    return _seal(buf, h)


def ids_record(rtype: int, ids: "Any") -> bytearray:
    """A record of packet ids (QOS2; one id for PUBLISH_RELEASE, PUBLISH_DELETE, QOS2_DELETE)."""
    buf, h = _start(rtype, 2 * len(ids))
    pos = h
    for i in ids:
        pos = put_u16(buf, pos, i)
    return _seal(buf, h)


def topic_record(rtype: int, topic: str) -> bytearray:
    t = encode_str(topic, "topic filter")
    buf, h = _start(rtype, 2 + len(t))
    put_bin(buf, h, t)
    return _seal(buf, h)


def header_record(client_id: str) -> bytearray:
    c = encode_str(client_id, "client id")
    buf, h = _start(HEADER, 5 + len(c))
    buf[h : h + 2] = _MAGIC
    buf[h + 2] = VERSION
    put_bin(buf, h + 3, c)
    return _seal(buf, h)


def publish_record(packet_id: int, pub: PersistedPublish) -> bytearray:
    topic = encode_str(pub.topic, "topic")
    props = EncodedProperties(pub.properties, _PUBLISH_PROPS)
    buf, h = _start(PUBLISH, 5 + len(topic) + props.size + len(pub.payload))
    pos = put_u16(buf, h, packet_id)
    buf[pos] = pub.qos | (4 if pub.retain else 0) | (8 if pub.released else 0)
    pos = props.write(buf, put_bin(buf, pos + 1, topic))
    buf[pos:] = pub.payload
    return _seal(buf, h)


def mark_released(buf: bytearray) -> bytearray:
    """Set the released flag of a PUBLISH record in place, and seal it again."""
    h = payload_start(buf)
    buf[h + 2] |= 8
    return _seal(buf, h)


def subscription_record(entries: "List[Tuple[str, PersistedSubscription]]") -> bytearray:
    """One record of subscriptions: the file store keeps all in one, the flash log one each."""
    parts = []
    n = 0
    for topic, sub in entries:
        t = encode_str(topic, "topic filter")
        props = None
        if sub.subscription_id is not None or sub.user_properties:
            props = Properties(subscription_identifier=sub.subscription_id, user_properties=sub.user_properties)
        p = EncodedProperties(props, _SUBSCRIBE_PROPS)
        opts = sub.qos | (4 if sub.no_local else 0) | (8 if sub.retain_as_published else 0)
        parts.append((t, opts | (sub.retain_handling << 4), p))
        n += 3 + len(t) + p.size
    buf, h = _start(SUBSCRIPTION, n)
    pos = h
    for t, opts, p in parts:
        pos = put_bin(buf, pos, t)
        buf[pos] = opts
        pos = p.write(buf, pos + 1)
    return _seal(buf, h)


def read_frame(f: "Any", limit: int) -> "Optional[bytearray]":
    """Read one whole record from file f, at most limit bytes; None at a clean end.
    Raises CorruptRecord if it is cut short or its CRC does not match."""
    hdr = bytearray(4)
    one = memoryview(hdr)
    if not f.readinto(one[:1]):
        return None
    n = 0
    i = 0
    while True:
        c = hdr[i]
        n |= (c & 127) << (7 * i)
        i += 1
        if c < 128:
            break
        if i == 4:
            raise CorruptRecord("bad record length")
        if not f.readinto(one[i : i + 1]):
            raise CorruptRecord("record cut short")
    h = i + 5
    if h + n > limit:
        # Checked before allocating: a torn or damaged length must not cost the heap.
        raise CorruptRecord("record runs past the end of the file")
    buf = bytearray(h + n)  # alloc: one record, read and dropped
    buf[:i] = one[:i]
    got = f.readinto(memoryview(buf)[i:])
    if got != h + n - i:
        raise CorruptRecord("record cut short")
    if (buf[h - 4] << 24 | buf[h - 3] << 16 | buf[h - 2] << 8 | buf[h - 1]) != _crc(buf, h):
        raise CorruptRecord("record CRC mismatch")
    return buf


def payload_start(buf: "Any") -> int:
    i = 0
    while buf[i] & 128:
        i += 1
    return i + 6


def record_type(buf: "Any") -> int:
    return int(buf[payload_start(buf) - 5])


def _reader(buf: "Any") -> Reader:
    r = Reader()
    r.reset(buf, payload_start(buf), len(buf))
    return r


def _corrupt(e: Exception) -> CorruptRecord:
    return CorruptRecord("bad record: %s" % e)


def ids_of(buf: "Any") -> "List[int]":
    r = _reader(buf)
    out = []
    while r.remaining() >= 2:
        out.append(r.u16())
    if r.remaining():
        raise CorruptRecord("bad record: odd length of packet ids")
    return out


def packet_id_of(buf: "Any") -> int:
    """The packet id that a PUBLISH record (or one of ids) begins with."""
    r = _reader(buf)
    try:
        return r.u16()
    except MQTTError as e:
        raise _corrupt(e)


def topic_of(buf: "Any") -> str:
    """The filter of a SUBSCRIPTION_DELETE record, or the first one of a SUBSCRIPTION."""
    try:
        return _reader(buf).string()
    except MQTTError as e:
        raise _corrupt(e)


def client_id_of(buf: "Any") -> str:
    r = _reader(buf)
    try:
        if bytes(r.buf[r.pos : r.pos + 2]) != _MAGIC:
            raise CorruptRecord("not a session store header")
        r.pos += 2
        if r.u8() != VERSION:
            raise CorruptRecord("unsupported session store version")
        return r.string()
    except MQTTError as e:
        raise _corrupt(e)


def publish_of(buf: "Any") -> "Tuple[int, PersistedPublish]":
    r = _reader(buf)
    try:
        packet_id = r.u16()
        flags = r.u8()
        if flags > 15 or flags & 3 == 3:
            raise CorruptRecord("bad record: publish flags 0x%02X" % flags)
        topic = r.string()
        props = read_properties(r, _PUBLISH_PROPS)
        payload = r.rest()
    except MQTTError as e:
        raise _corrupt(e)
    return packet_id, PersistedPublish(topic, payload, flags & 3, bool(flags & 4), props, bool(flags & 8))


def subscriptions_of(buf: "Any") -> "List[Tuple[str, PersistedSubscription]]":
    r = _reader(buf)
    out = []
    try:
        while r.remaining():
            topic = r.string()
            opts = r.u8()
            if opts & 0xC0 or opts & 3 == 3 or opts & 0x30 == 0x30:
                raise CorruptRecord("bad record: subscription options 0x%02X" % opts)
            props = read_properties(r, _SUBSCRIBE_PROPS)
            sid = None
            up = None
            if props is not None:
                up = props.user_properties
                if props.subscription_identifier:
                    sid = props.subscription_identifier[0]
            sub = PersistedSubscription(opts & 3, bool(opts & 4), bool(opts & 8), (opts >> 4) & 3, sid, up)
            out.append((topic, sub))
    except MQTTError as e:
        raise _corrupt(e)
    return out
