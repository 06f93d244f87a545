"""`clone`: clone a repository and hydrate it in one step, for deployment hosts."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import git, sync
from ..closure import oids_or_self
from ..configfile import set_local
from ..errors import FilerError
from ..hooks.install import InstallResult, ensure
from ..project import Project
from ..sync import SyncResult
from ..transfer import ProgressSink


@dataclass
class CloneResult:
    directory: str
    hooks_installed: bool
    reverified: int = 0
    corrupt_dropped: list[str] = field(default_factory=list)
    sync: SyncResult | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.sync.to_json(True) if self.sync else {"ok": True}
        data.update(directory=self.directory, hooks_installed=self.hooks_installed, reverified=self.reverified, corrupt_dropped=self.corrupt_dropped)
        return data


def clone(
    url: str, directory: str | None, *, branch: str | None = None, depth: int | None = None,
    include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), remote: str | None = None,
    cache: str | None = None, jobs: int | None = None, no_hooks: bool = False, verify: bool = False,
    sink: ProgressSink | None = None, on_hooks: Callable[[InstallResult | None], None] | None = None,
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
    result = CloneResult(dest, hooks_installed=False)
    if not no_hooks:
        hooks = ensure(project)  # the same policy as every command: `hooks: false` in the repository's config is honoured
        result.hooks_installed = hooks is not None and not hooks.problems
        if on_hooks is not None:
            on_hooks(hooks)
    if not project.initialized:
        if include:
            raise FilerError(f"cloned into {dest}, but it does not use gitfiler: nothing was hydrated for --include {', '.join(repr(p) for p in include)}")
        return result
    entries, unreadable = sync.select(project, [], include, exclude, lenient=True)
    if verify:
        for e in entries:
            for oid in oids_or_self(project.store, e):
                if project.store.has(oid):
                    result.reverified += 1
                    if not project.store.verify(oid):
                        project.store.remove(oid)  # a good copy comes from the remote below
                        result.corrupt_dropped.append(oid)
    try:
        result.sync = sync.pull(
            project, entries, remote=remote, jobs=project.jobs(jobs, remote=remote), sink=sink, unreadable=unreadable, scope=sync.Scope(include, exclude),
        )
    except sync.UnmatchedInclude as err:
        # The clone stays: it is good, and deleting what the user asked for is not ours to do.
        raise FilerError(f"cloned into {dest}, but {err.what}: nothing was hydrated (see 'git filer ls' there)") from None
    return result
