"""Path safety (design invariant 5): nothing named in a registry file,
manifest or archive may leave the tree it belongs to."""

from __future__ import annotations

import os
import re

from .errors import UnsafePathError

_DRIVE = re.compile(r"^[A-Za-z]:")
# Linux's PATH_MAX and NAME_MAX: a longer path cannot be created anyway, and the cap also bounds
# the depth a hostile manifest can ask for (each level costs at least two bytes).
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def check_relative(path: object, what: str = "path") -> str:
    """Return `path` if it is a normalised POSIX relative path inside its base.

    Rejects absolute paths, drive letters, backslashes, `.`/`..`/empty parts,
    NUL bytes and any `.git` component.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{what} must be a non-empty relative path")
    if "\x00" in path or "\\" in path:
        raise UnsafePathError(f"{what} {path!r} contains a backslash or NUL byte")
    if path.startswith("/") or _DRIVE.match(path):
        raise UnsafePathError(f"{what} {path!r} is absolute; only paths relative to the repository are allowed")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafePathError(f"{what} is longer than {MAX_PATH_BYTES} bytes; no filesystem takes it")
    for part in path.split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafePathError(f"{what} has a component longer than {MAX_NAME_BYTES} bytes; no filesystem takes it")
        if part in ("", ".", ".."):
            raise UnsafePathError(f"{what} {path!r} is not normalised or leaves its directory ('..', '.' or '//')")
        if part.lower() == ".git":
            raise UnsafePathError(f"{what} {path!r} points inside .git")
    return path


def is_within(child: str, parent: str) -> bool:
    """True when real path `child` is `parent` or below it."""
    child = os.path.realpath(child)
    parent = os.path.realpath(parent)
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def to_posix(path: str) -> str:
    return path.replace(os.sep, "/")
