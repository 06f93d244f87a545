"""Crashes, power losses and fresh clones: what is on disk afterwards is either right or
repaired by the next run, and temp files never show up where git looks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from conftest import Repo, clone_of, run


def cache_obj(clone: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return clone / ".git/filer/objects/sha256" / h[:2] / h[2:]


def test_push_in_a_clone_that_never_pulled_asks_the_remote(repo: Repo, tmp_path: Path):
    repo.write("m.bin", b"model")
    repo.write("d/a.txt", b"a")
    repo.filer("add", "m.bin", "d")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "push"], clone, check=False)
    assert proc.returncode == 0, proc.stderr


def test_torn_cache_object_is_fetched_again(repo: Repo, tmp_path: Path):
    repo.write("m.bin", b"model bytes")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    torn = cache_obj(clone, b"model bytes")
    torn.parent.mkdir(parents=True)
    torn.write_bytes(b"")  # what a power loss before fsync leaves
    run(["git", "filer", "pull"], clone)
    assert (clone / "m.bin").read_bytes() == b"model bytes"


def test_corrupt_cache_object_is_dropped_and_fetched_again(repo: Repo, tmp_path: Path):
    repo.write("m.bin", b"model bytes")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    bad = cache_obj(clone, b"model bytes")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"MODEL BYTES")  # same size, other bytes: only hashing can tell
    run(["git", "filer", "pull"], clone)
    assert (clone / "m.bin").read_bytes() == b"model bytes"
    assert bad.read_bytes() == b"model bytes"


def test_pull_leaves_no_temp_files_in_the_work_tree_or_the_temp_area(repo: Repo, tmp_path: Path):
    repo.write("d/a.txt", b"a")
    repo.write("d/sub/b.txt", b"b")
    repo.filer("add", "d")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull"], clone)
    assert run(["git", "status", "--porcelain", "--ignored"], clone).stdout.strip() == "!! d/"
    assert sorted(p.name for p in (clone / "d").rglob("*")) == ["a.txt", "b.txt", "sub"]
    area = clone / ".git/filer/tmp"
    assert not area.exists() or list(area.iterdir()) == []


def test_the_temp_area_of_a_killed_process_is_swept_by_the_next_run(repo: Repo, tmp_path: Path):
    repo.write("m.bin", b"model")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    # A process that took a temp area and was killed: its directory stays, its lock is gone.
    script = (
        "import os, sys; from gitfiler.tempfiles import area; "
        "p = area(sys.argv[1]).name(); open(p, 'wb').write(b'x' * 1000); os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", script, str(clone / ".git/filer/tmp")], check=False)
    leftovers = list((clone / ".git/filer/tmp").iterdir())
    assert len(leftovers) == 1
    run(["git", "filer", "pull"], clone)
    assert not leftovers[0].exists()


def test_committed_cache_dir_and_checkout_are_ignored(repo: Repo, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    config = repo.path / ".gitfiler/config.yaml"
    config.write_text(config.read_text() + f"cache_dir: {elsewhere}\ncheckout: symlink\n")
    repo.write("m.bin", b"model")
    repo.filer("add", "m.bin")
    repo.git("add", ".gitfiler/config.yaml")
    repo.git("commit", "-qm", "v1")
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "pull"], clone)
    assert not elsewhere.exists()
    assert not os.path.islink(clone / "m.bin") and (clone / "m.bin").read_bytes() == b"model"
    assert "checkout, cache_dir" in proc.stderr and "ignored" in proc.stderr, proc.stderr + proc.stdout
