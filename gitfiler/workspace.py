"""The work tree side: what is on disk now (via the stat cache), and placing
cache objects into the work tree without ever losing a user's changes."""

from __future__ import annotations

import hashlib
import os
import stat as statmod
import time
from dataclasses import dataclass, field

from . import manifest
from .errors import FilerError, UnsafePathError
from .links import try_reflink
from .manifest import ManifestEntry
from .objects import ObjectStore, digest_bytes, hash_file, temp_name_beside, TEMP_PREFIX
from .paths import is_within
from .project import Project
from .registry import Entry
from .state import stat_key


Scanned = tuple[str, os.stat_result]  # (path relative to the tracked directory, lstat of the file)


def scan_dir(project: Project, top: str) -> list[Scanned]:
    """Regular files below `top` (absolute), sorted; symlinks are refused unless they point into the cache.

    One lstat per file and nothing else: this is the whole cost of `status` on a large directory.
    """
    out: list[Scanned] = []
    cache_objects = os.path.join(project.cache_dir, "objects")
    S_ISREG, S_ISLNK = statmod.S_ISREG, statmod.S_ISLNK

    def walk(path: str, prefix: str) -> None:
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    walk(e.path, prefix + e.name + "/")
                    continue
                st = e.stat(follow_symlinks=False)
                if S_ISREG(st.st_mode):
                    if not e.name.startswith(TEMP_PREFIX):  # else: our own interrupted write
                        out.append((prefix + e.name, st))
                elif S_ISLNK(st.st_mode):
                    if not is_within(os.path.realpath(e.path), cache_objects):
                        raise UnsafePathError(
                            f"{e.path} is a symlink; gitfiler tracks regular files only (replace it with the file it points to)"
                        )
                    out.append((prefix + e.name, os.stat(e.path)))

    walk(top, "")
    out.sort(key=lambda item: item[0])
    return out


def hash_files(
    project: Project, items: list[tuple[str, os.stat_result]], *, store: ObjectStore | None = None, jobs: int = 8,
    prefix: str | None = None,
) -> dict[str, str]:
    """oid of each (repo-relative path, stat) pair, re-hashing only what the stat cache cannot vouch for.

    With `store`, files that are hashed are copied into it in the same pass.
    """
    if not items:
        return {}
    state = project.state
    # `prefix`: every item lies below this directory, so one range query fetches them all.
    known = state.stat_under(prefix) if prefix else state.stat_lookup(p for p, _ in items)
    result: dict[str, str] = {}
    todo: list[tuple[str, os.stat_result]] = []
    for rel, st in items:
        oid = state.trusted(known.get(rel), stat_key(st))
        if oid is not None and (store is None or store.has(oid)):
            result[rel] = oid
        else:
            todo.append((rel, st))

    def one(item: tuple[str, os.stat_result]) -> tuple[str, tuple[int, int, int], str]:
        rel, st = item
        path = project.abspath(rel)
        if store is not None:
            oid = store.write_file(path).oid
        else:
            oid, _ = hash_file(path)
        after = os.stat(path)
        if stat_key(after) != stat_key(st):
            raise FilerError(f"{rel} changed while it was being read; retry when it is no longer being written")
        return rel, stat_key(st), oid

    if len(todo) > 1 and jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(one, todo))
    else:
        done = [one(t) for t in todo]
    state.stat_store(done)
    for rel, _key, oid in done:
        result[rel] = oid
    return result


@dataclass
class Current:
    """What the work tree holds for an artifact now."""

    exists: bool
    oid: str | None = None
    size: int = 0
    files: int | None = None
    entries: list[ManifestEntry] = field(default_factory=list)
    manifest_bytes: bytes | None = None


def current(project: Project, artifact: str, *, store: ObjectStore | None = None, jobs: int = 8) -> Current:
    """Hash (or recall) what is at `artifact` now; with `store`, also copy new content into it."""
    path = project.abspath(artifact)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Current(exists=False)
    if statmod.S_ISDIR(st.st_mode):
        scanned = scan_dir(project, path)
        # A directory whose every (path, inode, size, mtime, mode) is as last seen has the same manifest.
        facts = [(rel, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode) for rel, st in scanned]
        sig = hashlib.sha256(repr(facts).encode("utf-8", "surrogateescape")).hexdigest()
        newest = max((f[3] for f in facts), default=0)
        if store is None:
            known = project.state.dir_get(artifact, sig, newest)
            if known is not None:
                oid, size, count = known
                return Current(True, oid, size, count)
        oids = hash_files(project, [(f"{artifact}/{rel}", st) for rel, st in scanned], store=store, jobs=jobs, prefix=artifact)
        entries = [
            ManifestEntry(rel, oids[f"{artifact}/{rel}"], st.st_size, bool(st.st_mode & statmod.S_IXUSR))
            for rel, st in scanned
        ]
        data = manifest.encode(entries)
        result = Current(True, digest_bytes(data), sum(e.size for e in entries), len(entries), entries, data)
        project.state.dir_store(artifact, sig, newest, result.oid or "", result.size, len(entries))
        return result
    oid = hash_files(project, [(artifact, st)], store=store)[artifact]
    return Current(True, oid, st.st_size)


def current_many(project: Project, artifacts: list[str]) -> dict[str, Current]:
    """`current` for many artifacts, with one stat-cache query for all plain files."""
    out: dict[str, Current] = {}
    files: list[tuple[str, os.stat_result]] = []
    for rel in artifacts:
        try:
            st = os.stat(project.abspath(rel))
        except FileNotFoundError:
            out[rel] = Current(exists=False)
            continue
        if statmod.S_ISDIR(st.st_mode):
            out[rel] = current(project, rel)
        else:
            files.append((rel, st))
    oids = hash_files(project, files)
    for rel, st in files:
        out[rel] = Current(True, oids[rel], st.st_size)
    return out


# -- hydration ---------------------------------------------------------------------------


@dataclass
class HydrateReport:
    todo: list[tuple[str, str, bool, int]] = field(default_factory=list)  # (oid, path, executable, size) to place
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # user-modified files left alone
    unchanged: int = 0
    bytes: int = 0


def load_manifest(store: ObjectStore, entry: Entry) -> list[ManifestEntry]:
    data = store.read_verified(entry.oid)
    return manifest.decode(data, f"{entry.registry} (manifest {entry.oid})")


def _safe_target(project: Project, rel: str) -> str:
    """The absolute target for `rel`, its directory created; refuses directories that a
    symlink leads out of the work tree (invariant 5). Checked once per directory."""
    target = project.abspath(rel)
    parent = os.path.dirname(target)
    if parent in project.safe_dirs:
        return target
    probe = parent
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not is_within(probe, project.root):
        raise UnsafePathError(f"{rel}: its directory leads outside the repository through a symlink; refusing to write there")
    os.makedirs(parent, exist_ok=True)
    if not is_within(parent, project.root):
        raise UnsafePathError(f"{rel}: its directory leads outside the repository through a symlink; refusing to write there")
    project.safe_dirs.add(parent)
    return target


def place(project: Project, oid: str, rel: str, *, executable: bool = False, strategy: str | None = None) -> None:
    """Write cache object `oid` at repo-relative `rel` atomically (temp beside, then rename)."""
    store = project.store
    target = _safe_target(project, rel)
    tmp = temp_name_beside(target)
    how = strategy or project.config.checkout
    try:
        if how in ("hardlink", "symlink"):
            store.check(oid)
            if how == "hardlink":
                os.link(store.path(oid), tmp)
            else:
                os.symlink(store.path(oid), tmp)
        else:
            cloned = how in ("auto", "reflink") and oid in store.verified and try_reflink(store.path(oid), tmp)
            if not cloned:
                store.copy_out(oid, tmp)
            os.chmod(tmp, 0o755 if executable else 0o644)
        try:
            os.replace(tmp, target)
        except IsADirectoryError:
            raise FilerError(f"{rel} is a directory in the work tree but a file in the registry; move it away and retry") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _replaceable(project: Project, rel: str, st: os.stat_result, wanted: str, force: bool, previous: dict[str, str]) -> tuple[bool, bool]:
    """(needs_write, allowed) for an existing work tree file."""
    have = hash_files(project, [(rel, st)])[rel]
    if have == wanted:
        return False, True
    if force:
        return True, True
    return True, have in (project.state.hydrated_get(rel), previous.get(rel))


def hydrate(
    project: Project, entry: Entry, *, force: bool = False, manifest_entries: list[ManifestEntry] | None = None,
    previous: dict[str, str] | None = None,
) -> HydrateReport:
    """Bring the work tree to `entry`, keeping every file a user changed (unless `force`)."""
    report = plan(project, entry, force=force, manifest_entries=manifest_entries, previous=previous)
    apply(project, [report])
    return report


def apply(project: Project, reports: list[HydrateReport], jobs: int = 8) -> None:
    """Place every planned file (in parallel: the work is I/O) and record what was written."""
    todo = [t for r in reports for t in r.todo]
    if not todo:
        return

    def one(item: tuple[str, str, bool, int]) -> None:
        oid, rel, executable, _size = item
        place(project, oid, rel, executable=executable)

    # Threads pay off for large files (the copy releases the GIL); small ones are faster in line.
    if len(todo) > 1 and jobs > 1 and sum(t[3] for t in todo) > 64 * 1024 * 1024:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
    else:
        for item in todo:
            one(item)
    _record(project, [(rel, oid) for oid, rel, _x, _s in todo])
    for r in reports:
        r.written += [rel for _oid, rel, _x, _s in r.todo]
        r.bytes += sum(size for *_rest, size in r.todo)
        r.todo = []


def plan(
    project: Project, entry: Entry, *, force: bool = False, manifest_entries: list[ManifestEntry] | None = None,
    previous: dict[str, str] | None = None,
) -> HydrateReport:
    """Decide what hydrating `entry` writes, keeps and removes; writes nothing but stale removals.

    A file counts as unchanged when its content has the oid gitfiler last placed
    there, or the oid `previous` gives for it (the registry of the commit being left).
    """
    report = HydrateReport()
    previous = previous or {}
    state = project.state
    if entry.kind == "file":
        target = project.abspath(entry.artifact)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is not None and statmod.S_ISDIR(st.st_mode):
            report.kept.append(entry.artifact)
            return report
        if st is not None:
            needed, allowed = _replaceable(project, entry.artifact, st, entry.oid, force, previous)
            if not needed:
                report.unchanged += 1
                state.hydrated_set([(entry.artifact, entry.oid)])
                return report
            if not allowed:
                report.kept.append(entry.artifact)
                return report
        report.todo.append((entry.oid, entry.artifact, False, entry.size))
        return report

    wanted = manifest_entries if manifest_entries is not None else load_manifest(project.store, entry)
    top = project.abspath(entry.artifact)
    if os.path.isfile(top):
        report.kept.append(entry.artifact)
        return report
    existing = dict(scan_dir(project, top)) if os.path.isdir(top) else {}
    have = hash_files(project, [(f"{entry.artifact}/{r}", st) for r, st in existing.items()], prefix=entry.artifact)
    hydrated = state.hydrated_under(entry.artifact) if existing else {}
    wanted_paths = set()
    for m in wanted:
        rel = f"{entry.artifact}/{m.path}"
        wanted_paths.add(m.path)
        st = existing.get(m.path)
        if st is not None:
            cur = have[rel]
            exec_ok = bool(st.st_mode & statmod.S_IXUSR) == m.exec
            if cur == m.oid and exec_ok:
                report.unchanged += 1
                continue
            if cur != m.oid and not force and cur not in (hydrated.get(rel), previous.get(rel)):
                report.kept.append(rel)
                continue
        report.todo.append((m.oid, rel, m.exec, m.size))
    # Files from an older version that we placed and nobody touched go; anything else stays.
    stale = []
    for r in existing:
        rel = f"{entry.artifact}/{r}"
        if r not in wanted_paths and (force or have[rel] in (hydrated.get(rel), previous.get(rel))):
            os.unlink(project.abspath(rel))
            stale.append(rel)
    report.removed = stale
    if stale:
        state.hydrated_forget(stale)
    return report


# Files gitfiler writes get an mtime this far in the past. Any later write by the user
# then moves the mtime past what the stat cache recorded, so the record can be trusted
# at once instead of being "racily clean" (same-tick edits invisible to stat).
PLACED_MTIME_AGE_NS = 2_000_000_000


def _record(project: Project, placed: list[tuple[str, str]]) -> None:
    """Remember what we wrote: it may be replaced later, and need not be re-hashed."""
    if not placed:
        return
    rows = []
    for rel, oid in placed:
        path = project.abspath(rel)
        try:
            past = time.time_ns() - PLACED_MTIME_AGE_NS
            os.utime(path, ns=(past, past), follow_symlinks=False)
            rows.append((rel, stat_key(os.stat(path)), oid))
        except FileNotFoundError:
            continue
    project.state.stat_store(rows)
    project.state.hydrated_set(placed)


def retire(project: Project, entry: Entry) -> HydrateReport:
    """Remove an artifact whose registry file is gone (a branch switch), as git removes
    tracked files: only what still holds the bytes gitfiler placed; changed files stay."""
    report = HydrateReport()
    state = project.state
    if entry.kind == "file":
        files = [(entry.artifact, entry.oid)]
    elif project.store.has(entry.oid):
        files = [(f"{entry.artifact}/{m.path}", m.oid) for m in load_manifest(project.store, entry)]
    else:
        return report  # without the manifest we cannot tell ours from the user's: keep all
    present = []
    for rel, oid in files:
        try:
            st = os.lstat(project.abspath(rel))
        except FileNotFoundError:
            continue
        if statmod.S_ISREG(st.st_mode):
            present.append((rel, oid, st))
    have = hash_files(project, [(rel, st) for rel, _oid, st in present])
    for rel, oid, _st in present:
        if have[rel] in (oid, state.hydrated_get(rel)):
            os.unlink(project.abspath(rel))
            report.removed.append(rel)
        else:
            report.kept.append(rel)
    if entry.kind == "dir":
        top = project.abspath(entry.artifact)
        for dirpath, _dirs, _files in sorted(os.walk(top, topdown=False), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)  # only empty ones go
            except OSError:
                pass
    state.hydrated_forget(report.removed)
    return report
