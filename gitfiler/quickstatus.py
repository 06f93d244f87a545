"""`git filer status` (and `status --json`) with nothing else on the command line, and
`git filer model status [NAME...] [--json]`, answered without importing click or the rest of the
command line: the common looks at a work tree cost the Python start, the lstats, the sqlite
queries and (for models) git's own look at the index, not the CLI's imports (issues 11 and 13).

They are the same commands, not second ones: the state comes from `commands.status` and
`commands.model`, the lines from `ui.status_lines` and `ui.model_status_lines`, errors (and the
exit code of a model that is not READY) from `handler`, and any other argument (an option, a
path, `-v`) goes to the full CLI. tests/test_quickstatus.py and tests/test_quickmodel.py compare
the two on the same repositories.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from .names import COMPLETE_VAR

if TYPE_CHECKING:
    from .project import Project

_FORMS = (["status"], ["status", "--json"])
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def handles(args: list[str]) -> bool:
    if COMPLETE_VAR in os.environ:
        return False
    return args in _FORMS or _model_status_args(args) is not None


def _model_status_args(args: list[str]) -> tuple[list[str], bool] | None:
    """(names, as_json) for `model status [NAME...] [--json]`; None for any other line. A word
    starting with '-' (another option, '--', '-h') is the full CLI's to parse."""
    if args[:2] != ["model", "status"]:
        return None
    rest = args[2:]
    names = [a for a in rest if a != "--json"]
    if len(rest) - len(names) > 1 or any(a.startswith("-") for a in names):
        return None
    return names, len(names) < len(rest)


def run(args: list[str]) -> int:
    from . import env

    try:
        env.validate_all()
        model = _model_status_args(args)
        if model is not None:
            return _model_status(*model)
        return _status(as_json=args == ["status", "--json"])
    except (Exception, KeyboardInterrupt) as err:
        from . import handler

        said = handler.outcome(err, verbose=env.verbose(strict=False))
        for line in handler.render(said):
            _write(line, sys.stderr)
        return said.exit_code


def _project() -> Project:
    from .project import Project

    return Project.find(".")


def _note(project: Project) -> None:
    """The note the full CLI prints when it opens the project (`cli.Ctx.project`)."""
    from .errors import FilerError
    from .ui import ignored_keys_note

    try:
        note = ignored_keys_note(project.config.ignored)
    except FilerError:
        note = None  # the command itself reports a broken config
    if note:
        _write(note, sys.stderr)


def _status(*, as_json: bool) -> int:
    from .commands.status import status
    from .ui import json_text, status_lines

    project = _project()
    _note(project)
    rows = status(project, [])
    if as_json:
        _write(json_text([r.to_json() for r in rows]), sys.stdout)
        return 0
    for line, to_stderr in status_lines(rows, verbose=False):
        _write(line, sys.stderr if to_stderr else sys.stdout)
    return 0


def _model_status(names: list[str], as_json: bool) -> int:
    from .commands.model import StatusStart, failure, status
    from .ui import json_text, model_status_lines

    project = _project()
    try:
        # git's look at the work tree (the longest step) starts now, while the config is read
        # and the rest of gitfiler imported.
        started: StatusStart | None = StatusStart(project)
    except Exception:
        started = None  # status() takes the step again and reports the problem where the full CLI does
    _note(project)
    rows = status(project, names, started=started)
    if as_json:
        _write(json_text([r.to_json() for r in rows]), sys.stdout)
    else:
        for line, to_stderr in model_status_lines(rows):
            _write(line, sys.stderr if to_stderr else sys.stdout)
    err = failure(rows)
    if err:
        raise err  # exit 1 through the handler, as the full CLI does
    return 0


def _write(line: str, stream) -> None:  # stream: TextIO
    """As `click.echo` writes a line: colour only to a terminal."""
    if not stream.isatty():
        line = _ANSI.sub("", line)
    stream.write(line + "\n")
    stream.flush()
