"""`pull`: download what the cache lacks, verify it, hydrate the work tree.

A registry file that cannot be read is reported; the other artifacts still land.
`-I`/`-X` choose artifacts, or files inside a directory artifact (`sync.Scope`); an
`-I` pattern that selects nothing is an error, raised before anything is downloaded."""

from __future__ import annotations

from collections.abc import Callable

from .. import sync
from ..hooks.install import InstallResult, ensure
from ..project import Project
from ..sync import SyncResult
from ..transfer import ProgressSink


def pull(
    project: Project, paths: list[str], *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), force: bool = False,
    remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None,
    on_hooks: Callable[[InstallResult | None], None] | None = None,
) -> SyncResult:
    """`on_hooks`: install the git hooks this clone lacks first (`hooks.install.ensure`) and pass it what was done."""
    if on_hooks is not None:
        on_hooks(ensure(project))
    entries, unreadable = sync.select(project, paths, include, exclude, lenient=True)
    return sync.pull(
        project, entries, force=force, remote=remote, jobs=project.jobs(jobs, remote=remote), sink=sink, unreadable=unreadable,
        scope=sync.Scope(include, exclude),
    )


def plan(
    project: Project, paths: list[str], *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), force: bool = False,
    remote: str | None = None, jobs: int | None = None,
) -> sync.SyncPlan:
    """`pull --dry-run`: what would be downloaded and written; installs no hooks, changes no work-tree file."""
    entries, unreadable = sync.select(project, paths, include, exclude, lenient=True)
    out = sync.plan_pull(project, entries, remote=remote, jobs=project.jobs(jobs, remote=remote), force=force, scope=sync.Scope(include, exclude))
    out.problems = [(reg, str(err)) for reg, err in unreadable] + out.problems
    return out
