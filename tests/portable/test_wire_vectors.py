"""Byte vectors for the wire codec, hand-checked against MQTT 3.1.1 and 5.0."""

from support import raises, unhex

from mq.errors import MalformedPacket, ProtocolError
from mq.errors_rare import PacketTooLarge
from mq.wire_buf import Reader, put_varint
from mq.wire_decode import Decoder
from mq.wire_encode import encode_bytes, encode_plain_publish, encode_publish
from mq.wire_packets import (
    PINGREQ_PACKET,
    PINGRESP_PACKET,
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    SUBACK,
    UNSUBACK,
    Ack,
    Auth,
    Connack,
    Connect,
    Disconnect,
    Message,
    SubAck,
    Subscribe,
    Unsubscribe,
    Will,
)
from mq.wire_props import Properties

V311 = 4
V50 = 5

# (version, packet, exact bytes on the wire)
VECTORS = [
    (V311, Connect("a", V311, True, 60), "10 0d 0004 4d515454 04 02 003c 0001 61"),
    (V50, Connect("a", V50, True, 60), "10 0e 0004 4d515454 05 02 003c 00 0001 61"),
    (V311, Connect("c", V311, False, 10, "u", b"p", Will("w", b"x", 1, True)),
     "10 19 0004 4d515454 04 ec 000a 0001 63 0001 77 0001 78 0001 75 0001 70"),
    (V50, Connect("", V50, False, 0, properties=Properties(session_expiry_interval=3600)),
     "10 12 0004 4d515454 05 00 0000 05 11 00000e10 0000"),
    (V311, Connack(True, 0), "20 02 01 00"),
    (V311, Connack(False, 5), "20 02 00 05"),
    (V50, Connack(False, 0x87), "20 03 00 87 00"),
    (V50, Connack(True, 0, Properties(receive_maximum=20, topic_alias_maximum=10)),
     "20 09 01 00 06 21 0014 22 000a"),
    (V311, Message("a/b", b"hi"), "30 07 0003 612f62 6869"),
    (V311, Message("a/b", b"hi", 1, True, True, 10), "3b 09 0003 612f62 000a 6869"),
    (V50, Message("a/b", b"hi", 1, False, False, 10), "32 0a 0003 612f62 000a 00 6869"),
    (V50, Message("a/b", b"", 2, False, False, 1, Properties(message_expiry=60)),
     "34 0d 0003 612f62 0001 05 02 0000003c"),
    (V50, Message("t", b"", 0, properties=Properties(user_properties=[("k", "1"), ("k", "2")])),
     "30 12 0001 74 0e 26 0001 6b 0001 31 26 0001 6b 0001 32"),
    (V311, Ack(PUBACK, 10), "40 02 000a"),
    (V50, Ack(PUBACK, 10, 0x10), "40 03 000a 10"),
    (V50, Ack(PUBREC, 1, 0x80, Properties(reason_string="no")),
     "50 09 0001 80 05 1f 0002 6e6f"),
    (V311, Ack(PUBREL, 10), "62 02 000a"),
    (V50, Ack(PUBCOMP, 7, 0x92), "70 03 0007 92"),
    (V311, Subscribe(1, [("a/#", 1)]), "82 08 0001 0003 612f23 01"),
    (V50, Subscribe(2, [("a", 0x2e)], Properties(subscription_identifier=[5])),
     "82 09 0002 02 0b 05 0001 61 2e"),
    (V311, SubAck(SUBACK, 1, [1, 0x80]), "90 04 0001 01 80"),
    (V50, SubAck(SUBACK, 1, [0x02, 0x9e]), "90 05 0001 00 02 9e"),
    (V311, Unsubscribe(1, ["a/#"]), "a2 07 0001 0003 612f23"),
    (V311, SubAck(UNSUBACK, 1, []), "b0 02 0001"),
    (V50, SubAck(UNSUBACK, 1, [0x00, 0x11]), "b0 05 0001 00 00 11"),
    (V311, PINGREQ_PACKET, "c0 00"),
    (V50, PINGRESP_PACKET, "d0 00"),
    (V311, Disconnect(), "e0 00"),
    (V50, Disconnect(0x8B), "e0 01 8b"),
    (V50, Disconnect(0, Properties(session_expiry_interval=0)), "e0 07 00 05 11 00000000"),
    (V50, Auth(0x18, Properties(authentication_method="M")), "f0 06 18 04 15 0001 4d"),
]


def test_encode_vectors():
    for version, packet, wire in VECTORS:
        got = encode_bytes(packet, version)
        assert got == unhex(wire), (packet, got)


def test_decode_vectors():
    for version, packet, wire in VECTORS:
        d = Decoder(version)
        got = d.decode(unhex(wire))
        assert got == packet, (wire, got, packet)
        assert d.size == len(unhex(wire))


def test_varint_vectors():
    table = [
        (0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"),
        (2097151, "ffff7f"), (2097152, "80808001"), (268435455, "ffffff7f"),
    ]
    buf = bytearray(4)
    r = Reader()
    for n, wire in table:
        end = put_varint(buf, 0, n)
        assert bytes(buf[:end]) == unhex(wire), n
        r.reset(unhex(wire), 0, len(wire) // 2)
        assert r.varint() == n
    raises(ValueError, put_varint, buf, 0, 268435456)
    raises(ValueError, put_varint, buf, 0, -1)


def test_incomplete_returns_none():
    whole = unhex("3b 09 0003 612f62 000a 6869")
    d = Decoder(V311)
    for cut in range(len(whole)):
        assert d.decode(whole[:cut]) is None
    assert d.decode(whole) is not None
    # A long remaining length arriving one byte at a time.
    assert d.decode(unhex("30 80")) is None


def _err(version, wire, exc=MalformedPacket, code=None, max_packet=None):
    d = Decoder(version) if max_packet is None else Decoder(version, max_packet)
    e = raises(exc, d.decode, unhex(wire))
    assert e.reason_code == (code if code is not None else exc.default_code), (wire, e)
    return e


def test_malformed_fixed_header():
    _err(V50, "36 00")  # QoS 3
    _err(V50, "60 02 0001")  # PUBREL flags must be 0010
    _err(V50, "80 02 0001")  # SUBSCRIBE flags
    _err(V50, "41 02 0001")  # PUBACK flags
    _err(V50, "00 00")  # reserved type 0
    _err(V311, "f0 00")  # AUTH does not exist in 3.1.1
    _err(V50, "30 ff ff ff ff 01")  # remaining length of 5 bytes
    _err(V50, "30 80 00")  # not minimally encoded


def test_malformed_bodies():
    _err(V50, "d0 01 00")  # PINGRESP with a body
    _err(V311, "20 03 00 00 00")  # CONNACK too long
    _err(V311, "20 01 00")  # CONNACK too short
    _err(V311, "20 02 02 00")  # reserved CONNACK flags
    _err(V311, "40 03 0001 00")  # v3.1.1 PUBACK has no reason code
    _err(V50, "40 01 00")  # PUBACK too short for its packet identifier
    _err(V50, "50 05 0001 00 00 00")  # a byte after PUBREC's properties
    _err(V50, "40 04 0001 00 05")  # PUBACK properties longer than the packet
    _err(V50, "30 05 0003 ed a080")  # UTF-16 surrogate in the topic
    _err(V50, "30 05 0003 c0 80 00")  # overlong encoding
    _err(V50, "30 05 0003 61 00 62 00")  # U+0000 in the topic
    _err(V50, "30 04 0005 6161")  # string longer than the packet
    _err(V50, "30 06 0001 61 05 26 00")  # properties longer than the packet
    _err(V50, "30 06 0001 61 02 7f 00")  # unknown property
    _err(V50, "30 06 0001 61 02 04 00")  # no property 0x04 (a gap in the table)
    _err(V50, "30 06 0001 61 02 2b 00")  # no property 0x2B (past the last, 0x2A)
    _err(V50, "30 06 0001 61 02 00 00")  # no property 0x00
    _err(V50, "30 09 0001 61 05 11 00000001")  # session expiry is not a PUBLISH property
    _err(V311, "82 06 0001 0001 61 04")  # v3.1.1 reserved subscription option bits
    _err(V50, "10 0d 0004 4d515449 04 02 003c 0001 61")  # protocol name MQTI


def test_protocol_errors():
    _err(V50, "40 02 0000", ProtocolError)  # packet identifier 0
    _err(V50, "32 06 0001 61 0000 00", ProtocolError)
    _err(V50, "30 06 0003 612f23 00", ProtocolError, 0x90)  # wildcard in a topic name
    _err(V311, "30 02 0000", ProtocolError)  # empty topic
    _err(V50, "30 03 0000 00", ProtocolError)  # empty topic and no alias
    _err(V50, "30 07 0001 61 03 23 0000", ProtocolError)  # topic alias 0
    _err(V50, "30 0c 0001 61 08 03 0001 61 03 0001 62", ProtocolError)  # content type twice
    _err(V50, "40 03 0001 05", ProtocolError)  # not a PUBACK reason code
    _err(V311, "90 03 0001 03", ProtocolError)  # not a v3.1.1 SUBACK return code
    _err(V50, "90 03 0001 00", ProtocolError)  # SUBACK without reason codes
    _err(V50, "20 03 01 87 00", ProtocolError)  # session present on a refusal
    _err(V50, "20 05 00 00 02 24 02", ProtocolError)  # maximum QoS 2
    _err(V50, "e0 01 19", ProtocolError)  # 0x19 is not a DISCONNECT reason code


def test_packet_too_large_before_the_body():
    # The limit is checked from the fixed header alone: two bytes are enough.
    e = _err(V50, "30 64", PacketTooLarge, 0x95, max_packet=50)
    assert isinstance(e, ProtocolError)
    d = Decoder(V311, 50)
    assert d.decode(unhex("30 30 0001 61") + bytes(45)) is not None  # exactly 50 bytes is fine


def test_v311_refusal_of_a_v5_connect():
    # A 3.1.1-only server answers our v5 CONNECT with return code 1.
    c = Decoder(V50).decode(unhex("20 02 00 01"))
    assert c == Connack(False, 0x84)


def test_empty_topic_with_alias_decodes():
    m = Decoder(V50).decode(unhex("30 08 0000 03 23 0007 6869"))
    assert m.topic == "" and m.properties.topic_alias == 7 and m.payload == b"hi"


def test_ack_record_is_reused():
    d = Decoder(V50)
    a = d.decode(unhex("40 02 0001"))
    b = d.decode(unhex("50 02 0002"))
    assert a is b and b.type == PUBREC and b.packet_id == 2


def test_short_ack_takes_only_short_success_acknowledgements():
    d = Decoder(5)
    for hexa, ptype, code in (
        ("40 02 01 02", 4, 0), ("50 02 01 02", 5, 0), ("62 02 01 02", 6, 0), ("70 02 01 02", 7, 0),
        ("40 03 01 02 10", 4, 0x10), ("50 03 01 02 10", 5, 0x10),  # No matching subscribers
    ):
        raw = unhex(hexa)
        a = d.short_ack(unhex("00 " + hexa + " ff"), 1, len(raw) + 2)
        assert (a.type, a.packet_id, a.reason_code, a.properties) == (ptype, 0x0102, code, None), hexa
        assert d.size == len(raw), hexa
        assert a == Decoder(5).decode(raw), hexa  # what the general path reads (another record)
    for hexa in (
        "40 02 00 00",  # packet identifier 0: a protocol error, for body() to raise
        "60 02 00 01",  # PUBREL without its reserved flags
        "42 02 00 01",  # PUBACK with reserved flags
        "40 03 00 01 00",  # reason code 0 written out
        "40 03 00 01 80",  # a failure
        "40 03 00 01 11",  # not a PUBACK code: for body() to refuse
        "70 03 00 01 10",  # 0x10 is no PUBCOMP code
        "62 03 00 01 10",  # nor a PUBREL one
        "40 04 00 01 10 00",  # with a property length
        "40 03 00 00 10",  # packet identifier 0
        "30 02 00 01",  # not an acknowledgement
        "40 02 00",  # incomplete
        "40 03 00 01",  # incomplete
    ):
        assert d.short_ack(unhex(hexa), 0, len(unhex(hexa))) is None, hexa
    assert Decoder(4).short_ack(unhex("40 03 00 01 10"), 0, 5) is None  # v3.1.1: malformed there
    assert Decoder(5, max_packet=3).short_ack(unhex("40 02 00 01"), 0, 4) is None  # too large there
    assert Decoder(5, max_packet=4).short_ack(unhex("40 03 00 01 10"), 0, 5) is None


def test_plain_publish_writes_what_the_general_encoder_writes():
    # Both versions, RETAIN, Remaining Lengths around the one- and two-byte boundaries,
    # at an offset inside the buffer.
    for version in (4, 5):
        for retain in (False, True):
            for m in (0, 1, 121, 122, 123, 124, 16377, 16378):
                topic, payload = b"a/b", bytes(range(256)) * (m // 256) + bytes(m % 256)
                want = bytearray(16500)
                end = encode_publish(want, 3, version, topic, payload, 0, retain, False, 0)
                head = 0x30 | retain | (0x100 if version == 5 else 0)
                got = bytearray(16500)
                case = (version, retain, m)
                if end - 3 > 16386:  # past a two-byte Remaining Length: not the plain case
                    assert encode_plain_publish(got, 3, head, topic, payload) == -1, case
                    assert not any(got), case
                    continue
                assert encode_plain_publish(got, 3, head, topic, payload) == end, case
                assert got == want, case


def test_plain_publish_that_may_not_fit_writes_nothing():
    raw = bytearray(17)
    assert encode_plain_publish(raw, 0, 0x130, b"t", b"x" * 10) == 16  # 16 bytes, one spare
    assert bytes(raw[:5]) == unhex("30 0e 00 01 74") and raw[16] == 0
    for size in (15, 16):  # short, and the exact size (the plain path keeps a byte spare)
        buf = bytearray(size)
        assert encode_plain_publish(buf, 0, 0x130, b"t", b"x" * 10) == -1
        assert not any(buf)
    buf = bytearray(20000)
    assert encode_plain_publish(buf, 0, 0x30, b"t", bytes(16380)) == 16386  # Remaining Length 16383
    buf = bytearray(20000)
    assert encode_plain_publish(buf, 0, 0x30, b"t", bytes(16381)) == -1  # 16384: three bytes
    assert not any(buf)


def test_multiple_subscription_identifiers_in_publish():
    m = Decoder(V50).decode(unhex("30 08 0001 61 04 0b 01 0b 7f"))
    assert m.properties.subscription_identifier == [1, 127]
    _err(V50, "82 0a 0001 04 0b 01 0b 02 0001 61 00", ProtocolError)  # twice in SUBSCRIBE


def test_encode_rejects_misuse():
    raises(ValueError, encode_bytes, Message("a/+", b""), V50)
    raises(ValueError, encode_bytes, Message("", b""), V311)
    raises(ValueError, encode_bytes, Message("a", b"", 3), V50)
    raises(ValueError, encode_bytes, Message("a", b"", 1, packet_id=0), V50)
    raises(ValueError, encode_bytes, Message("a", b"", 0, dup=True), V50)
    raises(ValueError, encode_bytes, Message("a\x00", b""), V50)
    raises(ValueError, encode_bytes, Subscribe(1, [("a/#/b", 0)]), V50)
    raises(ValueError, encode_bytes, Subscribe(1, [("a+", 0)]), V50)
    raises(ValueError, encode_bytes, Subscribe(1, [("$share/g/a", 0x04)]), V50)
    raises(ValueError, encode_bytes, Subscribe(1, [("a", 0x30)]), V50)
    raises(ValueError, encode_bytes, Subscribe(1, []), V50)
    raises(ValueError, encode_bytes, Connect("c", V311, password=b"p"), V311)
    raises(ValueError, encode_bytes, Auth(0x18), V311)
    raises(ValueError, encode_bytes, Message("a", b"", properties=Properties(session_expiry_interval=1)), V50)
    raises(ValueError, encode_bytes, Message("a", b"", properties=Properties(topic_alias=0)), V50)
    raises(ValueError, encode_bytes, Message("a", b"", properties=Properties(payload_format=2)), V50)
    raises(ValueError, encode_bytes, Message("a", b"", properties=Properties(message_expiry=1 << 32)), V50)
    raises(ValueError, encode_bytes,
           Message("a", b"", properties=Properties(user_properties=[("k", "\x00")])), V50)


def test_v5_options_ignored_on_v311():
    # No Local etc. mean nothing in 3.1.1: the encoder keeps only the QoS bits.
    assert encode_bytes(Subscribe(1, [("a", 0x25)]), V311) == unhex("82 06 0001 0001 61 01")
    # Properties are dropped on a v3.1.1 connection.
    m = Message("a", b"x", properties=Properties(content_type="t"))
    assert encode_bytes(m, V311) == unhex("30 04 0001 61 78")
