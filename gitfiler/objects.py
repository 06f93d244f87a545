"""Content-addressed object storage on a local filesystem.

One class serves the cache and the local-directory remote alike. Every write
streams through SHA-256 into a temporary name beside the target, is checked
against the expected digest, made read-only and renamed into place
(invariants 1 and 2).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from .errors import DiskFullError, FilerError, IntegrityError, ObjectMissingError

CHUNK = 4 * 1024 * 1024
# Above this size a file is copied by the kernel and then hashed; below it, one streamed pass is cheaper.
BIG_FILE = 16 * 1024 * 1024
OID_PREFIX = "sha256:"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"

Progress = Callable[[int], None]


def is_oid(value: object) -> bool:
    return isinstance(value, str) and value.startswith(OID_PREFIX) and bool(_HEX64.match(value[len(OID_PREFIX):]))


def oid_hex(oid: str) -> str:
    if not is_oid(oid):
        raise FilerError(f"{oid!r} is not an object id; expected 'sha256:' followed by 64 lowercase hex digits")
    return oid[len(OID_PREFIX):]


def relpath_of(oid: str) -> str:
    """The object's path below a store root; the same in the cache and in every remote."""
    h = oid_hex(oid)
    return f"objects/sha256/{h[:2]}/{h[2:]}"


def oid_of_relpath(rel: str) -> str | None:
    """Strict inverse of `relpath_of`; None for anything that is not an object (temp files, junk)."""
    parts = rel.split("/")
    if len(parts) != 4 or parts[0] != "objects" or parts[1] != "sha256":
        return None
    h = parts[2] + parts[3]
    if len(parts[2]) != 2 or not _HEX64.match(h):
        return None
    return OID_PREFIX + h


def digest_bytes(data: bytes) -> str:
    return OID_PREFIX + hashlib.sha256(data).hexdigest()


def _buffer_for(f: BinaryIO) -> bytearray:
    """A read buffer no larger than the file: zero-filling 4 MiB per small file is the
    dominant cost when placing thousands of them."""
    try:
        size = os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return bytearray(CHUNK)
    return bytearray(min(CHUNK, max(size + 1, 64 * 1024)))


def hash_file(path: str, progress: Progress | None = None) -> tuple[str, int]:
    """Stream a file through SHA-256; returns (oid, size)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        buf = _buffer_for(f)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            size += n
            if progress:
                progress(n)
    return OID_PREFIX + h.hexdigest(), size


def _is_disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full(where: str) -> DiskFullError:
    return DiskFullError(
        f"no space left on the device holding {where}; free some space (or move the cache with GITFILER_CACHE_DIR) and retry"
    )


def temp_name_beside(target: str) -> str:
    return os.path.join(os.path.dirname(target), f"{TEMP_PREFIX}{os.urandom(8).hex()}")


def copy_stream(src: BinaryIO, dst: BinaryIO, progress: Progress | None = None, hasher: "hashlib._Hash | None" = None) -> int:
    """Copy src to dst in fixed-size chunks, feeding `hasher`; memory stays flat."""
    buf = _buffer_for(src)
    view = memoryview(buf)
    total = 0
    while True:
        n = src.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            break
        if hasher is not None:
            hasher.update(view[:n])
        dst.write(view[:n])
        total += n
        if progress:
            progress(n)
    return total


@dataclass(frozen=True)
class WriteResult:
    oid: str
    size: int
    created: bool


class ObjectStore:
    """Objects at `<root>/objects/sha256/<2 hex>/<62 hex>`, read-only once written."""

    def __init__(self, root: str) -> None:
        self.root = root
        # Objects this process verified (written or re-hashed); a fresh copy out
        # of the store need not be hashed a second time.
        self.verified: set[str] = set()
        self._made: set[str] = set()  # shard directories known to exist: one mkdir each, not one per object

    def _ensure_dir(self, directory: str) -> None:
        if directory not in self._made:
            os.makedirs(directory, exist_ok=True)
            self._made.add(directory)

    def path(self, oid: str) -> str:
        return os.path.join(self.root, relpath_of(oid))

    def has(self, oid: str) -> bool:
        return os.path.exists(self.path(oid))

    def size(self, oid: str) -> int:
        return os.stat(self.path(oid)).st_size

    # -- writing -------------------------------------------------------------

    def write_with(self, expected: str | None, fill: Callable[[str], tuple[str, int]]) -> WriteResult:
        """Have `fill` write a temp file beside the target and return (oid, size) of what it
        wrote; store it under that oid, or nothing at all if it is not `expected`.
        Every way of writing an object (streams, file copies, ranged downloads) goes through here."""
        tmp_dir = os.path.dirname(self.path(expected)) if expected else os.path.join(self.root, "objects", "sha256", "tmp")
        self._ensure_dir(tmp_dir)
        tmp = temp_name_beside(os.path.join(tmp_dir, "x"))
        try:
            oid, size = fill(tmp)
        except OSError as err:
            _unlink_quietly(tmp)
            if _is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        except BaseException:
            _unlink_quietly(tmp)
            raise
        if expected and oid != expected:
            _unlink_quietly(tmp)
            raise IntegrityError(f"bytes received for {expected} hash to {oid}; refusing to store them", oid=expected)
        return self._commit(tmp, oid, size)

    def write_stream(self, src: BinaryIO, expected: str | None = None, progress: Progress | None = None) -> WriteResult:
        """Stream `src` into the store, hashing on the way. With `expected`, a mismatch raises and stores nothing."""

        def fill(tmp: str) -> tuple[str, int]:
            h = hashlib.sha256()
            with open(tmp, "wb") as out:
                size = copy_stream(src, out, progress, h)
            return OID_PREFIX + h.hexdigest(), size

        return self.write_with(expected, fill)

    def write_file(self, src_path: str, expected: str | None = None, progress: Progress | None = None) -> WriteResult:
        """Copy a file in. A large one is copied by the kernel (or reflinked) beside the target and
        the copy itself is then hashed from the page cache: the stored bytes are exactly the
        hashed ones, at the cost of `cp` + `sha256sum`."""
        if os.path.getsize(src_path) < BIG_FILE:
            with open(src_path, "rb") as src:
                return self.write_stream(src, expected, progress)

        def fill(tmp: str) -> tuple[str, int]:
            from .links import try_reflink

            if not try_reflink(src_path, tmp):
                _copy_plain(src_path, tmp)
            return hash_file(tmp, progress)

        return self.write_with(expected, fill)

    def write_bytes(self, data: bytes) -> WriteResult:
        import io

        return self.write_stream(io.BytesIO(data))

    def _commit(self, tmp: str, oid: str, size: int) -> WriteResult:
        target = self.path(oid)
        try:
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            if os.path.exists(target):
                os.unlink(tmp)
                created = False
            else:
                self._ensure_dir(os.path.dirname(target))
                os.replace(tmp, target)
                created = True
        except OSError as err:
            _unlink_quietly(tmp)
            if _is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        self.verified.add(oid)
        return WriteResult(oid, size, created)

    # -- reading -------------------------------------------------------------

    def open(self, oid: str) -> BinaryIO:
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            raise ObjectMissingError(f"object {oid} is not in {self.root}") from None

    def read_verified(self, oid: str) -> bytes:
        """Whole object in memory, checked; only for small objects such as manifests."""
        with self.open(oid) as f:
            data = f.read()
        if digest_bytes(data) != oid:
            raise self.corrupt(oid)
        self.verified.add(oid)
        return data

    def corrupt(self, oid: str) -> IntegrityError:
        """The error for a stored object whose bytes do not hash to its name."""
        path = self.path(oid)
        return IntegrityError(f"corrupt object {path}: content does not hash to {oid}; run 'git filer fsck' and pull again", oid=oid, path=path)

    def check(self, oid: str) -> None:
        """Raise unless the object's bytes hash to `oid` (free if this process already checked it)."""
        if oid not in self.verified and not self.verify(oid):
            raise self.corrupt(oid)

    def verify(self, oid: str, progress: Progress | None = None) -> bool:
        try:
            actual, _ = hash_file(self.path(oid), progress)
        except FileNotFoundError:
            raise ObjectMissingError(f"object {oid} is not in {self.root}") from None
        ok = actual == oid
        if ok:
            self.verified.add(oid)
        return ok

    def copy_out(self, oid: str, dest: str, progress: Progress | None = None) -> None:
        """Copy an object to `dest` (a temp path the caller renames), verifying unless already verified."""
        src_path = self.path(oid)
        try:
            if oid in self.verified:
                _copy_plain(src_path, dest)
                if progress:
                    progress(os.path.getsize(dest))
                return
            h = hashlib.sha256()
            with open(src_path, "rb") as src, open(dest, "wb") as out:
                copy_stream(src, out, progress, h)
        except FileNotFoundError:
            raise ObjectMissingError(f"object {oid} is not in {self.root}") from None
        except OSError as err:
            if _is_disk_full(err):
                raise disk_full(os.path.dirname(dest)) from err
            raise
        if OID_PREFIX + h.hexdigest() != oid:
            _unlink_quietly(dest)
            raise self.corrupt(oid)
        self.verified.add(oid)

    def iter_oids(self) -> Iterator[str]:
        base = os.path.join(self.root, "objects", "sha256")
        try:
            shards = os.scandir(base)
        except FileNotFoundError:
            return
        with shards:
            for shard in shards:
                if len(shard.name) != 2 or not shard.is_dir():
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        oid = oid_of_relpath(f"objects/sha256/{shard.name}/{entry.name}")
                        if oid:
                            yield oid

    def remove(self, oid: str) -> bool:
        try:
            os.unlink(self.path(oid))
            self.verified.discard(oid)
            return True
        except FileNotFoundError:
            return False

    def clean_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete temp files left by killed writers; only old ones, so live writers are safe."""
        import time

        cutoff = time.time() - older_than_s
        removed = 0
        base = os.path.join(self.root, "objects", "sha256")
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    p = os.path.join(dirpath, name)
                    try:
                        if os.lstat(p).st_mtime < cutoff:
                            os.unlink(p)
                            removed += 1
                    except FileNotFoundError:
                        pass
        return removed


def _copy_plain(src: str, dest: str) -> None:
    """A kernel-side copy (sendfile): no Python buffers, none of shutil's extra stats."""
    with open(src, "rb") as s, open(dest, "wb") as d:
        size = os.fstat(s.fileno()).st_size
        offset = 0
        while offset < size:
            sent = os.sendfile(d.fileno(), s.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
