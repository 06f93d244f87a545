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

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from . import env
from .config import default_jobs  # noqa: F401  (re-exported for callers)
from .errors import DiskFullError, FilerError, IntegrityError, RemoteError, TransientRemoteError
from .objects import ObjectStore
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

    def merge(self, other: TransferResult) -> None:
        self.objects += other.objects
        self.bytes += other.bytes
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


def find_missing(remote: Remote, oids: Iterable[str], jobs: int) -> set[str]:
    """Which of `oids` the remote really lacks: listing for many, parallel HEADs for few."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return set()
    retry = Retrier()
    if len(wanted) > jobs and len(wanted) >= retry.call(lambda: remote.list_threshold):
        listed = retry.call(lambda: set(remote.list_oids()))
        return {o for o in wanted if o not in listed}
    present = _parallel(lambda o: retry.call(lambda: remote.exists(o)), wanted, jobs, retry)
    return {o for o, p in zip(wanted, present, strict=True) if not p}


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


def download(store: ObjectStore, remote: Remote, oids: list[str], sizes: dict[str, int], jobs: int, sink: ProgressSink | None = None) -> TransferResult:
    """`sizes` holds each file object's declared size, a hard cap on what is read; an oid
    without one is a directory manifest, capped at objects.MAX_MANIFEST_BYTES by the remote."""
    return _run("download", oids, sizes, jobs, lambda oid, p: remote.download(oid, store, p, sizes.get(oid)), sink)
