"""The parts of gitfiler.git that read git's formats or guard its command lines, fed bytes
directly: raw tree objects, argv batching, the `.git` discovery, the environment for child gits,
and the refusals that happen before any git process starts. And pre-push's reading of its stdin."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler import git
from gitfiler.errors import FilerError

from .support import UNIT

# -- raw tree objects: `<octal mode> SP <name> NUL <raw id>`, repeated --------------------------------

MODES = {"file": b"100644", "exec": b"100755", "link": b"120000", "tree": b"40000", "submodule": b"160000"}
# Names git allows in a tree: any bytes but NUL and '/', including newlines, spaces and non-UTF-8.
tree_names = st.one_of(
    st.binary(min_size=1, max_size=12).filter(lambda b: b"\0" not in b and b"/" not in b),
    st.sampled_from([b"a.filer", b"x.filer.filer", b".filer", b"new\nline.filer", b"sp ace.filer", b"\xff.filer", b"a.filerx", b"a.FILER"]),
)


def _raw_tree(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    return b"".join(MODES[kind] + b" " + name + b"\0" + raw for kind, name, raw in entries)


@st.composite
def raw_trees(draw: st.DrawFn) -> tuple[int, list[tuple[str, bytes, bytes]]]:
    raw_len = draw(st.sampled_from([20, 32]))  # SHA-1 and SHA-256 repositories
    entries = draw(st.lists(st.tuples(st.sampled_from(sorted(MODES)), tree_names, st.binary(min_size=raw_len, max_size=raw_len)), max_size=8))
    return raw_len, entries


@UNIT
@given(raw_trees())
def test_tree_blobs_named_lists_the_ids_of_files_and_links_ending_in_the_suffix(tree: tuple[int, list[tuple[str, bytes, bytes]]]) -> None:
    raw_len, entries = tree
    want = [raw.hex() for kind, name, raw in entries if kind not in ("tree", "submodule") and name.endswith(b".filer")]
    assert list(git._tree_blobs_named(_raw_tree(entries), b".filer", raw_len)) == want


@UNIT
@given(raw_trees(), st.data())
def test_tree_blobs_named_refuses_a_tree_cut_inside_an_entry(tree: tuple[int, list[tuple[str, bytes, bytes]]], data: st.DataObject) -> None:
    raw_len, entries = tree
    whole = _raw_tree(entries)
    ends = {len(_raw_tree(entries[:i])) for i in range(len(entries) + 1)}
    cut = data.draw(st.integers(0, len(whole)).filter(lambda n: n not in ends))
    with pytest.raises(ValueError):
        list(git._tree_blobs_named(whole[:cut], b".filer", raw_len))


@UNIT
@given(st.binary(max_size=200))
def test_tree_blobs_named_fails_on_garbage_only_with_value_error(data: bytes) -> None:
    # registry_blobs_reachable turns ValueError into "tree ... is malformed; run git fsck".
    try:
        list(git._tree_blobs_named(data, b".filer", 20))
    except ValueError:
        pass


# -- argv batching ---------------------------------------------------------------------------------------


@UNIT
@given(st.lists(st.text(min_size=1, max_size=git._ARGV_BUDGET // 3), max_size=12))
def test_chunks_keep_every_path_in_order_within_the_argv_budget(paths: list[str]) -> None:
    chunks = list(git._chunks(paths))
    assert [p for chunk in chunks for p in chunk] == paths
    assert all(chunk for chunk in chunks)
    assert all(len(chunk) == 1 or sum(len(p) + 1 for p in chunk) <= git._ARGV_BUDGET for chunk in chunks)


def test_chunks_give_a_path_longer_than_the_budget_a_chunk_of_its_own() -> None:
    huge = "x" * (git._ARGV_BUDGET + 1)
    assert list(git._chunks(["a", huge, "b"])) == [["a"], [huge], ["b"]]


# -- the environment of child gits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "var",
    ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS"],
)
def test_clean_env_drops_what_would_mislead_a_child_git(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "1")
    monkeypatch.setenv("GITFILER_KEEP_ME", "1")
    env = git.clean_env()
    assert var not in env and env["GITFILER_KEEP_ME"] == "1"


# -- refusals before any git process starts ----------------------------------------------------------------


@pytest.mark.parametrize("oid", ["HEAD", "--batch-all-objects", "a" * 39, "a" * 41, "A" * 40, "a" * 40 + "\n" + "b" * 40, ""])
def test_cat_objects_refuses_anything_but_a_full_hex_id(oid: str) -> None:
    with pytest.raises(ValueError, match="not a full object id"):
        list(git._cat_objects("/nonexistent", [oid], lambda kind, size: True))


def test_ls_tree_refuses_an_option_in_place_of_a_revision() -> None:
    with pytest.raises(ValueError, match="not a revision"):
        git.ls_tree("/nonexistent", "--output=/tmp/x", ["a"])


# -- finding the repository without spawning git -----------------------------------------------------------


@pytest.fixture
def no_git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM"):
        monkeypatch.delenv(var, raising=False)


def _fake_git_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "HEAD").write_text("ref: refs/heads/main\n")
    return path


@pytest.mark.usefixtures("no_git_env")
def test_find_repo_fast_walks_up_to_a_git_directory(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    _fake_git_dir(root / ".git")
    (root / "a" / "b").mkdir(parents=True)
    assert git._find_repo_fast(str(root / "a" / "b")) == git.RepoPaths(str(root), str(root / ".git"), str(root / ".git"))


@pytest.mark.usefixtures("no_git_env")
def test_find_repo_fast_follows_a_linked_worktrees_git_file_to_its_common_dir(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    common = _fake_git_dir(root / "main" / ".git")
    private = _fake_git_dir(common / "worktrees" / "wt")
    (private / "commondir").write_text("../..\n")
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text(f"gitdir: {private}\n")
    assert git._find_repo_fast(str(root / "wt")) == git.RepoPaths(str(root / "wt"), str(private), str(common))


@pytest.mark.usefixtures("no_git_env")
@pytest.mark.parametrize("content", ["not a gitdir line\n", ""])
def test_find_repo_fast_leaves_an_odd_git_file_to_git(tmp_path: Path, content: str) -> None:
    (tmp_path / ".git").write_text(content)
    assert git._find_repo_fast(str(tmp_path)) is None


@pytest.mark.usefixtures("no_git_env")
def test_find_repo_fast_leaves_a_git_directory_without_head_to_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert git._find_repo_fast(str(tmp_path)) is None


def test_find_repo_fast_leaves_an_explicit_git_dir_to_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_git_dir(tmp_path / ".git")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / ".git"))
    assert git._find_repo_fast(str(tmp_path)) is None


# -- pre-push stdin --------------------------------------------------------------------------------------------


def _prepush_module() -> ModuleType:
    """The pre-push gate is moving into gitfiler/hooks/ (issue 8); find it wherever it lives now."""
    for name in ("gitfiler.hooks.pre_push", "gitfiler.hooks.prepush", "gitfiler.commands.prepush"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "parse_push_lines"):
            return module
    pytest.skip("parse_push_lines is in none of gitfiler.hooks.pre_push, gitfiler.hooks.prepush, gitfiler.commands.prepush")


SHA = st.one_of(st.just(git.ZERO_SHA), st.binary(min_size=20, max_size=20).map(bytes.hex), st.binary(min_size=32, max_size=32).map(bytes.hex))
REF = st.from_regex(r"refs/(heads|tags)/[A-Za-z0-9._/-]{1,20}", fullmatch=True) | st.just("(delete)")


@UNIT
@given(st.lists(st.tuples(REF, SHA, REF, SHA), max_size=5), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_parse_push_lines_reads_back_what_git_writes(lines: list[tuple[str, str, str, str]], newline: str, blank: bool) -> None:
    text = newline.join(" ".join(line) for line in lines) + (newline if lines else "") + (newline if blank else "")
    assert _prepush_module().parse_push_lines(text) == lines


@pytest.mark.parametrize("line", ["refs/heads/main abc", "a b c d e", "refs/heads/main"])
def test_parse_push_lines_refuses_a_line_without_four_fields(line: str) -> None:
    with pytest.raises(FilerError, match="unexpected input line"):
        _prepush_module().parse_push_lines(f"refs/heads/a {git.ZERO_SHA} refs/heads/a {git.ZERO_SHA}\n{line}\n")


def test_parse_push_lines_reads_nothing_from_an_empty_push() -> None:
    assert _prepush_module().parse_push_lines("") == []
    assert _prepush_module().parse_push_lines("\n  \n") == []

