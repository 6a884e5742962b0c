"""Property tests of the wire codec (CPython only): round trips of every packet type in
both protocol versions, robustness against arbitrary and mutated input, the size limit
checked before allocation, and topic matching and validation against a reference."""

import contextlib
import tracemalloc
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from mq.codes import (
    AUTH_CODES,
    CONNACK_CODES,
    DISCONNECT_CODES,
    PUBACK_CODES,
    PUBREL_CODES,
    SUBACK_CODES,
    UNSUBACK_CODES,
    V311_SUBACK_CODES,
)
from mq.errors import MalformedPacket, ProtocolError
from mq.errors_rare import PacketTooLarge
from mq.wire_buf import Reader
from mq.wire_decode import MAX_PACKET_SIZE, Decoder
from mq.wire_encode import encode, encode_bytes
from mq.wire_packets import (
    AUTH,
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGREQ_PACKET,
    PINGRESP,
    PINGRESP_PACKET,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    Ack,
    Auth,
    Connack,
    Connect,
    Disconnect,
    Message,
    Packet,
    SubAck,
    Subscribe,
    Unsubscribe,
    Will,
    packet_name,
    subscription_options,
)
from mq.wire_props import (
    _BIN,
    _BOOL,
    _BYTE,
    _NONZERO,
    _PAIR,
    _STR,
    _U16,
    _U32,
    _VARINT,
    IDS,
    NAMES,
    SPECS,
    WILL,
    Properties,
)
from mq.wire_topic import match_topic, topic_filter_error, topic_name_error

# The property table as rows: (identifier, attribute, type, packets allowed, value rule).
PROPERTIES = [(IDS[i], NAMES[i], (s >> 16) & 7, s & 0xFFFF, s >> 19) for i, s in enumerate(SPECS)]

V311 = 4
V50 = 5
VERSIONS = st.sampled_from((V311, V50))
MAX_VARINT = 268435455
MAX_STRING = 65535
QOS = st.integers(0, 2)
PID = st.integers(1, 65535)


def _hex(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def _varint(n: int, pad: int = 0) -> bytes:
    """A Variable Byte Integer; pad > 0 appends redundant zero groups (not minimal)."""
    out = bytearray()
    while True:
        b = n & 127
        n >>= 7
        if n:
            out.append(b | 128)
        else:
            out.append(b)
            break
    for _ in range(pad):
        out[-1] |= 128
        out.append(0)
    return bytes(out)


def _varint_size(n: int) -> int:
    return len(_varint(n))


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------
# Strategies: valid UTF-8 strings, topics, properties and the 15 packet types

# Valid MQTT strings: no U+0000, no surrogates (the utf-8 codec cannot carry them).
CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT = st.text(CHARS, max_size=12)
LEVEL_CHARS = st.characters(codec="utf-8", exclude_characters="\x00/+#")
# Few distinct levels, so that generated filters and topics often meet.
LEVEL = st.one_of(
    st.sampled_from(("a", "b", "ab", "", "$", "$SYS", "\u00fc", "a b", "\U0001f600")),
    st.text(LEVEL_CHARS, max_size=6),
)
TOPIC_NAME = st.lists(LEVEL, min_size=1, max_size=5).map("/".join).filter(bool)
GROUP = st.one_of(st.sampled_from(("g", "grp")), st.text(LEVEL_CHARS, min_size=1, max_size=5))


@st.composite
def topic_filters(draw: Any) -> str:
    levels = draw(st.lists(st.one_of(LEVEL, st.just("+")), max_size=5))
    if draw(st.booleans()):
        levels.append("#")
    flt = "/".join(levels) or draw(st.sampled_from(("#", "+")))
    if draw(st.integers(0, 3)) == 0:
        flt = "$share/%s/%s" % (draw(GROUP), flt)
    return flt


KEY = st.one_of(st.sampled_from(("k", "key", "\u00fc")), TEXT)


def _property_value(p: Tuple[int, str, int, int, int], ptype: int) -> Any:
    t, rule = p[2], p[4]
    if t == _BYTE:
        return st.integers(0, 1) if rule == _BOOL else st.integers(0, 255)
    if t == _U16 or t == _U32:
        return st.integers(1 if rule == _NONZERO else 0, 0xFFFF if t == _U16 else 0xFFFFFFFF)
    if t == _VARINT:  # the subscription identifier: several only in a PUBLISH
        return st.lists(st.integers(1, MAX_VARINT), min_size=1, max_size=3 if ptype == PUBLISH else 1)
    if t == _STR:
        return TEXT
    if t == _BIN:
        return st.binary(max_size=16)
    assert t == _PAIR
    return st.lists(st.tuples(KEY, TEXT), min_size=1, max_size=4)  # repeated keys allowed


def _to_properties(fields: Dict[str, Any]) -> Optional[Properties]:
    # An empty property section decodes as None, never as an empty Properties().
    return Properties(**fields) if fields else None


_PROPS_CACHE: Dict[int, Any] = {}


def properties(ptype: int) -> Any:
    """Properties allowed in packet type ptype (WILL = 0 for the will properties)."""
    s = _PROPS_CACHE.get(ptype)
    if s is None:
        optional = {p[1]: _property_value(p, ptype) for p in PROPERTIES if p[3] & (1 << ptype)}
        s = st.fixed_dictionaries({}, optional=optional).map(_to_properties)
        _PROPS_CACHE[ptype] = s
    return s


def _props(version: int, ptype: int) -> Any:
    return properties(ptype) if version == V50 else st.none()


def _codes(version: int, v5: frozenset, v311: "frozenset | None" = None) -> Any:
    if version == V50:
        return st.sampled_from(sorted(v5))
    return st.just(0) if v311 is None else st.sampled_from(sorted(v311))


def _payload(big: bool) -> Any:
    small = st.one_of(st.binary(max_size=48), st.binary(min_size=100, max_size=300))
    if not big:
        return small
    # Sometimes a payload long enough for a 3-byte Remaining Length.
    return st.one_of(small, small, st.integers(16384, 20000).map(lambda n: bytes(range(256)) * (n // 256)))


@st.composite
def connects(draw: Any, version: int) -> Connect:
    will = None
    if draw(st.booleans()):
        will = Will(
            draw(TOPIC_NAME), draw(st.binary(max_size=32)), draw(QOS), draw(st.booleans()),
            draw(_props(version, WILL)),
        )
    username = draw(st.none() | TEXT)
    password = draw(st.none() | st.binary(max_size=16))
    if version == V311 and username is None:
        password = None  # 3.1.1 allows no password without a user name
    return Connect(
        draw(TEXT), version, draw(st.booleans()), draw(st.integers(0, 65535)), username, password, will,
        draw(_props(version, CONNECT)),
    )


@st.composite
def connacks(draw: Any, version: int) -> Connack:
    code = draw(st.sampled_from(sorted(CONNACK_CODES)) if version == V50 else st.integers(0, 5))
    return Connack(code == 0 and draw(st.booleans()), code, draw(_props(version, CONNACK)))


@st.composite
def publishes(draw: Any, version: int, big: bool = False) -> Message:
    qos = draw(QOS)
    props = draw(_props(version, PUBLISH))
    topic = draw(TOPIC_NAME)
    if version == V50 and draw(st.integers(0, 4)) == 0:
        topic = ""  # allowed with a Topic Alias
        if props is None:
            props = Properties()
        if props.topic_alias is None:
            props.topic_alias = draw(st.integers(1, 65535))
    return Message(
        topic, draw(_payload(big)), qos, draw(st.booleans()), qos > 0 and draw(st.booleans()),
        draw(PID) if qos else 0, props,
    )


@st.composite
def acks(draw: Any, version: int, ptype: int) -> Ack:
    codes = PUBREL_CODES if ptype in (PUBREL, PUBCOMP) else PUBACK_CODES
    return Ack(ptype, draw(PID), draw(_codes(version, codes)), draw(_props(version, ptype)))


@st.composite
def subscription(draw: Any, version: int) -> Tuple[str, int]:
    flt = draw(topic_filters())
    qos = draw(QOS)
    if version == V311:
        return flt, qos  # 3.1.1 options carry the QoS only
    no_local = draw(st.booleans()) and not flt.startswith("$share/")
    return flt, subscription_options(qos, no_local, draw(st.booleans()), draw(st.integers(0, 2)))


def subscribes(version: int) -> Any:
    return st.builds(
        Subscribe, PID, st.lists(subscription(version), min_size=1, max_size=4), _props(version, SUBSCRIBE)
    )


def unsubscribes(version: int) -> Any:
    return st.builds(
        Unsubscribe, PID, st.lists(topic_filters(), min_size=1, max_size=4), _props(version, UNSUBSCRIBE)
    )


def subacks(version: int, ptype: int) -> Any:
    if ptype == UNSUBACK and version == V311:
        return st.builds(SubAck, st.just(UNSUBACK), PID, st.just([]), st.none())
    codes = _codes(version, SUBACK_CODES if ptype == SUBACK else UNSUBACK_CODES, V311_SUBACK_CODES)
    return st.builds(SubAck, st.just(ptype), PID, st.lists(codes, min_size=1, max_size=5), _props(version, ptype))


def packets(ptype: int, version: int, big: bool = False) -> Any:
    """Valid packet records of one type for one protocol version."""
    if ptype == CONNECT:
        return connects(version)
    if ptype == CONNACK:
        return connacks(version)
    if ptype == PUBLISH:
        return publishes(version, big)
    if PUBACK <= ptype <= PUBCOMP:
        return acks(version, ptype)
    if ptype == SUBSCRIBE:
        return subscribes(version)
    if ptype in (SUBACK, UNSUBACK):
        return subacks(version, ptype)
    if ptype == UNSUBSCRIBE:
        return unsubscribes(version)
    if ptype == PINGREQ:
        return st.just(PINGREQ_PACKET)
    if ptype == PINGRESP:
        return st.just(PINGRESP_PACKET)
    if ptype == DISCONNECT:
        return st.builds(Disconnect, _codes(version, DISCONNECT_CODES), _props(version, DISCONNECT))
    assert ptype == AUTH and version == V50
    return st.builds(Auth, _codes(version, AUTH_CODES), _props(version, AUTH))


def _types(version: int) -> List[int]:
    return [t for t in range(1, 16) if not (t == AUTH and version == V311)]


def any_packet(version: int) -> Any:
    return st.sampled_from(_types(version)).flatmap(lambda t: packets(t, version))


# ---------------------------------------------------------------------------
# 1. Round trips


CASES = [(t, v) for v in (V311, V50) for t in _types(v)]


@pytest.mark.parametrize(
    ("ptype", "version"), CASES, ids=["%s-v%d" % (packet_name(t), v) for t, v in CASES]
)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_round_trip(ptype: int, version: int, data: Any) -> None:
    pkt = data.draw(packets(ptype, version, big=True), label="packet")
    wire = encode_bytes(pkt, version)
    n = len(wire)
    d = Decoder(version)
    got = d.decode(wire)
    assert got == pkt  # compared at once: the decoder reuses its Ack record
    assert d.size == n
    assert encode_bytes(got, version) == wire  # the encoding is canonical
    # The size limit counts the whole packet, fixed header included.
    assert Decoder(version, n).decode(wire) == pkt
    with pytest.raises(PacketTooLarge):
        Decoder(version, n - 1).decode(wire)

    # Into a caller buffer at an offset (bytearray or memoryview), bytes around untouched.
    pos = data.draw(st.integers(0, 9), label="pos")
    extra = data.draw(st.integers(0, 9), label="extra")
    buf = bytearray(b"\xee" * (pos + n + extra))
    view = data.draw(st.booleans(), label="memoryview")
    end = encode(pkt, version, memoryview(buf) if view else buf, pos)
    assert end == pos + n
    assert buf[pos:end] == wire
    assert buf[:pos] == b"\xee" * pos and buf[end:] == b"\xee" * extra
    # Decoded straight from the buffer, with bytes after the packet.
    got = d.decode(memoryview(buf), pos)
    assert got == pkt
    assert d.size == n

    # Too small by any amount: minus the size needed, and nothing written.
    short = data.draw(st.integers(1, n), label="short")
    small = bytearray(pos + n - short)
    assert encode(pkt, version, memoryview(small) if view else small, pos) == -n
    assert small == bytes(len(small))
    if len(small) > pos:
        with pytest.raises(MalformedPacket):
            Decoder(version).decode(small, pos)


def test_auth_does_not_exist_in_v311() -> None:
    with pytest.raises(ValueError):
        encode_bytes(Auth(0x18), V311)
    with pytest.raises(MalformedPacket):
        Decoder(V311).decode(encode_bytes(Auth(0), V50))


# ---------------------------------------------------------------------------
# 2. Robustness: only packets, None, MalformedPacket or ProtocolError


def _check_decoded(pkt: Packet, version: int) -> None:
    """What any decoded packet must satisfy, whatever the input was."""
    t = pkt.type
    p: Any = pkt
    if version == V311 and t != CONNECT:
        assert getattr(p, "properties", None) is None, pkt
    if t == CONNACK:
        assert not (p.session_present and p.reason_code), pkt
        assert p.reason_code in (CONNACK_CODES if version == V50 else range(6)), pkt
    elif t == PUBLISH:
        assert p.qos in (0, 1, 2) and (p.packet_id != 0) == (p.qos > 0), pkt
        if p.topic or p.properties is None or p.properties.topic_alias is None:
            assert topic_name_error(p.topic) is None, pkt
    elif PUBACK <= t <= PUBCOMP:
        assert 0 < p.packet_id < 65536
        if version == V311:
            assert p.reason_code == 0, pkt
        else:
            assert p.reason_code in (PUBREL_CODES if t in (PUBREL, PUBCOMP) else PUBACK_CODES), pkt
    elif t in (SUBACK, UNSUBACK):
        if version == V311 and t == UNSUBACK:
            assert p.reason_codes == [], pkt  # 3.1.1 UNSUBACK has no payload
        elif version == V311:
            assert p.reason_codes and set(p.reason_codes) <= set(V311_SUBACK_CODES), pkt
        else:
            assert p.reason_codes and set(p.reason_codes) <= set(SUBACK_CODES if t == SUBACK else UNSUBACK_CODES)
    elif t == DISCONNECT:
        assert p.reason_code in (DISCONNECT_CODES if version == V50 else (0,)), pkt
    elif t == AUTH:
        assert version == V50 and p.reason_code in AUTH_CODES, pkt


def _prefixes(size: int) -> List[int]:
    if size <= 80:
        return list(range(size))
    return [*range(40), *range(size - 40, size), size // 2]


def decode_checked(data: bytes, version: int, max_packet: int = MAX_PACKET_SIZE) -> Optional[Packet]:
    """Decode, and check that the outcome is one of those allowed."""
    d = Decoder(version, max_packet)
    try:
        pkt = d.decode(data)
    except PacketTooLarge as e:
        event("PacketTooLarge")
        assert e.reason_code == 0x95
        return None
    except MalformedPacket as e:
        event("MalformedPacket")
        assert e.reason_code == 0x81
        return None
    except ProtocolError as e:
        event("ProtocolError 0x%02X" % e.reason_code)
        assert e.reason_code in (0x82, 0x84, 0x90), e
        return None
    event("None" if pkt is None else "decoded %s" % packet_name(pkt.type))
    if pkt is None:
        assert d.size == 0 or d.size > len(data)  # incomplete: the header, or the body
        return None
    assert 2 <= d.size <= len(data) and d.size <= max_packet
    _check_decoded(pkt, version)
    # Whatever decodes when whole is only "incomplete" before that.
    d2 = Decoder(version, max_packet)
    for k in _prefixes(d.size):
        assert d2.decode(data[:k]) is None, k
        assert d2.decode(memoryview(data), 0, k) is None, k
    # What decodes re-encodes (unless the decoder was lenient) to the same packet.
    try:
        again = encode_bytes(pkt, version)
    except ValueError:
        pass
    else:
        assert Decoder(version).decode(again) == pkt, (data, again)
    return pkt


MAX_PACKETS = st.one_of(st.just(MAX_PACKET_SIZE), st.integers(2, 300))


@settings(max_examples=1000, deadline=None)
@given(VERSIONS, st.binary(max_size=200), MAX_PACKETS)
def test_arbitrary_bytes(version: int, data: bytes, max_packet: int) -> None:
    decode_checked(data, version, max_packet)


def _valid_first_bytes(version: int) -> List[int]:
    out = []
    for t in _types(version):
        if t == PUBLISH:
            out += [0x30 | f for f in range(16) if f & 6 != 6]
        else:
            out.append((t << 4) | (2 if t in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0))
    return out


FIRST_BYTES = {v: _valid_first_bytes(v) for v in (V311, V50)}
PROPERTY_IDS = st.sampled_from([p[0] for p in PROPERTIES] + [0, 0x7F, 0x80])


def _string_field(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def _property_section(entries: List[Tuple[int, bytes]]) -> bytes:
    inner = b"".join(_varint(pid) + raw for pid, raw in entries)
    return _varint(len(inner)) + inner


KNOWN_CODES = sorted(
    set(CONNACK_CODES + PUBACK_CODES + PUBREL_CODES + SUBACK_CODES + UNSUBACK_CODES + DISCONNECT_CODES + AUTH_CODES)
    | {0x03, 0x05, 0xFF}
)
# Bodies made of plausible fields, so that parsing gets past the first bytes.
FIELD = st.one_of(
    st.binary(max_size=4),
    st.lists(st.sampled_from(KNOWN_CODES), min_size=1, max_size=4).map(bytes),
    TEXT.map(_string_field),
    st.sampled_from((b"\x00\x04MQTT\x05", b"\x00\x04MQTT\x04", b"\x00\x01", b"\xff\xff")),
    st.builds(_property_section, st.lists(st.tuples(PROPERTY_IDS, st.binary(max_size=5)), max_size=4)),
)
BODY = st.one_of(st.binary(max_size=120), st.lists(FIELD, max_size=8).map(b"".join))


@st.composite
def framed(draw: Any, version: int) -> bytes:
    """A valid fixed header whose Remaining Length fits a random body."""
    body = draw(BODY)
    return bytes([draw(st.sampled_from(FIRST_BYTES[version]))]) + _varint(len(body)) + body


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_random_bodies_in_valid_frames(data: Any) -> None:
    version = data.draw(VERSIONS)
    wire = data.draw(framed(version))
    decode_checked(wire + data.draw(st.binary(max_size=4)), version, data.draw(MAX_PACKETS))


def test_v311_unsuback_has_no_reason_codes() -> None:
    # Found by test_mutated_packets: a 3.1.1 UNSUBACK has a Remaining Length of 2, but
    # the decoder read any further bytes as SUBACK return codes.
    for wire in ("b0 03 0001 00", "b0 04 0101 0000", "b0 03 0001 80"):
        with pytest.raises(MalformedPacket):
            Decoder(V311).decode(_hex(wire))
    assert Decoder(V311).decode(_hex("b0 02 0001")) == SubAck(UNSUBACK, 1, [])
    assert Decoder(V50).decode(_hex("b0 04 0001 00 11")) == SubAck(UNSUBACK, 1, [0x11])


@settings(max_examples=100, deadline=None)
@given(publishes(V50), st.integers(1, 3))
def test_non_minimal_varints_are_malformed(msg: Message, pad: int) -> None:
    # Every Variable Byte Integer must be minimally encoded (MQTT-1.5.5-1), the property
    # length of a PUBLISH as much as the Remaining Length.
    wire = encode_bytes(msg, V50)
    d = Decoder(V50)
    assert d.header(wire, 0, len(wire))
    at = d.hlen + 2 + len(msg.topic.encode()) + (2 if msg.qos else 0)
    r = Reader()
    r.reset(wire, at, len(wire))
    n = r.varint()
    pad = min(pad, 4 - _varint_size(n))
    if pad:
        body = wire[d.hlen : at] + _varint(n, pad) + wire[r.pos :]
        with pytest.raises(MalformedPacket):
            Decoder(V50).decode(wire[:1] + _varint(len(body)) + body)


def test_non_minimal_varints_in_the_body() -> None:
    # Found by test_non_minimal_varints_are_malformed: only the Remaining Length was
    # checked; inside the body "80 00" was read as 0 and "81 00" as 1.
    for wire in (
        "30 05 0001 61 8000",  # property length 0 in 2 bytes
        "30 09 0001 61 8200 0101 6869",  # property length 2 in 2 bytes
        "30 07 0001 61 03 0b8100",  # subscription identifier 1 in 2 bytes
        "30 07 0001 61 03 8100 01",  # property identifier 0x01 in 2 bytes
        "e0 03 00 8000",  # the property length of a DISCONNECT
    ):
        with pytest.raises(MalformedPacket):
            Decoder(V50).decode(_hex(wire))
    assert Decoder(V50).decode(_hex("30 08 0001 61 02 0101 6869")) == Message(
        "a", b"hi", properties=Properties(payload_format=1)
    )


MUTATIONS = ("flip", "flip", "set", "insert", "delete", "truncate", "length", "length", "retype", "retype")


def _mutate(wire: bytearray, version: int, op: str, i: int, b: int, big: int) -> None:
    n = len(wire)
    if op == "retype" and n:
        # The body of one packet type under the fixed header of another.
        wire[0] = FIRST_BYTES[version][b % len(FIRST_BYTES[version])]
    elif op == "flip" and n:
        wire[i % n] ^= 1 << (b & 7)
    elif op == "set" and n:
        wire[i % n] = b
    elif op == "insert":
        wire.insert(i % (n + 1), b)
    elif op == "delete" and n:
        del wire[i % n]
    elif op == "truncate":
        del wire[i % (n + 1) :]
    elif op == "length" and n:
        # Replace the Remaining Length: off by a little, anything, or not minimally encoded.
        j = 1
        while j < n and j < 5 and wire[j] & 128:
            j += 1
        old = 0
        for k, c in enumerate(wire[1 : j + 1]):
            old |= (c & 127) << (7 * k)
        new = max(0, old + (b % 17) - 8) if b < 128 else big
        wire[1 : j + 1] = _varint(new, pad=(i % 5 == 0) * (1 + i % 2))


@st.composite
def mutated(draw: Any) -> Tuple[int, bytes]:
    version = draw(VERSIONS)
    wire = bytearray(encode_bytes(draw(any_packet(version)), version))
    if draw(st.integers(0, 3)) == 0:
        version ^= V311 ^ V50  # decoded as the other protocol version
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(MUTATIONS), st.integers(0, 1 << 16), st.integers(0, 255),
                st.integers(0, MAX_VARINT),
            ),
            min_size=1, max_size=2,
        )
    )
    for op in ops:
        _mutate(wire, version, *op)
    return version, bytes(wire)


@settings(max_examples=1500, deadline=None)
@given(mutated(), MAX_PACKETS)
def test_mutated_packets(case: Tuple[int, bytes], max_packet: int) -> None:
    version, wire = case
    decode_checked(wire, version, max_packet)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_stream_fed_incrementally(data: Any) -> None:
    version = data.draw(VERSIONS, label="version")
    pkts = data.draw(st.lists(any_packet(version), min_size=1, max_size=6), label="packets")
    wires = [encode_bytes(p, version) for p in pkts]
    stream = b"".join(wires)
    ends = [sum(len(w) for w in wires[: i + 1]) for i in range(len(wires))]
    if data.draw(st.booleans(), label="byte by byte"):
        cuts = list(range(1, len(stream)))
    else:
        cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream)), max_size=12), label="cuts")))
    cuts.append(len(stream))
    fixed = data.draw(st.booleans(), label="fixed receive buffer")
    d = Decoder(version)
    # Either a preallocated receive buffer read through a memoryview, or a bytearray
    # that grows and drops what was consumed.
    rx = bytearray(len(stream)) if fixed else bytearray()
    view = memoryview(rx) if fixed else None
    received = pos = done = 0
    for cut in cuts:
        chunk = stream[received:cut]
        if fixed:
            rx[received:cut] = chunk
        else:
            rx += chunk
        received = cut
        while True:
            pkt = d.decode(view, pos, received) if fixed else d.decode(rx, pos)
            if pkt is None:
                break
            assert pkt == pkts[done]  # compared at once: the decoder reuses its Ack record
            assert d.size == len(wires[done])
            pos += d.size
            done += 1
        if not fixed and pos:
            del rx[:pos]
            pos = 0
        # Exactly the packets received in whole, each as soon as its last byte arrived.
        assert done == sum(1 for e in ends if e <= cut)
    assert done == len(pkts)


# ---------------------------------------------------------------------------
# 3. The size limit, checked from the fixed header before anything is allocated


def _smallest_too_large(max_packet: int) -> int:
    """The smallest Remaining Length whose packet exceeds max_packet."""
    n = max(0, max_packet - 5)
    while 1 + _varint_size(n) + n <= max_packet:
        n += 1
    return n


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_packet_too_large_from_the_fixed_header(data: Any) -> None:
    version = data.draw(VERSIONS)
    first = data.draw(st.sampled_from(FIRST_BYTES[version]))
    max_packet = data.draw(st.one_of(st.integers(2, 300), st.integers(2, MAX_VARINT)))
    low = _smallest_too_large(max_packet)
    if low > MAX_VARINT:
        return
    n = data.draw(st.one_of(st.just(low), st.integers(low, MAX_VARINT)))
    header = bytes([first]) + _varint(n)
    d = Decoder(version, max_packet)
    for k in range(len(header)):  # the header arriving byte by byte
        assert d.decode(header[:k]) is None
    with pytest.raises(PacketTooLarge) as e:
        d.decode(header + data.draw(st.binary(max_size=8)))
    assert e.value.reason_code == 0x95 and isinstance(e.value, ProtocolError)
    # One byte less is within the limit: the header alone is then just incomplete.
    if low >= 2:
        assert Decoder(version, max_packet).decode(bytes([first]) + _varint(low - 1)) is None


def _allocated(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated while fn runs."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        if not tracing:
            tracemalloc.stop()


def _decode_quietly(d: Decoder, data: Any) -> None:
    with contextlib.suppress(MalformedPacket, ProtocolError):
        d.decode(data)


ALLOC_SLACK = 4096


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_declared_length_allocates_nothing_big(data: Any) -> None:
    # A fixed header announcing up to 256 MiB, with or without a limit: decoding it
    # allocates a few KiB at most (an exception and its message), never the body.
    version = data.draw(VERSIONS)
    first = data.draw(st.sampled_from(FIRST_BYTES[version]))
    n = data.draw(st.integers(1 << 16, MAX_VARINT))
    wire = bytes([first]) + _varint(n) + data.draw(BODY)
    max_packet = data.draw(st.sampled_from((MAX_PACKET_SIZE, 1 << 16, 1 << 20)))
    d = Decoder(version, max_packet)
    view = memoryview(wire)
    assert _allocated(lambda: _decode_quietly(d, view)) <= ALLOC_SLACK
    assert _allocated(lambda: _decode_quietly(d, wire)) <= ALLOC_SLACK


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_decoding_allocates_at_most_the_input(data: Any) -> None:
    # Lengths inside the packet (strings, properties, payload) are all random: what is
    # kept is copied out of the input, never more.
    version = data.draw(VERSIONS)
    wire = data.draw(framed(version)) + bytes(data.draw(st.integers(0, 3000)))
    d = Decoder(version)
    view = memoryview(wire)
    assert _allocated(lambda: _decode_quietly(d, view)) <= len(wire) + ALLOC_SLACK


# ---------------------------------------------------------------------------
# 4. Topics: matching and validation against a reference written from MQTT 4.7


def ref_match(flt: str, topic: str) -> bool:
    if flt.startswith("$share/"):
        flt = flt.split("/", 2)[2]
    f = flt.split("/")
    t = topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True  # the rest, the parent level included
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def ref_filter_ok(flt: str) -> bool:
    if not flt or "\x00" in flt or _utf8_len(flt) > MAX_STRING:
        return False
    if flt.startswith("$share/"):
        parts = flt.split("/", 2)
        if len(parts) < 3 or not parts[1] or "+" in parts[1] or "#" in parts[1] or not parts[2]:
            return False
        flt = parts[2]
    levels = flt.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            if i != len(levels) - 1:
                return False
        elif level != "+" and ("+" in level or "#" in level):
            return False
    return True


def ref_name_ok(topic: str) -> bool:
    return bool(topic) and not any(c in topic for c in "+#\x00") and _utf8_len(topic) <= MAX_STRING


@st.composite
def filter_and_topic(draw: Any) -> Tuple[str, str]:
    flt = draw(topic_filters())
    if draw(st.booleans()):
        return flt, draw(TOPIC_NAME)
    # A topic built from the filter, so that it matches more often than not.
    inner = flt.split("/", 2)[2] if flt.startswith("$share/") else flt
    levels: List[str] = []
    for level in inner.split("/"):
        if level == "+":
            levels.append(draw(LEVEL))
        elif level == "#":
            levels += draw(st.lists(LEVEL, max_size=3))
        else:
            levels.append(level)
    op = draw(st.sampled_from(("keep", "keep", "drop", "add", "change")))
    if op == "drop" and levels:
        levels.pop()
    elif op == "add":
        levels.append(draw(LEVEL))
    elif op == "change" and levels:
        levels[draw(st.integers(0, len(levels) - 1))] = draw(LEVEL)
    return flt, "/".join(levels) or draw(TOPIC_NAME)


@settings(max_examples=800, deadline=None)
@given(filter_and_topic())
@example(("a/#", "a"))
@example(("+/#", "$SYS"))
@example(("$share/g/#", "$SYS/x"))
@example(("+/+", "/"))
def test_match_topic_against_reference(case: Tuple[str, str]) -> None:
    flt, topic = case
    assert topic_filter_error(flt) is None and topic_name_error(topic) is None
    expected = ref_match(flt, topic)
    assert match_topic(flt, topic) is expected
    if not flt.startswith("$share/"):
        assert match_topic("$share/g/" + flt, topic) is expected  # a shared filter matches as its filter


@settings(max_examples=200, deadline=None)
@given(TOPIC_NAME)
def test_topic_matches_itself_and_hash(topic: str) -> None:
    assert match_topic("#", topic) is (not topic.startswith("$"))
    first = topic.split("/", maxsplit=1)[0]
    if first != "$share":  # "$share/..." would be read as a shared subscription
        assert match_topic(topic, topic)
        assert match_topic(first + "/#", topic)  # '#' includes the parent level


# Random strings made mostly of the characters that matter.
PIECES = st.one_of(
    st.sampled_from(("a", "/", "+", "#", "$", "$share/", "$share", "g", "\x00", "\u00fc", "\U0001f600")),
    st.text(CHARS, max_size=3),
)
RANDOM_TOPICS = st.lists(PIECES, max_size=10).map("".join)
LONG = "a" * (MAX_STRING - 1)


@settings(max_examples=1000, deadline=None)
@given(RANDOM_TOPICS)
def test_topic_validation_against_reference(s: str) -> None:
    assert (topic_filter_error(s) is None) is ref_filter_ok(s)
    assert (topic_name_error(s) is None) is ref_name_ok(s)


def test_topic_length_limit() -> None:
    # An MQTT string holds at most 65535 bytes of UTF-8 (MQTT 1.5.4), characters aside.
    for s in (
        LONG + "a",  # 65535 bytes: the largest allowed
        LONG + "\u00fc",  # 65537 bytes
        "a/" + "\u00fc" * 32767,  # 65536 bytes in 32769 characters
        "\U0001f600" * 16384,  # 65536 bytes in 16384 characters
        "$share/g/" + "a" * MAX_STRING,
    ):
        assert (topic_filter_error(s) is None) is ref_filter_ok(s), (len(s), _utf8_len(s))
        assert (topic_name_error(s) is None) is ref_name_ok(s), (len(s), _utf8_len(s))
