"""MQTT 5.0 properties (section 2.2.2): the table, the Properties record, the codec."""

from ._compat import const
from .errors import MalformedPacket, ProtocolError
from .wire_buf import encode_str, put_bin, put_u16, put_u32, put_varint, varint_size

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Optional, Tuple, Union

    from .wire_buf import Buffer, Reader

    UserProps = Union[List[Tuple[str, str]], "dict[str, str]", None]

# The property table below packs each property's packets (bits 0-15), value type
# (bits 16-18) and value rule (bits 19-20) into one small int.
_BYTE = const(0)
_U16 = const(1)
_U32 = const(2)
_VARINT = const(3)
_STR = const(4)
_BIN = const(5)
_PAIR = const(6)
_TBYTE = const(_BYTE << 16)
_TU16 = const(_U16 << 16)
_TU32 = const(_U32 << 16)
_TVARINT = const(_VARINT << 16)
_TSTR = const(_STR << 16)
_TBIN = const(_BIN << 16)
_TPAIR = const(_PAIR << 16)

_NONZERO = const(1)  # a value of 0 is a Protocol Error
_BOOL = const(2)  # only 0 or 1 are allowed
_RNONZERO = const(_NONZERO << 19)
_RBOOL = const(_BOOL << 19)

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

# The properties in identifier order, as three columns: identifiers, attribute names,
# and packets | type | rule. A byte string and ints cost no heap of their own, where a
# tuple per property would be built in the heap at import.
IDS = b"\x01\x02\x03\x08\x09\x0b\x11\x12\x13\x15\x16\x17\x18\x19\x1a\x1c\x1f\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a"
NAMES = (
    "payload_format", "message_expiry", "content_type", "response_topic", "correlation_data",
    "subscription_identifier", "session_expiry_interval", "assigned_client_identifier", "server_keep_alive",
    "authentication_method", "authentication_data", "request_problem_information", "will_delay_interval",
    "request_response_information", "response_information", "server_reference", "reason_string",
    "receive_maximum", "topic_alias_maximum", "topic_alias", "maximum_qos", "retain_available",
    "user_properties", "maximum_packet_size", "wildcard_subscription_available",
    "subscription_identifier_available", "shared_subscription_available",
)
SPECS = (
    _P | _W | _TBYTE | _RBOOL,  # 0x01 payload_format
    _P | _W | _TU32,  # 0x02 message_expiry
    _P | _W | _TSTR,  # 0x03 content_type
    _P | _W | _TSTR,  # 0x08 response_topic
    _P | _W | _TBIN,  # 0x09 correlation_data
    _P | _S | _TVARINT | _RNONZERO,  # 0x0B subscription_identifier
    _C | _CA | _D | _TU32,  # 0x11 session_expiry_interval
    _CA | _TSTR,  # 0x12 assigned_client_identifier
    _CA | _TU16,  # 0x13 server_keep_alive
    _C | _CA | _AU | _TSTR,  # 0x15 authentication_method
    _C | _CA | _AU | _TBIN,  # 0x16 authentication_data
    _C | _TBYTE | _RBOOL,  # 0x17 request_problem_information
    _W | _TU32,  # 0x18 will_delay_interval
    _C | _TBYTE | _RBOOL,  # 0x19 request_response_information
    _CA | _TSTR,  # 0x1A response_information
    _CA | _D | _TSTR,  # 0x1C server_reference
    _CA | _ACKS | _SA | _UA | _D | _AU | _TSTR,  # 0x1F reason_string
    _C | _CA | _TU16 | _RNONZERO,  # 0x21 receive_maximum
    _C | _CA | _TU16,  # 0x22 topic_alias_maximum
    _P | _TU16 | _RNONZERO,  # 0x23 topic_alias
    _CA | _TBYTE | _RBOOL,  # 0x24 maximum_qos
    _CA | _TBYTE | _RBOOL,  # 0x25 retain_available
    _ALL | _TPAIR,  # 0x26 user_properties
    _C | _CA | _TU32 | _RNONZERO,  # 0x27 maximum_packet_size
    _CA | _TBYTE | _RBOOL,  # 0x28 wildcard_subscription_available
    _CA | _TBYTE | _RBOOL,  # 0x29 subscription_identifier_available
    _CA | _TBYTE | _RBOOL,  # 0x2A shared_subscription_available
)
# The row, plus 1, of each identifier (0: none).
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
            if name not in NAMES:
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
        for name in NAMES:
            v = getattr(self, name)
            if v is not None:
                yield name, v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Properties) and list(self.items()) == list(other.items())

    def __repr__(self) -> str:
        return "Properties(%s)" % ", ".join("%s=%r" % kv for kv in self.items())


def _check(name: str, spec: int, v: "Any", ptype: int) -> None:
    if not spec & (1 << ptype):
        raise ValueError("property %s is not allowed in this packet" % name)
    t = (spec >> 16) & 7
    if t <= _VARINT:
        if not isinstance(v, int) or v < 0 or v > _MAX[t]:
            raise ValueError("property %s out of range: %r" % (name, v))
        rule = spec >> 19
        if (rule == _NONZERO and v == 0) or (rule == _BOOL and v > 1):
            raise ValueError("property %s has an invalid value: %r" % (name, v))
    elif t == _BIN and not isinstance(v, (bytes, bytearray, memoryview)):
        raise TypeError("property %s must be bytes" % name)


def _encoded(props: "Properties", ptype: int) -> "List[Tuple[int, int, Any]]":
    # (identifier, type, value) with strings encoded, after checking every value.
    out: "List[Tuple[int, int, Any]]" = []
    for i in range(len(IDS)):
        name = NAMES[i]
        v = getattr(props, name)
        if v is None:
            continue
        pid = IDS[i]
        spec = SPECS[i]
        t = (spec >> 16) & 7
        if t == _PAIR:
            if not spec & (1 << ptype):
                raise ValueError("property user_properties is not allowed in this packet")
            for k, val in v:
                out.append((pid, t, (encode_str(k, "user property"), encode_str(val, "user property"))))
        elif pid == 0x0B:
            ids = v if isinstance(v, (list, tuple)) else (v,)
            if ptype != 3 and len(ids) > 1:
                raise ValueError("only a PUBLISH may carry several subscription identifiers")
            for n in ids:
                _check(name, spec, n, ptype)
                out.append((pid, t, n))
        else:
            _check(name, spec, v, ptype)
            out.append((pid, t, encode_str(v, name) if t == _STR else v))
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
    # Made without __init__: its **fields would be a dict allocated for every message.
    props = object.__new__(Properties)
    bit = 1 << ptype
    while r.pos < end:
        pid = r.varint()
        row = _ROW[pid] if pid < len(_ROW) else 0
        if not row:
            raise MalformedPacket("unknown property identifier 0x%02X" % pid)
        spec = SPECS[row - 1]
        name = NAMES[row - 1]
        if not spec & bit:
            raise MalformedPacket("property %s is not allowed in this packet" % name)
        t = (spec >> 16) & 7
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
            rule = spec >> 19
            if (rule == _NONZERO and val == 0) or (rule == _BOOL and val > 1):
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
