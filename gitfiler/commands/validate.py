"""`validate`: registry files well-formed and hydrated artifacts matching them
(the pre-commit hook 'gitfiler-validate' runs it)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..closure import load_manifest
from ..errors import FilerError, IntegrityError, RegistryError, UnsafePathError
from ..project import Project
from ..workspace import current_many, only_files_absent


@dataclass
class Problem:
    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def failure(problems: list[Problem]) -> FilerError | None:
    return FilerError(f"{len(problems)} problem(s) found") if problems else None


def validate(project: Project) -> list[Problem]:
    """Registry files well-formed, manifests sound, and every hydrated artifact still matching its registry."""
    problems: list[Problem] = []
    entries = []
    for reg in project.registry_files():
        if not os.path.isfile(project.abspath(reg)):
            continue
        try:
            entries += project.load_entries([reg])
        except (RegistryError, UnsafePathError) as err:
            problems.append(Problem(reg, str(err).removeprefix(f"{reg}: ")))
    for e in entries:
        if e.kind == "dir" and project.store.has(e.oid):
            try:
                load_manifest(project.store, e)
            except (RegistryError, IntegrityError) as err:
                problems.append(Problem(e.registry, str(err)))
    now = current_many(project, [e.artifact for e in entries])
    for e in entries:
        cur = now[e.artifact]
        if cur.exists and cur.oid != e.oid and not only_files_absent(project, e):  # files absent (`pull -I`) are not a change
            problems.append(Problem(e.artifact, f"changed since {e.registry} was written; run 'git filer add {e.artifact}' to record it"))
    return problems
