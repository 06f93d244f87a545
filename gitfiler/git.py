"""Every conversation with git goes through this module.

Plumbing commands run as subprocesses (cheap to start, no import cost);
reading commits and trees in bulk uses pygit2, imported only when needed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from .errors import FilerError, NotARepositoryError

ZERO_SHA = "0" * 40


def clean_env() -> dict[str, str]:
    """The environment for child git processes, minus variables a hook inherits that would mislead them."""
    env = dict(os.environ)
    for var in ("GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_DIR", "GIT_PREFIX"):
        # Hooks run with GIT_DIR/GIT_INDEX_FILE set relative to the repo; we pass -C instead.
        env.pop(var, None)
    return env


def run(args: list[str], cwd: str, *, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=clean_env())
    except FileNotFoundError:
        raise FilerError("git is not installed or not on PATH; install git and retry") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise FilerError(f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc


@dataclass(frozen=True)
class RepoPaths:
    root: str
    git_dir: str
    common_dir: str


NO_REPO = RepoPaths("", "", "")


def _find_repo_fast(start: str) -> RepoPaths | None:
    """Walk up to the nearest `.git` without spawning git; NO_REPO when there is
    none at all, None when git itself must decide.

    Handles the two common layouts: a `.git` directory, and a linked worktree's
    `.git` file. Anything unusual (GIT_DIR set, bare repos, odd files) goes to git.
    """
    if any(v in os.environ for v in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")):
        return None
    cur = os.path.realpath(start)
    while True:
        dot = os.path.join(cur, ".git")
        if os.path.isdir(dot):
            if not os.path.exists(os.path.join(dot, "HEAD")):
                return None
            git_dir = dot
            break
        if os.path.isfile(dot):
            try:
                with open(dot) as f:
                    line = f.read(4096).strip()
            except OSError:
                return None
            if not line.startswith("gitdir: "):
                return None
            git_dir = os.path.normpath(os.path.join(cur, line[8:]))
            break
        parent = os.path.dirname(cur)
        if parent == cur:
            return NO_REPO
        cur = parent
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir")) as f:
            common = os.path.normpath(os.path.join(git_dir, f.read().strip()))
    except FileNotFoundError:
        pass
    except OSError:
        return None
    return RepoPaths(root=cur, git_dir=git_dir, common_dir=common)


def find_repo(start: str) -> RepoPaths | None:
    fast = _find_repo_fast(start)
    if fast is NO_REPO:
        return None
    if fast is not None:
        return fast
    proc = run(["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"], start, check=False)
    if proc.returncode != 0:
        return None
    lines = proc.stdout.decode().splitlines()
    if len(lines) < 3 or not lines[0]:
        return None  # inside .git or a bare repository
    root, git_dir, common = lines[0], lines[1], lines[2]
    if not os.path.isabs(common):
        common = os.path.abspath(os.path.join(start, common))
    return RepoPaths(root=root, git_dir=git_dir, common_dir=common)


def require_repo(start: str) -> RepoPaths:
    found = find_repo(start)
    if found is None:
        raise NotARepositoryError(f"{os.path.abspath(start)} is not inside a git work tree; run 'git init' first or cd into your repository")
    return found


def ls_files(root: str, patterns: list[str], *, others: bool = True) -> list[str]:
    """Repo-relative paths matching git pathspecs, staged or untracked-but-not-ignored."""
    args = ["ls-files", "-z", "--cached", "--full-name"]
    if others:
        args += ["--others", "--exclude-standard"]
    proc = run([*args, "--", *patterns], root)
    seen: dict[str, None] = {}
    for p in proc.stdout.split(b"\0"):
        if p:
            seen[os.fsdecode(p)] = None
    return list(seen)


def add(root: str, paths: list[str]) -> None:
    if paths:
        run(["add", "--", *paths], root)


def is_ignored(root: str, path: str) -> bool:
    return run(["check-ignore", "-q", "--no-index", "--", path], root, check=False).returncode == 0


def config_get(root: str, key: str) -> str | None:
    proc = run(["config", "--get", key], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None
