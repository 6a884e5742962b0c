"""MQTT 5.0 features of the client against a scripted broker: the server's capabilities
and limits honoured before sending, topic aliases both ways, receive maximum both ways,
our own packet size limit, subscription options, properties of acknowledgements, and
v5-only options ignored on a 3.1.1 connection."""


from fakebroker import WAIT, Events, Harness
from support import Inbox, raises, run

import mq
from mq.wire_packets import (
    DISCONNECT,
    PUBACK,
    PUBLISH,
    PUBREC,
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


async def _capabilities():
    h = await Harness().start()
    try:
        caps = Properties(
            maximum_qos=1, retain_available=0, wildcard_subscription_available=0,
            subscription_identifier_available=0, shared_subscription_available=0,
        )
        client, conn, _ = await h.dial(connack=Connack(False, 0, caps))
        c = client.server_capabilities
        assert (c.maximum_qos, c.retain_available, c.wildcard_available) == (1, False, False)
        assert raises(mq.MQTTError, client.publish, "t", b"x", qos=2).reason_code == 0x9B
        assert raises(mq.MQTTError, client.publish, "t", b"x", qos=1, retain=True).reason_code == 0x9A
        assert raises(mq.MQTTError, client.subscribe, "a/+", 1).reason_code == 0xA2
        assert raises(mq.MQTTError, client.subscribe, "a/#", 1).reason_code == 0xA2
        assert raises(mq.MQTTError, client.subscribe, "a", 1, subscription_id=5).reason_code == 0xA1
        assert raises(mq.MQTTError, client.subscribe, "$share/g/a", 1).reason_code == 0x9E
        # Nothing of that reached the server, and the connection is fine.
        tok = client.publish("t", b"ok", qos=1)
        p = await conn.recv()
        assert p.type == PUBLISH and p.payload == b"ok" and p.qos == 1
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await tok.wait(WAIT)
        assert client.is_connected
    finally:
        await h.close()


def test_server_capabilities_refused_before_sending():
    run(_capabilities())


async def _server_maximum_packet_size():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial(connack=Connack(False, 0, Properties(maximum_packet_size=64)))
        big = client.publish("t", bytes(100), qos=1)
        try:
            await big.wait(WAIT)
        except mq.MQTTError as e:
            assert e.reason_code == 0x95
        else:
            raise AssertionError("an oversized publish succeeded")
        big0 = client.publish("t", bytes(100), qos=0)
        assert big0.done() and big0.error is not None and big0.error.reason_code == 0x95
        # The connection survives: the next, small one goes out.
        small = client.publish("t", b"small", qos=1)
        p = await conn.recv()
        assert p.payload == b"small"  # nothing oversized was written before it
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await small.wait(WAIT)
    finally:
        await h.close()


def test_server_maximum_packet_size_fails_the_publish_not_the_connection():
    run(_server_maximum_packet_size())


async def _outbound_aliases():
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, _ = await h.dial(connack=Connack(False, 0, Properties(topic_alias_maximum=2)), **ev.options())
        for topic in ("s/1", "s/1", "s/2", "s/3", "s/2"):
            client.publish(topic, b"x", alias=True)
        got = []
        for _ in range(5):  # MicroPython has no await inside a comprehension
            got.append(await conn.recv())
        seen = [(m.topic, m.properties.topic_alias if m.properties else None) for m in got]
        assert seen == [("s/1", 1), ("", 1), ("s/2", 2), ("s/3", None), ("", 2)], seen
        # A new connection starts with no alias: the topic goes in full again.
        conn.close()
        await ev.wait_lost()
        conn2 = await h.fb.accept()
        await conn2.recv()
        conn2.send_packet(Connack(False, 0, Properties(topic_alias_maximum=2)))
        await ev.wait_connects(2)
        client.publish("s/1", b"y", alias=True)
        m = await conn2.recv()
        assert (m.topic, m.properties.topic_alias) == ("s/1", 1)
    finally:
        await h.close()


def test_outbound_topic_aliases_within_the_server_maximum_and_reset_on_reconnect():
    run(_outbound_aliases())


async def _no_alias_without_server_support():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial()  # no Topic Alias Maximum: 0
        client.publish("s/1", b"x", alias=True)
        m = await conn.recv()
        assert m.topic == "s/1" and (m.properties is None or m.properties.topic_alias is None)
    finally:
        await h.close()


def test_alias_option_ignored_when_the_server_allows_none():
    run(_no_alias_without_server_support())


async def _inbound_aliases():
    h = await Harness().start()
    ev = Events()
    inbox = Inbox()
    try:
        _client, conn, connect = await h.dial(topic_alias_maximum=2, default_handler=inbox, **ev.options())
        assert connect.properties.topic_alias_maximum == 2
        conn.send_packet(Message("in/a", b"1", properties=Properties(topic_alias=1)))
        conn.send_packet(Message("", b"2", properties=Properties(topic_alias=1)))
        got = await inbox.wait(2)
        assert [(m.topic, m.payload) for m in got] == [("in/a", b"1"), ("in/a", b"2")]
        conn.send_packet(Message("in/b", b"3", properties=Properties(topic_alias=3)))  # above our maximum
        d = await conn.recv_type(DISCONNECT)
        assert d.reason_code == 0x94
        err = await ev.wait_lost()
        assert err.reason_code == 0x94
    finally:
        await h.close()


def test_inbound_topic_aliases_resolved_and_invalid_alias_disconnects_0x94():
    run(_inbound_aliases())


async def _window_of_two(server_receive_maximum, **opts):
    h = await Harness().start()
    try:
        connack = Connack(False, 0, Properties(receive_maximum=server_receive_maximum))
        client, conn, _ = await h.dial(connack=connack, **opts)
        toks = [client.publish("t", bytes([i]), qos=1) for i in range(4)]
        a = await conn.recv()
        b = await conn.recv()
        # A third would exceed the window: prove none came by acking and seeing exactly one.
        conn.send_packet(Ack(PUBACK, a.packet_id))
        c = await conn.recv()
        assert [a.payload, b.payload, c.payload] == [b"\x00", b"\x01", b"\x02"]
        assert client.stats()["inflight"] == 3  # b, c in flight; d queued but holding its id
        conn.send_packet(Ack(PUBACK, b.packet_id))
        d = await conn.recv()
        assert d.payload == b"\x03"
        conn.send_packet(Ack(PUBACK, c.packet_id))
        conn.send_packet(Ack(PUBACK, d.packet_id))
        for t in toks:
            await t.wait(WAIT)
    finally:
        await h.close()


def test_server_receive_maximum_never_exceeded():
    run(_window_of_two(2))


def test_max_inflight_caps_the_window_below_the_servers():
    run(_window_of_two(10, max_inflight=2))


def test_max_inflight_out_of_range_raises():
    for bad in (0, 65536):
        e = raises(ValueError, mq.Client, "mqtt://127.0.0.1:1883", max_inflight=bad)
        assert "max_inflight" in str(e)


async def _our_receive_maximum_strict():
    h = await Harness().start()
    ev = Events()
    inbox = Inbox()
    try:
        _client, conn, connect = await h.dial(
            receive_maximum=1, receive_maximum_policy=mq.LIMIT_STRICT, default_handler=inbox, **ev.options()
        )
        assert connect.properties.receive_maximum == 1
        conn.send_packet(Message("q", b"1", 2, packet_id=1))
        assert (await conn.recv_type(PUBREC)).packet_id == 1
        conn.send_packet(Message("q", b"2", 2, packet_id=2))  # no PUBREL for the first yet
        d = await conn.recv_type(DISCONNECT)
        assert d.reason_code == 0x93
        assert (await ev.wait_lost()).reason_code == 0x93
        assert [m.payload for m in inbox.messages] == [b"1"]
    finally:
        await h.close()


def test_our_receive_maximum_strict_disconnects_0x93():
    run(_our_receive_maximum_strict())


async def _our_maximum_packet_size():
    h = await Harness().start()
    ev = Events()
    try:
        _client, conn, connect = await h.dial(max_incoming_packet=128, **ev.options())
        assert connect.properties.maximum_packet_size == 128
        conn.send_packet(Message("t", bytes(200)))
        d = await conn.recv_type(DISCONNECT)
        assert d.reason_code == 0x95
        assert isinstance(await ev.wait_lost(), mq.PacketTooLarge)
    finally:
        await h.close()


def test_our_maximum_packet_size_sent_and_enforced():
    run(_our_maximum_packet_size())


async def _local_limits():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial(max_payload=10, max_topic_length=8)
        raises(ValueError, client.publish, "t", bytes(11), qos=1)
        raises(ValueError, client.publish, "a/b/c/d/e", b"", qos=1)
        raises(ValueError, client.publish, "t", b"\xff\xfe", qos=1, payload_format=1)  # not UTF-8
        raises(ValueError, client.publish, "a/+", b"")
        raises(ValueError, client.publish, "t", b"", response_topic="r/+")
        raises(ValueError, client.publish, "t", b"", properties=Properties(response_topic="r/#"))
        raises(ValueError, mq.Client, "mqtt://x", will=mq.Will("w", b"", properties=Properties(response_topic="r/+")))
        raises(ValueError, mq.Client, "mqtt://x", will=mq.Will("w/#", b""))
        client.publish("t", "\u00e9t\u00e9", qos=0, payload_format=1)
        m = await conn.recv()
        assert m.payload == "\u00e9t\u00e9".encode() and m.properties.payload_format == 1
    finally:
        await h.close()


def test_limits_and_payload_format_checked_before_sending():
    run(_local_limits())


async def _subscription_options():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial()
        tok = client.subscribe(
            "opt/#", 2, no_local=True, retain_as_published=True, retain_handling=2, subscription_id=77,
            user_properties=[("a", "1"), ("a", "2")],
        )
        s = await conn.recv()
        assert s.type == SUBSCRIBE
        ((flt, opts),) = s.topics
        assert flt == "opt/#" and opts == 2 | 0x04 | 0x08 | (2 << 4), hex(opts)
        assert s.properties.subscription_identifier == [77]
        assert s.properties.user_properties == [("a", "1"), ("a", "2")]
        props = Properties(reason_string="fine", user_properties=[("x", "y")])
        conn.send_packet(SubAck(SUBACK, s.packet_id, [2], props))
        await tok.wait(WAIT)
        assert tok.reason_codes == [2]
        assert tok.properties.reason_string == "fine" and tok.properties.user_properties == [("x", "y")]
        tok = client.unsubscribe("opt/#", user_properties=[("why", "done")])
        u = await conn.recv()
        assert u.type == UNSUBSCRIBE and u.topics == ["opt/#"]
        assert u.properties.user_properties == [("why", "done")]
        conn.send_packet(SubAck(UNSUBACK, u.packet_id, [0x11]))  # no subscription existed
        await tok.wait(WAIT)
        assert tok.reason_codes == [0x11]
    finally:
        await h.close()


def test_subscription_options_and_unsubscribe_properties_on_the_wire():
    run(_subscription_options())


async def _subscription_ids_route_messages():
    h = await Harness().start()
    a, b = Inbox(), Inbox()
    try:
        client, conn, _ = await h.dial()
        client.subscribe("x/#", 1, handler=a, subscription_id=5)
        s1 = await conn.recv()
        client.subscribe("x/+", 1, handler=b)  # gets one of the client's own identifiers
        s2 = await conn.recv()
        auto = s2.properties.subscription_identifier[0]
        assert auto != 5
        conn.send_packet(SubAck(SUBACK, s1.packet_id, [1]))
        conn.send_packet(SubAck(SUBACK, s2.packet_id, [1]))
        # One copy per subscription, as Mosquitto sends them: each reaches its handler once.
        conn.send_packet(Message("x/y", b"1", properties=Properties(subscription_identifier=[5])))
        conn.send_packet(Message("x/y", b"1", properties=Properties(subscription_identifier=[auto])))
        # One copy carrying both identifiers, as other servers send it: both handlers.
        conn.send_packet(Message("x/z", b"2", properties=Properties(subscription_identifier=[5, auto])))
        await a.wait(2)
        await b.wait(2)
        assert [m.payload for m in a.messages] == [b"1", b"2"]
        assert [m.payload for m in b.messages] == [b"1", b"2"]
    finally:
        await h.close()


def test_subscription_identifiers_route_each_copy_to_its_handler():
    run(_subscription_ids_route_messages())


async def _ack_properties():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial()
        tok = client.publish("t", b"x", qos=1)
        p = await conn.recv()
        conn.send_packet(Ack(PUBACK, p.packet_id, 0x87, Properties(reason_string="not yours")))
        try:
            await tok.wait(WAIT)
        except mq.MQTTError as e:
            assert e.reason_code == 0x87 and e.reason_string == "not yours"
            assert "not yours" in str(e)
        else:
            raise AssertionError("a refused publish succeeded")
        assert tok.reason_code == 0x87
        tok = client.publish("t", b"x", qos=1)
        p = await conn.recv()
        conn.send_packet(Ack(PUBACK, p.packet_id, 0x10, Properties(user_properties=[("trace", "7")])))
        await tok.wait(WAIT)  # 0x10, no matching subscribers: still a success
        assert tok.reason_code == 0x10 and tok.error is None
        assert tok.properties.user_properties == [("trace", "7")]
    finally:
        await h.close()


def test_puback_reason_code_and_string_surfaced():
    run(_ack_properties())


async def _v311_ignores_v5_options():
    h = await Harness().start()
    try:
        client, conn, connect = await h.dial(
            protocol=mq.V311, topic_alias_maximum=5, receive_maximum=10, user_properties=[("k", "v")],
            session_expiry=60,
        )
        assert connect.version == 4 and connect.properties is None
        client.publish("t", b"x", content_type="text/plain", user_properties=[("a", "b")], alias=True,
                       message_expiry=5)
        m = await conn.recv()
        assert m.topic == "t" and m.properties is None
        client.subscribe("s", 1, no_local=True, user_properties=[("a", "b")])
        s = await conn.recv()
        assert s.properties is None and s.topics == [("s", 1)]  # no v5 option bits either
    finally:
        await h.close()


def test_v311_ignores_v5_only_options_silently():
    run(_v311_ignores_v5_options())


async def _connack_redirect():
    h = await Harness().start()
    try:
        for code in (0x9C, 0x9D):
            ev = Events()
            e = await h.refused(
                Connack(False, code, Properties(server_reference="other.example:1883")), **ev.options()
            )
            assert e.reason_code == code
            assert ev.redirects == ["other.example:1883"]
    finally:
        await h.close()


def test_connack_use_another_server_reports_the_reference():
    run(_connack_redirect())


async def _disconnect_with_reason():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial(session_expiry=60)
        await client.disconnect(reason=0x04, properties=Properties(session_expiry_interval=0, reason_string="bye"))
        d = await conn.recv_type(DISCONNECT)
        assert d.reason_code == 0x04  # disconnect with will message
        assert d.properties.session_expiry_interval == 0 and d.properties.reason_string == "bye"
    finally:
        await h.close()


def test_disconnect_sends_our_reason_code_and_properties():
    run(_disconnect_with_reason())


async def _refused_before_connack():
    # Accepted while offline; then the server says it supports QoS 1 and no RETAIN.
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, _ = await h.dial(**ev.options())
        conn.close()
        await ev.wait_lost()
        t2 = client.publish("q", b"2", qos=2)
        tr = client.publish("q", b"r", qos=1, retain=True)
        t1 = client.publish("q", b"1", qos=1)
        conn = await h.fb.accept()
        await conn.recv()
        conn.send_packet(Connack(False, 0, Properties(maximum_qos=1, retain_available=0)))
        p = await conn.recv()
        assert (p.payload, p.qos, p.retain) == (b"1", 1, False)  # only the one it supports
        conn.send_packet(Ack(PUBACK, p.packet_id))
        await t1.wait(WAIT)
        assert t2.error.reason_code == 0x9B and tr.error.reason_code == 0x9A
    finally:
        await h.close()


def test_publishes_queued_before_connack_fail_at_a_qos_or_retain_the_server_refuses():
    run(_refused_before_connack())


async def _oversized_alias_not_kept():
    h = await Harness().start()
    try:
        props = Properties(maximum_packet_size=64, topic_alias_maximum=4)
        client, conn, _ = await h.dial(connack=Connack(False, 0, props))
        big = client.publish("al/t", bytes(100), alias=True)
        assert big.error.reason_code == 0x95
        client.publish("al/t", b"small", alias=True)
        m = await conn.recv()
        # The alias of the packet never sent is not taken for known: topic and alias again.
        assert (m.topic, m.properties.topic_alias) == ("al/t", 1)
    finally:
        await h.close()


def test_alias_of_an_oversized_publish_is_not_kept():
    run(_oversized_alias_not_kept())


async def _oversized_subscribe_and_disconnect():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial(connack=Connack(False, 0, Properties(maximum_packet_size=40)))
        tok = client.subscribe("s/" + "x" * 60, 1)
        try:
            await tok.wait(WAIT)
        except mq.SubscriptionFailed as e:
            assert e.reason_code == 0x95
        else:
            raise AssertionError("an oversized SUBSCRIBE succeeded")
        await client.disconnect(properties=Properties(reason_string="r" * 80, user_properties=[("k", "v" * 40)]))
        d = await conn.recv_type(DISCONNECT)  # only SUBSCRIBE-free traffic came before it
        assert d.reason_code == 0
        assert d.properties is None or (d.properties.reason_string is None and d.properties.user_properties is None)
    finally:
        await h.close()


def test_oversized_subscribe_fails_and_disconnect_drops_its_reason_string_to_fit():
    run(_oversized_subscribe_and_disconnect())


async def _argument_checks():
    h = await Harness().start()
    try:
        client, _conn, _ = await h.dial()
        raises(ValueError, client.subscribe, "$share/g/t", 1, no_local=True)
        for bad in (0x8E, 0x9C, 0x01, 0x104, -1):
            try:
                await client.disconnect(reason=bad)
            except ValueError:
                pass
            else:
                raise AssertionError("DISCONNECT 0x%02X accepted" % bad)
        try:
            await client.disconnect(properties=Properties(session_expiry_interval=30))
        except ValueError:
            pass
        else:
            raise AssertionError("a session expiry on DISCONNECT without one in CONNECT")
        assert client.is_connected
    finally:
        await h.close()


def test_invalid_subscribe_and_disconnect_arguments_refused():
    run(_argument_checks())


async def _unsubscribe_refused():
    h = await Harness().start()
    try:
        client, conn, _ = await h.dial()
        tok = client.unsubscribe("u/#")
        u = await conn.recv()
        conn.send_packet(SubAck(UNSUBACK, u.packet_id, [0x87], Properties(reason_string="no")))
        try:
            await tok.wait(WAIT)
        except mq.MQTTError as e:
            assert e.reason_code == 0x87 and e.reason_string == "no"
        else:
            raise AssertionError("a refused unsubscribe succeeded")
    finally:
        await h.close()


def test_refused_unsubscribe_fails_its_token():
    run(_unsubscribe_refused())


async def _assigned_id_reused():
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, connect = await h.dial(
            client_id="", clean_start=False, session_expiry=60,
            connack=Connack(False, 0, Properties(assigned_client_identifier="auto-7")), **ev.options(),
        )
        assert connect.client_id == "" and client.assigned_client_id == "auto-7"
        conn.close()
        await ev.wait_lost()
        conn = await h.fb.accept()
        again = await conn.recv()
        assert again.client_id == "auto-7" and again.clean_start is False  # resumes that session
        conn.send_packet(Connack(True, 0))
        await ev.wait_connects(2)
    finally:
        await h.close()


def test_assigned_client_id_used_to_resume_the_session():
    run(_assigned_id_reused())


async def _no_fallback_for_anonymous_persistent_session():
    h = await Harness().start()
    try:
        e = await h.refused(Connack(False, 0x84), client_id="", clean_start=False)
        assert e.reason_code == 0x84 and "client_id" in str(e)
    finally:
        await h.close()


def test_no_fallback_to_311_without_a_client_id_for_a_persistent_session():
    run(_no_fallback_for_anonymous_persistent_session())


async def _retained_qos0_held_offline():
    h = await Harness().start()
    ev = Events()
    try:
        client, conn, _ = await h.dial(qos0_policy=mq.QOS0_BLOCK, **ev.options())
        conn.close()
        await ev.wait_lost()
        tr = client.publish("r", b"kept", retain=True)
        t0 = client.publish("r", b"plain")
        conn = await h.fb.accept()
        await conn.recv()
        conn.send_packet(Connack(False, 0, Properties(retain_available=0)))
        m = await conn.recv()
        assert (m.payload, m.retain) == (b"plain", False)
        await t0.wait(WAIT)
        assert tr.error.reason_code == 0x9A
    finally:
        await h.close()


def test_retained_qos0_held_offline_fails_when_the_server_has_no_retain():
    run(_retained_qos0_held_offline())
