"""`check-large-files`: refuse files too large for git that belong in gitfiler
(the pre-commit hook 'gitfiler-large-files' runs it on the staged files)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import parse_size
from ..errors import FilerError
from ..project import Project
from ..registry import is_registry_file


@dataclass
class TooLarge:
    path: str
    size: int
    limit: int

    @property
    def reason(self) -> str:
        return (
            f"{self.size / (1 << 20):.1f} MiB is over the {self.limit / (1 << 20):.1f} MiB limit for git; "
            f"track it with 'git rm --cached {self.path} && git filer add {self.path}'"
        )


def failure(problems: list[TooLarge]) -> FilerError | None:
    return FilerError(f"{len(problems)} file(s) too large for git") if problems else None


def check_large_files(project: Project, paths: list[str], max_size: str | None = None) -> list[TooLarge]:
    """The files among `paths` larger than `max_size` (default: the large_file_threshold setting)."""
    threshold = parse_size(max_size) if max_size else project.config.large_file_threshold
    problems = []
    for p in paths:
        rel = project.relpath(p)
        if is_registry_file(rel) or rel.startswith(".gitfiler/"):
            continue
        try:
            size = os.path.getsize(project.abspath(rel))
        except OSError:
            continue
        if size > threshold:
            problems.append(TooLarge(rel, size, threshold))
    return problems
