"""No command changes which remote is the default unless asked (issue 9): the hooks and the
push gate use the default, so an accidental private default would let `git push` pass while
the team's remote lacks the bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
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


def test_a_per_clone_config_is_read_afresh_after_each_edit_and_without_yaml_while_unchanged(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "mine", str(tmp_path / "private"), "--local", "--default")
    local = repo.path / ".git" / "filer" / "config.yaml"
    probe = "import sys; from gitfiler.project import Project; p = Project.find('.'); c = p.config; p.flush_state(); print(c.default_remote, 'yaml' in sys.modules)"

    def look() -> list[str]:
        time.sleep(0.05)  # past the stat cache's racy window
        return subprocess.run([sys.executable, "-c", probe], cwd=repo.path, capture_output=True, text=True, check=True).stdout.split()

    look()
    assert look() == ["mine", "False"], "unchanged: served from the stat-keyed cache, no YAML parser"
    local.write_text(local.read_text().replace("default_remote: mine", "default_remote: local"))
    assert look()[0] == "local"
    local.write_text(local.read_text() + "default_remote: mine\n")
    proc = repo.filer("status", check=False)
    assert proc.returncode == 3 and "duplicate" in proc.stderr and "this clone's own, not in git" in proc.stderr
