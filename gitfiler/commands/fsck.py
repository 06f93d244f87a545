"""`fsck`: re-hash every cache object and report the ones whose bytes do not match their name."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..chunks import verify_chunk
from ..errors import FilerError, IntegrityError
from ..objects import CHUNK, OID_PREFIX, ObjectStore
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
    # Chunk indexes that did not match their file (or had none left), and were rebuilt or dropped:
    # an index is derived from the file, so this repairs rather than fails.
    bad_indexes: list[tuple[str, str]] = field(default_factory=list)  # (file oid, why)

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked, "bytes": self.bytes, "corrupt": [{"oid": o, "path": p} for o, p in self.corrupt], "removed": self.removed,
            "bad_indexes": [{"oid": o, "why": w} for o, w in self.bad_indexes],
        }

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
    indexed = set(store.iter_indexes())

    def check(oid: str) -> tuple[bool, str | None]:
        if oid in indexed:
            return _verify_indexed(store, oid)
        return store.verify(oid), None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for oid, (ok, index_problem) in zip(oids, pool.map(check, oids), strict=True):
            result.bytes += store.size(oid)
            if not ok:
                result.corrupt.append((oid, store.path(oid)))
            elif index_problem is not None:
                result.bad_indexes.append((oid, index_problem))
                store.remove_index(oid)
                store.ensure_index(oid)
    for oid in indexed - set(oids):
        result.bad_indexes.append((oid, "its file is not in the cache"))
        store.remove_index(oid)
    if remove:
        for oid, _ in result.corrupt:
            store.remove(oid)
            result.removed.append(oid)
    # Temp files of killed processes, in the cache and in the work tree's area under the git dir.
    from ..tempfiles import area

    result.temps_removed = store.clean_temp() + area(project.temp_base).sweep()
    return result


def _verify_indexed(store: ObjectStore, oid: str) -> tuple[bool, str | None]:
    """(whole file ok, what is wrong with its index) in one read: the whole-file digest, the
    index's consistency (decodes strictly, sizes sum to the file's size) and every chunk's digest."""
    import hashlib

    try:
        index = store.read_index(oid, store.size(oid))
    except FilerError as err:
        return store.verify(oid), str(err)
    if index is None:
        return store.verify(oid), None
    whole = hashlib.sha256()
    problem: str | None = None
    try:
        with store.open(oid) as f:
            for c in index.chunks:
                data = f.read(c.size)
                whole.update(data)
                if problem is None and not verify_chunk(c.oid, data):
                    problem = f"chunk {c.oid} at offset {c.offset} does not match the file's bytes"
            while rest := f.read(CHUNK):
                whole.update(rest)
    except IntegrityError:
        return False, None
    ok = OID_PREFIX + whole.hexdigest() == oid
    if ok:
        store.verified.add(oid)
    return ok, problem
