"""Filesystem primitives below every store and tree: the one temp-then-rename, and the
one reading of "the disk is full". Imports nothing of gitfiler's but its errors."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from .errors import DiskFullError

TEMP_PREFIX = ".tmp-"
# Out of space, over quota, or over the largest file the filesystem (or a ulimit) allows.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_disk_full(err: OSError) -> bool:
    return err.errno in _DISK_FULL


def disk_full(where: str) -> DiskFullError:
    return DiskFullError(
        f"no space left on the device holding {where}; free some space (or move the cache with GITFILER_CACHE_DIR) and retry"
    )


def temp_name_beside(target: str) -> str:
    return os.path.join(os.path.dirname(target), f"{TEMP_PREFIX}{os.urandom(8).hex()}")


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def publish(
    target: str, fill: Callable[[str], None], *, tmp: str | None = None, before_rename: Callable[[], None] | None = None, replace: bool = True,
) -> None:
    """Create `target` whole or not at all: `fill` writes the fresh path `tmp` (by default
    beside the target), which is then renamed over `target`. A crash leaves the old file or
    the new one, never half; the temp never outlives a failure. `before_rename` re-checks
    the destination right before the rename (the work tree's link check). With
    `replace=False` an existing `target` is kept and FileExistsError raised: the temp is
    hard-linked to the name, which, unlike a rename, refuses to replace it, atomically."""
    tmp = tmp or temp_name_beside(target)
    try:
        fill(tmp)
        if before_rename is not None:
            before_rename()
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            finally:
                unlink_quietly(tmp)
    except BaseException as err:
        unlink_quietly(tmp)
        if isinstance(err, OSError) and is_disk_full(err):
            raise disk_full(os.path.dirname(target) or ".") from err
        raise


class NotPlainFile(Exception):
    """A link, directory, device or pipe where a plain file was to be read; `why` says which."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path} {why}")
        self.path = path
        self.why = why


def read_plain(path: str, limit: int) -> bytes | None:
    """Up to `limit` bytes of a plain file, or None when absent. Never through a link, never a
    device or a pipe (which could stream forever or block): NotPlainFile for those."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotPlainFile(path, "is a symlink") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotPlainFile(path, "is not a plain file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    finally:
        os.close(fd)


def fsync_path(path: str) -> None:
    """Flush a file's bytes, or a directory's names, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: str) -> None:
    """Flush the filesystem holding `path` (Linux syncfs), not every filesystem of the host; os.sync elsewhere."""
    try:
        import ctypes

        fd = os.open(path, os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def write_new(data: bytes, mode: int = 0o644) -> Callable[[str], None]:
    """A `fill` for `publish` that writes `data` to a path that must not exist yet."""

    def fill(path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    return fill


def atomic_write_bytes(target: str, data: bytes, mode: int = 0o644) -> None:
    """For gitfiler's own files (under the git dir); work-tree files go through `TreeFS.write_atomic`."""
    publish(target, write_new(data, mode))
