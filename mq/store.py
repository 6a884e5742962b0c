"""The session store: what a client keeps across a process restart (the Go
``SessionStore``), its two records, and MemoryStore.

A store holds the outgoing QoS 1/2 publishes not yet acknowledged, the
subscriptions, and the packet ids of inbound QoS 2 messages whose PUBREL has not
arrived. The client saves as the flows progress and loads once at start-up.
"""

from collections import OrderedDict

from ._compat import const
from .wire_props import user_props_list

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Set, Tuple

    from .wire_props import Properties, UserProps


def check_packet_id(packet_id: int) -> None:
    if not isinstance(packet_id, int) or packet_id < 1 or packet_id > 65535:
        raise ValueError("packet id out of range: %r" % (packet_id,))


def _items(props: "Optional[Properties]") -> "List[Tuple[str, Any]]":
    # An empty Properties and None store the same bytes, so they compare equal.
    return list(props.items()) if props is not None else []


class PersistedPublish:
    """An outgoing QoS 1/2 PUBLISH awaiting its acknowledgement.

    ``released`` is set once PUBREC has arrived and PUBREL gone out (QoS 2): after a
    restart the client then resends PUBREL, not the PUBLISH (MQTT 5.0 section 4.4).
    """

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool = False,
        properties: "Optional[Properties]" = None,
        released: bool = False,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        self.topic = topic
        self.payload = bytes(payload)  # alloc: the caller may reuse its buffer
        self.qos = qos
        self.retain = bool(retain)
        self.properties = properties
        self.released = bool(released)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PersistedPublish)
            and self.topic == other.topic
            and self.payload == other.payload
            and self.qos == other.qos
            and self.retain == other.retain
            and self.released == other.released
            and _items(self.properties) == _items(other.properties)
        )

    def __repr__(self) -> str:
        return "PersistedPublish(%r, %r, qos=%d, retain=%r, properties=%r, released=%r)" % (
            self.topic, self.payload, self.qos, self.retain, self.properties, self.released,
        )


class PersistedSubscription:
    """A subscription's QoS and options, to subscribe again after a restart.
    ``user_properties`` is a list of (key, value) pairs (a dict is accepted)."""

    def __init__(
        self,
        qos: int,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        subscription_id: "Optional[int]" = None,
        user_properties: "UserProps" = None,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        if retain_handling not in (0, 1, 2):
            raise ValueError("retain_handling must be 0, 1 or 2")
        if subscription_id is not None and not 0 < subscription_id <= 268435455:
            raise ValueError("subscription_id must be 1 to 268435455")
        self.qos = qos
        self.no_local = bool(no_local)
        self.retain_as_published = bool(retain_as_published)
        self.retain_handling = retain_handling
        self.subscription_id = subscription_id
        # None and [] store the same bytes; keep one spelling so records compare equal.
        self.user_properties = user_props_list(user_properties) or None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PersistedSubscription)
            and self.qos == other.qos
            and self.no_local == other.no_local
            and self.retain_as_published == other.retain_as_published
            and self.retain_handling == other.retain_handling
            and self.subscription_id == other.subscription_id
            and self.user_properties == other.user_properties
        )

    def __repr__(self) -> str:
        return (
            "PersistedSubscription(qos=%d, no_local=%r, retain_as_published=%r, retain_handling=%d, "
            "subscription_id=%r, user_properties=%r)"
        ) % (
            self.qos, self.no_local, self.retain_as_published, self.retain_handling,
            self.subscription_id, self.user_properties,
        )


class SessionStore:
    """Persistence of session state across restarts; subclass and implement all twelve.

    Save and delete methods are called as the flows progress (a publish is saved
    before it is sent, deleted on PUBACK or PUBCOMP, saved again with
    ``released=True`` on PUBREC; a received QoS 2 id is saved before PUBREC goes out
    and deleted when PUBCOMP is sent; a subscription is saved on SUBACK and deleted
    on UNSUBACK). Loads happen once, when the client starts. The clear methods run
    when the server has no session for us (session present = 0) or on a clean start.
    An exception from a method means the change may not be durable.
    """

    client_id = ""

    def save_pending_publish(self, packet_id: int, pub: PersistedPublish) -> None:
        raise NotImplementedError

    def delete_pending_publish(self, packet_id: int) -> None:
        raise NotImplementedError

    def load_pending_publishes(self) -> "Dict[int, PersistedPublish]":
        """By packet id, in the order they were first saved (the order they were sent,
        which a resend must keep, MQTT 5.0 section 4.6). The stores return an
        OrderedDict, as MicroPython's dict keeps no order; there an OrderedDict never
        equals a plain dict, so compare ``dict(...)``."""
        raise NotImplementedError

    def clear_pending_publishes(self) -> None:
        raise NotImplementedError

    def save_subscription(self, topic: str, sub: PersistedSubscription) -> None:
        raise NotImplementedError

    def delete_subscription(self, topic: str) -> None:
        raise NotImplementedError

    def load_subscriptions(self) -> "Dict[str, PersistedSubscription]":
        raise NotImplementedError

    def save_received_qos2(self, packet_id: int) -> None:
        raise NotImplementedError

    def delete_received_qos2(self, packet_id: int) -> None:
        raise NotImplementedError

    def load_received_qos2(self) -> "Set[int]":
        raise NotImplementedError

    def clear_received_qos2(self) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


class MemoryStore(SessionStore):
    """Keeps the state in RAM: it survives reconnects, not a restart. Records are
    kept by reference, as the client gave them."""

    def __init__(self, client_id: str = "") -> None:
        self.client_id = client_id
        self._pending: "Dict[int, PersistedPublish]" = OrderedDict()  # send order, on MicroPython too
        self._subs: "Dict[str, PersistedSubscription]" = {}
        self._qos2: "Set[int]" = set()

    def save_pending_publish(self, packet_id: int, pub: PersistedPublish) -> None:
        check_packet_id(packet_id)
        self._pending[packet_id] = pub

    def delete_pending_publish(self, packet_id: int) -> None:
        self._pending.pop(packet_id, None)

    def load_pending_publishes(self) -> "Dict[int, PersistedPublish]":
        return OrderedDict(self._pending)

    def clear_pending_publishes(self) -> None:
        self._pending = OrderedDict()

    def save_subscription(self, topic: str, sub: PersistedSubscription) -> None:
        self._subs[topic] = sub

    def delete_subscription(self, topic: str) -> None:
        self._subs.pop(topic, None)

    def load_subscriptions(self) -> "Dict[str, PersistedSubscription]":
        return dict(self._subs)

    def save_received_qos2(self, packet_id: int) -> None:
        check_packet_id(packet_id)
        self._qos2.add(packet_id)

    def delete_received_qos2(self, packet_id: int) -> None:
        self._qos2.discard(packet_id)

    def load_received_qos2(self) -> "Set[int]":
        return set(self._qos2)

    def clear_received_qos2(self) -> None:
        self._qos2 = set()

    def clear(self) -> None:
        self.clear_pending_publishes()
        self.clear_received_qos2()
        self._subs = {}
