"""Independent cross-checks of the wire codec against real peers (CPython only).

1. paho-mqtt 2.x talks to a tiny scripted server in this file: what paho puts on the
   wire must decode, with our Decoder, to exactly the values paho was given.
2. A real Mosquitto must accept what our encoder writes and answer as expected, and
   paho, subscribed through Mosquitto, must see what we published.

Every socket has a timeout and every wait is on an event or a queue with a timeout, so
a broken codec makes a test fail rather than hang.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from brokers import Mosquitto, mosquitto_binary, running
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.subscribeoptions import SubscribeOptions

from mq.wire_decode import Decoder
from mq.wire_encode import encode_bytes
from mq.wire_packets import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ_PACKET,
    PINGRESP,
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
    Connect,
    Disconnect,
    Message,
    Packet,
    SubAck,
    Subscribe,
    Unsubscribe,
    Will,
    subscription_options,
)
from mq.wire_props import Properties

V311 = 4
V50 = 5
VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V50, id="v5")]
PAHO_PROTOCOL = {V311: paho.MQTTv311, V50: paho.MQTTv5}
TIMEOUT = 5.0

needs_mosquitto = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    yield from running()


# -- byte plumbing ----------------------------------------------------------------------


def own(p: Packet) -> Packet:
    """The decoder reuses one Ack record; take a copy that stays valid."""
    if 4 <= p.type <= 7:  # PUBACK .. PUBCOMP
        return Ack(p.type, p.packet_id, p.reason_code, p.properties)
    return p


def split(data: bytes, version: int) -> list[Packet]:
    """Cut a captured byte stream into packets with our Decoder; every byte must belong
    to a whole packet."""
    d = Decoder(version)
    out = []
    pos = 0
    while pos < len(data):
        p = d.decode(data, pos)
        assert p is not None, "truncated packet at offset %d: %s" % (pos, data[pos:].hex(" "))
        out.append(own(p))
        pos += d.size
    return out


class Peer:
    """One end of an MQTT connection over a socket: our encoder out, our decoder in."""

    def __init__(self, sock: socket.socket, version: int) -> None:
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.version = version
        self.decoder = Decoder(version)
        self.buf = bytearray()
        self.received = bytearray()  # every byte read, for the record
        self.backlog: list[Packet] = []  # read while expecting another type

    def send(self, packet: Packet) -> None:
        self.sock.sendall(encode_bytes(packet, self.version))

    def read(self) -> Packet:
        """The next packet, reading from the socket until one is whole."""
        while True:
            p = self.decoder.decode(self.buf)
            if p is not None:
                del self.buf[: self.decoder.size]
                return own(p)
            chunk = self.sock.recv(65536)  # socket.timeout fails the test
            if not chunk:
                raise ConnectionError("connection closed; unread bytes: %s" % self.buf.hex(" "))
            self.buf += chunk
            self.received += chunk

    def expect(self, ptype: int) -> Packet:
        """The first packet of type ptype; others read on the way are kept for later."""
        for i, p in enumerate(self.backlog):
            if p.type == ptype:
                return self.backlog.pop(i)
        while True:
            p = self.read()
            if p.type == ptype:
                return p
            self.backlog.append(p)

    def close(self) -> None:
        self.sock.close()


# -- 1. paho-mqtt against a scripted server ---------------------------------------------


class ScriptedServer:
    """Accepts one client on a free loopback port, records the bytes it sends and
    answers with our encoder: CONNACK, SUBACK (the QoS asked for), UNSUBACK, PUBACK,
    PUBREC, PUBCOMP. Stops at DISCONNECT or end of stream."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.received = b""
        self.packets: queue.Queue[Packet] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="scripted-server", daemon=True)
        self.thread.start()

    def _answer(self, p: Any) -> Packet | None:
        t = p.type
        if t == CONNECT:
            return Connack(False, 0)
        if t == SUBSCRIBE:
            return SubAck(SUBACK, p.packet_id, [opts & 3 for _, opts in p.topics])
        if t == UNSUBSCRIBE:
            return SubAck(UNSUBACK, p.packet_id, [0] * len(p.topics) if self.version == V50 else [])
        if t == PUBLISH and p.qos == 1:
            return Ack(PUBACK, p.packet_id)
        if t == PUBLISH and p.qos == 2:
            return Ack(PUBREC, p.packet_id)
        if t == PUBREL:
            return Ack(PUBCOMP, p.packet_id)
        return None

    def _run(self) -> None:
        peer = None
        try:
            conn, _ = self.listener.accept()
            peer = Peer(conn, self.version)
            while True:
                try:
                    p = peer.read()
                except ConnectionError:
                    return
                reply = self._answer(p)
                if reply is not None:
                    peer.send(reply)
                self.packets.put(p)
                if p.type == DISCONNECT:
                    return
        except BaseException as e:
            self.error = e
        finally:
            if peer is not None:
                self.received = bytes(peer.received)
                peer.close()
            self.listener.close()

    def finish(self) -> list[Packet]:
        """Wait for the client to go, then cut what it sent into packets afresh."""
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the scripted server is still reading"
        if self.error is not None:
            raise self.error
        return split(self.received, self.version)


class PahoPeer:
    """A paho-mqtt 2.x client whose callbacks feed queues the test waits on."""

    def __init__(self, version: int, client_id: str, clean_session: bool | None = None) -> None:
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=PAHO_PROTOCOL[version],
        )
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        c = self.client
        c.on_connect = lambda _c, _u, flags, rc, props: self.events.put(("connect", rc))
        c.on_subscribe = lambda _c, _u, mid, rcs, props: self.events.put(("subscribe", mid, rcs))
        c.on_unsubscribe = lambda _c, _u, mid, rcs, props: self.events.put(("unsubscribe", mid, rcs))
        c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.started = False

    def connect(self, port: int, keepalive: int = 60, **kwargs: Any) -> None:
        assert self.client.connect("127.0.0.1", port, keepalive, **kwargs) == paho.MQTT_ERR_SUCCESS
        self.client.loop_start()
        self.started = True
        ev = self.wait("connect")
        assert not ev[1].is_failure, ev

    def wait(self, kind: str) -> tuple[Any, ...]:
        ev = self.events.get(timeout=TIMEOUT)
        assert ev[0] == kind, ev
        return ev

    def publish(self, *args: Any, **kwargs: Any) -> int:
        info = self.client.publish(*args, **kwargs)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), "paho did not complete publish mid=%d" % info.mid
        return info.mid

    def close(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
        if self.started:
            self.client.loop_stop()


def paho_props(ptype: int, **values: Any) -> PahoProperties:
    p = PahoProperties(ptype)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def test_paho_connect_v311() -> None:
    server = ScriptedServer(V311)
    peer = PahoPeer(V311, "paho-311", clean_session=False)
    try:
        peer.client.username_pw_set("üser", "pässwörd")
        peer.client.will_set("will/topic", b"gone\x00\xff", qos=1, retain=True)
        peer.connect(server.port, keepalive=17)
        peer.client.disconnect()
        packets = server.finish()
    finally:
        peer.close()
    assert [p.type for p in packets] == [CONNECT, DISCONNECT]
    c: Any = packets[0]
    assert c.version == V311
    assert c.client_id == "paho-311"
    assert c.clean_start is False
    assert c.keepalive == 17
    assert c.username == "üser"
    assert c.password == "pässwörd".encode()
    assert c.will == Will("will/topic", b"gone\x00\xff", 1, True, None)
    assert c.properties is None
    assert packets[1] == Disconnect()


def test_paho_connect_v5() -> None:
    server = ScriptedServer(V50)
    peer = PahoPeer(V50, "paho-5")
    try:
        peer.client.username_pw_set("user", b"\x00secret\xff")
        will_props = paho_props(
            PacketTypes.WILLMESSAGE,
            WillDelayInterval=30,
            MessageExpiryInterval=600,
            ContentType="text/plain",
            PayloadFormatIndicator=1,
            UserProperty=[("w", "1"), ("w", "2")],
        )
        peer.client.will_set("will/5", "bye", qos=2, retain=False, properties=will_props)
        props = paho_props(
            PacketTypes.CONNECT,
            SessionExpiryInterval=3600,
            ReceiveMaximum=12,
            MaximumPacketSize=65536,
            TopicAliasMaximum=4,
            UserProperty=[("a", "1"), ("a", "2"), ("ключ", "значение")],
        )
        peer.connect(server.port, keepalive=300, clean_start=False, properties=props)
        peer.client.disconnect()
        packets = server.finish()
    finally:
        peer.close()
    assert [p.type for p in packets] == [CONNECT, DISCONNECT]
    c: Any = packets[0]
    assert c.version == V50
    assert c.client_id == "paho-5"
    assert c.clean_start is False
    assert c.keepalive == 300
    assert c.username == "user"
    assert c.password == b"\x00secret\xff"
    assert c.properties == Properties(
        session_expiry_interval=3600,
        receive_maximum=12,
        maximum_packet_size=65536,
        topic_alias_maximum=4,
        user_properties=[("a", "1"), ("a", "2"), ("ключ", "значение")],
    )
    assert c.will == Will(
        "will/5",
        b"bye",
        2,
        False,
        Properties(
            will_delay_interval=30,
            message_expiry=600,
            content_type="text/plain",
            payload_format=1,
            user_properties=[("w", "1"), ("w", "2")],
        ),
    )
    assert packets[1].type == DISCONNECT
    assert packets[1].reason_code == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", VERSIONS)
def test_paho_publish(version: int) -> None:
    server = ScriptedServer(version)
    peer = PahoPeer(version, "paho-pub")
    v5 = version == V50
    sent: list[tuple[int, str, bytes, int, bool, Properties | None]] = []
    try:
        peer.connect(server.port)
        for qos, retain in ((0, False), (1, True), (2, False)):
            topic = "pub/q%d/ü" % qos
            payload = bytes(range(qos, 200 + qos))
            ours = None
            kwargs: dict[str, Any] = {}
            if v5:
                user = [("k", "1"), ("k", "2"), ("other", "x"), ("k", "3")]
                kwargs["properties"] = paho_props(
                    PacketTypes.PUBLISH,
                    PayloadFormatIndicator=0,
                    MessageExpiryInterval=120 + qos,
                    ContentType="application/octet-stream",
                    ResponseTopic="reply/%d" % qos,
                    CorrelationData=b"\x00corr\xff%d" % qos,
                    UserProperty=user,
                )
                ours = Properties(
                    payload_format=0,
                    message_expiry=120 + qos,
                    content_type="application/octet-stream",
                    response_topic="reply/%d" % qos,
                    correlation_data=b"\x00corr\xff%d" % qos,
                    user_properties=user,
                )
            mid = peer.publish(topic, payload, qos, retain, **kwargs)
            sent.append((mid, topic, payload, qos, retain, ours))
        peer.client.disconnect()
        packets = server.finish()
    finally:
        peer.close()
    assert packets[0].type == CONNECT
    assert packets[-1].type == DISCONNECT
    pubs: list[Any] = [p for p in packets if p.type == PUBLISH]
    assert len(pubs) == 3
    for p, (mid, topic, payload, qos, retain, props) in zip(pubs, sent, strict=True):
        assert (p.topic, p.payload, p.qos, p.retain, p.dup) == (topic, payload, qos, retain, False)
        assert p.packet_id == (mid if qos else 0)
        assert p.properties == props
    # The QoS 2 flow: paho releases the packet identifier it published with.
    rels: list[Any] = [p for p in packets if p.type == PUBREL]
    assert [(r.packet_id, r.reason_code, r.properties) for r in rels] == [(sent[2][0], 0, None)]
    assert [p.type for p in packets] == [CONNECT, PUBLISH, PUBLISH, PUBLISH, PUBREL, DISCONNECT]


@pytest.mark.parametrize("version", VERSIONS)
def test_paho_subscribe_unsubscribe(version: int) -> None:
    server = ScriptedServer(version)
    peer = PahoPeer(version, "paho-sub")
    v5 = version == V50
    try:
        peer.connect(server.port)
        if v5:
            topics: list[Any] = [
                ("sub/a", SubscribeOptions(qos=0, noLocal=True)),
                ("sub/+/b", SubscribeOptions(qos=1, retainAsPublished=True)),
                ("sub/#", SubscribeOptions(qos=2, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
                ("$share/g/sub/c", SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)),
            ]
            sub_props = paho_props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=268435455)
            sub_props.UserProperty = [("s", "1"), ("s", "0")]
            _, sub_mid = peer.client.subscribe(topics, properties=sub_props)
        else:
            topics = [("sub/a", 0), ("sub/+/b", 1), ("sub/#", 2)]
            _, sub_mid = peer.client.subscribe(topics)
        assert peer.wait("subscribe")[1] == sub_mid
        unsub_topics = ["sub/a", "sub/#"]
        if v5:
            unsub_props = paho_props(PacketTypes.UNSUBSCRIBE, UserProperty=[("u", "x"), ("u", "y")])
            _, unsub_mid = peer.client.unsubscribe(unsub_topics, properties=unsub_props)
        else:
            _, unsub_mid = peer.client.unsubscribe(unsub_topics)
        assert peer.wait("unsubscribe")[1] == unsub_mid
        peer.client.disconnect()
        packets = server.finish()
    finally:
        peer.close()
    assert [p.type for p in packets] == [CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT]
    sub: Any = packets[1]
    unsub: Any = packets[2]
    assert sub.packet_id == sub_mid
    assert unsub.packet_id == unsub_mid
    assert unsub.topics == unsub_topics
    if v5:
        assert sub.topics == [
            ("sub/a", subscription_options(0, no_local=True)),
            ("sub/+/b", subscription_options(1, retain_as_published=True)),
            ("sub/#", subscription_options(2, retain_handling=1)),
            ("$share/g/sub/c", subscription_options(1, retain_handling=2)),
        ]
        assert sub.properties == Properties(
            subscription_identifier=[268435455], user_properties=[("s", "1"), ("s", "0")]
        )
        assert unsub.properties == Properties(user_properties=[("u", "x"), ("u", "y")])
    else:
        assert sub.topics == topics
        assert sub.properties is None
        assert unsub.properties is None


# -- 2. a real Mosquitto reads what we write ---------------------------------------------


class RawClient(Peer):
    """An MQTT client made of a socket, our encoder and our decoder."""

    def __init__(self, broker: Mosquitto, version: int) -> None:
        sock = socket.create_connection((broker.host, broker.port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, version)

    def connect(self, packet: Connect) -> Any:
        assert packet.version == self.version
        self.send(packet)
        connack: Any = self.expect(CONNACK)
        assert connack.reason_code == 0, connack
        return connack

    def subscribe(self, packet: Subscribe) -> Any:
        self.send(packet)
        ack: Any = self.expect(SUBACK)
        assert ack.packet_id == packet.packet_id
        return ack

    def publish(self, msg: Message, code: int = 0) -> None:
        """Publish and complete the QoS 1 or 2 flow; code is the reason code expected
        in PUBACK or PUBREC (0x10 "no matching subscribers" from a v5 broker)."""
        self.send(msg)
        if msg.qos == 1:
            ack: Any = self.expect(PUBACK)
            assert (ack.packet_id, ack.reason_code) == (msg.packet_id, code)
        elif msg.qos == 2:
            ack = self.expect(PUBREC)
            assert (ack.packet_id, ack.reason_code) == (msg.packet_id, code)
            self.send(Ack(PUBREL, msg.packet_id))
            ack = self.expect(PUBCOMP)
            assert (ack.packet_id, ack.reason_code) == (msg.packet_id, 0)

    def receive(self) -> Any:
        """The next PUBLISH from the broker, acknowledged as its QoS requires."""
        msg: Any = self.expect(PUBLISH)
        if msg.qos == 1:
            self.send(Ack(PUBACK, msg.packet_id))
        elif msg.qos == 2:
            self.send(Ack(PUBREC, msg.packet_id))
            rel: Any = self.expect(PUBREL)
            assert rel.packet_id == msg.packet_id
            self.send(Ack(PUBCOMP, msg.packet_id))
        return msg

    def ping(self) -> None:
        """A barrier: the broker answers PINGREQ after what it owed us before it."""
        self.send(PINGREQ_PACKET)
        self.expect(PINGRESP)

    def assert_idle(self) -> None:
        self.ping()
        assert self.backlog == [], self.backlog

    def disconnect(self) -> None:
        self.send(Disconnect())
        self.close()


def assert_clean_log(broker: Mosquitto) -> None:
    log = broker.log().lower()
    for bad in ("malformed", "protocol error", "error:"):
        assert bad not in log, broker.log_tail()


PUB_PROPS = Properties(
    payload_format=1,
    message_expiry=60,
    content_type="text/plain; charset=utf-8",
    response_topic="reply/to/me",
    correlation_data=b"\x00\x01corr\xff",
    user_properties=[("k", "1"), ("k", "2"), ("ü", "ß"), ("k", "3")],
)


def assert_forwarded_props(got: Properties | None, sub_id: int | None = None) -> None:
    """What Mosquitto forwards: our properties, the expiry counted down, plus the
    subscription identifier."""
    assert got is not None
    assert got.payload_format == PUB_PROPS.payload_format
    assert got.content_type == PUB_PROPS.content_type
    assert got.response_topic == PUB_PROPS.response_topic
    assert got.correlation_data == PUB_PROPS.correlation_data
    assert got.user_properties == PUB_PROPS.user_properties
    assert got.message_expiry is not None and 55 <= got.message_expiry <= 60
    assert got.subscription_identifier == ([sub_id] if sub_id is not None else None)


@needs_mosquitto
@pytest.mark.broker
@pytest.mark.parametrize("version", VERSIONS)
def test_mosquitto_connect(version: int) -> None:
    config = [
        "max_topic_alias 7",
        "max_inflight_messages 9",
        "max_keepalive 30",
        "max_packet_size 100000",
        "retain_available false",
    ]
    with Mosquitto(config) as broker:
        v5 = version == V50
        c = RawClient(broker, version)
        try:
            props = None
            if v5:
                props = Properties(
                    session_expiry_interval=120,
                    receive_maximum=5,
                    maximum_packet_size=50000,
                    request_problem_information=1,
                    user_properties=[("a", "1"), ("a", "2")],
                )
            # An empty client identifier: v5 gets one assigned in the CONNACK.
            client_id = "" if v5 else "raw-311"
            connack = c.connect(
                Connect(client_id, version, True, 120, "user", b"pw", Will("w/t", b"x", 1), props)
            )
            assert connack.session_present is False
            if v5:
                p = connack.properties
                assert p is not None, connack
                assert p.topic_alias_maximum == 7
                assert p.receive_maximum == 9
                assert p.server_keep_alive == 30  # our 120 s is above max_keepalive
                assert p.maximum_packet_size == 100000
                assert p.retain_available == 0
                assert p.assigned_client_identifier
            else:
                assert connack.properties is None
            c.assert_idle()
            c.disconnect()
        finally:
            c.close()
        assert_clean_log(broker)


@needs_mosquitto
@pytest.mark.broker
@pytest.mark.parametrize("version", VERSIONS)
def test_mosquitto_pubsub(version: int, mosquitto: Mosquitto) -> None:
    v5 = version == V50
    c = RawClient(mosquitto, version)
    try:
        c.connect(Connect("raw-pubsub", version, True, 60))
        sub_props = Properties(subscription_identifier=42, user_properties=[("s", "1")]) if v5 else None
        suback = c.subscribe(
            Subscribe(
                7,
                [
                    ("t/q1", subscription_options(1, retain_as_published=True)),
                    ("t/q2", subscription_options(2)),
                    ("t/+/w", 0),
                ],
                sub_props,
            )
        )
        assert suback.reason_codes == [1, 2, 0]
        assert suback.properties is None
        payload = "héllo wörld ✓".encode()
        cases = [  # (published QoS, topic, retain, packet id, delivered QoS)
            (0, "t/q2", False, 0, 0),
            (1, "t/q1", True, 1, 1),
            (2, "t/q2", False, 2, 2),
            (2, "t/x/w", False, 65535, 0),
        ]
        for qos, topic, retain, pid, delivered_qos in cases:
            c.publish(Message(topic, payload, qos, retain, False, pid, PUB_PROPS if v5 else None))
            got = c.receive()
            assert (got.topic, got.payload, got.qos, got.dup) == (topic, payload, delivered_qos, False)
            # A live delivery carries retain only for a Retain As Published subscription (v5).
            assert got.retain is (retain and v5)
            if v5:
                assert_forwarded_props(got.properties, 42)
            else:
                assert got.properties is None
        c.assert_idle()
        c.disconnect()
    finally:
        c.close()
    assert_clean_log(mosquitto)


@needs_mosquitto
@pytest.mark.broker
@pytest.mark.parametrize("version", VERSIONS)
def test_mosquitto_retained_and_unsubscribe(version: int, mosquitto: Mosquitto) -> None:
    v5 = version == V50
    c = RawClient(mosquitto, version)
    try:
        c.connect(Connect("raw-retain", version, True, 60))
        c.publish(Message("r/a", b"kept", 1, True, False, 1, PUB_PROPS if v5 else None), 0x10 if v5 else 0)
        c.subscribe(Subscribe(2, [("r/#", 2)]))
        got = c.receive()
        assert (got.topic, got.payload, got.qos, got.retain) == ("r/a", b"kept", 1, True)
        if v5:
            assert_forwarded_props(got.properties)
            # Retain Handling 2: no retained messages for this subscription; 1: none for
            # a subscription that already exists. PINGRESP comes after anything owed.
            suback = c.subscribe(
                Subscribe(3, [("r/+", subscription_options(1, retain_handling=2))])
            )
            assert suback.reason_codes == [1]
            c.assert_idle()
            suback = c.subscribe(Subscribe(4, [("r/#", subscription_options(2, retain_handling=1))]))
            assert suback.reason_codes == [2]
            c.assert_idle()
            # Retain Handling 0 on an existing subscription sends the retained message again.
            c.subscribe(Subscribe(5, [("r/#", subscription_options(2, retain_handling=0))]))
            assert c.receive().retain is True
        unsub_props = Properties(user_properties=[("u", "1"), ("u", "2")]) if v5 else None
        c.send(Unsubscribe(6, ["r/#", "never/subscribed"], unsub_props))
        unsuback: Any = c.expect(UNSUBACK)
        assert unsuback.packet_id == 6
        assert unsuback.reason_codes == ([0x00, 0x11] if v5 else [])
        c.assert_idle()
        c.disconnect()
    finally:
        c.close()
    assert_clean_log(mosquitto)


@needs_mosquitto
@pytest.mark.broker
@pytest.mark.parametrize("version", VERSIONS)
def test_mosquitto_delivers_our_will(version: int, mosquitto: Mosquitto) -> None:
    v5 = version == V50
    watcher = RawClient(mosquitto, version)
    dying = RawClient(mosquitto, version)
    try:
        watcher.connect(Connect("watcher", version))
        watcher.subscribe(Subscribe(1, [("will/#", 2)]))
        will_props = None
        if v5:
            will_props = Properties(
                will_delay_interval=0,
                content_type="text/plain",
                correlation_data=b"\x07",
                user_properties=[("why", "crash"), ("why", "test")],
            )
        dying.connect(
            Connect("dying", version, True, 60, "user", b"pw", Will("will/dying", b"bye", 2, False, will_props))
        )
        dying.close()  # no DISCONNECT: the broker publishes the will
        got = watcher.receive()
        assert (got.topic, got.payload, got.qos, got.retain) == ("will/dying", b"bye", 2, False)
        if v5:
            assert got.properties.content_type == "text/plain"
            assert got.properties.correlation_data == b"\x07"
            assert got.properties.user_properties == [("why", "crash"), ("why", "test")]
        else:
            assert got.properties is None
        watcher.assert_idle()
        watcher.disconnect()
    finally:
        watcher.close()
        dying.close()
    assert_clean_log(mosquitto)


@needs_mosquitto
@pytest.mark.broker
def test_mosquitto_topic_alias_v5(mosquitto: Mosquitto) -> None:
    c = RawClient(mosquitto, V50)
    try:
        connack = c.connect(Connect("raw-alias", V50))
        assert connack.properties.topic_alias_maximum >= 1
        c.subscribe(Subscribe(1, [("alias/#", 1)]))
        c.publish(Message("alias/long/topic", b"one", 1, False, False, 1, Properties(topic_alias=1)))
        c.publish(Message("", b"two", 1, False, False, 2, Properties(topic_alias=1)))
        # We allowed the broker no aliases, so it sends the full topic both times.
        for payload in (b"one", b"two"):
            got = c.receive()
            assert (got.topic, got.payload) == ("alias/long/topic", payload)
            assert got.properties is None or got.properties.topic_alias is None
        c.assert_idle()
        c.disconnect()
    finally:
        c.close()
    assert_clean_log(mosquitto)


@needs_mosquitto
@pytest.mark.broker
@pytest.mark.parametrize("version", VERSIONS)
def test_paho_receives_what_we_publish(version: int, mosquitto: Mosquitto) -> None:
    v5 = version == V50
    peer = PahoPeer(version, "paho-receiver")
    c = RawClient(mosquitto, version)
    try:
        peer.connect(mosquitto.port)
        _, mid = peer.client.subscribe("cross/#", qos=2)
        assert peer.wait("subscribe")[1] == mid
        c.connect(Connect("raw-sender", version))
        sent = [("cross/0", b"zero", 0, False), ("cross/1", "öne".encode(), 1, True), ("cross/2", b"", 2, False)]
        for i, (topic, payload, qos, retain) in enumerate(sent):
            c.publish(Message(topic, payload, qos, retain, False, i + 1, PUB_PROPS if v5 else None))
        for topic, payload, qos, _ in sent:
            msg = peer.messages.get(timeout=TIMEOUT)
            assert (msg.topic, msg.payload, msg.qos, msg.retain) == (topic, payload, qos, False)
            if v5:
                p = msg.properties
                assert p.UserProperty == PUB_PROPS.user_properties
                assert p.ContentType == PUB_PROPS.content_type
                assert p.ResponseTopic == PUB_PROPS.response_topic
                assert p.CorrelationData == PUB_PROPS.correlation_data
                assert p.PayloadFormatIndicator == 1
                assert 55 <= p.MessageExpiryInterval <= 60
        c.assert_idle()
        c.disconnect()
    finally:
        c.close()
        peer.close()
    assert peer.messages.empty()
    assert_clean_log(mosquitto)
