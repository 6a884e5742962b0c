"""The client against a real Mosquitto, with paho-mqtt as the independent peer, on
CPython and the MicroPython unix port (brokers, proxies and paho run in the harness)."""


from support import Calls, Inbox, control, hexlify, run, unhexlify

import mq

V5 = 5
V311 = 4
TIMEOUT = 10


def _version(v):
    return mq.V50 if v == V5 else mq.V311


# -- QoS 0/1/2 both ways, both versions ------------------------------------------------


async def _mq_to_paho(version):
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="up/#", qos=2, version=version)
    c = await mq.dial(b["url"], protocol=_version(version), auto_protocol=False)
    try:
        assert c.protocol == _version(version)
        sent = {}
        for qos in (0, 1, 2):
            for i in range(5):
                topic = "up/q%d/%d" % (qos, i)
                payload = b"m\x00\xff%d-%d" % (qos, i)
                sent[topic] = (payload, qos)
                tok = c.publish(topic, payload, qos=qos)
                await tok.wait(TIMEOUT)
                assert tok.error is None and tok.done()
        got = await control("paho_messages", id=sub, count=len(sent))
        assert len(got) == len(sent), got
        for m in got:
            payload, qos = sent[m["topic"]]
            assert unhexlify(m["payload"]) == payload
            assert m["qos"] == qos and not m["retain"]
    finally:
        await c.disconnect()


def test_publish_qos012_to_paho_v5():
    run(_mq_to_paho(V5))


def test_publish_qos012_to_paho_v311():
    run(_mq_to_paho(V311))


async def _paho_to_mq(version):
    b = await control("broker")
    inbox = Inbox()
    c = await mq.dial(b["url"], protocol=_version(version), auto_protocol=False)
    try:
        tok = c.subscribe("down/#", qos=2, handler=inbox)
        await tok.wait(TIMEOUT)
        assert tok.reason_codes == [2]
        sent = []
        for qos in (0, 1, 2):
            for i in range(3):
                topic = "down/q%d/%d" % (qos, i)
                payload = ("%d-%d \u00e9" % (qos, i)).encode()
                sent.append((topic, payload, qos))
                await control("paho_publish", url=b["url"], topic=topic, payload=hexlify(payload), qos=qos,
                              version=version)
        got = await inbox.wait(len(sent))
        assert [(m.topic, m.payload, m.qos) for m in got] == sent
        assert not any(m.retain or m.dup for m in got)
    finally:
        await c.disconnect()


def test_receive_qos012_from_paho_v5():
    run(_paho_to_mq(V5))


def test_receive_qos012_from_paho_v311():
    run(_paho_to_mq(V311))


async def _v5_properties_both_ways():
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="props/out", qos=1)
    inbox = Inbox()
    c = await mq.dial(b["url"])
    try:
        await c.subscribe("props/in", qos=1, handler=inbox).wait(TIMEOUT)
        await c.publish(
            "props/out", b"{}", qos=1, content_type="application/json", response_topic="props/reply",
            correlation_data=b"\x01\x02", user_properties=[("k", "1"), ("k", "2")], message_expiry=60,
        ).wait(TIMEOUT)
        (m,) = await control("paho_messages", id=sub, count=1)
        p = m["properties"]
        assert p["ContentType"] == "application/json" and p["ResponseTopic"] == "props/reply"
        assert p["CorrelationData"] == "0102"
        assert p["UserProperty"] == [["k", "1"], ["k", "2"]]
        assert 0 < p["MessageExpiryInterval"] <= 60
        await control("paho_publish", url=b["url"], topic="props/in", payload="00", qos=1,
                      properties={"ContentType": "x/y", "UserProperty": [["a", "b"], ["a", "c"]]})
        (got,) = await inbox.wait(1)
        assert got.properties.content_type == "x/y"
        assert got.properties.user_properties == [("a", "b"), ("a", "c")]
    finally:
        await c.disconnect()


def test_v5_publish_properties_both_ways():
    run(_v5_properties_both_ways())


# -- retained messages ----------------------------------------------------------------


async def _retained(version):
    b = await control("broker")
    await control("paho_publish", url=b["url"], topic="ret/paho", payload=hexlify(b"kept"), qos=1, retain=True,
                  version=version)
    inbox = Inbox()
    c = await mq.dial(b["url"], protocol=_version(version), auto_protocol=False)
    try:
        await c.subscribe("ret/paho", qos=1, handler=inbox).wait(TIMEOUT)
        (m,) = await inbox.wait(1)
        assert m.retain and m.payload == b"kept"
        await c.publish("ret/mq", b"ours", qos=1, retain=True).wait(TIMEOUT)
        # A subscriber that arrives later gets it, flagged as retained.
        sub = await control("paho_subscribe", url=b["url"], topic="ret/mq", qos=1, version=version)
        (got,) = await control("paho_messages", id=sub, count=1)
        assert got["retain"] and unhexlify(got["payload"]) == b"ours"
    finally:
        await c.disconnect()


def test_retained_v5():
    run(_retained(V5))


def test_retained_v311():
    run(_retained(V311))


# -- will ------------------------------------------------------------------------------


async def _will_on_unclean_drop(version):
    b = await control("broker")
    proxy = await control("proxy", port=b["port"])
    sub = await control("paho_subscribe", url=b["url"], topic="will/#", qos=1, version=version)
    lost = Calls()
    c = await mq.dial(
        proxy["url"], protocol=_version(version), auto_protocol=False, auto_reconnect=False,
        will=mq.Will("will/dev", b"gone", qos=1), on_connection_lost=lost, client_id="will-dev",
    )
    try:
        await control("proxy_drop", id=proxy["id"])  # the link dies, no DISCONNECT
        (m,) = await control("paho_messages", id=sub, count=1)
        assert m["topic"] == "will/dev" and unhexlify(m["payload"]) == b"gone" and m["qos"] == 1
        await lost.wait()
    finally:
        await c.disconnect()


def test_will_published_when_connection_dies_v5():
    run(_will_on_unclean_drop(V5))


def test_will_published_when_connection_dies_v311():
    run(_will_on_unclean_drop(V311))


async def _no_will_after_disconnect():
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="will/#", qos=1)
    c = await mq.dial(b["url"], will=mq.Will("will/dev", b"gone", qos=1), client_id="will-dev2")
    await c.disconnect()
    # The broker handles our DISCONNECT before the marker published after it: had it sent
    # the will, the will would come first.
    await control("paho_publish", url=b["url"], topic="will/marker", payload="", qos=1)
    msgs = await control("paho_messages", id=sub, count=1)
    assert [m["topic"] for m in msgs] == ["will/marker"]


def test_no_will_after_normal_disconnect():
    run(_no_will_after_disconnect())


# -- overlapping subscriptions -------------------------------------------------------


async def _overlapping(version):
    b = await control("broker")
    wide, narrow, exact = Inbox(), Inbox(), Inbox()
    c = await mq.dial(b["url"], protocol=_version(version), auto_protocol=False)
    try:
        await c.subscribe("ov/#", qos=1, handler=wide).wait(TIMEOUT)
        await c.subscribe("ov/+/t", qos=1, handler=narrow).wait(TIMEOUT)
        await c.subscribe("ov/a/t", qos=0, handler=exact).wait(TIMEOUT)
        await control("paho_publish", url=b["url"], topic="ov/a/t", payload="01", qos=1, version=version)
        await control("paho_publish", url=b["url"], topic="ov/b/t", payload="02", qos=1, version=version)
        await control("paho_publish", url=b["url"], topic="ov/end", payload="03", qos=1, version=version)
        # "ov/end" reaches only the wide handler, after the others: once it is there,
        # everything before it has been dispatched.
        got = await wide.wait(3)
        assert [m.payload for m in got] == [b"\x01", b"\x02", b"\x03"]
        assert [m.payload for m in narrow.messages] == [b"\x01", b"\x02"]
        assert [m.payload for m in exact.messages] == [b"\x01"]
    finally:
        await c.disconnect()


def test_overlapping_subscriptions_reach_each_handler_once_v5():
    run(_overlapping(V5))


def test_overlapping_subscriptions_reach_each_handler_once_v311():
    run(_overlapping(V311))


# -- broker restart in the middle of a stream ------------------------------------------


async def _restart_mid_stream(qos):
    b = await control("broker", persistence=True, config=["max_inflight_messages 0", "max_queued_messages 0"])
    # The sink has a persistent session but is away while the broker restarts: what it
    # receives then shows our hop alone (Mosquitto 2.0 may itself repeat a QoS 2 message
    # to a subscriber that was in the middle of its flow when the broker stopped).
    sink = dict(url=b["url"], topic="stream/#", qos=qos, client_id="sink-%d" % qos, persistent=True)
    await control("paho_close", id=await control("paho_subscribe", **sink))
    connects = Calls()
    c = await mq.dial(
        b["url"], client_id="source-%d" % qos, clean_start=False, session_expiry=3600, on_connect=connects,
        reconnect_delay=0.05, reconnect_max_delay=0.2, keepalive=5,
    )
    try:
        n = 300
        # The broker stops while the first half streams, and the second half is
        # published while it is down.
        tokens = [c.publish("stream/%d" % qos, b"%d" % i, qos=qos) for i in range(n // 2)]
        await tokens[0].wait(TIMEOUT)
        await control("broker_stop", id=b["id"])
        tokens += [c.publish("stream/%d" % qos, b"%d" % i, qos=qos) for i in range(n // 2, n)]
        await control("broker_start", id=b["id"])
        for t in tokens:
            await t.wait(TIMEOUT * 3)
        await connects.wait(2)
        assert c.session_present
        sub = await control("paho_subscribe", **sink)
        got = await control("paho_messages", id=sub, count=n, timeout=TIMEOUT * 3, distinct=True)
        payloads = [int(unhexlify(m["payload"])) for m in got]
        assert set(payloads) == set(range(n)), sorted(set(range(n)) - set(payloads))
        if qos == 2:
            assert len(payloads) == n, "duplicates at QoS 2"
    finally:
        await c.disconnect()


def test_broker_restart_mid_qos1_stream_loses_nothing():
    run(_restart_mid_stream(1))


def test_broker_restart_mid_qos2_stream_loses_nothing_and_duplicates_nothing():
    run(_restart_mid_stream(2))


# -- a stalled connection --------------------------------------------------------------


async def _stalled_link():
    b = await control("broker")
    proxy = await control("proxy", port=b["port"])
    lost, connects = Calls(), Calls()
    c = await mq.dial(
        proxy["url"], keepalive=1, reconnect_delay=0.05, reconnect_max_delay=0.2, on_connection_lost=lost,
        on_connect=connects,
    )
    try:
        await connects.wait(1)
        await control("proxy_stall", id=proxy["id"])
        tok = c.publish("stall/x", b"held", qos=1)
        # Nothing comes back: no PINGRESP, so the keepalive deadline declares the link dead.
        ((_, err),) = await lost.wait(1, timeout=5)
        assert isinstance(err, mq.KeepAliveTimeout), repr(err)
        assert not tok.done()
        sub = await control("paho_subscribe", url=b["url"], topic="stall/#", qos=1)
        # What the dead link still holds must never arrive: drop it, then let new ones through.
        await control("proxy_drop", id=proxy["id"])
        await control("proxy_resume", id=proxy["id"])
        await connects.wait(2)
        await tok.wait(TIMEOUT)
        msgs = await control("paho_messages", id=sub, count=1)
        assert [unhexlify(m["payload"]) for m in msgs] == [b"held"]
        assert await control("proxy_count", id=proxy["id"]) >= 2
    finally:
        await c.disconnect()


def test_stalled_connection_detected_by_keepalive_and_recovered():
    run(_stalled_link())


# -- shared subscriptions ----------------------------------------------------------------


async def _shared():
    b = await control("broker")
    group = Inbox()  # both members hand what they get to one inbox, tagged

    def member(tag):
        return lambda client, message: group(client, (tag, message.topic, message.payload))

    plain = Inbox()
    c1 = await mq.dial(b["url"])
    c2 = await mq.dial(b["url"])
    try:
        await c1.subscribe("$share/g/sh/#", qos=1, handler=member(1)).wait(TIMEOUT)
        await c2.subscribe("$share/g/sh/#", qos=1, handler=member(2)).wait(TIMEOUT)
        await c2.subscribe("sh/plain", qos=1, handler=plain).wait(TIMEOUT)
        n = 10
        for i in range(n):
            await control("paho_publish", url=b["url"], topic="sh/%d" % i, payload=hexlify(b"%d" % i), qos=1)
        await control("paho_publish", url=b["url"], topic="sh/plain", payload="ff", qos=1)
        # sh/plain reaches the group once and c2's own subscription once.
        got = await group.wait(n + 1)
        assert sorted(t for _, t, _ in got) == sorted(["sh/%d" % i for i in range(n)] + ["sh/plain"])
        (m,) = await plain.wait(1)
        assert m.payload == b"\xff"
        assert {tag for tag, _, _ in got} <= {1, 2}
    finally:
        await c1.disconnect()
        await c2.disconnect()


def test_shared_subscription_delivers_each_message_to_one_member():
    run(_shared())
