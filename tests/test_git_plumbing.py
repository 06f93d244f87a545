"""gitfiler.git's parsers of git plumbing output, against real repositories: names with
spaces, newlines, quotes, glob characters and non-ASCII text, blobs above the size cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, run
from gitfiler import git as g
from gitfiler.errors import FilerError

NAMES = ["a b.filer", "n\nl.filer", 'q"t.filer', "x[1].filer", "x1.filer", "st*r.filer", "é日本.filer", ":magic.filer", "new\ndir/in side.filer"]


def make(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "r"
    run(["git", "init", "-q", "-b", "main", str(root)], tmp_path)
    write(root, files)
    return root


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def commit_all(root: Path, msg: str = "c") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", msg)
    return git(root, "rev-parse", "HEAD").stdout.strip()


def blob_id(root: Path, data: bytes) -> str:
    return run(["git", "hash-object", "-w", "--stdin"], root, input=data.decode("latin-1")).stdout.strip()


def staged(root: Path) -> list[str]:
    return sorted(p for p in git(root, "diff", "--cached", "--name-only", "-z").stdout.split("\0") if p)


@pytest.fixture
def named(tmp_path: Path) -> Path:
    """A repository with one commit holding a file under each of NAMES (content: the name)."""
    root = make(tmp_path, {n: n.encode() for n in NAMES})
    commit_all(root)
    return root


# -- cat-file --batch ---------------------------------------------------------------------------


def test_read_blobs_returns_contents_by_id_and_leaves_out_missing_ids(tmp_path: Path):
    root = make(tmp_path, {})
    a, b = blob_id(root, b"alpha\n"), blob_id(root, b"")
    blobs = g.read_blobs(str(root), [a, "0" * 40, b, a])
    assert dict(blobs) == {a: b"alpha\n", b: b""} and blobs.too_large == {}


def test_read_blobs_skips_blobs_above_the_cap_unread_and_lists_them(tmp_path: Path):
    root = make(tmp_path, {})
    at_cap, above = blob_id(root, b"x" * g.MAX_BLOB_BYTES), blob_id(root, b"y" * (g.MAX_BLOB_BYTES + 1))
    small = blob_id(root, b"small")
    blobs = g.read_blobs(str(root), [above, at_cap, small])
    assert set(blobs) == {at_cap, small} and blobs[small] == b"small"
    assert blobs.too_large == {above: g.MAX_BLOB_BYTES + 1}


def test_the_blob_cap_is_the_registry_file_cap():
    from gitfiler.registry import MAX_REGISTRY_BYTES

    assert g.MAX_BLOB_BYTES == MAX_REGISTRY_BYTES


def test_read_blobs_streams_more_than_a_pipe_holds_each_way(tmp_path: Path):
    root = make(tmp_path, {})
    n = 2000  # ~82 KB of ids in, ~300 KB out: either side would block on a full 64 KiB pipe
    datas = [f"{i}\n" * 20 for i in range(n)]
    stream = "".join(f"blob\nmark :{i + 1}\ndata {len(d)}\n{d}\n" for i, d in enumerate(datas))
    run(["git", "fast-import", "--quiet", f"--export-marks={tmp_path / 'marks'}"], root, input=stream)
    ids = [line.split()[1] for line in (tmp_path / "marks").read_text().splitlines()]
    blobs = g.read_blobs(str(root), ids)
    assert len(blobs) == n and blobs[ids[n - 1]] == datas[n - 1].encode()


def test_read_blobs_refuses_anything_but_a_full_object_id(tmp_path: Path):
    root = make(tmp_path, {})
    with pytest.raises(ValueError):
        g.read_blobs(str(root), ["HEAD:a b.filer"])


def test_read_blobs_outside_a_repository_reports_git_s_own_error(tmp_path: Path):
    with pytest.raises(FilerError, match="not a git repository"):
        g.read_blobs(str(tmp_path), ["0" * 40])


def test_read_blobs_leaves_out_objects_that_are_not_blobs(named: Path):
    tree = git(named, "rev-parse", "HEAD^{tree}").stdout.strip()
    assert dict(g.read_blobs(str(named), [tree])) == {}


# -- ls-tree -z / files_at ------------------------------------------------------------------------


def test_files_at_reads_each_special_name_exactly(named: Path):
    found = g.files_at(str(named), "HEAD", NAMES)
    assert dict(found) == {n: n.encode() for n in NAMES}


def test_files_at_matches_paths_literally_not_as_globs_or_prefixes(named: Path):
    found = g.files_at(str(named), "HEAD", ["x[1].filer", "st*r.filer", "new\ndir", "absent.filer"])
    assert sorted(found) == ["st*r.filer", "x[1].filer"]
    assert found["x[1].filer"] == b"x[1].filer"


def test_files_at_a_commit_that_does_not_exist_is_empty(named: Path):
    assert dict(g.files_at(str(named), g.ZERO_SHA, ["a b.filer"])) == {}


def test_files_at_leaves_out_symlinks(tmp_path: Path):
    root = make(tmp_path, {"real.filer": b"real"})
    (root / "link.filer").symlink_to("real.filer")
    head = commit_all(root)
    assert sorted(g.files_at(str(root), head, ["real.filer", "link.filer"])) == ["real.filer"]


def test_files_at_reports_oversized_files_by_path_without_reading_them(tmp_path: Path):
    root = make(tmp_path, {"big.filer": b"b" * 100, "ok.filer": b"ok"})
    head = commit_all(root)
    found = g.files_at(str(root), head, ["big.filer", "ok.filer"], max_size=10)
    assert dict(found) == {"ok.filer": b"ok"} and found.too_large == {"big.filer": 100}


# -- diff-tree -z ---------------------------------------------------------------------------------


def test_changed_files_reports_each_special_name_with_its_blob(named: Path):
    head = git(named, "rev-parse", "HEAD").stdout.strip()
    changes = g.changed_files(str(named), [head], ".filer")
    assert sorted(c.path for c in changes) == sorted(NAMES)
    assert all(c.commit == head for c in changes)
    blobs = g.read_blobs(str(named), [c.blob for c in changes])
    assert {c.path: blobs[c.blob] for c in changes} == {n: n.encode() for n in NAMES}


# -- reachability for gc --------------------------------------------------------------------------


def test_registry_blobs_reachable_finds_names_with_newlines_in_history_and_index(tmp_path: Path):
    root = make(tmp_path, {"a\nb.filer": b"file with a newline", "d\nx/c.filer": b"dir with a newline", "other.txt": b"not a registry file"})
    commit_all(root)
    git(root, "rm", "-q", "a\nb.filer", "d\nx/c.filer")
    git(root, "commit", "-qm", "gone")  # now only history holds them
    write(root, {"s\nt/aged.filer": b"staged only"})
    git(root, "add", "--", "s\nt/aged.filer")
    found = g.registry_blobs_reachable(str(root), ["--all", "--reflog", "--indexed-objects"], ".filer")
    want = {blob_id(root, d) for d in (b"file with a newline", b"dir with a newline", b"staged only")}
    assert set(found) == want


def test_registry_blobs_reachable_reads_the_index_of_a_worktree_whose_path_has_a_newline(tmp_path: Path):
    root = make(tmp_path, {"base.txt": b"base"})
    commit_all(root)
    wt = tmp_path / "wt\nx"
    git(root, "worktree", "add", "-q", "--detach", str(wt))
    write(wt, {"w.filer": b"staged in the linked worktree"})
    git(wt, "add", "--", "w.filer")
    found = g.registry_blobs_reachable(str(root), ["--all", "--indexed-objects"], ".filer")
    assert found == [blob_id(root, b"staged in the linked worktree")]


def test_registry_blobs_reachable_ignores_names_that_only_contain_the_suffix(tmp_path: Path):
    root = make(tmp_path, {"x.filer\nnot": b"no", "x.filer.bak": b"no either", "dir.filer/y": b"nor this"})
    commit_all(root)
    assert g.registry_blobs_reachable(str(root), ["--all"], ".filer") == []


# -- literal pathspecs ----------------------------------------------------------------------------


def test_ls_files_literal_matches_only_the_exact_path(named: Path):
    assert g.ls_files(str(named), ["x[1].filer"], others=False, literal=True) == ["x[1].filer"]
    assert sorted(g.ls_files(str(named), ["x[1].filer"], others=False)) == ["x1.filer", "x[1].filer"]  # a glob by default


def test_ls_files_literal_still_lists_a_directory_s_contents(named: Path):
    assert g.ls_files(str(named), ["new\ndir"], others=False, literal=True) == ["new\ndir/in side.filer"]


def test_glob_patterns_work_whatever_pathspec_variables_the_user_exported(named: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")
    assert sorted(g.ls_files(str(named), ["*.filer"], others=False)) == sorted(NAMES)


def test_add_stages_only_the_exact_paths(named: Path):
    write(named, dict.fromkeys(NAMES, b"changed"))
    g.add(str(named), ["x[1].filer", ":magic.filer", "st*r.filer"])
    assert staged(named) == sorted([":magic.filer", "st*r.filer", "x[1].filer"])


def test_rm_cached_unstages_only_the_exact_paths_and_keeps_the_files(named: Path):
    g.rm_cached(str(named), ["x[1].filer", ":magic.filer", "never-tracked.filer"])
    assert staged(named) == sorted([":magic.filer", "x[1].filer"])
    assert (named / "x[1].filer").exists() and (named / "x1.filer").exists()
