"""Every conversation with git goes through this module.

Plumbing commands run as subprocesses. History is read in bulk through git's
batch modes (`diff-tree --stdin`, `cat-file --batch`): one process for a whole
pushed range, nothing checked out. That proved fast enough (10,000 registry
versions in about a second) without pygit2, whose import alone costs ~90 ms in
every hook.
"""

from __future__ import annotations

import os
import subprocess
from typing import NamedTuple

from .errors import FilerError, NotARepositoryError

ZERO_SHA = "0" * 40


def clean_env() -> dict[str, str]:
    """The environment for child git processes, minus variables a hook inherits that would mislead them."""
    env = dict(os.environ)
    for var in ("GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_DIR", "GIT_PREFIX"):
        # Hooks run with GIT_DIR/GIT_INDEX_FILE set relative to the repo; we pass -C instead.
        env.pop(var, None)
    return env


def run(args: list[str], cwd: str, *, check: bool = True, input: bytes | None = None, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    env = clean_env()
    env.update(extra_env or {})
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    except FileNotFoundError:
        raise FilerError("git is not installed or not on PATH; install git and retry") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise FilerError(f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc


class RepoPaths(NamedTuple):
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


# -- history, for the hooks ----------------------------------------------------------------


def rev_list(root: str, args: list[str]) -> list[str]:
    proc = run(["rev-list", *args], root)
    return proc.stdout.decode().split()


def rev_parse(root: str, rev: str) -> str | None:
    proc = run(["rev-parse", "-q", "--verify", rev], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def object_exists(root: str, sha: str) -> bool:
    return run(["cat-file", "-e", f"{sha}^{{commit}}"], root, check=False).returncode == 0


class Change(NamedTuple):
    commit: str
    path: str
    blob: str  # the new blob; never the zero id


def changed_files(root: str, commits: list[str], suffix: str) -> list[Change]:
    """Files ending in `suffix` added or modified by each commit (merges: against every parent).

    One `git diff-tree --stdin` process reads every commit, so cost grows with
    the history pushed, not with the number of git invocations.
    """
    if not commits:
        return []
    proc = run(["diff-tree", "--stdin", "-r", "-z", "--root", "-m", "--no-renames", "--raw", "--diff-filter=AMT"], root, input=("\n".join(commits) + "\n").encode())
    out: list[Change] = []
    commit = ""
    fields = proc.stdout.split(b"\0")
    i = 0
    while i < len(fields):
        item = fields[i]
        if not item:
            i += 1
            continue
        if item.startswith(b":"):
            meta = item.decode().split()
            path = os.fsdecode(fields[i + 1])
            i += 2
            if path.endswith(suffix) and meta[3] != ZERO_SHA:
                out.append(Change(commit, path, meta[3]))
            continue
        # A commit id line (diff-tree echoes each commit before its changes; with -m, "<commit> (from <parent>)").
        commit = item.decode().strip().split()[0] if item.strip() else commit
        i += 1
    return out


def changed_in_commit(root: str, commit: str, pattern: str) -> bool:
    """Whether `commit` touches a path matching `pattern` (a cheap yes/no for hooks)."""
    proc = run(["diff-tree", "--quiet", "-r", "--root", "--no-commit-id", "-m", commit, "--", pattern], root, check=False)
    return proc.returncode == 1


def differ(root: str, old: str, new: str, pattern: str) -> bool:
    proc = run(["diff", "--quiet", "--no-ext-diff", old, new, "--", pattern], root, check=False)
    return proc.returncode == 1


def diff_names(root: str, old: str, new: str, pattern: str) -> list[str]:
    proc = run(["diff", "--name-only", "-z", "--no-renames", old, new, "--", pattern], root)
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def read_blobs(root: str, blobs: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch`."""
    if not blobs:
        return {}
    proc = run(["cat-file", "--batch"], root, input=("\n".join(blobs) + "\n").encode())
    data = proc.stdout
    out: dict[str, bytes] = {}
    pos = 0
    for sha in blobs:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].decode().split()
        pos = nl + 1
        if len(header) < 3 or header[1] == "missing":
            continue
        size = int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1
    return out


def files_at(root: str, commit: str, paths: list[str]) -> dict[str, bytes]:
    """Contents of `paths` as of `commit` (absent paths are left out), in one git process."""
    names = [f"{commit}:{p}" for p in paths]
    found = read_blobs(root, names)
    return {p: found[n] for p, n in zip(paths, names) if n in found}


def git_path(root: str, name: str) -> str:
    """`git rev-parse --git-path NAME`: honours core.hooksPath and linked worktrees."""
    out = run(["rev-parse", "--git-path", name], root).stdout.decode().strip()
    return out if os.path.isabs(out) else os.path.join(root, out)


def clone(url: str, dest: str, *, branch: str | None = None, depth: int | None = None) -> None:
    args = ["clone", "--quiet"]
    if branch:
        args += ["--branch", branch]
    if depth:
        args += ["--depth", str(depth)]
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    # Hooks of ours configured globally would hydrate mid-clone; the caller pulls afterwards.
    run([*args, "--", url, dest], parent, extra_env={"GITFILER_NO_HOOKS": "1"})


def registry_blobs_reachable(root: str, rev_args: list[str], suffix: str) -> list[str]:
    """Blob ids of files ending in `suffix` in any tree reachable from `rev_args`."""
    proc = run(["rev-list", "--objects", *rev_args], root)
    out: dict[str, None] = {}
    for line in proc.stdout.decode(errors="surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path.endswith(suffix):
            out[sha] = None
    return list(out)


def worktrees(root: str) -> list[str]:
    proc = run(["worktree", "list", "--porcelain"], root)
    return [line[9:] for line in proc.stdout.decode().splitlines() if line.startswith("worktree ")]


def fetch(root: str, remote: str) -> None:
    run(["fetch", "--quiet", "--prune", remote], root)
