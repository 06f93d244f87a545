"""The transfer engine: parallel existence checks, uploads and downloads over any Remote.

Remotes stay synchronous and simple; all concurrency is here, and so are retries.

Failures are sorted three ways:

- *Transient* (`TransientRemoteError`: throttling, 5xx, dropped or timed-out connections):
  the object is retried with exponential backoff and full jitter (a sleep drawn from
  [0, min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt)]) while the other objects keep going.
  The run gives up on an object only when no transfer of the run has made progress for
  the retry budget: `GITFILER_RETRY_BUDGET` seconds, default 120. Progress is an object
  completed, or bytes of an object beyond what its earlier attempts already moved (so
  re-sending the same first parts of an object that always fails later is no progress).
  A flaky remote slows a run down but does not stop it; an outage, or an object that
  never gets through, stops within the budget. Existence checks and listings are retried
  the same way.
- *Fatal* (any other `RemoteError`: access denied, no such bucket, endpoint unreachable
  after the remote's own retries; `DiskFullError`): every other object would fail the
  same way, so the run stops at once and in-flight transfers are cancelled.
- *Per object* (`IntegrityError`, `ObjectMissingError`, other `FilerError`): collected in
  `TransferResult.failures`; an integrity failure (a body damaged in transit) is retried
  once, no more.

An interrupt (Ctrl-C) skips what has not started and cancels in-flight transfers at their
next progress report (raising `Cancelled` inside the remote, which aborts a multipart
upload), then propagates.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, TypeVar

from . import env
from .chunks import ChunkIndex, index_cap, is_chunked_size
from .chunks import decode as decode_index
from .config import default_jobs  # noqa: F401  (re-exported for callers)
from .errors import DiskFullError, FilerError, IntegrityError, ObjectMissingError, RemoteError, TransientRemoteError
from .fsutil import unlink_quietly
from .objects import OID_PREFIX, ObjectStore
from .remotes import Remote

RETRY_BASE_S = 0.25
RETRY_CAP_S = 10.0
INTEGRITY_RETRIES = 1

T = TypeVar("T")
R = TypeVar("R")


class ProgressSink(Protocol):
    def start(self, label: str, total_objects: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finish(self) -> None: ...


class Cancelled(BaseException):
    """Raised from a progress callback to stop an in-flight transfer (interrupt, or a fatal
    error elsewhere in the run). A BaseException, so no `except Exception` swallows it."""


@dataclass
class TransferResult:
    action: str
    objects: int = 0
    bytes: int = 0
    present: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)  # oid -> exit code of its failure
    errors: dict[str, FilerError] = field(default_factory=dict)  # oid -> its failure, for a caller that tells kinds apart
    remote: str = ""  # which remote, as messages name it ("'team' (s3://bucket/prefix)"); "" when none was used
    # Bytes of the objects moved, whole: more than `bytes` when chunks the other side had were skipped.
    logical_bytes: int = 0

    def merge(self, other: TransferResult) -> None:
        self.objects += other.objects
        self.bytes += other.bytes
        self.logical_bytes += other.logical_bytes
        self.present += other.present
        self.seconds += other.seconds
        self.failures += other.failures
        self.codes.update(other.codes)
        self.errors.update(other.errors)
        self.remote = self.remote or other.remote


def retry_budget() -> float:
    return env.retry_budget()


class Retrier:
    """The backoff state of one run. The budget counts from the last progress of any
    transfer in the run, so a long run with scattered faults never runs out of it."""

    def __init__(self, budget_s: float | None = None) -> None:
        self.budget_s = retry_budget() if budget_s is None else budget_s
        self.stop = threading.Event()
        self._last = time.monotonic()

    def progressed(self) -> None:
        self._last = time.monotonic()

    def backoff(self, attempt: int) -> bool:
        """Sleep before retry number `attempt` (1, 2, ...); False if the budget would be
        exceeded or the run was stopped meanwhile."""
        delay = random.uniform(0, min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt))
        if time.monotonic() + delay > self._last + self.budget_s:
            return False
        return not self.stop.wait(delay)

    def gave_up(self, err: TransientRemoteError, attempts: int) -> TransientRemoteError:
        return TransientRemoteError(
            f"{err}; gave up after {attempts} attempt(s), with no transfer making progress for {self.budget_s:g} s "
            "(GITFILER_RETRY_BUDGET); run the command again later"
        )

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried on transient errors within the budget."""
        attempt = 0
        while True:
            try:
                out = fn()
            except TransientRemoteError as err:
                attempt += 1
                if self.backoff(attempt):
                    continue
                raise self.gave_up(err, attempt) from None
            self.progressed()
            return out


def _parallel(fn: Callable[[T], R], items: list[T], jobs: int, retry: Retrier) -> list[R]:
    """`fn` over `items` on up to `jobs` threads; on any exception (or an interrupt) stop the
    run, skip what has not started and re-raise once the running calls have returned."""
    if len(items) == 1 or jobs <= 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(items)))
    try:
        return list(pool.map(fn, items))
    except BaseException:
        retry.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def find_missing(remote: Remote, oids: Iterable[str], jobs: int, *, sizes: dict[str, int] | None = None, indexes: bool = True) -> set[str]:
    """Which of `oids` the remote really lacks: listing for many, parallel HEADs for few.

    The one place that says what "present" means: an object is in a remote if it is there
    whole, OR its chunk index is (a remote receives an index only after all its chunks).
    `sizes`: known sizes; an object known to be below the chunking threshold is not looked
    for as an index (one request saved). `indexes=False`: plain objects only (chunks)."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return set()
    retry = Retrier()
    listing = len(wanted) > jobs and len(wanted) >= retry.call(lambda: remote.list_threshold)
    if listing:
        listed = retry.call(lambda: set(remote.list_oids()))
        missing = {o for o in wanted if o not in listed}
    else:
        present = _parallel(lambda o: retry.call(lambda: remote.exists(o)), wanted, jobs, retry)
        missing = {o for o, p in zip(wanted, present, strict=True) if not p}
    if not indexes or not missing or not remote.supports_chunks:
        return missing
    maybe = [o for o in wanted if o in missing and (sizes is None or o not in sizes or is_chunked_size(sizes[o]))]
    if not maybe:
        return missing
    if listing:
        indexed = retry.call(lambda: {i.oid for i in remote.list_indexes()})
        return missing - indexed
    held = _parallel(lambda o: retry.call(lambda: remote.has_index(o)), maybe, jobs, retry)
    return missing - {o for o, h in zip(maybe, held, strict=True) if h}


def _run(
    action: str,
    oids: list[str],
    sizes: dict[str, int],
    jobs: int,
    work: Callable[[str, Callable[[int], None] | None], None],
    sink: ProgressSink | None,
) -> TransferResult:
    result = TransferResult(action)
    if not oids:
        return result
    started = time.perf_counter()
    lock = threading.Lock()
    fatal: list[FilerError] = []
    retry = Retrier()
    reached: dict[str, int] = {}  # oid -> most bytes one attempt moved: re-sending them is not progress
    if sink:
        sink.start(action, len(oids), sum(sizes.get(o, 0) for o in oids))

    def failed(oid: str, err: FilerError) -> None:
        with lock:
            result.failures.append((oid, str(err)))
            result.codes[oid] = err.exit_code
            result.errors[oid] = err

    def attempt(oid: str) -> None:
        """One try at one object. Bytes a failed try reported are taken back off the bar."""
        moved = 0

        def progress(n: int) -> None:
            nonlocal moved
            if retry.stop.is_set():
                raise Cancelled()
            with lock:
                moved += n
                if moved > reached.get(oid, 0):
                    reached[oid] = moved
                    retry.progressed()
            if sink:
                sink.advance(n)

        try:
            work(oid, progress)
        except BaseException:
            if sink and moved:
                sink.advance(-moved)
            raise

    def one(oid: str) -> None:
        transient = integrity = 0
        while not retry.stop.is_set():
            try:
                attempt(oid)
            except Cancelled:
                return
            except TransientRemoteError as err:
                transient += 1
                if not retry.backoff(transient):
                    if not retry.stop.is_set():
                        failed(oid, retry.gave_up(err, transient))
                    return
                continue
            except (RemoteError, DiskFullError) as err:
                # Every other object would fail the same way: stop the run at once.
                with lock:
                    fatal.append(err)
                retry.stop.set()
                return
            except IntegrityError as err:
                integrity += 1
                if integrity <= INTEGRITY_RETRIES:
                    continue
                failed(oid, err)
                return
            except FilerError as err:
                failed(oid, err)
                return
            retry.progressed()
            with lock:
                result.objects += 1
                result.bytes += sizes.get(oid, 0)
                result.logical_bytes += sizes.get(oid, 0)
            return

    try:
        _parallel(one, oids, jobs, retry)
    finally:
        if sink:
            sink.finish()
    result.seconds = time.perf_counter() - started
    if fatal:
        raise fatal[0]
    return result


def upload(store: ObjectStore, remote: Remote, oids: list[str], sizes: dict[str, int], jobs: int, sink: ProgressSink | None = None) -> TransferResult:
    return _run("upload", oids, sizes, jobs, lambda oid, p: remote.upload(store, oid, p), sink)


def download(
    store: ObjectStore, remote: Remote, oids: list[str], sizes: dict[str, int], jobs: int, sink: ProgressSink | None = None, *,
    earlier: Iterable[str] = (),
) -> TransferResult:
    """`sizes` holds each file object's declared size, a hard cap on what is read; an oid
    without one is a directory manifest, capped at objects.MAX_MANIFEST_BYTES by the remote.

    Every download goes through here, so every reader handles both forms a remote may hold a
    large object in: one the remote holds as chunks (its index is there) is rebuilt from the
    chunks the cache already has inside other versions plus the chunks it lacks; the rest
    are downloaded whole.

    `earlier`: cached objects likely to share chunks with these (the versions the work tree
    holds at the same paths). The cache keeps no index of a file it never sent or received
    as chunks, so one of these without an index is chunked now, before a rebuild that can
    use it: one read of a cached file instead of downloading what it shares."""
    indexes = fetch_indexes(remote, oids, sizes, jobs)
    result = TransferResult("download")
    if indexes:
        index_earlier(store, earlier)
        result.merge(download_chunked(store, remote, list(indexes.values()), cached_chunks(store), jobs, sink))
    whole = [o for o in oids if o not in indexes]
    got = _run("download", whole, sizes, jobs, lambda oid, p: remote.download(oid, store, p, sizes.get(oid)), sink)
    # A smaller file another writer (another threshold) sent as chunks: found when it is not there whole.
    absent = [o for o, _ in got.failures if isinstance(got.errors.get(o), ObjectMissingError) and o in sizes]
    late = fetch_indexes(remote, absent, sizes, jobs, large_only=False) if absent else {}
    if late:
        got.failures = [(o, why) for o, why in got.failures if o not in late]
        for o in late:
            got.codes.pop(o, None)
            got.errors.pop(o, None)
        got.merge(download_chunked(store, remote, list(late.values()), cached_chunks(store), jobs, sink))
    result.merge(got)
    return result


# -- chunked objects ------------------------------------------------------------------------------


def upload_chunks(
    store: ObjectStore, remote: Remote, chunks: dict[str, tuple[str, int, int]], jobs: int, sink: ProgressSink | None = None,
) -> TransferResult:
    """Upload chunks read by offset from cached whole files: chunk oid -> (file oid, offset, size).
    Each chunk's bytes are checked against its oid by the remote before they are stored. At
    most `jobs` chunks (MAX_SIZE bytes each) are in memory at once."""
    sizes = {c: n for c, (_f, _o, n) in chunks.items()}

    def work(oid: str, progress: Callable[[int], None] | None) -> None:
        file_oid, offset, size = chunks[oid]
        data = store.read_range(file_oid, offset, size)
        if len(data) != size:
            raise IntegrityError(f"cache object {store.path(file_oid)} is shorter than its chunk index says; not uploaded (run 'git filer fsck')", oid=oid)
        remote.upload_chunk(oid, data, progress)

    return _run("upload", list(chunks), sizes, jobs, work, sink)


def download_chunked(
    store: ObjectStore, remote: Remote, indexes: list[ChunkIndex], local: dict[str, tuple[str, int]], jobs: int, sink: ProgressSink | None = None,
) -> TransferResult:
    """Rebuild each file of `indexes` in a temp file of the cache: every chunk `local` maps to
    a cached file (chunk oid -> (file oid, offset)) is copied from there; the rest are
    fetched from the remote (exactly their declared size). A file becomes visible only once its whole-file
    digest matches (ObjectStore.write_with); that digest is taken from the temp file's bytes, in
    order, while later chunks are still arriving. Failures are reported under the file's oid.

    Chunks are not hashed one by one, whether copied from the cache, copied by the kernel
    from a remote that holds them as local files (`Remote.open_chunk`) or downloaded: the
    whole-file digest covers them. Hashing them too made a local pull of a mostly unchanged
    1 GiB file ~1.7x slower than a whole-file pull, and a pull of new bytes 1.1-1.5x slower
    (bench/bench_chunks.py). A file whose digest does not match after using cached chunks (a
    damaged or stale cached file) is rebuilt once more from the remote alone; otherwise its
    remote chunks are hashed then, to name the bad one."""
    result = TransferResult("download")
    if not indexes:
        return result
    started = time.perf_counter()
    targets: dict[str, list[tuple[_Rebuild, int]]] = {}  # chunk oid -> (file being rebuilt, chunk position)
    sizes: dict[str, int] = {}
    files: dict[str, _Rebuild] = {}
    try:
        for ix in indexes:
            if ix.oid in files:
                continue
            files[ix.oid] = _Rebuild(ix, store.temp())
            for pos, c in enumerate(ix.chunks):
                targets.setdefault(c.oid, []).append((files[ix.oid], pos))
                sizes[c.oid] = c.size

        def place(oid: str, data: bytes) -> None:
            for f, pos in targets[oid]:
                f.put(pos, data)

        sources: dict[str, BinaryIO | None] = {}  # cached file oid -> open file (None: unusable)

        def from_cache(oid: str) -> bool:
            file_oid, offset = local[oid]
            if file_oid not in sources:
                try:
                    sources[file_oid] = store.open(file_oid)
                except (FilerError, OSError):
                    sources[file_oid] = None
            src = sources[file_oid]
            if src is None:
                return False
            try:
                for f, pos in targets[oid]:
                    f.copy_in(pos, src.fileno(), offset)
            except (OSError, _Short):
                return False  # a shorter cached file than its index says: download the chunk instead
            return True

        try:
            # Kernel-side copies (copy_file_range), one after another: no bytes pass through Python.
            have = {o for o in targets if o in local and from_cache(o)}
        finally:
            for src in sources.values():
                if src is not None:
                    src.close()

        def work(oid: str, progress: Callable[[int], None] | None) -> None:
            src = remote.open_chunk(oid, sizes[oid])
            if src is None:
                place(oid, remote.download_chunk(oid, sizes[oid]))
            else:
                with src:
                    try:
                        for f, pos in targets[oid]:
                            f.copy_in(pos, src.fileno(), 0, cached=False)
                    except _Short:
                        raise IntegrityError(f"remote '{remote.name}': chunk {oid} ended before its {sizes[oid]} bytes", oid=oid) from None
            if progress:
                progress(sizes[oid])

        got = _run("download", [o for o in targets if o not in have], sizes, jobs, work, sink)
        result.bytes = got.bytes
        bad: dict[str, tuple[str, FilerError]] = {}
        for c_oid, why in got.failures:
            for f, _pos in targets.get(c_oid, []):
                bad.setdefault(f.index.oid, (f"chunk {c_oid}: {why}", got.errors[c_oid]))
        again: list[ChunkIndex] = []
        for oid, f in files.items():
            digest = f.finish(abandon=oid in bad)
            if digest is None:
                continue
            if digest != oid and not f.reused:
                rot = f.bad_fetched(remote)
                bad[oid] = (str(rot), rot)
                continue
            try:
                store.write_with(oid, _adopt(f.tmp, digest, f.index.size), f.index)
            except IntegrityError as err:
                if f.reused:
                    again.append(f.index)  # a cached chunk was not what its index said
                else:
                    bad[oid] = (str(err), err)
                continue
            except FilerError as err:
                bad[oid] = (str(err), err)
                continue
            result.objects += 1
            result.logical_bytes += f.index.size
        if again:
            result.merge(download_chunked(store, remote, again, {}, jobs, sink))
        for f_oid, (why, problem) in bad.items():
            result.failures.append((f_oid, why))
            result.codes[f_oid] = problem.exit_code
            result.errors[f_oid] = problem
    finally:
        for f in files.values():
            f.finish(abandon=True)
            unlink_quietly(f.tmp)
    result.seconds = time.perf_counter() - started
    return result


class _Rebuild:
    """One file being rebuilt from chunks in a temp file. Chunks land in any order; a thread
    hashes the file's bytes (read back from it) in order as soon as the next chunk is there, so
    the whole-file digest is ready about when the last chunk lands."""

    def __init__(self, index: ChunkIndex, tmp: str) -> None:
        import hashlib

        self.index = index
        self.tmp = tmp
        self.reused = False  # some chunk came from the cache, unverified on its own
        self.fetched: set[int] = set()  # chunks from the remote, unverified on their own
        self.fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(self.fd, index.size)
        self._hash = hashlib.sha256()
        self._ready: set[int] = set()
        self._next = 0
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._follow, name="gitfiler-rebuild-hash", daemon=True)
        self._thread.start()

    def put(self, pos: int, data: bytes) -> None:
        """Chunk `pos`, downloaded (exactly its size; the whole-file digest verifies it)."""
        os.pwrite(self.fd, data, self.index.chunks[pos].offset)
        self.fetched.add(pos)
        self._mark(pos)

    def copy_in(self, pos: int, src_fd: int, src_offset: int, *, cached: bool = True) -> None:
        """Chunk `pos` from another file at `src_offset` (a cached version, or a remote's chunk
        file), copied by the kernel; unverified on its own (the whole-file digest covers it).
        _Short if the source ends early."""
        c = self.index.chunks[pos]
        done = 0
        while done < c.size:
            try:
                if _copy_file_range is None:  # not Linux
                    raise OSError(errno.ENOSYS, "copy_file_range")
                n = _copy_file_range(src_fd, self.fd, c.size - done, src_offset + done, c.offset + done)
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                data = os.pread(src_fd, c.size - done, src_offset + done)
                n = len(data)
                os.pwrite(self.fd, data, c.offset + done)
            if n == 0:
                raise _Short()
            done += n
        if cached:
            self.reused = True
        else:
            self.fetched.add(pos)
        self._mark(pos)

    def _mark(self, pos: int) -> None:
        with self._cond:
            self._ready.add(pos)
            self._cond.notify()

    def _follow(self) -> None:
        chunks = self.index.chunks
        while self._next < len(chunks):
            with self._cond:
                while self._next not in self._ready and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
            c = chunks[self._next]
            self._hash.update(os.pread(self.fd, c.size, c.offset))
            self._next += 1

    def finish(self, *, abandon: bool) -> str | None:
        """The rebuilt file's digest (None if abandoned or incomplete); closes the temp file."""
        if self.fd < 0:
            return None
        with self._cond:
            abandon = abandon or len(self._ready) < len(self.index.chunks)  # a chunk never came (cancelled)
        if abandon:
            with self._cond:
                self._stop = True
                self._cond.notify()
        self._thread.join()
        os.close(self.fd)
        self.fd = -1
        if abandon or self._next < len(self.index.chunks):
            return None
        return OID_PREFIX + self._hash.hexdigest()


    def bad_fetched(self, remote: Remote) -> IntegrityError:
        """Why the rebuilt file does not hash to its oid: the first chunk from the remote whose
        bytes do not hash to its name (or the index itself, if every chunk does)."""
        with open(self.tmp, "rb") as fh:
            for pos in sorted(self.fetched):
                c = self.index.chunks[pos]
                if OID_PREFIX + hashlib.sha256(os.pread(fh.fileno(), c.size, c.offset)).hexdigest() != c.oid:
                    return IntegrityError(f"remote '{remote.name}': chunk {remote.chunk_location(c.oid)} is corrupt (its bytes do not hash to {c.oid})", oid=c.oid)
        return IntegrityError(f"remote '{remote.name}': the chunks its index lists for {self.index.oid} do not rebuild it; refusing them", oid=self.index.oid)


_copy_file_range = getattr(os, "copy_file_range", None)


class _Short(Exception):
    """A cached file ended before a chunk its index lists."""


def _adopt(path: str, digest: str, size: int) -> Callable[[str], tuple[str, int]]:
    """A `fill` for ObjectStore.write_with taking a rebuilt temp file whose bytes were hashed in
    order as they landed (`digest`), and which nobody else writes to."""

    def fill(tmp: str) -> tuple[str, int]:
        os.replace(path, tmp)
        if os.stat(tmp).st_size != size:
            return "", 0
        return digest, size

    return fill


def push_chunked(
    store: ObjectStore, remote: Remote, files: dict[str, ChunkIndex], jobs: int, sink: ProgressSink | None = None, *, confirm: Iterable[str] = (),
) -> TransferResult:
    """Upload large cached files as chunks: ask which chunks the remote lacks, upload those
    (read from the cached files by offset), make them durable, and only then write each
    file's index (chunks first, index last: an index in a remote vouches for its chunks, as a
    manifest does for its files). Objects and failures are counted per file; `bytes` is what
    was sent, `logical_bytes` the files' whole size.

    `confirm`: files whose index was recorded by another process. Beside the upload, each is
    hashed whole, and every chunk of it the upload does not read is hashed on its own
    (`_Confirmation`); its index is written only if all of that matches. A file that does not
    hash to its oid is reported corrupt; a sound file whose recorded index is wrong gets its
    index derived again from its bytes and is sent once more with that one."""
    result = TransferResult("upload")
    if not files:
        return result
    started = time.perf_counter()
    where: dict[str, tuple[str, int, int]] = {}
    owners: dict[str, list[str]] = {}
    for f, ix in files.items():
        for c in ix.chunks:
            where.setdefault(c.oid, (f, c.offset, c.size))
            owners.setdefault(c.oid, []).append(f)
    lacking = find_missing(remote, list(where), jobs, indexes=False)
    uploads = {c: where[c] for c in where if c in lacking}
    checks = _Confirmation(store, {f: files[f] for f in confirm if f in files}, {(f, o) for f, o, _n in uploads.values()})
    try:
        sent = upload_chunks(store, remote, uploads, jobs, sink)
    finally:
        checks.join()
    remote.flush()  # the chunks are durable before an index that vouches for them is visible
    result.bytes = sent.bytes
    bad: dict[str, tuple[str, FilerError]] = {}
    for f in checks.corrupt:
        rot = store.corrupt(f)
        bad[f] = (str(rot), rot)
    again = checks.stale - checks.corrupt
    for c_oid, why in sent.failures:
        if isinstance(sent.errors[c_oid], IntegrityError) and where[c_oid][0] in checks.files:
            again.update(f for f in owners[c_oid] if f not in bad)  # a recorded index, not the file, was wrong
            continue
        for f in owners.get(c_oid, []):
            bad.setdefault(f, (f"chunk {c_oid}: {why}", sent.errors[c_oid]))
    again -= bad.keys()
    _put_indexes(remote, {f: ix for f, ix in files.items() if f not in bad and f not in again}, jobs, result, bad)
    rederived: dict[str, ChunkIndex] = {}
    for f in sorted(again):
        store.remove_index(f)  # so that it is derived from the bytes, not read back
        index = store.checked_index(f)
        if index is None:
            rot = store.corrupt(f)
            bad[f] = (str(rot), rot)
        else:
            rederived[f] = index
    for f, (why, problem) in bad.items():
        result.failures.append((f, why))
        result.codes[f] = problem.exit_code
        result.errors[f] = problem
    result.seconds = time.perf_counter() - started
    if rederived:
        result.merge(push_chunked(store, remote, rederived, jobs, sink))
    return result


def _put_indexes(remote: Remote, files: dict[str, ChunkIndex], jobs: int, result: TransferResult, bad: dict[str, tuple[str, FilerError]]) -> None:
    """Write each file's index to the remote (its chunks already durable there), counting the
    file as sent, or recording why not in `bad`."""
    ready = list(files)
    retry = Retrier()

    def put(f: str) -> FilerError | None:
        try:
            retry.call(lambda: remote.put_index(f, files[f].encode()))
        except (RemoteError, DiskFullError):
            raise
        except FilerError as err:
            return err
        return None

    for f, err in zip(ready, _parallel(put, ready, jobs, retry), strict=True):
        if err is not None:
            bad[f] = (str(err), err)
            continue
        result.objects += 1
        result.logical_bytes += files[f].size


# Threads that hash and write chunks while the reader cuts the next ones (bench/bench_chunks.py,
# "new", other-fs: 1 thread left the push of a new file bound by hashing and writing in turn).
STREAM_WORKERS = 2


def push_streaming(
    store: ObjectStore, remote: Remote, oids: list[str], sizes: dict[str, int], jobs: int, sink: ProgressSink | None = None,
) -> TransferResult:
    """Send large cached files that have no recorded chunk index to a remote that answers
    "do you hold this object?" with a local stat (`Remote.cheap_exists`): one read of each
    file cuts it into chunks, hashes each chunk and writes those the remote lacks from the
    very bytes it hashed, while a second thread takes the whole file's digest. (Deriving the
    index first and sending after hashed every chunk twice: a new 1 GiB file took 1.5x as
    long to push to a remote on another filesystem as sending it whole.) Then, as in
    `push_chunked`: the chunks are made durable, and only then is each index written whose
    file hashed to its oid; the cache records it too."""
    result = TransferResult("upload")
    if not oids:
        return result
    started = time.perf_counter()
    lock = threading.Lock()
    derived: dict[str, ChunkIndex] = {}
    # Chunks written by this call: the remote keeps them under temp names until `flush`, so
    # `exists` cannot see them yet, and two versions pushed together share most of theirs.
    written: set[str] = set()

    def work(oid: str, progress: Callable[[int], None] | None) -> None:
        index, sent = _stream_chunks(store, remote, oid, progress, written)
        with lock:
            derived[oid] = index
            result.bytes += sent

    got = _run("upload", oids, sizes, 1, work, sink)
    result.failures, result.codes, result.errors = got.failures, got.codes, got.errors
    remote.flush()  # the chunks are durable before an index that vouches for them is visible
    bad: dict[str, tuple[str, FilerError]] = {}
    _put_indexes(remote, derived, jobs, result, bad)
    for f, (why, problem) in bad.items():
        result.failures.append((f, why))
        result.codes[f] = problem.exit_code
        result.errors[f] = problem
    for f, index in derived.items():
        store.verified.add(f)
        if store.index_chunks and f not in bad:
            try:
                store.put_index(f, index.encode())
            except (OSError, FilerError):
                pass  # derived again at the next push that needs it
    result.seconds = time.perf_counter() - started
    return result


def _stream_chunks(
    store: ObjectStore, remote: Remote, oid: str, progress: Callable[[int], None] | None, written: set[str],
) -> tuple[ChunkIndex, int]:
    """One file's chunks, cut, hashed and (those the remote lacks, and not in `written`) written
    in one read of its mapped bytes; its index, and the bytes written. A chunk joins `written`
    only once it is written. IntegrityError if the file does not hash to `oid` (the chunks
    written are then orphans, which gc collects)."""
    import mmap
    from collections import deque
    from concurrent.futures import Future

    from .chunks import Chunk, cut

    claimed: set[str] = set()  # this file's chunks some worker is writing: if one fails, so does the file
    lock = threading.Lock()

    def send(data: bytes) -> tuple[str, int]:
        c_oid = OID_PREFIX + hashlib.sha256(data).hexdigest()
        with lock:
            repeat = c_oid in written or c_oid in claimed
            claimed.add(c_oid)
        if repeat or remote.exists(c_oid):
            return c_oid, 0
        remote.upload_chunk(c_oid, data, hashed=True)
        with lock:
            written.add(c_oid)
        return c_oid, len(data)

    out: list[Chunk] = []
    sent = 0
    whole: list[str] = []
    with store.open(oid) as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        view = memoryview(mapped)
        digest = threading.Thread(target=lambda: whole.append(OID_PREFIX + hashlib.sha256(view).hexdigest()), name="gitfiler-hash")
        digest.start()
        pool = ThreadPoolExecutor(max_workers=STREAM_WORKERS, thread_name_prefix="gitfiler-chunk")
        pending: deque[tuple[int, int, Future[tuple[str, int]]]] = deque()

        def settle() -> None:
            nonlocal sent
            offset, size, fut = pending.popleft()
            c_oid, n = fut.result()
            out.append(Chunk(c_oid, offset, size))
            sent += n
            if progress:
                progress(size)

        try:
            for offset, size in cut(view):
                # A copy of the chunk: the bytes hashed are the bytes written, whatever the mapping does.
                pending.append((offset, size, pool.submit(send, bytes(view[offset:offset + size]))))
                while len(pending) > 2 * STREAM_WORKERS:
                    settle()
            while pending:
                settle()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            digest.join()
            view.release()  # the map closes only once no view of it is left
    if whole[0] != oid:
        raise store.corrupt(oid)
    return ChunkIndex(oid, sum(c.size for c in out), tuple(out)), sent


class _Confirmation:
    """Whether recorded chunk indexes describe their files, checked beside the upload that
    reads some of the same bytes: one thread hashes each file whole, another hashes each chunk
    the upload does not read (`uploaded`: (file, offset) pairs; an uploaded chunk is checked
    against its oid by the remote on the way in). hashlib releases the GIL, so on two cores a
    new file costs the upload plus one concurrent pass, not a second pass after it."""

    def __init__(self, store: ObjectStore, files: dict[str, ChunkIndex], uploaded: set[tuple[str, int]]) -> None:
        self.files = files
        self.corrupt: set[str] = set()
        self.stale: set[str] = set()
        self._store = store
        self._uploaded = uploaded
        self._crashed: list[BaseException] = []
        self._threads = [threading.Thread(target=self._guard, args=(job,), name="gitfiler-confirm") for job in (self._wholes, self._chunks)] if files else []
        for t in self._threads:
            t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join()
        if self._crashed:
            raise self._crashed[0]

    def _guard(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as err:  # re-raised by join, in the caller's thread
            self._crashed.append(err)

    def _wholes(self) -> None:
        for f in self.files:
            try:
                sound = self._store.verify(f)
            except (OSError, FilerError):
                sound = False  # gone or unreadable since push chose it: not sent as it stands
            if not sound:
                self.corrupt.add(f)

    def _chunks(self) -> None:
        for f, index in self.files.items():
            try:
                with self._store.open(f) as fh:
                    for c in index.chunks:
                        if (f, c.offset) in self._uploaded:
                            continue
                        data = os.pread(fh.fileno(), c.size, c.offset)
                        if len(data) != c.size or OID_PREFIX + hashlib.sha256(data).hexdigest() != c.oid:
                            self.stale.add(f)
                            break
            except (OSError, FilerError):
                self.stale.add(f)  # the whole-file check says whether the file itself is at fault


def fetch_indexes(remote: Remote, oids: list[str], sizes: dict[str, int], jobs: int, *, large_only: bool = True) -> dict[str, ChunkIndex]:
    """The chunk indexes the remote holds for the large objects among `oids` (every one with a
    declared size, unless `large_only`), checked strictly against each declared size. One
    without a usable index is fetched whole (a remote may hold both; one it does not hold at
    all is reported missing by that download)."""
    if not remote.supports_chunks:
        return {}
    large = [o for o in oids if o in sizes and (is_chunked_size(sizes[o]) or not large_only)]
    if not large:
        return {}
    retry = Retrier()

    def one(oid: str) -> ChunkIndex | None:
        try:
            data = retry.call(lambda: remote.get_index(oid, index_cap(sizes[oid])))
            if data is None:
                return None
            return decode_index(data, oid, sizes[oid], where=f"chunk index of {oid} in {remote.describe()}")
        except IntegrityError:
            return None  # a link or junk in its place, or a malformed index: not trusted, never followed

    found = _parallel(one, large, jobs, retry)
    return {o: ix for o, ix in zip(large, found, strict=True) if ix is not None}


def index_earlier(store: ObjectStore, oids: Iterable[str]) -> None:
    for oid in oids:
        if store.index_chunks and not store.has_index(oid):
            try:
                store.ensure_index(oid)  # nothing for a small file; checks the file's digest first
            except (FilerError, OSError):
                pass  # a damaged or vanished cached version is simply not reused


def cached_chunks(store: ObjectStore) -> dict[str, tuple[str, int]]:
    """Every chunk the cache holds inside a whole file it has an index for: chunk oid -> (file oid, offset).
    (Each use re-checks the chunk's digest, so a stale or wrong index costs a download, nothing worse.)"""
    out: dict[str, tuple[str, int]] = {}
    for oid in store.iter_indexes():
        try:
            ix = store.read_index(oid)
        except (FilerError, OSError):
            continue
        if ix is None or not store.has(oid, ix.size):
            continue
        for c in ix.chunks:
            out.setdefault(c.oid, (oid, c.offset))
    return out
