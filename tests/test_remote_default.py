"""No command changes which remote is the default unless asked (issue 9): the hooks and the
push gate use the default, so an accidental private default would let `git push` pass while
the team's remote lacks the bytes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, filer


def _default(cwd: Path) -> str:
    rows = json.loads(filer(cwd, "remote", "list", "--json").stdout)
    return next(r["name"] for r in rows if r["default"])


def test_a_per_clone_remote_does_not_become_the_default_without_default_flag(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "mine", str(tmp_path / "private"), "--local")
    assert _default(repo.path) == "local"


def test_a_per_clone_remote_becomes_this_clones_default_when_asked(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "mine", str(tmp_path / "private"), "--local", "--default")
    assert _default(repo.path) == "mine"
    assert "mine" not in (repo.path / ".gitfiler" / "config.yaml").read_text()


def test_a_second_committed_remote_does_not_take_over_the_default(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "backup", str(tmp_path / "backup"))
    assert _default(repo.path) == "local"


def test_the_committed_default_cannot_name_a_per_clone_remote(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "mine", str(tmp_path / "private"), "--local")
    before = (repo.path / ".gitfiler" / "config.yaml").read_bytes()
    out = repo.filer("remote", "default", "mine", check=False)
    assert out.returncode == 3
    assert "--local" in out.stderr and "Traceback" not in out.stderr
    assert (repo.path / ".gitfiler" / "config.yaml").read_bytes() == before
    repo.filer("remote", "default", "mine", "--local")
    assert _default(repo.path) == "mine"


def test_push_names_the_remote_it_used(repo: Repo):
    repo.write("m.bin", b"x" * 1000)
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("m")
    out = repo.filer("push")
    assert f"to 'local' ({repo.remote_dir})" in out.stderr
    assert json.loads(repo.filer("push", "--json").stdout)["remote"].startswith("'local'")
