"""`diff`: which artifacts differ between two revisions (or a revision and the work tree's
registry files), with their sizes; `--files` opens directory artifacts to the files inside.

Sides, as `git diff` has them: no revision compares HEAD with the work tree, one compares
that revision with the work tree, two compare the two commits. Only registry files and
manifests are read (through `git cat-file --batch`; manifests from the cache or else the
remote, verified); nothing is checked out or written to the work tree. Differences are not a
failure: the exit status is 0 either way, as with `dvc diff`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import history
from ..closure import Closure
from ..manifest import ADDED, MODIFIED, REMOVED, FileChange, ManifestEntry, compare
from ..project import Project
from ..registry import Entry


@dataclass
class ArtifactChange:
    artifact: str
    status: str
    old: Entry | None
    new: Entry | None
    files: list[FileChange] | None = None  # with --files, for a directory on either side

    @property
    def kind(self) -> str:
        side = self.new if self.new is not None else self.old
        return side.kind if side is not None else "file"

    @property
    def old_size(self) -> int | None:
        return self.old.size if self.old else None

    @property
    def new_size(self) -> int | None:
        return self.new.size if self.new else None

    @property
    def delta(self) -> int:
        return (self.new_size or 0) - (self.old_size or 0)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "artifact": self.artifact, "status": self.status,
            "kind": self.kind,
            "old_oid": self.old.oid if self.old else None, "new_oid": self.new.oid if self.new else None,
            "old_size": self.old_size, "new_size": self.new_size, "delta": self.delta,
            "old_meta": self.old.meta if self.old else None, "new_meta": self.new.meta if self.new else None,
        }
        if self.files is not None:
            out["files"] = [f.to_json() for f in self.files]
        return out


@dataclass
class DiffResult:
    old: str  # a commit id, or history.WORKTREE
    new: str
    changes: list[ArtifactChange] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.changes if c.status == status)

    @property
    def delta(self) -> int:
        return sum(c.delta for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new, "changes": [c.to_json() for c in self.changes],
            "summary": {"added": self.count(ADDED), "modified": self.count(MODIFIED), "removed": self.count(REMOVED), "delta": self.delta},
        }


def diff(
    project: Project, rev: str | None = None, rev2: str | None = None, *, files: bool = False, remote: str | None = None, jobs: int | None = None,
) -> DiffResult:
    """Compare `rev` (default HEAD) with `rev2` (default: the work tree's registry files)."""
    old_name, old_entries = history.entries_of(project, rev or "HEAD")
    new_name, new_entries = history.entries_of(project, rev2)
    before = {e.artifact: e for e in old_entries}
    after = {e.artifact: e for e in new_entries}
    result = DiffResult(old_name, new_name)
    for artifact in sorted(before.keys() | after.keys()):
        a, b = before.get(artifact), after.get(artifact)
        if a is None:
            result.changes.append(ArtifactChange(artifact, ADDED, None, b))
        elif b is None:
            result.changes.append(ArtifactChange(artifact, REMOVED, a, None))
        elif (a.kind, a.oid, a.size, a.meta) != (b.kind, b.oid, b.size, b.meta):
            result.changes.append(ArtifactChange(artifact, MODIFIED, a, b))
    if files:
        _open_directories(project, result.changes, remote, project.jobs(jobs, remote=remote))
    return result


def _open_directories(project: Project, changes: list[ArtifactChange], remote: str | None, jobs: int) -> None:
    """Fill `files` of every change with a directory on either side, from the two manifests."""
    opened = [c for c in changes if any(e is not None and e.kind == "dir" for e in (c.old, c.new))]
    wanted = [e for c in opened for e in (c.old, c.new) if e is not None]
    found = history.closures(project, wanted, remote=remote, jobs=jobs) if wanted else {}
    for c in opened:
        c.files = compare(_listing(found, c.old), _listing(found, c.new))


def _listing(found: dict[tuple[str, str], Closure], entry: Entry | None) -> dict[str, ManifestEntry]:
    """Repo-relative path -> the file an entry stands for there."""
    if entry is None:
        return {}
    return {i.path: ManifestEntry(i.path, i.oid, i.size, i.executable) for i in found[(entry.registry, entry.oid)].files}
