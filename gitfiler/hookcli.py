"""`git filer hook NAME ARGS...`: the entry the hook shims call.

It decides from git's arguments (and stdin) whether there is anything to do
before importing anything heavy, so a hook with nothing to do costs a Python
start and one git plumbing call at most. Only this module prints for hooks.
"""

from __future__ import annotations

import os
import sys

HOOK_ARGS = {
    "post-commit": (0, 0), "pre-push": (2, 2), "post-checkout": (3, 3), "post-merge": (1, 1), "post-rewrite": (1, 1),
    # The pre-commit framework's stages: arguments come from its PRE_COMMIT_* variables, filenames are ignored.
    "pre-commit-push": (0, 1 << 16), "pre-commit-pull": (0, 1 << 16),
}
ZERO = "0" * 40


def _say(text: str) -> None:
    from .quoting import escape_text

    # Paths and reasons come from the repository: control characters are shown escaped, never sent to the terminal.
    print(f"gitfiler: {escape_text(text)}", file=sys.stderr)


def _env_off(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and value.lower() in ("0", "false", "no", "off")


def main(argv: list[str]) -> int:
    """argv: [NAME, *git's arguments]."""
    if not argv or argv[0] not in HOOK_ARGS:
        _say(f"unknown hook {argv[0] if argv else ''!r}; expected one of {', '.join(HOOK_ARGS)}")
        return 2
    name, args = argv[0], argv[1:]
    lo, hi = HOOK_ARGS[name]
    if not lo <= len(args) <= hi:
        _say(f"{name} expects {lo} argument(s) from git, got {len(args)}; is the hook shim out of date? run 'git filer install --force'")
        return 0 if name != "pre-push" else 1
    if os.environ.get("GITFILER_NO_HOOKS", "0") not in ("", "0"):
        return 0
    verbose = os.environ.get("GITFILER_VERBOSE", "0") not in ("", "0")
    try:
        return _dispatch(name, args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - a hook explains itself in one line; the traceback only when asked
        from .errors import FilerError

        if verbose:
            import traceback

            traceback.print_exc()
        what = str(err) if isinstance(err, (FilerError, OSError)) else f"internal error {type(err).__name__}: {err} (set GITFILER_VERBOSE=1 for the traceback)"
        if name == "pre-push":
            _say(f"push refused: {what}")
            return 1
        _say(f"{name}: {what}")
        return 0


def _dispatch(name: str, args: list[str]) -> int:
    env = os.environ.get
    if name == "pre-commit-push":
        # When the push includes a root commit, pre-commit sets no refs: check the whole local branch.
        local = env("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
        line = f"{local} {env('PRE_COMMIT_TO_REF') or local} {env('PRE_COMMIT_REMOTE_BRANCH') or 'HEAD'} {env('PRE_COMMIT_FROM_REF') or ZERO}\n"
        return _pre_push(env("PRE_COMMIT_REMOTE_NAME") or "origin", line)
    if name == "pre-commit-pull":
        if env("PRE_COMMIT_CHECKOUT_TYPE") is not None:
            name, args = "post-checkout", [env("PRE_COMMIT_FROM_REF") or "", env("PRE_COMMIT_TO_REF") or "", env("PRE_COMMIT_CHECKOUT_TYPE") or "0"]
        else:
            name, args = "post-merge", [env("PRE_COMMIT_IS_SQUASH_MERGE") or "0"]
    if name == "post-checkout":
        old, new, branch_flag = args
        if branch_flag != "1" or old == new:
            return 0  # a file checkout, or a branch switch that moved nothing
        return _hydrate(name, old, new)
    if name == "post-rewrite":
        if args[0] != "rebase":
            return 0  # amend: the work tree already holds what was committed
        sys.stdin.read()
        return _hydrate(name, _rev("ORIG_HEAD"), "HEAD")
    if name == "post-merge":
        return _hydrate(name, _rev("ORIG_HEAD"), "HEAD")
    if name == "post-commit":
        return _post_commit()
    return _pre_push(args[0], sys.stdin.read())


def _project():
    from .project import Project

    return Project.find(".")


def _rev(name: str) -> str:
    from . import git

    return git.rev_parse(".", name) or ""


def _hydrate(name: str, old: str, new: str) -> int:
    from . import git

    found = git.find_repo(".")
    if found is None:
        return 0
    if old and old != ZERO and git.object_exists(found.root, old) and not git.differ(found.root, old, new, "*.filer"):
        return 0  # no registry file changed: nothing to hydrate or remove
    project = _project()
    from .commands.hooks import hydrate_changed, in_rebase

    if name != "post-rewrite" and in_rebase(project):
        return 0  # mid-rebase checkouts: post-rewrite hydrates once the rebase is done
    if not project.initialized:
        return 0
    from .errors import ConflictError, PartialFailure

    try:
        result, retired = hydrate_changed(project, old, new)
    except ConflictError as err:
        for path in getattr(err, "kept", []):
            _say(f"kept your modified {path} (not overwritten); 'git filer pull --force {path}' discards it")
        return 0
    except PartialFailure as err:
        for what, why in err.failures:
            _say(f"could not hydrate {what}: {why}")
        _say(f"{name}: some artifacts are not hydrated; run 'git filer pull' when the remote is reachable")
        return 0
    for path in retired.kept:
        _say(f"kept your modified {path}: its registry file is gone on this commit")
    if result is not None and result.hydrated:
        _say(f"hydrated {len(result.hydrated)} file(s)")
    return 0


def _post_commit() -> int:
    from . import git

    found = git.find_repo(".")
    if found is None or not git.changed_in_commit(found.root, "HEAD", "*.filer"):
        return 0
    project = _project()
    if not project.initialized:
        return 0
    if _env_off("GITFILER_AUTOPUSH") or project.config.autopush is False:
        return 0
    from .commands.hooks import post_commit
    from .errors import FilerError

    try:
        result = post_commit(project)
    except FilerError as err:
        _say(f"could not upload this commit's artifacts ({err}); they will be pushed by the pre-push hook at 'git push'")
        return 0
    if result is not None and result.transfer.objects:
        _say(f"uploaded {result.transfer.objects} object(s) to the filer remote")
    return 0


def _pre_push(git_remote: str, stdin_text: str) -> int:
    if not stdin_text.strip():
        return 0  # nothing is being pushed
    from . import git
    from .commands.prepush import pushed_changes

    found = git.find_repo(".")
    if found is None:
        return 0
    commits, changes = pushed_changes(found.root, git_remote, stdin_text)
    if not changes:
        return 0  # the pushed commits touch no registry file: stay local and instant
    project = _project()
    if not project.initialized:
        return 0
    from .commands.hooks import pre_push

    report = pre_push(project, commits, changes)
    if report.refusals:
        _say(f"push refused: {len(report.refusals)} problem(s) with artifacts in the pushed commits:")
        for r in report.refusals:
            from .quoting import escape_text, quote_path

            print(f"  {r.commit[:10]}  {quote_path(r.registry)}  {r.oid}  {escape_text(r.reason)}", file=sys.stderr)
        _say("fix them (e.g. 'git filer push' from a clone that has the bytes) and push again")
        return 1
    if report.uploaded:
        _say(f"uploaded {report.uploaded} object(s) to the filer remote before the push")
    return 0
