"""`ls`: the tracked artifacts with size, oid and metadata."""

from __future__ import annotations

from ..project import Project
from ..registry import Entry


def ls(project: Project, paths: list[str]) -> list[Entry]:
    return project.select(project.load_entries(), paths)
