"""Packet records: what the encoder reads and the decoder fills."""

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

# Per type: its name and the fields of its record, for equality and repr (tests and
# logs). One string constant, not tuples or classes: a constant costs no heap. Type 0,
# reserved in MQTT, is the Will.
_FIELDS = (
    "Will topic payload qos retain properties|"
    "CONNECT version client_id clean_start keepalive username password will properties|"
    "CONNACK session_present reason_code properties|"
    "PUBLISH topic payload qos retain dup packet_id properties|"
    "PUBACK packet_id reason_code properties|PUBREC packet_id reason_code properties|"
    "PUBREL packet_id reason_code properties|PUBCOMP packet_id reason_code properties|"
    "SUBSCRIBE packet_id topics properties|SUBACK packet_id reason_codes properties|"
    "UNSUBSCRIBE packet_id topics properties|UNSUBACK packet_id reason_codes properties|"
    "PINGREQ|PINGRESP|DISCONNECT reason_code properties|AUTH reason_code properties"
)


def _names(t: int) -> "List[str]":
    return _FIELDS.split("|")[t].split()


def packet_name(t: int) -> str:
    """The name of a packet type, e.g. 3 -> "PUBLISH"."""
    return _names(t)[0] if 0 < t < 16 else "RESERVED"


class Packet:
    """The record of every packet but CONNECT and PUBLISH, and the base of theirs (and
    the Will's) for equality and repr. Its type says which of the fields below it has;
    the functions named after the packets (below) make them. One class for eleven
    packets: on MicroPython a class costs about 250 bytes of heap, a function 100."""

    packet_id = 0
    reason_code = 0
    properties: "Optional[Properties]" = None
    session_present = False
    topics: "List[Any]"  # SUBSCRIBE: (filter, options) pairs; UNSUBSCRIBE: filters
    reason_codes: "List[int]"  # SUBACK, UNSUBACK: one per filter

    def __init__(
        self, type: int, packet_id: int = 0, reason_code: int = 0, properties: "Optional[Properties]" = None
    ) -> None:
        self.type = type
        self.packet_id = packet_id
        self.reason_code = reason_code
        self.properties = properties

    def values(self) -> "Tuple[Any, ...]":
        return tuple(getattr(self, f) for f in _names(self.type)[1:])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Packet) and self.type == other.type and self.values() == other.values()
        )

    def __repr__(self) -> str:
        names = _names(self.type)
        return "%s(%s)" % (names[0], ", ".join("%s=%r" % (f, getattr(self, f)) for f in names[1:]))


class Will(Packet):
    """The Will Message of CONNECT."""

    type = 0

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


class Connect(Packet):
    type = CONNECT

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


class Message(Packet):
    """A PUBLISH packet, and the message handed to handlers."""

    type = PUBLISH
    # Defaults live in the class: an instance holds only what differs (on MicroPython
    # each instance attribute costs 16 bytes, and a message is made per PUBLISH).
    qos = 0
    retain = False
    dup = False

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
        if qos:
            self.qos = qos  # (a QoS 0 message of two attributes takes 64 bytes, not 96)
        if retain:
            self.retain = retain
        if dup:
            self.dup = dup
        if packet_id:
            self.packet_id = packet_id
        if properties is not None:
            self.properties = properties


# PUBACK, PUBREC, PUBREL or PUBCOMP: Ack(type, packet_id, reason_code, properties).
Ack = Packet


def Connack(  # noqa: N802  (named after the packet, as the classes)
    session_present: bool = False, reason_code: int = 0, properties: "Optional[Properties]" = None
) -> Packet:
    p = Packet(CONNACK, 0, reason_code, properties)
    p.session_present = session_present
    return p


def Subscribe(  # noqa: N802
    packet_id: int, topics: "List[Tuple[str, int]]", properties: "Optional[Properties]" = None
) -> Packet:
    """SUBSCRIBE: (filter, options) pairs; options hold QoS, No Local, Retain As
    Published and Retain Handling as in the Subscription Options byte."""
    p = Packet(SUBSCRIBE, packet_id, 0, properties)
    p.topics = topics
    return p


def Unsubscribe(packet_id: int, topics: "List[str]", properties: "Optional[Properties]" = None) -> Packet:  # noqa: N802
    p = Packet(UNSUBSCRIBE, packet_id, 0, properties)
    p.topics = topics
    return p


def SubAck(  # noqa: N802
    type: int, packet_id: int, reason_codes: "List[int]", properties: "Optional[Properties]" = None
) -> Packet:
    """SUBACK or UNSUBACK: one reason code per filter."""
    p = Packet(type, packet_id, 0, properties)
    p.reason_codes = reason_codes
    return p


def Disconnect(reason_code: int = 0, properties: "Optional[Properties]" = None) -> Packet:  # noqa: N802
    return Packet(DISCONNECT, 0, reason_code, properties)


def Auth(reason_code: int = 0, properties: "Optional[Properties]" = None) -> Packet:  # noqa: N802
    return Packet(AUTH, 0, reason_code, properties)


# PINGREQ and PINGRESP have no body, so one record of each serves.
PINGREQ_PACKET = Packet(PINGREQ)
PINGRESP_PACKET = Packet(PINGRESP)

# Subscription Options bits (MQTT 5.0 section 3.8.3.1).
NO_LOCAL = const(0x04)
RETAIN_AS_PUBLISHED = const(0x08)


def subscription_options(
    qos: int, no_local: bool = False, retain_as_published: bool = False, retain_handling: int = 0
) -> int:
    rap = RETAIN_AS_PUBLISHED if retain_as_published else 0
    return qos | (NO_LOCAL if no_local else 0) | rap | (retain_handling << 4)
