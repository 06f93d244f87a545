"""Small filesystem helpers shared by the layers that write user-visible files."""

from __future__ import annotations

import errno
import os

from .objects import disk_full, temp_name_beside


def atomic_write_bytes(target: str, data: bytes, mode: int = 0o644) -> None:
    """Write beside `target` then rename over it: a crash leaves old or new, never half.
    For gitfiler's own files (under the git dir); work-tree files go through `TreeFS.write_atomic`."""
    write_then_rename(temp_name_beside(target), target, data, mode)


def write_then_rename(tmp: str, target: str, data: bytes, mode: int = 0o644) -> None:
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(os.path.dirname(target) or ".") from err
        raise
