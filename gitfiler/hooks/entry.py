"""`git filer hook NAME ARGS...`: what the shims run, and the pre-commit framework's stages.

No click, and nothing heavy until `triggers` says there is work: a hook with nothing to do
costs a Python start and a git call or two. This module and `handler` are the only ones
that talk to the terminal for hooks, and here hook policy is applied: only pre-push (the
gate) and pre-commit (a file too large for git) may fail the git operation, and pre-commit
only for that; the others report, return 0, and leave `git filer pull` or the pre-push gate
to finish the job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .. import env
from . import triggers

# The pre-commit framework's stages (see .pre-commit-hooks.yaml): their arguments come from its
# PRE_COMMIT_* variables and are turned into the git hook's; filenames it passes are ignored.
PRE_COMMIT_STAGES = ("pre-commit-push", "pre-commit-pull")
NAMES = (*triggers.HOOKS, *PRE_COMMIT_STAGES)

# What a hook says when it fails, before the reason, and after it (hook policy).
_FAILED = {
    "pre-push": ("push refused: ", ""),
    "post-commit": ("post-commit: could not upload this commit's artifacts: ", "they will be pushed by the pre-push hook at 'git push'"),
    "pre-commit": ("pre-commit: could not check the sizes of the staged files: ", "the commit goes ahead unchecked"),
}
_HYDRATE_FAILED = "run 'git filer pull' when the remote is reachable"
_HYDRATE_FIX_FIRST = "fix that, then run 'git filer pull' to hydrate the work tree"


def say(text: str) -> None:
    """One line for the user. Callers escape what came from the repository (quoting.py)."""
    print(f"gitfiler: {text}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    """argv: [NAME, *git's arguments]."""
    if not argv or argv[0] not in NAMES:
        from ..quoting import escape_text

        given = escape_text(repr(argv[0] if argv else ""))
        say(f"unknown hook {given}; expected one of {', '.join(NAMES)}")
        return 2
    name, args = argv[0], list(argv[1:])
    verbose = env.verbose(strict=False)
    try:
        if env.no_hooks():
            return 0
        trigger = triggers.TRIGGERS.get(name)
        if trigger is not None and len(args) != trigger.arity:
            say(f"{name} expects {trigger.arity} argument(s) from git, got {len(args)}; is the hook shim out of date? run 'git filer install --force'")
            return 1 if name == "pre-push" else 0
        name, args, stdin = _as_git_hook(name, args)
        return _run(name, args, stdin)
    except (Exception, KeyboardInterrupt) as err:  # one handler decides the words; the policy is the hook's
        return _failed(name, err, verbose)


def _as_git_hook(name: str, args: list[str]) -> tuple[str, list[str], str]:
    """(git hook, its arguments, its stdin) for a git hook or a pre-commit framework stage."""
    get = os.environ.get
    if name == "pre-commit-push":
        # When the push includes a root commit, pre-commit sets no refs: check the whole local branch.
        local = get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
        line = f"{local} {get('PRE_COMMIT_TO_REF') or local} {get('PRE_COMMIT_REMOTE_BRANCH') or 'HEAD'} {get('PRE_COMMIT_FROM_REF') or triggers.ZERO}\n"
        remote = get("PRE_COMMIT_REMOTE_NAME") or "origin"
        return "pre-push", [remote, get("PRE_COMMIT_REMOTE_URL") or remote], line
    if name == "pre-commit-pull":
        if get("PRE_COMMIT_CHECKOUT_TYPE") is not None:
            return "post-checkout", [get("PRE_COMMIT_FROM_REF") or "", get("PRE_COMMIT_TO_REF") or "", get("PRE_COMMIT_CHECKOUT_TYPE") or "0"], ""
        return "post-merge", [get("PRE_COMMIT_IS_SQUASH_MERGE") or "0"], ""
    return name, args, sys.stdin.read() if triggers.TRIGGERS[name].stdin else ""


def _run(name: str, args: list[str], stdin: str) -> int:
    if triggers.idle_by_args(name, args):
        return 0  # decided without starting git
    from .. import git

    found = git.find_repo(".")
    if found is None:
        return 0
    if name == "pre-commit":
        return _pre_commit(found.root)  # its check is its decision: asked once
    if triggers.idle(found.root, name, args, stdin):
        return 0
    if name == "pre-push":
        return _pre_push(found.root, args[0], stdin)
    if name == "post-commit":
        return _post_commit(found.root)
    old, new = triggers.commits(name, args)
    return _hydrate(found.root, name, old, new)


def _pre_push(root: str, git_remote: str, stdin: str) -> int:
    from ..quoting import escape_text, quote_path
    from . import pre_push

    report = pre_push.run(root, git_remote, stdin)
    if report is None:
        return 0
    if report.refusals:
        say(f"push refused: {len(report.refusals)} problem(s) with artifacts in the pushed commits:")
        for r in report.refusals:
            print(f"  {r.commit[:10]}  {quote_path(r.registry)}  {r.oid}  {escape_text(r.reason)}", file=sys.stderr)
        say("fix them (e.g. 'git filer push' from a clone that has the bytes) and push again")
        return report.exit_code
    if report.uploaded:
        say(f"uploaded {report.uploaded} object(s) to {report.remote or 'the filer remote'} before the push")
    return 0


def _pre_commit(root: str) -> int:
    """Refuse the commit when it adds or changes a file larger than `large_file_threshold`."""
    limit = triggers.size_limit(root)
    if limit is None:
        return 0
    too_large = [(path, size) for path, size in triggers.staged_sizes(root) if size > limit]
    if not too_large:
        return 0
    import shlex

    from ..quoting import quote_path

    for path, size in too_large:
        shown = quote_path(path)
        arg = shlex.quote(path) if shown == path else shown  # a name that needs escaping is shown as git shows it
        say(
            f"commit refused: {shown} is {_mib(size)}, over the {_mib(limit)} limit for files in git (large_file_threshold); "
            f"track it with 'git rm --cached {arg} && git filer add {arg}', or commit with --no-verify to keep it in git"
        )
    return 1


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _post_commit(root: str) -> int:
    from . import post_commit

    result = post_commit.run(root)
    if result is not None and result.transfer.objects:
        say(f"uploaded {result.transfer.objects} object(s) to {result.transfer.remote or 'the filer remote'}")
    return 0


def _hydrate(root: str, name: str, old: str, new: str) -> int:
    from ..quoting import escape_text, quote_path
    from . import hydrate

    out = hydrate.run(root, name, old, new)
    if out is None:
        return 0
    for path in out.kept:
        say(f"kept your modified {quote_path(path)} (not overwritten); 'git filer pull --force {quote_path(path)}' discards it")
    for path in out.kept_gone:
        say(f"kept your modified {quote_path(path)}: its registry file is gone on this commit")
    for what, why in out.problems:
        say(f"could not hydrate {quote_path(what)}: {escape_text(why)}")
    if out.problems:
        say(f"{name}: some artifacts are not hydrated; {_HYDRATE_FAILED}")
    if out.hydrated:
        say(f"hydrated {len(out.hydrated)} file(s)")
    return 0


def _failed(name: str, err: BaseException, verbose: bool) -> int:
    from .. import handler

    said = handler.outcome(err, verbose=verbose, trace_hint=f"set {env.VERBOSE.name}=1")
    gate = name in ("pre-push", "pre-commit-push")
    from ..errors import RemoteError

    # A hydrating hook's hint: only a remote problem is cured by waiting for the remote.
    hydrate_hint = _HYDRATE_FAILED if isinstance(err, RemoteError) else _HYDRATE_FIX_FIRST
    prefix, after = _FAILED["pre-push"] if gate else _FAILED.get(name, (f"{name}: ", hydrate_hint))
    for line in handler.render(said, prefix=prefix, tag="gitfiler: "):
        print(line, file=sys.stderr)
    if said.kind == handler.INTERRUPTED:
        return said.exit_code  # the user stopped it: git must not carry on as if it had run
    if after:
        say(after)
    if gate:
        return max(said.exit_code, 1)  # only the gate may stop git
    return 0
