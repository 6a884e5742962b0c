"""The ConnectionRefused subclasses, one per CONNACK refusal. Loaded with the first
refusal (or when the application names one): a client that connects does not pay for
them in heap."""

from .codes import reason_name
from .errors import ConnectionRefused


class UnacceptableProtocolVersion(ConnectionRefused):
    default_code = 0x84


class IdentifierRejected(ConnectionRefused):
    default_code = 0x85


class BadUsernameOrPassword(ConnectionRefused):
    default_code = 0x86


class NotAuthorized(ConnectionRefused):
    default_code = 0x87


class ServerUnavailable(ConnectionRefused):
    default_code = 0x88


_REFUSALS = {
    0x84: UnacceptableProtocolVersion,
    0x85: IdentifierRejected,
    0x86: BadUsernameOrPassword,
    0x87: NotAuthorized,
    0x88: ServerUnavailable,
    0x89: ServerUnavailable,
}


def connection_refused(reason_code: int, reason_string: "str | None" = None) -> ConnectionRefused:
    """The most specific ConnectionRefused subclass for a (v5) CONNACK reason code."""
    cls = _REFUSALS.get(reason_code, ConnectionRefused)
    return cls("connection refused: " + reason_name(reason_code), reason_code, reason_string)
