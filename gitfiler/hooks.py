"""Installing and removing git hook shims.

A shim is a tiny POSIX sh script that recognises itself by its id line. A hook
that is not ours is never clobbered: it is moved aside to `<hook>.pre-gitfiler`
and the shim runs it first, keeping its exit status meaning; uninstall puts it
back. The hooks directory comes from `git rev-parse --git-path hooks`, so
`core.hooksPath` and linked worktrees are respected.

The reference copies of the shims live in the repository's top-level `hooks/`
folder; a test keeps them identical to what `shim()` generates.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from . import git
from .errors import HookError
from .fsutil import atomic_write_bytes

HOOKS = ("post-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite")
ID_LINE = "# gitfiler-hook-shim v1"
ASIDE = ".pre-gitfiler"
# Hooks whose input arrives on stdin: it is saved so both the chained hook and ours can read it.
_STDIN_HOOKS = ("pre-push", "post-rewrite")


# Shell tests that prove a hook has nothing to do, so git does not even start Python.
# Each is a fast path only: when it cannot decide (e.g. a first checkout), gitfiler runs.
_NOTHING_TO_DO = {
    "post-checkout": """[ "$3" != 1 ] || [ "$1" = "$2" ] || git diff --quiet --no-ext-diff "$1" "$2" -- '*.filer' 2>/dev/null""",
    "post-merge": """git diff --quiet --no-ext-diff ORIG_HEAD HEAD -- '*.filer' 2>/dev/null""",
    "post-rewrite": """[ "$1" != rebase ] || git diff --quiet --no-ext-diff ORIG_HEAD HEAD -- '*.filer' 2>/dev/null""",
    "post-commit": """git diff-tree --quiet -r -m --root --no-commit-id HEAD -- '*.filer' 2>/dev/null""",
    "pre-push": 'nothing_to_push "$1" < "$input"',
}

# pre-push: no pushed commit touches a registry file (same range rules as gitfiler's own check).
_PRE_PUSH_HELPER = """nothing_to_push() {
    zero=0000000000000000000000000000000000000000
    while read -r lref lsha rref rsha; do
        [ "$lsha" = "$zero" ] && continue
        if [ "$rsha" != "$zero" ] && git cat-file -e "$rsha^{commit}" 2>/dev/null; then
            touched=$(git rev-list -n 1 --full-history "$lsha" --not "$rsha" -- '*.filer') || return 1
        else
            touched=$(git rev-list -n 1 --full-history "$lsha" --not --remotes="$1" -- '*.filer') || return 1
        fi
        [ -z "$touched" ] || return 1
    done
    return 0
}
"""


def shim(name: str) -> str:
    missing = (
        'echo "gitfiler: git-filer is not on PATH; refusing to push unchecked artifacts (install gitfiler, or run \'git filer uninstall\')" >&2\n    exit 1'
        if name == "pre-push"
        else f'echo "gitfiler: git-filer is not on PATH; skipping {name} (install gitfiler, or run \'git filer uninstall\')" >&2\n    exit 0'
    )
    skip = _NOTHING_TO_DO[name]
    if name in _STDIN_HOOKS:
        body = f"""input=$(mktemp) || exit 1
trap 'rm -f "$input"' EXIT
cat > "$input"
if [ -x "$0{ASIDE}" ]; then
    "$0{ASIDE}" "$@" < "$input" || exit $?
fi
if {skip}; then
    exit 0
fi
if ! command -v git-filer >/dev/null 2>&1; then
    {missing}
fi
git-filer hook {name} "$@" < "$input"
"""
    else:
        body = f"""status=0
if [ -x "$0{ASIDE}" ]; then
    "$0{ASIDE}" "$@" || status=$?
fi
if {skip}; then
    exit "$status"
fi
if ! command -v git-filer >/dev/null 2>&1; then
    {missing}
fi
git-filer hook {name} "$@" || exit $?
exit "$status"
"""
    helper = _PRE_PUSH_HELPER if name == "pre-push" else ""
    return f"""#!/bin/sh
{ID_LINE}
# {name}: installed by `git filer install`, removed by `git filer uninstall`.
# A hook that was here before is kept as {name}{ASIDE} and runs first.
if [ -n "${{GITFILER_NO_HOOKS:-}}" ] && [ "$GITFILER_NO_HOOKS" != 0 ]; then
    if [ -x "$0{ASIDE}" ]; then exec "$0{ASIDE}" "$@"; fi
    exit 0
fi
{helper}{body}"""


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
