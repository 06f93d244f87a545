"""gitfiler/handler.py: the one mapping from an exception to the user's lines and the exit code,
shared by the command line and the hooks."""

from __future__ import annotations

import errno

import pytest

from gitfiler import handler
from gitfiler.closure import ManifestUnavailable
from gitfiler.errors import ConflictError, FilerError, IntegrityError, PartialFailure, RegistryError, RemoteError
from gitfiler.registry import Entry


def raised(err: BaseException) -> BaseException:
    """`err` with a traceback, as the handler meets it."""
    try:
        raise err
    except BaseException as caught:  # noqa: BLE001 - the point is to hold whatever it is
        return caught


@pytest.mark.parametrize("err", [FilerError("x"), RegistryError("x"), RemoteError("x"), IntegrityError("x"), ConflictError("x")])
def test_a_filer_error_keeps_its_exit_code(err: FilerError) -> None:
    said = handler.outcome(err)
    assert said.exit_code == err.exit_code and said.message == "x" and said.kind == handler.ERROR


def test_partial_failure_lists_each_failure_then_the_summary() -> None:
    err = PartialFailure("pull finished with 2 problem(s)", [("a.bin", "missing"), ("b\nc.bin", "bad\x1b[2J")], exit_code=7)
    assert handler.render(handler.outcome(err)) == [
        "  a.bin: missing",
        '  "b\\nc.bin": bad\\033[2J',  # a name or reason from the repository never reaches the terminal raw
        "error: pull finished with 2 problem(s)",
    ]
    assert handler.outcome(err).exit_code == 7


def test_conflict_error_names_the_files_it_kept() -> None:
    said = handler.outcome(ConflictError("1 modified file(s) kept", kept=["m.bin"]))
    assert handler.render(said) == ["  kept (modified): m.bin", "error: 1 modified file(s) kept"]
    assert said.exit_code == 8


def test_a_manifest_that_could_not_be_had_keeps_the_code_of_why() -> None:
    entry = Entry(registry="d.filer", path="d", kind="dir", oid="sha256:" + "a" * 64, size=1)
    assert handler.outcome(ManifestUnavailable(entry, "timed out", exit_code=5)).exit_code == 5


def test_os_errors_say_what_and_where() -> None:
    said = handler.outcome(PermissionError(errno.EACCES, "Permission denied", "/srv/x\ny"))
    assert said.exit_code == 1 and said.message == 'Permission denied: "/srv/x\\ny"'
    full = handler.outcome(OSError(errno.ENOSPC, "No space left on device", "/data/f"))
    assert full.exit_code == 9 and "no space left" in full.message


def test_interrupt_and_closed_pipe() -> None:
    said = handler.outcome(KeyboardInterrupt())
    assert (said.exit_code, handler.render(said, tag="gitfiler: ")) == (130, ["gitfiler: interrupted"])
    piped = handler.outcome(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert (piped.exit_code, handler.render(piped)) == (0, [])


def test_a_bug_is_an_internal_error_with_the_way_to_its_traceback() -> None:
    err = raised(ZeroDivisionError("division by zero"))
    said = handler.outcome(err)
    assert said.exit_code == 70 and said.kind == handler.BUG and said.traceback == ""
    assert handler.render(said) == ["error: internal error: ZeroDivisionError: division by zero (rerun with --verbose for the traceback and report it)"]
    hook = handler.outcome(err, trace_hint="set GITFILER_VERBOSE=1")
    assert "(set GITFILER_VERBOSE=1 for the traceback and report it)" in hook.message


def test_the_traceback_only_when_verbose() -> None:
    err = raised(RemoteError("remote 'team' is unreachable"))
    assert handler.outcome(err).traceback == ""
    lines = handler.render(handler.outcome(err, verbose=True), prefix="push refused: ", tag="gitfiler: ")
    assert lines[0] == "Traceback (most recent call last):" and "RemoteError" in lines[-2]
    assert lines[-1] == "gitfiler: push refused: remote 'team' is unreachable"


def test_messages_are_escaped() -> None:
    said = handler.outcome(RegistryError("evil\x1b]0;pwned\x07.filer: bad"))
    assert "\x1b" not in said.message and "\\033]0;pwned\\a.filer" in said.message
