"""`gc`: delete objects no ref, reflog entry, index or worktree still references.

Reachability is computed from git itself: every registry file in any tree
reachable from branches, tags, remote-tracking refs, the stash and reflog
entries, plus what is staged and what sits in every worktree. A directory's
manifest keeps its files. Objects younger than the grace period are kept
whatever the refs say: in the cache, an `add` not yet staged or a dump in
progress; in a remote, objects another clone's post-commit hook uploaded for
commits not yet pushed to git. A registry file in history that no longer
parses keeps every oid written in it (a stricter parser must not turn old
commits into garbage).

`gc --git-remote` holds the filer remote's exclusive lock (see `gitfiler.remotes.RemoteLock`)
while it decides and deletes, so no pre-push check can pass in the middle of it.

Releases are roots too: a release created in this clone keeps its manifest and objects in the
cache, and every release published to the remote keeps its manifest and objects there.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from .. import closure, git, registry
from ..errors import FilerError, RegistryError, UnsafePathError
from ..project import Project
from ..registry import SUFFIX, Entry
from ..remotes import GC, Listed, Remote, RemoteLock

DEFAULT_GRACE_S = 24 * 3600
_OID_TEXT = re.compile(rb"sha256:[0-9a-f]{64}")
_DIR_TEXT = re.compile(rb"^kind:[ \t]*[\'\"]?dir\b", re.M)


@dataclass
class GcResult:
    where: str
    kept: int = 0
    deleted: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = True
    young: int = 0  # kept only because they are younger than the grace period
    indexes_deleted: list[str] = field(default_factory=list)  # chunk indexes (by file oid) deleted

    def to_json(self) -> dict[str, object]:
        return {
            "where": self.where, "dry_run": self.dry_run, "deleted": self.deleted, "bytes": self.bytes, "kept": self.kept, "young": self.young,
            "indexes_deleted": self.indexes_deleted,
        }


def _entries_in_history(project: Project) -> tuple[list[Entry], list[tuple[str, bytes]]]:
    """(parsed entries, (where, bytes) of registry blobs that do not parse)."""
    blobs = git.registry_blobs_reachable(project.root, ["--all", "--reflog", "--indexed-objects"], SUFFIX)
    out: list[Entry] = []
    unparsed: list[tuple[str, bytes]] = []
    found = git.read_blobs(project.root, blobs)
    if found.too_large:
        # Never read, so what they reference is unknown: collecting anything could lose it.
        raise FilerError(
            f"registry file blob(s) {', '.join(sorted(found.too_large))[:200]} in history are larger than 1 MiB; gc cannot tell "
            "what they reference and refuses to delete anything (remove them from history, or inspect them with 'git cat-file -p')"
        )
    for sha, data in found.items():
        try:
            out.append(registry.loads(data, f"blob {sha}"))
        except (RegistryError, UnsafePathError):
            unparsed.append((f"blob {sha}", data))
    for tree in git.worktrees(project.root):
        wt = Project.find(tree)
        out += wt.load_entries()
    return out, unparsed


def _closures(project: Project, entries: list[Entry], remote: Remote | None, *, strict: bool) -> set[str]:
    """Every oid `entries` need, each directory's files included. Without a manifest gc
    cannot tell which files to keep, so it refuses; a manifest that does not decode is an
    error when `strict`, else (an oid found in an unparseable registry file) it simply is
    no manifest."""
    found = closure.resolve(project.store, entries, remote=(lambda: remote) if remote is not None else None)
    keep = {e.oid for e in entries}
    for e in entries:
        c = found.get(e)
        if c is not None:
            keep.update(c.oids())
            continue
        err = found.problem(e)
        if isinstance(err, closure.ManifestUnavailable):
            if remote is None:
                raise FilerError(f"manifest {e.oid} ({e.registry}) is not in the cache, so its files cannot be told apart; run 'git filer pull' first")
            raise FilerError(f"manifest {e.oid} ({e.registry}) could not be had from the cache or the remote ({err}); refusing to collect garbage without it")
        if strict and err is not None:
            raise FilerError(f"cannot read manifest {e.oid}: {err}; run 'git filer fsck' first")
    return keep


def referenced(project: Project, remote: Remote | None = None) -> set[str]:
    """Every oid reachable from git's refs, the index and all worktrees."""
    entries, unparsed = _entries_in_history(project)
    keep = _closures(project, entries, remote, strict=True)
    guesses: list[Entry] = []
    for where, data in unparsed:
        oids = [m.decode() for m in _OID_TEXT.findall(data)]
        keep.update(oids)
        if _DIR_TEXT.search(data):
            guesses += [Entry(registry=where, path="unparsed", kind="dir", oid=oid, size=0) for oid in oids]
    keep |= _closures(project, guesses, remote, strict=False)
    return keep


def release_roots(project: Project, remote: Remote | None = None) -> set[str]:
    """Every oid a release needs: those created in this clone (their manifests live only in the
    cache until published) and, with `remote`, every release published there (a published
    name vouches for its objects, whatever git's refs say). A pointer or manifest that cannot
    be read stops the collection: what it references is unknown."""
    from ..releases import LocalReleases, component_entry, fetch, load_manifest

    keep: set[str] = set()
    entries: list[Entry] = []
    if project.filer_dir is not None:
        local = LocalReleases.of(project)
        for name in local.names():
            oid = local.get(name)
            if oid is None:
                continue
            keep.add(oid)
            if project.store.has(oid):
                release = load_manifest(project.store, oid, f"release {name}")
                entries += [component_entry(c) for c in release.components]
    if remote is not None:
        for rec in remote.list_releases():
            try:
                oid, release = fetch(remote, rec.name, project.store)
            except FilerError as err:
                raise FilerError(f"cannot read release {rec.name} in {remote.describe()} ({err}); refusing to collect garbage without knowing what it needs") from None
            keep.add(oid)
            entries += [component_entry(c) for c in release.components]
    if remote is None:  # the cache alone: a directory whose manifest is not here keeps just the manifest's oid
        keep.update(e.oid for e in entries)
        entries = [e for e in entries if e.kind == "file" or project.store.has(e.oid)]
    return keep | _closures(project, entries, remote, strict=True)


def gc_cache(project: Project, *, dry_run: bool = False, grace_s: float = DEFAULT_GRACE_S, shared_ok: bool = False) -> GcResult:
    if project.cache_dir != project.filer_dir and not shared_ok and not dry_run:
        raise FilerError(
            f"the cache {project.cache_dir} is relocated (GITFILER_CACHE_DIR or cache_dir) and may serve other repositories; "
            "gc would delete what they need. Pass --shared-cache-ok if this repository is its only user"
        )
    keep = referenced(project) | release_roots(project)
    result = GcResult(project.store.root, dry_run=dry_run)
    cutoff = time.time() - grace_s
    for oid in list(project.store.iter_oids()):
        if oid in keep:
            result.kept += 1
            continue
        st = os.stat(project.store.path(oid))
        if st.st_mtime > cutoff:
            result.kept += 1
            result.young += 1
            continue
        result.deleted.append(oid)
        result.bytes += st.st_size
        if not dry_run:
            project.store.remove(oid)
    # A cache index only describes a cached file (the chunks live inside it): it goes with it.
    gone = set(result.deleted)
    for oid in list(project.store.iter_indexes()):
        if oid in gone or not project.store.has(oid):
            result.indexes_deleted.append(oid)
            if not dry_run:
                project.store.remove_index(oid)
    return result


def gc_remote(
    project: Project, git_remote: str, *, name: str | None = None, dry_run: bool = False, yes: bool = False, grace_s: float = DEFAULT_GRACE_S,
) -> GcResult:
    """Delete remote objects that nothing reachable from the refs (after fetching `git_remote`)
    references and that are older than `grace_s` on the remote's clock."""
    if not dry_run and not yes:
        raise FilerError("deleting from a remote cannot be undone; rerun with --dry-run to see what would go, then with --yes")
    remote = project.remote(name)
    if dry_run:
        # Deletes nothing, so it takes no lock (and blocks no push); ages use this machine's clock.
        return _collect_remote(project, git_remote, remote, grace_s, now=time.time(), lock=None)
    with remote.lock(GC) as lock:
        return _collect_remote(project, git_remote, remote, grace_s, now=lock.now, lock=lock)


def _collect_remote(project: Project, git_remote: str, remote: Remote, grace_s: float, *, now: float, lock: RemoteLock | None) -> GcResult:
    # The refs are read only once the lock is held: every push whose check finished before is in them.
    git.fetch(project.root, git_remote)
    keep = referenced(project, remote) | release_roots(project, remote)
    result = GcResult(remote.describe(), dry_run=lock is None)
    cutoff = now - grace_s
    doomed_indexes = _chunk_roots(remote, keep, cutoff, lock)
    doomed: list[Listed] = []
    for obj in remote.list_objects():
        if lock is not None:
            lock.keep_alive()
        if obj.oid in keep:
            result.kept += 1
        elif obj.mtime > cutoff:
            result.kept += 1
            result.young += 1
        else:
            doomed.append(obj)
    gone: list[str] = []
    try:
        # Indexes before objects: an index must never outlive one of its chunks (a crash
        # between the two leaves unreferenced chunks, which the next gc collects).
        for idx in doomed_indexes:
            if lock is not None:
                lock.keep_alive()
                remote.delete_index(idx.oid)
                gone.append(idx.oid)
            result.indexes_deleted.append(idx.oid)
            result.bytes += idx.size
        for obj in doomed:
            if lock is not None:
                lock.keep_alive()
                remote.delete(obj.oid)
                gone.append(obj.oid)
            result.deleted.append(obj.oid)
            result.bytes += obj.size
    finally:
        project.state.remote_mark(remote.name, gone, present=False)
    return result


def _chunk_roots(remote: Remote, keep: set[str], cutoff: float, lock: RemoteLock | None) -> list[Listed]:
    """Add to `keep` every chunk a kept index lists, and return the indexes to delete.

    An index is kept while its file is (`keep`), or while it is younger than the grace period
    (another clone's upload for commits not yet pushed to git); a chunk is kept while any kept
    index lists it, whatever its own age. An index that must be kept but cannot be read or
    parsed stops the collection: which chunks it needs is unknown."""
    from ..chunks import decode

    doomed: list[Listed] = []
    for idx in remote.list_indexes():
        if lock is not None:
            lock.keep_alive()
        if idx.oid not in keep and idx.mtime <= cutoff:
            doomed.append(idx)
            continue
        try:
            data = remote.get_index(idx.oid)
            if data is None:
                raise FilerError("it disappeared while gc held the lock")
            index = decode(data, idx.oid, where=f"chunk index of {idx.oid}")
        except FilerError as err:
            raise FilerError(
                f"cannot read the chunk index of {idx.oid} in {remote.describe()} ({err}); refusing to collect garbage without knowing which chunks it needs"
            ) from None
        keep.add(idx.oid)
        keep.update(index.chunk_oids())
    return doomed
