"""`checkout`: hydrate the work tree from the cache alone (no network)."""

from __future__ import annotations

from collections.abc import Callable

from .. import sync
from ..hooks.install import InstallResult, ensure
from ..project import Project
from ..sync import SyncResult


def checkout(project: Project, paths: list[str], *, force: bool = False, on_hooks: Callable[[InstallResult | None], None] | None = None) -> SyncResult:
    """`on_hooks`: install the git hooks this clone lacks first (`hooks.install.ensure`) and pass it what was done."""
    if on_hooks is not None:
        on_hooks(ensure(project))
    entries, unreadable = sync.select(project, paths, lenient=True)
    return sync.pull(project, entries, force=force, offline=True, unreadable=unreadable)
