"""The fast `status` path (issue 13) says exactly what the full command line says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Repo


def both(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    quick = subprocess.run(["git", "filer", *args], cwd=cwd, capture_output=True, text=True)
    full = subprocess.run([sys.executable, "-m", "gitfiler.cli", *args], cwd=cwd, capture_output=True, text=True)
    return quick, full


def same(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    quick, full = both(cwd, *args)
    assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr)
    return quick


@pytest.mark.parametrize("args", [("status",), ("status", "--json")])
def test_quick_status_matches_the_full_cli_in_every_state(repo: Repo, args: tuple[str, ...]) -> None:
    assert "no artifacts tracked yet" in same(repo.path, *args).stdout or args[-1] == "--json"
    for name in "abcd":
        repo.write(f"{name}.bin", name * 10)
    repo.write("dir/x.bin", "x")
    repo.filer("add", "a.bin", "b.bin", "c.bin", "d.bin", "dir")
    repo.git("commit", "-qm", "four")
    repo.write("b.bin", "changed")
    (repo.path / "c.bin").unlink()
    repo.write("dir/y.bin", "y")
    out = same(repo.path, *args).stdout
    assert "modified" in out and "missing" in out


def test_quick_status_errors_match_the_full_cli(repo: Repo, tmp_path: Path) -> None:
    (repo.path / ".gitfiler/config.yaml").write_text("version: 1\njobs: many\n")
    assert same(repo.path, "status").returncode == 3
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert same(outside, "status").returncode == 3
    (repo.path / ".gitfiler/config.yaml").write_text("version: 1\n")
    repo.write("m.bin.filer", "version: 1\npath: m.bin\nkind: file\noid: [unclosed\n")
    assert same(repo.path, "status").returncode == 4


def test_quick_status_reports_a_bad_environment_variable_like_the_full_cli(repo: Repo) -> None:
    env = {**os.environ, "GITFILER_JOBS": "many"}
    quick = subprocess.run(["git", "filer", "status"], cwd=repo.path, capture_output=True, text=True, env=env)
    full = subprocess.run([sys.executable, "-m", "gitfiler.cli", "status"], cwd=repo.path, capture_output=True, text=True, env=env)
    assert quick.returncode == full.returncode == 3 and quick.stderr == full.stderr


def test_quick_status_notes_committed_keys_a_repository_may_not_set(repo: Repo) -> None:
    with open(repo.path / ".gitfiler/config.yaml", "a") as f:
        f.write("checkout: symlink\n")
    assert "a repository cannot choose these" in same(repo.path, "status").stderr


def test_quick_status_does_not_import_click(repo: Repo) -> None:
    code = "import sys; from gitfiler.main import main; main(['status']); assert 'click' not in sys.modules, 'click imported'"
    subprocess.run([sys.executable, "-c", code], cwd=repo.path, check=True, capture_output=True)


def test_anything_else_on_the_line_goes_to_the_full_cli(repo: Repo) -> None:
    code = "import sys; from gitfiler.main import main; main(['status', '-v']); assert 'click' in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=repo.path, check=True, capture_output=True)
