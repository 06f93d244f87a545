"""Ways to place a cache object in the work tree: reflink, copy, hardlink, symlink."""

from __future__ import annotations

import os
from typing import BinaryIO

_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_reflink_ok: dict[int, bool] = {}

STRATEGIES = ("auto", "reflink", "copy", "hardlink", "symlink")


def try_reflink(src: str, dest: str) -> bool:
    with open(src, "rb") as s:
        return try_reflink_fd(s, dest)


def try_reflink_fd(s: BinaryIO, dest: str) -> bool:
    """Clone open file `s` to a new file `dest` sharing its blocks; False where the filesystem cannot.

    The answer is remembered per device so a filesystem without reflink costs one failed ioctl.
    """
    try:
        dev = os.stat(os.path.dirname(dest) or ".").st_dev
    except OSError:
        return False
    if _reflink_ok.get(dev) is False:
        return False
    try:
        import fcntl
    except ImportError:  # not POSIX
        _reflink_ok[dev] = False
        return False
    with open(dest, "wb") as d:
        try:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        except OSError:
            _reflink_ok[dev] = False
            ok = False
        else:
            _reflink_ok[dev] = True
            ok = True
    if not ok:
        os.unlink(dest)
    return ok
