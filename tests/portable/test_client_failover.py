"""More than one broker: dial() takes a list and fails over to the next on connect
failure or connection loss. Two Mosquitto brokers joined by Mosquitto's own bridge; the
one the client uses is killed in the middle of a QoS 1 stream and the client loses
nothing: what the dead broker had not acknowledged goes again to the other."""


from support import Calls, control, run, unhexlify

import mq
from mq.proto_session import RELEASED

TIMEOUT = 10


async def _bridged_pair():
    a = await control("broker")
    b = await control("broker", config=[
        "connection to-a", "address 127.0.0.1:%d" % a["port"], "topic stream/# both 1", "cleansession true",
        "restart_timeout 1",
    ])
    sink_b = await control("paho_subscribe", url=b["url"], topic="stream/#", qos=1)
    # The bridge is up once a message published on A comes out of B.
    await control("paho_publish", url=a["url"], topic="stream/probe", payload="00", qos=1)
    got = await control("paho_messages", id=sink_b, count=1)
    assert [m["topic"] for m in got] == ["stream/probe"], got
    return a, b, sink_b


async def _dial_fails_over_on_connect_failure():
    a, b, _ = await _bridged_pair()
    await control("broker_kill", id=a["id"])
    c = await mq.dial([a["url"], b["url"]], connect_timeout=2)
    try:
        assert c.is_connected
        await c.publish("stream/x", b"via b", qos=1).wait(TIMEOUT)
    finally:
        await c.disconnect()


def test_dial_tries_the_next_server_when_the_first_is_down():
    run(_dial_fails_over_on_connect_failure())


async def _failover_mid_stream():
    a, b, sink_b = await _bridged_pair()
    # A subscriber on A at QoS 0 sends nothing back to A: when A dies, what A wrote to it
    # still arrives (no reset), so the two sinks together show everything A passed on.
    sink_a = await control("paho_subscribe", url=a["url"], topic="stream/#", qos=0)
    lost, connects = Calls(), Calls()
    tokens = []
    acked_by_a = set()  # the messages A had acknowledged when the connection died

    def on_lost(client, err):
        if not lost.calls:
            acked_by_a.update(i for i, t in enumerate(tokens) if t.done())
        lost(client, err)

    c = await mq.dial(
        [a["url"], b["url"]], reconnect_delay=0.05, reconnect_max_delay=0.2, connect_timeout=2,
        on_connection_lost=on_lost, on_connect=connects,
    )
    try:
        n = 300
        tokens += [c.publish("stream/s", b"%d" % i, qos=1) for i in range(n // 2)]
        await tokens[0].wait(TIMEOUT)
        await control("broker_kill", id=a["id"])
        tokens += [c.publish("stream/s", b"%d" % i, qos=1) for i in range(n // 2, n)]
        for t in tokens:
            await t.wait(TIMEOUT * 2)
        await connects.wait(2)
        assert lost.calls
        # A killed at once can die after acknowledging a message and before writing it
        # to its subscribers and the bridge: what A acknowledged may be lost with it.
        # Everything else is the client's to deliver: it went to A and A passed it on,
        # or it went again to B.
        must = set(b"%d" % i for i in range(n) if i not in acked_by_a)
        # A is gone: what it delivered to its sink is all there. Then wait for B's sink,
        # one message more at a time, until the two together hold what they must.
        got_a = await control("paho_messages", id=sink_a, count=0, timeout=0)
        seen_a = set(unhexlify(m["payload"]) for m in got_a if m["topic"] == "stream/s")
        seen_b = set()
        while not must <= seen_a | seen_b:
            got = await control("paho_messages", id=sink_b, count=len(seen_b) + 2, timeout=TIMEOUT, distinct=True)
            more = set(unhexlify(m["payload"]) for m in got if m["topic"] == "stream/s")
            if more == seen_b:
                break  # nothing new within the timeout
            seen_b = more
        seen = seen_a | seen_b
        missing = sorted(i for i in range(n) if b"%d" % i in must and b"%d" % i not in seen)
        assert not missing, missing
    finally:
        await c.disconnect()


def test_failover_to_the_bridged_broker_mid_qos1_stream_loses_nothing():
    run(_failover_mid_stream())


async def _failover_mid_qos2_stream():
    a, b, sink_b = await _bridged_pair()
    sink_a = await control("paho_subscribe", url=a["url"], topic="stream/#", qos=0)
    released = []  # messages the dead broker had taken over (PUBREC) when the link died
    connects = Calls()

    def on_lost(client, err):
        for e in client.proto.session.pending_publishes():
            if e.state == RELEASED:
                released.append(e.payload)

    c = await mq.dial(
        [a["url"], b["url"]], reconnect_delay=0.05, reconnect_max_delay=0.2, connect_timeout=2,
        on_connection_lost=on_lost, on_connect=connects,
    )
    try:
        n = 300
        tokens = [c.publish("stream/s", b"%d" % i, qos=2) for i in range(n // 2)]
        await tokens[0].wait(TIMEOUT)
        await control("broker_kill", id=a["id"])
        tokens += [c.publish("stream/s", b"%d" % i, qos=2) for i in range(n // 2, n)]
        for t in tokens:
            await t.wait(TIMEOUT * 2)
        await connects.wait(2)
        got_a = await control("paho_messages", id=sink_a, count=0, timeout=0)
        from_a = [unhexlify(m["payload"]) for m in got_a if m["topic"] == "stream/s"]
        expected = [b"%d" % i for i in range(n) if b"%d" % i not in released]
        got, from_b = [], []
        while not all(p in from_a or p in from_b for p in expected):
            more = await control("paho_messages", id=sink_b, count=len(got) + 1, timeout=TIMEOUT)
            if len(more) == len(got):
                break  # nothing new within the timeout: the assertion below says what is missing
            got = more
            from_b = [unhexlify(m["payload"]) for m in got if m["topic"] == "stream/s"]
        seen = set(from_a) | set(from_b)
        # Mosquitto hands a QoS 2 message on at PUBREL: one the dead broker had taken
        # over may have died with it. Everything still ours reached the other broker.
        missing = [p for p in expected if p not in seen]
        assert not missing, missing
        assert len(from_b) == len(set(from_b)) and len(from_a) == len(set(from_a))  # never twice
    finally:
        await c.disconnect()


def test_failover_mid_qos2_stream_loses_nothing_the_client_still_held():
    run(_failover_mid_qos2_stream())
