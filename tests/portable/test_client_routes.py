"""Which handlers a message reaches (io_subs.Subscriptions.handlers_for), and that the
last answer it keeps never outlives a change of the subscriptions."""

from support import MICROPYTHON, SkipTest

from mq.io_client import Client
from mq.io_subs import Subscription, Subscriptions
from mq.wire_packets import Message

if MICROPYTHON:
    import gc

    import micropython


def h1(client, message):
    pass


def h2(client, message):
    pass


def _names(handlers):
    return sorted(h.__name__ for h in handlers)


def test_a_topic_already_routed_follows_added_replaced_and_removed_subscriptions():
    subs = Subscriptions()
    subs.add(Subscription("a/#", 0, h1))
    assert _names(subs.handlers_for("a/b", None)) == ["h1"]
    assert _names(subs.handlers_for("a/b", None)) == ["h1"]  # the kept answer
    subs.add(Subscription("a/+", 0, h2))
    assert _names(subs.handlers_for("a/b", None)) == ["h1", "h2"]
    subs.add(Subscription("a/#", 0, h2))  # the same filter, another handler
    assert _names(subs.handlers_for("a/b", None)) == ["h2"]
    subs.remove("a/+")
    subs.remove("a/#")
    assert subs.handlers_for("a/b", None) == []
    assert subs.handlers_for("x", None) == []


def test_an_identifier_decides_alone_only_when_every_subscription_has_one():
    subs = Subscriptions()
    a = Subscription("a/#", 0, h1)
    subs.add(a)
    subs.number(a, True)
    b = Subscription("b/#", 0, h2)
    subs.add(b)
    subs.number(b, False)  # a server without identifiers: b is matched by topic
    assert a.sid is not None and b.sid is None
    assert _names(subs.handlers_for("b/1", [a.sid])) == ["h1", "h2"]
    assert _names(subs.handlers_for("c/1", [a.sid])) == ["h1"]
    subs.number(b, True)
    assert b.sid is not None and b.sid != a.sid
    assert _names(subs.handlers_for("b/1", [a.sid])) == ["h1"]
    assert _names(subs.handlers_for("b/1", [b.sid])) == ["h2"]
    assert _names(subs.handlers_for("b/1", [a.sid, b.sid])) == ["h1", "h2"]
    subs.number(a, False)  # renumbered: the identifier no longer leads to a
    assert subs.handlers_for("z/1", [b.sid]) == [h2]
    assert _names(subs.handlers_for("a/1", [b.sid])) == ["h1", "h2"]


def test_a_repeated_topic_or_identifier_is_routed_without_allocating():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    subs = Subscriptions()
    s = Subscription("sensors/+/temp", 1, h1)
    subs.add(s)
    subs.number(s, True)
    ids = [s.sid]
    for topic, sids in (("sensors/a/temp", None), ("sensors/a/temp", ids)):
        first = subs.handlers_for(topic, sids)
        micropython.heap_lock()
        try:
            again = subs.handlers_for(topic, sids)
        finally:
            micropython.heap_unlock()
        assert again is first and again == [h1]


def test_a_message_no_subscription_takes_reaches_the_default_handler_at_no_extra_cost():
    counts = [0, 0]

    def on_sub(client, message):
        counts[0] += 1

    def on_any(client, message):
        counts[1] += 1

    c = Client("mqtt://127.0.0.1:1", default_handler=on_any, subscriptions={"a/#": on_sub})
    routed, unrouted = Message("a/1", b"x"), Message("b/1", b"x")
    c.on_message(routed)
    c.on_message(unrouted)
    assert counts == [1, 1]
    if not MICROPYTHON:
        return

    def allocated(message):
        # What 20 deliveries allocate, the collector off (gc.mem_alloc() counts every block).
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(20):
                c.on_message(message)
            return gc.mem_alloc() - before
        finally:
            gc.enable()

    allocated(routed)  # (the first count after a collection is lower: left out)
    assert allocated(unrouted) == allocated(routed)
    assert counts == [41, 21]
