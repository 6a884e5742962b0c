"""What the sans-I/O Protocol reports to its driver: the Listener interface.

Only type checkers and tests import it: the client implements every method itself, so a
device does not load the interface's no-op methods (each function costs heap)."""

from ._compat import const

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Optional
    from typing import Protocol as _Base

    from .proto_session import OutPublish, OutRequest
    from .wire_packets import Message, Packet
    from .wire_props import Properties
else:
    _Base = object


class Listener(_Base):
    """What a Protocol reports. The driver overrides what it needs."""

    def on_connack(self, connack: "Packet") -> None:
        """CONNACK arrived (success or refusal); the session is set up already."""

    def on_message(self, message: "Message") -> None:
        """An application message to deliver (a QoS 2 duplicate never comes here)."""

    def on_publish_done(self, entry: "OutPublish", reason_code: int, properties: "Optional[Properties]") -> None:
        """A QoS 1/2 publish finished: PUBACK, PUBCOMP, or a PUBREC failure."""

    def on_pubrec(self, entry: "OutPublish") -> None:
        """A QoS 2 publish reached the server: only PUBREL/PUBCOMP remain."""

    def on_request_done(self, entry: "OutRequest", ack: "Packet") -> None:
        """SUBACK or UNSUBACK for a request."""

    def on_qos2_received(self, packet_id: int) -> None:
        """An inbound QoS 2 message was delivered; its identifier is held until PUBREL."""

    def on_qos2_released(self, packet_id: int) -> None:
        """PUBREL arrived: the identifier is free again."""

    def on_disconnect(self, packet: "Packet") -> None:
        """The server sent DISCONNECT."""

    def on_auth(self, packet: "Packet") -> None:
        """A re-authentication succeeded: the server's AUTH 0x00 (checked already)."""

    def on_warning(self, text: str) -> None:
        """Something worth a log line that does not end the connection."""
