"""`clone`: clone a repository and hydrate it in one step, for deployment hosts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import git, hooks
from ..errors import FilerError
from ..project import Project
from ..transfer import ProgressSink
from .setup import set_local
from .sync import SyncResult, _selected_entries, pull
from .status import object_closure


@dataclass
class CloneResult:
    directory: str
    hooks_installed: bool
    reverified: int = 0
    corrupt_dropped: list[str] = field(default_factory=list)
    sync: SyncResult | None = None


def clone(
    url: str, directory: str | None, *, branch: str | None = None, depth: int | None = None,
    include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), remote: str | None = None,
    cache: str | None = None, jobs: int = 16, no_hooks: bool = False, verify: bool = False,
    sink: ProgressSink | None = None,
) -> CloneResult:
    dest = os.path.abspath(directory or os.path.basename(url.rstrip("/")).removesuffix(".git") or "repo")
    if os.path.exists(dest) and os.listdir(dest):
        raise FilerError(f"{dest} already exists and is not empty; choose another directory")
    git.clone(url, dest, branch=branch, depth=depth)
    project = Project.find(dest, cache_dir=cache)
    if cache:
        set_local(project, "cache_dir", os.path.abspath(cache))
    if remote:
        set_local(project, "default_remote", remote)
    result = CloneResult(dest, hooks_installed=not no_hooks)
    if not no_hooks:
        hooks.install(project.root)
    if not project.initialized:
        return result
    if verify:
        for e in _selected_entries(project, [], include, exclude):
            for oid in object_closure(project, e) or [e.oid]:
                if project.store.has(oid):
                    result.reverified += 1
                    if not project.store.verify(oid):
                        project.store.remove(oid)  # a good copy comes from the remote below
                        result.corrupt_dropped.append(oid)
    result.sync = pull(project, [], include=include, exclude=exclude, remote=remote, jobs=jobs, sink=sink)
    return result
