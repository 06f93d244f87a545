"""`push`: upload what the registry files reference and the remote lacks."""

from __future__ import annotations

from .. import sync
from ..project import Project
from ..sync import SyncResult
from ..transfer import ProgressSink


def push(project: Project, paths: list[str], *, remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None) -> SyncResult:
    entries, _ = sync.select(project, paths)
    return sync.push(project, entries, remote=remote, jobs=project.jobs(jobs), sink=sink)
