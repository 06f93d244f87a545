"""`pull`: download what the cache lacks, verify it, hydrate the work tree.

A registry file that cannot be read is reported; the other artifacts still land."""

from __future__ import annotations

from .. import sync
from ..project import Project
from ..sync import SyncResult
from ..transfer import ProgressSink


def pull(
    project: Project, paths: list[str], *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), force: bool = False,
    remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None,
) -> SyncResult:
    entries, unreadable = sync.select(project, paths, include, exclude, lenient=True)
    return sync.pull(project, entries, force=force, remote=remote, jobs=project.jobs(jobs), sink=sink, unreadable=unreadable)
