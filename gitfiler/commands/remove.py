"""`remove`: stop tracking artifacts; optionally delete their bytes from a remote."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from .. import git
from ..errors import ConflictError
from ..fsutil import atomic_write_bytes
from ..project import Project
from ..registry import Entry
from ..workspace import current, load_manifest
from .add import ignore_line


@dataclass
class RemoveResult:
    removed: list[str] = field(default_factory=list)
    remote_deleted: int = 0


def _unignore(project: Project, artifact: str) -> str | None:
    directory, _, name = artifact.rpartition("/")
    rel = f"{directory}/.gitignore" if directory else ".gitignore"
    path = project.abspath(rel)
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").splitlines()
    except FileNotFoundError:
        return None
    kept = [line for line in lines if line != ignore_line(name)]
    if kept == lines:
        return None
    atomic_write_bytes(path, ("\n".join(kept) + "\n").encode("utf-8") if kept else b"")
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
        path = project.abspath(e.artifact)
        if not keep_files:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        os.unlink(project.abspath(e.registry))
        if project.has_git:
            git.run(["rm", "--cached", "-q", "--ignore-unmatch", "--", e.registry], project.root)
        ignore = _unignore(project, e.artifact)
        if ignore:
            to_stage.append(ignore)
        result.removed.append(e.artifact)
    if project.has_git and to_stage:
        git.add(project.root, to_stage)
    return result
