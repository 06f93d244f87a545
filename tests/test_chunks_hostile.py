"""Chunked objects against hostile remotes and damaged caches (docs/format.md "Chunked
objects"): a push that cuts, hashes and writes a file in one read (`transfer.push_streaming`),
a pull that kernel-copies a local remote's chunk files unhashed (`LocalRemote.open_chunk`), and
the earlier version a pull chunks to reuse (`transfer.index_earlier`). Whatever a remote or the
cache holds: no traceback, integrity problems exit 6, nothing unverified becomes visible, and
no index goes up whose chunks are not all there."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import test_chunks
from test_chunks import BIG, MIB, add_commit, data_of, edit, index_of, oid_of, path_in, pull_json, push_json

from conftest import Repo, clone_of, run
from gitfiler.chunks import CHUNK_THRESHOLD, hash_and_chunk

repo = test_chunks.repo  # the fixture: a local remote on another filesystem than the cache


def pull(clone: Path):
    return run(["git", "filer", "pull"], clone, check=False)


def nothing_visible(clone: Path, oid: str, rel: str) -> None:
    assert not (clone / rel).exists()
    assert not path_in(clone / ".git" / "filer", "objects", oid).exists(), "nothing unverified becomes visible"


@pytest.mark.parametrize("plant", ["fifo", "directory", "shorter", "empty", "longer", "link", "missing"])
def test_pull_refuses_a_chunk_file_that_is_not_a_plain_file_of_its_size(repo: Repo, tmp_path: Path, plant: str):
    v1 = data_of(BIG, 21)
    oid = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    chunk = index_of(repo.remote_dir, oid)["chunks"][1][0]
    victim = path_in(repo.remote_dir, "objects", chunk)
    good = victim.read_bytes()
    victim.unlink()
    if plant == "fifo":
        os.mkfifo(victim)  # opened without O_NONBLOCK, a FIFO with no writer blocks forever
    elif plant == "directory":
        victim.mkdir()
    elif plant == "shorter":
        victim.write_bytes(bytes(v1[:1000]))
    elif plant == "empty":
        victim.write_bytes(b"")
    elif plant == "longer":
        victim.write_bytes(good + b"more")
    elif plant == "link":
        decoy = tmp_path / "decoy"
        decoy.write_bytes(good)  # the right bytes, but behind a link the remote must not follow
        victim.symlink_to(decoy)
    clone = clone_of(repo, tmp_path)
    proc = pull(clone)
    assert proc.returncode == (7 if plant == "missing" else 6) and chunk[9:] in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    nothing_visible(clone, oid, "m.bin")


def test_pull_refuses_an_index_whose_true_chunks_do_not_rebuild_the_file(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 22)
    oid1 = add_commit(repo, "m.bin", v1, "v1")
    v2 = edit(v1, 30 * MIB)
    oid2 = add_commit(repo, "m.bin", v2, "v2")
    push_json(repo)
    # The remote's index of v1 now lists v2's chunks: each hashes to its name, all are there,
    # the sizes add up to v1's size; only the whole-file digest tells.
    doc = index_of(repo.remote_dir, oid2)
    doc["oid"] = oid1
    forged = path_in(repo.remote_dir, "chunks", oid1)
    forged.parent.mkdir(parents=True, exist_ok=True)
    forged.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    clone = clone_of(repo, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    proc = pull(clone)
    assert proc.returncode == 6 and "do not rebuild" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    nothing_visible(clone, oid1, "m.bin")


def test_two_new_versions_pushed_together_send_their_shared_chunks_once(repo: Repo):
    v1 = data_of(BIG, 23)
    v2 = edit(v1, 50 * MIB)
    repo.write("a.bin", bytes(v1))
    repo.write("b.bin", bytes(v2))
    repo.filer("add", "a.bin", "b.bin")
    repo.commit_without_autopush("two versions")
    out = push_json(repo)
    assert out["objects"] == 2 and out["logical_bytes"] == 2 * BIG
    assert out["bytes"] <= BIG + BIG // 8, out


@pytest.mark.parametrize("size", [CHUNK_THRESHOLD - 1, CHUNK_THRESHOLD])
def test_a_file_at_the_threshold_is_chunked_and_one_byte_below_goes_whole(repo: Repo, tmp_path: Path, size: int):
    data = data_of(size, 24)
    oid = add_commit(repo, "t.bin", data, "t")
    out = push_json(repo)
    assert out["objects"] == 1 and out["bytes"] == size
    chunked = size >= CHUNK_THRESHOLD
    assert path_in(repo.remote_dir, "chunks", oid).is_file() == chunked
    assert path_in(repo.remote_dir, "objects", oid).is_file() != chunked
    clone = clone_of(repo, tmp_path)
    pull_json(clone)
    assert (clone / "t.bin").read_bytes() == data


def clone_holding_v1_unindexed(repo: Repo, tmp_path: Path, seed: int) -> tuple[Path, str, bytes]:
    """v1 and v2 of m.bin pushed; a clone whose work tree and cache hold v1, without its chunk
    index (as a whole-object pull leaves it), and whose stat cache says so. (clone, v1's oid, v2)"""
    v1 = data_of(BIG, seed)
    oid1 = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    v2 = edit(v1, 60 * MIB)
    add_commit(repo, "m.bin", v2, "v2")
    push_json(repo)
    clone = clone_of(repo, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    pull_json(clone)
    path_in(clone / ".git" / "filer", "chunks", oid1).unlink()
    return clone, oid1, bytes(v2)


def test_a_pull_does_not_reuse_a_corrupt_earlier_version_the_work_tree_held(repo: Repo, tmp_path: Path):
    clone, oid1, v2 = clone_holding_v1_unindexed(repo, tmp_path, 25)
    cache = clone / ".git" / "filer"
    cached = path_in(cache, "objects", oid1)
    cached.chmod(0o644)
    with open(cached, "r+b") as f:  # the stat cache still says the work tree holds this version
        f.seek(2 * MIB)
        f.write(b"rot" * 1000)
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    got = pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v2 and got["bytes"] == BIG, "nothing reused from a version that fails its digest"
    assert not path_in(cache, "chunks", oid1).exists(), "no index recorded for a corrupt file"


def test_a_pull_skips_an_earlier_version_missing_from_the_cache(repo: Repo, tmp_path: Path):
    clone, oid1, v2 = clone_holding_v1_unindexed(repo, tmp_path, 26)
    cached = path_in(clone / ".git" / "filer", "objects", oid1)
    cached.unlink()
    cached.symlink_to("/dev/zero")  # a link where the stat cache's version was: never read
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    proc = run(["git", "filer", "pull", "--json"], clone, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert (clone / "m.bin").read_bytes() == v2


def test_push_to_a_remote_with_a_directory_where_a_chunk_belongs_writes_no_index(repo: Repo):
    v1 = data_of(BIG, 27)
    repo.write("m.bin", bytes(v1))
    _oid, index = hash_and_chunk(bytes(v1))
    oid = oid_of(bytes(v1))
    squat = path_in(repo.remote_dir, "objects", index.chunks[3].oid)
    squat.mkdir(parents=True)
    (squat / "x").write_text("not a chunk")
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("v1")
    proc = run(["git", "filer", "push"], repo.path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert not path_in(repo.remote_dir, "chunks", oid).exists(), "no index vouching for a chunk that is not there"




@pytest.fixture
def full_repo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A repository whose local remote is a 64 MiB tmpfs: smaller than one large file."""
    import subprocess

    mnt = tmp_path / "full"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        from conftest import make_repo

        yield make_repo(tmp_path, remote_dir=mnt / "filer-remote")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_push_that_fills_the_remote_exits_9_and_leaves_no_index_or_temp_files(full_repo: Repo):
    oid = add_commit(full_repo, "m.bin", data_of(BIG, 28), "v1")
    proc = run(["git", "filer", "push"], full_repo.path, check=False)
    assert proc.returncode == 9 and "Traceback" not in proc.stderr, proc.stderr
    assert not path_in(full_repo.remote_dir, "chunks", oid).exists()
    assert not [p for p in (full_repo.remote_dir / "tmp").rglob("*") if p.is_file()], "no temp files left filling the remote"
    assert not path_in(full_repo.cache, "chunks", oid).exists()


def test_s3_pull_refuses_a_chunk_key_holding_a_huge_object_without_reading_it(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    v1 = data_of(BIG, 29)
    oid = add_commit(r, "m.bin", v1, "v1")
    push_json(r)
    index = json.loads(client.get_object(Bucket=bucket, Key=f"proj/chunks/sha256/{oid[7:9]}/{oid[9:]}")["Body"].read())
    chunk, _size = index["chunks"][2]
    key = f"proj/objects/sha256/{chunk[7:9]}/{chunk[9:]}"
    client.put_object(Bucket=bucket, Key=key, Body=b"\0" * (64 * MIB))
    clone = clone_of(r, tmp_path)
    proc = pull(clone)
    assert proc.returncode == 6 and key in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    nothing_visible(clone, oid, "m.bin")
