"""FlashStore: the session as one append-only log of ``store_codec`` records, safe
against a power cut at any instant and kind to flash (see docs/flash-store.md).

Every change appends one record and flushes before the method returns (on
littlefs a flush is a copy-on-write commit: all of the record or none of it). The
log starts with a HEADER record naming the client id. Opening replays it and stops
at the first record that is cut short or fails its CRC: normally only a torn last
record, but damage in the middle also ends the replay there, since a length field
after it cannot be trusted; what follows is dropped. A log that grows past its
limit is compacted: the live records are copied to ``PATH.new``, which is then
renamed over ``PATH`` (atomic on littlefs and POSIX), so a cut leaves the old log
or the new one. Dropping a bad tail is a compaction too, as MicroPython files
cannot be truncated.

RAM holds an index, not the records: the offset of the latest record of each
pending publish and subscription, the received QoS 2 ids, and which publishes a
PUBLISH_RELEASE record has flagged since their PUBLISH record.

Appending to a littlefs file makes littlefs copy its last block to a freshly erased
one, while a file no bigger than the inline limit (128 bytes with MicroPython's
default mount options) lives in its directory's metadata and costs no block erase.
Hence the small default ``compact_at``, compaction before an append rather than
after, the 8-byte PUBLISH_RELEASE record for QoS 2, and no record at all for a
save that changes nothing.
"""

import os
from collections import OrderedDict

from ._compat import const, sync_dir, sync_file
from .store import PersistedPublish, PersistedSubscription, SessionStore, check_packet_id
from .store_codec import (
    CLEAR,
    CLEAR_PUBLISHES,
    CLEAR_QOS2,
    HEADER,
    PUBLISH,
    PUBLISH_DELETE,
    PUBLISH_RELEASE,
    QOS2,
    QOS2_DELETE,
    SUBSCRIPTION,
    SUBSCRIPTION_DELETE,
    CorruptRecord,
    client_id_of,
    empty_record,
    header_record,
    ids_of,
    ids_record,
    mark_released,
    packet_id_of,
    publish_of,
    publish_record,
    read_frame,
    record_type,
    subscription_record,
    subscriptions_of,
    topic_of,
    topic_record,
)

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Set

def _size(path: str) -> int:
    try:
        return int(os.stat(path)[6])
    except OSError:
        return -1


class FlashStore(SessionStore):
    """``FlashStore(path, client_id, compact_at=128)``: the session of client_id in
    the log file at path. Before an append would take the log past ``compact_at``
    bytes (or twice its live records, if more), the log is compacted. Put it in a
    directory of its own: littlefs then rewrites only that directory's metadata.

    Raises ValueError if path holds something other than an mq session log, or the
    log of another client id. A record that no longer reads back (flash damage after
    it was written) is left out of the loads and dropped at the next compaction.
    """

    def __init__(self, path: str, client_id: str, compact_at: int = 128) -> None:
        self.client_id = client_id
        self.path = path
        self.compact_at = compact_at
        self._new = path + ".new"
        self._limit = compact_at
        self._pending: "Dict[int, int]" = {}  # packet id -> offset of its PUBLISH record
        self._released: "Set[int]" = set()  # flagged by a PUBLISH_RELEASE since that record
        self._subs: "Dict[str, int]" = {}  # filter -> offset of its latest record
        self._qos2: "Set[int]" = set()
        self._size = 0  # bytes of valid log
        self._dirty = False  # an append failed: the log may end in a torn record
        self._open()

    def _open(self) -> None:
        if _size(self._new) >= 0:
            # A cut before the rename: the old log stands. With no old log, either the
            # first log was cut short (drop it) or, where rename is remove-then-rename
            # (FAT), the complete new one was about to replace it.
            if _size(self.path) < 0 and self._header_ok(self._new):
                os.rename(self._new, self.path)
            else:
                os.remove(self._new)
        size = _size(self.path)
        if size <= 0:
            self._compact()  # a new log: just the header
            return
        with open(self.path, "rb") as f:
            try:
                buf = read_frame(f, size)
            except CorruptRecord:
                buf = None
            if buf is None or record_type(buf) != HEADER:
                raise ValueError("%s is not an mq session log" % self.path)
            owner = client_id_of(buf)
            if owner != self.client_id:
                raise ValueError("%s is the session log of client %r, not %r" % (self.path, owner, self.client_id))
            pos = len(buf)
            while pos < size:
                try:
                    buf = read_frame(f, size - pos)
                    if buf is None:
                        break
                    self._apply(buf, pos)
                except CorruptRecord:
                    break
                pos += len(buf)
        self._size = pos
        if pos < size:
            self._compact()  # drops the torn or damaged tail

    def _header_ok(self, path: str) -> bool:
        with open(path, "rb") as f:
            try:
                buf = read_frame(f, _size(path))
            except CorruptRecord:
                return False
        return buf is not None and record_type(buf) == HEADER

    def _apply(self, buf: bytearray, pos: int) -> None:
        t = record_type(buf)
        if t == PUBLISH:
            packet_id = packet_id_of(buf)
            self._pending[packet_id] = pos
            self._released.discard(packet_id)
        elif t == PUBLISH_RELEASE:
            packet_id = packet_id_of(buf)
            if packet_id in self._pending:
                self._released.add(packet_id)
        elif t == PUBLISH_DELETE:
            packet_id = packet_id_of(buf)
            self._pending.pop(packet_id, None)
            self._released.discard(packet_id)
        elif t == SUBSCRIPTION:
            self._subs[topic_of(buf)] = pos
        elif t == SUBSCRIPTION_DELETE:
            self._subs.pop(topic_of(buf), None)
        elif t == QOS2:
            for i in ids_of(buf):
                self._qos2.add(i)
        elif t == QOS2_DELETE:
            self._qos2.discard(packet_id_of(buf))
        elif t == CLEAR_PUBLISHES:
            self._pending = {}
            self._released = set()
        elif t == CLEAR_QOS2:
            self._qos2 = set()
        elif t == CLEAR:
            self._pending = {}
            self._released = set()
            self._subs = {}
            self._qos2 = set()
        else:
            raise CorruptRecord("unknown record type %d" % t)

    def _read_at(self, f: "Any", pos: int) -> "Optional[bytearray]":
        f.seek(pos)
        try:
            return read_frame(f, self._size - pos)
        except CorruptRecord:
            return None

    def _publish_at(self, f: "Any", packet_id: int) -> "Optional[bytearray]":
        """The current PUBLISH record of packet_id, its released flag up to date."""
        buf = self._read_at(f, self._pending[packet_id])
        if buf is not None and packet_id in self._released:
            mark_released(buf)
        return buf

    def _read_one(self, pos: int) -> "Optional[bytearray]":
        with open(self.path, "rb") as f:
            return self._read_at(f, pos)

    def _in_log_order(self) -> "List[int]":
        # The order of their PUBLISH records is the order they were sent (a release
        # record leaves it be); the index itself is a plain dict, fast on MicroPython.
        pending = self._pending
        return sorted(pending, key=pending.__getitem__)  # alloc: once per load or compaction

    def _compact(self) -> None:
        """Write the live records to a new log and rename it over the old one."""
        pending: "Dict[int, int]" = {}
        subs: "Dict[str, int]" = {}
        with open(self._new, "wb") as out:
            rec = header_record(self.client_id)
            out.write(rec)
            pos = len(rec)
            if self._pending or self._subs:
                with open(self.path, "rb") as src:
                    # One record in RAM at a time, copied as it is (already framed).
                    for packet_id in self._in_log_order():
                        buf = self._publish_at(src, packet_id)
                        if buf is not None:
                            out.write(buf)
                            pending[packet_id] = pos
                            pos += len(buf)
                    for topic, at in self._subs.items():
                        buf = self._read_at(src, at)
                        if buf is not None:
                            out.write(buf)
                            subs[topic] = pos
                            pos += len(buf)
            if self._qos2:
                rec = ids_record(QOS2, sorted(self._qos2))
                out.write(rec)
                pos += len(rec)
            sync_file(out)
        os.rename(self._new, self.path)
        self._pending = pending
        self._released = set()
        self._subs = subs
        self._size = pos
        self._dirty = False
        # Twice the live records at least, or a large state would compact on every append.
        self._limit = max(self.compact_at, 2 * pos)
        sync_dir(self.path.rsplit("/", 1)[0] if "/" in self.path else ".")

    def _append(self, rec: bytearray) -> int:
        """Append one record, durable on return; its offset."""
        if self._dirty or self._size + len(rec) > self._limit:
            # Compacting first leaves the state as it was, so an error here fails the
            # call cleanly; it also never writes past a torn record after a failed append.
            self._compact()
        self._dirty = True
        with open(self.path, "ab") as f:
            f.write(rec)
            sync_file(f)
        pos = self._size
        self._size = pos + len(rec)
        self._dirty = False
        return pos

    def save_pending_publish(self, packet_id: int, pub: PersistedPublish) -> None:
        check_packet_id(packet_id)
        rec = publish_record(packet_id, pub)
        if packet_id in self._pending:
            with open(self.path, "rb") as f:
                old = self._publish_at(f, packet_id)
            if old is not None:
                if old == rec:
                    return  # nothing changed: spare the flash
                if pub.released and mark_released(old) == rec:
                    self._append(ids_record(PUBLISH_RELEASE, (packet_id,)))
                    self._released.add(packet_id)
                    return
        self._pending[packet_id] = self._append(rec)
        self._released.discard(packet_id)

    def delete_pending_publish(self, packet_id: int) -> None:
        if packet_id in self._pending:
            self._append(ids_record(PUBLISH_DELETE, (packet_id,)))
            del self._pending[packet_id]
            self._released.discard(packet_id)

    def load_pending_publishes(self) -> "Dict[int, PersistedPublish]":
        out: "Dict[int, PersistedPublish]" = OrderedDict()
        if self._pending:
            with open(self.path, "rb") as f:
                for packet_id in self._in_log_order():
                    buf = self._publish_at(f, packet_id)
                    if buf is not None:
                        try:
                            out[packet_id] = publish_of(buf)[1]
                        except CorruptRecord:
                            pass
        return out

    def clear_pending_publishes(self) -> None:
        if self._pending:
            self._append(empty_record(CLEAR_PUBLISHES))
            self._pending = {}
            self._released = set()

    def save_subscription(self, topic: str, sub: PersistedSubscription) -> None:
        rec = subscription_record([(topic, sub)])
        pos = self._subs.get(topic)
        if pos is not None and self._read_one(pos) == rec:
            return  # resubscribed with the same options (a reconnect): nothing to write
        self._subs[topic] = self._append(rec)

    def delete_subscription(self, topic: str) -> None:
        if topic in self._subs:
            self._append(topic_record(SUBSCRIPTION_DELETE, topic))
            del self._subs[topic]

    def load_subscriptions(self) -> "Dict[str, PersistedSubscription]":
        out: "Dict[str, PersistedSubscription]" = {}
        if self._subs:
            with open(self.path, "rb") as f:
                for topic, pos in self._subs.items():
                    buf = self._read_at(f, pos)
                    if buf is not None:
                        try:
                            out[topic] = subscriptions_of(buf)[0][1]
                        except CorruptRecord:
                            pass
        return out

    def save_received_qos2(self, packet_id: int) -> None:
        check_packet_id(packet_id)
        if packet_id not in self._qos2:
            self._append(ids_record(QOS2, (packet_id,)))
            self._qos2.add(packet_id)

    def delete_received_qos2(self, packet_id: int) -> None:
        if packet_id in self._qos2:
            self._append(ids_record(QOS2_DELETE, (packet_id,)))
            self._qos2.discard(packet_id)

    def load_received_qos2(self) -> "Set[int]":
        return set(self._qos2)

    def clear_received_qos2(self) -> None:
        if self._qos2:
            self._append(empty_record(CLEAR_QOS2))
            self._qos2 = set()

    def clear(self) -> None:
        if self._pending or self._subs or self._qos2:
            self._append(empty_record(CLEAR))
            self._pending = {}
            self._released = set()
            self._subs = {}
            self._qos2 = set()
