"""The exceptions of failures a healthy session does not meet: a packet over the size
limit, a keepalive timeout, a refused subscription, the server's DISCONNECT. Loaded
with the first of them (or when the application names one, through the package's lazy
names): a client that connects and publishes does not pay for them in heap."""

from ._compat import const
from .codes import reason_name
from .errors import MQTTError, ProtocolError

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from .wire_props import Properties


class PacketTooLarge(ProtocolError):
    """A packet exceeds the maximum packet size (0x95)."""

    default_code = 0x95


class KeepAliveTimeout(MQTTError):
    """The server did not answer PINGREQ in time: the connection is dead (0x8D)."""

    default_code = 0x8D


class SubscriptionFailed(MQTTError):
    """The server refused a subscription filter (SUBACK code >= 0x80)."""


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
