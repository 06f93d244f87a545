"""Installing and removing the hook shims.

A hook that is not ours is never clobbered: it is moved aside to `<hook>.pre-gitfiler`
and the shim runs it first, keeping its exit status meaning; uninstall puts it back. The
hooks directory comes from `git rev-parse --git-path hooks`, so `core.hooksPath` and
linked worktrees are respected.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .. import git
from ..errors import HookError
from ..fsutil import atomic_write_bytes
from .shims import ASIDE, ID_LINE, shim
from .triggers import HOOKS


def is_ours(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return ID_LINE.encode() in f.read(512)
    except OSError:
        return False


@dataclass
class InstallResult:
    hooks_dir: str
    installed: list[str] = field(default_factory=list)
    chained: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def hooks_dir(root: str) -> str:
    return git.git_path(root, "hooks")


def install(root: str, *, force: bool = False) -> InstallResult:
    directory = hooks_dir(root)
    os.makedirs(directory, exist_ok=True)
    result = InstallResult(directory)
    for name in HOOKS:
        path = os.path.join(directory, name)
        aside = path + ASIDE
        text = shim(name).encode()
        if os.path.lexists(path) and not is_ours(path):
            if os.path.lexists(aside):
                if not force:
                    raise HookError(
                        f"{path} is not gitfiler's and {aside} already exists; merge them by hand, or rerun with --force to keep {name} as the chained hook"
                    )
                os.replace(aside, aside + ".old")
            os.replace(path, aside)
            result.chained.append(name)
        elif os.path.exists(path):
            with open(path, "rb") as f:
                if f.read() == text and os.access(path, os.X_OK):
                    result.unchanged.append(name)
                    continue
        atomic_write_bytes(path, text, mode=0o755)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        result.installed.append(name)
    return result


def uninstall(root: str) -> InstallResult:
    directory = hooks_dir(root)
    result = InstallResult(directory)
    for name in HOOKS:
        path = os.path.join(directory, name)
        aside = path + ASIDE
        if not is_ours(path):
            continue
        os.unlink(path)
        result.installed.append(name)
        if os.path.lexists(aside):
            os.replace(aside, path)
            result.restored.append(name)
    return result
