"""Is there anything for a hook to do? Decided here, once per hook.

Each decision is data: tests on git's arguments, then git commands whose answer says
whether a registry file changed (for pre-commit: whether a staged file is too large).
`shims.py` renders that data as each shim's shell fast path (so git does not even start
Python when there is nothing to do), and `idle()`
evaluates the very same data in Python, for the entry (which also runs without a shim:
the pre-commit framework, or by hand). Neither is more than a fast path: when git cannot
tell (a first checkout has no old commit), the answer is "maybe", and the hook runs.

The words of a command are templates: `{arg1}`... are git's arguments to the hook,
`{registry_files}` is the pathspec of every registry file, and for pre-push `{lsha}` and
`{rsha}` are one pushed ref's local and remote commits. Python fills them with values, the
shim generator with shell expansions (`"$1"`, `"$lsha"`).

Imported on every hook's start: nothing but `os` (already loaded by Python itself), the
standard library's abstract types and `env` (which the hook entry loads anyway); git is
imported when a check runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .. import env
from ..errors import ConfigError
from ..names import REGISTRY_SUFFIX

ZERO = "0" * 40


class ArgTest:
    """Nothing to do when `a` equals `b` (or, with `equal=False`, when they differ)."""

    __slots__ = ("a", "b", "equal")

    def __init__(self, a: str, b: str, *, equal: bool = True) -> None:
        self.a = a
        self.b = b
        self.equal = equal


class Trigger:
    """One hook's decision. (Plain classes, not dataclasses or NamedTuples: this module is on
    every hook's start, and those imports would cost more than the decision.)"""

    __slots__ = ("hook", "arity", "stdin", "idle_if", "off_by", "unchanged", "per_ref", "commits", "sizes")

    def __init__(
        self, hook: str, arity: int, stdin: bool, *, idle_if: tuple[ArgTest, ...] = (), off_by: env.Var | None = None,
        unchanged: tuple[str, ...] = (), per_ref: bool = False, commits: tuple[str, str] | None = None, sizes: bool = False,
    ) -> None:
        self.hook = hook
        # A GITFILER_* variable whose no-word (env.FALSE_WORDS) turns all of this hook's work off:
        # then nothing to do, decided before any git process starts. Another value (or none)
        # decides nothing. (Not GITFILER_AUTOPULL: with it off, a checkout still removes the
        # files of artifacts the new commit no longer tracks.)
        self.off_by = off_by
        self.arity = arity  # how many arguments git passes
        self.stdin = stdin  # git writes input on stdin (the shim saves it for the chained hook and for ours)
        self.idle_if = idle_if  # any true: nothing to do, whatever the commits hold
        self.unchanged = unchanged  # a git command that exits 0 exactly when no registry file changed
        self.per_ref = per_ref  # pre-push: decided for each pushed ref from stdin (see the PUSH_ rules)
        self.commits = commits  # hooks that hydrate: the old and new commit to compare
        self.sizes = sizes  # pre-commit: decided by the sizes of the staged files (see the STAGED_ rules)


def _unchanged_between(old: str, new: str) -> tuple[str, ...]:
    return ("diff", "--quiet", "--no-ext-diff", old, new, "--", "{registry_files}")


TRIGGERS: dict[str, Trigger] = {
    t.hook: t
    for t in (
        Trigger(
            "post-commit", 0, False, off_by=env.AUTOPUSH,
            unchanged=("diff-tree", "--quiet", "-r", "-m", "--root", "--no-commit-id", "HEAD", "--", "{registry_files}"),
        ),
        Trigger("pre-push", 2, True, per_ref=True),
        Trigger(
            "post-checkout", 3, False,
            # A file checkout (`git checkout -- path`, flag 0), or a switch that moved nothing.
            idle_if=(ArgTest("{arg3}", "1", equal=False), ArgTest("{arg1}", "{arg2}")),
            unchanged=_unchanged_between("{arg1}", "{arg2}"), commits=("{arg1}", "{arg2}"),
        ),
        Trigger("post-merge", 1, False, unchanged=_unchanged_between("ORIG_HEAD", "HEAD"), commits=("ORIG_HEAD", "HEAD")),
        Trigger(
            "post-rewrite", 1, True,
            # `commit --amend`: the work tree already holds what was committed.
            idle_if=(ArgTest("{arg1}", "rebase", equal=False),),
            unchanged=_unchanged_between("ORIG_HEAD", "HEAD"), commits=("ORIG_HEAD", "HEAD"),
        ),
        Trigger("pre-commit", 0, False, sizes=True),
    )
}
HOOKS = tuple(TRIGGERS)  # the git hooks gitfiler installs

# pre-push: git writes `<local ref> <local sha> <remote ref> <remote sha>` per pushed ref. A ref
# sends nothing when deleted; else, for a branch the remote has, the commits its tip lacks;
# for a new one, the commits no ref of that git remote has. The push has nothing to do when
# none of those commits touches a registry file.
PUSH_DELETED = ArgTest("{lsha}", ZERO)
PUSH_REMOTE_HAS = ("cat-file", "-e", "{rsha}^{{commit}}")  # asked only when the remote sha is not zero
PUSH_RANGE_KNOWN = ("{lsha}", "--not", "{rsha}")
PUSH_RANGE_NEW = ("{lsha}", "--not", "--remotes={arg1}")
PUSH_TOUCHES = ("rev-list", "-n", "1", "--full-history")  # + range + `-- {registry_files}`: prints a commit if any

# pre-commit: nothing to do outside a gitfiler repository (no committed config), or when no file the
# commit adds or changes is larger than `large_file_threshold`. The sizes are those of the staged
# blobs, what the commit would store: in each `--raw` line the new blob id is the fourth
# space-separated field, and `cat-file --batch-check` answers its size (submodules are skipped).
# Both read the index git is committing (GIT_INDEX_FILE, for `commit -a` and `commit PATH`).
STAGED = ("diff", "--cached", "--raw", "--no-abbrev", "--no-renames", "--no-color", "--ignore-submodules=all", "--diff-filter=AM")
STAGED_SIZES = ("cat-file", "--batch-check=%(objectsize)")


def registry_files() -> str:
    return f"*{REGISTRY_SUFFIX}"


def fill(words: Sequence[str], fields: Mapping[str, str]) -> list[str]:
    return [w.format_map(fields) for w in words]


def hook_fields(args: Sequence[str]) -> dict[str, str]:
    return {**{f"arg{i}": a for i, a in enumerate(args, 1)}, "registry_files": registry_files()}


def holds(test: ArgTest, fields: Mapping[str, str]) -> bool:
    return (test.a.format_map(fields) == test.b.format_map(fields)) == test.equal


def idle_by_args(hook: str, args: Sequence[str]) -> bool:
    """The part of `idle` that git's arguments and the environment decide alone, before any
    git process starts."""
    trigger = TRIGGERS[hook]
    if trigger.off_by is not None:
        try:
            if env.flag(trigger.off_by) is False:
                return True
        except ConfigError:
            pass  # the hook runs, and names the mistake
    fields = {f"arg{i}": a for i, a in enumerate(args, 1)}
    return any(holds(t, fields) for t in trigger.idle_if)


def idle(root: str, hook: str, args: Sequence[str], stdin: str = "") -> bool:
    """True when `hook`, called with `args` (and `stdin`), certainly has nothing to do."""
    trigger = TRIGGERS[hook]
    if idle_by_args(hook, args):
        return True
    from .. import git

    if trigger.sizes:
        limit = size_limit(root)
        return limit is None or all(size <= limit for _path, size in staged_sizes(root))
    if trigger.per_ref:
        for _lref, lsha, _rref, rsha in parse_push_lines(stdin):
            rng = push_range(root, args[0], lsha, rsha)
            if rng is None:
                continue
            proc = git.run([*PUSH_TOUCHES, *rng, "--", registry_files()], root, check=False)
            if proc.returncode != 0 or proc.stdout.strip():
                return False
        return True
    return git.run(fill(trigger.unchanged, hook_fields(args)), root, check=False).returncode == 0


def commits(hook: str, args: Sequence[str]) -> tuple[str, str]:
    """The (old, new) commits a hydrating hook compares, as revisions (e.g. ORIG_HEAD, HEAD)."""
    pair = TRIGGERS[hook].commits
    assert pair is not None, f"{hook} does not hydrate"
    old, new = fill(pair, {f"arg{i}": a for i, a in enumerate(args, 1)})
    return old, new


def parse_push_lines(text: str) -> list[tuple[str, str, str, str]]:
    """git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line."""
    from ..errors import FilerError

    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise FilerError(f"pre-push: unexpected input line {line!r}; expected '<local ref> <local sha> <remote ref> <remote sha>'")
        out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def push_range(root: str, git_remote: str, lsha: str, rsha: str) -> list[str] | None:
    """`git rev-list` arguments naming the commits one pushed ref sends; None for a deletion."""
    from .. import git

    fields = {"lsha": lsha, "rsha": rsha, "arg1": git_remote}
    if holds(PUSH_DELETED, fields):
        return None
    if rsha != ZERO and git.run(fill(PUSH_REMOTE_HAS, fields), root, check=False).returncode == 0:
        return fill(PUSH_RANGE_KNOWN, fields)
    return fill(PUSH_RANGE_NEW, fields)


def size_limit(root: str) -> int | None:
    """The largest file a commit may add to git here (`large_file_threshold`); None outside a
    gitfiler repository."""
    from ..project import Project

    project = Project.find(root)
    return project.config.large_file_threshold if project.initialized else None


def _index_env() -> dict[str, str]:
    """The index the commit is made from: git exports it to the hook (relative to the hook's
    directory, the work tree's top), and gitfiler's own git calls drop it unless told."""
    index = os.environ.get("GIT_INDEX_FILE")
    return {"GIT_INDEX_FILE": os.path.abspath(index)} if index else {}


def staged_sizes(root: str) -> list[tuple[str, int]]:
    """(path, size in bytes) of each file the commit being made adds or changes, as staged."""
    from .. import git

    env = _index_env()
    fields = git.run([*STAGED, "-z"], root, extra_env=env).stdout.split(b"\0")
    staged: list[tuple[str, str]] = []  # (path, blob)
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):  # a NUL ends the output: one field more
        # ":<old mode> <new mode> <old blob> <new blob> <status>", then the path
        parts = meta.decode("ascii", "replace").split(" ")
        if len(parts) == 5 and parts[1] != "160000":
            staged.append((os.fsdecode(path), parts[3]))
    if not staged:
        return []
    answer = git.run(list(STAGED_SIZES), root, input="".join(f"{blob}\n" for _path, blob in staged).encode(), extra_env=env).stdout
    sizes = answer.decode("ascii", "replace").split("\n")
    return [(path, int(size)) for (path, _blob), size in zip(staged, sizes, strict=False) if size.isdigit()]
