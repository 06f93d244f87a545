"""`remove`: stop tracking artifacts; optionally delete their bytes from a remote."""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field

from .. import git
from ..closure import oids_or_self
from ..errors import ConflictError
from ..ignorefile import unignore
from ..project import Project
from ..registry import Entry
from ..remotes import GC
from ..workspace import current


@dataclass
class RemoveResult:
    removed: list[str] = field(default_factory=list)
    remote_deleted: int = 0
    remote_kept: int = 0  # objects also used by artifacts still tracked here, so left in the remote
    releases_hit: list[str] = field(default_factory=list)  # published releases that used what was deleted: their deploys now fail


def remove_paths(project: Project, paths: list[str], **options: object) -> RemoveResult:
    """`remove` for the artifacts `paths` name (artifacts or their registry files)."""
    return remove(project, project.select(project.load_entries(), paths), **options)  # type: ignore[arg-type]


def _delete_from_remote(project: Project, entries: list[Entry], remote: str | None, result: RemoveResult) -> None:
    """Delete the artifacts' objects from the remote, except those another artifact of this
    checkout still uses (same content at another path, a file shared by two directories).
    Other commits may still need what goes: that is what the user asked for (a leaked file).
    Under the remote's gc lock, so no push check vouches for an object while it is deleted."""
    from ..releases import published_using

    rem = project.remote(remote)
    result.releases_hit = published_using(rem, project.store, {e.oid for e in entries})
    going = {e.registry for e in entries}
    others, _bad = project.load_entries_lenient()
    still_used = {o for e in others if e.registry not in going for o in oids_or_self(project.store, e)}
    with rem.lock(GC) as lock:
        for e in entries:
            oids = list(reversed(oids_or_self(project.store, e)))  # manifest first: it vouches for its files
            for oid in oids:
                if oid in still_used:
                    result.remote_kept += 1
                    continue
                lock.keep_alive()
                if rem.supports_chunks:
                    rem.delete_index(oid)  # first: an index must never outlive its file's bytes
                rem.delete(oid)
                result.remote_deleted += 1
            project.state.remote_mark(rem.name, [o for o in oids if o not in still_used], present=False)


def remove(project: Project, entries: list[Entry], *, remove_remote: bool = False, remote: str | None = None, keep_files: bool = False) -> RemoveResult:
    """Delete registry files (and, unless `keep_files`, the work tree copies, which must be unmodified)."""
    if not keep_files:
        modified = [e.artifact for e in entries if (c := current(project, e.artifact)).exists and c.oid != e.oid]
        if modified:
            raise ConflictError(f"{', '.join(modified)} differ from their registry files; re-add or restore them before removing", kept=modified)
    result = RemoveResult()
    if remove_remote:
        _delete_from_remote(project, entries, remote, result)
    to_stage: list[str] = []
    for e in entries:
        if not keep_files:
            # Checked above to hold exactly the registered bytes; the parents are checked here
            # (lstat) so a link on the way is refused, and rmtree never follows links inside.
            st = project.tree.lstat(e.artifact)
            if st is not None and stat.S_ISDIR(st.st_mode):
                shutil.rmtree(project.abspath(e.artifact))
                project.tree.forget(e.artifact)
            elif st is not None:
                project.tree.unlink(e.artifact)
        project.tree.unlink(e.registry)
        if project.has_git:
            git.rm_cached(project.root, [e.registry])
        ignore = unignore(project.tree, e.artifact)
        if ignore:
            to_stage.append(ignore)
        result.removed.append(e.artifact)
    if project.has_git and to_stage:
        git.add(project.root, to_stage)
    return result
