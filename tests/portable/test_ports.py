"""The board glue in ports/common on CPython and the MicroPython unix port: littlefs
on a RAM block device standing in for the flash partition, Wi-Fi bring-up against a
fake ``network`` module, and the deep-sleep wake cycle against a real Mosquitto."""

import sys

from support import MICROPYTHON, SkipTest, control, hexlify, raises, run, unhexlify

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../../ports/common")

from mq_storage import mount_fs, mount_store  # noqa: E402
from mq_wifi import connect_wifi  # noqa: E402
from sensor_app import wake_cycle  # noqa: E402

import mq  # noqa: E402

TIMEOUT = 10


# -- a RAM block device with the extended interface (what littlefs needs) ------------


class RAMBlockDev:
    """Flash-like: erase sets a block to 0xFF; writes with an offset do not erase."""

    def __init__(self, block_size=512, num_blocks=64):
        self.block_size = block_size
        self.data = bytearray(b"\xff" * (block_size * num_blocks))
        self.writes = 0
        self.fail_reads = False

    def readblocks(self, block_num, buf, offset=0):
        if self.fail_reads:
            raise OSError(5)  # EIO: a broken device, not a blank one
        a = block_num * self.block_size + offset
        buf[:] = self.data[a : a + len(buf)]

    def writeblocks(self, block_num, buf, offset=None):
        self.writes += 1
        if offset is None:  # the simple interface: erase, then write whole blocks
            for i in range(len(buf) // self.block_size):
                self.ioctl(6, block_num + i)
            offset = 0
        a = block_num * self.block_size + offset
        self.data[a : a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return len(self.data) // self.block_size
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            a = arg * self.block_size
            self.data[a : a + self.block_size] = b"\xff" * self.block_size
            return 0
        return 0  # init, deinit, sync


def _vfs():
    if not MICROPYTHON:
        raise SkipTest("no littlefs (vfs module) on CPython")
    import vfs

    return vfs


def _umount(vfs, mount_point):
    try:
        vfs.umount(mount_point)
    except OSError:
        pass


def test_mount_store_formats_once_and_survives_a_reboot():
    vfs = _vfs()
    mp = "/mq_test_ports"
    bdev = RAMBlockDev()
    try:
        assert mount_fs(bdev, mp) is True  # blank: formatted
        store = mount_store(bdev, mp, client_id="dev-1")
        assert isinstance(store, mq.FlashStore)
        store.save_subscription("cmd/dev-1", mq.PersistedSubscription(1))
        store.save_pending_publish(7, mq.PersistedPublish("s/dev-1", b"21.5", 1, False, None))
        # Called again while mounted (a soft reset): nothing formatted, same contents.
        assert mount_fs(bdev, mp) is False
        again = mount_store(bdev, mp, client_id="dev-1")
        assert list(again.load_subscriptions()) == ["cmd/dev-1"]
        # "Reboot": unmount, mount again from the same flash.
        vfs.umount(mp)
        assert mount_fs(bdev, mp) is False
        vfs.umount(mp)
        after = mount_store(bdev, mp, client_id="dev-1")
        assert list(after.load_subscriptions()) == ["cmd/dev-1"]
        pending = after.load_pending_publishes()
        assert list(pending) == [7] and pending[7].payload == b"21.5", pending
        # Another client id's log is refused, not overwritten.
        raises(ValueError, mount_store, bdev, mp, client_id="dev-2")
    finally:
        _umount(vfs, mp)


def test_mount_store_never_formats_on_an_io_error():
    vfs = _vfs()
    mp = "/mq_test_ports_eio"
    bdev = RAMBlockDev()
    bdev.fail_reads = True
    try:
        e = raises(OSError, mount_store, bdev, mp, client_id="dev-1")
        assert e.errno == 5, e
        assert bdev.writes == 0 and bdev.data == b"\xff" * len(bdev.data)
    finally:
        _umount(vfs, mp)


def test_mount_store_without_a_device_uses_a_directory():
    # bdev=None: the store goes in a directory of the filesystem already mounted.
    import os

    if MICROPYTHON:
        vfs = _vfs()
        base = "/mq_test_ports_dir"
        vfs.mount(vfs.VfsLfs2(_formatted(vfs)), base)
    else:
        import tempfile

        base = tempfile.mkdtemp()
    try:
        store = mount_store(None, base + "/mq", client_id="dev-1")
        store.save_subscription("cmd/dev-1", mq.PersistedSubscription(1))
        again = mount_store(None, base + "/mq", client_id="dev-1")
        assert list(again.load_subscriptions()) == ["cmd/dev-1"]
        assert "session.log" in os.listdir(base + "/mq")
    finally:
        if MICROPYTHON:
            _umount(vfs, base)
        else:
            import shutil

            shutil.rmtree(base)


def _formatted(vfs):
    bdev = RAMBlockDev()
    vfs.VfsLfs2.mkfs(bdev)
    return bdev


# -- Wi-Fi with a fake network module --------------------------------------------------


class FakeWLAN:
    def __init__(self, net):
        self.net = net
        self.is_active = False
        self.connected = False
        self.polls = 0

    def active(self, value=None):
        if value is not None:
            self.is_active = value
        return self.is_active

    def connect(self, ssid, password):
        assert self.is_active
        net = self.net
        net.connects.append((ssid, password))
        if len(net.connects) in net.raise_on:
            raise OSError("Wifi Internal Error")
        self.polls = 0
        self.connected = False

    def isconnected(self):
        net = self.net
        self.polls += 1
        # The link comes up on the second poll of a good attempt.
        if net.succeed_on is not None and len(net.connects) >= net.succeed_on and self.polls >= 2:
            self.connected = True
        return self.connected

    def disconnect(self):
        self.net.disconnects += 1
        self.connected = False

    def status(self):
        return self.net.STAT_NO_AP_FOUND


class FakeNetwork:
    STA_IF = 0
    AP_IF = 1
    STAT_IDLE = 1000
    STAT_NO_AP_FOUND = 201

    def __init__(self, succeed_on=None, raise_on=()):
        self.succeed_on = succeed_on  # connect attempt (1-based) that works
        self.raise_on = raise_on
        self.connects = []
        self.disconnects = 0
        self.wlans = []

    def WLAN(self, interface):
        assert interface == self.STA_IF
        w = FakeWLAN(self)
        self.wlans.append(w)
        return w


_FAST = {"timeout_ms": 10, "backoff_ms": 1, "max_backoff_ms": 2, "poll_ms": 1}


def test_wifi_connects_after_failed_attempts():
    net = FakeNetwork(succeed_on=3)
    wlan = run(connect_wifi("ssid-x", "pw", retries=5, network=net, **_FAST))
    assert wlan.isconnected() and wlan.active()
    assert net.connects == [("ssid-x", "pw")] * 3
    assert net.disconnects == 2  # each failed attempt is cleaned up


def test_wifi_gives_up_after_the_retries_with_a_clear_error():
    net = FakeNetwork(succeed_on=None)
    e = raises(OSError, run, connect_wifi("ssid-x", "pw", retries=2, network=net, **_FAST))
    assert len(net.connects) == 3  # the first attempt and two retries
    text = str(e)
    assert "ssid-x" in text and "3 attempts" in text and "STAT_NO_AP_FOUND" in text, text


def test_wifi_counts_an_error_from_connect_as_a_failed_attempt():
    net = FakeNetwork(succeed_on=2, raise_on=(1,))
    wlan = run(connect_wifi("ssid-x", "pw", retries=1, network=net, **_FAST))
    assert wlan.isconnected() and len(net.connects) == 2
    net = FakeNetwork(succeed_on=None, raise_on=(1,))
    e = raises(OSError, run, connect_wifi("ssid-x", "pw", retries=0, network=net, **_FAST))
    assert "Wifi Internal Error" in str(e) and len(net.connects) == 1, e


def test_wifi_already_connected_returns_at_once():
    net = FakeNetwork(succeed_on=1)
    wlan = net.WLAN(net.STA_IF)
    wlan.connected = True
    net.WLAN = lambda interface: wlan
    assert run(connect_wifi("ssid-x", "pw", network=net, **_FAST)) is wlan
    assert net.connects == []


# -- the deep-sleep wake cycle against Mosquitto --------------------------------------


class _Disk:
    """The device's flash across reboots: littlefs on a RAM device (MicroPython) or
    a temporary directory (CPython)."""

    def __init__(self):
        if MICROPYTHON:
            self.bdev = RAMBlockDev(block_size=512, num_blocks=128)
            self.mount_point = "/mq_test_wake"
        else:
            import tempfile

            self.bdev = None
            self.mount_point = tempfile.mkdtemp() + "/mq"

    def boot(self, client_id):
        """A fresh store object over the same flash, as after a reset."""
        return mount_store(self.bdev, self.mount_point, client_id=client_id)

    def power_off(self):
        if MICROPYTHON:
            _umount(_vfs(), self.mount_point)

    def erase(self):
        self.power_off()
        if not MICROPYTHON:
            import shutil

            shutil.rmtree(self.mount_point.rsplit("/", 1)[0])


def test_wake_cycle_persistent_session():
    async def main():
        b = await control("broker")
        url = b["url"]
        cid = "ports-sensor-" + sys.implementation.name
        readings = "sensors/%s/temp" % cid
        cmd = "cmd/" + cid
        sub = await control("paho_subscribe", url=url, topic=readings, qos=1)
        disk = _Disk()
        seen = []
        try:
            # Wake 1: no session yet; publish, subscribe to commands, sleep.
            got = await wake_cycle(url, cid, disk.boot(cid), lambda: b"21.5", readings,
                                   on_message=lambda c, m: seen.append(m.payload))
            assert got == [], got
            disk.power_off()
            # Asleep: a command is queued for the persistent session.
            await control("paho_publish", url=url, topic=cmd, payload=hexlify(b"led=on"), qos=1)

            async def reading():
                return "22.0"

            # Wake 2: a new client and a new store over the same flash.
            got = await wake_cycle(url, cid, disk.boot(cid), reading, readings,
                                   on_message=lambda c, m: seen.append(m.payload), quiet_ms=100)
            assert [(m.topic, bytes(m.payload), m.qos) for m in got] == [(cmd, b"led=on", 1)], got
            assert seen == [b"led=on"], seen
            msgs = await control("paho_messages", id=sub, count=2, timeout=TIMEOUT)
            assert [unhexlify(m["payload"]) for m in msgs] == [b"21.5", b"22.0"], msgs
            # The command was acknowledged: the next wake gets nothing again.
            disk.power_off()
            got = await wake_cycle(url, cid, disk.boot(cid), lambda: b"22.5", readings, quiet_ms=50)
            assert got == [], got
        finally:
            disk.erase()

    run(main())
