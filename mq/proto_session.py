"""Session state that outlives a network connection (MQTT 5.0 section 4.1):
outgoing QoS 1/2 messages and requests by packet identifier, the queue of those
not yet sent, and the identifiers of inbound QoS 2 messages awaiting PUBREL."""

from ._compat import const

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Set, Union

    from .wire_packets import Packet
    from .wire_props import EncodedProperties, Properties

QUEUED = const(0)  # not sent on this connection yet
SENT = const(1)  # PUBLISH sent, waiting for PUBACK or PUBREC
RELEASED = const(2)  # PUBREL sent, waiting for PUBCOMP


class OutPublish:
    """An outgoing PUBLISH from publish() until its flow completes."""

    # Defaults live in the class, so that an instance holds only what differs: on
    # MicroPython each instance attribute costs 16 bytes, and every message in flight
    # has one of these.
    packet_id = 0
    retain = False
    props: "Optional[EncodedProperties]" = None  # encoded, ready to write
    properties: "Optional[Properties]" = None  # as given, for the session store
    alias = False
    state = QUEUED
    seq = 0  # send order, for resending in order
    # The connection it was last sent on (Protocol.conn_no, from 1), 0 if never, -1 if
    # by an earlier process (restored from a store). Not 0: a copy is a resend, with
    # DUP. (One attribute for both: on MicroPython a ninth would grow the instance's
    # table, 64 B more for every message in flight.)
    conn = 0

    def __init__(
        self,
        topic: bytes,
        payload: bytes,
        qos: int,
        retain: bool = False,
        props: "Optional[EncodedProperties]" = None,
        alias: bool = False,
        properties: "Optional[Properties]" = None,
        ref: "Any" = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.ref = ref  # the driver's token
        if retain:
            self.retain = retain
        if props is not None:
            self.props = props
        if properties is not None:
            self.properties = properties
        if alias:
            self.alias = alias


class OutRequest:
    """An outgoing SUBSCRIBE or UNSUBSCRIBE until its acknowledgement."""

    def __init__(self, packet: "Packet", ref: "Any" = None) -> None:
        self.packet = packet
        self.packet_id = 0
        self.ref = ref
        self.extra: "Any" = None  # the driver's own note (its subscription record)
        self.state = QUEUED


class Session:
    def __init__(self) -> None:
        self.inflight: "Dict[int, Union[OutPublish, OutRequest]]" = {}
        self.queue: "List[Union[OutPublish, OutRequest]]" = []
        self.qos2_in: "Set[int]" = set()
        self._next_id = 0
        # Identifiers in flight may be ahead of _next_id (it wrapped, or restore() put
        # old ones back): only then is a new one looked up in inflight first.
        self._reuse = False
        self._seq = 0

    def assign(self, entry: "Union[OutPublish, OutRequest]") -> int:
        """Give entry a packet identifier that nothing in flight uses."""
        inflight = self.inflight
        pid = self._next_id
        if pid < 65535 and not self._reuse:
            # Above every identifier in flight (so fewer than 65535 are). Not looked up:
            # MicroPython marks a deleted entry instead of emptying its slot, and a
            # missing key is searched for past every mark, so in a dict whose keys move
            # on (one up for each message, the acknowledged ones deleted) each miss soon
            # scans the whole table.
            pid += 1
        else:
            if len(inflight) >= 65535:
                raise OverflowError("all 65535 packet identifiers are in use")
            self._reuse = True
            while True:
                pid = pid + 1 if pid < 65535 else 1
                if pid not in inflight:
                    break
        self._next_id = pid
        entry.packet_id = pid
        inflight[pid] = entry
        return pid

    def restore(self, entry: OutPublish, packet_id: int) -> None:
        """Put back a publish loaded from a session store under its old identifier."""
        entry.packet_id = packet_id
        self.inflight[packet_id] = entry
        self._reuse = True

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def pending_publishes(self) -> "List[OutPublish]":
        """In-flight publishes in the order they were first sent (queued ones last)."""
        out = [e for e in self.inflight.values() if isinstance(e, OutPublish)]
        out.sort(key=_order)
        return out

    def clear(self) -> None:
        self.inflight = {}
        self._reuse = False
        self.queue = []
        self.qos2_in = set()


def _order(e: OutPublish) -> int:
    return e.seq if e.seq else 1 << 60
