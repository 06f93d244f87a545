"""Remotes: where objects live beyond this machine. One small synchronous interface;
the concurrency lives in `gitfiler.transfer`, above it."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from ..chunks import MAX_INDEX_BYTES
from ..config import RemoteConfig
from ..errors import ConfigError, FilerError, RemoteError
from ..objects import ObjectStore, Progress

# Lock records live under `<remote>/locks/`, named `<kind>-<16 hex>`. A gc takes an exclusive
# lock, a pre-push a shared one (restic's protocol): write your own record, list, and back off
# if a conflicting fresh record is there. Ages are measured against the remote's own clock
# (the mtime of the record just written), so clock skew between machines does not matter.
LOCKS_DIR = "locks"
# Release pointers live under `<remote>/releases/<name>`, each one line: the release manifest's oid.
RELEASES_DIR = "releases"
PUSH, GC = "push", "gc"
_LOCK_NAME = re.compile(r"^(push|gc)-[0-9a-f]{16}$")
# A record older than this is a killed process's: ignored, and removed by the next gc.
# The holder rewrites its record every REFRESH_S while it works (see RemoteLock).
STALE_S = {PUSH: 3600.0, GC: 3600.0}
REFRESH_S = 300.0


class Listed(NamedTuple):
    """One remote object as a listing reports it; `mtime` in seconds on the remote's clock."""

    oid: str
    size: int
    mtime: float


class LockRecord(NamedTuple):
    name: str
    mtime: float

    @property
    def kind(self) -> str:
        return self.name.partition("-")[0]


def is_lock_name(name: str) -> bool:
    return bool(_LOCK_NAME.match(name))


def check_lock_name(name: str) -> None:
    if not is_lock_name(name):
        raise FilerError(f"{name!r} is not a lock name; expected push-<16 hex> or gc-<16 hex>")


class Remote(ABC):
    name: str
    url: str
    # Above this many oids, listing the remote beats one existence check per object.
    list_threshold: int = 1 << 62

    @abstractmethod
    def exists(self, oid: str) -> bool: ...

    @abstractmethod
    def list_oids(self) -> Iterator[str]: ...

    @abstractmethod
    def upload(self, store: ObjectStore, oid: str, progress: Progress | None = None) -> None:
        """Copy a cache object to the remote, refusing bytes that do not hash to `oid`."""

    @abstractmethod
    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        """Stream an object into the cache; it lands only if its bytes hash to `oid`. `size` is the
        declared size and a hard cap (None: a directory manifest, capped at MAX_MANIFEST_BYTES)."""

    @abstractmethod
    def delete(self, oid: str) -> None: ...

    def flush(self) -> None:  # noqa: B027 - optional: most remotes are durable once a write returns
        """Make what was uploaded so far durable (a local directory fsyncs its directories)."""

    def check_access(self) -> None:  # noqa: B027 - optional: the first request tells for most remotes
        """Raise RemoteError when the remote cannot be used at all (unreachable, missing, denied)."""

    def describe(self) -> str:
        return f"'{self.name}' ({self.url})"

    # -- listing with mtimes, and lock records -------------------------------------------------
    # Not abstract: a remote that cannot offer them (a read-only one) cannot be collected or pushed to.

    def list_objects(self) -> Iterator[Listed]:
        """Every object with its size and last-modified time (for gc's grace period)."""
        raise RemoteError(f"remote '{self.name}' cannot list object times; gc cannot run on it")

    def put_lock(self, name: str, data: bytes) -> None:
        """Create (or refresh: same name again) the small record `locks/<name>`."""
        raise RemoteError(f"remote '{self.name}' cannot hold lock records")

    def list_locks(self) -> list[LockRecord]:
        raise RemoteError(f"remote '{self.name}' cannot hold lock records")

    def delete_lock(self, name: str) -> None:
        """Remove `locks/<name>`; already gone is fine."""
        raise RemoteError(f"remote '{self.name}' cannot hold lock records")

    # -- release pointers ----------------------------------------------------------------------
    # Not abstract either: a remote that cannot hold them cannot publish or serve releases.

    def put_release(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        """Write the pointer `releases/<name>`; False (and nothing written) when it exists and not `replace`."""
        raise RemoteError(f"remote '{self.name}' cannot hold releases")

    def get_release(self, name: str) -> bytes | None:
        """The pointer record `releases/<name>` (at most release.MAX_POINTER_BYTES + 1 bytes read), or None."""
        raise RemoteError(f"remote '{self.name}' cannot hold releases")

    def list_releases(self) -> list[LockRecord]:
        """Every pointer's name and last-modified time."""
        raise RemoteError(f"remote '{self.name}' cannot hold releases")

    # -- chunked objects (gitfiler.chunks; docs/format.md "Chunked objects") --------------------
    # A large object may be held whole, or as its chunk index (at `chunks/sha256/..`, keyed by
    # the file's oid) plus its chunks, which are ordinary objects. A remote that cannot hold
    # indexes holds none, and receives large objects whole.
    supports_chunks: bool = False
    # Whether `exists` is a local stat, cheap enough to ask once per chunk while a file is cut
    # (`transfer.push_streaming`) instead of in one batch once it is.
    cheap_exists: bool = False

    def sends_chunks(self, store: ObjectStore) -> bool:
        """Whether large files go to this remote from `store` as chunks (only those it lacks)
        rather than whole. Reading handles both forms whatever this says."""
        return self.supports_chunks

    def put_index(self, oid: str, data: bytes) -> None:
        """Write the chunk index of `oid`; only once every chunk it lists is durable here."""
        raise RemoteError(f"remote '{self.name}' cannot hold chunked objects")

    def get_index(self, oid: str, limit: int = MAX_INDEX_BYTES) -> bytes | None:
        """The raw chunk index of `oid` (at most `limit` + 1 bytes read), or None."""
        return None

    def has_index(self, oid: str) -> bool:
        return False

    def list_indexes(self) -> Iterator[Listed]:
        """Every chunk index, named by its file's oid, with its size and time (for gc)."""
        return iter(())

    def delete_index(self, oid: str) -> None:
        raise RemoteError(f"remote '{self.name}' cannot hold chunked objects")

    def upload_chunk(self, oid: str, data: bytes, progress: Progress | None = None, *, hashed: bool = False) -> None:
        """Store `data` as the object `oid`, refusing bytes that do not hash to it. `hashed`:
        the caller named `oid` from exactly these bytes a moment ago; not hashed again."""
        raise RemoteError(f"remote '{self.name}' cannot hold chunked objects")

    def download_chunk(self, oid: str, size: int) -> bytes:
        """The object `oid`, which must be exactly `size` bytes (never more is read). Not hashed
        here: the file rebuilt from it is verified whole (`transfer.download_chunked`)."""
        raise RemoteError(f"remote '{self.name}' cannot hold chunked objects")

    def open_chunk(self, oid: str, size: int) -> BinaryIO | None:
        """The object `oid` as an open local file of exactly `size` bytes, for the kernel to copy
        into a file being rebuilt (whose whole-file digest then verifies it); None: this remote
        serves chunks only through `download_chunk`."""
        return None

    def chunk_location(self, oid: str) -> str:
        """Where this remote keeps the object `oid`, for messages."""
        return oid

    def lock(self, kind: str) -> RemoteLock:
        """Take a `push` (shared) or `gc` (exclusive) lock, or raise RemoteError saying who holds one.

        Three small requests: write, list, and (on release) delete. Use as a context manager.
        """
        return RemoteLock.acquire(self, kind)


def parse_url(url: str) -> tuple[str, str]:
    """('s3', 'bucket/prefix') or ('local', '/abs/path')."""
    if url.startswith("s3://"):
        rest = url[5:].strip("/")
        if not rest:
            raise ConfigError(f"{url!r}: an S3 remote needs a bucket, e.g. s3://my-bucket/ml-artifacts")
        return "s3", rest
    if url.startswith("file://"):
        return "local", url[7:]
    if "://" in url:
        raise ConfigError(f"{url!r}: unsupported remote URL; use s3://bucket/prefix or a local directory path")
    return "local", os.path.abspath(os.path.expanduser(url))


def open_remote(cfg: RemoteConfig, *, jobs: int = 8) -> Remote:
    scheme, location = parse_url(cfg.url)
    if scheme == "s3":
        from .s3 import S3Remote

        return S3Remote(cfg, location, jobs=jobs)
    from .local import LocalRemote

    if cfg.committed:
        raw = cfg.url[7:] if cfg.url.startswith("file://") else cfg.url
        if not os.path.isabs(raw):
            raise ConfigError(
                f"remote '{cfg.name}': the committed config gives the relative path {cfg.url!r}; a repository may only name "
                "absolute directories (or s3:// URLs). Fix .gitfiler/config.yaml or add your own with 'git filer remote add --local'"
            )
    # A directory the repository names is used only if it already exists on this machine:
    # a clone must not make gitfiler create directories wherever its config says.
    return LocalRemote(cfg.name, location, create=not cfg.committed)


class RemoteLock:
    """A lock record this process holds in a remote; released on exit of the `with` block.

    A heartbeat thread rewrites the record every REFRESH_S, so a long gc or a long pre-push
    upload stays locked. If the process was paused (a suspended laptop) for so long that
    others may have counted the record stale, the lock is "lapsed": `keep_alive` raises, and
    so does leaving the `with` block normally, so the work is never trusted as locked.
    """

    def __init__(self, remote: Remote, kind: str, name: str, now: float) -> None:
        self.remote = remote
        self.kind = kind
        self.name = name
        self.now = now  # the remote's clock when the lock was taken
        self._refreshed = time.time()
        self._lapsed = False
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"gitfiler-{kind}-lock", daemon=True)

    @classmethod
    def acquire(cls, remote: Remote, kind: str) -> RemoteLock:
        if kind not in STALE_S:
            raise FilerError(f"unknown lock kind {kind!r}; expected {PUSH!r} or {GC!r}")
        name = f"{kind}-{os.urandom(8).hex()}"
        remote.put_lock(name, _body(kind))
        try:
            records = remote.list_locks()
            mine = next((r for r in records if r.name == name), None)
            if mine is None:
                raise RemoteError(f"remote '{remote.name}': the lock {LOCKS_DIR}/{name} just written is not listed; the remote does not show its own writes, so gc and push cannot be made safe on it")
            blocking = [r for r in records if r.name != name and _fresh(r, mine.mtime) and (kind == GC or r.kind == GC)]
            if blocking:
                raise RemoteError(_busy_message(remote, kind, blocking, mine.mtime))
            if kind == GC:
                for r in records:
                    if r.name != name and not _fresh(r, mine.mtime):
                        remote.delete_lock(r.name)  # left by a killed process
        except BaseException:
            _release_quietly(remote, name)
            raise
        held = cls(remote, kind, name, mine.mtime)
        held._beat.start()
        return held

    def _heartbeat(self) -> None:
        while not self._stop.wait(REFRESH_S):
            with self._mutex:
                if time.time() - self._refreshed > STALE_S[self.kind] / 2:
                    self._lapsed = True  # woke from a long pause: others may have taken over
                    return
                try:
                    self.remote.put_lock(self.name, _body(self.kind))
                except Exception:  # noqa: BLE001 - a missed beat only ages the record; the check above catches a long gap
                    continue
                self._refreshed = time.time()

    def keep_alive(self) -> None:
        """Raise RemoteError if the lock may have lapsed; call before each irreversible step."""
        with self._mutex:
            elapsed = time.time() - self._refreshed
            if self._lapsed or elapsed > STALE_S[self.kind] / 2:
                self._lapsed = True
                what = "gc stopped before deleting more; run it again" if self.kind == GC else "push again"
                raise RemoteError(
                    f"remote '{self.remote.name}': this {self.kind} could not keep its lock fresh "
                    f"(paused or cut off for {elapsed / 60:.0f} min), so another process may have counted it abandoned; {what}"
                )

    def release(self) -> None:
        self._stop.set()
        if self._beat.is_alive():
            self._beat.join()
        self.remote.delete_lock(self.name)

    def __enter__(self) -> RemoteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self._stop.set()
            _release_quietly(self.remote, self.name)  # never mask the error that got us here
            return
        try:
            self.keep_alive()  # work done under a lapsed lock is not vouched for
        finally:
            self.release()


def _body(kind: str) -> bytes:
    """What a record says, for a human looking at the remote; only its name and mtime count."""
    return json.dumps({"kind": kind, "host": os.uname().nodename, "pid": os.getpid(), "time": time.time()}).encode()


def _fresh(record: LockRecord, now: float) -> bool:
    return now - record.mtime < STALE_S.get(record.kind, max(STALE_S.values()))


def _release_quietly(remote: Remote, name: str) -> None:
    try:
        remote.delete_lock(name)
    except Exception:  # noqa: BLE001 - a record we fail to delete goes stale and is removed by the next gc
        pass


def _busy_message(remote: Remote, kind: str, blocking: list[LockRecord], now: float) -> str:
    other = max(blocking, key=lambda r: r.mtime)
    age = max(0, int(now - other.mtime))
    held = f"{LOCKS_DIR}/{other.name}, {age // 60} min {age % 60} s old"
    stale_min = int(STALE_S[other.kind] // 60)
    if kind == PUSH:
        return (
            f"a gc is deleting from the filer remote '{remote.name}' ({held}); push again when it is done "
            f"(a lock not refreshed for {stale_min} min is ignored)"
        )
    what = "a push is checking" if other.kind == PUSH else "another gc is deleting from"
    return f"{what} the filer remote '{remote.name}' ({held}); run gc again later (a lock not refreshed for {stale_min} min is ignored)"
