"""`-I`/`-X` on pull and clone: a pattern that selects nothing is an error, and a glob may
choose files inside a directory artifact (those are hydrated, the others left alone)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Repo, clone_of, run
from gitfiler.globs import may_select_below, selected

IMAGES = {"a.png": b"png a", "b.png": b"png b", "c.jpg": b"jpeg c", "sub/d.png": b"png d"}


def obj(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


@pytest.fixture
def published(repo: Repo, tmp_path: Path) -> Repo:
    """A pushed repository with a directory artifact `data/images` and a file artifact `models/m.pt`."""
    for name, data in IMAGES.items():
        repo.write(f"data/images/{name}", data)
    repo.write("models/m.pt", b"model")
    repo.filer("add", "data/images", "models/m.pt")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    repo.git("push", "-q", str(_origin(tmp_path)), "main")
    return repo


def _origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    if not bare.exists():
        run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    return bare


def pull(clone: Path, *args: str, check: bool = True) -> dict:
    proc = run(["git", "filer", "pull", "--json", *args], clone, check=check)
    return json.loads(proc.stdout) if proc.stdout else {"stderr": proc.stderr, "code": proc.returncode}


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- an include that selects nothing ------------------------------------------------------------


def test_pull_include_matching_nothing_fails_with_one_line_and_downloads_nothing(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    run(["git", "filer", "install"], clone)  # else the pull says first that it installed the hooks
    proc = run(["git", "filer", "pull", "-I", "modles/**"], clone, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'modles/**'" in lines[0] and "git filer ls" in lines[0], proc.stderr
    assert not (clone / "models/m.pt").exists() and not (clone / "data/images").exists()


def test_every_include_pattern_must_select_something(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    proc = run(["git", "filer", "pull", "-I", "models/**", "-I", "data/imgs/*.png"], clone, check=False)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert "'data/imgs/*.png'" in line and "models/**" not in line
    assert not (clone / "models/m.pt").exists()  # a typo stops the run before anything moves
    assert not obj(clone / ".git/filer", b"model").exists()


def test_an_include_whose_matches_are_all_excluded_selects_nothing(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    proc = run(["git", "filer", "pull", "-I", "models/**", "-X", "models/m.pt"], clone, check=False)
    assert proc.returncode == 1 and "after --exclude" in proc.stderr


def test_clone_include_matching_nothing_fails_but_keeps_the_clone(published: Repo, tmp_path: Path):
    dest = tmp_path / "srv/app"
    proc = run(["git", "filer", "clone", str(_origin(tmp_path)), str(dest), "-I", "nope/**", "--no-hooks"], tmp_path, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cloned into {dest}" in lines[0] and "'nope/**'" in lines[0] and "git filer ls" in lines[0], proc.stderr
    assert (dest / ".git").is_dir() and (dest / "models/m.pt.filer").is_file()
    assert not (dest / "models/m.pt").exists()


def test_an_include_matching_an_artifact_still_hydrates_it_whole(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    out = pull(clone, "-I", "data/**")
    assert out["partial"] == [] and out["artifacts"] == 1
    assert files_under(clone / "data/images") == IMAGES
    assert not (clone / "models/m.pt").exists()


# -- files inside a directory artifact ------------------------------------------------------------


def test_include_inside_a_directory_downloads_and_places_only_matching_files(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    out = pull(clone, "-I", "data/images/*.png")
    assert out["ok"] and out["partial"] == ["data/images"] and out["artifacts"] == 1
    assert out["objects"] == 3  # a.png, b.png and the manifest
    assert files_under(clone / "data/images") == {"a.png": b"png a", "b.png": b"png b"}
    cache = clone / ".git/filer"
    assert not obj(cache, b"jpeg c").exists() and not obj(cache, b"png d").exists()
    assert not (clone / "models/m.pt").exists()


def test_double_star_reaches_files_at_any_depth_and_file_artifacts(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    out = pull(clone, "-I", "**/*.png", "-I", "**/*.pt")
    assert out["partial"] == ["data/images"]
    assert set(files_under(clone / "data/images")) == {"a.png", "b.png", "sub/d.png"}
    assert (clone / "models/m.pt").read_bytes() == b"model"


def test_files_outside_the_pattern_are_left_alone_not_removed_nor_reported(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    pull(clone, "-I", "data/images/a.png")
    (clone / "data/images/c.jpg").write_bytes(b"my own jpeg")  # differs from the registry's
    (clone / "data/images/notes.txt").write_bytes(b"mine")  # not in the manifest at all
    out = pull(clone, "-I", "data/images/*.png")
    assert out["ok"] and out["kept"] == [] and out["problems"] == []
    assert files_under(clone / "data/images") == {"a.png": b"png a", "b.png": b"png b", "c.jpg": b"my own jpeg", "notes.txt": b"mine"}


def test_exclude_works_file_by_file(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    out = pull(clone, "-X", "data/images/*.jpg", "-X", "models/**")
    assert out["partial"] == ["data/images"]
    assert files_under(clone / "data/images") == {k: v for k, v in IMAGES.items() if k != "c.jpg"}
    assert not obj(clone / ".git/filer", b"jpeg c").exists()
    assert not (clone / "models/m.pt").exists()


def test_a_later_pull_without_patterns_fills_in_the_rest(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    pull(clone, "-I", "data/images/*.png")
    out = pull(clone)
    assert out["partial"] == []
    assert files_under(clone / "data/images") == IMAGES
    rows = json.loads(run(["git", "filer", "status", "--json"], clone).stdout)
    assert {r["state"] for r in rows} == {"synced"}


def test_a_partly_hydrated_directory_is_missing_files_not_modified(published: Repo, tmp_path: Path):
    # 'modified' would send the user to 'git filer add', which would drop the other files from the registry.
    clone = clone_of(published, tmp_path)
    pull(clone, "-I", "data/images/*.png")
    rows = {r["artifact"]: r["state"] for r in json.loads(run(["git", "filer", "status", "--json"], clone).stdout)}
    assert rows["data/images"] == "missing"
    run(["git", "filer", "validate"], clone)
    (clone / "data/images/a.png").write_bytes(b"changed")
    rows = {r["artifact"]: r["state"] for r in json.loads(run(["git", "filer", "status", "--json"], clone).stdout)}
    assert rows["data/images"] == "modified"


def test_clone_include_inside_a_directory(published: Repo, tmp_path: Path):
    dest = tmp_path / "app"
    proc = run(["git", "filer", "clone", str(_origin(tmp_path)), str(dest), "-I", "data/images/sub/**", "--no-hooks", "--json"], tmp_path)
    out = json.loads(proc.stdout)
    assert out["partial"] == ["data/images"]
    assert files_under(dest / "data/images") == {"sub/d.png": b"png d"}


def test_the_summary_names_a_partly_hydrated_directory(published: Repo, tmp_path: Path):
    clone = clone_of(published, tmp_path)
    proc = run(["git", "filer", "pull", "-I", "data/images/*.png"], clone)
    assert "partly hydrated" in proc.stderr and "data/images" in proc.stderr


# -- the rule behind it -------------------------------------------------------------------------

segments = st.sampled_from(["a", "b", "ab", "*", "?", "a*", "**"])
names = st.sampled_from(["a", "b", "ab", "ba"])


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(names, min_size=1, max_size=3), st.lists(names, min_size=1, max_size=3),
    st.lists(st.lists(segments, min_size=1, max_size=4).map("/".join), max_size=2),
    st.lists(st.lists(segments, min_size=1, max_size=4).map("/".join), max_size=2),
)
def test_a_file_selected_inside_a_directory_means_the_directory_may_be_selected(
    directory: list[str], rest: list[str], include: list[str], exclude: list[str],
) -> None:
    # `select` keeps a directory artifact only when `may_select_below` says so: it must never
    # drop one holding a file the same patterns select.
    d = "/".join(directory)
    if selected(f"{d}/{'/'.join(rest)}", include, exclude):
        assert may_select_below(d, include, exclude)
