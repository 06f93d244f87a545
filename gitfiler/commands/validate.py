"""`validate` and `check-large-files`: the checks the pre-commit framework runs."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import FilerError, IntegrityError, RegistryError, UnsafePathError
from ..project import Project
from ..registry import is_registry_file
from ..workspace import current_many, load_manifest


@dataclass
class Problem:
    path: str
    reason: str


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
        if cur.exists and cur.oid != e.oid:
            problems.append(Problem(e.artifact, f"changed since {e.registry} was written; run 'git filer add {e.artifact}' to record it"))
    return problems


def parse_size(text: str) -> int:
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1] if t and t[-1] in "kmg" else ""
    try:
        return int(float(t[: len(t) - len(unit)]) * units[unit])
    except ValueError:
        raise FilerError(f"{text!r} is not a size; use e.g. 500k, 10M or 1G") from None


def large_files(project: Project, paths: list[str], threshold: int) -> list[Problem]:
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
            problems.append(Problem(rel, f"{size / (1 << 20):.1f} MiB is over the {threshold / (1 << 20):.1f} MiB limit for git; track it with 'git rm --cached {rel} && git filer add {rel}'"))
    return problems
