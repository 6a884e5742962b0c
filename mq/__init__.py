"""mq: an MQTT 5.0 and 3.1.1 client for CPython, MicroPython and CircuitPython."""

from .auth import Authenticator
from .codes import AT_LEAST_ONCE, AT_MOST_ONCE, EXACTLY_ONCE, V50, V311, ReasonCode, reason_name
from .errors import (
    BadUsernameOrPassword,
    ClientDisconnected,
    ConnectionRefused,
    DisconnectError,
    IdentifierRejected,
    KeepAliveTimeout,
    MalformedPacket,
    MQTTError,
    NotAuthorized,
    PacketTooLarge,
    ProtocolError,
    ServerUnavailable,
    SubscriptionFailed,
    UnacceptableProtocolVersion,
)
from .io_client import QOS0_BLOCK, QOS0_DROP, Client, ServerCapabilities, dial
from .io_token import DROPPED, Token
from .io_transport import tls_context
from .proto_conn import LIMIT_IGNORE, LIMIT_STRICT
from .store import MemoryStore, PersistedPublish, PersistedSubscription, SessionStore
from .wire_packets import Message, Will
from .wire_props import Properties
from .wire_topic import match_topic

__version__ = "0.1.0"


def __getattr__(name: str) -> "object":
    # The file and flash stores load on first use: a client without one does not pay
    # for them in RAM.
    if name == "FileStore":
        from .store_file import FileStore

        return FileStore
    if name == "FlashStore":
        from .store_flash import FlashStore

        return FlashStore
    if name == "ScramSHA256":
        from .auth_scram import ScramSHA256

        return ScramSHA256
    raise AttributeError(name)

__all__ = [
    "LIMIT_IGNORE", "LIMIT_STRICT", "QOS0_BLOCK", "QOS0_DROP", "Client", "KeepAliveTimeout",
    "DROPPED", "ServerCapabilities", "Token", "dial", "tls_context",
    "AT_LEAST_ONCE", "AT_MOST_ONCE", "EXACTLY_ONCE", "V50", "V311", "BadUsernameOrPassword",
    "ClientDisconnected", "ConnectionRefused", "DisconnectError", "IdentifierRejected",
    "MQTTError", "MalformedPacket", "Message", "NotAuthorized", "PacketTooLarge", "Properties",
    "ProtocolError", "ReasonCode", "ServerUnavailable", "SubscriptionFailed",
    "UnacceptableProtocolVersion", "Will", "match_topic", "reason_name",
    "Authenticator", "ScramSHA256",
    "FileStore", "FlashStore", "MemoryStore", "PersistedPublish", "PersistedSubscription", "SessionStore",
]
