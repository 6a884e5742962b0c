"""Between the client and its SessionStore: records made from the protocol's session
state, and the state rebuilt from a store when the process starts."""

from ._compat import const
from .proto_session import RELEASED, SENT, OutPublish
from .store import PersistedPublish, PersistedSubscription
from .wire_props import EncodedProperties

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, List

    from .io_subs import Subscription, Subscriptions
    from .proto_session import Session
    from .store import SessionStore

_PUBLISH = 3


def persisted_publish(e: OutPublish) -> PersistedPublish:
    return PersistedPublish(e.topic.decode(), e.payload, e.qos, e.retain, e.properties, e.state == RELEASED)


def persisted_subscription(sub: "Subscription") -> PersistedSubscription:
    # The identifier the server was given, the client's own included: a session the
    # server kept tags messages with it after a restart too.
    return PersistedSubscription(
        sub.qos, sub.no_local, sub.retain_as_published, sub.retain_handling, sub.sid, sub.user_properties,
    )


def restore(store: "SessionStore", session: "Session", subs: "Subscriptions", make_sub: "Any") -> "List[int]":
    """Put the stored publishes and QoS 2 ids back into the session, and add stored
    subscriptions that ``subscriptions=`` did not name (their messages go to the
    default handler). Returns the restored packet ids, in send order."""
    pids = []
    for pid, p in store.load_pending_publishes().items():
        props = EncodedProperties(p.properties, _PUBLISH) if p.properties is not None else None
        e = OutPublish(p.topic.encode(), p.payload, p.qos, p.retain, props, False, p.properties, None)
        # Sent by the earlier process (it is saved before it leaves): a resend, DUP set.
        e.state = RELEASED if p.released else SENT
        e.conn = -1
        e.seq = session.next_seq()
        session.restore(e, pid)  # _resume on CONNACK sends it again
        pids.append(pid)
    session.qos2_in = set(store.load_received_qos2())
    for flt, s in store.load_subscriptions().items():
        sub = subs.get(flt)
        if sub is None:
            sub = make_sub(flt, s)
            sub.subscription_id = None
        if sub.subscription_id is None and sub.auto_id is None:
            # Kept as the client's own: the server's session may tag messages with it,
            # so it must still lead to this subscription and never be given to another.
            sub.auto_id = s.subscription_id
        subs.add(sub)  # after its identifier is set: add() drops the routes kept so far
    return pids
