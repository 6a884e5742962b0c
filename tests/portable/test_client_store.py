"""The client with a session store, across "restarts" (a new Client on a new store
object over the same directory): what is stored when, subscriptions made again when
the server lost the session (their handlers re-attached, orphans to the default
handler), clean starts, fast wake from a store, and strict discard on session loss."""

import asyncio

from fakebroker import FakeBroker
from support import araises, control, hexlify, run

import mq
from mq import PersistedPublish, PersistedSubscription
from mq.wire_packets import (
    CONNECT,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    Ack,
    Connack,
    Message,
    SubAck,
)
from mq.wire_props import Properties

WAIT = 5  # s: a coarse upper bound for anything that should happen at once


class Log:
    """A logger that keeps warnings and errors: a store failure must not go unseen."""

    def __init__(self):
        self.lines = []

    def debug(self, msg, *args, **kw):
        pass

    info = debug

    def warning(self, msg, *args, **kw):
        self.lines.append(msg % args if args else msg)

    error = warning
    exception = warning


class Inbox:
    """A handler that records (topic, payload)."""

    def __init__(self):
        self.got = []

    def __call__(self, client, message):
        self.got.append((message.topic, bytes(message.payload)))


def _client(url, store_dir, client_id, log, **opts):
    """A new "process": a Client over a new FileStore object on the same directory."""
    o = {
        "client_id": client_id,
        "clean_start": False,
        "session_expiry": 600,
        "auto_reconnect": False,
        "connect_timeout": WAIT,
        "logger": log,
        "store": mq.FileStore(store_dir, client_id),
    }
    o.update(opts)
    return mq.Client(url, **o)


async def _connected(fb, client, connack):
    """Connect client to the fake broker and answer connack; return the connection."""
    task = asyncio.create_task(client.connect())
    conn = await fb.accept(WAIT)
    p = await conn.recv(WAIT)
    assert p.type == CONNECT and p.clean_start is False, p
    conn.send_packet(connack)
    await asyncio.wait_for(task, WAIT)
    return conn


def _pending(store_dir, client_id):
    """The pending publishes on disk, read through a fresh store object."""
    return mq.FileStore(store_dir, client_id).load_pending_publishes()


def _pending_payloads(store_dir, client_id):
    return [p.payload for p in _pending(store_dir, client_id).values()]


# -- a. subscriptions restored after a restart ------------------------------------------


async def _subscriptions_restored():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    clients = []
    old = Inbox()
    try:
        # Process 1: one filter from subscriptions=, one from subscribe(); both SUBACKed.
        c1 = _client(fb.url, store_dir, "subs", log, subscriptions={"a/#": (old, 1)})
        clients.append(c1)
        conn = await _connected(fb, c1, Connack(False, 0))
        s1 = await conn.recv(WAIT)
        assert s1.type == SUBSCRIBE and s1.topics == [("a/#", 1)], s1
        tok = c1.subscribe("b/+", 2, handler=old, no_local=True, retain_handling=1, user_properties={"k": "v"})
        s2 = await conn.recv(WAIT)
        assert s2.type == SUBSCRIBE and s2.topics[0][0] == "b/+", s2
        conn.send_packet(SubAck(SUBACK, s1.packet_id, [1]))
        conn.send_packet(SubAck(SUBACK, s2.packet_id, [2]))
        await tok.wait(WAIT)  # its SUBACK came second: both are processed
        # Stored with the subscription identifiers the client chose (the server tags messages with them).
        (id_a,) = s1.properties.subscription_identifier
        (id_b,) = s2.properties.subscription_identifier
        stored_b = PersistedSubscription(2, no_local=True, retain_handling=1, subscription_id=id_b,
                                         user_properties=[("k", "v")])
        stored = mq.FileStore(store_dir, "subs").load_subscriptions()
        assert stored == {"a/#": PersistedSubscription(1, subscription_id=id_a), "b/+": stored_b}, stored
        await c1.disconnect()

        # Process 2 names only the first filter; the server has no session.
        new = Inbox()
        orphan = Inbox()
        c2 = _client(fb.url, store_dir, "subs", log, subscriptions={"a/#": (new, 1)}, default_handler=orphan)
        clients.append(c2)
        conn = await _connected(fb, c2, Connack(False, 0))
        subs = {}
        for _ in range(2):  # in no particular order: MicroPython's dict keeps none
            s = await conn.recv(WAIT)
            assert s.type == SUBSCRIBE and len(s.topics) == 1, s
            subs[s.topics[0][0]] = s
        assert sorted(subs) == ["a/#", "b/+"], subs
        assert subs["a/#"].topics == [("a/#", 1)]
        # The stored QoS and options: QoS 2 | No Local | Retain Handling 1.
        assert subs["b/+"].topics == [("b/+", 2 | 0x04 | 1 << 4)], subs["b/+"]
        assert subs["b/+"].properties.user_properties == [("k", "v")], subs["b/+"].properties
        assert subs["a/#"].properties.subscription_identifier == [id_a], subs["a/#"].properties
        assert subs["b/+"].properties.subscription_identifier == [id_b], subs["b/+"].properties
        for s in subs.values():
            conn.send_packet(SubAck(SUBACK, s.packet_id, [s.topics[0][1] & 3]))
        # The server tags each message with the identifier of the subscription it matched.
        conn.send_packet(Message("a/1", b"one", 1, packet_id=1, properties=Properties(subscription_identifier=[id_a])))
        conn.send_packet(Message("b/1", b"two", 1, packet_id=2, properties=Properties(subscription_identifier=[id_b])))
        for pid in (1, 2):  # a synchronous handler has run before its PUBACK is queued
            a = await conn.recv_type(PUBACK, WAIT)
            assert a.packet_id == pid, a
        assert new.got == [("a/1", b"one")], new.got  # the re-attached handler
        assert orphan.got == [("b/1", b"two")], orphan.got  # the orphan's, to default_handler
        assert old.got == [], old.got
        assert log.lines == [], log.lines
    finally:
        for c in clients:
            await c.disconnect(timeout=1)
        await fb.aclose()


def test_subscriptions_restored_after_restart():
    run(_subscriptions_restored())


async def _subscription_ids_kept_with_session():
    # The server kept the session (and the identifiers it tags messages with): after a
    # restart, a new subscription must not take the identifier of a restored one, or it
    # would receive that one's messages too.
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    clients = []
    try:
        c1 = _client(fb.url, store_dir, "sids", log, subscriptions={"a/#": (Inbox(), 1)})
        clients.append(c1)
        conn = await _connected(fb, c1, Connack(False, 0))
        s1 = await conn.recv(WAIT)
        tok = c1.subscribe("b/+", 1, handler=Inbox())
        s2 = await conn.recv(WAIT)
        conn.send_packet(SubAck(SUBACK, s1.packet_id, [1]))
        conn.send_packet(SubAck(SUBACK, s2.packet_id, [1]))
        await tok.wait(WAIT)
        held = s1.properties.subscription_identifier + s2.properties.subscription_identifier
        await c1.disconnect()

        a = Inbox()
        c = Inbox()
        orphan = Inbox()
        c2 = _client(fb.url, store_dir, "sids", log, subscriptions={"a/#": (a, 1)}, default_handler=orphan)
        clients.append(c2)
        conn = await _connected(fb, c2, Connack(True, 0))
        tok = c2.subscribe("c/#", 1, handler=c)
        s3 = await conn.recv(WAIT)
        assert s3.type == SUBSCRIBE and s3.topics == [("c/#", 1)], s3  # the only request: nothing re-subscribed
        (id_c,) = s3.properties.subscription_identifier
        assert id_c not in held, (id_c, held)
        conn.send_packet(SubAck(SUBACK, s3.packet_id, [1]))
        await tok.wait(WAIT)
        for i, (topic, sid) in enumerate((("a/1", held[0]), ("b/1", held[1]), ("c/1", id_c))):
            props = Properties(subscription_identifier=[sid])
            conn.send_packet(Message(topic, b"m", 1, packet_id=i + 1, properties=props))
            assert (await conn.recv_type(PUBACK, WAIT)).packet_id == i + 1
        assert a.got == [("a/1", b"m")], a.got
        assert orphan.got == [("b/1", b"m")], orphan.got
        assert c.got == [("c/1", b"m")], c.got
        assert log.lines == [], log.lines
    finally:
        for cl in clients:
            await cl.disconnect(timeout=1)
        await fb.aclose()


def test_subscription_ids_kept_across_restart_with_session():
    run(_subscription_ids_kept_with_session())


async def _subscriptions_restored_mosquitto():
    # The same against a real broker whose session ends with the connection
    # (session_expiry=0): process 2 finds no session and subscribes both again.
    b = await control("broker")
    url = b["url"]
    store_dir = await control("tempdir")
    log = Log()
    clients = []
    try:
        c1 = _client(url, store_dir, "subs-mosq", log, session_expiry=0, subscriptions={"a/#": (Inbox(), 1)})
        clients.append(c1)
        await c1.connect()
        await c1.subscribe("b/+", 1, handler=Inbox())
        # SUBACKs come in order: the one of subscriptions= is in by now.
        assert sorted(mq.FileStore(store_dir, "subs-mosq").load_subscriptions()) == ["a/#", "b/+"]
        await c1.disconnect()

        arrived = asyncio.Event()
        new = Inbox()
        orphan = Inbox()

        def on_orphan(client, message):
            orphan(client, message)
            arrived.set()

        c2 = _client(url, store_dir, "subs-mosq", log, session_expiry=0, subscriptions={"a/#": (new, 1)},
                     default_handler=on_orphan)
        clients.append(c2)
        await c2.connect()
        assert not c2.session_present
        # Requests go in order and SUBACKs come back in order: once this one is done,
        # the two automatic ones are too.
        await c2.subscribe("sync/x", 0, handler=Inbox(), persist=False).wait(WAIT)
        await control("paho_publish", url=url, topic="a/1", payload=hexlify(b"one"), qos=1)
        await control("paho_publish", url=url, topic="b/1", payload=hexlify(b"two"), qos=1)
        await asyncio.wait_for(arrived.wait(), WAIT)  # the broker sent a/1 first
        assert new.got == [("a/1", b"one")], new.got
        assert orphan.got == [("b/1", b"two")], orphan.got
        assert log.lines == [], log.lines
    finally:
        for c in clients:
            await c.disconnect(timeout=1)


def test_subscriptions_restored_after_restart_mosquitto():
    run(_subscriptions_restored_mosquitto())


# -- b. what subscriptions are stored ------------------------------------------------------


async def _subscriptions_persist_false_and_unsubscribe():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    client = None
    try:
        client = _client(fb.url, store_dir, "subs-b", log)
        conn = await _connected(fb, client, Connack(False, 0))
        t1 = client.subscribe("keep/#", 1, handler=Inbox())
        t2 = client.subscribe("temp/#", 1, handler=Inbox(), persist=False)
        for _ in range(2):
            s = await conn.recv(WAIT)
            assert s.type == SUBSCRIBE, s
            conn.send_packet(SubAck(SUBACK, s.packet_id, [1]))
        await t1.wait(WAIT)
        await t2.wait(WAIT)
        stored = mq.FileStore(store_dir, "subs-b").load_subscriptions()
        assert list(stored) == ["keep/#"] and stored["keep/#"].qos == 1, stored  # persist=False is not stored

        t3 = client.unsubscribe("keep/#")
        u = await conn.recv(WAIT)
        assert u.type == UNSUBSCRIBE and u.topics == ["keep/#"], u
        # Still stored until the server confirms.
        assert list(mq.FileStore(store_dir, "subs-b").load_subscriptions()) == ["keep/#"]
        conn.send_packet(SubAck(UNSUBACK, u.packet_id, [0]))
        await t3.wait(WAIT)
        stored = mq.FileStore(store_dir, "subs-b").load_subscriptions()
        assert stored == {}, stored
        assert log.lines == [], log.lines
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_persist_false_not_stored_and_unsubscribe_deletes():
    run(_subscriptions_persist_false_and_unsubscribe())


# -- c. clean start ----------------------------------------------------------------------------


async def _clean_start_clears_store():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    client = None
    try:
        s = mq.FileStore(store_dir, "clean")
        s.save_pending_publish(1, PersistedPublish("t/1", b"old", 1))
        s.save_pending_publish(2, PersistedPublish("t/2", b"old", 2, released=True))
        s.save_subscription("s/#", PersistedSubscription(1))
        s.save_received_qos2(5)
        client = _client(fb.url, store_dir, "clean", log, clean_start=True)
        after = mq.FileStore(store_dir, "clean")
        assert dict(after.load_pending_publishes()) == {}
        assert after.load_subscriptions() == {}
        assert after.load_received_qos2() == set()
        # Nothing of the old session reaches the wire either.
        task = asyncio.create_task(client.connect())
        conn = await fb.accept(WAIT)
        p = await conn.recv(WAIT)
        assert p.type == CONNECT and p.clean_start is True, p
        conn.send_packet(Connack(False, 0))
        await asyncio.wait_for(task, WAIT)
        client.publish("marker", b"", qos=0)
        m = await conn.recv(WAIT)
        assert m.type == PUBLISH and m.topic == "marker", m
        assert log.lines == [], log.lines
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_clean_start_clears_the_store():
    run(_clean_start_clears_store())


# -- d. publishes in the store -----------------------------------------------------------------


async def _publish_durable_on_return():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    client = None
    try:
        client = _client(fb.url, store_dir, "pubs", log)
        conn = await _connected(fb, client, Connack(False, 0))

        tok = client.publish("d/1", b"one", qos=1)
        pending = _pending(store_dir, "pubs")  # no await in between: durable on return
        assert list(pending.values()) == [PersistedPublish("d/1", b"one", 1)], pending
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and list(pending) == [p.packet_id], (p, pending)
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert dict(_pending(store_dir, "pubs")) == {}  # deleted on PUBACK

        tok = client.publish("d/2", b"two", qos=2, content_type="text/plain", user_properties={"u": "1"})
        props = Properties(content_type="text/plain", user_properties=[("u", "1")])
        pending = _pending(store_dir, "pubs")
        assert list(pending.values()) == [PersistedPublish("d/2", b"two", 2, properties=props)], pending
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and list(pending) == [p.packet_id], (p, pending)
        conn.send_packet(Ack(PUBREC, p.packet_id))
        r = await conn.recv(WAIT)  # saved as released before PUBREL is queued
        assert r.type == PUBREL and r.packet_id == p.packet_id, r
        pending = _pending(store_dir, "pubs")
        want = PersistedPublish("d/2", b"two", 2, properties=props, released=True)
        assert list(pending.values()) == [want], pending
        assert pending[p.packet_id].released is True
        conn.send_packet(Ack(PUBCOMP, p.packet_id))
        await tok.wait(WAIT)
        assert dict(_pending(store_dir, "pubs")) == {}  # deleted on PUBCOMP
        assert log.lines == [], log.lines
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_publish_durable_on_return_and_deleted_when_acknowledged():
    run(_publish_durable_on_return())


# -- e. fast wake from a store -----------------------------------------------------------------


async def _recv_n(conn, n):
    # A loop, not a comprehension: MicroPython has no await inside one.
    got = []
    for _ in range(n):
        got.append(await conn.recv(WAIT))
    return got


def _check_early(got, want):
    assert [(p.type, p.topic, bytes(p.payload), p.dup) for p in got] == want, got


async def _fast_wake_refused():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    client = None
    try:
        # Process 1 never reaches the server: its publishes wait in the store.
        c1 = _client(fb.url, store_dir, "wake", log)
        c1.publish("w/1", b"one", qos=1)
        c1.publish("w/2", b"two", qos=2)
        assert _pending_payloads(store_dir, "wake") == [b"one", b"two"]

        # Process 2 publishes once more, then connects: the first follows CONNECT (a new
        # process knows no Receive Maximum yet, so one at most).
        c2 = _client(fb.url, store_dir, "wake", log)
        c2.publish("w/3", b"three", qos=1)
        task = asyncio.create_task(c2.connect())
        conn = await fb.accept(WAIT)
        assert (await conn.recv(WAIT)).type == CONNECT
        early = await _recv_n(conn, 1)  # no CONNACK sent yet
        _check_early(early, [(PUBLISH, "w/1", b"one", True)])
        conn.send_packet(Connack(False, 0x88))  # server unavailable
        e = await araises(mq.ConnectionRefused, asyncio.wait_for(task, WAIT))
        assert e.reason_code == 0x88 and isinstance(e, mq.ServerUnavailable), e
        assert _pending_payloads(store_dir, "wake") == [b"one", b"two", b"three"]

        # Process 3 (through dial): sent early again, refused again, still stored.
        task = asyncio.create_task(mq.dial(fb.url, client_id="wake", clean_start=False, session_expiry=600,
                                           auto_reconnect=False, logger=log, store=mq.FileStore(store_dir, "wake")))
        conn = await fb.accept(WAIT)
        assert (await conn.recv(WAIT)).type == CONNECT
        early = await _recv_n(conn, 1)
        _check_early(early, [(PUBLISH, "w/1", b"one", True)])
        conn.send_packet(Connack(False, 0x87))  # not authorized
        e = await araises(mq.ConnectionRefused, asyncio.wait_for(task, WAIT))
        assert e.reason_code == 0x87 and isinstance(e, mq.NotAuthorized), e
        assert _pending_payloads(store_dir, "wake") == [b"one", b"two", b"three"]

        # Process 4 is accepted with the session: nothing is sent twice, the acks empty the store.
        client = _client(fb.url, store_dir, "wake", log)
        task = asyncio.create_task(client.connect())
        conn = await fb.accept(WAIT)
        assert (await conn.recv(WAIT)).type == CONNECT
        early = await _recv_n(conn, 1)
        conn.send_packet(Connack(True, 0))
        await asyncio.wait_for(task, WAIT)
        early += await _recv_n(conn, 2)  # the rest once CONNACK told the window
        _check_early(early, [(PUBLISH, "w/1", b"one", True), (PUBLISH, "w/2", b"two", True),
                             (PUBLISH, "w/3", b"three", True)])
        conn.send_packet(Ack(PUBACK, early[0].packet_id))
        conn.send_packet(Ack(PUBREC, early[1].packet_id))
        r = await conn.recv(WAIT)
        assert r.type == PUBREL and r.packet_id == early[1].packet_id, r
        conn.send_packet(Ack(PUBCOMP, early[1].packet_id))
        conn.send_packet(Ack(PUBACK, early[2].packet_id))
        tok = client.publish("w/4", b"four", qos=1)
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and p.topic == "w/4", p  # nothing resent before it
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)  # acknowledged after the others: they are done too
        assert dict(_pending(store_dir, "wake")) == {}
        assert log.lines == [], log.lines
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_fast_wake_sends_stored_publishes_behind_connect_and_keeps_them_when_refused():
    run(_fast_wake_refused())


async def _fast_wake_cap():
    fb = await FakeBroker().start()
    log = Log()
    lost = asyncio.Event()
    connected = asyncio.Event()
    client = None
    try:
        # Within one process the last Receive Maximum is known: up to 10 go early.
        task = asyncio.create_task(mq.dial(
            fb.url, client_id="cap", clean_start=False, session_expiry=600, logger=log,
            reconnect_delay=0.01, reconnect_max_delay=0.05, on_connection_lost=lambda c, e: lost.set(),
            on_connect=lambda c: connected.set(),
        ))
        conn = await fb.accept(WAIT)
        await conn.recv(WAIT)
        conn.send_packet(Connack(False, 0, Properties(receive_maximum=20)))
        client = await asyncio.wait_for(task, WAIT)
        connected.clear()
        conn.close()
        await asyncio.wait_for(lost.wait(), WAIT)
        for i in range(12):
            client.publish("c/%d" % i, b"%d" % i, qos=1)
        conn = await fb.accept(WAIT)
        assert (await conn.recv(WAIT)).type == CONNECT
        early = await _recv_n(conn, 10)  # at most 10 before CONNACK
        assert [p.topic for p in early] == ["c/%d" % i for i in range(10)], early
        conn.send_packet(Connack(True, 0, Properties(receive_maximum=10)))
        await asyncio.wait_for(connected.wait(), WAIT)
        client.publish("marker", b"", qos=0)
        m = await conn.recv(WAIT)
        assert m.type == PUBLISH and m.topic == "marker", m  # the window is full: 11 and 12 wait
        conn.send_packet(Ack(PUBACK, early[0].packet_id))
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and p.topic == "c/10", p
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_fast_wake_sends_at_most_ten_before_connack():
    run(_fast_wake_cap())


async def _wake_cycle_fast_wake():
    # ports/common/sensor_app.py: the reading is published before connect(), so it
    # follows CONNECT without waiting for CONNACK.
    import sys

    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    sys.path.insert(0, here + "/../../ports/common")
    try:
        from sensor_app import wake_cycle
    finally:
        sys.path.pop(0)

    fb = await FakeBroker().start()
    task = None
    try:
        store = mq.MemoryStore("wake-app")
        task = asyncio.create_task(wake_cycle(fb.url, "wake-app", store, lambda: b"21.5", "s/wake-app",
                                              logger=Log(), connect_timeout=WAIT))
        conn = await fb.accept(WAIT)
        assert (await conn.recv(WAIT)).type == CONNECT
        p = await conn.recv(WAIT)  # before any CONNACK
        assert p.type == PUBLISH and p.topic == "s/wake-app" and p.payload == b"21.5" and p.qos == 1, p
        assert [x.payload for x in store.load_pending_publishes().values()] == [b"21.5"]
        conn.send_packet(Connack(False, 0))
        s = await conn.recv(WAIT)  # no session: the command subscription is made
        assert s.type == SUBSCRIBE and s.topics == [("cmd/wake-app", 1)], s
        conn.send_packet(SubAck(SUBACK, s.packet_id, [1]))
        conn.send_packet(Ack(PUBACK, p.packet_id))
        assert await asyncio.wait_for(task, WAIT) == []
        assert dict(store.load_pending_publishes()) == {}
    finally:
        if task is not None and not task.done():
            task.cancel()
        await fb.aclose()


def test_wake_cycle_publishes_behind_connect():
    run(_wake_cycle_fast_wake())


# -- f. the server lost the session --------------------------------------------------------------


def _stored_session(store_dir, client_id):
    """What a crashed process left: a QoS 1 message the server never acknowledged, and
    a QoS 2 message it acknowledged with PUBREC (delivered: only PUBCOMP was missing)."""
    s = mq.FileStore(store_dir, client_id)
    s.save_pending_publish(1, PersistedPublish("f/1", b"unacked", 1))
    s.save_pending_publish(2, PersistedPublish("f/2", b"received", 2, released=True))


async def _session_lost_strict():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    clients = []
    try:
        _stored_session(store_dir, "strict")
        client = _client(fb.url, store_dir, "strict", log, resend_on_session_loss=False)
        clients.append(client)
        tok = client.publish("f/new", b"new", qos=1)  # not sent before: not discarded
        conn = await _connected(fb, client, Connack(False, 0))  # no fast wake with strict discard
        assert [x.topic for x in _pending(store_dir, "strict").values()] == ["f/new"]  # f/1, f/2 deleted
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and p.topic == "f/new" and not p.dup, p  # f/1 dropped, no PUBREL
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert dict(_pending(store_dir, "strict")) == {}

        # In one process: a message sent on a connection that drops, then no session:
        # its token fails and it leaves the store.
        client = _client(fb.url, store_dir, "strict2", log, resend_on_session_loss=False, auto_reconnect=True,
                         reconnect_delay=0.01, reconnect_max_delay=0.05)
        clients.append(client)
        conn = await _connected(fb, client, Connack(False, 0))
        tok = client.publish("f/3", b"lost", qos=1)
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and p.topic == "f/3", p
        conn.close()
        conn = await fb.accept(WAIT)
        p = await conn.recv(WAIT)
        assert p.type == CONNECT, p  # and nothing behind it
        conn.send_packet(Connack(False, 0))
        e = await araises(mq.MQTTError, tok.wait(WAIT))
        assert e.reason_code == 0x80, e
        assert dict(_pending(store_dir, "strict2")) == {}
        client.publish("marker", b"", qos=0)
        m = await conn.recv(WAIT)
        assert m.type == PUBLISH and m.topic == "marker", m
        assert [x for x in log.lines if "store" in x] == [], log.lines
    finally:
        for c in clients:
            await c.disconnect(timeout=1)
        await fb.aclose()


def test_session_lost_strict_discard_drops_unacknowledged():
    run(_session_lost_strict())


async def _session_lost_resend():
    store_dir = await control("tempdir")
    fb = await FakeBroker().start()
    log = Log()
    client = None
    try:
        _stored_session(store_dir, "resend")
        # fast_wake=False: the resend waits for CONNACK's word on the session.
        client = _client(fb.url, store_dir, "resend", log, fast_wake=False)
        conn = await _connected(fb, client, Connack(False, 0))
        p = await conn.recv(WAIT)
        assert p.type == PUBLISH and p.topic == "f/1" and p.payload == b"unacked", p
        assert not p.dup, p  # a new message to the new session
        # The QoS 2 message the server had PUBRECed counts as delivered: gone, no PUBREL.
        assert [x.topic for x in _pending(store_dir, "resend").values()] == ["f/1"]
        client.publish("marker", b"", qos=0)
        m = await conn.recv(WAIT)
        assert m.type == PUBLISH and m.topic == "marker", m
        conn.send_packet(Ack(PUBACK, p.packet_id))
        tok = client.publish("sync", b"", qos=1)
        s = await conn.recv(WAIT)
        conn.send_packet(Ack(PUBACK, s.packet_id))
        await tok.wait(WAIT)
        assert dict(_pending(store_dir, "resend")) == {}
        assert log.lines == [], log.lines
    finally:
        if client is not None:
            await client.disconnect(timeout=1)
        await fb.aclose()


def test_session_lost_resends_stored_publishes_as_new_messages():
    run(_session_lost_resend())
