"""Glob patterns over repo-relative POSIX paths, as in `--include 'models/prod/**'`.

`**` spans directories, `*` and `?` stay within one; a pattern also matches
everything below a directory it matches, so `data/raw` selects `data/raw/x.csv`.
One rule for an artifact and for a file inside a directory artifact: both are paths.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip("/")
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "(?:/.*)?$")


def matches(path: str, pattern: str) -> bool:
    return bool(_compile(pattern).match(path))


def selected(path: str, include: list[str] | tuple[str, ...], exclude: list[str] | tuple[str, ...]) -> bool:
    if include and not any(matches(path, p) for p in include):
        return False
    return not any(matches(path, p) for p in exclude)


def _may_match_below(directory: str, pattern: str) -> bool:
    """Whether `pattern` may match some path below `directory`, segment by segment. True when
    it cannot tell (a `**` on the way): the answer only saves reading a directory's manifest."""
    parts = directory.strip("/").split("/")
    for i, seg in enumerate(pattern.strip("/").split("/")):
        if "**" in seg or i == len(parts):
            return True  # `**` may span the rest; or the rest of the pattern applies below `directory`
        if not _compile(seg).match(parts[i]):
            return False
    return True  # it matches `directory` itself, hence everything below


def may_select_below(
    directory: str, include: list[str] | tuple[str, ...], exclude: list[str] | tuple[str, ...],
) -> bool:
    """Whether `selected` may hold for some path below `directory` (a directory artifact whose
    files are selected one by one, as `-I 'data/images/*.png'` does)."""
    if any(matches(directory, p) for p in exclude):
        return False  # an excluded directory takes everything below it along
    return not include or any(_may_match_below(directory, p) for p in include)
