"""The exceptions of mq. Each carries the MQTT reason code that describes it.

Errors the peer causes are MQTTError subclasses; errors the caller causes
(an invalid topic, a payload too large) are ValueError or TypeError.
"""

from ._compat import const
from .codes import reason_name

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from .wire_props import Properties


class MQTTError(Exception):
    """An MQTT failure, with its reason code and the peer's reason string if any."""

    default_code = 0x80

    def __init__(self, message: str = "", reason_code: int = -1, reason_string: "str | None" = None) -> None:
        if reason_code < 0:
            reason_code = self.default_code
        text = message or reason_name(reason_code)
        if reason_string:
            text = "%s: %s" % (text, reason_string)
        super().__init__("%s (reason code 0x%02X)" % (text, reason_code))
        self.reason_code = reason_code
        self.reason_string = reason_string


class MalformedPacket(MQTTError):
    """The bytes cannot be parsed as the packet they claim to be (0x81)."""

    default_code = 0x81


class ProtocolError(MQTTError):
    """The packet parses but breaks a rule of the protocol (0x82 unless more precise)."""

    default_code = 0x82


class PacketTooLarge(ProtocolError):
    """A packet exceeds the maximum packet size (0x95)."""

    default_code = 0x95


class KeepAliveTimeout(MQTTError):
    """The server did not answer PINGREQ in time: the connection is dead (0x8D)."""

    default_code = 0x8D


class ConnectionRefused(MQTTError):
    """The server answered CONNECT with a failure reason code."""


class SubscriptionFailed(MQTTError):
    """The server refused a subscription filter (SUBACK code >= 0x80)."""


class ClientDisconnected(MQTTError):
    """The operation was abandoned because the client disconnected or stopped."""

    default_code = 0x8B

    def __init__(self, message: str = "client disconnected", reason_code: int = 0x00) -> None:
        super().__init__(message, reason_code)


class DisconnectError(MQTTError):
    """The server sent DISCONNECT; its v5 properties are kept here."""

    def __init__(self, reason_code: int, properties: "Properties | None" = None) -> None:
        rs = properties.reason_string if properties is not None else None
        super().__init__("server disconnected: " + reason_name(reason_code), reason_code, rs)
        self.properties = properties
        self.server_reference = properties.server_reference if properties is not None else None
        self.session_expiry_interval = (
            properties.session_expiry_interval if properties is not None else None
        )
        self.user_properties = properties.user_properties if properties is not None else None
