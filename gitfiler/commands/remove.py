"""`remove`: stop tracking artifacts; optionally delete their bytes from a remote."""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field

from .. import git
from ..errors import ConflictError
from ..project import Project
from ..registry import Entry
from ..workspace import current, load_manifest
from .add import MAX_IGNORE_BYTES, ignore_file_for


@dataclass
class RemoveResult:
    removed: list[str] = field(default_factory=list)
    remote_deleted: int = 0


def _unignore(project: Project, artifact: str) -> str | None:
    rel, line = ignore_file_for(artifact)
    data = project.tree.read_capped(rel, MAX_IGNORE_BYTES, ".gitignore")
    if data is None:
        return None
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    kept = [x for x in lines if x != line]
    if kept == lines:
        return None
    project.tree.write_atomic(rel, ("\n".join(kept) + "\n").encode("utf-8", "surrogateescape") if kept else b"")
    return rel


def remove(project: Project, entries: list[Entry], *, remove_remote: bool = False, remote: str | None = None, keep_files: bool = False) -> RemoveResult:
    """Delete registry files (and, unless `keep_files`, the work tree copies, which must be unmodified)."""
    if not keep_files:
        modified = [e.artifact for e in entries if (c := current(project, e.artifact)).exists and c.oid != e.oid]
        if modified:
            err = ConflictError(f"{', '.join(modified)} differ from their registry files; re-add or restore them before removing")
            err.kept = modified  # type: ignore[attr-defined]
            raise err
    result = RemoveResult()
    if remove_remote:
        rem = project.remote(remote)
        for e in entries:
            oids = [e.oid]
            if e.kind == "dir" and project.store.has(e.oid):
                oids = [e.oid] + [m.oid for m in load_manifest(project.store, e)]  # manifest first: it vouches for files
            for oid in oids:
                rem.delete(oid)
                result.remote_deleted += 1
            project.state.remote_mark(rem.name, oids, present=False)
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
        ignore = _unignore(project, e.artifact)
        if ignore:
            to_stage.append(ignore)
        result.removed.append(e.artifact)
    if project.has_git and to_stage:
        git.add(project.root, to_stage)
    return result
