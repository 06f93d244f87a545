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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TypeGuard

from . import chunks as _chunks
from .errors import FilerError, IntegrityError, ObjectMissingError, OversizeError, UnsafePathError
from .fsutil import TEMP_PREFIX, NotPlainFile, disk_full, fsync_path, is_disk_full, read_plain, sync_filesystem, unlink_quietly

CHUNK = 4 * 1024 * 1024
# Above this size a file is copied by the kernel and then hashed; below it, one streamed pass is cheaper.
BIG_FILE = 16 * 1024 * 1024
OID_PREFIX = "sha256:"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A durable store's batch of at most this many new objects is flushed by one fsync each; a
# larger one by one syncfs of the store's filesystem (2,000 fsyncs of 4 KiB objects took 0.6 s
# here; one syncfs a few ms).
FSYNC_EACH_UP_TO = 8
# ...unless they are large (chunks of a large file): syncfs also writes out every other dirty
# page on the filesystem (the work tree copy of the very file being pushed), while an fsync each
# costs about the data itself.
SYNCFS_BELOW_MEAN = 256 * 1024
# A directory manifest's size is not declared anywhere before it is fetched; this caps it
# (about a million entries), so a hostile remote cannot stream without bound.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

Progress = Callable[[int], None]


def is_oid(value: object) -> TypeGuard[str]:
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
    with open(path, "rb") as f:
        return hash_stream(f, progress)


def hash_stream(f: BinaryIO, progress: Progress | None = None) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    buf = _buffer_for(f)
    view = memoryview(buf)
    while True:
        n = f.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            break
        h.update(view[:n])
        size += n
        if progress:
            progress(n)
    return OID_PREFIX + h.hexdigest(), size


class TooLarge(Exception):
    """A source delivered more bytes than its declared size."""


def copy_stream(
    src: BinaryIO, dst: BinaryIO, progress: Progress | None = None, hasher: hashlib._Hash | None = None, limit: int | None = None,
) -> int:
    """Copy src to dst in fixed-size chunks, feeding `hasher`; memory stays flat.
    With `limit`, raises TooLarge as soon as more than `limit` bytes arrive."""
    buf = _buffer_for(src)
    view = memoryview(buf)
    total = 0
    while True:
        n = src.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            break
        if limit is not None and total + n > limit:
            raise TooLarge(total + n)
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

    def __init__(self, root: str, *, durable: bool = False, index_chunks: bool = True) -> None:
        self.root = root
        # A cache records the chunk index of a large file once it has one anyway (a push that
        # sent it as chunks, a pull that rebuilt it from chunks), so later pushes send only the
        # chunks a remote lacks and later pulls rebuild new versions from old ones. It never
        # chunks a file just to store it: add and whole-object pulls cost what they did without
        # chunking (bench/bench_chunks.py, "new"). A local-directory remote records none: there
        # an index means "held as chunks".
        self.index_chunks = index_chunks
        # A store that may hold the only copy (a local-directory remote, often a NAS) makes an
        # object durable before it becomes visible, and the directories that name them before a
        # batch ends. Its new objects wait under temp names until `flush`, which syncs them all
        # at once and only then renames them into place: one syncfs instead of an fsync each.
        self.durable = durable
        self._dirty_dirs: set[str] = set()
        self._pending: list[tuple[str, str]] = []  # (temp path, target) awaiting `flush`
        import threading

        self._pending_lock = threading.Lock()
        # Objects this process verified (written or re-hashed); a fresh copy out
        # of the store need not be hashed a second time.
        self.verified: set[str] = set()
        self._made: set[str] = set()  # shard directories known to exist: one mkdir each, not one per object
        self._real: set[str] = set()  # directories checked not to be links (see _check_real)

    def _ensure_dir(self, directory: str) -> None:
        if directory not in self._made:
            if self.durable and not os.path.isdir(directory):
                self._dirty_dirs.add(os.path.dirname(directory))
            os.makedirs(directory, exist_ok=True)
            self._check_real(directory)
            self._made.add(directory)

    def _check_real(self, directory: str) -> None:
        """Every directory from the root down to `directory` must be a real one: a link in a
        store (a tampered shared remote) would send reads and writes elsewhere. The root
        itself is the user's choice and may be a link."""
        if directory in self._real:
            return
        rel = os.path.relpath(directory, self.root)
        cur = self.root
        for part in rel.split(os.sep):
            cur = os.path.join(cur, part)
            if cur in self._real:
                continue
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                return
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(
                    f"{cur} in the store {self.root} is a symlink or a file where a directory belongs; refusing to read or write through it"
                )
            self._real.add(cur)

    def temp(self) -> str:
        """A fresh temp path on this store's filesystem, where a killed writer's leftovers get swept."""
        from .tempfiles import area

        base = os.path.join(self.root, "tmp")
        self._check_real(base)
        return area(base).name()

    def flush(self) -> None:
        """Publish a durable store's new objects: their bytes reach the disk first, then they
        are renamed into place, then the directories naming them are synced. Until this runs
        they are invisible, so an interrupted batch leaves nothing half-written under an oid."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        try:
            if len(pending) > FSYNC_EACH_UP_TO and _mean_size(pending) < SYNCFS_BELOW_MEAN:
                sync_filesystem(self.root)
            elif len(pending) > FSYNC_EACH_UP_TO:
                # Concurrent fsyncs share journal commits: about half the time of one after another here.
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=8) as pool:
                    list(pool.map(fsync_path, [tmp for tmp, _target in pending]))
            else:
                for tmp, _target in pending:
                    fsync_path(tmp)
            for i, (tmp, target) in enumerate(pending):
                self._ensure_dir(os.path.dirname(target))
                os.replace(tmp, target)
                self._dirty_dirs.add(os.path.dirname(target))
                pending[i] = ("", target)
        except OSError as err:
            for tmp, _target in pending:
                if tmp:
                    unlink_quietly(tmp)
            if is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        dirs, self._dirty_dirs = self._dirty_dirs, set()
        for d in sorted(dirs, key=len, reverse=True):
            fsync_path(d)

    def path(self, oid: str) -> str:
        return os.path.join(self.root, relpath_of(oid))

    def has(self, oid: str, size: int | None = None) -> bool:
        """Whether the object is stored (as a regular file, never a link), with `size` bytes when given.

        A wrong size is a torn write (power loss before it was flushed) or tampering: such an
        object counts as absent, so it is fetched again rather than trusted."""
        try:
            st = os.lstat(self.path(oid))
        except (FileNotFoundError, NotADirectoryError):
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        return size is None or st.st_size == size

    def size(self, oid: str) -> int:
        return os.stat(self.path(oid)).st_size

    # -- writing -------------------------------------------------------------

    def write_with(
        self, expected: str | None, fill: Callable[[str], tuple[str, int]], index: _chunks.ChunkIndex | None = None,
    ) -> WriteResult:
        """Have `fill` write a temp file beside the target and return (oid, size) of what it
        wrote; store it under that oid, or nothing at all if it is not `expected`.
        Every way of writing an object (streams, file copies, ranged downloads) goes through here.
        `index`: the chunk index the file was rebuilt from, recorded with it when this store
        keeps indexes (it is checked by the whole-file digest, as the file is)."""
        result = self._write_with(expected, fill)
        if index is not None and self.index_chunks and index.oid == result.oid and _chunks.is_chunked_size(result.size):
            self.ensure_index(result.oid, index)
        return result

    def _write_with(self, expected: str | None, fill: Callable[[str], tuple[str, int]]) -> WriteResult:
        tmp = self.temp()
        try:
            oid, size = fill(tmp)
        except OSError as err:
            unlink_quietly(tmp)
            if is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        except BaseException:
            unlink_quietly(tmp)
            raise
        if expected and oid != expected:
            unlink_quietly(tmp)
            raise IntegrityError(f"bytes received for {expected} hash to {oid}; refusing to store them", oid=expected)
        return self._commit(tmp, oid, size)

    def write_stream(
        self, src: BinaryIO, expected: str | None = None, progress: Progress | None = None, limit: int | None = None,
    ) -> WriteResult:
        """Stream `src` into the store, hashing on the way. With `expected`, a mismatch raises and stores nothing.
        With `limit` (the declared size), more bytes than that is a corrupt object: IntegrityError, nothing stored."""

        def fill(tmp: str) -> tuple[str, int]:
            h = hashlib.sha256()
            with open(tmp, "wb") as out:
                try:
                    size = copy_stream(src, out, progress, h, limit)
                except TooLarge:
                    raise OversizeError(
                        f"object {expected or '(new)'} delivered more than its declared {limit} bytes; refusing it", oid=expected or ""
                    ) from None
            return OID_PREFIX + h.hexdigest(), size

        return self.write_with(expected, fill)

    def write_file(self, src_path: str, expected: str | None = None, progress: Progress | None = None) -> WriteResult:
        with open(src_path, "rb") as src:
            return self.write_open(src, expected, progress)

    def write_open(
        self, src: BinaryIO, expected: str | None = None, progress: Progress | None = None, limit: int | None = None,
    ) -> WriteResult:
        """Copy an open regular file in. A large one is copied by the kernel (or reflinked) and the
        copy itself is then hashed from the page cache: the stored bytes are exactly the hashed
        ones, at the cost of `cp` + `sha256sum`. More than `limit` bytes is refused."""
        size = os.fstat(src.fileno()).st_size
        if limit is not None and size > limit:
            raise OversizeError(f"object {expected or '(new)'} holds {size} bytes, more than its declared {limit}; refusing it", oid=expected or "")
        if size < BIG_FILE:
            return self.write_stream(src, expected, progress, limit)

        def fill(tmp: str) -> tuple[str, int]:
            from .links import try_reflink_fd

            if not try_reflink_fd(src, tmp):
                _copy_fd(src, tmp)
            return hash_file(tmp, progress)

        return self.write_with(expected, fill)

    def write_bytes(self, data: bytes) -> WriteResult:
        import io

        return self.write_stream(io.BytesIO(data))

    def _commit(self, tmp: str, oid: str, size: int) -> WriteResult:
        target = self.path(oid)
        try:
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            if self.has(oid, size):
                os.unlink(tmp)
                created = False
            elif self.durable:
                with self._pending_lock:
                    self._pending.append((tmp, target))
                created = True
            else:
                self._ensure_dir(os.path.dirname(target))
                os.replace(tmp, target)
                created = True
        except OSError as err:
            unlink_quietly(tmp)
            if is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        self.verified.add(oid)
        return WriteResult(oid, size, created)

    # -- reading -------------------------------------------------------------

    def open(self, oid: str) -> BinaryIO:
        """The object for reading. A link or special file in its place (a tampered store:
        `/dev/zero` streams forever) is refused as corrupt, never followed."""
        path = self.path(oid)
        self._check_real(os.path.dirname(path))
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissingError(f"object {oid} is not in {self.root}") from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise IntegrityError(f"object {path} is a symlink, not a stored object; refusing to follow it", oid=oid, path=path) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IntegrityError(f"object {path} is not a regular file; refusing to read it", oid=oid, path=path)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def read_verified(self, oid: str, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """Whole object in memory, checked; only for small objects such as manifests (capped at `limit`)."""
        with self.open(oid) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise IntegrityError(f"object {self.path(oid)} is larger than {limit} bytes, too large to be read whole; refusing it", oid=oid)
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
            with self.open(oid) as f:
                actual, _ = hash_stream(f, progress)
        except IntegrityError:
            return False
        ok = actual == oid
        if ok:
            self.verified.add(oid)
        return ok

    def copy_out(self, oid: str, dest: str, progress: Progress | None = None) -> None:
        """Copy an object to `dest` (a temp path the caller renames), verifying unless already verified."""
        try:
            with self.open(oid) as src:
                if oid in self.verified:
                    _copy_fd(src, dest)
                    if progress:
                        progress(os.path.getsize(dest))
                    return
                h = hashlib.sha256()
                with open(dest, "wb") as out:
                    copy_stream(src, out, progress, h)
        except OSError as err:
            if is_disk_full(err):
                raise disk_full(os.path.dirname(dest)) from err
            raise
        if OID_PREFIX + h.hexdigest() != oid:
            unlink_quietly(dest)
            raise self.corrupt(oid)
        self.verified.add(oid)

    # -- chunk indexes (keyed by the whole file's oid; see gitfiler.chunks) ----------------------

    def index_path(self, oid: str) -> str:
        return os.path.join(self.root, _chunks.index_relpath(oid))

    def has_index(self, oid: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.index_path(oid)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def get_index_bytes(self, oid: str, limit: int = _chunks.MAX_INDEX_BYTES) -> bytes | None:
        """The raw index of `oid` (at most `limit` + 1 bytes read), or None. A link or special
        file in its place is refused, never followed."""
        path = self.index_path(oid)
        self._check_real(os.path.dirname(path))
        try:
            return read_plain(path, limit + 1)
        except NotPlainFile as err:
            raise IntegrityError(f"chunk index {path} {err.why}; refusing to read it", oid=oid, path=path) from None

    def read_index(self, oid: str, size: int | None = None) -> _chunks.ChunkIndex | None:
        """The decoded index of `oid`, or None when there is none. Raises IntegrityError when corrupt."""
        data = self.get_index_bytes(oid, _chunks.MAX_INDEX_BYTES if size is None else _chunks.index_cap(size))
        if data is None:
            return None
        return _chunks.decode(data, oid, size, where=f"chunk index {self.index_path(oid)}")

    def put_index(self, oid: str, data: bytes) -> None:
        """Write the index of `oid` whole or not at all (durable first in a durable store)."""
        target = self.index_path(oid)
        tmp = self.temp()
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
            self._ensure_dir(os.path.dirname(target))
            os.replace(tmp, target)
        except OSError as err:
            unlink_quietly(tmp)
            if is_disk_full(err):
                raise disk_full(self.root) from err
            raise
        if self.durable:
            fsync_path(os.path.dirname(target))

    def ensure_index(self, oid: str, index: _chunks.ChunkIndex | None = None) -> _chunks.ChunkIndex | None:
        """Record the chunk index of a stored large object, computing it from the object when
        not given. Best effort: an index is an optimisation, so failing to write one (a full
        disk) leaves the object usable whole. Returns the index, or None."""
        if not self.index_chunks:
            return None
        try:
            existing = self.read_index(oid)
        except IntegrityError:
            existing = None  # a damaged index is replaced
        if existing is not None:
            return existing
        try:
            if index is None:
                with self.open(oid) as f:
                    if not _chunks.is_chunked_size(os.fstat(f.fileno()).st_size):
                        return None
                    found, index = hash_and_chunk_fd(f.fileno())
                if found != oid:
                    raise self.corrupt(oid)
                self.verified.add(oid)
            self.put_index(oid, index.encode())
        except (OSError, FilerError) as err:
            if isinstance(err, IntegrityError):
                raise
            return None
        return index

    def checked_index(self, oid: str) -> _chunks.ChunkIndex | None:
        """The index of a stored large object, vouched for by its bytes: what push sends, since
        an index in a remote vouches for the file. Trusted as recorded if this process already
        verified the object (it wrote or checked both); otherwise re-derived from one read of
        the object, which verifies it too, and the recorded one replaced if it differs. None:
        not a large object, or its bytes do not hash to `oid` (the caller's whole-object path
        reports that)."""
        if oid in self.verified:
            return self.ensure_index(oid)
        try:
            with self.open(oid) as f:
                if not _chunks.is_chunked_size(os.fstat(f.fileno()).st_size):
                    return None
                found, index = hash_and_chunk_fd(f.fileno())
        except (OSError, FilerError):
            return None
        if found != oid:
            return None
        self.verified.add(oid)
        try:
            recorded = self.read_index(oid, index.size)
        except IntegrityError:
            recorded = None
        if recorded != index and self.index_chunks:
            try:
                self.put_index(oid, index.encode())
            except (OSError, FilerError):
                pass  # still sent from memory; the cache copy is rebuilt next time
        return index

    def index_to_send(self, oid: str, size: int) -> tuple[_chunks.ChunkIndex, bool] | None:
        """The index push sends for a stored large object, and whether it still has to be
        confirmed against the object's bytes as they are sent (`transfer.push_chunked`): the
        recorded one when it decodes (confirming costs one pass over the bytes, done beside the
        upload, where deriving it again would be one more), else `checked_index`. None: not a
        large object, or its bytes do not hash to `oid`."""
        if oid not in self.verified:
            try:
                recorded = self.read_index(oid, size)
            except IntegrityError:
                recorded = None
            if recorded is not None:
                return recorded, True
        index = self.checked_index(oid)
        return None if index is None else (index, False)

    def iter_indexes(self) -> Iterator[str]:
        return self._walk("chunks", _chunks.oid_of_index_relpath)

    def remove_index(self, oid: str) -> bool:
        path = self.index_path(oid)
        self._check_real(os.path.dirname(path))
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    def read_range(self, oid: str, offset: int, size: int) -> bytes:
        """`size` bytes of a stored object from `offset` (a chunk of it); short if it is shorter."""
        with self.open(oid) as f:
            return os.pread(f.fileno(), size, offset)

    def iter_oids(self) -> Iterator[str]:
        return self._walk("objects", oid_of_relpath)

    def _walk(self, kind: str, parse: Callable[[str], str | None]) -> Iterator[str]:
        """The oids named below `<root>/<kind>/sha256/` (objects, or chunk indexes)."""
        base = os.path.join(self.root, kind, "sha256")
        try:
            self._check_real(base)
            shards = os.scandir(base)
        except FileNotFoundError:
            return
        with shards:
            for shard in shards:
                # A linked shard (a tampered store) is not listed: what it points to is not ours to report or delete.
                if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        oid = parse(f"{kind}/sha256/{shard.name}/{entry.name}")
                        if oid:
                            yield oid

    def remove(self, oid: str) -> bool:
        path = self.path(oid)
        self._check_real(os.path.dirname(path))  # never unlink through a linked shard
        if self.index_chunks:
            self.remove_index(oid)  # a cache's index describes chunks inside the file: it goes first, with it
        try:
            os.unlink(path)
            self.verified.discard(oid)
            return True
        except FileNotFoundError:
            return False

    def clean_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete temp files left by killed writers: their process directories, and loose
        `.tmp-*` files older versions left beside objects (only old ones: a live writer is safe)."""
        import time

        from .tempfiles import area

        removed = area(os.path.join(self.root, "tmp")).sweep()
        cutoff = time.time() - older_than_s
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

def _mean_size(pending: list[tuple[str, str]]) -> float:
    total = 0
    for tmp, _target in pending:
        try:
            total += os.stat(tmp).st_size
        except OSError:
            pass
    return total / max(1, len(pending))


def hash_and_chunk_fd(fd: int) -> tuple[str, _chunks.ChunkIndex]:
    """(oid, chunk index) of a large file in one pass over its mapped bytes."""
    import mmap

    with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as mapped:
        view = memoryview(mapped)
        try:
            return _chunks.hash_and_chunk(view)
        finally:
            view.release()  # the map closes only once no view of it is left


def _copy_plain(src: str, dest: str) -> None:
    with open(src, "rb") as s:
        _copy_fd(s, dest)


def _copy_fd(s: BinaryIO, dest: str) -> None:
    """A kernel-side copy (sendfile): no Python buffers, none of shutil's extra stats."""
    with open(dest, "wb") as d:
        size = os.fstat(s.fileno()).st_size
        offset = 0
        while offset < size:
            sent = os.sendfile(d.fileno(), s.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent

