"""Path safety (docs/format.md, Paths): what `check_relative` accepts never leaves its root, and
`is_within` compares real paths, not strings."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler.errors import UnsafePathError
from gitfiler.paths import check_relative, is_within, to_posix

from .support import UNIT

ROOT = "/fake/root"
SEGMENTS = ["a", "b.bin", "..", ".", "", "...", ".git", ".GIT", ".Git", "git", ".gitx", "C:", "c:x", "~", "\\", "a\\b", "\x00", "\n", " ", "é", "*"]
segments = st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=5))
candidate_paths = st.one_of(
    st.text(max_size=30),
    st.lists(segments, min_size=1, max_size=5).flatmap(lambda parts: st.sampled_from(["/", "//", "\\"]).map(lambda sep: sep.join(parts))),
)


@UNIT
@given(candidate_paths)
def test_an_accepted_path_is_normalised_and_stays_below_any_root(path: str) -> None:
    try:
        accepted = check_relative(path)
    except UnsafePathError:
        return
    assert accepted == path
    assert posixpath.normpath(path) == path
    assert posixpath.normpath(posixpath.join(ROOT, path)).startswith(ROOT + "/")
    assert not any(part.lower() == ".git" for part in path.split("/"))


@pytest.mark.parametrize("path", ["a", "a/b.bin", "...", "a/...b", ".hidden/x", "git/x", "x.git", ".gitx", "é/日本", "a b/c d", "-x", "ab:c", "~"])
def test_check_relative_accepts_a_normalised_relative_path(path: str) -> None:
    assert check_relative(path) == path


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "non-empty"),
        ("/etc/passwd", "absolute"),
        ("C:x", "absolute"),
        ("c:/x", "absolute"),
        ("a\\b", "backslash or NUL"),
        ("a\x00b", "backslash or NUL"),
        ("..", "not normalised"),
        ("a/../b", "not normalised"),
        ("./a", "not normalised"),
        ("a/.", "not normalised"),
        ("a//b", "not normalised"),
        ("a/", "not normalised"),
        (".git", "inside .git"),
        ("x/.GIT/config", "inside .git"),
    ],
)
def test_check_relative_refuses_an_unsafe_path_saying_why(path: str, problem: str) -> None:
    with pytest.raises(UnsafePathError, match=problem):
        check_relative(path)


@pytest.mark.parametrize("value", [None, 1, b"a", ["a"], {"a": 1}])
def test_check_relative_refuses_what_is_not_a_string(value: Any) -> None:
    with pytest.raises(UnsafePathError, match="non-empty relative path"):
        check_relative(value)


def test_check_relative_names_what_it_checked() -> None:
    with pytest.raises(UnsafePathError, match="^manifest entry path '/x' is absolute"):
        check_relative("/x", "manifest entry path")


@pytest.mark.parametrize(
    ("child", "parent", "inside"),
    [
        ("/a/b", "/a", True),
        ("/a", "/a", True),
        ("/a/", "/a", True),
        ("/a/b", "/a/", True),
        ("/ab", "/a", False),
        ("/a/../b", "/a", False),
        ("/x", "/", True),
        ("/", "/a", False),
    ],
)
def test_is_within_compares_whole_components(child: str, parent: str, inside: bool) -> None:
    assert is_within(child, parent) is inside


def test_is_within_follows_links_to_where_they_lead(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "escape").symlink_to(outside)
    (tmp_path / "alias").symlink_to(inside)
    assert not is_within(str(inside / "escape" / "f"), str(inside))
    assert is_within(str(tmp_path / "alias" / "f"), str(inside))


def test_to_posix_uses_forward_slashes() -> None:
    assert to_posix(os.path.join("a", "b", "c")) == "a/b/c"


@pytest.mark.parametrize("path", ["x" * 256, "a/" + "é" * 128, "/".join(["d"] * 2049)])
def test_a_path_no_filesystem_takes_is_refused(path: str) -> None:
    with pytest.raises(UnsafePathError, match="longer than"):
        check_relative(path)


def test_the_longest_paths_a_filesystem_takes_are_accepted() -> None:
    assert check_relative("x" * 255) == "x" * 255
    deep = "/".join(["d"] * 2048)  # 4095 bytes
    assert check_relative(deep) == deep
