"""A remote that is a directory: the embedded default, needing no server.

It is an ObjectStore like the cache, so writes are verified, atomic (temp name
beside the target, then rename) and safe for concurrent writers: two writers of
one object rename identical bytes into place.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ..chunks import MAX_INDEX_BYTES
from ..errors import DiskFullError, IntegrityError, ObjectMissingError, OversizeError, RemoteError
from ..fsutil import NotPlainFile, fsync_path, publish, read_plain, write_new
from ..objects import CHUNK, MAX_MANIFEST_BYTES, OID_PREFIX, ObjectStore, Progress
from ..release import MAX_POINTER_BYTES, check_name, name_problem
from . import LOCKS_DIR, RELEASES_DIR, Listed, LockRecord, Remote, check_lock_name, is_lock_name


class LocalRemote(Remote):
    list_threshold = 1 << 62  # a stat per object is cheaper than walking the tree
    supports_chunks = True
    cheap_exists = True

    def __init__(self, name: str, path: str, *, create: bool = True) -> None:
        self.name = name
        self.url = path
        self.create = create
        self.objects = ObjectStore(path, durable=True, index_chunks=False)

    def check_access(self) -> None:
        if not self.create and not os.path.isdir(os.path.join(self.url, "objects", "sha256")):
            # Only an existing gitfiler store: a repository must not make pushes write into any directory it names.
            raise RemoteError(
                f"remote '{self.name}': {self.url} is not a gitfiler remote on this machine (no objects/sha256 inside); gitfiler "
                f"writes only into an existing remote when the repository's committed config names it. Create it with "
                f"'git filer remote add {self.name} {self.url} --force', or use a remote of your own ('git filer remote add NAME URL --local --default')"
            )
        if not os.path.isdir(self.url):
            parent = os.path.dirname(self.url.rstrip(os.sep))
            if not os.path.isdir(parent):
                fix = (
                    f"fix the path with 'git filer remote add {self.name} PATH --force'" if self.name != self.url
                    else "check the path, or create its parent directory first"
                )
                raise RemoteError(f"remote '{self.name}': directory {self.url} does not exist and neither does its parent; {fix}")

    def sends_chunks(self, store: ObjectStore) -> bool:
        # On the cache's own filesystem a whole object arrives as a hard link: no byte is
        # copied, so chunks would only add hashing and files (bench/bench_chunks.py measured a
        # new 1 GiB file at 2.7x the push time). Elsewhere (another disk, a NAS) chunks save
        # the bytes that cross, as with S3.
        try:
            return os.stat(self.url).st_dev != os.stat(store.root).st_dev
        except OSError:
            return True

    def exists(self, oid: str) -> bool:
        return self.objects.has(oid)

    def list_oids(self) -> Iterator[str]:
        return self.objects.iter_oids()

    def upload(self, store: ObjectStore, oid: str, progress: Progress | None = None) -> None:
        self.check_access()
        try:
            with store.open(oid) as src:
                if not _link_verified(src, store.path(oid), self.objects, oid, None, progress):
                    self.objects.write_open(src, expected=oid, progress=progress)
        except ObjectMissingError:
            raise ObjectMissingError(f"object {oid} is not in the cache; cannot upload it") from None
        except IntegrityError:
            raise IntegrityError(f"corrupt cache object {store.path(oid)}: its bytes do not hash to {oid}; not uploaded (run 'git filer fsck')", oid=oid) from None

    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        # `size` is what the registry or manifest declares: never read more (a manifest: capped).
        # `open` refuses a link or a device in the object's place: the remote is not trusted either.
        # Always a copy, never a link: a cache, and above all a deployment's cache whose files
        # are served and sometimes edited in place, must not share its bytes with the copy
        # that repairs it.
        limit = MAX_MANIFEST_BYTES if size is None else size
        try:
            with self.objects.open(oid) as src:
                store.write_open(src, expected=oid, progress=progress, limit=limit)
        except OversizeError as err:
            raise OversizeError(f"remote '{self.name}': object {self.objects.path(oid)} is corrupt ({err}); nothing was written", oid=oid) from None
        except IntegrityError as err:
            why = str(err) if err.path else f"its bytes do not hash to {oid}"  # a path: not a stored object at all (a link, a device)
            raise IntegrityError(f"remote '{self.name}': object {self.objects.path(oid)} is corrupt ({why}); nothing was written", oid=oid) from None
        except ObjectMissingError:
            raise ObjectMissingError(f"object {oid} is not in {self.url}") from None

    def flush(self) -> None:
        self.objects.flush()

    def delete(self, oid: str) -> None:
        self.objects.remove(oid)

    # -- chunked objects ----------------------------------------------------------------------------

    def put_index(self, oid: str, data: bytes) -> None:
        self.check_access()
        self.objects.put_index(oid, data)  # synced before and after the rename: durable once visible

    def get_index(self, oid: str, limit: int = MAX_INDEX_BYTES) -> bytes | None:
        try:
            return self.objects.get_index_bytes(oid, limit)
        except IntegrityError as err:
            raise IntegrityError(f"remote '{self.name}': {err}", oid=oid) from None

    def has_index(self, oid: str) -> bool:
        return self.objects.has_index(oid)

    def list_indexes(self) -> Iterator[Listed]:
        for oid in self.objects.iter_indexes():
            try:
                st = os.lstat(self.objects.index_path(oid))
            except FileNotFoundError:
                continue
            yield Listed(oid, st.st_size, st.st_mtime)

    def delete_index(self, oid: str) -> None:
        self.objects.remove_index(oid)

    def upload_chunk(self, oid: str, data: bytes, progress: Progress | None = None, *, hashed: bool = False) -> None:
        self.check_access()
        def fill(tmp: str) -> tuple[str, int]:
            with open(tmp, "wb") as out:
                out.write(data)
            return (oid if hashed else OID_PREFIX + hashlib.sha256(data).hexdigest()), len(data)

        try:
            self.objects.write_with(oid, fill)  # verified; visible at `flush`
        except IntegrityError:
            raise IntegrityError(f"chunk {oid} read from the cache does not hash to its name; not uploaded (run 'git filer fsck')", oid=oid) from None
        if progress:
            progress(len(data))

    def download_chunk(self, oid: str, size: int) -> bytes:
        with self.open_chunk(oid, size) as src:
            return src.read(size)

    def open_chunk(self, oid: str, size: int) -> BinaryIO:
        # `open` refuses a link or a device in the chunk's place; a size other than the index's
        # is refused here, so the kernel copies exactly the declared bytes.
        try:
            src = self.objects.open(oid)
        except ObjectMissingError:
            raise ObjectMissingError(f"chunk {oid} is not in {self.url}") from None
        except IntegrityError as err:
            raise IntegrityError(f"remote '{self.name}': chunk {self.objects.path(oid)} is corrupt ({err})", oid=oid) from None
        found = os.fstat(src.fileno()).st_size
        if found != size:
            src.close()
            raise IntegrityError(f"remote '{self.name}': chunk {self.objects.path(oid)} is corrupt ({found} bytes where its index says {size})", oid=oid)
        return src

    def chunk_location(self, oid: str) -> str:
        return self.objects.path(oid)

    # -- listing with mtimes and lock records (gc's grace period and the gc/push lock) ------------

    def list_objects(self) -> Iterator[Listed]:
        # lstat: a link in an object's place is listed as the link (its own mtime), never followed.
        for oid in self.objects.iter_oids():
            try:
                st = os.lstat(self.objects.path(oid))
            except FileNotFoundError:
                continue  # deleted while we listed
            yield Listed(oid, st.st_size, st.st_mtime)

    def _locks_dir(self, create: bool = False, sub: str = LOCKS_DIR) -> str | None:
        """`<remote>/locks` (or `sub`), refused if it is a link: records go nowhere but the remote itself."""
        path = os.path.join(self.url, sub)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            self.check_access()
            os.makedirs(path, exist_ok=True)
            st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise RemoteError(f"remote '{self.name}': {path} is not a plain directory (a link?); remove it and retry")
        return path

    def put_lock(self, name: str, data: bytes) -> None:
        check_lock_name(name)
        where = self._locks_dir(create=True)
        assert where is not None
        # Written beside and renamed, so a refresh (same name) is atomic too; a temp name never
        # matches a lock name, so a listing never sees a half-written record.
        try:
            publish(os.path.join(where, name), write_new(data))
        except (OSError, DiskFullError) as err:
            raise RemoteError(f"remote '{self.name}': cannot write lock {LOCKS_DIR}/{name} ({getattr(err, 'strerror', None) or err}); check the remote directory's permissions") from None

    def list_locks(self) -> list[LockRecord]:
        where = self._locks_dir()
        if where is None:
            return []
        out = []
        with os.scandir(where) as entries:
            for entry in entries:
                if not is_lock_name(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # released while we listed
                if stat.S_ISREG(st.st_mode):
                    out.append(LockRecord(entry.name, st.st_mtime))
        return out

    def delete_lock(self, name: str) -> None:
        check_lock_name(name)
        where = self._locks_dir()
        if where is None:
            return
        try:
            os.unlink(os.path.join(where, name))
        except FileNotFoundError:
            pass


    # -- release pointers -------------------------------------------------------------------------

    def put_release(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        check_name(name)
        where = self._locks_dir(create=True, sub=RELEASES_DIR)
        assert where is not None
        try:
            # Durable before it is visible: the pointer vouches for objects already flushed.
            publish(os.path.join(where, name), _write_synced(data), replace=replace)
            fsync_path(where)
        except FileExistsError:
            return False
        except (OSError, DiskFullError) as err:
            raise RemoteError(f"remote '{self.name}': cannot write {RELEASES_DIR}/{name} ({getattr(err, 'strerror', None) or err}); check the remote directory's permissions") from None
        return True

    def get_release(self, name: str) -> bytes | None:
        check_name(name)
        where = self._locks_dir(sub=RELEASES_DIR)
        if where is None:
            return None
        try:
            return read_plain(os.path.join(where, name), MAX_POINTER_BYTES + 1)
        except NotPlainFile as err:
            raise RemoteError(f"remote '{self.name}': {RELEASES_DIR}/{name} {err.why}; a release pointer is a plain file: remove it") from None
        except OSError as err:
            raise RemoteError(f"remote '{self.name}': cannot read {RELEASES_DIR}/{name} ({err.strerror})") from None

    def list_releases(self) -> list[LockRecord]:
        where = self._locks_dir(sub=RELEASES_DIR)
        if where is None:
            return []
        out = []
        with os.scandir(where) as entries:
            for entry in entries:
                if name_problem(entry.name) is None:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        out.append(LockRecord(entry.name, st.st_mtime))
        return out


def _write_synced(data: bytes):  # -> fill for fsutil.publish
    def fill(path: str) -> None:
        write_new(data)(path)
        fsync_path(path)

    return fill


class _CannotLink(Exception):
    """No hard link here (another filesystem, one without links): the bytes are copied instead."""


def _link_verified(src: BinaryIO, path: str, into: ObjectStore, oid: str, limit: int | None, progress: Progress | None) -> bool:
    """Store the object open as `src` (at `path`) in `into` as a hard link to the same file,
    after hashing it, as git-lfs does for a local remote: both stores are read-only and
    content-addressed, and a link costs no file creation or copy. The link must be the very
    file that was opened (no link followed, nothing swapped in between). False when no link
    can be made here; the caller copies then."""
    st = os.fstat(src.fileno())
    if limit is not None and st.st_size > limit:
        return False  # the copy path refuses it with the declared size in the message

    def fill(tmp: str) -> tuple[str, int]:
        try:
            os.link(path, tmp, follow_symlinks=False)
        except OSError as err:
            raise _CannotLink() from err
        linked = os.lstat(tmp)
        if (linked.st_dev, linked.st_ino) != (st.st_dev, st.st_ino):
            raise _CannotLink()
        h, n = hashlib.sha256(), 0
        src.seek(0)
        while block := src.read(CHUNK):
            h.update(block)
            n += len(block)
            if progress:
                progress(len(block))
        return OID_PREFIX + h.hexdigest(), n

    try:
        into.write_with(oid, fill)
    except _CannotLink:
        src.seek(0)
        return False
    return True
