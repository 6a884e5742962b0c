"""Encoding of all 15 packet types, for MQTT 3.1.1 and 5.0, into caller buffers.

``encode_publish`` and ``encode_ack`` are the hot paths: they take bytes and ints
and write without allocating. ``encode`` handles any packet record and checks
every field a caller could get wrong.
"""

from builtins import len as _len  # a module name: MicroPython looks builtins up slowly (io_client)

from ._compat import const
from .wire_buf import encode_str, put_bin, put_u16, put_varint, varint_size
from .wire_props import NO_PROPERTIES, WILL, EncodedProperties
from .wire_topic import check_topic_filter, check_topic_name

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, List, Optional

    from .wire_buf import Buffer, ReadBuffer
    from .wire_packets import Packet

_V50 = const(5)
# Packet types (wire_packets has them public; as private constants here they are
# folded into the code, not looked up)
_CONNECT = const(1)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBREL = const(6)
_PUBCOMP = const(7)
_SUBSCRIBE = const(8)
_SUBACK = const(9)
_UNSUBSCRIBE = const(10)
_UNSUBACK = const(11)
_PINGREQ = const(12)
_PINGRESP = const(13)
_DISCONNECT = const(14)
_AUTH = const(15)


def packet_size(remaining: int) -> int:
    """Size of a whole packet whose Remaining Length is remaining."""
    return 1 + varint_size(remaining) + remaining


def encode_publish(
    buf: "Buffer",
    pos: int,
    version: int,
    topic: "ReadBuffer",
    payload: "ReadBuffer",
    qos: int,
    retain: bool,
    dup: bool,
    packet_id: int,
    props: "Optional[EncodedProperties]" = None,
    alias: int = 0,
    with_payload: bool = True,
) -> int:
    """Write a PUBLISH at buf[pos:]; return the end offset, or minus the packet's
    size if it does not fit (nothing is written then). The topic is UTF-8 bytes,
    already validated; an empty topic needs an alias (v5). With with_payload=False
    everything but the payload is written (the caller sends the payload itself):
    then it is the header that must fit, and its end is returned."""
    tn = len(topic)
    m = len(payload)
    n = tn + m + (4 if qos else 2)
    p = -1  # v5 property length; -1: none and no alias, a single 0 byte (the common case)
    if version == _V50:
        if props is None and not alias:
            n += 1
        else:
            p = (0 if props is None else props.length) + (3 if alias else 0)
            n += p + varint_size(p)
    # The common sizes inline (no varint_size call): this is the hottest function.
    size = n + 2 if n < 128 else n + 1 + varint_size(n)
    if pos + (size if with_payload else size - m) > len(buf):
        return -size
    buf[pos] = 0x30 | (qos << 1) | (8 if dup else 0) | (1 if retain else 0)
    if n < 128:
        buf[pos + 1] = n
        pos += 2
    else:
        pos = put_varint(buf, pos + 1, n)
    buf[pos] = tn >> 8
    buf[pos + 1] = tn & 255
    pos += 2
    end = pos + tn
    buf[pos:end] = topic
    pos = end
    if qos:
        buf[pos] = packet_id >> 8
        buf[pos + 1] = packet_id & 255
        pos += 2
    if version == _V50:
        if p < 0:
            buf[pos] = 0
            pos += 1
        else:
            pos = put_varint(buf, pos, p)
            if alias:
                buf[pos] = 0x23
                pos = put_u16(buf, pos + 1, alias)
            if props is not None:
                pos = props.write_entries(buf, pos)
    if not with_payload:
        return pos
    end = pos + m
    buf[pos:end] = payload
    return end


def encode_plain_publish(buf: "Buffer", pos: int, head: int, topic: "ReadBuffer", payload: "ReadBuffer") -> int:
    """The common QoS 0 PUBLISH (no properties, no alias, Remaining Length under 16 KiB)
    at buf[pos:]; return the end offset, or -1 (nothing written) if it is not that case
    or may not fit. head: the fixed header's first byte, | 0x100 for MQTT 5.0 (an empty
    property length follows).

    Few arguments and locals on purpose: MicroPython takes the frame of a function whose
    locals and stack exceed 11 words from the heap on every call (VM_MAX_STATE_ON_STACK),
    and finding room in a fragmented heap costs more than this whole function."""
    t = _len(topic)
    n = t + _len(payload) + 2 + (head >> 8)
    if n > 16383 or pos + n + 3 > _len(buf):
        return -1
    buf[pos] = head & 255
    if n < 128:
        buf[pos + 1] = n
        pos += 2
    else:
        buf[pos + 1] = n & 127 | 128
        buf[pos + 2] = n >> 7
        pos += 3
    buf[pos] = t >> 8
    buf[pos + 1] = t & 255
    pos += 2
    n = pos + t
    buf[pos:n] = topic
    if head > 255:
        buf[n] = 0
        n += 1
    pos = n + _len(payload)
    buf[n:pos] = payload
    return pos


def encode_ack(
    buf: "Buffer",
    pos: int,
    version: int,
    ptype: int,
    packet_id: int,
    reason_code: int = 0,
    props: "Optional[EncodedProperties]" = None,
) -> int:
    """Write PUBACK, PUBREC, PUBREL or PUBCOMP; return the end offset, or minus
    the size when it does not fit. Reason code 0 without properties takes the
    short form that both versions share."""
    buf_len = len(buf)
    first = (ptype << 4) | (2 if ptype == _PUBREL else 0)
    if version != _V50 or (reason_code == 0 and props is None):
        if pos + 4 > buf_len:
            return -4
        buf[pos] = first
        buf[pos + 1] = 2
        buf[pos + 2] = packet_id >> 8
        buf[pos + 3] = packet_id & 255
        return pos + 4
    if props is None:
        if pos + 5 > buf_len:
            return -5
        buf[pos] = first
        buf[pos + 1] = 3
        buf[pos + 2] = packet_id >> 8
        buf[pos + 3] = packet_id & 255
        buf[pos + 4] = reason_code
        return pos + 5
    n = 3 + props.size
    size = packet_size(n)
    if pos + size > buf_len:
        return -size
    buf[pos] = first
    pos = put_varint(buf, pos + 1, n)
    pos = put_u16(buf, pos, packet_id)
    buf[pos] = reason_code
    return props.write(buf, pos + 1)


def _fixed(buf: "Buffer", pos: int, first: int, remaining: int) -> int:
    buf[pos] = first
    return put_varint(buf, pos + 1, remaining)


def _props(version: int, props: "Any", ptype: int) -> EncodedProperties:
    if version != _V50:
        return NO_PROPERTIES
    return EncodedProperties(props, ptype)


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError("QoS must be 0, 1 or 2")


def _check_packet_id(pid: int) -> None:
    if not 0 < pid < 65536:
        raise ValueError("packet identifier must be 1..65535")


def _check_code(code: int) -> None:
    if not 0 <= code < 256:
        raise ValueError("reason code must fit in a byte")


def encode_bytes(packet: "Packet", version: int) -> bytes:
    """Encode any packet into a new bytes object (for tests and rare packets)."""
    buf = bytearray(_estimate(packet))
    end = encode(packet, version, buf, 0)
    while end < 0:
        buf = bytearray(-end)
        end = encode(packet, version, buf, 0)
    return bytes(buf[:end])


def _estimate(packet: "Packet") -> int:
    p = getattr(packet, "payload", b"")
    return 256 + len(p) if isinstance(p, (bytes, bytearray)) else 256


def encode(packet: "Packet", version: int, buf: "Buffer", pos: int = 0) -> int:
    """Encode any packet record at buf[pos:]. Return the end offset, or minus the
    size needed when it does not fit. Raise ValueError/TypeError for invalid fields."""
    t = packet.type
    p: "Any" = packet
    if t == _PUBLISH:
        _check_qos(p.qos)
        topic = encode_str(p.topic, "topic")
        alias = p.properties.topic_alias if p.properties is not None else None
        if topic or version != _V50 or not alias:
            check_topic_name(p.topic)
        if p.qos:
            _check_packet_id(p.packet_id)
        elif p.dup:
            raise ValueError("DUP must be 0 for QoS 0")
        props = _props(version, p.properties, _PUBLISH)
        return encode_publish(
            buf, pos, version, topic, p.payload, p.qos, p.retain, p.dup, p.packet_id,
            props if props.length else None,
        )
    if _PUBACK <= t <= _PUBCOMP:
        _check_packet_id(p.packet_id)
        _check_code(p.reason_code)
        props = _props(version, p.properties, t)
        return encode_ack(
            buf, pos, version, t, p.packet_id, p.reason_code, props if props.length else None
        )
    if t == _PINGREQ or t == _PINGRESP:
        if pos + 2 > len(buf):
            return -2
        buf[pos] = t << 4
        buf[pos + 1] = 0
        return pos + 2
    if t == _CONNECT:
        return _connect(buf, pos, p)
    if t == _CONNACK:
        props = _props(version, p.properties, _CONNACK)
        n = 2 + (props.size if version == _V50 else 0)
        if pos + packet_size(n) > len(buf):
            return -packet_size(n)
        pos = _fixed(buf, pos, 0x20, n)
        buf[pos] = 1 if p.session_present else 0
        buf[pos + 1] = p.reason_code
        pos += 2
        return props.write(buf, pos) if version == _V50 else pos
    if t == _SUBSCRIBE or t == _UNSUBSCRIBE:
        return _subscribe(buf, pos, version, p)
    if t == _SUBACK or t == _UNSUBACK:
        _check_packet_id(p.packet_id)
        props = _props(version, p.properties, t)
        codes = p.reason_codes if (version == _V50 or t == _SUBACK) else ()
        if not codes and (version == _V50 or t == _SUBACK):
            raise ValueError("an acknowledgement needs one reason code per filter")
        n = 2 + len(codes) + (props.size if version == _V50 else 0)
        if pos + packet_size(n) > len(buf):
            return -packet_size(n)
        pos = put_u16(buf, _fixed(buf, pos, t << 4, n), p.packet_id)
        if version == _V50:
            pos = props.write(buf, pos)
        for c in codes:
            buf[pos] = c
            pos += 1
        return pos
    if t == _DISCONNECT or t == _AUTH:
        if version != _V50:
            if t == _AUTH:
                raise ValueError("AUTH exists only in MQTT 5.0")
            n = 0
        else:
            _check_code(p.reason_code)
            props = _props(version, p.properties, t)
            n = 0 if (p.reason_code == 0 and not props.length) else (1 if not props.length else 1 + props.size)
        if pos + packet_size(n) > len(buf):
            return -packet_size(n)
        pos = _fixed(buf, pos, t << 4, n)
        if n:
            buf[pos] = p.reason_code
            pos += 1
            if n > 1:
                pos = props.write(buf, pos)
        return pos
    raise ValueError("cannot encode packet type %d" % t)


def _subscribe(buf: "Buffer", pos: int, version: int, p: "Any") -> int:
    _check_packet_id(p.packet_id)
    if not p.topics:
        raise ValueError("SUBSCRIBE and UNSUBSCRIBE need at least one topic filter")
    t = p.type
    props = _props(version, p.properties, t)
    items: "List[Any]" = []
    n = 2 + (props.size if version == _V50 else 0)
    for item in p.topics:
        if t == _SUBSCRIBE:
            flt, opts = item
            _check_qos(opts & 3)
            if version != _V50:
                opts &= 3  # the v5 options are ignored on a v3.1.1 connection
            elif opts & 0xC0 or (opts >> 4) & 3 == 3:
                raise ValueError("invalid subscription options 0x%02X" % opts)
        else:
            flt = item
            opts = -1
        check_topic_filter(flt)
        if opts >= 0 and opts & 4 and flt.startswith("$share/"):
            raise ValueError("no_local is not allowed on a shared subscription")
        b = encode_str(flt, "topic filter")
        items.append((b, opts))
        n += 2 + len(b) + (1 if opts >= 0 else 0)
    if pos + packet_size(n) > len(buf):
        return -packet_size(n)
    pos = put_u16(buf, _fixed(buf, pos, (t << 4) | 2, n), p.packet_id)
    if version == _V50:
        pos = props.write(buf, pos)
    for b, opts in items:
        pos = put_bin(buf, pos, b)
        if opts >= 0:
            buf[pos] = opts
            pos += 1
    return pos


def _connect(buf: "Buffer", pos: int, p: "Any") -> int:
    version = p.version
    if version not in (4, 5):
        raise ValueError("protocol version must be 4 (3.1.1) or 5 (5.0)")
    if not 0 <= p.keepalive <= 65535:
        raise ValueError("keepalive must be 0..65535 seconds")
    props = _props(version, p.properties, _CONNECT)
    cid = encode_str(p.client_id, "client identifier")
    flags = 2 if p.clean_start else 0
    n = 10 + 2 + len(cid) + (props.size if version == _V50 else 0)
    will = p.will
    if will is not None:
        _check_qos(will.qos)
        check_topic_name(will.topic)
        wtopic = encode_str(will.topic, "will topic")
        wprops = _props(version, will.properties, WILL)
        flags |= 4 | (will.qos << 3) | (0x20 if will.retain else 0)
        n += 4 + len(wtopic) + len(will.payload) + (wprops.size if version == _V50 else 0)
        if len(will.payload) > 65535:
            raise ValueError("will payload longer than 65535 bytes")
    user = None
    if p.username is not None:
        user = encode_str(p.username, "user name")
        flags |= 0x80
        n += 2 + len(user)
    pw = p.password
    if pw is not None:
        if isinstance(pw, str):
            pw = pw.encode()
        if user is None and version != _V50:
            raise ValueError("MQTT 3.1.1 does not allow a password without a user name")
        if len(pw) > 65535:
            raise ValueError("password longer than 65535 bytes")
        flags |= 0x40
        n += 2 + len(pw)
    if pos + packet_size(n) > len(buf):
        return -packet_size(n)
    pos = put_bin(buf, _fixed(buf, pos, 0x10, n), b"MQTT")
    buf[pos] = version
    buf[pos + 1] = flags
    pos = put_u16(buf, pos + 2, p.keepalive)
    if version == _V50:
        pos = props.write(buf, pos)
    pos = put_bin(buf, pos, cid)
    if will is not None:
        if version == _V50:
            pos = wprops.write(buf, pos)
        pos = put_bin(buf, put_bin(buf, pos, wtopic), will.payload)
    if user is not None:
        pos = put_bin(buf, pos, user)
    if pw is not None:
        pos = put_bin(buf, pos, pw)
    return pos
