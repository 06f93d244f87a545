"""The work tree side: what is on disk now (via the stat cache), and placing
cache objects into the work tree without ever losing a user's changes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat as statmod
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import git, manifest
from .closure import Closure, Item, ManifestUnavailable
from .closure import of as of_entry
from .errors import DiskFullError, FilerError, UnsafePathError
from .fsutil import TEMP_PREFIX, is_disk_full
from .ignorefile import filer_ignored, rule_files, unignore_patterns
from .links import try_reflink
from .manifest import ManifestEntry
from .objects import ObjectStore, digest_bytes, hash_stream
from .paths import is_within
from .registry import Entry
from .state import State, stat_key
from .treefs import TreeFS


class WorkTree(Protocol):
    """What this module needs of a project: its tree, cache, state and checkout strategy
    (a `Project` is one; the module does not depend on how it is configured)."""

    root: str
    git_dir: str | None
    common_dir: str | None

    @property
    def tree(self) -> TreeFS: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def state(self) -> State: ...
    @property
    def cache_dir(self) -> str: ...
    @property
    def checkout(self) -> str: ...
    def abspath(self, rel: str) -> str: ...
    def relpath(self, path: str) -> str: ...


Scanned = tuple[str, os.stat_result]  # (path relative to the tracked directory, lstat of the file)


def _into_cache(project: WorkTree, path: str) -> bool:
    """A link gitfiler itself placed (checkout strategy `symlink`) points at a cache object."""
    return is_within(os.path.realpath(path), os.path.join(project.cache_dir, "objects"))


def scan_dir(project: WorkTree, top: str) -> list[Scanned]:
    """Regular files below `top` (absolute; the caller checked it is a real directory), sorted.
    Links are refused unless they point into the cache; the walk never follows one.

    One lstat per file and nothing else: this is the whole cost of `status` on a large directory.
    """
    out: list[Scanned] = []
    S_ISREG, S_ISLNK = statmod.S_ISREG, statmod.S_ISLNK

    def walk(path: str, prefix: str) -> None:
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    walk(e.path, prefix + e.name + "/")
                    continue
                st = e.stat(follow_symlinks=False)
                if S_ISREG(st.st_mode):
                    if not e.name.startswith(TEMP_PREFIX):  # else: an interrupted write of an older version
                        out.append((prefix + e.name, st))
                elif S_ISLNK(st.st_mode):
                    if not _into_cache(project, e.path):
                        raise UnsafePathError(
                            f"{project.relpath(e.path)} is a symlink; gitfiler tracks regular files only and never follows a link "
                            "(replace it with the file it points to, or remove it)"
                        )
                    out.append((prefix + e.name, os.stat(e.path)))

    walk(top, "")
    out.sort(key=lambda item: item[0])
    return out


_U64 = (1 << 64) - 1


def _dir_signature(scanned: list[Scanned], rules: list[tuple[int, int, int] | None]) -> tuple[str, int]:
    """(digest of every file's path, inode, size, mtime and mode and of the ignore rules' state;
    the newest mtime). The numbers are hashed as one packed array: this runs on every `status`
    and costs a third of a repr of the same tuples."""
    from array import array

    h = hashlib.sha256("\0".join([rel for rel, _ in scanned]).encode("utf-8", "surrogateescape"))
    mtimes = [st.st_mtime_ns for _, st in scanned]
    # Unsigned 64-bit: inodes may use the top bit, and a mtime before 1970 is negative (masked).
    numbers = array("Q", [n & _U64 for _, st in scanned for n in (st.st_ino, st.st_size, st.st_mode)])
    h.update(numbers.tobytes())
    h.update(array("Q", [m & _U64 for m in mtimes]).tobytes())
    h.update(repr(rules).encode())
    return h.hexdigest(), max(mtimes, default=0)


def _rules_sig(project: WorkTree, artifact: str) -> list[tuple[int, int, int] | None]:
    """What the ignore files outside `artifact` look like now (a few lstats): a change to one
    of them must invalidate the directory's remembered manifest."""
    out: list[tuple[int, int, int] | None] = []
    paths = [project.abspath(rel) for rel in rule_files(artifact)]
    if project.common_dir:
        paths.append(os.path.join(project.common_dir, "info", "exclude"))
    for path in paths:
        try:
            st = os.lstat(path)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return out


def drop_ignored(project: WorkTree, artifact: str, scanned: list[Scanned]) -> tuple[list[Scanned], int]:
    """`scanned` without the files git ignores (as if `artifact` itself were not ignored:
    gitfiler's own line ignores the whole directory) and those a `.filerignore` lists;
    with how many were left out. One git call, made only when there are files."""
    if not scanned:
        return scanned, 0
    skip = filer_ignored(project.tree, artifact, (rel for rel, _ in scanned))
    if project.git_dir is not None:
        prefix = artifact + "/"
        skip.update(p[len(prefix):] for p in git.ignored_below(project.root, artifact, unignore_patterns(artifact)) if p.startswith(prefix))
    if not skip:
        return scanned, 0
    kept = [item for item in scanned if item[0] not in skip]
    return kept, len(scanned) - len(kept)


def _open_content(project: WorkTree, rel: str):  # -> BinaryIO
    """The bytes at `rel`: a regular file, or a cache object that a `symlink` checkout linked there."""
    st = project.tree.lstat(rel)
    if st is not None and statmod.S_ISLNK(st.st_mode) and _into_cache(project, project.abspath(rel)):
        return open(os.path.realpath(project.abspath(rel)), "rb")
    return project.tree.open_read(rel)


def hash_files(
    project: WorkTree, items: list[tuple[str, os.stat_result]], *, store: ObjectStore | None = None, jobs: int = 8,
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
        with _open_content(project, rel) as f:
            oid = store.write_open(f).oid if store is not None else hash_stream(f)[0]
            after = os.fstat(f.fileno())
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
    skipped: int = 0  # files of a directory left out by ignore rules


def current(project: WorkTree, artifact: str, *, store: ObjectStore | None = None, jobs: int = 8, listing: bool = False) -> Current:
    """Hash (or recall) what is at `artifact` now; with `store`, also copy new content into it.
    With `listing`, a directory's `entries` are filled in even when its signature vouches for
    its oid (each file's oid still comes from the stat cache when it can).

    A link that gitfiler did not place is never followed: it is reported as present with no oid
    (so never "unchanged")."""
    st = project.tree.lstat(artifact)
    if st is None:
        return Current(exists=False)
    if statmod.S_ISLNK(st.st_mode):
        if not _into_cache(project, project.abspath(artifact)):
            return Current(exists=True)
        st = os.stat(project.abspath(artifact))
    if statmod.S_ISDIR(st.st_mode):
        scanned = scan_dir(project, project.abspath(artifact))
        # A directory whose every (path, inode, size, mtime, mode) is as last seen has the same manifest.
        # What the ignore files above it hold is part of that too; all files (ignored ones too)
        # count, so nothing but lstats is spent while nothing changes.
        sig, newest = _dir_signature(scanned, _rules_sig(project, artifact))
        if store is None and not listing:
            known = project.state.dir_get(artifact, sig, newest)
            if known is not None:
                oid, size, count = known
                return Current(True, oid, size, count)
        scanned, skipped = drop_ignored(project, artifact, scanned)
        oids = hash_files(project, [(f"{artifact}/{rel}", st) for rel, st in scanned], store=store, jobs=jobs, prefix=artifact)
        entries = [
            ManifestEntry(rel, oids[f"{artifact}/{rel}"], st.st_size, bool(st.st_mode & statmod.S_IXUSR))
            for rel, st in scanned
        ]
        data = manifest.encode(entries)
        result = Current(True, digest_bytes(data), sum(e.size for e in entries), len(entries), entries, data, skipped)
        project.state.dir_store(artifact, sig, newest, result.oid or "", result.size, len(entries))
        return result
    if not statmod.S_ISREG(st.st_mode):
        return Current(exists=True)  # a FIFO or device: never read
    oid = hash_files(project, [(artifact, st)], store=store)[artifact]
    return Current(True, oid, st.st_size)


def current_many(project: WorkTree, artifacts: list[str]) -> dict[str, Current]:
    """`current` for many artifacts, with one stat-cache query for all plain files."""
    out: dict[str, Current] = {}
    files: list[tuple[str, os.stat_result]] = []
    for rel in artifacts:
        st = project.tree.lstat(rel)
        if st is None:
            out[rel] = Current(exists=False)
        elif statmod.S_ISREG(st.st_mode):
            files.append((rel, st))
        else:
            out[rel] = current(project, rel)
    oids = hash_files(project, files)
    for rel, st in files:
        out[rel] = Current(True, oids[rel], st.st_size)
    return out


def only_files_absent(project: WorkTree, entry: Entry) -> bool:
    """A directory artifact that differs from its registry only by files that are not there:
    every file present is one its manifest lists, unchanged (a pull narrowed to some files by
    -I/-X, or files deleted). It is missing files, not modified: recording it with `add` would
    drop them from the registry. False when that cannot be told (no manifest in the cache)."""
    if entry.kind != "dir":
        return False
    try:
        wanted = {i.path: i for i in of_entry(project.store, entry).files}
        st = project.tree.lstat(entry.artifact)
        if st is None or not statmod.S_ISDIR(st.st_mode):
            return False
        everything = scan_dir(project, project.abspath(entry.artifact))
        kept, skipped = drop_ignored(project, entry.artifact, everything)
        scanned = [(f"{entry.artifact}/{rel}", seen) for rel, seen in kept]
        if len(scanned) >= len(wanted) or any(rel not in wanted for rel, _ in scanned):
            return False
        # A recorded file that is there but now ignored is a changed rule, not an absent file.
        if skipped and len(wanted.keys() & {f"{entry.artifact}/{rel}" for rel, _ in everything}) > len(scanned):
            return False
        oids = hash_files(project, scanned, prefix=entry.artifact)
    except FilerError:
        return False
    return all(
        oids[rel] == wanted[rel].oid and bool(seen.st_mode & statmod.S_IXUSR) == wanted[rel].executable for rel, seen in scanned
    )


# -- hydration ---------------------------------------------------------------------------


@dataclass
class HydrateReport:
    todo: list[Item] = field(default_factory=list)  # objects to place
    remove: list[str] = field(default_factory=list)  # files of an older version to delete
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # user-modified files left alone
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, why) that cannot be hydrated at all
    unchanged: int = 0
    bytes: int = 0


def _place_error(project: WorkTree, rel: str, err: OSError) -> FilerError:
    if is_disk_full(err):
        return DiskFullError(f"no space left on the device holding the work tree {project.root}; free some space and retry")
    if err.errno == errno.EISDIR:
        return FilerError(f"{rel} is a directory in the work tree but a file in the registry; move it away and retry")
    if err.errno == errno.ENAMETOOLONG:
        return FilerError(f"{rel}: the name is too long for this filesystem; rename the artifact in the repository")
    return FilerError(f"{rel}: cannot write it ({err.strerror}); check the path and its permissions and retry")


def place(project: WorkTree, oid: str, rel: str, *, executable: bool = False, strategy: str | None = None) -> None:
    """Write cache object `oid` at repo-relative `rel` atomically: prepared in the temp area,
    then renamed over the target. No directory on the way may be a link."""
    store = project.store
    how = strategy or project.checkout

    def fill(tmp: str) -> None:
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
        project.tree.publish(rel, fill)
    except DiskFullError:
        raise _place_error(project, rel, OSError(errno.ENOSPC, "no space")) from None
    except OSError as err:
        raise _place_error(project, rel, err) from None


def may_replace(have: str | None, wanted: str, *, force: bool, placed: str | None, previous: str | None) -> bool | None:
    """The one rule for touching a work-tree file (invariant 3): None when it already holds
    `wanted`; True when it may be replaced or removed (it still holds what gitfiler placed
    there or what the commit being left recorded, or `force`); False when it is the user's."""
    if have is not None and have == wanted:
        return None
    if force:
        return True
    return have is not None and have in (placed, previous)


def apply(project: WorkTree, reports: list[HydrateReport], jobs: int = 8) -> None:
    """Carry out plans: place every planned file (in parallel: the work is I/O), then remove the
    stale files of older versions, and record what was written. Every write and removal goes
    through `project.tree`, which refuses to follow a link."""
    todo = [t for r in reports for t in r.todo]

    def one(item: Item) -> None:
        place(project, item.oid, item.path, executable=item.executable)

    # Threads pay off for large files (the copy releases the GIL); small ones are faster in line.
    if len(todo) > 1 and jobs > 1 and sum(t.size for t in todo) > 64 * 1024 * 1024:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
    else:
        for item in todo:
            one(item)
    _record(project, [(t.path, t.oid) for t in todo])
    for r in reports:
        r.written += [t.path for t in r.todo]
        r.bytes += sum(t.size for t in r.todo)
        r.todo = []
        gone = [rel for rel in r.remove if project.tree.unlink(rel)]
        r.removed += gone
        r.remove = []
        if gone:
            project.state.hydrated_forget(gone)


def plan(
    project: WorkTree, closure: Closure, *, force: bool = False, previous: dict[str, str] | None = None,
    only: Callable[[str], bool] | None = None,
) -> HydrateReport:
    """Decide what hydrating `closure`'s artifact writes, keeps and removes. Writes nothing.

    A file counts as unchanged when its content has the oid gitfiler last placed
    there, or the oid `previous` gives for it (the registry of the commit being left).
    Every path is looked at without following links (`project.tree`); a link where the
    artifact or one of its directories belongs is a problem, whatever `force` says.
    `only`: inside a directory, the files (repo-relative paths) this run is about, as
    `pull -I 'data/images/*.png'` chooses them; any other file is not looked at at all:
    not written, not removed, not reported as kept.
    """
    report = HydrateReport()
    entry = closure.entry
    previous = previous or {}
    state = project.state
    try:
        st = project.tree.lstat(entry.artifact)
    except UnsafePathError as err:
        report.problems.append((entry.artifact, str(err)))
        return report
    if entry.kind == "file":
        if st is not None and statmod.S_ISDIR(st.st_mode):
            report.problems.append((entry.artifact, "is a directory in the work tree but a file in the registry; move it away and retry"))
            return report
        if st is not None:
            have = current(project, entry.artifact).oid
            decision = may_replace(have, entry.oid, force=force, placed=state.hydrated_get(entry.artifact), previous=previous.get(entry.artifact))
            if decision is None:
                report.unchanged += 1
                state.hydrated_set([(entry.artifact, entry.oid)])
                return report
            if not decision:
                report.kept.append(entry.artifact)
                return report
        report.todo += closure.files
        return report

    if st is not None and statmod.S_ISLNK(st.st_mode):
        report.problems.append((entry.artifact, "is a symlink where the registry wants a directory; gitfiler never follows it (remove the link and retry)"))
        return report
    if st is not None and not statmod.S_ISDIR(st.st_mode):
        report.problems.append((entry.artifact, "is a file in the work tree but a directory in the registry; move it away and retry"))
        return report
    try:
        existing = dict(scan_dir(project, project.abspath(entry.artifact))) if st is not None else {}
    except UnsafePathError as err:
        report.problems.append((entry.artifact, str(err)))
        return report
    prefix = f"{entry.artifact}/"
    files = closure.files
    if only is not None:
        existing = {r: seen for r, seen in existing.items() if only(prefix + r)}
        files = tuple(i for i in files if only(i.path))
    hashes = hash_files(project, [(f"{entry.artifact}/{r}", s) for r, s in existing.items()], prefix=entry.artifact)
    hydrated = state.hydrated_under(entry.artifact) if existing else {}
    wanted_paths = set()
    for item in files:
        rel = item.path
        inner = rel.removeprefix(prefix)
        wanted_paths.add(inner)
        s = existing.get(inner)
        if s is not None:
            exec_ok = bool(s.st_mode & statmod.S_IXUSR) == item.executable
            decision = may_replace(hashes[rel], item.oid, force=force, placed=hydrated.get(rel), previous=previous.get(rel))
            if decision is None and exec_ok:
                report.unchanged += 1
                continue
            if decision is False:
                report.kept.append(rel)
                continue
        report.todo.append(item)
    # Files from an older version that we placed and nobody touched go; anything else stays.
    for r in existing:
        rel = f"{prefix}{r}"
        if r not in wanted_paths and may_replace(hashes[rel], "", force=force, placed=hydrated.get(rel), previous=previous.get(rel)):
            report.remove.append(rel)
    return report


# Files gitfiler writes get an mtime this far in the past. Any later write by the user
# then moves the mtime past what the stat cache recorded, so the record can be trusted
# at once instead of being "racily clean" (same-tick edits invisible to stat).
PLACED_MTIME_AGE_NS = 2_000_000_000


def _record(project: WorkTree, placed: list[tuple[str, str]]) -> None:
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


def retire(project: WorkTree, entry: Entry) -> HydrateReport:
    """Remove an artifact whose registry file is gone (a branch switch), as git removes
    tracked files: only what still holds the bytes gitfiler placed; changed files stay.
    A link in the artifact's place, or on the way to it, means git put something else
    there: nothing is followed or removed."""
    report = HydrateReport()
    state = project.state
    try:
        files = of_entry(project.store, entry).paths()
    except ManifestUnavailable:
        return report  # without the manifest we cannot tell ours from the user's: keep all
    present = []
    for rel, oid in files.items():
        try:
            st = project.tree.lstat(rel)
        except UnsafePathError:
            continue
        if st is not None and statmod.S_ISREG(st.st_mode):
            present.append((rel, oid, st))
    have = hash_files(project, [(rel, st) for rel, _oid, st in present])
    for rel, oid, _st in present:
        if may_replace(have[rel], "", force=False, placed=state.hydrated_get(rel), previous=oid):
            report.remove.append(rel)
        else:
            report.kept.append(rel)
    apply(project, [report])
    if entry.kind == "dir":
        try:
            project.tree.rmdir_empty(entry.artifact)  # only empty ones go
        except UnsafePathError:
            pass
    return report
