"""mq: an MQTT 5.0 and 3.1.1 client for CPython, MicroPython and CircuitPython."""

from .codes import AT_LEAST_ONCE, AT_MOST_ONCE, EXACTLY_ONCE, V50, V311, reason_name
from .errors import ClientDisconnected, ConnectionRefused, MalformedPacket, MQTTError, ProtocolError
from .io_client import QOS0_BLOCK, QOS0_DROP, Client, ServerCapabilities, dial
from .io_token import DROPPED, Token
from .proto_conn import LIMIT_IGNORE, LIMIT_STRICT
from .wire_packets import Message, Will
from .wire_props import Properties
from .wire_topic import match_topic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .auth import Authenticator
    from .auth_scram import ScramSHA256
    from .errors_rare import DisconnectError, KeepAliveTimeout, PacketTooLarge, SubscriptionFailed
    from .errors_refused import (
        BadUsernameOrPassword,
        IdentifierRejected,
        NotAuthorized,
        ServerUnavailable,
        UnacceptableProtocolVersion,
    )
    from .io_tls import tls_context
    from .reasons import ReasonCode
    from .store import MemoryStore, PersistedPublish, PersistedSubscription, SessionStore
    from .store_file import FileStore
    from .store_flash import FlashStore

__version__ = "0.1.0"

# Loaded on first use: a client that does not need them does not pay for them in RAM.
_LAZY = {
    "Authenticator": "auth",
    "ScramSHA256": "auth_scram",
    "ReasonCode": "reasons",
    "DisconnectError": "errors_rare",
    "KeepAliveTimeout": "errors_rare",
    "PacketTooLarge": "errors_rare",
    "SubscriptionFailed": "errors_rare",
    "BadUsernameOrPassword": "errors_refused",
    "IdentifierRejected": "errors_refused",
    "NotAuthorized": "errors_refused",
    "ServerUnavailable": "errors_refused",
    "UnacceptableProtocolVersion": "errors_refused",
    "MemoryStore": "store",
    "PersistedPublish": "store",
    "PersistedSubscription": "store",
    "SessionStore": "store",
    "FileStore": "store_file",
    "FlashStore": "store_flash",
    "tls_context": "io_tls",
}


def __getattr__(name: str) -> "object":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(__import__("mq." + module, None, None, [name]), name)


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
