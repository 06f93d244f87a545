"""Typed errors. Each carries a one-line message written for the user and an exit code.

The core raises these; only the CLI turns them into output and exit codes.
"""

from __future__ import annotations


class FilerError(Exception):
    """Base of every expected failure; `str(err)` is the user-facing line."""

    exit_code = 1


class NotARepositoryError(FilerError):
    exit_code = 3


class ConfigError(FilerError):
    exit_code = 3


class RegistryError(FilerError):
    """A registry file or directory manifest is malformed or hostile."""

    exit_code = 4


class UnsafePathError(FilerError):
    exit_code = 4


class RemoteError(FilerError):
    """The remote could not be reached, refused us, or does not exist."""

    exit_code = 5


class IntegrityError(FilerError):
    """Bytes did not match the digest that names them."""

    exit_code = 6

    def __init__(self, message: str, *, oid: str = "", path: str = "") -> None:
        super().__init__(message)
        self.oid = oid
        self.path = path


class OversizeError(IntegrityError):
    """An object arrived with more bytes than were declared for it (or than its kind may hold)."""


class ObjectMissingError(FilerError):
    exit_code = 7


class ConflictError(FilerError):
    """Work tree files were kept because overwriting them would lose user data.

    `kept` names them; `result` is the outcome of the bulk operation that kept them
    (e.g. a `SyncResult`), so a caller can still report what did happen."""

    exit_code = 8

    def __init__(self, message: str, *, kept: list[str] | None = None, result: object = None) -> None:
        super().__init__(message)
        self.kept: list[str] = list(kept or [])
        self.result = result


class DiskFullError(FilerError):
    exit_code = 9


class HookError(FilerError):
    exit_code = 10


class PartialFailure(FilerError):
    """A bulk operation finished but some items failed; `failures` lists them."""

    def __init__(self, message: str, failures: list[tuple[str, str]], exit_code: int = 1, *, result: object = None) -> None:
        super().__init__(message)
        self.failures = failures
        self.exit_code = exit_code
        self.result = result  # the bulk operation's outcome (e.g. a SyncResult), for --json


class TransientRemoteError(RemoteError):
    """The remote failed in a way that may pass (throttling, 5xx, a dropped connection):
    the transfer engine retries the object with backoff instead of stopping the run."""


# When a bulk operation meets problems of several kinds, it exits with the code of the most
# serious one: data that is wrong, then input that is hostile, then what stops the work.
_SEVERITY = (6, 4, 9, 5, 7, 3, 8, 10)


def most_serious(codes: list[int]) -> int:
    """The exit code to report for problems with these exit codes (1 when none is known)."""
    present = set(codes)
    return next((c for c in _SEVERITY if c in present), 1)
