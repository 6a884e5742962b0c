"""The hot paths of the codec allocate nothing: proved with micropython.heap_lock()."""

from support import MICROPYTHON, SkipTest, unhex

from mq.wire_decode import Decoder
from mq.wire_encode import encode_ack, encode_plain_publish, encode_publish
from mq.wire_packets import PINGRESP, PUBACK, PUBCOMP, PUBREC, PUBREL

if MICROPYTHON:
    import micropython


def _locked(fn, a, b, c, d):
    # Warm up (first calls may intern names or grow caches), then run with the heap locked:
    # any allocation raises MemoryError. (Fixed arity: a *args call would allocate.)
    fn(a, b, c, d)
    micropython.heap_lock()
    try:
        result = fn(a, b, c, d)
    finally:
        micropython.heap_unlock()
    return result


def _publish(buf, version, qos, pid):
    end = encode_publish(buf, 0, version, b"sensors/temp", b"22.5", qos, False, False, pid)
    return encode_publish(buf, end, version, b"sensors/temp", b"22.5", qos, False, True, pid)


def test_encode_publish_allocates_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    buf = bytearray(256)
    for version in (4, 5):
        for qos in (0, 1):
            end = _locked(_publish, buf, version, qos, 300 if qos else 0)
            assert end > 0
    # The bytes are right, not just cheap.
    end = _publish(buf, 4, 1, 300)
    assert bytes(buf[: end // 2]) == unhex("32 14 000c 73656e736f72732f74656d70 012c 32322e35")


def _plain(buf, head, topic, payload):
    end = encode_plain_publish(buf, 0, head, topic, payload)
    return encode_plain_publish(buf, end, head, topic, payload)


def test_encode_plain_publish_allocates_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    buf = bytearray(4096)
    for head in (0x30, 0x130, 0x131):
        for payload in (b"22.5", bytes(1000)):
            assert _locked(_plain, buf, head, b"sensors/temp", payload) > 0


def _acks(buf, version, out, _):
    end = encode_ack(buf, 0, version, PUBACK, 1000)
    end = encode_ack(buf, end, version, PUBREL, 1001)
    return encode_ack(buf, end, version, PUBCOMP, 1002, 0x92, None) + out


def test_encode_acks_allocate_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    buf = bytearray(64)
    assert _locked(_acks, buf, 5, 0, None) == 13
    assert bytes(buf[:13]) == unhex("40 02 03e8 62 02 03e9 70 03 03ea 92")


def _decode_all(d, data, n, _):
    # Decode every packet in data; return the sum of packet ids (and 1 per PINGRESP).
    pos = 0
    total = 0
    while pos < n:
        d.header(data, pos, n)
        p = d.body(data, pos)
        pos += d.size
        total += p.packet_id if p.type != PINGRESP else 1
    return total


def test_decode_acks_allocates_nothing():
    if not MICROPYTHON:
        raise SkipTest("heap_lock exists only on MicroPython")
    data = memoryview(unhex("40 02 0101 50 02 0202 70 02 0303 d0 00 40 03 0404 10"))
    for version in (4, 5):
        d = Decoder(version)
        n = len(data) if version == 5 else len(data) - 5
        expected = 0x101 + 0x202 + 0x303 + 1 + (0x404 if version == 5 else 0)
        assert _locked(_decode_all, d, data, n, None) == expected
    assert PUBREC == 5
