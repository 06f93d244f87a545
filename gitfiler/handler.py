"""From an exception to what the user reads and the exit code: the one place that decides it.

Both entry points use it: `cli.main` (after click's own exceptions) and `hooks.entry`,
which then applies hook policy (only pre-push may fail the git operation). Nothing is
printed here; `render` returns the lines and the entry writes them.

Every piece of text that may come from the repository (paths, reasons quoting a registry
file) is escaped, so a hostile name cannot drive the terminal.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import ConflictError, DiskFullError, FilerError, PartialFailure
from .quoting import escape_text, quote_path

EXIT_INTERRUPTED = 130
EXIT_BUG = 70

ERROR, INTERRUPTED, BUG, SILENT = "error", "interrupted", "bug", "silent"


class Outcome(NamedTuple):
    exit_code: int
    message: str  # one escaped line; "" when there is nothing to say
    details: tuple[str, ...] = ()  # one escaped line per item: a bulk operation's failures, files kept
    traceback: str = ""  # only when asked for (verbose)
    kind: str = ERROR  # ERROR, INTERRUPTED, BUG or SILENT


def outcome(err: BaseException, *, verbose: bool = False, trace_hint: str = "rerun with --verbose") -> Outcome:
    """What to tell the user about `err`, and the exit code. `trace_hint` says how to get the
    traceback (`--verbose` on the command line, GITFILER_VERBOSE=1 in a hook)."""
    if isinstance(err, KeyboardInterrupt):
        return Outcome(EXIT_INTERRUPTED, "interrupted", kind=INTERRUPTED)
    if isinstance(err, BrokenPipeError):
        return Outcome(0, "", kind=SILENT)  # the reader went away (`git filer ls | head`): nothing to tell it
    trace = _traceback(err) if verbose else ""
    if isinstance(err, PartialFailure):
        details = tuple(f"{quote_path(what)}: {escape_text(why)}" for what, why in err.failures)
        return Outcome(err.exit_code, escape_text(str(err)), details, trace)
    if isinstance(err, ConflictError):
        details = tuple(f"kept (modified): {quote_path(path)}" for path in err.kept)
        return Outcome(err.exit_code, escape_text(str(err)), details, trace)
    if isinstance(err, FilerError):
        return Outcome(err.exit_code, escape_text(str(err)), (), trace)
    if isinstance(err, OSError):
        return _os_error(err, trace)
    return Outcome(
        EXIT_BUG,
        f"internal error: {type(err).__name__}: {escape_text(str(err))} ({trace_hint} for the traceback and report it)",
        (), trace, BUG,
    )


def _os_error(err: OSError, trace: str) -> Outcome:
    from .fsutil import is_disk_full

    where = f": {quote_path(str(err.filename))}" if err.filename else ""
    if is_disk_full(err):
        return Outcome(DiskFullError.exit_code, f"no space left on the device{where}; free some space and retry", (), trace)
    return Outcome(1, f"{escape_text(err.strerror or str(err))}{where}", (), trace)


def _traceback(err: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def render(o: Outcome, *, prefix: str = "error: ", tag: str = "") -> list[str]:
    """The lines for stderr: the traceback (verbose only), one indented line per item, then the
    message after `prefix` (an interruption is said plainly). `tag` starts the message line
    ("gitfiler: " in hooks, so git's output shows whose line it is)."""
    lines = o.traceback.rstrip("\n").splitlines() if o.traceback else []
    lines += [f"  {d}" for d in o.details]
    if o.message:
        lines.append(f"{tag}{o.message}" if o.kind == INTERRUPTED else f"{tag}{prefix}{o.message}")
    return lines
