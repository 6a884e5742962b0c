"""Flash wear of mq.FlashStore on littlefs: the figures in docs/flash-store.md.

    .venv/bin/micropython bench/flash_wear.py [--option value ...]

MicroPython unix port, from the project root. littlefs v2 (vfs.VfsLfs2, as MicroPython
builds it) runs on a RAM block device that counts the erases of each block, and the
programs and reads. A FlashStore in a directory of its own (/flash/mq/session) then gets
the store calls the client makes for each message (mq/io_client.py), and nothing else:

  QoS 1: save_pending_publish(id, released=False) before the PUBLISH is sent;
         delete_pending_publish(id) on PUBACK.
  QoS 2: save_pending_publish(id, released=False) before the PUBLISH is sent;
         save_pending_publish(id, released=True) on PUBREC (before PUBREL is sent);
         delete_pending_publish(id) on PUBCOMP.

With --inflight K the first K messages are saved, then each acknowledgement of the
oldest is followed by the save of the next. Packet ids go 1, 2, ... 65535, 1, ... as the
client assigns them. Counters start after the store is open (--subscribe FILTER saves one
subscription first, as on SUBACK).

Life, printed with its arithmetic: cycles x free blocks / (erases a year) if the wear
were spread evenly over the blocks free at the start (statvfs), and cycles / (erases a
year of the hottest block, counted as its erases over this run), then halved. littlefs
levels wear dynamically only: the free blocks take turns, and the metadata pair of the
log's directory moves on after block_cycles = 100 erases, so the hottest block runs up to
about 100 erases ahead of the mean. Run enough messages for the mean to be well past that
(100,000 with 30 free blocks: a mean of 400); a shorter run overstates the hottest block.

Options (default):
  --messages N        messages per flow (100000)
  --qos 1|2|12        flows to run (12: both)
  --topic-size N      topic bytes (20: "sensors/0042/temp/c1")
  --payload-size N    payload bytes (32)
  --client-id S       (sensor-1)
  --inflight K        messages in flight at a time (1)
  --subscribe FILTER  a persisted subscription in the log as well (none)
  --log PATH          the log, under the mount (mq/session; "session": in the root)
  --other-files N     N files of 1 KiB in the root (0)
  --compact-at N      FlashStore's compact_at (128)
  --block-size N      erase block bytes (4096)
  --block-count N     blocks in the partition (128: 512 KiB)
  --readsize N        littlefs mount option (32, MicroPython's default)
  --progsize N        littlefs mount option (32; the rp2 port mounts with 256)
  --lookahead N       littlefs mount option (32)
  --free N            fill the partition with another file until N blocks are free
                      (0: no other file)
  --rate R            messages per minute, for the life estimate (1)
  --endurance N       erase cycles a block is specified for (100000)
"""

import sys

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/..")

import os
import time

import vfs

from mq.store import PersistedPublish, PersistedSubscription
from mq.store_flash import FlashStore

MOUNT = "/flash"
MINUTES_PER_YEAR = 525960  # 365.25 days

OPTIONS = {
    "messages": 100000,
    "qos": 12,
    "topic-size": 20,
    "payload-size": 32,
    "client-id": "sensor-1",
    "inflight": 1,
    "subscribe": "",
    "log": "mq/session",
    "other-files": 0,
    "compact-at": 128,
    "block-size": 4096,
    "block-count": 128,
    "readsize": 32,
    "progsize": 32,
    "lookahead": 32,
    "free": 0,
    "rate": 1.0,
    "endurance": 100000,
}


def parse(argv):
    opts = dict(OPTIONS)
    usage = "usage: micropython bench/flash_wear.py [--option value ...], options (see the source): --"
    if len(argv) % 2:
        raise SystemExit(usage + " --".join(OPTIONS))
    for i in range(0, len(argv), 2):
        name = argv[i][2:]
        if not argv[i].startswith("--") or name not in opts:
            raise SystemExit(usage + " --".join(OPTIONS))
        default = opts[name]
        opts[name] = argv[i + 1] if isinstance(default, str) else type(default)(argv[i + 1])
    return opts


class CountingDevice:
    """RAM blocks behind MicroPython's extended block protocol, counting what littlefs
    does to them."""

    def __init__(self, block_size, block_count):
        self.block_size = block_size
        self.data = bytearray(block_size * block_count)  # one for all runs: 512 KiB of heap
        self.erases = [0] * block_count
        self.reset()

    def reset(self):
        for i in range(len(self.erases)):
            self.erases[i] = 0
        self.programs = 0
        self.programmed = 0
        self.reads = 0

    def readblocks(self, block, buf, offset=0):
        at = block * self.block_size + offset
        buf[:] = memoryview(self.data)[at : at + len(buf)]
        self.reads += 1

    def writeblocks(self, block, buf, offset=0):
        at = block * self.block_size + offset
        self.data[at : at + len(buf)] = buf
        self.programs += 1
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return len(self.erases)
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            at = arg * self.block_size
            self.data[at : at + self.block_size] = b"\xff" * self.block_size
            self.erases[arg] += 1
        return 0


def free_blocks():
    st = os.statvfs(MOUNT)
    return st[3]  # f_bfree, in blocks


def format_and_mount(dev, o):
    for block in range(len(dev.erases)):
        dev.ioctl(6, block)  # a blank partition
    mount_opts = {"readsize": o["readsize"], "progsize": o["progsize"], "lookahead": o["lookahead"]}
    vfs.VfsLfs2.mkfs(dev, **mount_opts)
    vfs.mount(vfs.VfsLfs2(dev, **mount_opts), MOUNT)
    for i in range(o["other-files"]):
        with open(MOUNT + "/file%d" % i, "wb") as f:
            f.write(b"f" * 1024)
    if "/" in o["log"]:
        os.mkdir(MOUNT + "/" + o["log"].rsplit("/", 1)[0])
    if o["free"]:
        # Other files (code, certificates): blocks littlefs never moves nor erases again.
        chunk = b"o" * o["block-size"]
        with open(MOUNT + "/other", "wb") as f:
            while free_blocks() > o["free"]:
                f.write(chunk)
                f.flush()


def next_id(pid):
    return pid + 1 if pid < 65535 else 1  # as Session.assign (fewer than 65535 in flight)


def run(dev, o, qos):
    format_and_mount(dev, o)
    try:
        free = free_blocks()
        store = FlashStore(MOUNT + "/" + o["log"], o["client-id"], o["compact-at"])
        if o["subscribe"]:
            store.save_subscription(o["subscribe"], PersistedSubscription(1))
        topic = ("sensors/0042/temp/c1/" * (o["topic-size"] // 21 + 1))[: o["topic-size"]]
        payload = b"x" * o["payload-size"]
        dev.reset()
        t0 = time.ticks_ms()
        flying = []  # packet ids, oldest first
        pid = 0
        for n in range(o["messages"] + o["inflight"]):
            if len(flying) == o["inflight"] or n >= o["messages"]:
                oldest = flying.pop(0)
                if qos == 2:  # PUBREC
                    store.save_pending_publish(oldest, PersistedPublish(topic, payload, 2, released=True))
                store.delete_pending_publish(oldest)  # PUBACK or PUBCOMP
            if n < o["messages"]:
                pid = next_id(pid)
                store.save_pending_publish(pid, PersistedPublish(topic, payload, qos))  # before PUBLISH
                flying.append(pid)
        seconds = time.ticks_diff(time.ticks_ms(), t0) / 1000
        assert not store.load_pending_publishes()
    finally:
        vfs.umount(MOUNT)
    report(o, qos, dev, free, seconds)


def report(o, qos, dev, free, seconds):
    n = o["messages"]
    total = sum(dev.erases)
    hot = max(dev.erases)
    per_year = o["rate"] * MINUTES_PER_YEAR
    cycles = o["endurance"]
    print("QoS %d, %d messages (%d in flight), %.0f s" % (qos, n, o["inflight"], seconds))
    print(
        "  block erases: %d = %.4f per message, on %d blocks; %d free blocks (statvfs) at the start"
        % (total, total / n, sum(1 for e in dev.erases if e), free)
    )
    print(
        "  hottest block: #%d, %d erases = %.5f per message (mean over the free blocks: %.1f)"
        % (dev.erases.index(hot), hot, hot / n, total / free)
    )
    print(
        "  programmed: %.0f bytes per message (%d programs in all); %d reads"
        % (dev.programmed / n, dev.programs, dev.reads)
    )
    print(
        "  life at %g a minute (%g x %d minutes = %d messages a year), %d erase cycles a block:"
        % (o["rate"], o["rate"], MINUTES_PER_YEAR, per_year, cycles)
    )
    if total:
        print(
            "    wear spread evenly: %d x %d free blocks / (%d / %d erases a message x %d) = %.1f years"
            % (cycles, free, total, n, per_year, cycles * free * n / (total * per_year))
        )
        years = cycles * n / (hot * per_year)
        print(
            "    hottest block:      %d / (%d / %d erases a message x %d) = %.1f years; halved: %.1f years"
            % (cycles, hot, n, per_year, years, years / 2)
        )


def main():
    o = parse(sys.argv[1:])
    fs = "littlefs2: %d x %d-byte blocks, readsize %d, progsize %d, lookahead %d" % (
        o["block-count"], o["block-size"], o["readsize"], o["progsize"], o["lookahead"]
    )  # fmt: skip
    if o["free"]:
        fs += ", other files leave %d blocks free" % o["free"]
    print(fs)
    log = "%s/%s: FlashStore(compact_at=%d), client id %r, topic %d bytes, payload %d bytes" % (
        MOUNT, o["log"], o["compact-at"], o["client-id"], o["topic-size"], o["payload-size"]
    )  # fmt: skip
    if o["subscribe"]:
        log += ", subscription %r" % o["subscribe"]
    if o["other-files"]:
        log += ", %d other files in %s" % (o["other-files"], MOUNT)
    print(log)
    dev = CountingDevice(o["block-size"], o["block-count"])
    for qos in (1, 2):
        if str(qos) in str(o["qos"]):
            run(dev, o, qos)


main()
