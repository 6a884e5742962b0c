"""The asyncio client against a scripted broker, for what no real broker does on
purpose: refusals, protocol fall-back, malformed packets, dead connections, server
DISCONNECTs with properties, session resumption and the client's own queues."""

import asyncio

from fakebroker import WAIT, Events, Harness, Log
from support import araises, run

import mq
from mq._compat import ticks_diff, ticks_ms
from mq.errors_rare import KeepAliveTimeout
from mq.wire_packets import (
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP_PACKET,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBSCRIBE,
    Ack,
    Connack,
    Disconnect,
    Message,
    SubAck,
)
from mq.wire_props import Properties

# -- 1. protocol fall-back -------------------------------------------------------


async def _fallback(refusal):
    h = await Harness().start()
    try:
        task = h.dial_task(client_id="fallback")
        c1 = await h.fb.accept()
        p = await c1.recv()
        assert p.type == CONNECT and p.version == 5
        c1.send(refusal)
        assert await c1.closed_by_client() == []
        c2 = await h.fb.accept()
        p = await c2.recv()
        assert p.type == CONNECT and p.version == 4 and p.client_id == "fallback"
        assert p.properties is None
        c2.send_packet(Connack(False, 0))
        client = await task
        h.clients.append(client)
        assert client.protocol == mq.V311
        assert client.is_connected
        # The connection speaks 3.1.1 from now on.
        tok = client.publish("a/b", b"x", qos=1)
        m = await c2.recv()
        assert m.type == PUBLISH and m.properties is None and m.topic == "a/b"
        c2.send_packet(Ack(PUBACK, m.packet_id))
        await tok.wait(WAIT)
    finally:
        await h.close()


def test_auto_protocol_falls_back_on_v311_refusal():
    run(_fallback(bytes((0x20, 0x02, 0x00, 0x01))))


def test_auto_protocol_falls_back_on_v5_unsupported_version():
    # A v5 CONNACK with reason 0x84 and an empty property list.
    run(_fallback(bytes((0x20, 0x03, 0x00, 0x84, 0x00))))


async def _no_fallback():
    h = await Harness().start()
    try:
        e = await h.refused(bytes((0x20, 0x02, 0x00, 0x01)), auto_protocol=False)
        assert type(e) is mq.UnacceptableProtocolVersion
        assert e.reason_code == 0x84
        assert h.fb.conns == []  # no second attempt
    finally:
        await h.close()


def test_auto_protocol_off_raises_the_refusal():
    run(_no_fallback())


# -- 2. refusals ---------------------------------------------------------------------


async def _v311_refusals():
    h = await Harness().start()
    try:
        cases = (
            (1, mq.UnacceptableProtocolVersion, 0x84),
            (2, mq.IdentifierRejected, 0x85),
            (3, mq.ServerUnavailable, 0x88),
            (4, mq.BadUsernameOrPassword, 0x86),
            (5, mq.NotAuthorized, 0x87),
        )
        for rc, cls, code in cases:
            e = await h.refused(bytes((0x20, 0x02, 0x00, rc)), protocol=mq.V311, username="u", password="p")
            assert type(e) is cls, (rc, e)
            assert e.reason_code == code
    finally:
        await h.close()


def test_v311_refusals_map_to_exceptions():
    run(_v311_refusals())


async def _v5_refusals():
    h = await Harness().start()
    try:
        e = await h.refused(Connack(False, 0x87, Properties(reason_string="not on the list")))
        assert type(e) is mq.NotAuthorized
        assert e.reason_code == 0x87
        assert e.reason_string == "not on the list"
        assert "not on the list" in str(e)
        e = await h.refused(Connack(False, 0x86, Properties(reason_string="wrong password")), username="u",
                            password=b"p")
        assert type(e) is mq.BadUsernameOrPassword
        assert e.reason_code == 0x86 and e.reason_string == "wrong password"
        e = await h.refused(Connack(False, 0x80))
        assert type(e) is mq.ConnectionRefused
        assert e.reason_code == 0x80 and e.reason_string is None
    finally:
        await h.close()


def test_v5_refusal_carries_reason_string():
    run(_v5_refusals())


# -- 3. malformed packets from the server -------------------------------------------


async def _malformed(data, exc_type, code, protocol=mq.V50):
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, _ = await h.dial(protocol=protocol, auto_reconnect=False, **ev.options())
        conn.send(data)
        got = await conn.closed_by_client()
        err = await ev.wait_lost()
        assert type(err) is exc_type, err
        assert err.reason_code == code
        if protocol == mq.V50:
            # DISCONNECT with the reason, then the connection closed.
            assert len(got) == 1 and got[0].type == DISCONNECT, got
            assert got[0].reason_code == code
        else:
            # 3.1.1 has no DISCONNECT from the client for errors (it would drop the Will).
            assert got == []
        assert not client.is_connected
    finally:
        await h.close()


def test_malformed_reserved_packet_type():
    run(_malformed(bytes((0x00, 0x00)), mq.MalformedPacket, 0x81))


def test_malformed_reserved_flags():
    run(_malformed(bytes((0xF3, 0x00)), mq.MalformedPacket, 0x81))


def test_malformed_publish_qos3():
    run(_malformed(bytes((0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01)), mq.MalformedPacket, 0x81))


def test_malformed_publish_topic_not_utf8():
    run(_malformed(bytes((0x30, 0x05, 0x00, 0x02, 0xC0, 0x80, 0x00)), mq.MalformedPacket, 0x81))


def test_publish_with_wildcard_topic_is_topic_name_invalid():
    # "a/+" cannot be a topic name: Topic Name Invalid (0x90), a protocol error.
    run(_malformed(bytes((0x30, 0x06, 0x00, 0x03, 0x61, 0x2F, 0x2B, 0x00)), mq.ProtocolError, 0x90))


def test_second_connack_is_protocol_error():
    run(_malformed(bytes((0x20, 0x03, 0x00, 0x00, 0x00)), mq.ProtocolError, 0x82))


def test_malformed_v311_closes_without_disconnect():
    run(_malformed(bytes((0x00, 0x00)), mq.MalformedPacket, 0x81, protocol=mq.V311))


# -- 4. keepalive ---------------------------------------------------------------------


async def _keepalive_dead():
    h = await Harness().start()
    ev = Events()
    try:
        client, c1, connect = await h.dial(keepalive=1, **ev.options())
        assert connect.keepalive == 1
        p = await c1.recv(timeout=WAIT)
        assert p.type == PINGREQ
        # No PINGRESP: the client gives the connection up, then dials again.
        err = await ev.wait_lost()
        assert isinstance(err, KeepAliveTimeout), err
        assert err.reason_code == 0x8D
        assert [x for x in await c1.closed_by_client() if x.type != PINGREQ] == []
        c2 = await h.fb.accept()
        p = await c2.recv()
        assert p.type == CONNECT
        c2.send_packet(Connack(False, 0))
        await ev.wait_connects(2)
        assert client.is_connected
    finally:
        await h.close()


def test_keepalive_timeout_reconnects():
    run(_keepalive_dead())


async def _server_keepalive():
    h = await Harness().start()
    try:
        client, conn, connect = await h.dial(Connack(False, 0, Properties(server_keep_alive=1)), keepalive=60)
        assert connect.keepalive == 60
        assert client.server_keepalive == 1
        # With 60 s no PINGREQ would come in WAIT; with the server's 1 s it does.
        p = await conn.recv(timeout=WAIT)
        assert p.type == PINGREQ
        t1 = ticks_ms()
        conn.send_packet(PINGRESP_PACKET)
        p = await conn.recv(timeout=WAIT)
        assert p.type == PINGREQ
        gap = ticks_diff(ticks_ms(), t1)
        assert 700 <= gap <= 3000, gap  # one server keepalive of silence, no earlier
        conn.send_packet(PINGRESP_PACKET)
        assert client.is_connected
    finally:
        await h.close()


def test_server_keepalive_overrides_client_keepalive():
    run(_server_keepalive())


# -- 5. server DISCONNECT ---------------------------------------------------------------


async def _server_disconnect():
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, _ = await h.dial(auto_reconnect=False, **ev.options())
        props = Properties(
            reason_string="moving house",
            server_reference="other.example:1883",
            user_properties=[("k", "1"), ("k", "2"), ("why", "maintenance")],
            session_expiry_interval=0,
        )
        conn.send_packet(Disconnect(0x9D, props))
        err = await ev.wait_lost()
        assert type(err) is mq.DisconnectError, err
        assert err.reason_code == 0x9D
        assert err.reason_string == "moving house"
        assert err.user_properties == [("k", "1"), ("k", "2"), ("why", "maintenance")]
        assert err.server_reference == "other.example:1883"
        assert err.properties.server_reference == "other.example:1883"
        assert err.session_expiry_interval == 0
        assert client.server_reference == "other.example:1883"
        assert ev.redirects == ["other.example:1883"]
        assert not client.is_connected
        # The client closes without answering with a DISCONNECT of its own.
        assert await conn.closed_by_client() == []
    finally:
        await h.close()


def test_server_disconnect_with_properties():
    run(_server_disconnect())


# -- 6. session present on reconnect ------------------------------------------------------


async def _session_resume():
    h = await Harness().start()
    ev = Events()
    got = []

    def on_cmd(client, message):
        got.append(message.payload)

    try:
        client, c1, connect = await h.dial(
            client_id="resume", clean_start=False, session_expiry=300, subscriptions={"cmd/#": on_cmd},
            **ev.options(),
        )
        assert connect.clean_start is False
        s = await c1.recv()
        assert s.type == SUBSCRIBE and s.topics == [("cmd/#", 1)]
        c1.send_packet(SubAck(SUBACK, s.packet_id, [1]))
        t1 = client.publish("q/1", b"one", qos=1)
        t2 = client.publish("q/2", b"two", qos=2)
        p1 = await c1.recv()
        p2 = await c1.recv()
        assert p1.type == PUBLISH and p1.qos == 1 and not p1.dup
        assert p2.type == PUBLISH and p2.qos == 2 and not p2.dup
        c1.send_packet(Ack(PUBREC, p2.packet_id))
        r = await c1.recv()
        assert r.type == PUBREL and r.packet_id == p2.packet_id
        c1.close()  # no PUBACK, no PUBCOMP
        await ev.wait_lost(1)

        # The server kept the session: resend the PUBLISH with DUP, and the PUBREL.
        c2 = await h.fb.accept()
        p = await c2.recv()
        assert p.type == CONNECT and p.clean_start is False
        c2.send_packet(Connack(True, 0))
        r1 = await c2.recv()
        r2 = await c2.recv()
        assert r1.type == PUBLISH and r1.packet_id == p1.packet_id and r1.dup
        assert r1.topic == "q/1" and r1.payload == b"one" and r1.qos == 1
        assert r2.type == PUBREL and r2.packet_id == p2.packet_id
        await ev.wait_connects(2)
        assert client.session_present
        # Nothing else came before this marker: no second PUBLISH of q/2, no SUBSCRIBE.
        client.publish("marker", b"", qos=0)
        m = await c2.recv()
        assert m.type == PUBLISH and m.topic == "marker", m
        c2.send_packet(Ack(PUBACK, p1.packet_id))
        c2.send_packet(Ack(PUBCOMP, p2.packet_id))
        await t1.wait(WAIT)
        await t2.wait(WAIT)
        c2.send_packet(Message("cmd/x", b"hello", qos=0))
        c2.close()
        await ev.wait_lost(2)
        assert got == [b"hello"]  # the subscription's handler survived

        # The server lost the session: the subscriptions are made again.
        c3 = await h.fb.accept()
        await c3.recv()
        c3.send_packet(Connack(False, 0))
        s = await c3.recv()
        assert s.type == SUBSCRIBE and s.topics == [("cmd/#", 1)], s
        c3.send_packet(SubAck(SUBACK, s.packet_id, [1]))
        await ev.wait_connects(3)
        assert not client.session_present
    finally:
        await h.close()


def test_session_present_resends_publish_and_pubrel():
    run(_session_resume())


async def _session_lost_resend():
    # Without the session, an unacknowledged QoS 1 message goes again as a new one
    # (no DUP), and a QoS 2 message the server had PUBRECed is complete (and takes
    # none of the new connection's send quota).
    h = await Harness().start()
    ev = Events()
    try:
        # fast_wake=False: the resend waits for CONNACK to learn the session is gone.
        client, c1, _ = await h.dial(client_id="lost", clean_start=False, fast_wake=False, **ev.options())
        t1 = client.publish("q/1", b"one", qos=1)
        t2 = client.publish("q/2", b"two", qos=2)
        p1 = await c1.recv()
        p2 = await c1.recv()
        c1.send_packet(Ack(PUBREC, p2.packet_id))
        assert (await c1.recv()).type == PUBREL
        c1.close()
        await ev.wait_lost()
        c2 = await h.fb.accept()
        await c2.recv()
        c2.send_packet(Connack(False, 0, Properties(receive_maximum=1)))
        r = await c2.recv()
        assert r.type == PUBLISH and r.payload == b"one" and not r.dup, r
        assert p1.payload == b"one"
        await t2.wait(WAIT)
        await ev.wait_connects(2)
        # The server's Receive Maximum of 1 is used up by the resent message: a new
        # QoS 1 message waits (the QoS 0 marker overtakes it) until the PUBACK.
        t3 = client.publish("q/3", b"three", qos=1)
        client.publish("marker", b"", qos=0)
        m = await c2.recv()
        assert m.type == PUBLISH and m.topic == "marker", m
        c2.send_packet(Ack(PUBACK, r.packet_id))
        await t1.wait(WAIT)
        p3 = await c2.recv()
        assert p3.type == PUBLISH and p3.payload == b"three"
        c2.send_packet(Ack(PUBACK, p3.packet_id))
        await t3.wait(WAIT)
    finally:
        await h.close()


def test_session_lost_resends_as_new_messages():
    run(_session_lost_resend())


# -- 7. handlers ---------------------------------------------------------------------------


def _handler_failures(log):
    errors = log.errors()
    n = 0
    for text in errors:
        assert text.startswith("message handler failed"), errors
        n += 1
    return n


async def _handler_raises():
    h = await Harness().start()
    log = Log()
    calls = []

    def handler(client, message):
        if message.topic == "coro":
            return coro_handler(client, message)
        calls.append(message.payload)
        if message.payload == b"boom":
            raise ValueError("a bug in the handler")
        return None

    fine = asyncio.Event()

    async def coro_handler(client, message):
        calls.append(b"coro " + message.payload)
        if message.payload == b"boom":
            raise ValueError("a bug in the coroutine handler")
        fine.set()

    try:
        client, conn, _ = await h.dial(default_handler=handler, logger=log)
        conn.send_packet(Message("t/1", b"boom", qos=1, packet_id=1))
        a = await conn.recv()
        assert a.type == PUBACK and a.packet_id == 1
        conn.send_packet(Message("t/1", b"fine", qos=1, packet_id=2))
        a = await conn.recv()
        assert a.type == PUBACK and a.packet_id == 2
        assert calls == [b"boom", b"fine"]
        assert _handler_failures(log) == 1

        # The same for a coroutine handler (it runs in the dispatcher task).
        conn.send_packet(Message("coro", b"boom", qos=1, packet_id=3))
        conn.send_packet(Message("coro", b"fine", qos=1, packet_id=4))
        assert (await conn.recv()).packet_id == 3
        assert (await conn.recv()).packet_id == 4
        tok = client.publish("t/2", b"x", qos=1)
        p = await conn.recv()
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        await asyncio.wait_for(fine.wait(), WAIT)
        assert calls[2:] == [b"coro boom", b"coro fine"]
        assert _handler_failures(log) == 2
        assert client.is_connected
    finally:
        await h.close()


def test_handler_exception_is_logged_and_client_continues():
    run(_handler_raises())


async def _slow_handler():
    h = await Harness().start()
    gate = asyncio.Event()
    entered = asyncio.Event()
    changed = asyncio.Event()
    started = []
    finished = []

    async def slow(client, message):
        started.append(message.payload)
        entered.set()
        await gate.wait()
        finished.append(message.payload)
        changed.set()

    try:
        client, conn, _ = await h.dial(default_handler=slow)
        conn.send_packet(Message("t", b"1", qos=1, packet_id=1))
        assert (await conn.recv()).packet_id == 1
        await asyncio.wait_for(entered.wait(), WAIT)
        # The handler is blocked; the client still acks, answers QoS 2, and takes PUBACKs.
        conn.send_packet(Message("t", b"2", qos=1, packet_id=2))
        conn.send_packet(Message("t", b"3", qos=2, packet_id=3))
        a = await conn.recv()
        assert a.type == PUBACK and a.packet_id == 2
        a = await conn.recv()
        assert a.type == PUBREC and a.packet_id == 3
        conn.send_packet(Ack(PUBREL, 3))
        a = await conn.recv()
        assert a.type == PUBCOMP and a.packet_id == 3
        tok = client.publish("out", b"x", qos=1)
        p = await conn.recv()
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert started == [b"1"] and finished == []
        gate.set()
        while len(finished) < 3:
            changed.clear()
            await asyncio.wait_for(changed.wait(), WAIT)
        assert finished == [b"1", b"2", b"3"]  # in order, one at a time
    finally:
        gate.set()
        await h.close()


def test_slow_handler_does_not_block_acks():
    run(_slow_handler())


# -- 8. disconnect fails pending tokens ---------------------------------------------------------


async def _disconnect_fails_pending():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial()
        t1 = client.publish("a", b"1", qos=1)
        t2 = client.publish("a", b"2", qos=2)
        ts = client.subscribe("s/#", 1)
        tu = client.unsubscribe("u/#")
        assert (await conn.recv()).type == PUBLISH
        p2 = await conn.recv()
        assert p2.type == PUBLISH
        conn.send_packet(Ack(PUBREC, p2.packet_id))  # waits for PUBCOMP now
        got = []
        for _ in range(3):
            got.append((await conn.recv()).type)
        assert sorted(got) == [PUBREL, SUBSCRIBE, UNSUBSCRIBE], got
        await client.disconnect()
        d = await conn.recv()
        assert d.type == DISCONNECT and d.reason_code == 0
        assert await conn.closed_by_client() == []
        for tok in (t1, t2, ts, tu):
            assert tok.done()
            assert isinstance(tok.error, mq.ClientDisconnected), tok
            await araises(mq.ClientDisconnected, tok.wait(WAIT))
        assert not client.is_connected
    finally:
        await h.close()


def test_disconnect_fails_pending_tokens():
    run(_disconnect_fails_pending())


# -- 9. publishing while disconnected -------------------------------------------------------------


async def _offline_queue():
    h = await Harness().start()
    ev = Events()
    try:
        client, c1, _ = await h.dial(outgoing_queue=2, **ev.options())
        c1.close()
        await ev.wait_lost()
        assert not client.is_connected
        t1 = client.publish("q", b"1", qos=1)
        t2 = client.publish("q", b"2", qos=2)
        t3 = client.publish("q", b"3", qos=1)  # over the bound
        assert t3.done() and isinstance(t3.error, mq.MQTTError)
        assert t3.error.reason_code == 0x97
        t0 = client.publish("q", b"0", qos=0)
        assert t0.dropped
        assert not t1.done() and not t2.done()
        c2 = await h.fb.accept()
        await c2.recv()
        c2.send_packet(Connack(False, 0))
        p1 = await c2.recv()
        p2 = await c2.recv()
        assert p1.type == PUBLISH and p1.payload == b"1" and p1.qos == 1 and not p1.dup
        assert p2.type == PUBLISH and p2.payload == b"2" and p2.qos == 2
        c2.send_packet(Ack(PUBACK, p1.packet_id))
        c2.send_packet(Ack(PUBREC, p2.packet_id))
        assert (await c2.recv()).type == PUBREL
        c2.send_packet(Ack(PUBCOMP, p2.packet_id))
        await t1.wait(WAIT)
        await t2.wait(WAIT)
        await ev.wait_connects(2)
        client.publish("marker", b"", qos=0)
        m = await c2.recv()
        assert m.topic == "marker", m  # the refused one was never sent
        # The queue has room again.
        t4 = client.publish("q", b"4", qos=1)
        p4 = await c2.recv()
        assert p4.payload == b"4"
        c2.send_packet(Ack(PUBACK, p4.packet_id))
        await t4.wait(WAIT)
    finally:
        await h.close()


def test_publish_while_disconnected_is_queued_and_bounded():
    run(_offline_queue())


# -- 10. refused subscriptions ----------------------------------------------------------------------


async def _sub_refused(protocol, code):
    h = await Harness().start()
    got = []

    def handler(client, message):
        got.append(message.topic)

    try:
        client, conn, _ = await h.dial(protocol=protocol)
        ok = client.subscribe("ok/#", 1, handler)
        bad = client.subscribe("bad/#", 2, handler)
        s1 = await conn.recv()
        s2 = await conn.recv()
        assert s1.type == SUBSCRIBE and s2.type == SUBSCRIBE
        conn.send_packet(SubAck(SUBACK, s1.packet_id, [1]))
        props = Properties(reason_string="not for you") if protocol == mq.V50 else None
        conn.send_packet(SubAck(SUBACK, s2.packet_id, [code], props))
        await ok.wait(WAIT)
        assert ok.reason_codes == [1] and ok.reason_code == 1 and ok.error is None
        e = await araises(mq.SubscriptionFailed, bad.wait(WAIT))
        assert e.reason_code == code
        assert bad.error is e and bad.reason_code == code
        assert bad.reason_codes == [code]
        if protocol == mq.V50:
            assert e.reason_string == "not for you"
        # The refused filter's handler is gone; the granted one works.
        conn.send_packet(Message("bad/x", b"", qos=0))
        conn.send_packet(Message("ok/x", b"", qos=0))
        tok = client.publish("sync", b"", qos=1)
        p = await conn.recv()
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert got == ["ok/x"]
    finally:
        await h.close()


def test_subscription_refused_v5():
    run(_sub_refused(mq.V50, 0x87))


def test_subscription_refused_v311():
    run(_sub_refused(mq.V311, 0x80))
