"""The `git filer` command line: parse, call one use case, render, exit.

No business logic lives here; every command is a thin shell over
`gitfiler.commands`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from . import __version__, env
from .errors import ConflictError, PartialFailure
from .hooks.entry import NAMES as HOOK_NAMES
from .quoting import escape_text, quote_path


class Ctx:
    def __init__(self, verbose: bool, quiet: bool, directory: str) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.directory = directory

    def project(self, *, cache: str | None = None):  # -> Project
        from .errors import FilerError
        from .project import Project

        project = Project.find(self.directory, cache_dir=cache)
        try:
            ignored = project.config.ignored
        except FilerError:
            ignored = []  # the command itself reports a broken config
        if ignored:
            self.note(
                f"note: .gitfiler/config.yaml sets {escape_text(', '.join(ignored))}; a repository cannot choose these for your machine, "
                "so they are ignored (set them in the per-clone config or the environment: see docs/configuration.md)"
            )
        return project

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text)

    def note(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def sink(self):
        from .ui import RichSink

        return RichSink(enabled=not self.quiet)


pass_ctx = click.make_pass_decorator(Ctx)


def emit_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def jobs_option(f):
    return click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel transfers (default 16, or $GITFILER_JOBS).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and extra detail.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if started in DIR.")
@click.version_option(version=__version__, prog_name="git filer")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, directory: str) -> None:
    """gitfiler: large artifacts out of git, git deciding which bytes belong to each commit.

    \b
    Example:
      git filer init
      git filer add models/resnet.pt data/train/
      git commit -m "model v1" && git filer push
    """
    ctx.obj = Ctx(verbose, quiet, directory)


# -- init / remote ---------------------------------------------------------------------


@cli.command()
@click.option("--remote", "remote_url", metavar="URL", help="Default remote (s3://bucket/prefix or a directory) instead of a local one.")
@click.option("--no-hooks", is_flag=True, default=env.no_hooks, help="Do not install the git hooks (also: GITFILER_NO_HOOKS=1).")
@pass_ctx
def init(c: Ctx, remote_url: str | None, no_hooks: bool) -> None:
    """Set up gitfiler in this repository: .gitfiler/config.yaml, a default remote, the git hooks.

    Without --remote, a local-directory remote is created outside the repository
    and its path printed.

    \b
    Example:
      git filer init
      git filer init --remote s3://ml-bucket/artifacts
    """
    from .commands.init import init as do_init

    project = c.project()
    result = do_init(project, remote_url=remote_url)
    verb = "initialised" if result.created else "updated"
    c.say(f"{verb} {quote_path(result.config)}; default remote '{escape_text(result.remote.name)}' -> {quote_path(result.remote.url)}")
    if not no_hooks:
        from .hooks.install import install as do_install

        _report_install(c, do_install(project.root))


def _report_install(c: Ctx, result) -> None:
    if result.installed:
        c.say(f"installed hooks in {quote_path(result.hooks_dir)}: {', '.join(result.installed)}")
    for name in result.chained:
        c.say(f"  your existing {name} hook is kept as {name}.pre-gitfiler and runs first")


@cli.command()
@click.option("--force", is_flag=True, help="Rewrite our shims, and take over a foreign hook even if an older one is already chained.")
@pass_ctx
def install(c: Ctx, force: bool) -> None:
    """Install the git hooks (post-commit, pre-push, post-checkout, post-merge, post-rewrite).

    Respects core.hooksPath and worktrees. A hook that is not gitfiler's is never
    overwritten: it is kept as NAME.pre-gitfiler and runs first.

    \b
    Example:
      git filer install
    """
    from .hooks.install import install as do_install

    result = do_install(c.project().root, force=force)
    _report_install(c, result)
    if not result.installed:
        c.say(f"hooks already installed in {quote_path(result.hooks_dir)}")


@cli.command()
@pass_ctx
def uninstall(c: Ctx) -> None:
    """Remove gitfiler's hooks and put back any hook they had chained.

    \b
    Example:
      git filer uninstall
    """
    from .hooks.install import uninstall as do_uninstall

    result = do_uninstall(c.project().root)
    c.say(f"removed {len(result.installed)} hook(s) from {quote_path(result.hooks_dir)}" + (f"; restored {', '.join(result.restored)}" if result.restored else ""))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", type=click.Choice(HOOK_NAMES))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(name: str, args: tuple[str, ...]) -> None:
    """Run a git hook's work (called by the shims that `install` writes).

    pre-commit-push and pre-commit-pull read the PRE_COMMIT_* variables the
    pre-commit framework sets, for its pre-push and post-checkout/post-merge stages.

    \b
    Example (what the pre-push shim runs):
      git filer hook pre-push origin git@example.com:team/repo.git < refs
    """
    from .hooks.entry import main as hook_main

    raise SystemExit(hook_main([name, *args]))


@cli.command()
@click.argument("url")
@click.argument("directory", required=False, type=click.Path())
@click.option("-b", "--branch", help="Branch or tag to check out.")
@click.option("--depth", type=click.IntRange(1), help="Shallow clone with this many commits.")
@click.option("-I", "--include", multiple=True, metavar="GLOB", help="Hydrate only artifacts matching GLOB (repeatable).")
@click.option("-X", "--exclude", multiple=True, metavar="GLOB", help="Skip artifacts matching GLOB (repeatable).")
@click.option("-r", "--remote", default=env.remote, metavar="NAME|URL", help="Filer remote to pull from (also: GITFILER_REMOTE).")
@click.option("--cache", default=env.cache_dir, type=click.Path(), help="Shared object cache directory (also: GITFILER_CACHE_DIR).")
@click.option("--no-hooks", is_flag=True, default=env.no_hooks, help="Do not install the git hooks (also: GITFILER_NO_HOOKS=1).")
@click.option("--verify", is_flag=True, help="Re-hash objects already in a shared cache before trusting them.")
@jobs_option
@json_option
@pass_ctx
def clone(
    c: Ctx, url: str, directory: str | None, branch: str | None, depth: int | None, include: tuple[str, ...], exclude: tuple[str, ...],
    remote: str | None, cache: str | None, no_hooks: bool, verify: bool, jobs: int | None, as_json: bool,
) -> None:
    """Clone a repository and hydrate its artifacts in one step (deployment hosts, CI, Docker builds).

    Exits non-zero, listing them, if any requested artifact could not be hydrated.

    \b
    Example:
      git filer clone https://git.example/ml.git /srv/app --include 'models/prod/**' --no-hooks --cache /var/cache/gitfiler
    """
    from .commands.clone import clone as do_clone

    started = time.perf_counter()
    result = do_clone(
        url, directory, branch=branch, depth=depth, include=include, exclude=exclude, remote=remote, cache=cache, jobs=jobs,
        no_hooks=no_hooks, verify=verify, sink=c.sink(),
    )
    if as_json:
        emit_json(result.to_json())
        return
    c.say(f"cloned into {quote_path(result.directory)}")
    if result.corrupt_dropped:
        c.note(f"dropped {len(result.corrupt_dropped)} corrupt object(s) from the shared cache and fetched them again")
    if result.sync:
        _summary(c, "pulled", result.sync, started)


@cli.command()
@click.option("-n", "--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--remote", "git_remote", metavar="GIT_REMOTE", help="Collect the filer remote instead, against the refs of this git remote (fetched first).")
@click.option("-r", "--filer-remote", metavar="NAME", help="Which filer remote (default: the default remote).")
@click.option(
    "--grace", type=click.IntRange(0), default=24 * 3600, show_default=True,
    help="Keep objects (cache or, with --remote, remote) younger than this many seconds, whatever the refs say: they may belong to work not yet committed or pushed.",
)
@click.option("--yes", is_flag=True, help="Really delete from the remote.")
@click.option("--shared-cache-ok", is_flag=True, help="Collect a relocated (possibly shared) cache anyway.")
@json_option
@pass_ctx
def gc(c: Ctx, dry_run: bool, git_remote: str | None, filer_remote: str | None, grace: int, yes: bool, shared_cache_ok: bool, as_json: bool) -> None:
    """Delete objects that no branch, tag, stash, reflog entry, index or worktree references.

    Objects younger than --grace are always kept. With --remote, gc holds the filer
    remote's lock: it refuses to start while a push is being checked, and pushes are
    refused while it runs (see docs/gc.md).

    \b
    Example:
      git filer gc --dry-run
      git filer gc --remote origin --dry-run && git filer gc --remote origin --yes
    """
    from .commands.gc import gc_cache, gc_remote
    from .ui import human_bytes

    project = c.project()
    if git_remote:
        result = gc_remote(project, git_remote, name=filer_remote, dry_run=dry_run, yes=yes, grace_s=grace)
    else:
        result = gc_cache(project, dry_run=dry_run, grace_s=grace, shared_ok=shared_cache_ok)
    if as_json:
        emit_json(result.to_json())
        return
    verb = "would delete" if result.dry_run else "deleted"
    size = f" ({human_bytes(result.bytes)})" if result.bytes else ""
    young = f" ({result.young} unreferenced but younger than the {grace} s grace period)" if result.young else ""
    c.say(f"{verb} {len(result.deleted)} object(s){size} from {result.where}; kept {result.kept}{young}")


@cli.group()
def remote() -> None:
    """Manage filer remotes (where the bytes live).

    \b
    Example:
      git filer remote add team s3://bucket/prefix --endpoint-url http://127.0.0.1:9000 --default
      git filer remote list
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph, R2, ...).")
@click.option("--region", help="S3 region.")
@click.option("--profile", help="AWS profile name (credentials stay in ~/.aws, never in the repo).")
@click.option("--default", "make_default", is_flag=True, help="Make it the default remote.")
@click.option("--force", is_flag=True, help="Replace an existing remote of that name.")
@click.option("--local", is_flag=True, help="Write to the untracked per-clone config instead of .gitfiler/config.yaml.")
@pass_ctx
def remote_add(c: Ctx, name: str, url: str, endpoint_url: str | None, region: str | None, profile: str | None, make_default: bool, force: bool, local: bool) -> None:
    """Add a remote: a directory path or s3://bucket/prefix.

    \b
    Example:
      git filer remote add team s3://ml-bucket/proj --region eu-west-1 --default
      git filer remote add backup /mnt/nas/filer
    """
    from .commands.remote import remote_add as do_add

    cfg = do_add(c.project(), name, url, endpoint_url=endpoint_url, region=region, profile=profile, default=make_default, force=force, local=local)
    c.say(f"remote '{escape_text(cfg.name)}' -> {quote_path(cfg.url)}")


@remote.command("list")
@json_option
@pass_ctx
def remote_list(c: Ctx, as_json: bool) -> None:
    """List configured remotes; the default is marked with '*'.

    \b
    Example:
      git filer remote list --json
    """
    from .commands.remote import remote_list as do_list

    rows = do_list(c.project())
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    for r in rows:
        extra = f"  endpoint={quote_path(r.config.endpoint_url)}" if r.config.endpoint_url else ""
        click.echo(f"{'*' if r.default else ' '} {quote_path(r.name)}\t{quote_path(r.config.url)}{extra}")


@remote.command("remove")
@click.argument("name")
@click.option("--local", is_flag=True, help="Remove from the untracked per-clone config.")
@pass_ctx
def remote_remove(c: Ctx, name: str, local: bool) -> None:
    """Forget a remote (its objects are left untouched).

    \b
    Example:
      git filer remote remove backup
    """
    from .commands.remote import remote_remove as do_remove

    do_remove(c.project(), name, local=local)
    c.say(f"removed remote '{name}'")


@remote.command("default")
@click.argument("name")
@click.option("--local", is_flag=True, help="Set it for this clone only.")
@pass_ctx
def remote_default(c: Ctx, name: str, local: bool) -> None:
    """Make NAME the default remote.

    \b
    Example:
      git filer remote default team
    """
    from .commands.remote import remote_default as do_default

    do_default(c.project(), name, local=local)
    c.say(f"default remote is now '{name}'")


# -- add / status / ls -------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--meta", "meta", multiple=True, metavar="KEY=VALUE", help="Record free-form metadata (repeatable).")
@jobs_option
@json_option
@pass_ctx
def add(c: Ctx, paths: tuple[str, ...], meta: tuple[str, ...], jobs: int | None, as_json: bool) -> None:
    """Track files or directories: hash into the cache, write PATH.filer, git-ignore PATH, stage.

    \b
    Example:
      git filer add models/resnet.pt data/train/ -m framework=torch
    """
    from .commands.add import add as do_add

    metadata: dict[str, Any] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key] = value
    project = c.project()
    results = do_add(project, list(paths), jobs=jobs, meta=metadata)
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    from .ui import human_bytes

    for r in results:
        what = f"{r.files} files, " if r.files is not None else ""
        verb = "added" if r.changed else "unchanged"
        c.say(f"{verb} {quote_path(r.artifact)} ({what}{human_bytes(r.size)}) -> {quote_path(r.registry)}")


STATE_COLOURS = {"synced": "green", "local": "yellow", "modified": "red", "missing": "magenta"}


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--remote", "check_remote", is_flag=True, help="Ask the remote instead of trusting the local record.")
@click.option("-r", "--remote-name", metavar="NAME", help="Which remote to compare with (default: the default remote).")
@jobs_option
@json_option
@pass_ctx
def status(c: Ctx, paths: tuple[str, ...], check_remote: bool, remote_name: str | None, jobs: int | None, as_json: bool) -> None:
    """Show each artifact's state: synced, local (not in the remote), modified, missing (not hydrated).

    Without --remote, 'synced' relies on what this clone last saw in the remote.

    \b
    Example:
      git filer status
      git filer status models/ --remote --json
    """
    from .commands.status import status as do_status

    project = c.project()
    rows = do_status(project, list(paths), check_remote=check_remote, remote=remote_name, jobs=jobs)
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    if not rows:
        c.say("no artifacts tracked yet; start with 'git filer add PATH'")
        return
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
        if r.state != "synced" or c.verbose:
            c.say(f"  {click.style(f'{r.state:<9}', fg=STATE_COLOURS[r.state])}{quote_path(r.artifact)}")
    c.say(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


@cli.command("ls")
@click.argument("paths", nargs=-1, type=click.Path())
@json_option
@pass_ctx
def ls_cmd(c: Ctx, paths: tuple[str, ...], as_json: bool) -> None:
    """List tracked artifacts with size, oid and metadata.

    \b
    Example:
      git filer ls models/ --json
    """
    from .commands.ls import ls as do_ls
    from .ui import human_bytes

    entries = do_ls(c.project(), list(paths))
    if as_json:
        emit_json([e.to_json() for e in entries])
        return
    for e in entries:
        # meta is free-form text from the repository: quoted like a name so it cannot break the line.
        meta = " ".join(f"{quote_path(k)}={quote_path(str(v))}" for k, v in sorted(e.meta.items()))
        click.echo(f"{e.kind:<4} {human_bytes(e.size):>10}  {e.oid[7:19]}  {quote_path(e.artifact)}{'  ' + meta if meta else ''}")


# -- push / pull / checkout ----------------------------------------------------------------


def _summary(c: Ctx, verb: str, result, started: float) -> None:
    from .ui import human_bytes

    t = result.transfer
    extra = f", {t.present} already there" if t.present else ""
    if result.hydrated or result.kept:
        extra += f"; {len(result.hydrated)} file(s) written to the work tree"
    where = f" {'to' if verb == 'pushed' else 'from'} {escape_text(t.remote)}" if t.remote else ""
    c.note(f"{verb} {t.objects} object(s), {human_bytes(t.bytes)}{where} in {time.perf_counter() - started:.2f}s{extra}")


def _run_sync(c: Ctx, verb: str, as_json: bool, fn) -> None:
    started = time.perf_counter()
    try:
        result = fn()
    except (PartialFailure, ConflictError) as err:
        if as_json and err.result is not None:
            emit_json(err.result.to_json(False))  # type: ignore[attr-defined]
        raise
    if as_json:
        emit_json(result.to_json(True))
    else:
        _summary(c, verb, result, started)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-r", "--remote", metavar="NAME", help="Remote name or URL (default: the default remote).")
@jobs_option
@json_option
@pass_ctx
def push(c: Ctx, paths: tuple[str, ...], remote: str | None, jobs: int | None, as_json: bool) -> None:
    """Upload what the registry files reference and the remote lacks (always asks the remote).

    \b
    Example:
      git filer push
      git filer push models/ --remote team -j 32
    """
    from .commands.push import push as do_push

    project = c.project()
    _run_sync(c, "pushed", as_json, lambda: do_push(project, list(paths), remote=remote, jobs=jobs, sink=c.sink()))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-r", "--remote", metavar="NAME", help="Remote name or URL (default: the default remote).")
@click.option("-I", "--include", multiple=True, metavar="GLOB", help="Only artifacts matching GLOB (repeatable), e.g. 'models/prod/**'.")
@click.option("-X", "--exclude", multiple=True, metavar="GLOB", help="Skip artifacts matching GLOB (repeatable).")
@click.option("-f", "--force", is_flag=True, help="Overwrite work tree files even if you modified them.")
@jobs_option
@json_option
@pass_ctx
def pull(c: Ctx, paths: tuple[str, ...], remote: str | None, include: tuple[str, ...], exclude: tuple[str, ...], force: bool, jobs: int | None, as_json: bool) -> None:
    """Download what is missing from the cache, verify it, and hydrate the work tree.

    Modified files are never overwritten without --force: they are listed and the
    exit code is non-zero.

    \b
    Example:
      git filer pull
      git filer pull --include 'models/prod/**' -j 32
    """
    from .commands.pull import pull as do_pull

    project = c.project()
    _run_sync(c, "pulled", as_json, lambda: do_pull(project, list(paths), include=include, exclude=exclude, force=force, remote=remote, jobs=jobs, sink=c.sink()))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Overwrite work tree files even if you modified them.")
@json_option
@pass_ctx
def checkout(c: Ctx, paths: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Hydrate the work tree from the cache only (no network).

    \b
    Example:
      git filer checkout models/resnet.pt
    """
    from .commands.checkout import checkout as do_checkout

    project = c.project()
    _run_sync(c, "checked out", as_json, lambda: do_checkout(project, list(paths), force=force))


@cli.command("remove")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--keep-files", is_flag=True, help="Keep the work tree copies; only stop tracking.")
@click.option("--remote", "remove_remote", is_flag=True, help="Also delete the bytes from the remote (other commits may still need them).")
@click.option("-r", "--remote-name", metavar="NAME", help="Remote to delete from (default: the default remote).")
@pass_ctx
def remove_cmd(c: Ctx, paths: tuple[str, ...], keep_files: bool, remove_remote: bool, remote_name: str | None) -> None:
    """Stop tracking artifacts: delete the registry file, the ignore line and (if unmodified) the file.

    \b
    Example:
      git filer remove models/old.pt
      git filer remove models/leaked.pt --remote
    """
    from .commands.remove import remove_paths as do_remove

    result = do_remove(c.project(), list(paths), remove_remote=remove_remote, remote=remote_name, keep_files=keep_files)
    for artifact in result.removed:
        c.say(f"removed {quote_path(artifact)}")
    if result.remote_deleted:
        c.say(f"deleted {result.remote_deleted} object(s) from the remote")


@cli.command()
@click.option("--remove-corrupt", is_flag=True, help="Delete corrupt objects from the cache so a pull can fetch good copies.")
@jobs_option
@json_option
@pass_ctx
def fsck(c: Ctx, remove_corrupt: bool, jobs: int | None, as_json: bool) -> None:
    """Re-hash every cache object and report those whose bytes do not match their name.

    \b
    Example:
      git filer fsck --remove-corrupt
    """
    from .commands.fsck import fsck as do_fsck
    from .ui import human_bytes

    result = do_fsck(c.project(), jobs=jobs, remove=remove_corrupt)
    if as_json:
        emit_json(result.to_json())
    else:
        for oid, path in result.corrupt:
            click.echo(f"corrupt: {quote_path(path)} ({oid}){' - removed' if oid in result.removed else ''}", err=True)
        c.note(f"checked {result.checked} object(s), {human_bytes(result.bytes)}: {len(result.corrupt)} corrupt")
    failure = result.failure()
    if failure:
        raise failure


@cli.command()
@json_option
@pass_ctx
def validate(c: Ctx, as_json: bool) -> None:
    """Check registry files are well-formed and tracked artifacts still match them.

    Catches a model changed but not re-added. Used by the pre-commit hook 'gitfiler-validate'.

    \b
    Example:
      git filer validate
    """
    from .commands.validate import failure
    from .commands.validate import validate as do_validate

    problems = do_validate(c.project())
    if as_json:
        emit_json([p.to_json() for p in problems])
    else:
        for p in problems:
            click.echo(f"  {quote_path(p.path)}: {escape_text(p.reason)}", err=True)
    if err := failure(problems):
        raise err
    c.note("registry files and artifacts are consistent")


@cli.command("check-large-files")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--max-size", metavar="SIZE", help="Largest file git may hold, e.g. 500k, 10M (default: large_file_threshold, 10M).")
@pass_ctx
def check_large_files(c: Ctx, paths: tuple[str, ...], max_size: str | None) -> None:
    """Refuse files too large for git that should be tracked with gitfiler.

    Used by the pre-commit hook 'gitfiler-large-files' on the staged files.

    \b
    Example:
      git filer check-large-files --max-size 5M models/big.pt
    """
    from .commands.check_large_files import check_large_files as do_check
    from .commands.check_large_files import failure

    problems = do_check(c.project(), list(paths), max_size)
    for p in problems:
        click.echo(f"  {quote_path(p.path)}: {escape_text(p.reason)}", err=True)
    if err := failure(problems):
        raise err


@cli.command()
@click.option("--dir", "directory", type=click.Path(), help="Where to build the demo (default: a new temp dir).")
@pass_ctx
def demo(c: Ctx, directory: str | None) -> None:
    """Run the whole journey on a throwaway repo: init, add, commit, push, clone, pull.

    \b
    Example:
      git filer demo
    """
    from .commands.demo import run_demo

    run_demo(directory, say=click.echo)


def _set_flag(name: str):
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            setattr(ctx.find_object(Ctx), name, True)

    return callback


def _add_common_options(group: click.Group) -> None:
    """Accept -v/-q after the subcommand too (`git filer push -q`), as users type them."""
    for cmd in group.commands.values():
        if isinstance(cmd, click.Group):
            _add_common_options(cmd)
            continue
        cmd.params += [
            click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_set_flag("verbose"), help="Show tracebacks and extra detail."),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_flag("quiet"), help="Print only errors."),
        ]


_add_common_options(cli)


# -- entry point ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from . import handler

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args or env.verbose(strict=False)
    try:
        rv = cli.main(args=args, prog_name="git filer", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.exceptions.Abort:  # click's name for Ctrl-C while it parses or prompts
        failure: BaseException = KeyboardInterrupt()
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except (Exception, KeyboardInterrupt) as err:  # everything else: the one handler decides
        failure = err
    said = handler.outcome(failure, verbose=verbose)
    for line in handler.render(said):
        click.echo(line, err=True)
    return said.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
