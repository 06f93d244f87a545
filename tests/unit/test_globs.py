"""Glob patterns over repo-relative paths (`--include`, `--exclude`): anchored at the root, `*` and
`?` within one component, `**` across components, and a match covers everything below it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler.globs import matches, selected

from .support import UNIT

# A small alphabet makes shared prefixes (a vs ab vs a/b) frequent.
names = st.text(alphabet="ab.-+[]()$^{}é", min_size=1, max_size=3).filter(lambda s: s not in (".", ".."))
paths = st.lists(names, min_size=1, max_size=4).map("/".join)


@UNIT
@given(paths, paths)
def test_a_pattern_without_wildcards_matches_that_path_and_everything_below_it(path: str, pattern: str) -> None:
    assert matches(path, pattern) is (path == pattern or path.startswith(pattern + "/"))


@UNIT
@given(paths)
def test_double_star_matches_every_path(path: str) -> None:
    assert matches(path, "**")


@UNIT
@given(st.lists(names, min_size=1, max_size=4), st.data())
def test_double_star_slash_finds_a_component_at_any_depth(parts: list[str], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(parts) - 1))
    assert matches("/".join(parts), "**/" + parts[i])


@UNIT
@given(st.lists(names, min_size=1, max_size=4), st.integers(1, 6))
def test_star_matches_exactly_one_component(parts: list[str], stars: int) -> None:
    # `*/*` matches a path of two or more components (the rest is below a match), never one of fewer.
    assert matches("/".join(parts), "/".join(["*"] * stars)) is (stars <= len(parts))


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("models/prod/a.pt", "models/prod/**", True),
        ("models/prod", "models/prod/**", False),  # `dir/**` is what is below dir, not dir itself
        ("models/dev/a.pt", "models/prod/**", False),
        ("x.pt", "**/x.pt", True),
        ("a/b/x.pt", "**/x.pt", True),
        ("a/bx.pt", "**/x.pt", False),
        ("a/x.pt", "x.pt", False),  # anchored at the root, unlike .gitignore
        ("data/raw/x.csv", "data/raw", True),
        ("data/raw2/x.csv", "data/raw", False),
        ("other/data/raw", "data/raw", False),
        ("data/raw/x.csv", "/data/raw/", True),  # leading and trailing slashes do not matter
        ("a/b/c", "a/*/c", True),
        ("a/b/b/c", "a/*/c", False),
        ("a/b/b/c", "a/**/c", True),
        ("a/c", "a/**/c", True),
        ("ab", "a?", True),
        ("a/", "a?", False),
        ("a/b", "a?b", False),
        ("x[1].bin", "x[1].bin", True),  # brackets are literal: no character classes
        ("x1.bin", "x[1].bin", False),
        ("a+b", "a+b", True),
        ("aab", "a+b", False),
        ("models/a.pt", "*.pt", False),
        ("a.pt", "*.pt", True),
    ],
)
def test_matches(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


def test_selected_takes_everything_when_there_is_no_include() -> None:
    assert selected("a/b", [], [])
    assert selected("a/b", (), ("c",))


def test_selected_needs_one_include_to_match() -> None:
    assert selected("a/b", ["c", "a"], [])
    assert not selected("a/b", ["c", "d"], [])


def test_selected_lets_an_exclude_win_over_an_include() -> None:
    assert not selected("a/b", ["a"], ["a/b"])
    assert not selected("a/b", ["**"], ["**/b"])
