"""Decoding of all 15 packet types, for MQTT 3.1.1 and 5.0, straight from the
receive buffer through a memoryview: nothing is copied but the values a record
keeps (topic, payload, strings).

Every failure is a MalformedPacket or a ProtocolError with its reason code; the
size limit is checked from the fixed header, before the body is looked at.
"""

from ._compat import const
from .codes import (
    AUTH_CODES,
    CONNACK_CODES,
    DISCONNECT_CODES,
    PUBACK_CODES,
    PUBREL_CODES,
    SUBACK_CODES,
    UNSUBACK_CODES,
    V50,
    V311_SUBACK_CODES,
)
from .errors import MalformedPacket, ProtocolError
from .wire_buf import Reader
from .wire_packets import (
    PINGREQ_PACKET,
    PINGRESP_PACKET,
    Connack,
    Connect,
    Message,
    Packet,
    SubAck,
    Subscribe,
    Unsubscribe,
    Will,
)
from .wire_props import WILL, read_properties
from .wire_topic import topic_name_error

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Optional

    from .wire_buf import ReadBuffer


_V50 = const(5)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBREL = const(6)
_PUBCOMP = const(7)
_SUBSCRIBE = const(8)
_UNSUBSCRIBE = const(10)
_PINGREQ = const(12)
_PINGRESP = const(13)
_AUTH = const(15)

MAX_PACKET_SIZE = const(268435460)  # fixed header of 5 bytes + the largest Remaining Length


class Decoder:
    """Parses packets for one connection. ``header`` reads the fixed header and
    enforces the size limit; ``body`` decodes a packet whose bytes are all there.

    PUBACK/PUBREC/PUBREL/PUBCOMP come back in one Ack record that the decoder
    reuses: it is valid until the next call of ``body``."""

    def __init__(self, version: int = V50, max_packet: int = MAX_PACKET_SIZE) -> None:
        self.version = version
        self.max_packet = max_packet
        self.first = 0  # first byte of the last fixed header
        self.length = 0  # its Remaining Length
        self.hlen = 0  # fixed header size
        self.size = 0  # whole packet size
        self._r = Reader()
        self._ack = Packet(_PUBACK, 0)

    def short_ack(self, buf: "ReadBuffer", pos: int, end: int) -> "Optional[Packet]":
        """The packet a publisher receives most, at buf[pos:end], as the reused record:
        a success PUBACK, PUBREC, PUBREL or PUBCOMP in four bytes (Remaining Length 2, a
        packet identifier other than 0), or on MQTT 5.0 a PUBACK or PUBREC in five whose
        reason code is 0x10, No matching subscribers (what Mosquitto answers for each
        message nobody has subscribed to). Its size is in ``size``. None for anything
        else, which ``header`` and ``body`` then decode and check."""
        # No local more than these: MicroPython runs a function whose locals and stack
        # need more than 11 words in a frame taken from the heap, and in a fragmented
        # heap finding one can cost more than the rest of this function.
        if pos + 4 > end:
            return None
        first = buf[pos]
        pid = buf[pos + 1]  # the Remaining Length, before the packet identifier
        if pid == 2:
            if first != 0x40 and first != 0x50 and first != 0x70 and first != 0x62:
                return None
        elif not (
            pid == 3 and (first == 0x40 or first == 0x50) and pos + 5 <= end and buf[pos + 4] == 0x10
            and self.version == _V50
        ):
            return None
        if self.max_packet < pid + 2:
            return None
        self.size = pid + 2
        pid = (buf[pos + 2] << 8) | buf[pos + 3]
        if not pid:
            return None
        a = self._ack
        a.type = first >> 4
        a.packet_id = pid
        a.reason_code = 0 if self.size == 4 else 0x10
        a.properties = None
        return a

    def header(self, buf: "ReadBuffer", pos: int, end: int) -> bool:
        """Parse the fixed header at buf[pos:end]; False if it is not complete yet."""
        if pos >= end:
            return False
        first = buf[pos]
        t = first >> 4
        flags = first & 15
        if t == _PUBLISH:
            if flags & 6 == 6:
                raise MalformedPacket("PUBLISH with QoS 3")
        elif t == _PUBREL or t == _SUBSCRIBE or t == _UNSUBSCRIBE:
            if flags != 2:
                raise MalformedPacket("reserved flags must be 0010")
        elif flags or t == 0 or (t == _AUTH and self.version != _V50):
            raise MalformedPacket("reserved packet type or flags: 0x%02X" % first)
        n = 0
        shift = 0
        i = pos + 1
        while True:
            if i >= end:
                return False
            c = buf[i]
            i += 1
            n |= (c & 127) << shift
            if c < 128:
                if c == 0 and shift:
                    raise MalformedPacket("remaining length not minimally encoded")
                break
            shift += 7
            if shift == 28:
                raise MalformedPacket("remaining length longer than 4 bytes")
        size = i - pos + n
        if size > self.max_packet:
            from .errors_rare import PacketTooLarge

            raise PacketTooLarge("packet of %d bytes exceeds the limit of %d" % (size, self.max_packet))
        self.first = first
        self.length = n
        self.hlen = i - pos
        self.size = size
        return True

    def decode(self, buf: "ReadBuffer", pos: int = 0, end: int = -1) -> "Optional[Packet]":
        """Decode the packet at buf[pos:end], or return None if it is incomplete."""
        if end < 0:
            end = len(buf)
        if not self.header(buf, pos, end) or pos + self.size > end:
            return None
        return self.body(buf, pos)

    def body(self, buf: "ReadBuffer", pos: int) -> "Packet":
        """Decode the packet at pos whose fixed header ``header`` has just read."""
        start = pos + self.hlen
        n = self.length
        t = self.first >> 4
        v5 = self.version == _V50
        if _PUBACK <= t <= _PUBCOMP:
            # The packet identifier is read in place: an acknowledgement per QoS 1/2
            # message is the most frequent packet a publisher receives.
            if n < 2:
                raise MalformedPacket("packet too short")
            pid = (buf[start] << 8) | buf[start + 1]
            if pid == 0:
                raise ProtocolError("packet identifier 0")
            a = self._ack
            a.type = t
            a.packet_id = pid
            a.reason_code = 0
            a.properties = None
            if n == 2:
                return a
            if not v5:
                raise MalformedPacket("%d unexpected bytes at the end of the packet" % (n - 2))
            code = buf[start + 2]
            if code not in (PUBREL_CODES if t == _PUBREL or t == _PUBCOMP else PUBACK_CODES):
                raise ProtocolError("invalid reason code 0x%02X" % code)
            a.reason_code = code
            if n == 3:
                return a
            r = self._r
            r.reset(buf, start + 3, start + n)
            a.properties = read_properties(r, t)
            return self._done(r, a)
        r = self._r
        r.reset(buf, start, start + n)
        if t == _PUBLISH:
            return self._publish(r, v5)
        if t == _PINGREQ or t == _PINGRESP:
            return self._done(r, PINGREQ_PACKET if t == _PINGREQ else PINGRESP_PACKET)
        return self._control(r, t, v5)

    def _done(self, r: Reader, packet: "Packet") -> "Packet":
        if r.pos != r.end:
            raise MalformedPacket("%d unexpected bytes at the end of the packet" % (r.end - r.pos))
        return packet

    def _publish(self, r: Reader, v5: bool) -> Message:
        first = self.first
        qos = (first >> 1) & 3
        topic = r.string()
        pid = 0
        if qos:
            pid = r.u16()
            if pid == 0:
                raise ProtocolError("packet identifier 0")
        props = read_properties(r, _PUBLISH) if v5 else None
        err = topic_name_error(topic)
        if err is not None and not (
            topic == "" and props is not None and props.topic_alias is not None
        ):
            raise ProtocolError(err, 0x90 if topic else 0x82)
        return Message(topic, r.rest(), qos, bool(first & 1), bool(first & 8), pid, props)

    def _control(self, r: Reader, t: int, v5: bool) -> "Packet":
        if t == 1:
            return self._done(r, _connect(r))
        if t == 2:
            flags = r.u8()
            if flags & 0xFE:
                raise MalformedPacket("reserved CONNACK flags set")
            code = r.u8()
            props = None
            if v5:
                if r.end - r.pos == 0 and code == 1:
                    # A 3.1.1-only server refusing our v5 CONNECT answers in 3.1.1:
                    # return code 1, "unacceptable protocol version".
                    code = 0x84
                else:
                    if code not in CONNACK_CODES:
                        raise ProtocolError("invalid CONNACK reason code 0x%02X" % code)
                    props = read_properties(r, 2)
            elif code > 5:
                raise ProtocolError("invalid CONNACK return code %d" % code)
            if code and flags:
                raise ProtocolError("session present with a refused connection")
            return self._done(r, Connack(bool(flags), code, props))
        if t == _SUBSCRIBE or t == _UNSUBSCRIBE:
            pid = r.u16()
            if pid == 0:
                raise ProtocolError("packet identifier 0")
            props = read_properties(r, t) if v5 else None
            topics: "list[Any]" = []
            while r.pos < r.end:
                flt = r.string()
                if t == _SUBSCRIBE:
                    opts = r.u8()
                    if opts & (0xC0 if v5 else 0xFC):
                        raise MalformedPacket("reserved subscription option bits set")
                    if opts & 3 == 3:
                        raise MalformedPacket("QoS 3 in subscription options")
                    if (opts >> 4) & 3 == 3:
                        raise ProtocolError("retain handling 3")
                    if opts & 4 and flt.startswith("$share/"):
                        raise ProtocolError("no local on a shared subscription")
                    topics.append((flt, opts))
                else:
                    topics.append(flt)
            if not topics:
                raise ProtocolError("no topic filter")
            return Subscribe(pid, topics, props) if t == _SUBSCRIBE else Unsubscribe(pid, topics, props)
        if t == 9 or t == 11:
            pid = r.u16()
            if pid == 0:
                raise ProtocolError("packet identifier 0")
            props = read_properties(r, t) if v5 else None
            if not v5 and t == 11:
                return self._done(r, SubAck(t, pid, [], None))  # 3.1.1: no reason codes
            codes = []
            valid = (SUBACK_CODES if t == 9 else UNSUBACK_CODES) if v5 else V311_SUBACK_CODES
            while r.pos < r.end:
                c = r.u8()
                if c not in valid:
                    raise ProtocolError("invalid reason code 0x%02X" % c)
                codes.append(c)
            if not codes and (v5 or t == 9):
                raise ProtocolError("acknowledgement without reason codes")
            return SubAck(t, pid, codes, props)
        # DISCONNECT or AUTH
        code = 0
        props = None
        if v5 and r.pos < r.end:
            code = r.u8()
            if code not in (DISCONNECT_CODES if t == 14 else AUTH_CODES):
                raise ProtocolError("invalid reason code 0x%02X" % code)
            if r.pos < r.end:
                props = read_properties(r, t)
        return self._done(r, Packet(t, 0, code, props))  # DISCONNECT or AUTH


def _connect(r: Reader) -> Connect:
    if r.binary() != b"MQTT":
        raise MalformedPacket("protocol name is not MQTT")
    version = r.u8()
    if version != 4 and version != 5:
        raise ProtocolError("unsupported protocol version %d" % version, 0x84)
    flags = r.u8()
    wqos = (flags >> 3) & 3
    if flags & 1 or wqos == 3 or (not flags & 4 and flags & 0x38):
        raise MalformedPacket("invalid CONNECT flags 0x%02X" % flags)
    if version == 4 and flags & 0x40 and not flags & 0x80:
        raise MalformedPacket("password without user name")
    keepalive = r.u16()
    props = read_properties(r, 1) if version == _V50 else None
    client_id = r.string()
    will = None
    if flags & 4:
        wprops = read_properties(r, WILL) if version == _V50 else None
        wtopic = r.string()
        err = topic_name_error(wtopic)
        if err is not None:
            raise ProtocolError("will topic: " + err, 0x90)
        will = Will(wtopic, r.binary(), wqos, bool(flags & 0x20), wprops)
    username = r.string() if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    return Connect(client_id, version, bool(flags & 2), keepalive, username, password, will, props)

