"""MQTT 5.0 reason codes, the v3.1.1 CONNACK return codes, QoS levels and versions."""

from ._compat import const

V311 = const(4)
V50 = const(5)

AT_MOST_ONCE = const(0)
AT_LEAST_ONCE = const(1)
EXACTLY_ONCE = const(2)


class ReasonCode:
    """Every reason code of MQTT 5.0 (section 2.4). Several share a value."""

    SUCCESS = const(0x00)
    NORMAL_DISCONNECT = const(0x00)
    GRANTED_QOS_0 = const(0x00)
    GRANTED_QOS_1 = const(0x01)
    GRANTED_QOS_2 = const(0x02)
    DISCONNECT_WITH_WILL = const(0x04)
    NO_MATCHING_SUBSCRIBERS = const(0x10)
    NO_SUBSCRIPTION_EXISTED = const(0x11)
    CONTINUE_AUTHENTICATION = const(0x18)
    RE_AUTHENTICATE = const(0x19)
    UNSPECIFIED_ERROR = const(0x80)
    MALFORMED_PACKET = const(0x81)
    PROTOCOL_ERROR = const(0x82)
    IMPLEMENTATION_SPECIFIC_ERROR = const(0x83)
    UNSUPPORTED_PROTOCOL_VERSION = const(0x84)
    CLIENT_IDENTIFIER_NOT_VALID = const(0x85)
    BAD_USERNAME_OR_PASSWORD = const(0x86)
    NOT_AUTHORIZED = const(0x87)
    SERVER_UNAVAILABLE = const(0x88)
    SERVER_BUSY = const(0x89)
    BANNED = const(0x8A)
    SERVER_SHUTTING_DOWN = const(0x8B)
    BAD_AUTHENTICATION_METHOD = const(0x8C)
    KEEP_ALIVE_TIMEOUT = const(0x8D)
    SESSION_TAKEN_OVER = const(0x8E)
    TOPIC_FILTER_INVALID = const(0x8F)
    TOPIC_NAME_INVALID = const(0x90)
    PACKET_IDENTIFIER_IN_USE = const(0x91)
    PACKET_IDENTIFIER_NOT_FOUND = const(0x92)
    RECEIVE_MAXIMUM_EXCEEDED = const(0x93)
    TOPIC_ALIAS_INVALID = const(0x94)
    PACKET_TOO_LARGE = const(0x95)
    MESSAGE_RATE_TOO_HIGH = const(0x96)
    QUOTA_EXCEEDED = const(0x97)
    ADMINISTRATIVE_ACTION = const(0x98)
    PAYLOAD_FORMAT_INVALID = const(0x99)
    RETAIN_NOT_SUPPORTED = const(0x9A)
    QOS_NOT_SUPPORTED = const(0x9B)
    USE_ANOTHER_SERVER = const(0x9C)
    SERVER_MOVED = const(0x9D)
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = const(0x9E)
    CONNECTION_RATE_EXCEEDED = const(0x9F)
    MAXIMUM_CONNECT_TIME = const(0xA0)
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = const(0xA1)
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = const(0xA2)


_NAMES = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x11: "No subscription existed",
    0x18: "Continue authentication",
    0x19: "Re-authenticate",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x92: "Packet Identifier not found",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared Subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription Identifiers not supported",
    0xA2: "Wildcard Subscriptions not supported",
}


def reason_name(code: int) -> str:
    """The specification's name of a reason code, e.g. ``0x87`` -> "Not authorized"."""
    name = _NAMES.get(code)
    return name if name is not None else "Reason code 0x%02X" % code


def is_error(code: int) -> bool:
    """Codes 0x80 and above report failure (MQTT 5.0 section 2.4)."""
    return code >= 0x80


# v3.1.1 CONNACK return codes (section 3.2.2.3) and the v5 reason code each means.
V311_CONNACK_RETURN_CODES = {
    1: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,  # unacceptable protocol version
    2: ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,  # identifier rejected
    3: ReasonCode.SERVER_UNAVAILABLE,
    4: ReasonCode.BAD_USERNAME_OR_PASSWORD,
    5: ReasonCode.NOT_AUTHORIZED,
}

# Which reason codes each v5 packet may carry (sections 3.2.2.2 .. 3.15.2.1).
CONNACK_CODES = frozenset(
    (0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C,
     0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
)
PUBACK_CODES = frozenset((0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99))
PUBREL_CODES = frozenset((0x00, 0x92))
SUBACK_CODES = frozenset((0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2))
UNSUBACK_CODES = frozenset((0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91))
DISCONNECT_CODES = frozenset(
    (0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
     0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
     0xA2)
)
# The DISCONNECT reason codes a client may send (MQTT 5.0 table 3.14.2.1).
CLIENT_DISCONNECT_CODES = frozenset(
    (0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99)
)
AUTH_CODES = frozenset((0x00, 0x18, 0x19))
V311_SUBACK_CODES = frozenset((0x00, 0x01, 0x02, 0x80))
