"""`export REV --dest DIR`: write the artifacts a commit records into DIR, at their
repo-relative paths, without touching HEAD, the index or the work tree.

Registry files are read from the commit (`history.entries_of` -> `releases.entries_at`, strict); what the cache lacks
is fetched through the sync engine's fetch (manifests, then files, verified while streaming);
every file is copied out of the cache verified again and published whole (temp, then rename).

DEST safety: nothing is written outside DEST. DEST is created if absent; a DEST that is not
empty is refused (exit 8) unless `--force`, which writes over the exported paths and leaves
other files alone. Every write below DEST goes through `TreeFS`, so a directory on the way that
is a symlink is refused, never followed, and a link at a file's own path is replaced, not
written through. DEST may not be or contain the work tree, nor lie inside `.git`. Everything
is fetched before DEST is touched, so a network failure leaves DEST as it was.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from .. import history
from ..closure import Item
from ..errors import ConflictError, FilerError, UnsafePathError
from ..paths import is_within
from ..project import Project
from ..sync import Scope, fetch_files
from ..transfer import ProgressSink
from ..treefs import TreeFS


@dataclass
class ExportResult:
    commit: str
    dest: str
    artifacts: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    fetched_objects: int = 0
    fetched_bytes: int = 0
    partial: list[str] = field(default_factory=list)  # directory artifacts exported only in the files -I chose
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit, "dest": self.dest, "artifacts": self.artifacts, "files": self.files, "bytes": self.bytes,
            "fetched_objects": self.fetched_objects, "fetched_bytes": self.fetched_bytes, "partial": self.partial,
            "seconds": round(self.seconds, 3),
        }


def export(
    project: Project, rev: str, dest: str, *, include: tuple[str, ...] = (), force: bool = False,
    remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None,
) -> ExportResult:
    started = time.perf_counter()
    commit, entries = history.entries_of(project, rev)
    root = _check_dest(project, dest, force=force)
    scope = Scope(tuple(include))
    chosen = [e for e in entries if scope.may_reach(e)] if include else list(entries)
    partial: list[str] = []

    def narrow(resolved: Any) -> None:
        if include:
            chosen[:], partial[:] = scope.narrow(chosen, resolved)

    transfer, items = fetch_files(
        project, chosen, remote=remote, jobs=project.jobs(jobs, remote=remote), sink=sink, narrow=narrow, nothing=f"nothing was written to {dest}",
    )
    store = project.store
    os.makedirs(root, exist_ok=True)
    tree = TreeFS(os.path.realpath(root), label=f"the export destination {dest}")
    for item in items:
        def fill(tmp: str, item: Item = item) -> None:
            store.copy_out(item.oid, tmp)
            os.chmod(tmp, 0o755 if item.executable else 0o644)

        try:
            tree.publish(item.path, fill)
        except IsADirectoryError:
            raise ConflictError(f"{os.path.join(dest, item.path)} is a directory in DEST; move it away and export again") from None
    result = ExportResult(commit, dest, [e.artifact for e in chosen], len(items), sum(i.size for i in items), transfer.objects, transfer.bytes, partial)
    result.seconds = time.perf_counter() - started
    return result


def _check_dest(project: Project, dest: str, *, force: bool) -> str:
    """DEST as an absolute path, after refusing one that would write where it must not."""
    root = os.path.abspath(dest)
    for inside in (project.git_dir, project.common_dir):
        if inside and is_within(root, inside):
            raise UnsafePathError(f"--dest {dest} is inside the git directory {inside}; choose a directory outside .git")
    if is_within(project.root, root):
        raise UnsafePathError(f"--dest {dest} is or contains the work tree {project.root}; export into a directory of its own")
    if os.path.lexists(root):
        if not os.path.isdir(root):
            raise FilerError(f"--dest {dest} exists and is not a directory")
        if not force and os.listdir(root):
            raise ConflictError(f"--dest {dest} is not empty; choose an empty or new directory, or pass --force to write over the exported paths")
    return root
