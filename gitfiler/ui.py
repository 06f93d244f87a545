"""Rendering helpers for the CLI: progress bars (stderr, TTY only), human sizes, the man page.

Sizes are binary everywhere a user reads them (KiB, MiB: `human_bytes`), on the bar as in
the summary after it, so the two can be compared digit for digit.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from rich.console import Console
    from rich.progress import Task
    from rich.text import Text

    from .commands.model import ModelStatus
    from .commands.status import ArtifactStatus
    from .manifest import FileChange


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


_ANSI = {"green": 32, "yellow": 33, "red": 31, "magenta": 35}
STATUS_COLOURS = {"synced": "green", "local": "yellow", "modified": "red", "missing": "magenta"}


def coloured(text: str, colour: str) -> str:
    """`click.style(text, fg=colour)`, byte for byte, without importing click (the fast status path)."""
    return f"\x1b[{_ANSI[colour]}m{text}\x1b[0m"


def json_text(data: Any) -> str:
    """What `--json` prints, everywhere."""
    import json

    return json.dumps(data, indent=2, sort_keys=True, default=str)


def status_lines(rows: list[ArtifactStatus], *, verbose: bool, files: bool = False) -> list[tuple[str, bool]]:
    """`git filer status` as (line, to stderr) pairs, coloured (the writer strips colour off a
    non-terminal): the full CLI and the fast path (`quickstatus`) print exactly this."""
    from .quoting import quote_path

    if not rows:
        return [("no artifacts tracked yet; start with 'git filer add PATH'", False)]
    out: list[tuple[str, bool]] = []
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
        if r.state != "synced" or verbose:
            out.append((f"  {coloured(f'{r.state:<9}', STATUS_COLOURS[r.state])}{quote_path(r.artifact)}", False))
        if r.changes is not None:
            out += [(f"      {file_change_line(f)}", False) for f in r.changes]
        elif files and r.kind == "dir" and r.state in ("modified", "missing"):
            out.append((
                f"      (the files cannot be listed: the manifest of {quote_path(r.artifact)} is not in the cache; "
                f"'git filer pull {quote_path(r.artifact)}' fetches it)", True,
            ))
    out.append((", ".join(f"{n} {s}" for s, n in sorted(counts.items())), False))
    return out


MODEL_STATE_COLOURS = {"READY": "green", "STALE": "yellow", "BROKEN": "red"}
NO_MODELS = "no models registered yet; start with 'git filer model register NAME --entry FILE:SYMBOL ...'"


def model_status_lines(rows: list[ModelStatus]) -> list[tuple[str, bool]]:
    """`git filer model status` as (line, to stderr) pairs, coloured like `status_lines`: the full
    CLI (`cli_model`) and the fast path (`quickstatus`) print exactly this."""
    from .quoting import escape_text

    if not rows:
        return [(NO_MODELS, True)]
    out: list[tuple[str, bool]] = []
    for r in rows:
        why = f" ({escape_text('; '.join(r.reasons))})" if r.reasons else ""
        out.append((f"{escape_text(r.name):<20} {coloured(r.state, MODEL_STATE_COLOURS[r.state])}{why}", False))
    return out


def ignored_keys_note(ignored: list[str]) -> str | None:
    """The note for committed config keys a repository may not set (LOCAL_ONLY_KEYS)."""
    from .quoting import escape_text

    if not ignored:
        return None
    return (
        f"note: .gitfiler/config.yaml sets {escape_text(', '.join(ignored))}; a repository cannot choose these for your machine, "
        "so they are ignored (set them in the per-clone config or the environment: see docs/configuration.md)"
    )


def file_change_line(f: FileChange) -> str:
    """One file inside a directory artifact that differs: its status, path and size(s)."""
    from .quoting import quote_path

    def size(n: int | None) -> str:
        return "-" if n is None else human_bytes(n)

    sizes = f"{size(f.old_size)} -> {size(f.new_size)}" if f.status == "modified" else size(f.new_size if f.status == "added" else f.old_size)
    mode = "" if f.old is None or f.new is None or f.old.exec == f.new.exec else f" (mode {'+x' if f.new.exec else '-x'})"
    return f"{f.status:<9} {quote_path(f.path)}  {sizes}{mode}"


_VERBS = {"upload": "uploading", "download": "downloading"}


def bar_label(action: str, objects: int) -> str:
    """What the bar says it moves: the same object count the summary reports afterwards."""
    return f"{_VERBS.get(action, action)} {objects} object(s)"


def _columns() -> list[Any]:
    """The bar's columns: Rich's own byte columns count in decimal MB, ours in MiB."""
    from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

    class BytesColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = human_bytes(task.total) if task.total is not None else "?"
            return Text(f"{human_bytes(task.completed)} / {total}", style="progress.download")

    class SpeedColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{human_bytes(speed)}/s" if speed is not None else "?", style="progress.data.speed")

    # The words keep their width and the bar takes what is left, so a narrow terminal shortens the
    # bar instead of wrapping "381.5 MiB / 381.5 MiB" over two lines.
    def fixed() -> Column:
        return Column(no_wrap=True)

    return [
        TextColumn("{task.description}", table_column=fixed()), BarColumn(bar_width=None),
        BytesColumn(table_column=fixed()), SpeedColumn(table_column=fixed()), TimeRemainingColumn(table_column=fixed()),
    ]


class RichSink:
    """A transfer progress bar; a no-op unless its console (stderr by default) is a terminal."""

    MIN_BYTES = 8 * 1024 * 1024  # below this a transfer is over before a bar helps

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self._console = console
        self.enabled = enabled and (console.is_terminal if console is not None else sys.stderr.isatty())
        self.label = ""  # what the last bar shown said (tests read it)
        self._progress: Any = None
        self._task: Any = None
        self._lock = threading.Lock()

    def start(self, label: str, total_objects: int, total_bytes: int) -> None:
        if not self.enabled or (total_bytes < self.MIN_BYTES and total_objects < 200):
            return
        from rich.console import Console
        from rich.progress import Progress

        self.label = bar_label(label, total_objects)
        self._progress = Progress(*_columns(), console=self._console or Console(stderr=True), transient=True, expand=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress.advance(self._task, nbytes)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


# -- the man page ---------------------------------------------------------------------------------

# README.md's "Exit codes" table, for the man page (a test keeps the two and errors.py in step).
EXIT_CODES: list[tuple[int, str]] = [
    (0, "success"),
    (1, "some items failed (each is listed) or another error"),
    (2, "bad usage (unknown option or command)"),
    (3, "not a git repository, or a configuration problem"),
    (4, "a registry file or manifest is malformed or unsafe"),
    (5, "the remote is unreachable, missing or denies access, or a gc or push holds its lock"),
    (6, "corrupt object (bytes do not match their digest)"),
    (7, "an object is missing"),
    (8, "something was kept rather than overwritten: modified work tree files, or a release name already published or deployed with other content"),
    (9, "disk full"),
    (10, "the git hooks could not be installed (a hook that is not gitfiler's is in the way)"),
    (70, "internal error (a bug: rerun with -v and report it)"),
    (130, "interrupted"),
]

COMPLETION = [
    ("bash", 'eval "$(_GIT_FILER_COMPLETE=bash_source git-filer)"'),
    ("zsh", 'eval "$(_GIT_FILER_COMPLETE=zsh_source git-filer)"'),
    ("fish", "_GIT_FILER_COMPLETE=fish_source git-filer | source"),
]


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens (so options copy as ASCII), a leading dot or quote."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in out.split("\n"))


def _help_body(text: str) -> list[str]:
    """click help text to roff paragraphs; a `\\b` paragraph keeps its lines as written."""
    import inspect

    out: list[str] = []
    for para in inspect.cleandoc(text).split("\n\n"):
        if para.startswith("\b"):
            out += [".PP", ".nf", _roff(para[1:].strip("\n")), ".fi"]
        else:
            out += [".PP", _roff(" ".join(para.split()))]
    return out


def _options(cmd: click.Command, ctx: click.Context, *, with_help: bool) -> list[str]:
    import click

    out: list[str] = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None and (with_help or "--help" not in param.opts):
            out += [".TP", f"\\fB{_roff(record[0])}\\fR", _roff(record[1])]
    return out


def man_page(group: click.Group, version: str) -> str:
    """git-filer(1), rendered from the click commands' own help, so the two cannot drift."""
    import click

    root = click.Context(group, info_name="git filer", **group.context_settings)
    lines = [
        '.\\" Generated from the command line help; do not edit: see tests/test_cli.py (test_man_page_is_current).',
        f'.TH GIT\\-FILER 1 "" "gitfiler {_roff(version)}" "gitfiler manual"',
        ".SH NAME",
        f"git\\-filer \\- {_roff((group.help or '').split(chr(10))[0].split(': ', 1)[-1])}",
        ".SH SYNOPSIS",
        f"\\fBgit filer\\fR {_roff(' '.join(group.collect_usage_pieces(root)))}",
        ".SH DESCRIPTION",
        *_help_body(group.help or ""),
        ".SH OPTIONS",
        *_options(group, root, with_help=True),
        ".SH COMMANDS",
    ]

    def commands(grp: click.Group, parent: click.Context) -> None:
        for name in grp.list_commands(parent):
            cmd = grp.get_command(parent, name)
            if cmd is None or cmd.hidden:
                continue
            ctx = click.Context(cmd, info_name=name, parent=parent)
            lines.extend([f'.SS "{_roff(ctx.command_path)} {_roff(" ".join(cmd.collect_usage_pieces(ctx)))}"', *_help_body(cmd.help or "")])
            lines.extend(_options(cmd, ctx, with_help=False) if not isinstance(cmd, click.Group) else [])
            if isinstance(cmd, click.Group):
                commands(cmd, ctx)

    commands(group, root)
    lines += [".SH SHELL COMPLETION", ".PP", "Add the line for your shell to its startup file:", ".nf"]
    lines += [f"{shell}:  {_roff(line)}" for shell, line in COMPLETION]
    lines += [".fi", ".SH EXIT CODES"]
    for code, meaning in EXIT_CODES:
        lines += [".TP", f"\\fB{code}\\fR", _roff(meaning)]
    lines += [".SH SEE ALSO", "\\fBgit\\fR(1), \\fBgithooks\\fR(5); the documents in the docs/ directory of the gitfiler repository"]
    return "\n".join(lines) + "\n"
