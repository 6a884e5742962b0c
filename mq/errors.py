"""The exceptions of mq. Each carries the MQTT reason code that describes it.

Errors the peer causes are MQTTError subclasses; errors the caller causes
(an invalid topic, a payload too large) are ValueError or TypeError. The rarer ones
are in ``errors_rare`` and ``errors_refused``, loaded with the first of them: on
MicroPython each class costs some 400 bytes of heap.
"""

from .codes import reason_name


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


class ConnectionRefused(MQTTError):
    """The server answered CONNECT with a failure reason code."""


class ClientDisconnected(MQTTError):
    """The operation was abandoned because the client disconnected or stopped."""

    default_code = 0x8B

    def __init__(self, message: str = "client disconnected", reason_code: int = 0x00) -> None:
        super().__init__(message, reason_code)
