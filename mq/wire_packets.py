"""Packet records: small classes that the encoder reads and the decoder fills."""

from ._compat import const
from .codes import V50

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from .wire_props import Properties

CONNECT = const(1)
CONNACK = const(2)
PUBLISH = const(3)
PUBACK = const(4)
PUBREC = const(5)
PUBREL = const(6)
PUBCOMP = const(7)
SUBSCRIBE = const(8)
SUBACK = const(9)
UNSUBSCRIBE = const(10)
UNSUBACK = const(11)
PINGREQ = const(12)
PINGRESP = const(13)
DISCONNECT = const(14)
AUTH = const(15)

PACKET_NAMES = (
    "RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
    "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT",
    "AUTH",
)


class Packet:
    """Base of the records: equality and repr over the fields, for tests and logs."""

    type = 0
    _fields: "Tuple[str, ...]" = ()

    def values(self) -> "Tuple[Any, ...]":
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Packet) and self.type == other.type and self.values() == other.values()
        )

    def __repr__(self) -> str:
        args = ", ".join("%s=%r" % (f, getattr(self, f)) for f in self._fields)
        return "%s(%s)" % (PACKET_NAMES[self.type], args)


class Will(Packet):
    """The Will Message of CONNECT."""

    _fields = ("topic", "payload", "qos", "retain", "properties")

    def __init__(
        self,
        topic: str,
        payload: "bytes | str" = b"",
        qos: int = 0,
        retain: bool = False,
        properties: "Optional[Properties]" = None,
    ) -> None:
        self.topic = topic
        self.payload = payload.encode() if isinstance(payload, str) else payload
        self.qos = qos
        self.retain = retain
        self.properties = properties

    def __repr__(self) -> str:
        return "Will(%r, %r, qos=%d, retain=%r)" % (self.topic, self.payload, self.qos, self.retain)


class Connect(Packet):
    type = CONNECT
    _fields = (
        "version", "client_id", "clean_start", "keepalive", "username", "password", "will",
        "properties",
    )

    def __init__(
        self,
        client_id: str = "",
        version: int = V50,
        clean_start: bool = True,
        keepalive: int = 60,
        username: "Optional[str]" = None,
        password: "Optional[bytes]" = None,
        will: "Optional[Will]" = None,
        properties: "Optional[Properties]" = None,
    ) -> None:
        self.client_id = client_id
        self.version = version
        self.clean_start = clean_start
        self.keepalive = keepalive
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties

    def __repr__(self) -> str:
        # Credentials never reach a log.
        pw = None if self.password is None else "***"
        return "CONNECT(client_id=%r, version=%d, clean_start=%r, keepalive=%d, username=%r, password=%s, " \
            "will=%r)" % (self.client_id, self.version, self.clean_start, self.keepalive, self.username, pw, self.will)


class Connack(Packet):
    type = CONNACK
    _fields = ("session_present", "reason_code", "properties")

    def __init__(
        self, session_present: bool = False, reason_code: int = 0, properties: "Optional[Properties]" = None
    ) -> None:
        self.session_present = session_present
        self.reason_code = reason_code
        self.properties = properties


class Message(Packet):
    """A PUBLISH packet, and the message handed to handlers."""

    type = PUBLISH
    _fields = ("topic", "payload", "qos", "retain", "dup", "packet_id", "properties")
    # Defaults live in the class: an instance holds only what differs (on MicroPython
    # each instance attribute costs 16 bytes, and a message is made per PUBLISH).
    retain = False
    dup = False
    packet_id = 0
    properties: "Optional[Properties]" = None

    def __init__(
        self,
        topic: str,
        payload: bytes = b"",
        qos: int = 0,
        retain: bool = False,
        dup: bool = False,
        packet_id: int = 0,
        properties: "Optional[Properties]" = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        if retain:
            self.retain = retain
        if dup:
            self.dup = dup
        if packet_id:
            self.packet_id = packet_id
        if properties is not None:
            self.properties = properties


class Ack(Packet):
    """PUBACK, PUBREC, PUBREL or PUBCOMP."""

    _fields = ("packet_id", "reason_code", "properties")

    def __init__(
        self, type: int, packet_id: int, reason_code: int = 0, properties: "Optional[Properties]" = None
    ) -> None:
        self.type = type
        self.packet_id = packet_id
        self.reason_code = reason_code
        self.properties = properties


class Subscribe(Packet):
    """SUBSCRIBE: (filter, options) pairs; options hold QoS, No Local, Retain As
    Published and Retain Handling as in the Subscription Options byte."""

    type = SUBSCRIBE
    _fields = ("packet_id", "topics", "properties")

    def __init__(
        self, packet_id: int, topics: "List[Tuple[str, int]]", properties: "Optional[Properties]" = None
    ) -> None:
        self.packet_id = packet_id
        self.topics = topics
        self.properties = properties


class SubAck(Packet):
    """SUBACK or UNSUBACK: one reason code per filter."""

    _fields = ("packet_id", "reason_codes", "properties")

    def __init__(
        self, type: int, packet_id: int, reason_codes: "List[int]", properties: "Optional[Properties]" = None
    ) -> None:
        self.type = type
        self.packet_id = packet_id
        self.reason_codes = reason_codes
        self.properties = properties


class Unsubscribe(Packet):
    type = UNSUBSCRIBE
    _fields = ("packet_id", "topics", "properties")

    def __init__(self, packet_id: int, topics: "List[str]", properties: "Optional[Properties]" = None) -> None:
        self.packet_id = packet_id
        self.topics = topics
        self.properties = properties


class Disconnect(Packet):
    type = DISCONNECT
    _fields = ("reason_code", "properties")

    def __init__(self, reason_code: int = 0, properties: "Optional[Properties]" = None) -> None:
        self.reason_code = reason_code
        self.properties = properties


class Auth(Packet):
    type = AUTH
    _fields = ("reason_code", "properties")

    def __init__(self, reason_code: int = 0, properties: "Optional[Properties]" = None) -> None:
        self.reason_code = reason_code
        self.properties = properties


class Ping(Packet):
    """PINGREQ or PINGRESP; both have no body, so one instance of each serves."""

    def __init__(self, type: int) -> None:
        self.type = type


PINGREQ_PACKET = Ping(PINGREQ)
PINGRESP_PACKET = Ping(PINGRESP)

# Subscription Options bits (MQTT 5.0 section 3.8.3.1).
NO_LOCAL = const(0x04)
RETAIN_AS_PUBLISHED = const(0x08)


def subscription_options(
    qos: int, no_local: bool = False, retain_as_published: bool = False, retain_handling: int = 0
) -> int:
    rap = RETAIN_AS_PUBLISHED if retain_as_published else 0
    return qos | (NO_LOCAL if no_local else 0) | rap | (retain_handling << 4)
