"""The session stores: one behaviour battery for MemoryStore, FileStore and FlashStore,
then what only the file-backed ones do (reopen, recovery, compaction, permissions)."""

import os

from support import MICROPYTHON, SkipTest, raises

from mq.store import MemoryStore, PersistedPublish, PersistedSubscription, SessionStore
from mq.store_codec import (
    PUBLISH_DELETE,
    PUBLISH_RELEASE,
    CorruptRecord,
    header_record,
    ids_record,
    publish_record,
    subscription_record,
)
from mq.store_file import FileStore
from mq.store_flash import FlashStore
from mq.wire_props import Properties

# --- temporary directories, on both runtimes ---------------------------------------


def mkdtemp():
    if MICROPYTHON:
        import binascii

        path = "/tmp/mq-store-" + binascii.hexlify(os.urandom(6)).decode()
        os.mkdir(path)
        return path
    import tempfile

    return tempfile.mkdtemp(prefix="mq-store-")


def rmtree(path):
    for name in os.listdir(path):
        p = path + "/" + name
        if os.stat(p)[0] & 0o170000 == 0o040000:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


# --- the three kinds, each able to open its store again over the same storage -------


class MemoryKind:
    name = "MemoryStore"
    persistent = False

    def __init__(self):
        self.store = MemoryStore("c1")

    def open(self):
        return self.store

    def cleanup(self):
        pass


class FileKind:
    name = "FileStore"
    persistent = True

    def __init__(self):
        self.dir = mkdtemp()

    def open(self):
        return FileStore(self.dir, "c1")

    def cleanup(self):
        rmtree(self.dir)


class FlashKind:
    name = "FlashStore"
    persistent = True

    def __init__(self, compact_at=128):
        self.dir = mkdtemp()
        self.path = self.dir + "/session.log"
        self.compact_at = compact_at

    def open(self):
        return FlashStore(self.path, "c1", compact_at=self.compact_at)

    def cleanup(self):
        rmtree(self.dir)


KINDS = (MemoryKind, FileKind, FlashKind)


def each_kind(check, kinds=KINDS):
    for make in kinds:
        kind = make()
        try:
            check(kind)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (kind.name, e))
        finally:
            kind.cleanup()


def persistent_kinds(check):
    each_kind(check, (FileKind, FlashKind))


def state(store):
    # Plain dicts: MicroPython's OrderedDict never equals a dict.
    return (dict(store.load_pending_publishes()), store.load_subscriptions(), store.load_received_qos2())


def pub(i, qos=1, **kw):
    return PersistedPublish("sensors/dev%d/temp" % i, b"reading %d" % i, qos, **kw)


PROPS = Properties(
    payload_format=1,
    message_expiry=3600,
    content_type="application/json",
    response_topic="reply/c1",
    correlation_data=b"\x00\x01\xff",
    user_properties=[("k", "1"), ("unit", "C"), ("k", "2"), ("k", "1")],
)

SUB = PersistedSubscription(
    2, no_local=True, retain_as_published=True, retain_handling=2, subscription_id=268435455,
    user_properties=[("b", "1"), ("a", "2"), ("b", "3")],
)


# --- the battery --------------------------------------------------------------------


def test_pending_publishes_save_load_delete():
    def check(kind):
        s = kind.open()
        assert dict(s.load_pending_publishes()) == {}
        s.save_pending_publish(1, pub(1))
        s.save_pending_publish(65535, pub(2, qos=2, retain=True))
        assert dict(s.load_pending_publishes()) == {1: pub(1), 65535: pub(2, qos=2, retain=True)}
        s.delete_pending_publish(1)
        s.delete_pending_publish(7)  # not there: nothing happens
        assert dict(s.load_pending_publishes()) == {65535: pub(2, qos=2, retain=True)}
        s.save_pending_publish(1, pub(3))
        s.clear_pending_publishes()
        assert dict(s.load_pending_publishes()) == {}

    each_kind(check)


def test_pending_publishes_load_in_send_order():
    # A resend keeps the original order (MQTT 5.0 section 4.6), across the wrap of
    # packet ids, a released update, compactions and a reopen; on MicroPython too,
    # whose plain dict keeps no order.
    def check(kind):
        s = kind.open()
        sent = [65532, 65533, 65534, 65535, 1, 2, 3, 4]
        for packet_id in sent:
            s.save_pending_publish(packet_id, pub(packet_id % 50, qos=2))
        s.save_pending_publish(65534, pub(65534 % 50, qos=2, released=True))
        s.save_pending_publish(1, pub(1, qos=2, released=True))
        s.delete_pending_publish(65532)
        s.delete_pending_publish(3)
        want = [65533, 65534, 65535, 1, 2, 4]
        assert list(s.load_pending_publishes()) == want, list(s.load_pending_publishes())
        if kind.persistent:
            assert list(kind.open().load_pending_publishes()) == want

    each_kind(check)


def test_publish_overwritten_as_released():
    def check(kind):
        s = kind.open()
        s.save_pending_publish(9, pub(9, qos=2, properties=PROPS))
        s.save_pending_publish(9, pub(9, qos=2, properties=PROPS, released=True))
        got = dict(s.load_pending_publishes())
        assert got == {9: pub(9, qos=2, properties=PROPS, released=True)}, got
        assert got[9].released is True
        # A save with other content replaces the record whole.
        s.save_pending_publish(9, pub(10, qos=2))
        assert dict(s.load_pending_publishes()) == {9: pub(10, qos=2)}
        if kind.persistent:
            s.save_pending_publish(9, pub(10, qos=2, released=True))
            assert state(kind.open()) == state(s)

    each_kind(check)


def test_properties_round_trip_with_repeated_user_properties_in_order():
    def check(kind):
        s = kind.open()
        s.save_pending_publish(3, pub(3, properties=PROPS))
        s.save_pending_publish(4, pub(4, properties=Properties()))
        s2 = kind.open()
        got = dict(s2.load_pending_publishes())
        assert got[3].properties == PROPS, got[3].properties
        assert got[3].properties.user_properties == [("k", "1"), ("unit", "C"), ("k", "2"), ("k", "1")]
        assert got[3].properties.correlation_data == b"\x00\x01\xff"
        assert got[4] == pub(4)  # no properties and empty ones store the same

    each_kind(check)


def test_subscriptions_save_load_delete():
    def check(kind):
        s = kind.open()
        assert s.load_subscriptions() == {}
        s.save_subscription("cmd/#", SUB)
        s.save_subscription("cfg/+/set", PersistedSubscription(0))
        s.save_subscription("cfg/+/set", PersistedSubscription(1, user_properties={"x": "y"}))
        s.save_subscription("$share/g/jobs", PersistedSubscription(1, retain_handling=1))
        got = s.load_subscriptions()
        assert got == {
            "cmd/#": SUB,
            "cfg/+/set": PersistedSubscription(1, user_properties=[("x", "y")]),
            "$share/g/jobs": PersistedSubscription(1, retain_handling=1),
        }, got
        assert got["cmd/#"].user_properties == [("b", "1"), ("a", "2"), ("b", "3")]
        assert got["cmd/#"].subscription_id == 268435455
        s.delete_subscription("cmd/#")
        s.delete_subscription("nothing/here")
        assert sorted(s.load_subscriptions()) == ["$share/g/jobs", "cfg/+/set"]

    each_kind(check)


def test_received_qos2_save_load_delete():
    def check(kind):
        s = kind.open()
        assert s.load_received_qos2() == set()
        s.save_received_qos2(5)
        s.save_received_qos2(5)
        s.save_received_qos2(65535)
        s.save_received_qos2(1)
        assert s.load_received_qos2() == {1, 5, 65535}
        assert isinstance(s.load_received_qos2(), set)
        s.delete_received_qos2(5)
        s.delete_received_qos2(6)
        assert s.load_received_qos2() == {1, 65535}
        s.clear_received_qos2()
        assert s.load_received_qos2() == set()

    each_kind(check)


def test_clears_touch_only_their_kind():
    def check(kind):
        s = kind.open()
        s.save_pending_publish(1, pub(1))
        s.save_subscription("a/b", PersistedSubscription(1))
        s.save_received_qos2(2)
        s.clear_pending_publishes()
        assert state(s) == ({}, {"a/b": PersistedSubscription(1)}, {2})
        s.save_pending_publish(1, pub(1))
        s.clear_received_qos2()
        assert state(s) == ({1: pub(1)}, {"a/b": PersistedSubscription(1)}, set())
        s.save_received_qos2(2)
        s.clear()
        assert state(s) == ({}, {}, set())
        s.clear()  # clearing an empty store is fine
        s.save_pending_publish(2, pub(2))
        assert state(s) == ({2: pub(2)}, {}, set())
        if kind.persistent:
            assert state(kind.open()) == ({2: pub(2)}, {}, set())

    each_kind(check)


def test_loads_return_copies():
    def check(kind):
        s = kind.open()
        s.save_pending_publish(1, pub(1))
        s.save_received_qos2(1)
        assert isinstance(s.load_pending_publishes(), dict)
        s.load_pending_publishes().clear()
        s.load_received_qos2().clear()
        s.load_subscriptions()["x"] = PersistedSubscription(0)
        assert state(s) == ({1: pub(1)}, {}, {1})

    each_kind(check)


def test_bad_packet_ids_rejected():
    def check(kind):
        s = kind.open()
        for bad in (0, 65536, -1):
            raises(ValueError, s.save_pending_publish, bad, pub(1))
            raises(ValueError, s.save_received_qos2, bad)
        assert state(s) == ({}, {}, set())

    each_kind(check)


def test_reopen_gives_the_same_state():
    def check(kind):
        s = kind.open()
        s.save_subscription("cmd/#", SUB)
        for i in range(1, 25):
            s.save_pending_publish(i, pub(i, qos=1 + i % 2, properties=PROPS if i % 3 else None))
            if i % 2 == 0:
                s.save_pending_publish(i, pub(i, qos=2, properties=PROPS if i % 3 else None, released=True))
            if i % 4 == 1:
                s.delete_pending_publish(i)
            s.save_received_qos2(100 + i)
            if i % 3 == 0:
                s.delete_received_qos2(100 + i - 1)
        s.save_subscription("a/+", PersistedSubscription(1))
        s.delete_subscription("cmd/#")
        before = state(s)
        assert len(before[0]) == 18 and before[1] == {"a/+": PersistedSubscription(1)}
        again = kind.open()
        assert state(again) == before
        # The reopened store carries on where the first left off.
        again.delete_pending_publish(2)
        again.save_subscription("cmd/#", SUB)
        after = state(again)
        assert state(kind.open()) == after

    persistent_kinds(check)


# --- records ------------------------------------------------------------------------


def test_records_compare_by_value():
    assert pub(1) == pub(1)
    assert pub(1) != pub(2)
    assert pub(1) != pub(1, released=True)
    assert pub(1, properties=Properties()) == pub(1)
    assert pub(1, properties=PROPS) != pub(1)
    assert PersistedPublish("t", bytearray(b"x"), 1).payload == b"x"
    pairs = PersistedSubscription(1, user_properties=[("a", "b")])
    assert PersistedSubscription(1, user_properties={"a": "b"}) == pairs
    assert PersistedSubscription(1, user_properties=[]) == PersistedSubscription(1)
    assert PersistedSubscription(1) != PersistedSubscription(1, no_local=True)
    raises(ValueError, PersistedPublish, "t", b"", 3)
    raises(ValueError, PersistedSubscription, 1, retain_handling=3)
    raises(ValueError, PersistedSubscription, 1, subscription_id=0)


def test_session_store_is_an_interface():
    s = SessionStore()
    assert s.client_id == ""
    raises(NotImplementedError, s.save_pending_publish, 1, pub(1))
    raises(NotImplementedError, s.delete_pending_publish, 1)
    raises(NotImplementedError, s.load_pending_publishes)
    raises(NotImplementedError, s.clear_pending_publishes)
    raises(NotImplementedError, s.save_subscription, "a", PersistedSubscription(0))
    raises(NotImplementedError, s.delete_subscription, "a")
    raises(NotImplementedError, s.load_subscriptions)
    raises(NotImplementedError, s.save_received_qos2, 1)
    raises(NotImplementedError, s.delete_received_qos2, 1)
    raises(NotImplementedError, s.load_received_qos2)
    raises(NotImplementedError, s.clear_received_qos2)
    raises(NotImplementedError, s.clear)
    assert MemoryStore("x").client_id == "x"


def test_record_sizes_quoted_in_the_docs():
    # docs/flash-store.md: a 20-byte topic and a 32-byte payload make a 64-byte record.
    topic = "sensors/0042/temp/c1"
    assert len(topic) == 20
    assert len(publish_record(1, PersistedPublish(topic, b"x" * 32, 1))) == 64
    assert len(ids_record(PUBLISH_DELETE, (1,))) == 8
    assert len(ids_record(PUBLISH_RELEASE, (1,))) == 8
    assert len(header_record("sensor-1")) == 19
    assert len(subscription_record([("cmd/sensor-1/#", PersistedSubscription(1))])) == 24


# --- FlashStore: the log ------------------------------------------------------------


def ops_log(kind, ops):
    """Run ops on a fresh store; the log's bytes and the state after each."""
    s = kind.open()
    logs = [read_bytes(kind.path)]
    states = [state(s)]
    for op in ops:
        op(s)
        logs.append(read_bytes(kind.path))
        states.append(state(s))
    return logs, states


SOME_OPS = (
    lambda s: s.save_subscription("cmd/#", SUB),
    lambda s: s.save_pending_publish(1, pub(1, qos=2, properties=PROPS)),
    lambda s: s.save_received_qos2(7),
    lambda s: s.save_pending_publish(1, pub(1, qos=2, properties=PROPS, released=True)),
    lambda s: s.save_pending_publish(2, pub(2)),
)


def test_flash_torn_last_record_is_dropped_and_earlier_ones_kept():
    kind = FlashKind(compact_at=1 << 20)  # no compaction: every op appends one record
    try:
        logs, states = ops_log(kind, SOME_OPS)
        for n in range(1, len(logs)):
            before, after = logs[n - 1], logs[n]
            assert after[: len(before)] == before
            for cut in range(len(before), len(after) + 1):
                write_bytes(kind.path, after[:cut])
                s = kind.open()
                want = states[n] if cut == len(after) else states[n - 1]
                assert state(s) == want, (n, cut)
                # The tail is gone: what is appended now is found again.
                s.save_received_qos2(999)
                assert 999 in kind.open().load_received_qos2()
    finally:
        kind.cleanup()


def test_flash_garbage_appended_is_dropped():
    kind = FlashKind(compact_at=1 << 20)
    try:
        logs, states = ops_log(kind, SOME_OPS)
        good = logs[-1]
        for junk in (b"\xff" * 300, b"\x00" * 64, b"\x85\x80\x80\x80\x05", b"\x7f\x02\x00\x00", os.urandom(200)):
            write_bytes(kind.path, good + junk)
            s = kind.open()
            assert state(s) == states[-1]
            assert os.stat(kind.path)[6] <= len(good)  # rewritten without the junk
            s.delete_pending_publish(2)
            assert dict(kind.open().load_pending_publishes()) == {1: pub(1, qos=2, properties=PROPS, released=True)}
            write_bytes(kind.path, good)
    finally:
        kind.cleanup()


def test_flash_damage_in_the_middle_ends_the_replay_there():
    kind = FlashKind(compact_at=1 << 20)
    try:
        logs, states = ops_log(kind, SOME_OPS)
        bad = bytearray(logs[-1])
        at = len(logs[2]) + 3  # inside the third record (the QoS 2 id)
        bad[at] ^= 0x40
        write_bytes(kind.path, bad)
        assert state(kind.open()) == states[2]
    finally:
        kind.cleanup()


def test_flash_compaction_keeps_the_state():
    kind = FlashKind(compact_at=256)
    model = MemoryStore()
    try:
        s = kind.open()
        sizes = []
        for i in range(1, 61):
            props = PROPS if i % 2 else None
            for st in (s, model):
                st.save_pending_publish(i % 7 + 1, pub(i, qos=2, properties=props))
                if i % 3 == 0:
                    st.save_pending_publish(i % 7 + 1, pub(i, qos=2, properties=props, released=True))
                if i % 4 == 0:
                    st.delete_pending_publish((i + 3) % 7 + 1)
                if i % 5 == 0:
                    st.save_subscription("s/%d" % (i % 3), PersistedSubscription(i % 3, subscription_id=i))
                st.save_received_qos2(i % 11 + 1)
                if i % 2:
                    st.delete_received_qos2((i + 5) % 11 + 1)
            sizes.append(os.stat(kind.path)[6])
            assert state(s) == state(model), i
        shrank = sum(1 for i in range(1, len(sizes)) if sizes[i] < sizes[i - 1])
        assert shrank >= 5, sizes
        assert state(kind.open()) == state(model)
        assert os.listdir(kind.dir) == ["session.log"]
    finally:
        kind.cleanup()


def test_flash_release_is_a_small_record_and_unchanged_saves_write_nothing():
    kind = FlashKind(compact_at=1 << 20)
    try:
        s = kind.open()
        s.save_pending_publish(4, pub(4, qos=2, properties=PROPS))
        n = os.stat(kind.path)[6]
        s.save_pending_publish(4, pub(4, qos=2, properties=PROPS, released=True))
        assert os.stat(kind.path)[6] == n + 8
        s.save_pending_publish(4, pub(4, qos=2, properties=PROPS, released=True))
        s.save_subscription("a/#", SUB)
        n = os.stat(kind.path)[6]
        s.save_subscription("a/#", SUB)
        assert os.stat(kind.path)[6] == n
        s.save_received_qos2(3)
        s.save_received_qos2(3)
        assert os.stat(kind.path)[6] == n + 8
        want = {4: pub(4, qos=2, properties=PROPS, released=True)}
        assert dict(kind.open().load_pending_publishes()) == want
        # Compaction writes the flag into the record itself.
        s2 = FlashStore(kind.path, "c1", compact_at=16)
        s2.save_received_qos2(8)
        assert dict(s2.load_pending_publishes()) == want
        assert dict(kind.open().load_pending_publishes()) == want
    finally:
        kind.cleanup()


class FailingFile:
    """A file whose first write lands half and raises, as on a full or failing disk."""

    def __init__(self, f, armed):
        self.f = f
        self.armed = armed

    def write(self, data):
        if self.armed:
            self.armed.pop()
            self.f.write(bytes(data[: len(data) // 2]))
            self.f.flush()
            raise OSError(28)
        return self.f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_flash_failed_append_never_hides_later_records():
    import builtins

    import mq.store_flash as store_flash

    kind = FlashKind(compact_at=1 << 20)
    armed = []

    def failing_open(path, mode="r"):
        return FailingFile(builtins.open(path, mode), armed if "a" in mode else [])

    try:
        s = kind.open()
        s.save_pending_publish(1, pub(1))
        store_flash.open = failing_open
        try:
            armed.append(1)
            raises(OSError, s.save_pending_publish, 2, pub(2))
            assert state(s) == ({1: pub(1)}, {}, set())
            s.save_received_qos2(5)  # rewrites the log first: the torn half record goes
        finally:
            del store_flash.open
        assert state(s) == ({1: pub(1)}, {}, {5})
        assert state(kind.open()) == ({1: pub(1)}, {}, {5})
    finally:
        kind.cleanup()


def test_flash_refuses_another_clients_log_and_foreign_files():
    kind = FlashKind()
    try:
        kind.open().save_received_qos2(1)
        e = raises(ValueError, FlashStore, kind.path, "c2")
        assert "c1" in str(e)
        write_bytes(kind.dir + "/main.py", b"print('hello')\n")
        raises(ValueError, FlashStore, kind.dir + "/main.py", "c1")
        assert read_bytes(kind.dir + "/main.py") == b"print('hello')\n"  # untouched
    finally:
        kind.cleanup()


def test_flash_leftover_new_file():
    kind = FlashKind()
    try:
        s = kind.open()
        s.save_received_qos2(1)
        good = read_bytes(kind.path)
        # Cut before the rename: the old log stands and the half-written copy goes.
        write_bytes(kind.path + ".new", good[:10])
        assert kind.open().load_received_qos2() == {1}
        assert os.listdir(kind.dir) == ["session.log"]
        # Cut between remove and rename (FAT): the complete copy is the log.
        os.rename(kind.path, kind.path + ".new")
        assert kind.open().load_received_qos2() == {1}
        assert os.listdir(kind.dir) == ["session.log"]
        # An empty file is a new log.
        write_bytes(kind.path, b"")
        assert state(kind.open()) == ({}, {}, set())
    finally:
        kind.cleanup()


# --- FileStore ----------------------------------------------------------------------


def test_file_store_layout():
    d = mkdtemp()
    try:
        s = FileStore(d + "/nested/dir", "sensor-1")
        assert s.client_id == "sensor-1"
        assert s.directory == d + "/nested/dir/sensor-1"
        s.save_pending_publish(12, pub(12))
        s.save_subscription("a/b", PersistedSubscription(1))
        s.save_received_qos2(3)
        names = sorted(os.listdir(s.directory))
        assert names == ["pending_12.bin", "qos2_received.bin", "subscriptions.bin"], names
        s.delete_subscription("a/b")
        s.delete_received_qos2(3)
        assert os.listdir(s.directory) == ["pending_12.bin"]
        s.clear()
        assert os.listdir(s.directory) == []
        # Another client id shares the base directory.
        FileStore(d + "/nested/dir/", "sensor-2").save_received_qos2(1)
        assert s.load_received_qos2() == set()
    finally:
        rmtree(d)


def test_file_store_rejects_unsafe_client_ids():
    d = mkdtemp()
    try:
        for bad in ("", ".", "..", ".hidden", "a/b", "a\\b", "../x", "a\x00b", "c:1", "x" * 129, "caf\u00e9", "a b"):
            raises(ValueError, FileStore, d, bad)
        assert os.listdir(d) == []
        FileStore(d, "Sensor_1.a-b+c=d@e")
    finally:
        rmtree(d)


def test_file_store_leftover_tmp_files():
    d = mkdtemp()
    try:
        s = FileStore(d, "c1")
        s.save_pending_publish(1, pub(1))
        good = read_bytes(s.directory + "/pending_1.bin")
        # A torn temporary next to its file: dropped, the file stands.
        write_bytes(s.directory + "/pending_1.bin.tmp", good[:-3])
        # A complete temporary whose file is gone (a remove-then-rename cut): promoted.
        write_bytes(s.directory + "/pending_2.bin.tmp", publish_record(2, pub(2)))
        # A torn temporary with no file: dropped.
        write_bytes(s.directory + "/qos2_received.bin.tmp", b"\x04")
        s2 = FileStore(d, "c1")
        assert state(s2) == ({1: pub(1), 2: pub(2)}, {}, set())
        assert sorted(os.listdir(s2.directory)) == ["pending_1.bin", "pending_2.bin"]
    finally:
        rmtree(d)


def test_file_store_damaged_file_raises():
    d = mkdtemp()
    try:
        s = FileStore(d, "c1")
        s.save_pending_publish(1, pub(1))
        path = s.directory + "/pending_1.bin"
        data = bytearray(read_bytes(path))
        data[-1] ^= 1
        write_bytes(path, data)
        e = raises(CorruptRecord, s.load_pending_publishes)
        assert "pending_1.bin" in str(e)
        assert isinstance(e, ValueError)
    finally:
        rmtree(d)


def test_file_store_permissions():
    if MICROPYTHON:
        raise SkipTest("MicroPython's os has no chmod: files get the runtime's default mode")
    import stat

    d = mkdtemp()
    try:
        s = FileStore(d + "/base", "c1")
        s.save_pending_publish(1, pub(1))
        s.save_subscription("a", PersistedSubscription(0))
        s.save_received_qos2(1)
        for name in os.listdir(s.directory):
            assert stat.S_IMODE(os.stat(s.directory + "/" + name).st_mode) == 0o600, name
        assert stat.S_IMODE(os.stat(s.directory).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(d + "/base").st_mode) == 0o700
        s2 = FileStore(d + "/base", "c2", permissions=0o640)
        s2.save_received_qos2(1)
        assert stat.S_IMODE(os.stat(s2.directory + "/qos2_received.bin").st_mode) == 0o640
        assert stat.S_IMODE(os.stat(s2.directory).st_mode) == 0o750
    finally:
        rmtree(d)
