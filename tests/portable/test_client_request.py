"""Request/response (MQTT 5.0 Response Topic and Correlation Data): Client.request,
respond and serve against a real Mosquitto, mq and paho-mqtt as responders, on CPython
and the MicroPython unix port. The Response Information path needs a server that gives
it (Mosquitto does not): the scripted broker plays that part."""

import asyncio

from fakebroker import WAIT, Harness
from support import araises, control, hexlify, raises, run, unhexlify

import mq
from mq.wire_packets import PUBACK, PUBLISH, SUBACK, SUBSCRIBE, Ack, Connack, Message, SubAck
from mq.wire_props import Properties

TIMEOUT = 10


# -- two mq clients ----------------------------------------------------------------------


async def _two_clients():
    b = await control("broker")
    server = await mq.dial(b["url"], client_id="rr-server")
    client = await mq.dial(b["url"], client_id="rr-client")
    seen = []

    def add(c, message):
        seen.append(message)
        return b"sum=%d" % sum(int(x) for x in message.payload.split(b","))

    async def upper(c, message):
        await asyncio.sleep(0)
        return message.payload.decode().upper()

    try:
        await server.serve("rpc/add", add).wait(TIMEOUT)
        await server.serve("rpc/upper", upper, qos=2).wait(TIMEOUT)
        r = await client.request("rpc/add", b"1,2,3", timeout=TIMEOUT)
        assert r.payload == b"sum=6" and r.topic == "mq/rr-client/responses"
        # The request carried the response topic and a correlation id; the response the same id.
        (req,) = seen
        assert req.properties.response_topic == "mq/rr-client/responses"
        cd = req.properties.correlation_data
        assert cd and r.properties.correlation_data == cd
        assert req.qos == 1 and r.qos == 1  # respond() answers at the request's QoS
        # A coroutine responder, QoS 2 and 0, publish options passed through.
        r = await client.request("rpc/upper", "abc", qos=2, timeout=TIMEOUT)
        assert r.payload == b"ABC"
        assert r.qos == 1  # answered at QoS 2, delivered at most at the response subscription's QoS 1
        r = await client.request("rpc/add", b"5,5", qos=0, timeout=TIMEOUT, user_properties={"k": "v"})
        assert r.payload == b"sum=10"
        assert seen[-1].properties.user_properties == [("k", "v")]
        assert seen[-1].properties.correlation_data != cd
        assert client._requester.pending == {}
        # One subscription for all of them.
        assert [s.topic_filter for s in client._subs] == ["mq/rr-client/responses"]
    finally:
        await client.disconnect()
        await server.disconnect()


def test_request_response_between_two_mq_clients():
    run(_two_clients())


async def _respond_by_hand():
    b = await control("broker")
    server = await mq.dial(b["url"])
    client = await mq.dial(b["url"])  # no client id: the server assigns one
    try:

        def on_request(c, message):
            c.respond(message, b"pong", user_properties=[("by", "hand")])

        await server.subscribe("svc/ping", 1, on_request).wait(TIMEOUT)
        r = await client.request("svc/ping", b"ping", timeout=TIMEOUT)
        assert r.payload == b"pong"
        assert r.properties.get_user_property("by") == "hand"
        assert client.assigned_client_id and r.topic == "mq/%s/responses" % client.assigned_client_id
        # A message without a response topic cannot be answered.
        plain = Message("svc/ping", b"x", 1, properties=Properties())
        e = raises(ValueError, server.respond, plain, b"y")
        assert "no response topic" in str(e)
        raises(ValueError, server.respond, Message("svc/ping", b"x", 1), b"y")
        # request() sets these itself.
        await araises(ValueError, client.request("svc/ping", b"", correlation_data=b"1"))
        await araises(ValueError, client.request("svc/ping", b"", response_topic="a/b"))
    finally:
        await client.disconnect()
        await server.disconnect()


def test_respond_by_hand_and_its_errors():
    run(_respond_by_hand())


# -- concurrent requests ---------------------------------------------------------------


async def _concurrent():
    b = await control("broker")
    server = await mq.dial(b["url"], client_id="cc-server")
    client = await mq.dial(b["url"], client_id="cc-client")
    n = 6
    held = []
    all_in = asyncio.Event()

    def collect(c, message):
        held.append(message)
        if len(held) == n:
            all_in.set()

    try:
        await server.subscribe("work/+", 1, collect).wait(TIMEOUT)
        tasks = [
            asyncio.create_task(client.request("work/%d" % i, b"job-%d" % i, timeout=TIMEOUT)) for i in range(n)
        ]
        await asyncio.wait_for(all_in.wait(), TIMEOUT)
        # Every request has its own correlation data; answer them in reverse order.
        assert len({m.properties.correlation_data for m in held}) == n
        for m in reversed(held):
            server.respond(m, m.payload + b"-done")
        results = []
        for t in tasks:  # (MicroPython has no await in comprehensions)
            results.append(await t)
        assert [r.payload for r in results] == [b"job-%d-done" % i for i in range(n)]
        assert client._requester.pending == {}
    finally:
        await client.disconnect()
        await server.disconnect()


def test_concurrent_requests_matched_by_correlation_data():
    run(_concurrent())


# -- timeout -------------------------------------------------------------------------


async def _timeout():
    b = await control("broker")
    server = await mq.dial(b["url"], client_id="to-server")
    client = await mq.dial(b["url"], client_id="to-client")
    held = []
    got = asyncio.Event()

    def late(c, message):
        held.append(message)
        got.set()

    try:
        await server.subscribe("slow", 1, late).wait(TIMEOUT)
        e = await araises(asyncio.TimeoutError, client.request("slow", b"1", timeout=0.3))
        assert "slow" in str(e)
        assert client._requester.pending == {}  # the correlation is forgotten
        await asyncio.wait_for(got.wait(), TIMEOUT)
        # Answered too late: ignored, and the next request gets its own answer.
        server.respond(held[0], b"late")
        got.clear()
        task = asyncio.create_task(client.request("slow", b"2", timeout=TIMEOUT))
        await asyncio.wait_for(got.wait(), TIMEOUT)
        server.respond(held[1], b"in time")
        r = await task
        assert r.payload == b"in time"
        assert r.properties.correlation_data == held[1].properties.correlation_data
    finally:
        await client.disconnect()
        await server.disconnect()


def test_request_timeout_forgets_correlation():
    run(_timeout())


# -- paho as the responder ----------------------------------------------------------------


async def _paho_responder():
    b = await control("broker")
    sub = await control("paho_subscribe", url=b["url"], topic="paho/svc", qos=1)
    client = await mq.dial(b["url"], client_id="paho-rr")
    try:
        task = asyncio.create_task(client.request("paho/svc", b"question", timeout=TIMEOUT))
        (m,) = await control("paho_messages", id=sub, count=1)
        assert unhexlify(m["payload"]) == b"question"
        p = m["properties"]
        assert p["ResponseTopic"] == "mq/paho-rr/responses"
        await control("paho_publish", url=b["url"], topic=p["ResponseTopic"], payload=hexlify(b"answer"), qos=1,
                      properties={"CorrelationData": p["CorrelationData"]})
        r = await task
        assert r.payload == b"answer"
        assert hexlify(r.properties.correlation_data) == p["CorrelationData"]
    finally:
        await client.disconnect()


def test_paho_responder():
    run(_paho_responder())


# -- MQTT 3.1.1 ----------------------------------------------------------------------------


async def _v311():
    b = await control("broker")
    c = await mq.dial(b["url"], protocol=mq.V311, auto_protocol=False, client_id="old")
    try:
        e = await araises(mq.MQTTError, c.request("any", b"", timeout=1))
        assert "5.0" in str(e)
        assert c._subs.get("mq/old/responses") is None  # nothing subscribed
        raises(ValueError, c.respond, Message("any", b"x", 1), b"y")
    finally:
        await c.disconnect()


def test_request_on_v311_raises():
    run(_v311())


# -- Response Information (scripted broker) -------------------------------------------------


async def _response_information():
    h = await Harness().start()
    try:
        connack = Connack(False, 0, Properties(response_information="rr/dev7"))
        client, conn, connect = await h.dial(connack, request_response_info=True)
        assert connect.properties.request_response_information == 1
        assert client.response_information == "rr/dev7"
        task = asyncio.create_task(client.request("cmd", b"go", timeout=WAIT))
        s = await conn.recv()
        assert s.type == SUBSCRIBE and s.topics[0][0] == "rr/dev7/responses"
        conn.send_packet(SubAck(SUBACK, s.packet_id, [1]))
        p = await conn.recv()
        assert p.type == PUBLISH and p.topic == "cmd"
        assert p.properties.response_topic == "rr/dev7/responses"
        conn.send_packet(Ack(PUBACK, p.packet_id))
        # A response with other correlation data is not ours; then the right one.
        cd = p.properties.correlation_data
        conn.send_packet(Message("rr/dev7/responses", b"no", 0, properties=Properties(correlation_data=b"x" + cd)))
        conn.send_packet(Message("rr/dev7/responses", b"yes", 0, properties=Properties(correlation_data=cd)))
        r = await task
        assert r.payload == b"yes"
    finally:
        await h.close()


def test_response_topic_from_response_information():
    run(_response_information())
