"""Work-tree file access that never follows a symlink the repository planted (invariant 7).

Every path gitfiler reads, hashes, replaces or removes in the work tree goes through
here. A path is resolved component by component below the root: each directory on
the way must be a real directory (`lstat`, not a link), and the last component is
opened with `O_NOFOLLOW`. The check runs before any decision is taken on the path,
so a committed `evil -> /elsewhere` can never redirect a write or a removal.

The root itself may sit below links of the user's own (`/home -> /data/home`); only
what lies below it is the repository's to plant.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from collections.abc import Callable
from typing import BinaryIO

from .errors import UnsafePathError
from .fsutil import publish, temp_name_beside, write_new

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class TreeFS:
    """Checked access to files below `root`, addressed by repo-relative POSIX paths."""

    def __init__(self, root: str, temp_for: Callable[[str], str] | None = None, *, label: str = "the work tree") -> None:
        self.root = root
        self.label = label  # how messages name the tree: the work tree, or a destination the user gave
        # Gives a temp path that renames atomically onto the absolute path it is given.
        self.temp_for = temp_for or temp_name_beside
        # Directories (repo-relative) already found to be real directories in this process.
        self._real_dirs: set[str] = {""}

    def abspath(self, rel: str) -> str:
        return self.root + "/" + rel if rel else self.root

    def forget(self, rel_dir: str) -> None:
        """Drop what is known about `rel_dir` and below (after removing directories)."""
        self._real_dirs = {d for d in self._real_dirs if d != rel_dir and not d.startswith(rel_dir + "/")} | {""}

    def check_parents(self, rel: str, *, create: bool = False) -> None:
        """Raise UnsafePathError unless every directory above `rel` is a real directory or absent.

        With `create`, absent directories are made (one component at a time, so a link
        appearing on the way is still refused)."""
        parent = rel.rpartition("/")[0]
        if parent in self._real_dirs:
            return
        parts = parent.split("/")
        cur = ""
        for part in parts:
            cur = f"{cur}/{part}" if cur else part
            if cur in self._real_dirs:
                continue
            path = self.abspath(cur)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not create:
                    return  # nothing there: nothing to follow, and nothing below it either
                try:
                    os.mkdir(path)
                except FileExistsError:
                    st = os.lstat(path)
                else:
                    self._real_dirs.add(cur)
                    continue
            except NotADirectoryError:
                raise self._refuse(rel, cur, "is not a directory") from None
            if statmod.S_ISLNK(st.st_mode):
                raise self._refuse(rel, cur, "is a symlink")
            if not statmod.S_ISDIR(st.st_mode):
                if create:
                    raise UnsafePathError(
                        f"{rel}: {cur} is a file where a directory is needed; move it away and retry"
                    )
                return  # a file on the way: the path cannot exist, nothing to follow
            self._real_dirs.add(cur)

    def _refuse(self, rel: str, where: str, what: str) -> UnsafePathError:
        return UnsafePathError(
            f"{rel}: {where} {what} in {self.label}; refusing to follow it (gitfiler never reads or writes through a link "
            "below the directory it writes to). Replace it with a real directory or remove it"
        )

    def lstat(self, rel: str) -> os.stat_result | None:
        """lstat of `rel` with its parents checked; None when it does not exist."""
        self.check_parents(rel)
        try:
            return os.lstat(self.abspath(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def open_read(self, rel: str) -> BinaryIO:
        """Open a regular file for reading; a link or a special file (FIFO, device) is refused."""
        self.check_parents(rel)
        try:
            fd = os.open(self.abspath(rel), os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise UnsafePathError(f"{rel} is a symlink; gitfiler reads regular files only, never through a link") from None
            raise
        try:
            st = os.fstat(fd)
            if not statmod.S_ISREG(st.st_mode):
                raise UnsafePathError(f"{rel} is not a regular file; refusing to read it")
            if O_NONBLOCK:
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def read_capped(self, rel: str, cap: int, what: str) -> bytes | None:
        """Whole contents of a small regular file, or None if absent; larger than `cap` is refused."""
        try:
            f = self.open_read(rel)
        except (FileNotFoundError, NotADirectoryError):
            return None
        with f:
            data = f.read(cap + 1)
        if len(data) > cap:
            raise UnsafePathError(f"{rel}: {what} is larger than {cap} bytes; refusing to read it")
        return data

    def makedirs(self, rel_dir: str) -> None:
        """Create `rel_dir` and its parents as real directories; a link on the way is refused."""
        if rel_dir:
            self.check_parents(rel_dir + "/x", create=True)

    def unlink(self, rel: str) -> bool:
        """Remove a file or link (never what a link points to); False if it was not there."""
        self.check_parents(rel)
        try:
            os.unlink(self.abspath(rel))
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False

    def rmdir_empty(self, rel_dir: str) -> None:
        """Remove `rel_dir` and the directories below it that are empty; links are left alone."""
        top = self.lstat(rel_dir)
        if top is None or not statmod.S_ISDIR(top.st_mode):
            return
        for dirpath, _dirs, _files in os.walk(self.abspath(rel_dir), topdown=False):
            # os.walk does not descend into links to directories; they appear in `_dirs` and are skipped here.
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
        self.forget(rel_dir)

    def publish(self, rel: str, fill: Callable[[str], None]) -> None:
        """Create `rel` whole or not at all: `fill` writes a temp from `temp_for`, which is
        renamed over `rel` once the directories on the way are checked again."""
        self.makedirs(rel.rpartition("/")[0])
        target = self.abspath(rel)
        publish(target, fill, tmp=self.temp_for(target), before_rename=lambda: self.check_parents(rel))

    def write_atomic(self, rel: str, data: bytes, mode: int = 0o644) -> None:
        """Replace the small file `rel` with `data` (temp, then rename). A link in its place is
        refused, not written through and not replaced: it may lead anywhere, and what it holds
        would end up staged in the user's next commit."""
        self.check_parents(rel, create=True)
        st = self.lstat(rel)
        if st is not None and statmod.S_ISLNK(st.st_mode):
            raise UnsafePathError(f"{rel} is a symlink; gitfiler never writes through a link in {self.label} (replace it with a regular file)")
        if st is not None and not statmod.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{rel} is not a regular file; move it away and retry")
        self.publish(rel, write_new(data, mode))
