"""`fsck`: re-hash every cache object and report the ones whose bytes do not match their name."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from ..project import Project

# Hashing is CPU-bound: past a few threads they only contend (2-core CI machines are common).
HASH_JOBS = 4


@dataclass
class FsckResult:
    checked: int = 0
    bytes: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (oid, path)
    removed: list[str] = field(default_factory=list)
    temps_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "bytes": self.bytes, "corrupt": [{"oid": o, "path": p} for o, p in self.corrupt], "removed": self.removed}

    def failure(self) -> IntegrityError | None:
        """The error the run ends with: corrupt objects found, saying what to do next."""
        if not self.corrupt:
            return None
        left = [o for o, _ in self.corrupt if o not in self.removed]
        if left:
            return IntegrityError(f"{len(self.corrupt)} corrupt object(s) in the cache; rerun with --remove-corrupt, then 'git filer pull'")
        return IntegrityError(f"{len(self.corrupt)} corrupt object(s) found and removed from the cache; run 'git filer pull' to fetch good copies")


def fsck(project: Project, *, jobs: int | None = None, remove: bool = False) -> FsckResult:
    jobs = jobs or HASH_JOBS
    store = project.store
    oids = list(store.iter_oids())
    result = FsckResult(checked=len(oids))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for oid, ok in zip(oids, pool.map(store.verify, oids), strict=True):
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
