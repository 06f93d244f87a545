"""`push`: upload what the registry files reference and the remote lacks."""

from __future__ import annotations

from collections.abc import Callable

from .. import sync
from ..hooks.install import InstallResult, ensure
from ..project import Project
from ..sync import SyncResult
from ..transfer import ProgressSink


def push(
    project: Project, paths: list[str], *, remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None,
    on_hooks: Callable[[InstallResult | None], None] | None = None,
) -> SyncResult:
    """`on_hooks`: install the git hooks this clone lacks first (`hooks.install.ensure`) and pass it what was done."""
    if on_hooks is not None:
        on_hooks(ensure(project))
    entries, _ = sync.select(project, paths)
    return sync.push(project, entries, remote=remote, jobs=project.jobs(jobs, remote=remote), sink=sink)


def plan(project: Project, paths: list[str], *, remote: str | None = None, jobs: int | None = None) -> sync.SyncPlan:
    """`push --dry-run`: what would be uploaded; installs no hooks, uploads nothing."""
    entries, _ = sync.select(project, paths)
    return sync.plan_push(project, entries, remote=remote, jobs=project.jobs(jobs, remote=remote))
