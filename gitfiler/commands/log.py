"""`log PATH`: an artifact's oid, size and meta at every commit that changed its registry file,
newest first, read through `git log` and `git cat-file --batch` (nothing checked out). A commit
that removed the registry file is listed as a removal."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import history
from ..errors import FilerError
from ..project import Project


@dataclass(frozen=True)
class LogRecord:
    commit: str
    time: int
    subject: str
    status: str  # "added", "modified" or "removed", against the older record
    kind: str | None = None
    oid: str | None = None
    size: int | None = None
    files: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time)), "subject": self.subject,
            "status": self.status, "kind": self.kind, "oid": self.oid, "size": self.size, "files": self.files, "meta": self.meta,
        }


@dataclass
class LogResult:
    artifact: str
    records: list[LogRecord]

    def to_json(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "history": [r.to_json() for r in self.records]}


def log(project: Project, path: str, rev: str = "HEAD") -> LogResult:
    """The history of the artifact PATH names (the artifact or its registry file)."""
    artifact = history.artifact_of(project, path)
    found = history.versions(project, artifact, rev)
    if not found:
        raise FilerError(f"no commit reachable from {rev} ever tracked {artifact} (see 'git filer ls')")
    records: list[LogRecord] = []
    for i, v in enumerate(found):
        older = found[i + 1].entry if i + 1 < len(found) else None
        if v.entry is None:
            records.append(LogRecord(v.commit, v.time, v.subject, "removed"))
            continue
        e = v.entry
        status = "modified" if older is not None else "added"
        records.append(LogRecord(v.commit, v.time, v.subject, status, e.kind, e.oid, e.size, e.files, e.meta))
    return LogResult(artifact, records)
