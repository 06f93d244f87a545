"""The transfer engine: parallel existence checks, uploads and downloads over any Remote.

Remotes stay synchronous and simple; all concurrency is here. Per-object
failures are collected, not fatal; a failure of the remote itself (unreachable,
denied, missing bucket) stops the run at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from .config import default_jobs  # noqa: F401  (re-exported for callers)
from .errors import DiskFullError, FilerError, RemoteError
from .objects import ObjectStore
from .remotes import Remote

class ProgressSink(Protocol):
    def start(self, label: str, total_objects: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finish(self) -> None: ...


@dataclass
class TransferResult:
    action: str
    objects: int = 0
    bytes: int = 0
    present: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: "TransferResult") -> None:
        self.objects += other.objects
        self.bytes += other.bytes
        self.present += other.present
        self.seconds += other.seconds
        self.failures += other.failures


def find_missing(remote: Remote, oids: Iterable[str], jobs: int) -> set[str]:
    """Which of `oids` the remote really lacks: listing for many, parallel HEADs for few."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return set()
    if len(wanted) > jobs and len(wanted) >= remote.list_threshold:
        listed = set(remote.list_oids())
        return {o for o in wanted if o not in listed}
    if len(wanted) == 1:
        return set() if remote.exists(wanted[0]) else set(wanted)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(jobs, len(wanted))) as pool:
        present = list(pool.map(remote.exists, wanted))
    return {o for o, p in zip(wanted, present) if not p}


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
    if sink:
        sink.start(action, len(oids), sum(sizes.get(o, 0) for o in oids))
    advance = sink.advance if sink else None

    def one(oid: str) -> None:
        if fatal:
            return
        try:
            work(oid, advance)
        except (RemoteError, DiskFullError) as err:
            # Every other object would fail the same way: stop at once.
            with lock:
                fatal.append(err)
            return
        except FilerError as err:
            with lock:
                result.failures.append((oid, str(err)))
            return
        with lock:
            result.objects += 1
            result.bytes += sizes.get(oid, 0)

    try:
        if len(oids) == 1 or jobs <= 1:
            for oid in oids:
                one(oid)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(jobs, len(oids))) as pool:
                list(pool.map(one, oids))
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
    return _run("download", oids, sizes, jobs, lambda oid, p: remote.download(oid, store, p, sizes.get(oid)), sink)
