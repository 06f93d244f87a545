"""Artifact names with spaces, newlines, quotes, glob characters, escape sequences and
non-ASCII text, through the real `git filer` commands and the real git hooks.

Every test works on all the names at once (one repository, one command per step),
so a failure lists the names that broke and the suite stays fast.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import Repo, make_repo, run
from gitfiler.quoting import escape_text, quote_path

SPECIAL = {
    "space": "a b.bin",
    "newline": "new\nline.bin",
    "quote": 'say "hi".bin',
    "brackets": "x[1].bin",
    "star": "st*r.bin",
    "question": "q?.bin",
    "non-ascii": "é日本.bin",
    "escape": "\x1b[31mred.bin",
    "nested": "new\ndir/in side [2].bin",
}
# Names a special name would also match as a glob pattern: tracked beside them, they must never be touched.
GLOB_TWINS = ["x1.bin", "star.bin", "qq.bin", "new\ndir/in side 2.bin"]
DIRECTORY = "data set [v1]"
DIRECTORY_FILES = {"a b.txt": b"dir file 1", "n\n\"é\".txt": b"dir file 2"}


def content(name: str) -> bytes:
    return f"bytes of {name!r}".encode()


def expected_files() -> dict[str, bytes]:
    files = {name: content(name) for name in [*SPECIAL.values(), *GLOB_TWINS]}
    files.update({f"{DIRECTORY}/{n}": data for n, data in DIRECTORY_FILES.items()})
    return files


def artifacts() -> list[str]:
    return [*SPECIAL.values(), *GLOB_TWINS, DIRECTORY]


def wrong_files(root: Path) -> list[str]:
    """The expected work-tree files that are absent or hold other bytes."""
    return [rel for rel, data in expected_files().items() if not (root / rel).is_file() or (root / rel).read_bytes() != data]


def index_paths(root: Path) -> set[str]:
    out = run(["git", "ls-files", "-z"], root).stdout
    return {p for p in out.split("\0") if p}


def cache_objects(repo: Repo) -> set[str]:
    return {str(p.relative_to(repo.cache)) for p in (repo.cache / "objects").rglob("*") if p.is_file()}


@pytest.fixture
def committed(tmp_path: Path) -> Repo:
    """A repository whose second commit tracks every special name (and their glob twins),
    committed with the post-commit upload off so each test decides what reaches the remote."""
    repo = make_repo(tmp_path)
    repo.git("commit", "-qm", "init")
    for rel, data in expected_files().items():
        repo.write(rel, data)
    repo.filer("add", *artifacts())
    repo.commit_without_autopush("artifacts with special names")
    return repo


def origin_of(repo: Repo, tmp_path: Path) -> Path:
    """A bare git remote the repository is pushed to (through the pre-push hook)."""
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    repo.git("push", "-q", str(bare), "main")
    return bare


# -- add ------------------------------------------------------------------------------------------


def test_add_stages_one_registry_file_per_special_name(committed: Repo):
    staged = index_paths(committed.path)
    assert [a for a in artifacts() if f"{a}.filer" not in staged] == []
    assert [a for a in artifacts() if a in staged] == []  # the bytes themselves never reach git


def test_each_special_name_without_a_newline_is_git_ignored_after_add(committed: Repo):
    untracked = run(["git", "ls-files", "-z", "--others", "--exclude-standard"], committed.path).stdout.split("\0")
    assert [a for a in expected_files() if "\n" not in a and a in untracked] == []


def test_a_name_with_a_newline_is_git_ignored_after_add(committed: Repo):
    untracked = run(["git", "ls-files", "-z", "--others", "--exclude-standard"], committed.path).stdout.split("\0")
    assert [a for a in expected_files() if "\n" in a and a in untracked] == []


def test_add_is_not_refused_because_a_file_its_name_matches_as_a_glob_is_committed(tmp_path: Path):
    repo = make_repo(tmp_path)
    repo.write("x1.bin", b"small file kept in git")
    repo.git("add", "x1.bin")
    repo.git("commit", "-qm", "a file in git")
    repo.write("x[1].bin", b"artifact")
    repo.filer("add", "x[1].bin")
    assert "x[1].bin.filer" in index_paths(repo.path)


# -- push / clone / pull --------------------------------------------------------------------------


def test_push_then_pull_in_a_clone_restores_each_special_name(committed: Repo, tmp_path: Path):
    pushed = json.loads(committed.filer("push", "--json").stdout)
    assert pushed["ok"] and pushed["problems"] == []
    origin = origin_of(committed, tmp_path)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)  # no hooks installed there: nothing hydrated yet
    run(["git", "filer", "pull"], clone)
    assert wrong_files(clone) == []


def test_git_filer_clone_hydrates_each_special_name(committed: Repo, tmp_path: Path):
    origin = origin_of(committed, tmp_path)  # the pre-push hook uploads what the commits reference
    run(["git", "filer", "clone", str(origin), str(tmp_path / "clone")], tmp_path)
    assert wrong_files(tmp_path / "clone") == []


# -- hooks ----------------------------------------------------------------------------------------


def test_branch_switch_hydrates_each_special_name_through_the_hook(committed: Repo):
    committed.git("checkout", "-q", "-b", "before", "HEAD~1")
    assert [rel for rel in expected_files() if (committed.path / rel).exists()] == [], "the switch away should retire every artifact"
    back = committed.git("checkout", "-q", "main")
    assert "error" not in back.stderr
    assert wrong_files(committed.path) == []


# -- remove ---------------------------------------------------------------------------------------


def test_remove_unstages_only_the_named_artifacts(committed: Repo):
    committed.filer("remove", *SPECIAL.values(), DIRECTORY)
    staged = index_paths(committed.path)
    assert [a for a in [*SPECIAL.values(), DIRECTORY] if f"{a}.filer" in staged] == []
    assert [t for t in GLOB_TWINS if f"{t}.filer" not in staged] == []
    assert [t for t in GLOB_TWINS if (committed.path / t).read_bytes() != content(t)] == []


# -- gc -------------------------------------------------------------------------------------------


def test_gc_keeps_what_registry_files_with_special_names_reference_in_history(committed: Repo):
    before = cache_objects(committed)
    committed.filer("remove", "--keep-files", *artifacts())
    committed.commit_without_autopush("stop tracking")  # now only history references the objects
    committed.filer("gc", "--grace", "0")
    assert before - cache_objects(committed) == set()


# -- rendering ------------------------------------------------------------------------------------


def test_ls_prints_each_special_name_escaped_on_its_own_line(committed: Repo):
    lines = committed.filer("ls").stdout.splitlines()
    assert len(lines) == len(artifacts())
    names = [re.fullmatch(r"(?:file|dir) +\S+ \S+  [0-9a-f]{12}  (.*)", line) for line in lines]
    assert sorted(m.group(1) for m in names if m) == sorted(quote_path(a) for a in artifacts())


def test_status_prints_each_special_name_escaped_on_its_own_line(committed: Repo):
    lines = committed.filer("status", "-v").stdout.splitlines()[:-1]  # the last line is the count
    assert sorted(line.split(None, 1)[1] for line in lines) == sorted(quote_path(a) for a in artifacts())


def test_json_output_keeps_names_raw(committed: Repo):
    rows = json.loads(committed.filer("ls", "--json").stdout)
    assert sorted(r["artifact"] for r in rows) == sorted(artifacts())


def test_ls_quotes_repository_supplied_metadata(tmp_path: Path):
    repo = make_repo(tmp_path)
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin", "-m", "note=\x1b]0;pwned\x07\nsecond line")
    out = repo.filer("ls").stdout
    assert "\x1b" not in out and out.count("\n") == 1
    assert out.rstrip("\n").endswith('note="\\033]0;pwned\\a\\nsecond line"')


# -- the quoting itself ---------------------------------------------------------------------------


QUOTED_NAMES = [*SPECIAL.values(), "back\\slash", "tab\there", "cr\rhere", "del\x7f", "bell\a", "plain-ascii.bin", "ünïcödé"]


def test_names_are_quoted_exactly_as_git_quotes_them_with_quotepath_off(tmp_path: Path):
    run(["git", "init", "-q", str(tmp_path / "r")], tmp_path)
    for name in QUOTED_NAMES:
        (tmp_path / "r" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "r" / name).write_bytes(b"x")
    run(["git", "add", "-A"], tmp_path / "r")
    listed = run(["git", "-c", "core.quotePath=false", "ls-files"], tmp_path / "r").stdout.splitlines()
    assert sorted(listed) == sorted(quote_path(n) for n in QUOTED_NAMES)


def test_c1_controls_and_undecodable_bytes_are_escaped_beyond_what_git_does():
    assert quote_path("csi\u009b2J") == '"csi\\302\\2332J"'
    assert quote_path(os.fsdecode(b"latin1-\xe9")) == '"latin1-\\351"'


def test_escape_text_escapes_controls_and_leaves_quotes_alone():
    assert escape_text('a "b"\\ c\x1b[2J\nd') == 'a "b"\\ c\\033[2J\\nd'


def test_plain_and_non_ascii_names_are_printed_unchanged():
    assert quote_path("models/é日本 [v1].pt") == "models/é日本 [v1].pt"
