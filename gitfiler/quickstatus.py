"""`git filer status` (and `status --json`) with nothing else on the command line, answered
without importing click or the rest of the command line: the common look at a work tree costs
the Python start, the lstats and one sqlite query, not the CLI's imports (issue 13).

It is the same command, not a second one: the state comes from `commands.status`, the lines
from `ui.status_lines`, errors from `handler`, and any other argument (an option, a path,
`-v`) goes to the full CLI. tests/test_quickstatus.py compares the two on the same repositories.
"""

from __future__ import annotations

import os
import re
import sys

from .names import COMPLETE_VAR

_FORMS = (["status"], ["status", "--json"])
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def handles(args: list[str]) -> bool:
    return args in _FORMS and COMPLETE_VAR not in os.environ


def run(args: list[str]) -> int:
    from . import env, handler

    try:
        env.validate_all()
        return _status(as_json=args == ["status", "--json"])
    except (Exception, KeyboardInterrupt) as err:
        said = handler.outcome(err, verbose=env.verbose(strict=False))
        for line in handler.render(said):
            _write(line, sys.stderr)
        return said.exit_code


def _status(*, as_json: bool) -> int:
    from .commands.status import status
    from .errors import FilerError
    from .project import Project
    from .ui import ignored_keys_note, json_text, status_lines

    project = Project.find(".")
    try:
        note = ignored_keys_note(project.config.ignored)
    except FilerError:
        note = None  # status itself reports a broken config
    if note:
        _write(note, sys.stderr)
    rows = status(project, [])
    if as_json:
        _write(json_text([r.to_json() for r in rows]), sys.stdout)
        return 0
    for line, to_stderr in status_lines(rows, verbose=False):
        _write(line, sys.stderr if to_stderr else sys.stdout)
    return 0


def _write(line: str, stream) -> None:  # stream: TextIO
    """As `click.echo` writes a line: colour only to a terminal."""
    if not stream.isatty():
        line = _ANSI.sub("", line)
    stream.write(line + "\n")
    stream.flush()
