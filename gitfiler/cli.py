"""The `git filer` command line: parse, call one use case, render, exit.

No business logic lives here; every command is a thin shell over
`gitfiler.commands`.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from typing import Any

import click

from . import __version__, env
from .errors import ConflictError, PartialFailure
from .hooks.entry import NAMES as HOOK_NAMES
from .names import COMPLETE_VAR
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
        from .ui import ignored_keys_note

        note = ignored_keys_note(ignored)
        if note:
            self.note(note)
        return project

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text)

    def note(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def hooks(self, result) -> None:  # result: hooks.install.InstallResult | None
        """Say what a command did to the git hooks (`hooks.install.ensure`): one line when it installed
        some, nothing when they were all there; a problem is a line of its own, never a failure."""
        if result is None:
            return
        for problem in result.problems:
            self.note(f"gitfiler: {escape_text(problem)}")
        if result.installed:
            import os

            where = os.path.relpath(result.hooks_dir, self.directory)
            where = result.hooks_dir if where.startswith("..") else where
            kept = "".join(f"; your {name} hook runs first, kept as {name}.pre-gitfiler" for name in result.chained)
            self.note(f"gitfiler: installed the git hooks in {quote_path(where)} ({', '.join(result.installed)}{kept}); 'git filer uninstall' removes them")

    def sink(self):
        from .ui import RichSink

        return RichSink(enabled=not self.quiet)


pass_ctx = click.make_pass_decorator(Ctx)


def emit_json(data: Any) -> None:
    from .ui import json_text

    click.echo(json_text(data))


def jobs_option(f):
    return click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel transfers (default: $GITFILER_JOBS, else config jobs, else 16 for S3, 1 for a local directory).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


_ALIAS = "gitfiler.remote-alias"  # ctx.meta key: the value a deprecated spelling of -r/--remote gave


def remote_option(purpose: str):
    """`-r/--remote NAME|URL`: the one meaning of --remote on every command, a filer remote."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is not None and value.startswith("-"):
            # `status --remote --json` was a switch before; now the next word would silently become a remote name.
            raise click.BadParameter(
                f"{value!r} is not a remote name or URL (--remote takes one now; 'status --remote' is 'status --cloud', 'remove --remote' is 'remove --from-remote')",
                ctx, _param,
            )
        # Options given on the command line are processed first, so an alias has already spoken.
        return value if value is not None else ctx.meta.pop(_ALIAS, None)

    return click.option("-r", "--remote", metavar="NAME|URL", callback=callback, help=f"{purpose} (a name or URL; default: the default remote).")


def deprecated_alias(old: str, new: str):
    """A hidden old spelling of -r/--remote, kept for one release with a note on stderr."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            click.echo(f"warning: {old} is deprecated and goes away in the next release; use {new}", err=True)
            ctx.meta[_ALIAS] = value

    return click.option(old, metavar="NAME", hidden=True, expose_value=False, callback=callback)


def _first_sentence(text: str) -> str:
    para = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    end = para.find(". ")
    return para if end < 0 else para[: end + 1]


class _Command(click.Command):
    """Its summary in `git filer -h` is never cut mid-sentence: click cuts a docstring's first
    sentence to the column with "..."; without a short_help, the whole sentence is shown."""

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help or not self.help:
            return super().get_short_help_str(limit)
        return _first_sentence(self.help)


class _Group(_Command, click.Group):
    command_class = _Command
    group_class = type  # subgroups are _Group too


# Verbs registered by modules of their own, imported the first time one of them is asked for
# (or when every verb is listed: -h, the man page, completion), so that the commands used all
# day never pay for deploy, history, model and pack. tests/test_cli.py checks this table.
LAZY_VERBS = {
    "release": "cli_deploy", "deploy": "cli_deploy",
    "diff": "cli_history", "log": "cli_history", "export": "cli_history",
    "model": "cli_model",
    "pack": "cli_pack", "unpack": "cli_pack",
}


class _TopGroup(_Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_VERBS:
            import importlib

            importlib.import_module(f"{__package__}.{LAZY_VERBS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in LAZY_VERBS:
            self.get_command(ctx, name)
        return super().list_commands(ctx)


@click.group(cls=_TopGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and extra detail.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if started in DIR.")
@click.version_option(version=__version__, prog_name="git filer")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, directory: str) -> None:
    """gitfiler: large artifacts out of git, git deciding which bytes belong to each commit.

    Run 'git filer COMMAND -h' for a command's options and an example. 'git filer
    --help' opens the man page (git turns it into 'man git-filer'); '-h' works
    everywhere. Exit codes: see the EXIT CODES section of the man page or README.md.

    \b
    Example:
      git filer init
      git filer add models/resnet.pt data/train/
      git commit -m "model v1" && git filer push
    """
    ctx.obj = Ctx(verbose, quiet, directory)
    env.validate_all(skip=ctx.invoked_subcommand in ("doctor", "deploy", "hook"))  # those three report bad variables among their own findings


# -- init / remote ---------------------------------------------------------------------


@cli.command(short_help="Set up gitfiler in this repository.")
@click.option("-r", "--remote", "remote_url", metavar="URL", help="Filer remote URL (s3://bucket/prefix or a directory) to make the default, instead of a new local one.")
@click.option("--no-hooks", is_flag=True, default=env.no_hooks, help="Do not install the git hooks (also: GITFILER_NO_HOOKS=1).")
@click.pass_context
def init(ctx: click.Context, remote_url: str | None, no_hooks: bool) -> None:
    """Set up gitfiler in this repository: .gitfiler/config.yaml, a default remote, the git hooks.

    Without --remote, a local-directory remote is created outside the repository
    and its path printed.

    \b
    Example:
      git filer init
      git filer init --remote s3://ml-bucket/artifacts
    """
    from .commands.init import init as do_init

    c = ctx.find_object(Ctx)
    assert c is not None
    # Only a --no-hooks typed here is remembered for this clone; GITFILER_NO_HOOKS lasts as long as it is set.
    typed = ctx.get_parameter_source("no_hooks") == click.core.ParameterSource.COMMANDLINE
    result = do_init(c.project(), remote_url=remote_url, hooks=not no_hooks, remember_no_hooks=no_hooks and typed)
    verb = "initialised" if result.created else "updated"
    c.say(f"{verb} {quote_path(result.config)}; default remote '{escape_text(result.remote.name)}' -> {quote_path(result.remote.url)}")
    if result.hooks is not None:
        _report_install(c, result.hooks)


def _report_install(c: Ctx, result) -> None:
    if result.installed:
        c.say(f"installed hooks in {quote_path(result.hooks_dir)}: {', '.join(result.installed)}")
    for name in result.chained:
        c.say(f"  your existing {name} hook is kept as {name}.pre-gitfiler and runs first")


@cli.command(short_help="Install the git hooks.")
@click.option(
    "--force", is_flag=True,
    help="Rewrite our shims, and take over a foreign hook even if an older one is already chained; with --global, add the hooks to the core.hooksPath or init.templateDir you already have.",
)
@click.option("--global", "for_all", is_flag=True, help="Also for every repository you create or clone from now on (git config --global init.templateDir; see docs/hooks.md).")
@click.option(
    "--large-file-check/--no-large-file-check", default=None,
    help="Include the pre-commit hook that refuses files over large_file_threshold (default: yes; the choice is kept in the per-clone config).",
)
@pass_ctx
def install(c: Ctx, force: bool, for_all: bool, large_file_check: bool | None) -> None:
    """Install the git hooks (post-commit, pre-push, post-checkout, post-merge, post-rewrite, pre-commit).

    add, pull, checkout, push and clone install missing hooks on their own; this
    does it by hand, lifts an earlier 'uninstall', and with --global covers every
    new clone. Respects core.hooksPath and worktrees. A hook that is not
    gitfiler's is never overwritten: it is kept as NAME.pre-gitfiler and runs first.

    \b
    Example:
      git filer install
      git filer install --global
    """
    from .hooks.install import install_global, install_here

    if for_all:
        _report_global(c, install_global(force=force, large_file_check=large_file_check is not False), installing=True)
        from .git import find_repo

        if find_repo(c.directory) is None:
            return  # inside a repository, that one too (as `git lfs install` does)
    result = install_here(c.project(), force=force, large_file_check=large_file_check)
    _report_install(c, result)
    if result.removed:
        c.say(f"removed {', '.join(result.removed)} from {quote_path(result.hooks_dir)}" + (f"; restored your {', '.join(result.restored)}" if result.restored else ""))
    if not result.installed and not result.removed:
        c.say(f"hooks already installed in {quote_path(result.hooks_dir)}")


def _report_global(c: Ctx, result, *, installing: bool) -> None:  # result: hooks.install.GlobalResult
    places = ", ".join(quote_path(p.hooks_dir) for p in result.places if p.installed or p.removed or p.unchanged) or "nowhere"
    if not installing:
        removed = sum(len(p.removed) for p in result.places)
        unset = "; unset init.templateDir in your global git config" if result.configured else ""
        if not removed and not result.configured:
            c.say("gitfiler's hooks were not set up for every repository; nothing to undo")
            return
        c.say(f"removed {removed} gitfiler hook(s) from {places}{unset}; clones made meanwhile keep theirs ('git filer uninstall' there)")
        return
    if result.setting == "core.hooksPath":
        c.say(f"gitfiler's hooks are in {places} (your core.hooksPath): git runs them in every repository; 'git filer uninstall --global' removes them")
        return
    how = "set init.templateDir in your global git config" if result.configured else "init.templateDir names it"
    c.say(
        f"gitfiler's hooks are in the template {places} ({how}): every 'git clone' and 'git init' from now on gets them, "
        "existing clones at their next 'git filer' command; 'git filer uninstall --global' undoes this"
    )


@cli.command(short_help="Remove the git hooks, restoring any they chained.")
@click.option("--global", "for_all", is_flag=True, help="Undo 'install --global' (clones keep their hooks; run 'git filer uninstall' in each).")
@pass_ctx
def uninstall(c: Ctx, for_all: bool) -> None:
    """Remove gitfiler's hooks, put back any hook they had chained, and keep them out.

    gitfiler's commands do not install them again in this clone ('hooks: false'
    in the per-clone config) until 'git filer install'.

    \b
    Example:
      git filer uninstall
      git filer uninstall --global
    """
    from .hooks.install import uninstall_global, uninstall_here

    if for_all:
        _report_global(c, uninstall_global(), installing=False)
        return
    result = uninstall_here(c.project())
    restored = f"; restored your {', '.join(result.restored)}" if result.restored else ""
    c.say(
        f"removed {len(result.removed)} hook(s) from {quote_path(result.hooks_dir)}{restored}; "
        "gitfiler's commands will not put them back here ('git filer install' does)"
    )


@cli.command(context_settings={"ignore_unknown_options": True}, short_help="Run a git hook's work (called by the hooks).")
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


@cli.command(short_help="Clone a repository and hydrate its artifacts.")
@click.argument("url")
@click.argument("directory", required=False, type=click.Path())
@click.option("-b", "--branch", help="Branch or tag to check out.")
@click.option("--depth", type=click.IntRange(1), help="Shallow clone with this many commits.")
@click.option("-I", "--include", multiple=True, metavar="GLOB", help="Hydrate only artifacts, or files inside a directory artifact, matching GLOB (repeatable; each must match something).")
@click.option("-X", "--exclude", multiple=True, metavar="GLOB", help="Skip artifacts, or files inside a directory artifact, matching GLOB (repeatable).")
@click.option("-r", "--remote", default=env.remote, metavar="NAME|URL", help="Filer remote to download from (a name or URL; also: GITFILER_REMOTE; default: the default remote).")
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

    Exits non-zero, listing them, if any requested artifact could not be hydrated, and
    if an --include pattern matches nothing (the clone is kept).

    \b
    Example:
      git filer clone https://git.example/ml.git /srv/app --include 'models/prod/**' --no-hooks --cache /var/cache/gitfiler
    """
    from .commands.clone import clone as do_clone

    started = time.perf_counter()
    result = do_clone(
        url, directory, branch=branch, depth=depth, include=include, exclude=exclude, remote=remote, cache=cache, jobs=jobs,
        no_hooks=no_hooks, verify=verify, sink=c.sink(), on_hooks=c.hooks,
    )
    if as_json:
        emit_json(result.to_json())
        return
    c.say(f"cloned into {quote_path(result.directory)}")
    if result.corrupt_dropped:
        c.note(f"dropped {len(result.corrupt_dropped)} corrupt object(s) from the shared cache and fetched them again")
    if result.sync:
        _summary(c, "pulled", result.sync, started)
        _note_partial(c, result.sync)


@cli.command(short_help="Delete objects that nothing references any more.")
@click.option("-n", "--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--git-remote", metavar="GIT_REMOTE", help="Collect the filer remote instead of the cache, keeping what the refs of this git remote (fetched first) reference.")
@remote_option("Filer remote to collect with --git-remote")
@deprecated_alias("--filer-remote", "-r/--remote")
@click.option(
    "--grace", type=click.IntRange(0), default=24 * 3600, show_default=True,
    help="Keep objects (cache or, with --git-remote, remote) younger than this many seconds, whatever the refs say: they may belong to work not yet committed or pushed.",
)
@click.option("--yes", is_flag=True, help="Really delete from the remote.")
@click.option("--shared-cache-ok", is_flag=True, help="Collect a relocated (possibly shared) cache anyway.")
@json_option
@pass_ctx
def gc(c: Ctx, dry_run: bool, git_remote: str | None, remote: str | None, grace: int, yes: bool, shared_cache_ok: bool, as_json: bool) -> None:
    """Delete objects that no branch, tag, stash, reflog entry, index or worktree references.

    Without --git-remote, gc collects this clone's cache. With --git-remote, it collects
    the filer remote (-r, or the default one) against that git remote's refs, and holds
    the filer remote's lock: it refuses to start while a push is being checked, and
    pushes are refused while it runs (see docs/gc.md). Objects younger than --grace are
    always kept.

    \b
    Example:
      git filer gc --dry-run
      git filer gc --git-remote origin --dry-run && git filer gc --git-remote origin --yes
    """
    from .commands.gc import gc_cache, gc_remote
    from .ui import human_bytes

    if remote and not git_remote:
        # `gc --remote GIT_REMOTE` used to collect the filer remote: an old command line must not collect the cache instead.
        raise click.UsageError(
            "-r/--remote chooses which filer remote 'gc --git-remote GIT_REMOTE' collects; pass --git-remote too "
            "(the old 'gc --remote GIT_REMOTE' is now 'gc --git-remote GIT_REMOTE')"
        )
    project = c.project()
    if git_remote:
        result = gc_remote(project, git_remote, name=remote, dry_run=dry_run, yes=yes, grace_s=grace)
    else:
        result = gc_cache(project, dry_run=dry_run, grace_s=grace, shared_ok=shared_cache_ok)
    if as_json:
        emit_json(result.to_json())
        return
    verb = "would delete" if result.dry_run else "deleted"
    size = f" ({human_bytes(result.bytes)})" if result.bytes else ""
    young = f" ({result.young} unreferenced but younger than the {grace} s grace period)" if result.young else ""
    indexes = f" and {len(result.indexes_deleted)} chunk index(es)" if result.indexes_deleted else ""
    c.say(f"{verb} {len(result.deleted)} object(s){indexes}{size} from {result.where}; kept {result.kept}{young}")


@cli.group(short_help="Manage filer remotes (where the bytes live).")
def remote() -> None:
    """Manage filer remotes (where the bytes live).

    \b
    Example:
      git filer remote add team s3://bucket/prefix --endpoint-url http://127.0.0.1:9000 --default
      git filer remote list
    """


@remote.command("add", short_help="Add a filer remote.")
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


@remote.command("list", short_help="List filer remotes.")
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


@remote.command("remove", short_help="Forget a filer remote.")
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


@remote.command("default", short_help="Make a filer remote the default.")
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


@cli.command(short_help="Track files or directories.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--meta", "meta", multiple=True, metavar="KEY=VALUE", help="Record free-form metadata (repeatable).")
@click.option("--type", "art_type", metavar="TYPE", help="Record the artifact's type (e.g. model), the name a release gives it: letters, digits, . _ -.")
@click.option("--version", "art_version", metavar="VERSION", help="Record the artifact's version (e.g. 1.4.0 or 2026.11.1): one line of text.")
@click.option("--auto", "auto", is_flag=True, help="Split by size: files over large_file_threshold are tracked with gitfiler, the others are staged with git add.")
@jobs_option
@json_option
@pass_ctx
def add(
    c: Ctx, paths: tuple[str, ...], meta: tuple[str, ...], art_type: str | None, art_version: str | None, auto: bool, jobs: int | None, as_json: bool,
) -> None:
    """Track files or directories: hash into the cache, write PATH.filer, git-ignore PATH, stage.

    A directory leaves out the files git ignores (.gitignore, .git/info/exclude) and those a
    .filerignore lists; add says how many. Re-adding keeps the metadata, type and version
    already recorded unless given again.

    \b
    Example:
      git filer add models/resnet.pt data/train/ -m framework=torch
      git filer add models/resnet.pt --type model --version 1.4.0
      git filer add --auto data/     # large files to gitfiler, small ones to git
    """
    from .commands.add import add as do_add
    from .commands.add import add_auto
    from .errors import FilerError
    from .registry import check_type_version

    metadata: dict[str, Any] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key] = value
    try:
        check_type_version(art_type, art_version, metadata)
    except FilerError as err:
        raise click.BadParameter(str(err)) from None
    project = c.project()
    to_git: list[str] | None = None
    if auto:
        split = add_auto(project, list(paths), jobs=jobs, meta=metadata, type=art_type, version=art_version, on_hooks=c.hooks)
        if as_json:
            emit_json(split.to_json())
            return
        results, to_git = split.filer, split.git
    else:
        results = do_add(project, list(paths), jobs=jobs, meta=metadata, type=art_type, version=art_version, on_hooks=c.hooks)
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    from .ui import human_bytes

    for r in results:
        what = f"{r.files} files, " if r.files is not None else ""
        verb = "added" if r.changed else "unchanged"
        skipped = f"; skipped: {r.skipped} ignored file{'s' if r.skipped != 1 else ''}" if r.skipped else ""
        c.say(f"{verb} {quote_path(r.artifact)} ({what}{human_bytes(r.size)}) -> {quote_path(r.registry)}{skipped}")
    for rel in to_git or []:
        c.say(f"git add {quote_path(rel)}")
    if to_git is not None:
        c.say(f"{len(results)} file(s) tracked with gitfiler, {len(to_git)} staged with git")


@cli.command(short_help="Show each artifact's state.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-c", "--cloud", "check_remote", is_flag=True, help="Ask the remote what it holds instead of trusting this clone's record of it.")
@remote_option("Filer remote to compare with")
@deprecated_alias("--remote-name", "-r/--remote")
@click.option("--files", "open_files", is_flag=True, help="Also list the files added, modified and removed inside modified or missing directory artifacts.")
@jobs_option
@json_option
@pass_ctx
def status(c: Ctx, paths: tuple[str, ...], check_remote: bool, remote: str | None, open_files: bool, jobs: int | None, as_json: bool) -> None:
    """Show each artifact's state: synced, local (not in the remote), modified, missing (not hydrated).

    Without -c/--cloud, 'synced' relies on what this clone last saw in the remote. With
    --files, a modified or missing directory lists the files that differ from its record
    (removed: recorded but not in the work tree).

    \b
    Example:
      git filer status
      git filer status data/train --files
      git filer status models/ --cloud --json
    """
    from .commands.status import status as do_status
    from .config import is_location

    project = c.project()
    if remote is not None and remote not in project.config.remotes and not is_location(remote) and os.path.lexists(remote):
        # `status --remote PATH` was a switch and a path before; now PATH would be taken for a remote's name.
        raise click.UsageError(f"{remote!r} is a path, not a filer remote: -r/--remote names a remote now (the old switch 'status --remote' is 'status --cloud')")
    rows = do_status(project, list(paths), check_remote=check_remote, remote=remote, jobs=jobs, files=open_files)
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    from .ui import status_lines

    for line, to_stderr in status_lines(rows, verbose=c.verbose, files=open_files):
        (c.note if to_stderr else c.say)(line)


@cli.command("ls", short_help="List tracked artifacts.")
@click.argument("paths", nargs=-1, type=click.Path())
@json_option
@pass_ctx
def ls_cmd(c: Ctx, paths: tuple[str, ...], as_json: bool) -> None:
    """List tracked artifacts with size, oid and metadata (type and version first).

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
        # The type and version lead (gitfiler gives them a meaning), the other keys follow sorted.
        first = [k for k in ("type", "version") if k in e.meta]
        keys = first + sorted(k for k in e.meta if k not in first)
        meta = " ".join(f"{quote_path(k)}={quote_path(str(e.meta[k]))}" for k in keys)
        click.echo(f"{e.kind:<4} {human_bytes(e.size):>10}  {e.oid[7:19]}  {quote_path(e.artifact)}{'  ' + meta if meta else ''}")


# -- push / pull / checkout ----------------------------------------------------------------


def _summary(c: Ctx, verb: str, result, started: float) -> None:
    from .ui import human_bytes

    t = result.transfer
    extra = f", {t.present} already there" if t.present else ""
    if result.hydrated or result.kept:
        extra += f"; {len(result.hydrated)} file(s) written to the work tree"
    where = f" {'to' if verb == 'pushed' else 'from'} {escape_text(t.remote)}" if t.remote else ""
    moved = human_bytes(t.bytes)
    if t.logical_bytes > t.bytes:  # chunks the other side already had were not sent
        moved = f"{moved} of {human_bytes(t.logical_bytes)} new, {100 * (1 - t.bytes / t.logical_bytes):.1f}% deduplicated"
    c.note(f"{verb} {t.objects} object(s), {moved}{where} in {time.perf_counter() - started:.2f}s{extra}")


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


@cli.command(short_help="Upload what the filer remote lacks.")
@click.argument("paths", nargs=-1, type=click.Path())
@remote_option("Filer remote to upload to")
@click.option("-n", "--dry-run", is_flag=True, help="Only say how many objects and bytes would be uploaded (the remote is asked; nothing is sent).")
@jobs_option
@json_option
@pass_ctx
def push(c: Ctx, paths: tuple[str, ...], remote: str | None, dry_run: bool, jobs: int | None, as_json: bool) -> None:
    """Upload what the registry files reference and the remote lacks (always asks the remote).

    \b
    Example:
      git filer push
      git filer push models/ --remote team -j 32
      git filer push --dry-run
    """
    from .commands.push import push as do_push

    project = c.project()
    if dry_run:
        from .commands.push import plan

        _say_plan(c, plan(project, list(paths), remote=remote, jobs=jobs), as_json)
        return
    _run_sync(c, "pushed", as_json, lambda: do_push(project, list(paths), remote=remote, jobs=jobs, sink=c.sink(), on_hooks=c.hooks))


@cli.command(short_help="Download, verify and hydrate artifacts.")
@click.argument("paths", nargs=-1, type=click.Path())
@remote_option("Filer remote to download from")
@click.option(
    "-I", "--include", multiple=True, metavar="GLOB",
    help="Only artifacts, or files inside a directory artifact, matching GLOB (repeatable; each must match something), e.g. 'models/prod/**'.",
)
@click.option("-X", "--exclude", multiple=True, metavar="GLOB", help="Skip artifacts, or files inside a directory artifact, matching GLOB (repeatable).")
@click.option("-f", "--force", is_flag=True, help="Overwrite work tree files even if you modified them.")
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be downloaded and written (directory manifests the cache lacks are read).")
@jobs_option
@json_option
@pass_ctx
def pull(
    c: Ctx, paths: tuple[str, ...], remote: str | None, include: tuple[str, ...], exclude: tuple[str, ...], force: bool, dry_run: bool, jobs: int | None,
    as_json: bool,
) -> None:
    """Download what is missing from the cache, verify it, and hydrate the work tree.

    Modified files are never overwritten without --force: they are listed and the
    exit code is non-zero. A GLOB may pick files inside a directory artifact; the others
    are left as they are. An --include that matches nothing is an error.

    \b
    Example:
      git filer pull
      git filer pull --include 'models/prod/**' -j 32
      git filer pull -I 'data/images/*.png'
      git filer pull --dry-run
    """
    from .commands.pull import pull as do_pull

    project = c.project()
    if dry_run:
        from .commands.pull import plan

        _say_plan(c, plan(project, list(paths), include=include, exclude=exclude, force=force, remote=remote, jobs=jobs), as_json)
        return
    done = []

    def run():
        result = do_pull(project, list(paths), include=include, exclude=exclude, force=force, remote=remote, jobs=jobs, sink=c.sink(), on_hooks=c.hooks)
        done.append(result)
        return result

    _run_sync(c, "pulled", as_json, run)
    if done and not as_json:
        _note_partial(c, done[0])


def _say_plan(c: Ctx, plan, as_json: bool) -> None:  # plan: sync.SyncPlan
    from .ui import human_bytes

    if as_json:
        emit_json(plan.to_json())
    elif plan.action == "push":
        c.say(f"would upload {plan.objects} object(s), {human_bytes(plan.bytes)} to {escape_text(plan.remote)} ({plan.present} already there)")
    else:
        kept = f"; {len(plan.kept)} modified file(s) would be kept (--force overwrites them)" if plan.kept else ""
        c.say(f"would download {plan.objects} object(s), {human_bytes(plan.bytes)} from {escape_text(plan.remote)} ({plan.present} already cached) "
              f"and write {plan.files} file(s) in the work tree{kept}")
    for what, why in plan.problems:
        c.note(f"  {quote_path(what)}: {escape_text(why)}")


def _note_partial(c: Ctx, result) -> None:
    """Name the directory artifacts -I/-X hydrated only in part (pull, clone)."""
    if result.partial:
        c.note(f"partly hydrated (only the files -I/-X chose): {', '.join(quote_path(a) for a in result.partial)}")


@cli.command(short_help="Hydrate artifacts from the cache (no network).")
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
    _run_sync(c, "checked out", as_json, lambda: do_checkout(project, list(paths), force=force, on_hooks=c.hooks))


@cli.command("remove", short_help="Stop tracking artifacts.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--keep-files", is_flag=True, help="Keep the work tree copies; only stop tracking.")
@click.option("--from-remote", "remove_remote", is_flag=True, help="Also delete the bytes from the filer remote (other commits may still need them).")
@remote_option("Filer remote --from-remote deletes from")
@deprecated_alias("--remote-name", "-r/--remote")
@pass_ctx
def remove_cmd(c: Ctx, paths: tuple[str, ...], keep_files: bool, remove_remote: bool, remote: str | None) -> None:
    """Stop tracking artifacts: delete the registry file, the ignore line and (if unmodified) the file.

    \b
    Example:
      git filer remove models/old.pt
      git filer remove models/leaked.pt --from-remote -r team
    """
    from .commands.remove import remove_paths as do_remove

    if remote and not remove_remote:
        # `remove --remote` used to be the switch that deletes remote bytes: an old command line must not silently keep them.
        raise click.UsageError("-r/--remote chooses the filer remote --from-remote deletes from; pass --from-remote too (the old switch 'remove --remote' is now '--from-remote')")
    if not paths:
        raise click.UsageError("Missing argument 'PATHS...': name the artifacts to stop tracking")
    result = do_remove(c.project(), list(paths), remove_remote=remove_remote, remote=remote, keep_files=keep_files)
    for artifact in result.removed:
        c.say(f"removed {quote_path(artifact)}")
    if result.remote_deleted:
        c.say(f"deleted {result.remote_deleted} object(s) from the remote")
    if result.remote_kept:
        c.say(f"kept {result.remote_kept} object(s) in the remote: artifacts still tracked here use them too")
    if result.releases_hit and result.remote_deleted:
        c.note(
            f"warning: published release(s) {escape_text(', '.join(result.releases_hit))} used what was deleted; deploying them now fails "
            "until you publish a new release"
        )


@cli.command(short_help="Re-hash the cache and report corrupt objects.")
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
        for oid, why in result.bad_indexes:
            click.echo(f"chunk index of {oid} rebuilt or dropped: {escape_text(why)}", err=True)
        c.note(f"checked {result.checked} object(s), {human_bytes(result.bytes)}: {len(result.corrupt)} corrupt")
    failure = result.failure()
    if failure:
        raise failure


@cli.command(short_help="Check registry files against the artifacts.")
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


@cli.command(short_help="Show the effective setup and what is wrong with it.")
@json_option
@pass_ctx
def doctor(c: Ctx, as_json: bool) -> None:
    """Show the effective setup and what is wrong with it, each problem with a one-line fix.

    Every setting and where it comes from (committed file, per-clone file, environment,
    default), the cache and its size, the git hooks, each remote's reachability and
    credential source (never a secret), and the git, Python and gitfiler versions.
    Exits non-zero when something is wrong: 3 for the configuration, 5 for a remote,
    10 for the hooks. Works outside a repository and with a config that does not parse.

    \b
    Example:
      git filer doctor
      git filer doctor --json
    """
    from .commands.doctor import OK, PROBLEM
    from .commands.doctor import doctor as do_doctor
    from .ui import human_bytes

    report = do_doctor(c.directory, version=__version__)
    if as_json:
        emit_json(report.to_json())
    else:
        width = max((len(check.name) for check in report.checks()), default=0)
        for section in report.sections:
            shown = [check for check in section.checks if check.status != OK or not c.quiet]
            if shown:
                click.echo(section.name)
            for check in shown:
                detail = escape_text(check.detail)
                if check.data.get("bytes"):
                    detail += f", {human_bytes(check.data['bytes'])}"
                if check.source:
                    detail += f"  [{check.source}]"
                click.echo(f"  {check.status:<7}  {escape_text(check.name):<{width}}  {detail}")
                if check.fix and check.status != OK:
                    click.echo(f"  {'':<7}  {'':<{width}}  fix: {escape_text(check.fix)}")
    if err := report.failure():
        raise err
    warnings = sum(check.status not in (OK, PROBLEM) for check in report.checks())
    c.note("no problems found" + (f" ({warnings} warning(s))" if warnings else ""))


@cli.command("check-large-files", short_help="Refuse files too large for git.")
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


@cli.command(short_help="Run the whole journey on a throwaway repository.")
@click.option("--dir", "directory", type=click.Path(), help="Where to build the demo (default: a new temp dir). A directory that already exists is never removed.")
@click.option("--keep", is_flag=True, help="Keep the demo's directory at the end and print where it is.")
@pass_ctx
def demo(c: Ctx, directory: str | None, keep: bool) -> None:
    """Run the whole journey on a throwaway repo: init, add, commit, push, clone, pull.

    The directory the demo created is removed at the end, unless --keep.

    \b
    Example:
      git filer demo
      git filer demo --keep
    """
    from .commands.demo import run_demo

    run_demo(directory, say=click.echo, keep=keep)


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


# -- shell completion ---------------------------------------------------------------------------

# click's completion, for the executable the shell sees: eval "$(_GIT_FILER_COMPLETE=bash_source git-filer)"
# (COMPLETE_VAR lives in `names`: the fast status path checks it without importing this module.)

# `git filer <TAB>` in bash: git's own completion calls _git_filer for the words after `git filer`.
_GIT_SUBCOMMAND_BASH = """
_git_filer() {
    local COMP_WORDS=(git-filer "${words[@]:2}")
    local COMP_CWORD=$((cword - 1))
    _git_filer_completion git-filer
}
"""


def _register_completion() -> None:
    """Completion scripts for `git-filer`, not for our display name "git filer": a script
    for a name with a space would register completion for `git` itself."""
    from click import shell_completion as sc

    def named(base: type[sc.ShellComplete], extra: str = "") -> type[sc.ShellComplete]:
        class Complete(base):  # type: ignore[valid-type,misc]
            def __init__(self, cli: click.Command, ctx_args: Any, _prog_name: str, complete_var: str) -> None:
                super().__init__(cli, ctx_args, "git-filer", complete_var)

            def source(self) -> str:
                return super().source() + extra

        return Complete

    sc.add_completion_class(named(sc.BashComplete, _GIT_SUBCOMMAND_BASH), "bash")
    sc.add_completion_class(named(sc.ZshComplete), "zsh")
    sc.add_completion_class(named(sc.FishComplete), "fish")



# -- entry point ----------------------------------------------------------------------------


def _show_usage_error(err: click.UsageError) -> None:
    """click's rendering, but pointing at -h: click names the longest help option, and git
    turns `git filer --help` into `man git-filer`, which works only where `man` and our man
    page are installed (a slim Docker image has neither)."""
    if err.ctx is not None:
        click.echo(f"{err.ctx.get_usage()}\nTry '{err.ctx.command_path} -h' for help.\n", err=True)
    else:  # some parse errors come without the command they belong to
        click.echo("Try 'git filer -h' or 'git filer COMMAND -h' for help.\n", err=True)
    click.echo(f"Error: {err.format_message()}", err=True)


def main(argv: list[str] | None = None) -> int:
    from . import handler

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args or env.verbose(strict=False)
    try:
        _register_completion()
        rv = cli.main(args=args, prog_name="git filer", complete_var=COMPLETE_VAR, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.exceptions.Abort:  # click's name for Ctrl-C while it parses or prompts
        failure: BaseException = KeyboardInterrupt()
    except click.UsageError as err:
        _show_usage_error(err)
        return err.exit_code
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
    # As `python -m gitfiler.cli` this file is `__main__`, and the verbs imported lazily
    # register on `gitfiler.cli`, another copy of it: run that one.
    from gitfiler.cli import main as package_main

    sys.exit(package_main())
