"""The model verbs of the command line: parse, call `commands.model`, render. Imported by `cli`
to register them on its group. The format is in `modelfile`, the design in docs/models.md."""

from __future__ import annotations

import click

from .cli import Ctx, cli, emit_json, json_option, pass_ctx
from .quoting import escape_text


@cli.group(short_help="Register models with their data and code; READY, STALE or BROKEN.")
def model() -> None:
    """Register a model with the data and code it was built from, and tell whether it is still
    READY, STALE (a dependency changed) or BROKEN (one is missing). The record is the committed
    file .gitfiler/models.yaml. See docs/models.md.

    \b
    Example:
      git filer model register ranker --entry models/ranker.py:Ranker --model models/ranker.pt --data data/train/ --code src/features/
      git filer model status
      git filer model digest ranker
    """


@model.command("register")
@click.argument("name")
@click.option("--entry", required=True, metavar="FILE:SYMBOL", help="The model's entry point; recorded only, never imported or run.")
@click.option("--model", "artifact", metavar="ARTIFACT", help="The file or artifact that is the trained model.")
@click.option("--data", multiple=True, metavar="PATH", help="A data dependency: a gitfiler artifact or a git-tracked file or directory (repeatable).")
@click.option("--code", multiple=True, metavar="PATH", help="A code dependency: a git-tracked file or directory (repeatable).")
@json_option
@pass_ctx
def model_register(c: Ctx, name: str, entry: str, artifact: str | None, data: tuple[str, ...], code: tuple[str, ...], as_json: bool) -> None:
    """Register model NAME with the current oids of its model artifact, data and code; register it
    again after retraining to record the new oids (it is READY again).

    The record is staged in .gitfiler/models.yaml; commit it with the model.

    \b
    Example:
      git filer model register ranker --entry models/ranker.py:Ranker --model models/ranker.pt \\
          --data data/train/ --data data/labels.csv --code src/features/
    """
    from .commands.model import register

    m = register(c.project(), name, entry=entry, model=artifact, data=list(data), code=list(code))
    if as_json:
        emit_json(m.to_json())
        return
    files = sum(len(d.lines()) for d in m.dependencies())
    c.say(f"registered model {escape_text(m.name)}: {len(m.data)} data and {len(m.code)} code dependencies ({files} file(s) recorded)")
    c.note("commit .gitfiler/models.yaml to share it")


@model.command("list")
@json_option
@pass_ctx
def model_list(c: Ctx, as_json: bool) -> None:
    """List registered models with their entry point and dependencies.

    \b
    Example:
      git filer model list --json
    """
    from .commands.model import listing

    rows = listing(c.project())
    if as_json:
        emit_json([m.to_json() for m in rows])
        return
    if not rows:
        from .ui import NO_MODELS

        c.note(NO_MODELS)
    for m in rows:
        shown = ", ".join(escape_text(d.shown) for d in m.dependencies())
        c.say(f"{escape_text(m.name):<20} {escape_text(m.entry)}  {shown}")


@model.command("status")
@click.argument("names", nargs=-1)
@json_option
@pass_ctx
def model_status(c: Ctx, names: tuple[str, ...], as_json: bool) -> None:
    """Show whether each model (or NAMES) is READY, STALE (with each reason) or BROKEN (with each
    missing dependency). Exits 1 when any is STALE or BROKEN, for CI.

    \b
    Example:
      git filer model status
      git filer model status ranker --json
    """
    from .commands.model import failure, status
    from .ui import model_status_lines

    rows = status(c.project(), list(names))
    if as_json:
        emit_json([r.to_json() for r in rows])
    else:
        for line, to_stderr in model_status_lines(rows):
            (c.note if to_stderr else c.say)(line)
    err = failure(rows)
    if err:
        raise err


@model.command("digest")
@click.argument("name")
@json_option
@pass_ctx
def model_digest(c: Ctx, name: str, as_json: bool) -> None:
    """Print model NAME's provenance digest: SHA-256 over the sorted 'path NUL oid' lines of its
    recorded model artifact and dependencies; the same on every machine (docs/models.md).

    \b
    Example:
      git filer model digest ranker
    """
    from .commands.model import model_digest as do_digest

    m, value = do_digest(c.project(), name)
    if as_json:
        emit_json({"name": m.name, "digest": value})
        return
    c.say(value)
