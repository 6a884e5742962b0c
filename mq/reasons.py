"""Every MQTT 5.0 reason code by name, and the specification's name of each
(section 2.4). Not imported by the core: ``reason_name`` loads it for an error
message, ``mq.ReasonCode`` on first use."""

from ._compat import const


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


NAMES = {
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
