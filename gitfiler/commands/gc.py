"""`gc`: delete objects no ref, reflog entry, index or worktree still references.

Reachability is computed from git itself: every registry file in any tree
reachable from branches, tags, remote-tracking refs, the stash and reflog
entries, plus what is staged and what sits in every worktree. A directory's
manifest keeps its files. Objects younger than the grace period are kept
whatever the refs say (an `add` not yet staged, a dump in progress).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .. import git, registry
from ..errors import FilerError, IntegrityError, RegistryError, UnsafePathError
from ..manifest import decode as decode_manifest
from ..project import Project
from ..registry import SUFFIX, Entry

DEFAULT_GRACE_S = 24 * 3600


@dataclass
class GcResult:
    where: str
    kept: int = 0
    deleted: list[str] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = True


def _entries_in_history(project: Project) -> list[Entry]:
    blobs = git.registry_blobs_reachable(project.root, ["--all", "--reflog", "--indexed-objects"], SUFFIX)
    out: list[Entry] = []
    for sha, data in git.read_blobs(project.root, blobs).items():
        try:
            out.append(registry.loads(data, f"blob {sha}"))
        except (RegistryError, UnsafePathError):
            continue  # a malformed registry file references nothing we could keep
    for tree in git.worktrees(project.root):
        wt = Project.find(tree)
        out += wt.load_entries()
    return out


def referenced(project: Project, remote=None) -> set[str]:
    """Every oid reachable from git's refs, the index and all worktrees."""
    keep: set[str] = set()
    for e in _entries_in_history(project):
        keep.add(e.oid)
        if e.kind != "dir":
            continue
        if not project.store.has(e.oid):
            if remote is None:
                raise FilerError(f"manifest {e.oid} ({e.registry}) is not in the cache, so its files cannot be told apart; run 'git filer pull' first")
            try:
                remote.download(e.oid, project.store)
            except FilerError:
                raise FilerError(f"manifest {e.oid} is neither in the cache nor in the remote; refusing to collect garbage without it") from None
        try:
            keep.update(m.oid for m in decode_manifest(project.store.read_verified(e.oid), e.registry))
        except (RegistryError, IntegrityError) as err:
            raise FilerError(f"cannot read manifest {e.oid}: {err}; run 'git filer fsck' first") from None
    return keep


def gc_cache(project: Project, *, dry_run: bool = False, grace_s: float = DEFAULT_GRACE_S, shared_ok: bool = False) -> GcResult:
    if project.cache_dir != project.filer_dir and not shared_ok and not dry_run:
        raise FilerError(
            f"the cache {project.cache_dir} is relocated (GITFILER_CACHE_DIR or cache_dir) and may serve other repositories; "
            "gc would delete what they need. Pass --shared-cache-ok if this repository is its only user"
        )
    keep = referenced(project)
    result = GcResult(project.store.root, dry_run=dry_run)
    cutoff = time.time() - grace_s
    for oid in list(project.store.iter_oids()):
        if oid in keep:
            result.kept += 1
            continue
        st = os.stat(project.store.path(oid))
        if st.st_mtime > cutoff:
            result.kept += 1
            continue
        result.deleted.append(oid)
        result.bytes += st.st_size
        if not dry_run:
            project.store.remove(oid)
    return result


def gc_remote(project: Project, git_remote: str, *, name: str | None = None, dry_run: bool = False, yes: bool = False) -> GcResult:
    if not dry_run and not yes:
        raise FilerError("deleting from a remote cannot be undone; rerun with --dry-run to see what would go, then with --yes")
    git.fetch(project.root, git_remote)
    remote = project.remote(name)
    keep = referenced(project, remote)
    result = GcResult(remote.describe(), dry_run=dry_run)
    doomed = [oid for oid in remote.list_oids() if oid not in keep]
    result.kept = len(keep)
    result.deleted = doomed
    if not dry_run:
        for oid in doomed:
            remote.delete(oid)
        project.state.remote_mark(remote.name, doomed, present=False)
    return result
