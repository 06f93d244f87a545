"""`checkout`: hydrate the work tree from the cache alone (no network)."""

from __future__ import annotations

from .. import sync
from ..project import Project
from ..sync import SyncResult


def checkout(project: Project, paths: list[str], *, force: bool = False) -> SyncResult:
    entries, unreadable = sync.select(project, paths, lenient=True)
    return sync.pull(project, entries, force=force, offline=True, unreadable=unreadable)
