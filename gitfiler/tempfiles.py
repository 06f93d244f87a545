"""Where unfinished writes live until they are renamed into place (invariant 2).

Each process writes its temp files in a directory of its own, `<base>/<pid>-<random>/`,
holding an exclusive `flock` on a lock file inside it for as long as it lives. A
`kill -9` leaves that directory behind with its lock released, so the next gitfiler
process that needs a temp file in the same place sweeps it away; live writers are never
touched. For the work tree, `<base>` is under the git dir, where `git status` never
looks and `git add -A` never picks anything up.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import threading
import time

# Loose files, and directories still being set up (`.new-*`), are swept once this old.
STALE_AFTER_S = 60.0
_LOCK = ".lock"
_NASCENT = ".new-"


class TempArea:
    def __init__(self, base: str) -> None:
        self.base = base
        self._dir: str | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()

    def _own_dir(self) -> str:
        with self._mutex:
            if self._dir is None:
                os.makedirs(self.base, exist_ok=True)
                self.sweep()
                # Locked before it gets its final name, so a sweeper never sees it unlocked.
                name = f"{os.getpid()}-{os.urandom(4).hex()}"
                nascent = os.path.join(self.base, _NASCENT + name)
                os.mkdir(nascent)
                fd = os.open(os.path.join(nascent, _LOCK), os.O_WRONLY | os.O_CREAT, 0o600)
                _flock(fd, blocking=True)
                path = os.path.join(self.base, name)
                os.rename(nascent, path)
                self._dir, self._lock_fd = path, fd
                atexit.register(self.close)
            return self._dir

    def name(self) -> str:
        """A fresh path for a temp file (not created)."""
        return os.path.join(self._own_dir(), os.urandom(8).hex())

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            if self._lock_fd is not None:
                os.close(self._lock_fd)
            self._dir = self._lock_fd = None

    def sweep(self) -> int:
        """Remove the temp directories of processes that are gone; returns how many."""
        removed = 0
        try:
            names = os.listdir(self.base)
        except FileNotFoundError:
            return 0
        now = time.time()
        for name in names:
            path = os.path.join(self.base, name)
            if path == self._dir:
                continue
            try:
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode) and not name.startswith(_NASCENT):
                    if not _is_unlocked(path):
                        continue
                    shutil.rmtree(path, ignore_errors=True)
                elif now - st.st_mtime > STALE_AFTER_S:
                    if stat.S_ISDIR(st.st_mode):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                else:
                    continue
                removed += 1
            except OSError:
                continue
        return removed


def _flock(fd: int, *, blocking: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no sweeping of other processes' files
        return not blocking
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False


def _is_unlocked(path: str) -> bool:
    try:
        fd = os.open(os.path.join(path, _LOCK), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        return _flock(fd, blocking=False)
    finally:
        os.close(fd)  # closing releases the probe's lock at once


_areas: dict[str, TempArea] = {}
_areas_mutex = threading.Lock()


def area(base: str) -> TempArea:
    """The one TempArea of this process for `base`."""
    with _areas_mutex:
        found = _areas.get(base)
        if found is None:
            found = _areas[base] = TempArea(base)
        return found
