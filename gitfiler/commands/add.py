"""`add`: hash an artifact once while copying it into the cache, write its registry
file, git-ignore the artifact and stage the registry and ignore files. A directory leaves
out the files git ignores and those a `.filerignore` lists (`workspace.drop_ignored`).
`add_auto`: files over `large_file_threshold` to gitfiler, the others to git."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import git, registry
from ..errors import FilerError
from ..hooks.install import InstallResult, ensure
from ..ignorefile import ensure_ignored
from ..paths import is_within
from ..project import Project
from ..registry import Entry
from ..workspace import current


@dataclass
class AddResult:
    artifact: str
    registry: str
    kind: str
    oid: str
    size: int
    files: int | None
    changed: bool
    skipped: int = 0  # files of a directory left out by ignore rules

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AutoResult:
    """`add --auto`: what went to gitfiler and which files were left to git (staged)."""

    filer: list[AddResult]
    git: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"filer": [r.to_json() for r in self.filer], "git": self.git}


def check_addable(project: Project, path: str, tracked: list[Entry]) -> str:
    """The repo-relative path for `path`, or a FilerError saying why it cannot be tracked."""
    absolute = os.path.abspath(path)
    # Resolve the parent only: the artifact itself being a symlink is checked below.
    absolute = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
    if not is_within(absolute, project.root):
        raise FilerError(f"{path} is outside the repository {project.root}; move it inside first")
    rel = project.relpath(absolute)
    if rel == ".":
        raise FilerError("cannot track the repository root itself; name a file or directory inside it")
    parts = rel.split("/")
    if ".git" in parts:
        raise FilerError(f"{path} is inside .git; gitfiler does not track git's own files")
    if parts[0] == ".gitfiler":
        raise FilerError(f"{path} is gitfiler's own configuration and cannot be tracked")
    if registry.is_registry_file(rel):
        raise FilerError(f"{path} is a registry file; add the artifact it describes instead")
    if os.path.islink(absolute):
        raise FilerError(f"{path} is a symlink; add the file or directory it points to")
    if not os.path.exists(absolute):
        raise FilerError(f"{path}: no such file or directory")
    for e in tracked:
        if e.kind == "dir" and rel.startswith(e.artifact + "/"):
            raise FilerError(f"{path} is inside {e.artifact}, which gitfiler already tracks as a directory; re-add {e.artifact} instead")
        if os.path.isdir(absolute) and e.artifact.startswith(rel + "/"):
            raise FilerError(f"{path} contains {e.artifact}, which is tracked on its own; add the files separately or remove {e.registry} first")
    if project.has_git and git.ls_files(project.root, [rel], others=False, literal=True):
        raise FilerError(f"{path} is already committed to git; run 'git rm -r --cached {rel}' first, then add it again")
    return rel


def add(
    project: Project, paths: list[str], *, jobs: int | None = None, meta: dict[str, Any] | None = None, stage: bool = True,
    on_hooks: Callable[[InstallResult | None], None] | None = None, type: str | None = None, version: str | None = None,
) -> list[AddResult]:
    """`meta` is merged over what a re-added artifact already records; `type` and `version` become
    `meta.type` and `meta.version` (`registry.check_type_version`: checked before anything is written).
    `on_hooks`: install the git hooks this clone lacks first (`hooks.install.ensure`) and pass it what was done
    (the command line does; the Python API leaves the hooks alone)."""
    meta = {**(meta or {}), **registry.check_type_version(type, version, meta)}
    if on_hooks is not None:
        on_hooks(ensure(project))
    tracked = project.load_entries()
    rels = [check_addable(project, p, tracked) for p in paths]
    by_registry = {e.registry: e for e in tracked}
    results: list[AddResult] = []
    to_stage: list[str] = []
    with project.state.batch():
        for rel in rels:
            results.append(_add_one(project, rel, by_registry, meta, project.hash_jobs(jobs)))
            to_stage += [results[-1].registry, ensure_ignored(project.tree, rel)]
    if stage and project.has_git:
        git.add(project.root, list(dict.fromkeys(to_stage)))
    return results


def _add_one(project: Project, rel: str, by_registry: dict[str, Entry], meta: dict[str, Any] | None, jobs: int) -> AddResult:
    """Track one artifact: objects into the cache, then its registry file."""
    cur = current(project, rel, store=project.store, jobs=jobs)
    assert cur.oid is not None
    if cur.manifest_bytes is not None:
        project.store.write_bytes(cur.manifest_bytes)
    reg = registry.registry_path_for(rel)
    old = by_registry.get(reg)
    merged_meta = dict(old.meta) if old else {}
    merged_meta.update(meta or {})
    entry = Entry(
        registry=reg,
        path=rel.rpartition("/")[2],
        kind="dir" if cur.files is not None else "file",
        oid=cur.oid,
        size=cur.size,
        files=cur.files,
        meta=merged_meta,
    )
    changed = registry.write(project.tree, entry)
    if cur.files is None:
        project.state.hydrated_set([(rel, cur.oid)])
    else:
        project.state.hydrated_set([(f"{rel}/{m.path}", m.oid) for m in cur.entries])
    return AddResult(rel, reg, entry.kind, entry.oid, entry.size, entry.files, changed, cur.skipped)


def add_auto(
    project: Project, paths: list[str], *, jobs: int | None = None, meta: dict[str, Any] | None = None,
    on_hooks: Callable[[InstallResult | None], None] | None = None, type: str | None = None, version: str | None = None,
) -> AutoResult:
    """Each untracked, not ignored file at or below `paths`: larger than `large_file_threshold`
    is tracked with gitfiler (one artifact per file), the rest is staged with `git add`."""
    if not project.has_git:
        raise FilerError("add --auto needs a git repository: small files are left to git")
    threshold = project.config.large_file_threshold
    rels = []
    for p in paths:
        absolute = os.path.abspath(p)
        if not is_within(os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute)), project.root):
            raise FilerError(f"{p} is outside the repository {project.root}; move it inside first")
        if not os.path.lexists(absolute):
            raise FilerError(f"{p}: no such file or directory")
        rels.append(project.relpath(absolute))
    large: list[str] = []
    small: list[str] = []
    for rel in git.untracked(project.root, rels):
        if registry.is_registry_file(rel):
            small.append(rel)
            continue
        st = project.tree.lstat(rel)  # never through a link; a link itself goes to git
        is_large = st is not None and stat.S_ISREG(st.st_mode) and st.st_size > threshold
        (large if is_large else small).append(rel)
    tracked = add(project, [project.abspath(r) for r in large], jobs=jobs, meta=meta, on_hooks=on_hooks, type=type, version=version) if large else []
    if small:
        git.add(project.root, small)
    return AutoResult(tracked, small)
