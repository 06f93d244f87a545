"""Pushing to a local-directory remote on the cache's filesystem makes hard links, not copies
(issue 13), every linked object verified first; pulling copies."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Repo, clone_of, run
from gitfiler.objects import relpath_of


def _oid(repo: Repo, rel: str) -> str:
    for line in (repo.path / f"{rel}.filer").read_text().splitlines():
        if line.startswith("oid: "):
            return line[5:]
    raise AssertionError("no oid")


def test_push_to_a_local_remote_links_the_cache_object(repo: Repo):
    repo.write("m.bin", os.urandom(4096))
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("m")
    repo.filer("push")
    oid = _oid(repo, "m.bin")
    cached, remote = repo.cache / relpath_of(oid), repo.remote_dir / relpath_of(oid)
    assert cached.stat().st_ino == remote.stat().st_ino
    assert not remote.stat().st_mode & 0o222  # read-only, like every stored object


def test_a_corrupt_cache_object_is_not_linked_into_the_remote(repo: Repo):
    repo.write("m.bin", b"good bytes" * 100)
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("m")
    cached = repo.cache / relpath_of(_oid(repo, "m.bin"))
    os.chmod(cached, 0o644)
    cached.write_bytes(b"evil bytes" * 100)
    proc = repo.filer("push", check=False)
    assert proc.returncode == 6 and "corrupt cache object" in proc.stderr
    assert not (repo.remote_dir / relpath_of(_oid(repo, "m.bin"))).exists()


def test_pull_from_a_local_remote_copies_so_the_remote_stays_an_independent_copy(repo: Repo, tmp_path: Path):
    repo.write("m.bin", os.urandom(4096))
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "m")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull"], clone)
    oid = _oid(repo, "m.bin")
    remote = repo.remote_dir / relpath_of(oid)
    cached = clone / ".git" / "filer" / relpath_of(oid)
    assert cached.read_bytes() == remote.read_bytes() == (clone / "m.bin").read_bytes()
    assert len({cached.stat().st_ino, remote.stat().st_ino, (clone / "m.bin").stat().st_ino}) == 3
