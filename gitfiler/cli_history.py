"""The history verbs of the command line (`diff`, `log`, `export`): parse, call a use case,
render. Imported by `cli` to register them on its group. See docs/history.md."""

from __future__ import annotations

import time

import click

from .cli import Ctx, cli, emit_json, jobs_option, json_option, pass_ctx, remote_option
from .quoting import escape_text, quote_path


def _size(n: int | None) -> str:
    from .ui import human_bytes

    return "-" if n is None else human_bytes(n)


def _delta(n: int) -> str:
    from .ui import human_bytes

    return ("+" if n >= 0 else "-") + human_bytes(abs(n))


def _side(name: str) -> str:
    from .history import WORKTREE

    return name if name == WORKTREE else name[:12]


@cli.command(short_help="Show which artifacts differ between commits or the work tree.")
@click.argument("rev", required=False)
@click.argument("rev2", required=False)
@click.option("--files", "open_files", is_flag=True, help="Also list the files added, modified and removed inside directory artifacts.")
@remote_option("Filer remote to fetch missing directory manifests from")
@jobs_option
@json_option
@pass_ctx
def diff(c: Ctx, rev: str | None, rev2: str | None, open_files: bool, remote: str | None, jobs: int | None, as_json: bool) -> None:
    """Show artifacts added, modified and removed, with old and new size and the size change.

    No REV compares HEAD with the work tree's registry files (like 'git diff'); REV compares
    that commit with the work tree; REV REV2 compares two commits. Only registry files and
    directory manifests are read: nothing is checked out or hydrated. The exit status is 0
    whether or not anything differs.

    \b
    Example:
      git filer diff
      git filer diff HEAD~3 HEAD --files
      git filer diff v1.0 main --json
    """
    from .commands.diff import diff as do_diff
    from .ui import file_change_line

    result = do_diff(c.project(), rev, rev2, files=open_files, remote=remote, jobs=jobs)
    if as_json:
        emit_json(result.to_json())
        return
    if not result.changes:
        c.say(f"no artifact differs between {_side(result.old)} and {_side(result.new)}")
        return
    for ch in result.changes:
        if ch.status == "modified":
            sizes = f"{_size(ch.old_size)} -> {_size(ch.new_size)} ({_delta(ch.delta)})"
        else:
            sizes = _size(ch.new_size if ch.status == "added" else ch.old_size)
        c.say(f"{ch.status:<9} {quote_path(ch.artifact)}{'/' if ch.kind == 'dir' else ''}  {sizes}")
        for f in ch.files or []:
            c.say(f"  {file_change_line(f)}")
    c.say(
        f"{len(result.changes)} artifact(s) differ between {_side(result.old)} and {_side(result.new)}: "
        f"{result.count('added')} added, {result.count('modified')} modified, {result.count('removed')} removed; {_delta(result.delta)}"
    )


@cli.command("log", short_help="Show an artifact's oid, size and meta at every commit that changed it.")
@click.argument("path", type=click.Path())
@click.option("--rev", default="HEAD", show_default=True, metavar="REV", help="Follow the history reachable from REV.")
@json_option
@pass_ctx
def log_cmd(c: Ctx, path: str, rev: str, as_json: bool) -> None:
    """Show PATH's oid, size and meta (type, version) at every commit that changed its registry
    file, newest first; a commit that stopped tracking it says so. PATH is the artifact or its
    .filer file. Read through git's object database: nothing is checked out.

    \b
    Example:
      git filer log models/ranker.pt
      git filer log data/train --json
    """
    from .commands.log import log as do_log

    result = do_log(c.project(), path, rev)
    if as_json:
        emit_json(result.to_json())
        return
    for r in result.records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.time))
        head = f"{r.commit[:12]}  {when}  {r.status:<8}"
        if r.oid is None:
            c.say(f"{head}  -  {escape_text(r.subject)}")
            continue
        meta = " ".join(f"{quote_path(k)}={quote_path(str(v))}" for k, v in sorted(r.meta.items()))
        c.say(f"{head}  {r.kind:<4} {_size(r.size):>10}  {r.oid[7:19]}{'  ' + meta if meta else ''}  {escape_text(r.subject)}")


@cli.command(short_help="Write a commit's artifacts into a directory, without checking it out.")
@click.argument("rev")
@click.option("--dest", required=True, type=click.Path(), metavar="DIR", help="The directory to write into (created; must be empty unless --force).")
@click.option(
    "-I", "--include", multiple=True, metavar="GLOB",
    help="Only artifacts, or files inside a directory artifact, matching GLOB (repeatable; each must match something).",
)
@click.option("--force", is_flag=True, help="Write into a non-empty DIR, replacing the exported paths and leaving other files alone.")
@remote_option("Filer remote to fetch what the cache lacks from")
@jobs_option
@json_option
@pass_ctx
def export(c: Ctx, rev: str, dest: str, include: tuple[str, ...], force: bool, remote: str | None, jobs: int | None, as_json: bool) -> None:
    """Write the artifacts commit REV records into DIR at their repository paths, verified.

    HEAD, the index and the work tree are not touched; what the cache lacks is fetched
    first, so a failed download writes nothing. No link inside DIR is followed.

    \b
    Example:
      git filer export v1.0 --dest /tmp/model-v1
      git filer export HEAD~5 --dest out -I 'models/**' --json
    """
    from .commands.export import export as do_export

    result = do_export(c.project(), rev, dest, include=include, force=force, remote=remote, jobs=jobs, sink=None if as_json else c.sink())
    if as_json:
        emit_json(result.to_json())
        return
    from .ui import human_bytes

    c.say(
        f"exported {len(result.artifacts)} artifact(s), {result.files} file(s) ({human_bytes(result.bytes)}) "
        f"of {result.commit[:12]} into {quote_path(dest)}"
        + (f"; fetched {result.fetched_objects} object(s)" if result.fetched_objects else "")
    )
    for a in result.partial:
        c.note(f"note: {quote_path(a)} was exported only in the files -I chose")
