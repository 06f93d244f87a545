"""Every conversation with git goes through this module.

Plumbing commands run as subprocesses. History is read in bulk through git's
batch modes (`diff-tree --stdin`, `cat-file --batch`): one process for a whole
pushed range, nothing checked out. That proved fast enough (10,000 registry
versions in about a second) without pygit2, whose import alone costs ~90 ms in
every hook.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, NamedTuple

from .env import NO_HOOKS
from .errors import FilerError, NotARepositoryError

ZERO_SHA = "0" * 40
# Registry files are refused above 1 MiB (registry.read), so a bigger blob that
# claims to be one is never read into memory: a hostile repository could make it
# gigabytes.
MAX_BLOB_BYTES = 1 << 20
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CHUNK = 1 << 16
# Total bytes of paths per git command line, far below ARG_MAX.
_ARGV_BUDGET = 64 * 1024


def clean_env() -> dict[str, str]:
    """The environment for child git processes, minus variables a hook inherits that would mislead them."""
    env = dict(os.environ)
    for var in ("GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_DIR", "GIT_PREFIX"):
        # Hooks run with GIT_DIR/GIT_INDEX_FILE set relative to the repo; we pass -C instead.
        env.pop(var, None)
    for var in ("GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS"):
        # Our patterns ('*.filer') and our literal paths must mean the same whatever the user exported.
        env.pop(var, None)
    return env


def run(
    args: list[str], cwd: str, *, check: bool = True, input: bytes | None = None, extra_env: dict[str, str] | None = None, literal: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run git. `literal=True` makes every pathspec an exact path: no globbing, no ':(magic)'
    (a file may be called 'x[1].filer' or ':x.filer'); only for commands that take no patterns."""
    env = clean_env()
    env.update(extra_env or {})
    if literal:
        env["GIT_LITERAL_PATHSPECS"] = "1"
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
    # One path per line; splitlines() would also cut at \r, \f and other characters a path may hold.
    lines = os.fsdecode(proc.stdout).removesuffix("\n").split("\n")
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


def ls_files(root: str, patterns: list[str], *, others: bool = True, literal: bool = False) -> list[str]:
    """Repo-relative paths matching git pathspecs, staged or untracked-but-not-ignored.

    `literal=True`: `patterns` are paths (a file, or a directory and what is below it), not globs.
    """
    args = ["ls-files", "-z", "--cached", "--full-name"]
    if others:
        args += ["--others", "--exclude-standard"]
    proc = run([*args, "--", *patterns], root, literal=literal)
    seen: dict[str, None] = {}
    for p in proc.stdout.split(b"\0"):
        if p:
            seen[os.fsdecode(p)] = None
    return list(seen)


def add(root: str, paths: list[str]) -> None:
    """Stage exactly `paths` (literal: 'x[1].filer' never stages 'x1.filer')."""
    for chunk in _chunks(paths):
        run(["add", "--", *chunk], root, literal=True)


def rm_cached(root: str, paths: list[str]) -> None:
    """Unstage exactly `paths` (literal), keeping the files; paths git does not track are ignored."""
    for chunk in _chunks(paths):
        run(["rm", "--cached", "-q", "--ignore-unmatch", "--", *chunk], root, literal=True)


def is_ignored(root: str, path: str) -> bool:
    return run(["check-ignore", "-q", "--no-index", "--", path], root, check=False, literal=True).returncode == 0


def _chunks(paths: list[str]) -> Iterator[list[str]]:
    """`paths` in batches small enough for one command line."""
    chunk: list[str] = []
    used = 0
    for p in paths:
        if chunk and used + len(p) + 1 > _ARGV_BUDGET:
            yield chunk
            chunk, used = [], 0
        chunk.append(p)
        used += len(p) + 1
    if chunk:
        yield chunk


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
    args = ["diff-tree", "--stdin", "-r", "-z", "--root", "-m", "--no-renames", "--raw", "--diff-filter=AMT"]
    proc = run(args, root, input=("\n".join(commits) + "\n").encode())
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


class Blobs(dict[str, bytes]):
    """Blob contents by key (blob id, or path for `files_at`).

    `too_large` maps the keys of blobs bigger than the cap to their size: they
    were never read, so they are neither here nor missing. A caller must refuse
    them (a registry file that big is not one), not treat them as absent.
    """

    def __init__(self) -> None:
        super().__init__()
        self.too_large: dict[str, int] = {}


@contextmanager
def _batch(root: str, args: list[str], lines: list[str]) -> Iterator[IO[bytes]]:
    """A streaming git batch command: `lines` are written by a thread while the caller reads
    stdout, so neither side waits on a full pipe and nothing is held whole in memory."""
    with tempfile.TemporaryFile() as errf:
        try:
            proc = subprocess.Popen(["git", *args], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf, env=clean_env())
        except FileNotFoundError:
            raise FilerError("git is not installed or not on PATH; install git and retry") from None
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def feed() -> None:
            try:
                for i in range(0, len(lines), 1024):
                    stdin.write("".join(f"{line}\n" for line in lines[i : i + 1024]).encode())
            except OSError:
                pass  # git died; its exit status tells why
            finally:
                try:
                    stdin.close()
                except OSError:
                    pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        finished = False
        try:
            yield proc.stdout
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            rc = proc.wait()
            writer.join()
        if rc != 0:
            errf.seek(0)
            msg = errf.read().decode(errors="replace").strip().splitlines()
            raise FilerError(f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(rc)}")


class _EarlyEnd(Exception):
    """git's output stopped mid-answer; its exit status and stderr say why."""


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise _EarlyEnd
    return data


def _drain(stream: IO[bytes], n: int) -> None:
    while n > 0:
        n -= len(_read_exact(stream, min(n, _CHUNK)))


def _cat_objects(root: str, oids: list[str], wanted: Callable[[str, int], bool]) -> Iterator[tuple[str, str, int, bytes | None]]:
    """(oid, type, size, content) for each of `oids` through one `git cat-file --batch`.

    Content is read only when `wanted(type, size)`; otherwise it is skipped in
    chunks and None. A missing object has type "missing". Only full hex ids are
    sent, so no name can break the line protocol.
    """
    for oid in oids:
        if not _OID.fullmatch(oid):
            raise ValueError(f"not a full object id: {oid!r}")
    if not oids:
        return
    complete = False
    with _batch(root, ["cat-file", "--batch"], oids) as out:
        try:
            for oid in oids:
                line = out.readline(256)
                if not line:
                    raise _EarlyEnd
                header = line.rstrip(b"\n").split(b" ")
                if len(header) == 2 and header[1] in (b"missing", b"ambiguous"):
                    yield oid, "missing", 0, None
                    continue
                if not line.endswith(b"\n") or len(header) != 3 or header[0].decode() != oid or not header[2].isdigit():
                    raise FilerError(f"unexpected output from git cat-file for {oid}: {line[:100]!r}")
                kind, size = header[1].decode(), int(header[2])
                data: bytes | None = None
                if wanted(kind, size):
                    data = _read_exact(out, size)
                else:
                    _drain(out, size)
                _read_exact(out, 1)  # the LF after each object
                yield oid, kind, size, data
            complete = True
        except _EarlyEnd:
            pass  # leaving the block raises git's own error if it failed
    if not complete:
        raise FilerError("git cat-file stopped before answering for every object; is the repository corrupt? try 'git fsck'")


def read_blobs(root: str, blobs: list[str], *, max_size: int = MAX_BLOB_BYTES) -> Blobs:
    """Contents of many blobs (full hex ids) through one streaming `git cat-file --batch`.

    Missing ids and non-blobs are left out; blobs above `max_size` bytes are
    skipped unread and listed in `.too_large`.
    """
    out = Blobs()
    wanted = list(dict.fromkeys(blobs))
    for oid, kind, size, data in _cat_objects(root, wanted, lambda kind, size: kind == "blob" and size <= max_size):
        if kind != "blob":
            continue
        if data is None:
            out.too_large[oid] = size
        else:
            out[oid] = data
    return out


class TreeEntry(NamedTuple):
    mode: str
    kind: str
    oid: str
    path: str


def ls_tree(root: str, commit: str, paths: list[str]) -> list[TreeEntry]:
    """Entries of `paths` (exact repo-relative paths) in `commit`'s tree, recursively, read with -z.

    A commit or tree that does not exist yields nothing.
    """
    if commit.startswith("-"):
        raise ValueError(f"not a revision: {commit!r}")
    wanted = set(paths)
    out: list[TreeEntry] = []
    for chunk in _chunks(list(wanted)):
        # ls-tree matches a directory's contents too; only exact paths are kept below.
        proc = run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", *chunk], root, check=False, literal=True)
        if proc.returncode != 0:
            if rev_parse(root, f"{commit}^{{tree}}") is None:
                return []
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise FilerError(f"git ls-tree failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
        out += [e for e in _tree_records(proc.stdout) if e.path in wanted]
    return out


def _tree_records(stdout: bytes) -> Iterator[TreeEntry]:
    """The entries of `git ls-tree -z` output."""
    for record in stdout.split(b"\0"):
        meta, tab, name = record.partition(b"\t")
        if tab:
            mode, kind, oid = meta.decode().split(" ")
            yield TreeEntry(mode, kind, oid, os.fsdecode(name))


def _files_by_path(root: str, entries: Iterable[TreeEntry], max_size: int) -> Blobs:
    """The contents of the regular files among `entries` (no links, trees or submodules), keyed by path."""
    ids = {e.path: e.oid for e in entries if e.kind == "blob" and e.mode != "120000"}
    blobs = read_blobs(root, list(ids.values()), max_size=max_size)
    out = Blobs()
    for path, oid in ids.items():
        if oid in blobs:
            out[path] = blobs[oid]
        elif oid in blobs.too_large:
            out.too_large[path] = blobs.too_large[oid]
    return out


def files_at(root: str, commit: str, paths: list[str], *, max_size: int = MAX_BLOB_BYTES) -> Blobs:
    """Contents of the regular files `paths` as of `commit`, keyed by path; absent paths (and
    symlinks, directories, submodules) are left out, those above `max_size` are in `.too_large`."""
    return _files_by_path(root, ls_tree(root, commit, paths), max_size)


def files_named(root: str, commit: str, suffix: str, *, max_size: int = MAX_BLOB_BYTES) -> Blobs:
    """Contents of every regular file in `commit`'s tree whose name ends in `suffix`, keyed by
    repo-relative path (those above `max_size` in `.too_large`). A commit that does not exist yields nothing."""
    if commit.startswith("-"):
        raise ValueError(f"not a revision: {commit!r}")
    proc = run(["ls-tree", "-r", "-z", "--full-tree", commit], root, check=False, literal=True)
    if proc.returncode != 0:
        return Blobs()
    named = (e for e in _tree_records(proc.stdout) if e.path.endswith(suffix) and len(e.path.rpartition("/")[2]) > len(suffix))
    return _files_by_path(root, named, max_size)


def ignored_below(root: str, directory: str, unignore: list[str]) -> list[str]:
    """Files below `directory` (repo-relative, untracked) that git's standard ignore rules
    (.gitignore files, info/exclude, core.excludesFile) leave out, in one `ls-files` call.

    `unignore`: command-line patterns (highest precedence in git) evaluated first, e.g.
    `!/data/train` so that a directory that is itself ignored is still looked into and only
    the rules about what lies inside it count."""
    args = ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--full-name"]
    for pattern in unignore:
        args += ["-x", pattern]
    proc = run([*args, "--", directory], root, literal=True)
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def untracked(root: str, paths: list[str]) -> list[str]:
    """Untracked, not ignored files at or below `paths` (literal), repo-relative."""
    out: dict[str, None] = {}
    for chunk in _chunks(paths):
        proc = run(["ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", *chunk], root, literal=True)
        out.update((os.fsdecode(p), None) for p in proc.stdout.split(b"\0") if p)
    return list(out)


def git_path(root: str, name: str) -> str:
    """`git rev-parse --git-path NAME`: honours core.hooksPath and linked worktrees."""
    out = os.fsdecode(run(["rev-parse", "--git-path", name], root).stdout).removesuffix("\n")
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
    run([*args, "--", url, dest], parent, extra_env={NO_HOOKS.name: "1"})


def registry_blobs_reachable(root: str, rev_args: list[str], suffix: str) -> list[str]:
    """Blob ids of files named `*suffix` in any tree reachable from `rev_args` (and, with
    `--indexed-objects`, in every worktree's index).

    `rev-list --objects` cuts each path at its first newline, so a registry file
    under a name with a newline would be missed and gc would delete what it
    references. Instead the trees themselves are read: an entry's name is
    NUL-terminated there and ends with `suffix` exactly when its path does.
    """
    proc = run(["rev-list", "--objects", "--filter=object:type=tree", *rev_args], root)
    # Each line starts with an object id (commit or tree); what follows is a name we do not trust.
    oids = list(dict.fromkeys(line.split(b" ", 1)[0].decode() for line in proc.stdout.split(b"\n") if line))
    found: dict[str, None] = {}
    want = suffix.encode()
    for tree_oid, kind, _size, data in _cat_objects(root, oids, lambda kind, _size: kind == "tree"):
        if kind == "tree" and data is not None:
            try:
                for oid in _tree_blobs_named(data, want, len(tree_oid) // 2):
                    found[oid] = None
            except ValueError:
                raise FilerError(f"tree {tree_oid} is malformed; run 'git fsck' and repair the repository before gc") from None
    if "--indexed-objects" in rev_args:
        for tree in worktrees(root):
            if not os.path.isdir(tree):
                raise FilerError(f"worktree {tree} is registered but missing, so its index cannot be read; restore it or run 'git worktree prune'")
            for oid, path in _index_blobs(tree):
                if path.endswith(want):
                    found[oid] = None
    return list(found)


def _tree_blobs_named(data: bytes, suffix: bytes, raw_len: int) -> Iterator[str]:
    """Ids of the non-tree, non-submodule entries of a raw tree object whose name ends with `suffix`.

    A raw tree is a sequence of `<octal mode> SP <name> NUL <raw id>`.
    """
    pos = 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        nul = data.index(b"\0", sp)
        mode, name = int(data[pos:sp], 8), data[sp + 1 : nul]
        raw = data[nul + 1 : nul + 1 + raw_len]
        if len(raw) != raw_len:
            raise ValueError("truncated tree entry")
        pos = nul + 1 + raw_len
        if mode & 0o170000 not in (0o040000, 0o160000) and name.endswith(suffix):
            yield raw.hex()


def _index_blobs(worktree: str) -> Iterator[tuple[str, bytes]]:
    """(blob id, path) of every entry, every stage, of a worktree's index."""
    proc = run(["ls-files", "-s", "-z"], worktree)
    for record in proc.stdout.split(b"\0"):
        meta, tab, path = record.partition(b"\t")
        if tab:
            mode, oid, _stage = meta.decode().split(" ")
            if mode != "160000":
                yield oid, path


def worktrees(root: str) -> list[str]:
    """Every worktree's root (-z: a path may hold a newline)."""
    proc = run(["worktree", "list", "--porcelain", "-z"], root)
    return [os.fsdecode(field[9:]) for field in proc.stdout.split(b"\0") if field.startswith(b"worktree ")]


def fetch(root: str, remote: str) -> None:
    run(["fetch", "--quiet", "--prune", remote], root)


# -- model dependencies (issue 11): blob ids of tracked paths, without re-hashing unchanged files ----


def index_blob_ids(root: str, paths: list[str]) -> dict[str, str]:
    """{path: blob id} of every file git's index holds at or below `paths` (literal paths:
    a file, or a directory and everything below it). Submodules are left out; of an
    unmerged path, the last stage listed."""
    out: dict[str, str] = {}
    for chunk in _chunks(paths):
        proc = run(["ls-files", "-s", "-z", "--full-name", "--", *chunk], root, literal=True)
        # One regex over the whole output: parsing record by record cost more than git itself.
        for mode, oid, path in _LS_STAGE.findall(proc.stdout):
            if mode != b"160000":
                out[os.fsdecode(path)] = oid.decode()
    return out


_LS_STAGE = re.compile(rb"([0-7]{6}) ([0-9a-f]{40}|[0-9a-f]{64}) [0-3]\t([^\0]*)\0")


def worktree_changed(root: str, paths: list[str]) -> set[str]:
    """Tracked files at or below `paths` whose work-tree content differs from the index (or that are
    deleted). Porcelain `diff` refreshes stat data in memory, so a file merely touched is not listed,
    and git compares content only for files whose stat data changed: unchanged files are not read."""
    out: set[str] = set()
    for chunk in _chunks(paths):
        proc = run(
            ["-c", "core.quotepath=off", "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--ignore-submodules", "--", *chunk],
            root, literal=True,
        )
        out.update(os.fsdecode(p) for p in proc.stdout.split(b"\0") if p)
    return out


def hash_paths(root: str, paths: list[str]) -> dict[str, str]:
    """{path: blob id} of work-tree files, as `git add` would store them (clean filters applied),
    in one `hash-object --stdin-paths` process (a path holding a newline gets its own)."""
    out: dict[str, str] = {}
    batch = [p for p in paths if "\n" not in p]
    if batch:
        proc = run(["hash-object", "--stdin-paths"], root, input=b"".join(os.fsencode(p) + b"\n" for p in batch))
        ids = proc.stdout.decode().split()
        if len(ids) != len(batch):
            raise FilerError("git hash-object returned fewer ids than paths; retry")
        out.update(zip(batch, ids, strict=True))
    for p in paths:
        if "\n" in p:
            out[p] = run(["hash-object", "--", p], root, literal=True).stdout.decode().strip()
    return out


# -- history of one path (issue 11: `git filer log`) ----------------------------------------


class PathVersion(NamedTuple):
    commit: str
    time: int  # committer time, seconds since the epoch
    subject: str
    mode: str  # the path's mode after the commit ("000000" when the commit removed it)
    blob: str  # its blob after the commit (ZERO_SHA when removed)


def path_log(root: str, path: str, rev: str = "HEAD") -> list[PathVersion]:
    """Every commit reachable from `rev` that changed `path` (an exact repo-relative path),
    newest first, with the path's blob after it; one `git log` process. A merge is compared
    with its first parent (what the branch saw change)."""
    if rev.startswith("-"):
        raise ValueError(f"not a revision: {rev!r}")
    args = ["log", "-z", "--format=%x01%H %ct %s", "--raw", "--no-abbrev", "--no-renames", "--diff-merges=first-parent", rev, "--", path]
    proc = run(args, root, literal=True)
    out: list[PathVersion] = []
    fields = proc.stdout.split(b"\0")
    header: list[str] | None = None
    i = 0
    while i < len(fields):
        item = fields[i].lstrip(b"\n")
        i += 1
        if item.startswith(b"\x01"):
            parts = item[1:].decode(errors="replace").split(" ", 2)
            header = [parts[0], parts[1], parts[2] if len(parts) > 2 else ""]
        elif item.startswith(b":") and header is not None and i < len(fields):
            meta = item[1:].decode().split(" ")
            name = os.fsdecode(fields[i])
            i += 1
            if name == path and len(meta) >= 4:
                out.append(PathVersion(header[0], int(header[1]), header[2], meta[1], meta[3]))
    return out
