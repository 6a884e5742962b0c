"""MQTT 5.0 properties (section 2.2.2): the table, the Properties record, the codec."""

from ._compat import const
from .errors import MalformedPacket, ProtocolError
from .wire_buf import encode_str, put_bin, put_u16, put_u32, put_varint, varint_size

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Optional, Tuple, Union

    from .wire_buf import Buffer, Reader

    UserProps = Union[List[Tuple[str, str]], "dict[str, str]", None]

_BYTE = const(0)
_U16 = const(1)
_U32 = const(2)
_VARINT = const(3)
_STR = const(4)
_BIN = const(5)
_PAIR = const(6)

_NONZERO = const(1)  # a value of 0 is a Protocol Error
_BOOL = const(2)  # only 0 or 1 are allowed

# Packet types as bits; bit 0 stands for the Will Properties of CONNECT.
WILL = const(0)
_W = const(1 << 0)
_C = const(1 << 1)
_CA = const(1 << 2)
_P = const(1 << 3)
_PA = const(1 << 4)
_PREC = const(1 << 5)
_PREL = const(1 << 6)
_PCOMP = const(1 << 7)
_S = const(1 << 8)
_SA = const(1 << 9)
_U = const(1 << 10)
_UA = const(1 << 11)
_D = const(1 << 14)
_AU = const(1 << 15)
_ACKS = const(_PA | _PREC | _PREL | _PCOMP)
_ALL = const(_W | _C | _CA | _P | _ACKS | _S | _SA | _U | _UA | _D | _AU)

# (identifier, attribute, type, packets allowed, value rule)
PROPERTIES = (
    (0x01, "payload_format", _BYTE, _P | _W, _BOOL),
    (0x02, "message_expiry", _U32, _P | _W, 0),
    (0x03, "content_type", _STR, _P | _W, 0),
    (0x08, "response_topic", _STR, _P | _W, 0),
    (0x09, "correlation_data", _BIN, _P | _W, 0),
    (0x0B, "subscription_identifier", _VARINT, _P | _S, _NONZERO),
    (0x11, "session_expiry_interval", _U32, _C | _CA | _D, 0),
    (0x12, "assigned_client_identifier", _STR, _CA, 0),
    (0x13, "server_keep_alive", _U16, _CA, 0),
    (0x15, "authentication_method", _STR, _C | _CA | _AU, 0),
    (0x16, "authentication_data", _BIN, _C | _CA | _AU, 0),
    (0x17, "request_problem_information", _BYTE, _C, _BOOL),
    (0x18, "will_delay_interval", _U32, _W, 0),
    (0x19, "request_response_information", _BYTE, _C, _BOOL),
    (0x1A, "response_information", _STR, _CA, 0),
    (0x1C, "server_reference", _STR, _CA | _D, 0),
    (0x1F, "reason_string", _STR, _CA | _ACKS | _SA | _UA | _D | _AU, 0),
    (0x21, "receive_maximum", _U16, _C | _CA, _NONZERO),
    (0x22, "topic_alias_maximum", _U16, _C | _CA, 0),
    (0x23, "topic_alias", _U16, _P, _NONZERO),
    (0x24, "maximum_qos", _BYTE, _CA, _BOOL),
    (0x25, "retain_available", _BYTE, _CA, _BOOL),
    (0x26, "user_properties", _PAIR, _ALL, 0),
    (0x27, "maximum_packet_size", _U32, _C | _CA, _NONZERO),
    (0x28, "wildcard_subscription_available", _BYTE, _CA, _BOOL),
    (0x29, "subscription_identifier_available", _BYTE, _CA, _BOOL),
    (0x2A, "shared_subscription_available", _BYTE, _CA, _BOOL),
)
# The row of PROPERTIES, plus 1, of each identifier (0: none): a byte string, which stays
# in flash where a dict would be built in the heap.
_ROW = (
    b"\x00\x01\x02\x03\x00\x00\x00\x00\x04\x05\x00\x06\x00\x00\x00\x00"  # 0x00..0x0F
    b"\x00\x07\x08\x09\x00\x0a\x0b\x0c\x0d\x0e\x0f\x00\x10\x00\x00\x11"  # 0x10..0x1F
    b"\x00\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"  # 0x20..0x2A
)
_MAX = (0xFF, 0xFFFF, 0xFFFFFFFF, 268435455)


def user_props_list(up: "UserProps") -> "Optional[List[Tuple[str, str]]]":
    """Accept user properties as a dict or as (key, value) pairs; keep pairs in order."""
    if up is None:
        return None
    if isinstance(up, dict):
        return list(up.items())
    return [(k, v) for k, v in up]


class Properties:
    """MQTT 5.0 properties; unset ones are None. ``user_properties`` is a list of
    (key, value) pairs with repeated keys kept in order; ``subscription_identifier``
    is a list (a PUBLISH may carry several)."""

    payload_format: "Optional[int]" = None
    message_expiry: "Optional[int]" = None
    content_type: "Optional[str]" = None
    response_topic: "Optional[str]" = None
    correlation_data: "Optional[bytes]" = None
    subscription_identifier: "Optional[List[int]]" = None
    session_expiry_interval: "Optional[int]" = None
    assigned_client_identifier: "Optional[str]" = None
    server_keep_alive: "Optional[int]" = None
    authentication_method: "Optional[str]" = None
    authentication_data: "Optional[bytes]" = None
    request_problem_information: "Optional[int]" = None
    will_delay_interval: "Optional[int]" = None
    request_response_information: "Optional[int]" = None
    response_information: "Optional[str]" = None
    server_reference: "Optional[str]" = None
    reason_string: "Optional[str]" = None
    receive_maximum: "Optional[int]" = None
    topic_alias_maximum: "Optional[int]" = None
    topic_alias: "Optional[int]" = None
    maximum_qos: "Optional[int]" = None
    retain_available: "Optional[int]" = None
    user_properties: "Optional[List[Tuple[str, str]]]" = None
    maximum_packet_size: "Optional[int]" = None
    wildcard_subscription_available: "Optional[int]" = None
    subscription_identifier_available: "Optional[int]" = None
    shared_subscription_available: "Optional[int]" = None

    def __init__(self, **fields: "Any") -> None:
        for name, value in fields.items():
            for p in PROPERTIES:
                if p[1] == name:
                    break
            else:
                raise TypeError("unknown property: " + name)
            v = value
            if name == "user_properties":
                v = user_props_list(value)
            elif name == "subscription_identifier" and isinstance(value, int):
                v = [value]
            setattr(self, name, v)

    def get_user_property(self, key: str) -> "Optional[str]":
        """The first value given for key, or None."""
        for k, v in self.user_properties or ():
            if k == key:
                return v
        return None

    def set_user_property(self, key: str, value: str) -> None:
        """Replace every value of key with this one (use add_user_property to repeat)."""
        up = [kv for kv in self.user_properties or () if kv[0] != key]
        up.append((key, value))
        self.user_properties = up

    def add_user_property(self, key: str, value: str) -> None:
        if self.user_properties is None:
            self.user_properties = []
        self.user_properties.append((key, value))

    def items(self) -> "Iterable[Tuple[str, Any]]":
        """(name, value) of every property that is set, in identifier order."""
        for p in PROPERTIES:
            v = getattr(self, p[1])
            if v is not None:
                yield p[1], v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Properties) and list(self.items()) == list(other.items())

    def __repr__(self) -> str:
        return "Properties(%s)" % ", ".join("%s=%r" % kv for kv in self.items())


def _check(p: "tuple[int, str, int, int, int]", v: "Any", ptype: int) -> None:
    if not p[3] & (1 << ptype):
        raise ValueError("property %s is not allowed in this packet" % p[1])
    t = p[2]
    if t <= _VARINT:
        if not isinstance(v, int) or v < 0 or v > _MAX[t]:
            raise ValueError("property %s out of range: %r" % (p[1], v))
        if (p[4] == _NONZERO and v == 0) or (p[4] == _BOOL and v > 1):
            raise ValueError("property %s has an invalid value: %r" % (p[1], v))
    elif t == _BIN and not isinstance(v, (bytes, bytearray, memoryview)):
        raise TypeError("property %s must be bytes" % p[1])


def _encoded(props: "Properties", ptype: int) -> "List[Tuple[int, int, Any]]":
    # (identifier, type, value) with strings encoded, after checking every value.
    out: "List[Tuple[int, int, Any]]" = []
    for p in PROPERTIES:
        v = getattr(props, p[1])
        if v is None:
            continue
        t = p[2]
        if t == _PAIR:
            if not p[3] & (1 << ptype):
                raise ValueError("property user_properties is not allowed in this packet")
            for k, val in v:
                out.append((p[0], t, (encode_str(k, "user property"), encode_str(val, "user property"))))
        elif p[0] == 0x0B:
            ids = v if isinstance(v, (list, tuple)) else (v,)
            if ptype != 3 and len(ids) > 1:
                raise ValueError("only a PUBLISH may carry several subscription identifiers")
            for i in ids:
                _check(p, i, ptype)
                out.append((p[0], t, i))
        else:
            _check(p, v, ptype)
            out.append((p[0], t, encode_str(v, p[1]) if t == _STR else v))
    return out


class EncodedProperties:
    """Properties checked and encoded once, ready to be sized and written."""

    def __init__(self, props: "Optional[Properties]", ptype: int) -> None:
        self.entries = _encoded(props, ptype) if props is not None else []
        n = 0
        for _, t, v in self.entries:
            n += 1
            if t == _BYTE:
                n += 1
            elif t == _U16:
                n += 2
            elif t == _U32:
                n += 4
            elif t == _VARINT:
                n += varint_size(v)
            elif t == _PAIR:
                n += 4 + len(v[0]) + len(v[1])
            else:
                n += 2 + len(v)
        self.length = n
        # What the property section takes on the wire, its length prefix included.
        self.size = varint_size(n) + n

    def write(self, buf: "Buffer", pos: int) -> int:
        """Write the property section, its length prefix included."""
        return self.write_entries(buf, put_varint(buf, pos, self.length))

    def write_entries(self, buf: "Buffer", pos: int) -> int:
        """Write the properties without the length prefix."""
        for pid, t, v in self.entries:
            buf[pos] = pid
            pos += 1
            if t == _BYTE:
                buf[pos] = v
                pos += 1
            elif t == _U16:
                pos = put_u16(buf, pos, v)
            elif t == _U32:
                pos = put_u32(buf, pos, v)
            elif t == _VARINT:
                pos = put_varint(buf, pos, v)
            elif t == _PAIR:
                pos = put_bin(buf, put_bin(buf, pos, v[0]), v[1])
            else:
                pos = put_bin(buf, pos, v)
        return pos


NO_PROPERTIES = EncodedProperties(None, 0)


def read_properties(r: "Reader", ptype: int) -> "Optional[Properties]":
    """Read a property section for packet type ptype (WILL for will properties)."""
    n = r.varint()
    if n == 0:
        return None
    end = r.pos + n
    if end > r.end:
        raise MalformedPacket("property length beyond the end of the packet")
    props = Properties()
    bit = 1 << ptype
    while r.pos < end:
        pid = r.varint()
        row = _ROW[pid] if pid < len(_ROW) else 0
        if not row:
            raise MalformedPacket("unknown property identifier 0x%02X" % pid)
        p = PROPERTIES[row - 1]
        if not p[3] & bit:
            raise MalformedPacket("property %s is not allowed in this packet" % p[1])
        t = p[2]
        name = p[1]
        if t == _PAIR:
            k = r.string()
            v = r.string()
            if props.user_properties is None:
                props.user_properties = []
            props.user_properties.append((k, v))
        else:
            if t == _BYTE:
                val: "Any" = r.u8()
            elif t == _U16:
                val = r.u16()
            elif t == _U32:
                val = r.u32()
            elif t == _VARINT:
                val = r.varint()
            elif t == _STR:
                val = r.string()
            else:
                val = r.binary()
            if (p[4] == _NONZERO and val == 0) or (p[4] == _BOOL and val > 1):
                raise ProtocolError("property %s has an invalid value %r" % (name, val))
            old = getattr(props, name)
            if pid == 0x0B:
                if old is None:
                    props.subscription_identifier = [val]
                elif ptype == 3:
                    old.append(val)
                else:
                    raise ProtocolError("subscription identifier given twice")
            elif old is not None:
                raise ProtocolError("property %s given twice" % name)
            else:
                setattr(props, name, val)
    if r.pos != end:
        raise MalformedPacket("property overruns its section")
    return props
