"""Parity with the `Filer` API data scientists already use (issue 11, item 4): each behaviour in
its own test, on real repositories and remotes. See docs/python-api.md's parity table."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Repo, clone_of
from gitfiler import Filer
from gitfiler.errors import ConfigError
from gitfiler.serializers import names


@pytest.fixture
def filer(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Filer:
    monkeypatch.chdir(repo.path)
    return Filer("models")


def published(repo: Repo, filer: Filer, **objects: object) -> None:
    """Dump, push and commit `objects`, so a clone sees them."""
    for name, obj in objects.items():
        filer.dump(obj, name, push=True)
    repo.commit_without_autopush("models")


# -- pull / pull_all -------------------------------------------------------------------------------------


def test_pull_hydrates_one_artifact_from_the_remote_and_returns_its_path(filer: Filer, repo: Repo, tmp_path: Path):
    published(repo, filer, a={"w": 1}, b={"w": 2})
    clone = clone_of(repo, tmp_path)
    other = Filer(clone / "models")
    assert not (clone / "models/a.pkl").exists()
    path = other.pull("a")
    assert path == str(clone / "models/a.pkl") and (clone / "models/a.pkl").read_bytes() == (repo.path / "models/a.pkl").read_bytes()
    assert not (clone / "models/b.pkl").exists()  # only the one asked for
    assert other.pull("a") == path  # nothing to do the second time


def test_pull_all_hydrates_every_artifact_of_the_directory(filer: Filer, repo: Repo, tmp_path: Path):
    published(repo, filer, a={"w": 1}, b=[1, 2, 3])
    repo.write("elsewhere/c.bin", b"not in models/")
    repo.filer("add", "elsewhere/c.bin")
    repo.filer("push")
    repo.commit_without_autopush("elsewhere")
    clone = clone_of(repo, tmp_path)
    other = Filer(clone / "models")
    assert sorted(other.pull_all()) == ["a", "b"]
    assert other.load("b") == [1, 2, 3] and (clone / "models/a.pkl").exists()
    assert not (clone / "elsewhere/c.bin").exists()  # another directory's artifacts stay as they are


def test_pull_all_of_an_empty_directory_does_nothing(filer: Filer):
    assert filer.pull_all() == []


# -- remove_locals: untrack what was never pushed --------------------------------------------------------


def test_remove_locals_untracks_what_was_never_pushed_and_leaves_the_files(filer: Filer, repo: Repo):
    filer.dump({"w": 1}, "pushed", push=True)
    filer.dump({"w": 2}, "draft")
    filer.dump(b"scratch", "scratch", serializer="bytes")
    assert sorted(filer.remove_locals()) == ["draft", "scratch"]
    models = repo.path / "models"
    assert (models / "draft.pkl").exists() and (models / "scratch.bin").read_bytes() == b"scratch"  # the files stay
    assert not (models / "draft.pkl.filer").exists() and not (models / "scratch.bin.filer").exists()
    assert (models / "pushed.pkl.filer").exists()
    assert [f.name for f in filer.show_files()] == ["pushed"]
    staged = repo.git("diff", "--cached", "--name-only").stdout.split()
    assert "models/draft.pkl.filer" not in staged and "models/pushed.pkl.filer" in staged
    ignored = (models / ".gitignore").read_text()
    assert "draft.pkl" not in ignored and "scratch.bin" not in ignored and "pushed.pkl" in ignored


def test_remove_locals_asks_the_remote_not_the_local_hint(filer: Filer, repo: Repo, tmp_path: Path):
    """Bytes another clone pushed count as pushed, although this clone never uploaded them."""
    published(repo, filer, shared={"w": [1, 2]})
    clone = clone_of(repo, tmp_path)
    other = Filer(clone / "other")
    other.dump({"w": [1, 2]}, "same_bytes")  # this clone never pushed it; the remote has the bytes all the same
    other.dump({"w": [3]}, "new")
    assert other.remove_locals() == ["new"]
    assert [f.name for f in other.show_files()] == ["same_bytes"]


def test_remove_locals_with_nothing_unpushed_changes_nothing(filer: Filer, repo: Repo):
    filer.dump({"w": 1}, "m", push=True)
    before = (repo.path / "models/m.pkl.filer").read_bytes()
    assert filer.remove_locals() == []
    assert (repo.path / "models/m.pkl.filer").read_bytes() == before and (repo.path / "models/m.pkl").exists()


def test_free_local_copies_is_the_old_disk_freeing_behaviour(filer: Filer, repo: Repo):
    filer.dump({"w": 1}, "m", push=True)
    filer.dump({"w": 2}, "draft")
    assert filer.free_local_copies() == ["m"]
    assert not (repo.path / "models/m.pkl").exists() and (repo.path / "models/m.pkl.filer").exists()
    assert (repo.path / "models/draft.pkl").exists()
    assert filer.load("m") == {"w": 1}


# -- show_files -------------------------------------------------------------------------------------------


def test_show_files_says_so_when_there_are_none(filer: Filer, capsys: pytest.CaptureFixture[str]):
    assert filer.show_files() == []
    assert capsys.readouterr().out == "[no files exist]\n"


# -- dill ---------------------------------------------------------------------------------------------------


def test_dill_round_trips_lambdas_and_closures(filer: Filer, repo: Repo):
    pytest.importorskip("dill")
    assert "dill" in names()

    def scaler(k: float):
        def scale(x: float) -> float:
            return k * x

        return scale

    filer.dump({"square": lambda x: x * x, "triple": scaler(3.0)}, "fns", serializer="dill")
    assert (repo.path / "models/fns.dill").exists()
    assert "serializer: dill" in (repo.path / "models/fns.dill.filer").read_text()
    fns = filer.load("fns")
    assert fns["square"](4) == 16 and fns["triple"](2.0) == 6.0


def test_dill_loads_a_notebooks_lambda_in_a_fresh_process(filer: Filer, repo: Repo):
    """What a notebook does: define a function in __main__, dump it; a later process loads it."""
    pytest.importorskip("dill")
    dump = textwrap.dedent("""
        from gitfiler import Filer
        offset = 10
        Filer("models").dump(lambda x: x + offset, "add_offset", serializer="dill", push=True)
    """)
    load = 'from gitfiler import Filer\nprint(Filer("models").load("add_offset")(5))\n'
    subprocess.run([sys.executable, "-c", dump], cwd=repo.path, check=True, capture_output=True, timeout=120)
    os.unlink(repo.path / "models/add_offset.dill")
    out = subprocess.run([sys.executable, "-c", load], cwd=repo.path, check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "15"


# -- Filer(directory, remote) ---------------------------------------------------------------------------


def test_the_remote_url_may_be_given_positionally(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(repo.path)
    elsewhere = tmp_path / "another-remote"
    filer = Filer("models", str(elsewhere))
    filer.dump({"w": 1}, "m", push=True)
    assert list(elsewhere.rglob("objects/sha256/*/*")) and not list(repo.remote_dir.rglob("objects/sha256/*/*"))
    assert Filer("models", str(elsewhere)).remove_locals() == []
    assert Filer("models").remove_locals() == ["m"]  # the default remote never had it


# -- the environment ---------------------------------------------------------------------------------------


def test_filer_reports_every_bad_variable_before_doing_anything(repo: Repo, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("GITFILER_JOBS", "many")
    monkeypatch.setenv("GITFILER_S3_MAX_ATTEMPTS", "x")
    with pytest.raises(ConfigError, match=r"GITFILER_JOBS='many'.*GITFILER_S3_MAX_ATTEMPTS='x'"):
        Filer("fresh")
    assert not (repo.path / "fresh").exists()
