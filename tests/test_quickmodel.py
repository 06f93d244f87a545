"""The fast `model status` path (issue 11) says exactly what the full command line says, and the
remembered "git's index lists what models.yaml records" never hides a change."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Repo

FULL_CLI = "import sys; from gitfiler.cli import main; sys.exit(main())"  # click all the way (`-m gitfiler.cli` misses lazy verbs)
REGISTER = ["model", "register", "ranker", "--entry", "models/ranker.py:Ranker", "--model", "models/ranker.pt",
            "--data", "data/train/", "--data", "data/labels.csv", "--code", "src/features/"]


def same(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    quick = subprocess.run(["git", "filer", *args], cwd=cwd, capture_output=True, text=True, env=env)
    full = subprocess.run([sys.executable, "-c", FULL_CLI, *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr), args
    return quick


def setup_models(repo: Repo) -> None:
    repo.write("models/ranker.py", "class Ranker: pass\n")
    repo.write("models/ranker.pt", b"weights-v1")
    repo.write("data/labels.csv", "a,b\n1,2\n")
    for i in range(3):
        repo.write(f"data/train/{i}.bin", bytes([i]) * 100)
    repo.write("src/features/a.py", "A = 1\n")
    repo.write("src/features/b.py", "B = 2\n")
    repo.write("src/features/deep/c.py", "C = 3\n")
    repo.filer("add", "models/ranker.pt", "data/train")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    repo.filer(*REGISTER)
    repo.filer("model", "register", "scorer", "--entry", "models/ranker.py:Ranker", "--code", "src/features/a.py")


def forget(repo: Repo) -> None:
    """Drop what `model status` remembered about git's index (never the stat cache's other tables)."""
    with sqlite3.connect(repo.path / ".git/filer/state.db") as db:
        db.execute("DELETE FROM derived")


def states(repo: Repo, *names: str) -> tuple[int, dict[str, tuple[str, list[str]]]]:
    """Each model's state and reasons, asked with nothing remembered (git's index listed, models.yaml
    read), then again (what that run remembered, when it could, standing in for both), and the
    same from both paths."""
    forget(repo)
    first = same(repo.path, "model", "status", "--json", *names)
    again = same(repo.path, "model", "status", "--json", *names)
    assert (first.returncode, first.stdout) == (again.returncode, again.stdout)
    return first.returncode, {r["name"]: (r["state"], r["reasons"]) for r in json.loads(first.stdout)}


FORMS = [("model", "status"), ("model", "status", "--json"), ("model", "status", "ranker"), ("model", "status", "--json", "scorer", "ranker"),
         ("model", "status", "ranker", "--json")]


@pytest.mark.parametrize("args", FORMS)
def test_quick_model_status_matches_the_full_cli_in_every_state(repo: Repo, args: tuple[str, ...]) -> None:
    assert "no models registered yet" in same(repo.path, *args).stderr or "ranker" in args or "--json" in args
    setup_models(repo)
    assert same(repo.path, *args).returncode == 0  # READY
    repo.write("data/labels.csv", "a,b\n1,3\n")  # STALE: a git-tracked file
    repo.write("data/train/1.bin", b"changed")  # STALE: an artifact modified and not re-added
    repo.write("src/features/a.py", "A = 10\n")
    assert same(repo.path, *args).returncode == 1
    (repo.path / "src/features/b.py").unlink()  # BROKEN wins
    (repo.path / "data/labels.csv").unlink()
    out = same(repo.path, *args)
    assert out.returncode == 1 and ("BROKEN" in out.stdout or args[-1] == "scorer")


def test_quick_model_status_errors_match_the_full_cli(repo: Repo, tmp_path: Path) -> None:
    setup_models(repo)
    assert same(repo.path, "model", "status", "nope").returncode == 1
    assert same(repo.path, "model", "status", "--json", "ranker", "nope").returncode == 1
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert same(outside, "model", "status").returncode == 3
    assert same(repo.path, "model", "status", env={**os.environ, "GITFILER_JOBS": "many"}).returncode == 3
    with open(repo.path / ".gitfiler/config.yaml", "a") as f:
        f.write("checkout: symlink\n")
    assert "a repository cannot choose these" in same(repo.path, "model", "status").stderr
    (repo.path / ".gitfiler/models.yaml").write_text("version: 1\nmodels:\n  ranker:\n    entry: /abs/x.py:Ranker\n")
    assert same(repo.path, "model", "status").returncode == 4
    assert same(repo.path, "model", "status", "--json").returncode == 4


def test_quick_model_status_does_not_import_click(repo: Repo) -> None:
    setup_models(repo)
    for args in (["model", "status"], ["model", "status", "--json", "ranker"]):
        code = f"import sys; from gitfiler.main import main; main({args!r}); assert 'click' not in sys.modules, 'click imported'"
        subprocess.run([sys.executable, "-c", code], cwd=repo.path, check=True, capture_output=True)


@pytest.mark.parametrize("args", [["model", "status", "-v"], ["model", "status", "--", "ranker"], ["model", "status", "--json", "--json"], ["model", "list"]])
def test_anything_else_on_a_model_line_goes_to_the_full_cli(repo: Repo, args: list[str]) -> None:
    code = f"import sys; from gitfiler.main import main; main({args!r}); assert 'click' in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=repo.path, check=True, capture_output=True)


def remembered(repo: Repo) -> list[tuple[str, str]]:
    with sqlite3.connect(repo.path / ".git/filer/state.db") as db:
        return db.execute("SELECT name, value FROM derived").fetchall()


def test_the_remembered_index_never_hides_a_change(repo: Repo) -> None:
    setup_models(repo)
    ready = {"ranker": ("READY", []), "scorer": ("READY", [])}
    assert states(repo) == (0, ready)
    assert remembered(repo), "a run over every model remembers that the index lists what models.yaml records"
    os.chmod(repo.path / "src/features/a.py", 0o755)  # git diff lists a mode change; the content is as recorded
    assert states(repo) == (0, ready)
    # Changed in the work tree only: the index is as recorded, git diff sees the file.
    repo.write("src/features/a.py", "A = 10\n")
    assert states(repo) == (1, {"ranker": ("STALE", ["src/features/: 1 file changed"]), "scorer": ("STALE", ["src/features/a.py: content changed"])})
    # Staged: the index changed, so it is listed again.
    repo.git("add", "src/features/a.py")
    assert states(repo)[1]["ranker"] == ("STALE", ["src/features/: 1 file changed"])
    repo.git("checkout", "-q", "HEAD", "--", "src/features/a.py")  # index and work tree back as recorded
    assert states(repo) == (0, ready)
    repo.write("src/features/new.py", "N = 1\n")
    repo.git("add", "src/features/new.py")
    repo.git("rm", "-q", "--cached", "src/features/b.py")
    assert states(repo, "ranker") == (1, {"ranker": ("STALE", ["src/features/: 1 file added, 1 removed"])})
    repo.git("commit", "-qm", "features")
    assert states(repo)[1]["ranker"] == ("STALE", ["src/features/: 1 file added, 1 removed"])
    repo.filer(*REGISTER)  # models.yaml changed: what was remembered for it no longer counts
    assert states(repo) == (0, ready)
    (repo.path / "src/features/new.py").unlink()
    assert states(repo)[1]["ranker"] == ("STALE", ["src/features/: 1 file removed"])
    (repo.path / "src/features/a.py").unlink()
    assert states(repo) == (1, {"ranker": ("STALE", ["src/features/: 2 files removed"]), "scorer": ("BROKEN", ["src/features/a.py: missing"])})


def test_models_that_record_one_file_differently(repo: Repo) -> None:
    """Two records of one file that disagree cannot both match the index: each is judged on its own."""
    setup_models(repo)
    repo.write("src/features/a.py", "A = 2\n")
    repo.git("commit", "-qam", "a changed")
    repo.filer("model", "register", "scorer", "--entry", "models/ranker.py:Ranker", "--code", "src/features/a.py")
    assert states(repo) == (1, {"ranker": ("STALE", ["src/features/: 1 file changed"]), "scorer": ("READY", [])})
    assert states(repo, "scorer") == (0, {"scorer": ("READY", [])})
