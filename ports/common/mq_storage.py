"""A littlefs filesystem on a dedicated block device (an ``esp32.Partition``, an
``rp2.Flash`` region, a RAM disk in tests) holding an ``mq.FlashStore``.

    store = mount_store(bdev, "/mq", client_id="sensor-1")

The block device must offer the extended interface that littlefs needs
(``readblocks(n, buf, offset)``, ``writeblocks(n, buf, offset)``, ``ioctl`` 4/5/6):
``esp32.Partition`` and ``rp2.Flash`` do.
"""

import os

import mq

# Errors of VfsLfs2(bdev) that mean "no littlefs here" (a blank or foreign device):
# littlefs finds no valid superblock (LFS_ERR_CORRUPT, -84), or the automatic
# detection of ``vfs.mount(bdev, ...)`` finds no known filesystem (ENODEV).
_NO_FILESYSTEM = (84, 19)
_EPERM = 1  # vfs.mount: something is already mounted there
_EEXIST = 17


def _vfs():
    try:
        import vfs  # MicroPython >= 1.23
    except ImportError:
        vfs = os  # older MicroPython kept the VFS functions in os
    if not hasattr(vfs, "VfsLfs2"):
        raise OSError("this firmware has no littlefs (vfs.VfsLfs2)")
    return vfs


def _mounted(vfs, mount_point):
    """True or False; None when the firmware cannot list its mounts (before 1.24)."""
    try:
        mounts = vfs.mount()
    except TypeError:
        return None
    return any(m[1] == mount_point for m in mounts)


def mount_fs(bdev, mount_point="/mq", **lfs_options):
    """Mount ``vfs.VfsLfs2(bdev)`` at mount_point; returns True if it had to format.

    It formats only when the device holds no littlefs (blank, or something else);
    any other error (an I/O error, bad options) is raised and nothing is written.
    Already mounted at mount_point: nothing is done (a second call, a soft reset).
    ``lfs_options`` go to VfsLfs2 and its mkfs (``progsize=256`` on rp2)."""
    vfs = _vfs()
    if _mounted(vfs, mount_point):
        return False
    formatted = False
    try:
        fs = vfs.VfsLfs2(bdev, **lfs_options)
    except OSError as e:
        if e.errno not in _NO_FILESYSTEM:
            raise
        vfs.VfsLfs2.mkfs(bdev, **lfs_options)
        fs = vfs.VfsLfs2(bdev, **lfs_options)
        formatted = True
    try:
        vfs.mount(fs, mount_point)
    except OSError as e:
        # Before 1.24 a mount point in use shows only here.
        if e.errno != _EPERM or formatted:
            raise
    return formatted


def mount_store(bdev, mount_point="/mq", client_id="", log_name="session.log", compact_at=None, **lfs_options):
    """Mount bdev at mount_point (see ``mount_fs``) and return an ``mq.FlashStore``
    for client_id on the log file ``mount_point/log_name``.

    With ``bdev=None`` nothing is mounted: the log goes in the directory mount_point
    of the filesystem already there (created if missing) -- the board's own littlefs
    when no partition is reserved, or any directory on CPython.

    A log that belongs to another client id makes FlashStore raise ValueError:
    change ``log_name`` (or erase the log) when the client id changes."""
    if not client_id:
        raise ValueError("a persistent session needs a client_id")
    if bdev is None:
        try:
            os.mkdir(mount_point)
        except OSError as e:
            if e.errno != _EEXIST:
                raise
    else:
        mount_fs(bdev, mount_point, **lfs_options)
    path = mount_point.rstrip("/") + "/" + log_name
    if compact_at is None:
        return mq.FlashStore(path, client_id)
    return mq.FlashStore(path, client_id, compact_at=compact_at)
