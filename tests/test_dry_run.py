"""`push --dry-run` and `pull --dry-run` (issue 11): what would move, and how many bytes; nothing moves."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, clone_of, run, snapshot


def test_push_dry_run_counts_what_the_remote_lacks_and_uploads_nothing(repo: Repo):
    repo.write("models/m.pt", b"m" * 1000)
    repo.write("data/d/a.csv", "1,2\n")
    repo.filer("add", "models/m.pt", "data/d")
    repo.commit_without_autopush("v1")
    before = snapshot(repo.remote_dir)
    plan = json.loads(repo.filer("push", "--dry-run", "--json").stdout)
    assert plan["dry_run"] and plan["objects"] == 3 and plan["bytes"] >= 1004  # the model, the csv, the manifest
    assert snapshot(repo.remote_dir) == before
    repo.filer("push")
    again = json.loads(repo.filer("push", "--dry-run", "--json").stdout)
    assert again["objects"] == 0 and again["already_present"] == 3


def test_pull_dry_run_counts_downloads_and_files_and_writes_nothing(repo: Repo, tmp_path: Path):
    repo.write("models/m.pt", b"m" * 1000)
    repo.write("data/d/a.csv", "1,2\n")
    repo.write("data/d/b.csv", "3,4\n")
    repo.filer("add", "models/m.pt", "data/d")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    plan = json.loads(run(["git", "filer", "pull", "--dry-run", "--json"], clone).stdout)
    assert plan["objects"] == 3 and plan["bytes"] == 1008 and plan["files"] == 3
    assert not (clone / "models/m.pt").exists() and not (clone / "data/d").exists()
    human = run(["git", "filer", "pull", "--dry-run", "-I", "data/d/a.csv"], clone).stdout
    assert "would download 1 object(s)" in human and "write 1 file(s)" in human


def test_pull_dry_run_names_files_it_would_keep(repo: Repo, tmp_path: Path):
    repo.write("m.bin", b"v1")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    (clone / "m.bin").write_bytes(b"my experiment")
    plan = json.loads(run(["git", "filer", "pull", "--dry-run", "--json"], clone).stdout)
    assert plan["kept"] == ["m.bin"] and plan["files"] == 0
    assert (clone / "m.bin").read_bytes() == b"my experiment"
