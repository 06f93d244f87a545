"""`fsck`: re-hash every cache object and report the ones whose bytes do not match their name."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..project import Project


@dataclass
class FsckResult:
    checked: int = 0
    bytes: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (oid, path)
    removed: list[str] = field(default_factory=list)
    temps_removed: int = 0


def fsck(project: Project, *, jobs: int = 4, remove: bool = False) -> FsckResult:
    store = project.store
    oids = list(store.iter_oids())
    result = FsckResult(checked=len(oids))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for oid, ok in zip(oids, pool.map(store.verify, oids)):
            result.bytes += store.size(oid)
            if not ok:
                result.corrupt.append((oid, store.path(oid)))
    if remove:
        for oid, _ in result.corrupt:
            store.remove(oid)
            result.removed.append(oid)
    # Temp files of killed processes, in the cache and in the work tree's area under the git dir.
    from ..tempfiles import area

    result.temps_removed = store.clean_temp() + area(project.temp_base).sweep()
    return result
