"""FlashStore against power cuts at every instant of a workload.

On MicroPython: littlefs (vfs.VfsLfs2) on a RAM block device that dies at its k-th
program or erase, for every k; the blocks are then mounted again, as after a reboot.
On CPython (and MicroPython too): the store runs in a real directory while every
change it makes to a file is recorded, then each instant is rebuilt, down to every
byte of every write, before and after every rename.

Either way, after the cut the store must load the state after some prefix of the
workload that holds every call that had returned: the calls completed, or those and
the one in progress.
"""

import os

from support import MICROPYTHON, SkipTest

import mq.store_flash as store_flash
from mq.store import MemoryStore, PersistedPublish, PersistedSubscription
from mq.store_flash import FlashStore
from mq.wire_props import Properties

PROPS = Properties(content_type="text/plain", user_properties=[("unit", "C"), ("unit", "K")])
SUB1 = PersistedSubscription(1, no_local=True, subscription_id=7, user_properties=[("a", "1")])
SUB2 = PersistedSubscription(2, retain_handling=1)
SUB3 = PersistedSubscription(0, retain_as_published=True)


def P(i, qos=1, released=False, props=None):
    return PersistedPublish("sensors/dev%02d/temp" % i, b"22.%d degrees" % i, qos, False, props, released)


WORKLOAD = (
    ("sub", "cmd/sensor-1/#", SUB1),
    ("pub", 1, P(1)),
    ("pub", 2, P(2, 2, props=PROPS)),
    ("qos2", 100),
    ("del", 1),
    ("pub", 2, P(2, 2, True, PROPS)),
    ("pub", 3, P(3)),
    ("qos2", 101),
    ("qos2del", 100),
    ("del", 2),
    ("sub", "cfg/+", SUB2),
    ("pub", 4, P(4, 2)),
    ("pub", 5, P(5, 1, props=PROPS)),
    ("pub", 4, P(4, 2, True)),
    ("del", 3),
    ("unsub", "cmd/sensor-1/#"),
    ("qos2", 102),
    ("del", 5),
    ("clear_qos2",),
    ("pub", 6, P(6)),
    ("sub", "cfg/+", SUB3),
    ("del", 4),
    ("pub", 7, P(7, 2)),
    ("pub", 7, P(7, 2, True)),
    ("clear_pubs",),
    ("qos2", 103),
    ("pub", 8, P(8)),
    ("sub", "cmd/sensor-1/#", SUB1),
    ("clear",),
    ("pub", 9, P(9, 2)),
    ("qos2", 104),
    ("del", 9),
)


def apply(store, op):
    kind = op[0]
    if kind == "pub":
        store.save_pending_publish(op[1], op[2])
    elif kind == "del":
        store.delete_pending_publish(op[1])
    elif kind == "sub":
        store.save_subscription(op[1], op[2])
    elif kind == "unsub":
        store.delete_subscription(op[1])
    elif kind == "qos2":
        store.save_received_qos2(op[1])
    elif kind == "qos2del":
        store.delete_received_qos2(op[1])
    elif kind == "clear_pubs":
        store.clear_pending_publishes()
    elif kind == "clear_qos2":
        store.clear_received_qos2()
    else:
        store.clear()


def state(store):
    # Plain dicts: MicroPython's OrderedDict never equals a dict.
    return (dict(store.load_pending_publishes()), store.load_subscriptions(), store.load_received_qos2())


def prefix_states():
    """The state after each prefix of the workload, with the send order of its publishes."""
    model = MemoryStore()
    states = [(state(model), list(model.load_pending_publishes()))]
    for op in WORKLOAD:
        apply(model, op)
        states.append((state(model), list(model.load_pending_publishes())))
    return states


def check_recovered(store, states, done, where):
    got = (state(store), list(store.load_pending_publishes()))
    allowed = states[done : done + 2]
    assert got in allowed, "%s: %d calls had returned; loaded %r" % (where, done, got)


# --- littlefs on a block device that loses power ------------------------------------

class CutDevice:
    """RAM blocks behind the extended block protocol. From its cut-th program or erase
    on it is dead: of that one, none, half or all of the bytes land (``landed`` 0, 1
    or 2 halves), then it and every later one fails."""

    def __init__(self, data, block_size, cut=0, landed=1):
        self.data = data
        self.block_size = block_size
        self.cut = cut
        self.landed = landed
        self.writes = 0
        self.dead = False

    def readblocks(self, block, buf, offset=0):
        at = block * self.block_size + offset
        try:
            buf[:] = memoryview(self.data)[at : at + len(buf)]
        except MemoryError:
            # A file the dead mount left open, closed by its finaliser with the heap locked.
            return -12
        return 0

    def _power(self):
        # True if this program or erase is the one the power fails in.
        if self.dead:
            raise OSError(5)
        self.writes += 1
        if self.cut and self.writes >= self.cut:
            self.dead = True
            return True
        return False

    def writeblocks(self, block, buf, offset=0):
        at = block * self.block_size + offset
        n = len(buf)
        if self._power():
            n = n * self.landed // 2  # a torn program: the first bytes made it
            self.data[at : at + n] = memoryview(buf)[:n]
            raise OSError(5)
        self.data[at : at + n] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.block_size
        if op == 5:
            return self.block_size
        if op == 6:  # erase
            try:
                torn = self._power()
            except OSError:
                return -5
            at = arg * self.block_size
            n = self.block_size * self.landed // 2 if torn else self.block_size
            self.data[at : at + n] = b"\xff" * n
            return -5 if torn else 0
        return 0


MOUNT = "/mq-powercut"
LOG = MOUNT + "/mq/session"


def run_until_cut(image, geometry, cut, landed):
    """Mount a copy of image on a device that dies at write cut and run the workload:
    the blocks as they were left, the calls that returned, and the writes made."""
    import vfs

    dev = CutDevice(bytearray(image), geometry[0], cut, landed)
    vfs.mount(vfs.VfsLfs2(dev, progsize=geometry[1]), MOUNT)
    done = 0
    try:
        store = FlashStore(LOG, "sensor-1")
        for op in WORKLOAD:
            apply(store, op)
            done += 1
    except OSError:
        pass
    finally:
        vfs.umount(MOUNT)
    return dev.data, done, dev.writes


def power_cuts_littlefs(block_size, block_count, progsize):
    if not MICROPYTHON:
        raise SkipTest("needs MicroPython's vfs.VfsLfs2 (the CPython run replays file writes instead)")
    import vfs

    geometry = (block_size, progsize)
    blank = CutDevice(bytearray(block_size * block_count), block_size)
    vfs.VfsLfs2.mkfs(blank, progsize=progsize)
    vfs.mount(vfs.VfsLfs2(blank, progsize=progsize), MOUNT)
    os.mkdir(MOUNT + "/mq")
    vfs.umount(MOUNT)
    image = bytes(blank.data)
    states = prefix_states()

    _, done, total = run_until_cut(image, geometry, 0, 0)
    assert done == len(WORKLOAD)
    assert total >= len(WORKLOAD), total  # every call commits something
    for cut in range(1, total + 1):
        for landed in (0, 1, 2):
            blocks, done, _ = run_until_cut(image, geometry, cut, landed)
            # Reboot: a healthy device over the blocks as the cut left them.
            vfs.mount(vfs.VfsLfs2(CutDevice(blocks, block_size), progsize=progsize), MOUNT)
            try:
                store = FlashStore(LOG, "sensor-1")
                where = "cut at write %d of %d (%d halves landed)" % (cut, total, landed)
                check_recovered(store, states, done, where)
                before = state(store)
                store.save_received_qos2(999)
                after = FlashStore(LOG, "sensor-1")
                assert state(after) == (before[0], before[1], before[2] | {999}), where
            finally:
                vfs.umount(MOUNT)
    print("littlefs %d x %d, progsize %d: %d writes, %d cuts" % (block_count, block_size, progsize, total, 3 * total))


def test_power_cut_at_every_write_littlefs_512():
    power_cuts_littlefs(512, 48, 32)  # MicroPython's default mount options


def test_power_cut_at_every_write_littlefs_4096():
    power_cuts_littlefs(4096, 16, 256)  # flash-sized blocks, as the rp2 port mounts them


# --- any filesystem: every byte of every write, before and after every rename -------


class RecordingFile:
    def __init__(self, f, path, events):
        self.f = f
        self.path = path
        self.events = events

    def write(self, data):
        self.events.append(("write", self.path, bytes(data)))
        return self.f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)


class RecordingOS:
    """Stands in for the os module inside mq.store_flash: does the real thing, and
    records each change to a file."""

    def __init__(self, events):
        self.events = events

    def rename(self, src, dst):
        os.rename(src, dst)
        self.events.append(("rename", src, dst))

    def remove(self, path):
        os.remove(path)
        self.events.append(("remove", path))

    def __getattr__(self, name):
        return getattr(os, name)


def recording_open(events):
    import builtins

    def _open(path, mode="r"):
        f = builtins.open(path, mode)  # noqa: SIM115 (closed by RecordingFile)
        if "w" in mode or "a" in mode:
            events.append(("open", path, mode))
        return RecordingFile(f, path, events)

    return _open


def replay(events, upto, partial=b""):
    """The files as a cut after events[:upto] leaves them (and, partial, the first bytes
    of the write events[upto])."""
    files = {}
    for ev in events[:upto]:
        kind = ev[0]
        name = ev[1].rsplit("/", 1)[-1] if len(ev) > 1 else None
        if kind == "open":
            if "w" in ev[2] or name not in files:
                files[name] = b""
        elif kind == "write":
            files[name] += ev[2]
        elif kind == "rename":
            files[ev[2].rsplit("/", 1)[-1]] = files.pop(name)
        elif kind == "remove":
            files.pop(name)
    if partial:
        files[events[upto][1].rsplit("/", 1)[-1]] += partial
    return files


def mkdtemp():
    if MICROPYTHON:
        import binascii

        path = "/tmp/mq-powercut-" + binascii.hexlify(os.urandom(6)).decode()
        os.mkdir(path)
        return path
    import tempfile

    return tempfile.mkdtemp(prefix="mq-powercut-")


def empty_dir(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)


def test_power_cut_at_every_byte_file_backed():
    states = prefix_states()
    run_dir = mkdtemp()
    check_dir = mkdtemp()
    events = []
    store_flash.open = recording_open(events)
    store_flash.os = RecordingOS(events)
    try:
        store = FlashStore(run_dir + "/session", "sensor-1")
        for op in WORKLOAD:
            apply(store, op)
            events.append(("done",))
    finally:
        del store_flash.open
        store_flash.os = os
    try:
        renames = sum(1 for ev in events if ev[0] == "rename")
        assert renames >= 5, renames  # the workload compacts, several times
        done = 0
        points = 0
        for i in range(len(events) + 1):
            cuts = [b""]
            if i < len(events) and events[i][0] == "write":
                data = events[i][2]
                cuts += [data[:j] for j in range(1, len(data))]
            for partial in cuts:
                empty_dir(check_dir)
                for name, data in replay(events, i, partial).items():
                    with open(check_dir + "/" + name, "wb") as f:
                        f.write(data)
                what = events[i][:2] if i < len(events) else "end"
                where = "cut before event %d %r + %d bytes" % (i, what, len(partial))
                store = FlashStore(check_dir + "/session", "sensor-1")
                check_recovered(store, states, done, where)
                # Whatever the cut left behind, what is written next is found again.
                before = state(store)
                store.save_received_qos2(999)
                after = FlashStore(check_dir + "/session", "sensor-1")
                assert state(after) == (before[0], before[1], before[2] | {999}), where
                points += 1
            if i < len(events) and events[i][0] == "done":
                done += 1
        assert done == len(WORKLOAD)
        assert points > 1000, points
        print("file-backed: %d events, %d renames, %d cut points" % (len(events), renames, points))
    finally:
        for d in (run_dir, check_dir):
            empty_dir(d)
            os.rmdir(d)
