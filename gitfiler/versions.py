"""Ordering version strings: SemVer and CalVer by their numbers, any other text naturally.

`sort_key(v)` is a total order on all strings, consistent with equality (two keys are equal
only for equal strings), and never raises, so release names and artifact versions written
by hand can be sorted without first being judged.
"""

from __future__ import annotations

import re

# Numeric-looking: an optional `v`, dot-separated digit runs (SemVer's 1.2.3, CalVer's
# 2026.11.1.2, a bare 3), then SemVer's pre-release and build parts. Both schemes share one
# shape so that 2026.11.1 (valid SemVer) and 2026.11.1.2 (not) still order by their numbers.
_NUMERIC = re.compile(
    r"[vV]?(?P<release>[0-9]+(?:\.[0-9]+)*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_PART = re.compile(r"[0-9]+|[^0-9]+")

NUMERIC, TEXT = 0, 1  # numeric-looking versions sort before other text
_DIGITS, _WORD = 0, 1  # within a pre-release or natural key, a number sorts before a word

# One piece of a pre-release or natural key: (what, digit count, digits, text). Digit runs
# compare by value without int(), which refuses thousands of digits.
Piece = tuple[int, int, str, str]


def _number(digits: str) -> tuple[int, str]:
    significant = digits.lstrip("0") or "0"
    return len(significant), significant


def _piece(text: str) -> Piece:
    if text.isascii() and text.isdigit():
        return (_DIGITS, *_number(text), "")
    return (_WORD, 0, "", text)


def sort_key(version: str) -> tuple[object, ...]:
    """A key ordering `version` among others: SemVer precedence (1.2.0 < 1.10.0, 1.0.0-rc.1 <
    1.0.0, build metadata ignored), CalVer by its numbers (2026.9.1 < 2026.11.1 < 2026.11.1.2),
    then any other text after all of those, in natural order (digit runs by value). Ties
    (1.0.0+a and 1.0.0+b, v1 and 1) are broken by the raw string."""
    m = _NUMERIC.fullmatch(version)
    if m is not None:
        release = tuple(_number(d) for d in m.group("release").split("."))
        pre = m.group("pre")
        # No pre-release sorts after every pre-release of the same release.
        pre_key = (1, ()) if pre is None else (0, tuple(_piece(p) for p in pre.split(".")))
        return (NUMERIC, release, pre_key, (), version)
    natural = tuple(_piece(p) for p in _PART.findall(version.casefold()))
    return (TEXT, (), (0, ()), natural, version)


__all__ = ["sort_key"]
