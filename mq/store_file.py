"""FileStore: the session in a directory per client id, one small file per pending
publish plus one for the subscriptions and one for the received QoS 2 ids.

Every file holds one record of ``store_codec`` and is replaced whole: written to
``NAME.tmp``, flushed (and fsynced where the runtime can), then renamed over NAME,
so a crash leaves the old or the new version, never a mix. ``clear*`` remove several
files and are not atomic as a whole; each file is. Files keep no send order: pending
publishes load in packet-id order, starting where the numbering wrapped.
"""

import os
from collections import OrderedDict

from ._compat import const, sync_dir, sync_file
from .store import PersistedPublish, PersistedSubscription, SessionStore, check_packet_id
from .store_codec import (
    PUBLISH,
    QOS2,
    SUBSCRIPTION,
    CorruptRecord,
    ids_of,
    ids_record,
    publish_of,
    publish_record,
    read_frame,
    record_type,
    subscription_record,
    subscriptions_of,
)

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Set, Tuple

_PENDING = "pending_"
_EXT = ".bin"
_SUBS = "subscriptions.bin"
_QOS2 = "qos2_received.bin"
_TMP = ".tmp"
# Portable on FAT, littlefs, POSIX and Windows; a leading "." is refused below, which
# also rules out "." and "..".
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=@"
_S_IFMT = 0o170000
_S_IFDIR = 0o040000

# CPython has these; MicroPython's os has neither.
_OS_OPEN = getattr(os, "open", None)
_CHMOD = getattr(os, "chmod", None)


def check_client_id(client_id: str) -> None:
    """Refuse a client id that is not safe as one directory name everywhere."""
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
        raise ValueError("FileStore needs a client id of 1 to 128 characters")
    if client_id[0] == ".":
        raise ValueError("FileStore client id must not start with '.': %r" % client_id)
    for c in client_id:
        if c not in _ID_CHARS:
            raise ValueError(
                "FileStore client id %r has %r: use letters, digits and - _ . + = @" % (client_id, c)
            )


def _stat_mode(path: str) -> int:
    try:
        return int(os.stat(path)[0])
    except OSError:
        return -1


def _stat_size(path: str) -> int:
    try:
        return int(os.stat(path)[6])
    except OSError:
        return -1


def _exists(path: str) -> bool:
    return _stat_mode(path) != -1


def _mkdirs(path: str, mode: int) -> None:
    # MicroPython has no os.makedirs; make each missing parent in turn.
    if not path or _stat_mode(path) & _S_IFMT == _S_IFDIR:
        return
    parent = path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else ""
    if parent and parent != path:
        _mkdirs(parent, mode)
    try:
        if _CHMOD is not None:
            os.mkdir(path, mode)
        else:
            os.mkdir(path)  # MicroPython's mkdir takes no mode
    except OSError:
        if _stat_mode(path) & _S_IFMT != _S_IFDIR:
            raise


def _send_order(ids: "List[int]") -> "List[int]":
    """Packet ids in the order a client handing them out in turn (1 to 65535, then 1
    again) gave them: ascending, starting after the widest gap, which is where the
    numbering wrapped. The files themselves keep no order."""
    ids.sort()
    n = len(ids)
    if n < 2:
        return ids
    start = 0
    widest = ids[0] + 65535 - ids[-1]  # the gap across the wrap
    for i in range(1, n):
        if ids[i] - ids[i - 1] > widest:
            widest = ids[i] - ids[i - 1]
            start = i
    return ids[start:] + ids[:start]


class FileStore(SessionStore):
    """``FileStore(base_dir, client_id, permissions=0o600)``: the session of one client
    in ``base_dir/client_id/``. Durable when each method returns. ``permissions``
    apply to the files (and, with execute bits added, to the directories this store
    creates) where the runtime has ``os.chmod``; MicroPython has not."""

    def __init__(self, base_dir: str, client_id: str, permissions: int = 0o600) -> None:
        check_client_id(client_id)
        self.client_id = client_id
        self.permissions = permissions
        base = base_dir.rstrip("/")
        if base:
            self.directory = base + "/" + client_id
        else:
            self.directory = "/" + client_id if base_dir else client_id  # "/" or ""
        # A directory needs x wherever its files have r.
        dir_mode = permissions | (permissions & 0o444) >> 2
        _mkdirs(self.directory, dir_mode)
        self._recover()

    def _path(self, name: str) -> str:
        return self.directory + "/" + name

    def _recover(self) -> None:
        # A NAME.tmp is left by a crash before its rename. Where the rename is not
        # atomic (FAT removes NAME first), a complete one is the newer version.
        for name in os.listdir(self.directory):
            if not name.endswith(_TMP):
                continue
            final = name[: -len(_TMP)]
            if not _exists(self._path(final)) and self._read(name, True) is not None:
                os.rename(self._path(name), self._path(final))
            else:
                os.remove(self._path(name))
        sync_dir(self.directory)

    def _read(self, name: str, quiet: bool = False) -> "Optional[bytearray]":
        """The record in file name; None if there is no such file (or, quiet, if it is bad)."""
        path = self._path(name)
        size = _stat_size(path)
        if size < 0:
            return None
        try:
            with open(path, "rb") as f:
                buf = read_frame(f, size)
            if buf is None or len(buf) != size:
                raise CorruptRecord("not one whole record")
            return buf
        except CorruptRecord as e:
            if quiet:
                return None
            raise CorruptRecord("%s: %s" % (path, e))

    def _create(self, path: str) -> "Any":
        if _OS_OPEN is not None:
            # Created with its final permissions: never readable by others, not even briefly.
            f = open(_OS_OPEN(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.permissions), "wb")  # noqa: SIM115
            if _CHMOD is not None:
                _CHMOD(path, self.permissions)  # exact, whatever the umask or an old file had
            return f
        return open(path, "wb")

    def _write(self, name: str, data: bytearray) -> None:
        tmp = self._path(name + _TMP)
        with self._create(tmp) as f:
            f.write(data)
            sync_file(f)
        os.rename(tmp, self._path(name))
        sync_dir(self.directory)

    def _remove(self, names: "List[str]") -> None:
        for name in names:
            path = self._path(name)
            try:
                os.remove(path)
            except OSError:
                if _exists(path):
                    raise
        sync_dir(self.directory)

    def _pending_names(self) -> "List[str]":
        out = []
        for name in os.listdir(self.directory):
            if name.startswith(_PENDING) and name.endswith(_EXT) and name[len(_PENDING) : -len(_EXT)].isdigit():
                out.append(name)
        return out

    def _expect(self, name: str, rtype: int) -> "Optional[bytearray]":
        buf = self._read(name)
        if buf is not None and record_type(buf) != rtype:
            raise CorruptRecord("%s: unexpected record type %d" % (self._path(name), record_type(buf)))
        return buf

    def save_pending_publish(self, packet_id: int, pub: PersistedPublish) -> None:
        check_packet_id(packet_id)
        self._write(_PENDING + str(packet_id) + _EXT, publish_record(packet_id, pub))

    def delete_pending_publish(self, packet_id: int) -> None:
        self._remove([_PENDING + str(packet_id) + _EXT])

    def load_pending_publishes(self) -> "Dict[int, PersistedPublish]":
        out: "Dict[int, PersistedPublish]" = OrderedDict()
        ids = [int(n[len(_PENDING) : -len(_EXT)]) for n in self._pending_names()]
        for packet_id in _send_order(ids):
            buf = self._expect(_PENDING + str(packet_id) + _EXT, PUBLISH)
            if buf is not None:
                out[packet_id] = publish_of(buf)[1]
        return out

    def clear_pending_publishes(self) -> None:
        self._remove(self._pending_names())

    def _subscriptions(self) -> "List[Tuple[str, PersistedSubscription]]":
        buf = self._expect(_SUBS, SUBSCRIPTION)
        return subscriptions_of(buf) if buf is not None else []

    def _write_subscriptions(self, entries: "List[Tuple[str, PersistedSubscription]]") -> None:
        if entries:
            self._write(_SUBS, subscription_record(entries))
        else:
            self._remove([_SUBS])

    def save_subscription(self, topic: str, sub: PersistedSubscription) -> None:
        entries = self._subscriptions()
        for i in range(len(entries)):
            if entries[i][0] == topic:
                entries[i] = (topic, sub)
                break
        else:
            entries.append((topic, sub))
        self._write_subscriptions(entries)

    def delete_subscription(self, topic: str) -> None:
        entries = self._subscriptions()
        kept = [e for e in entries if e[0] != topic]
        if len(kept) != len(entries):
            self._write_subscriptions(kept)

    def load_subscriptions(self) -> "Dict[str, PersistedSubscription]":
        return dict(self._subscriptions())

    def _qos2(self) -> "List[int]":
        buf = self._expect(_QOS2, QOS2)
        return ids_of(buf) if buf is not None else []

    def _write_qos2(self, ids: "List[int]") -> None:
        if ids:
            self._write(_QOS2, ids_record(QOS2, ids))
        else:
            self._remove([_QOS2])

    def save_received_qos2(self, packet_id: int) -> None:
        check_packet_id(packet_id)
        ids = self._qos2()
        if packet_id not in ids:
            ids.append(packet_id)
            self._write_qos2(ids)

    def delete_received_qos2(self, packet_id: int) -> None:
        ids = self._qos2()
        if packet_id in ids:
            ids.remove(packet_id)
            self._write_qos2(ids)

    def load_received_qos2(self) -> "Set[int]":
        return set(self._qos2())

    def clear_received_qos2(self) -> None:
        self._remove([_QOS2])

    def clear(self) -> None:
        self._remove(self._pending_names() + [_SUBS, _QOS2])  # noqa: RUF005 (MicroPython: no [*x] unpacking)
