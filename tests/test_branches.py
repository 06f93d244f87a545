"""Everyday git with artifacts on several branches and in partly hydrated clones (issue 9)."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Repo, clone_of, filer, git


def test_two_branches_adding_artifacts_to_one_directory_merge_without_conflict(repo: Repo):
    repo.write("models/base.bin", b"base")
    repo.filer("add", "models/base.bin")
    repo.git("commit", "-qm", "base")
    repo.git("checkout", "-qb", "a")
    repo.write("models/a.bin", b"from branch a")
    repo.filer("add", "models/a.bin")
    repo.git("commit", "-qm", "a")
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-qb", "b")
    repo.write("models/b.bin", b"from branch b")
    repo.filer("add", "models/b.bin")
    repo.git("commit", "-qm", "b")
    merged = repo.git("merge", "-q", "--no-edit", "a", check=False)
    assert merged.returncode == 0, merged.stderr
    ignored = (repo.path / "models" / ".gitignore").read_text().splitlines()
    assert {"/base.bin", "/a.bin", "/b.bin"} <= set(ignored)
    assert (repo.path / "models" / "a.bin").read_bytes() == b"from branch a"  # hydrated by post-merge


def test_init_leaves_a_users_own_gitignore_attribute_alone(tmp_path: Path):
    path = tmp_path / "w"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    (path / ".gitattributes").write_text(".gitignore -merge\n")
    filer(path, "init", "--remote", str(tmp_path / "remote"))
    assert (path / ".gitattributes").read_text() == ".gitignore -merge\n"


def test_push_in_a_clone_that_never_pulled_asks_the_remote(repo: Repo, tmp_path: Path):
    repo.write("data/d/1.txt", "one")
    repo.write("models/m.bin", b"m" * 5000)
    repo.filer("add", "data/d", "models/m.bin")
    repo.git("commit", "-qm", "artifacts")  # the post-commit hook uploads them
    clone = clone_of(repo, tmp_path)  # a plain git clone: nothing hydrated, nothing cached
    (clone / "new.bin").write_bytes(b"n" * 3000)
    filer(clone, "add", "new.bin")
    git(clone, "commit", "-qm", "new", "--no-verify")
    out = filer(clone, "push", check=False, env=dict(os.environ, GITFILER_NO_HOOKS="1"))
    assert out.returncode == 0, out.stderr
    assert "already there" in out.stderr
