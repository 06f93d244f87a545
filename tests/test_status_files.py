"""`status --files` (issue 11): which files inside a modified directory artifact changed."""

from __future__ import annotations

import json
import os
import shutil

from conftest import Repo


def _tracked_dir(repo: Repo) -> None:
    for name in "abc":
        repo.write(f"data/{name}.csv", f"{name}\n")
    repo.write("data/run.sh", "#!/bin/sh\n")
    repo.filer("add", "data")
    repo.git("commit", "-qm", "data")


def _changes(repo: Repo, *args: str) -> dict[str, str]:
    rows = json.loads(repo.filer("status", "--files", "--json", *args).stdout)
    return {f["path"]: f["status"] for r in rows for f in (r.get("changes") or [])}


def test_status_files_lists_modified_added_and_removed_files(repo: Repo) -> None:
    _tracked_dir(repo)
    repo.write("data/a.csv", "a changed\n")
    (repo.path / "data/b.csv").unlink()
    repo.write("data/new.csv", "new\n")
    assert _changes(repo) == {"data/a.csv": "modified", "data/b.csv": "removed", "data/new.csv": "added"}
    human = repo.filer("status", "--files").stdout
    assert "modified data" in human and "modified  data/a.csv  2 B -> 10 B" in human and "removed   data/b.csv" in human


def test_status_files_reports_an_executable_bit_change(repo: Repo) -> None:
    _tracked_dir(repo)
    os.chmod(repo.path / "data/run.sh", 0o755)
    assert _changes(repo) == {"data/run.sh": "modified"}
    assert "(mode +x)" in repo.filer("status", "--files").stdout


def test_status_files_is_silent_for_an_unchanged_directory(repo: Repo) -> None:
    _tracked_dir(repo)
    rows = json.loads(repo.filer("status", "--files", "--json").stdout)
    assert rows[0]["state"] in ("local", "synced") and "changes" not in rows[0]


def test_status_files_lists_what_a_missing_directory_lacks(repo: Repo) -> None:
    _tracked_dir(repo)
    (repo.path / "data/c.csv").unlink()
    rows = json.loads(repo.filer("status", "--files", "--json").stdout)
    assert rows[0]["state"] == "missing"
    assert {f["path"]: f["status"] for f in rows[0]["changes"]} == {"data/c.csv": "removed"}


def test_status_files_without_the_manifest_says_why(repo: Repo) -> None:
    _tracked_dir(repo)
    repo.write("data/a.csv", "a changed\n")
    shutil.rmtree(repo.cache)
    result = repo.filer("status", "--files")
    assert result.returncode == 0
    assert "modified data" in result.stdout and "manifest of data is not in the cache" in result.stderr
