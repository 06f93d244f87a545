"""`init`: set up gitfiler in a repository (config, default remote; the CLI adds the hooks)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import git
from ..config import TRACKED, RemoteConfig
from ..configfile import create_remote_dir, default_remote_dir, read, write
from ..hooks.install import InstallResult, install_here, keep_out
from ..ignorefile import ensure_union_merge
from ..project import Project
from ..remotes import parse_url

DEFAULT_REMOTE_NAME = "local"


@dataclass
class InitResult:
    config: str
    remote: RemoteConfig
    created: bool
    hooks: InstallResult | None = None  # what was installed; None when asked not to


def init(project: Project, *, remote_url: str | None = None, stage: bool = True, hooks: bool = True, remember_no_hooks: bool = False) -> InitResult:
    """Write the config (a new local remote unless `remote_url`), set up the union merge of
    .gitignore files and install the hooks the config asks for (unless `hooks` is false;
    `remember_no_hooks` also keeps gitfiler's later commands from installing them)."""
    path = os.path.join(project.root, TRACKED)
    doc = read(project, path)
    created = not doc
    remotes = doc.setdefault("remotes", {})
    if remote_url:
        parse_url(remote_url)
        url = remote_url if remote_url.startswith("s3://") else os.path.abspath(os.path.expanduser(remote_url))
        if not url.startswith("s3://"):
            create_remote_dir(url)
        remotes[doc.get("default_remote") or DEFAULT_REMOTE_NAME] = {"url": url}
        doc.setdefault("default_remote", DEFAULT_REMOTE_NAME)
    elif not doc.get("default_remote"):
        remote_dir = default_remote_dir(project)
        os.makedirs(os.path.join(remote_dir, "objects", "sha256"), exist_ok=True)
        remotes[DEFAULT_REMOTE_NAME] = {"url": remote_dir}
        doc["default_remote"] = DEFAULT_REMOTE_NAME
    write(project, path, doc)
    if project.local_config_path:
        os.makedirs(os.path.dirname(project.local_config_path), exist_ok=True)
    staged = [TRACKED]
    if project.has_git:
        staged += [p for p in [ensure_union_merge(project.tree)] if p]
    if stage and project.has_git:
        git.add(project.root, staged)
    chosen = doc["default_remote"]
    result = InitResult(TRACKED, RemoteConfig(name=chosen, **remotes[chosen]), created)
    if hooks and project.has_git:
        result.hooks = install_here(project)
    elif remember_no_hooks and project.has_git:
        keep_out(project)
    return result
