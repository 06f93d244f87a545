"""Chunked objects through the local-directory remote (issue 14; docs/format.md "Chunked
objects"): push sends only the chunks a remote lacks, pull rebuilds new versions from cached
ones, remotes holding whole objects keep working, gc keeps every chunk a kept index needs, and
a push killed midway never leaves an index whose chunks are not all there."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Repo, clone_of, make_repo, run
from gitfiler.chunks import CHUNK_THRESHOLD, hash_and_chunk

MIB = 1024 * 1024
BIG = CHUNK_THRESHOLD + 8 * MIB  # the smallest files gitfiler chunks, plus a few chunks
DAY = 24 * 3600


SECOND_FS = Path("/dev/shm")


@pytest.fixture
def repo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A repository whose local remote is on another filesystem than its cache: there, large
    files go as chunks (on the cache's own filesystem a whole object is a free hard link)."""
    if not SECOND_FS.is_dir() or os.stat(SECOND_FS).st_dev == os.stat(tmp_path).st_dev or shutil.disk_usage(SECOND_FS).free < 4 << 30:
        pytest.skip("needs a second filesystem (/dev/shm, tmpfs) with 4 GiB free for a remote that receives chunks")
    remote = Path(tempfile.mkdtemp(dir=SECOND_FS, prefix="gitfiler-test-remote-"))
    try:
        yield make_repo(tmp_path, remote_dir=remote / "filer-remote")
    finally:
        shutil.rmtree(remote, ignore_errors=True)


def test_a_remote_on_the_caches_own_filesystem_receives_large_files_whole_as_hard_links(tmp_path: Path):
    same = make_repo(tmp_path)
    data = data_of(BIG, 7)
    oid = add_commit(same, "big.bin", data, "v1")
    out = push_json(same)
    assert out["objects"] == 1 and out["deduplicated"] == 0.0
    assert path_in(same.remote_dir, "objects", oid).stat().st_ino == path_in(same.cache, "objects", oid).stat().st_ino
    assert not path_in(same.remote_dir, "chunks", oid).exists()


def data_of(size: int, seed: int) -> bytearray:
    return bytearray(random.Random(seed).randbytes(size))


def edit(data: bytearray, *offsets: int, n: int = 4096) -> bytearray:
    out = bytearray(data)
    for off in offsets:
        out[off:off + n] = os.urandom(n)
    return out


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def path_in(root: Path, kind: str, oid: str) -> Path:
    return root / kind / "sha256" / oid[7:9] / oid[9:]


def index_of(root: Path, oid: str) -> dict:
    return json.loads(path_in(root, "chunks", oid).read_text())


def push_json(repo: Repo | Path) -> dict:
    where = repo.path if isinstance(repo, Repo) else repo
    return json.loads(run(["git", "filer", "push", "--json"], where).stdout)


def pull_json(where: Path) -> dict:
    return json.loads(run(["git", "filer", "pull", "--json"], where).stdout)


def add_commit(repo: Repo, rel: str, data: bytes, msg: str) -> str:
    repo.write(rel, bytes(data))
    repo.filer("add", rel)
    repo.commit_without_autopush(msg)
    return oid_of(bytes(data))


def test_push_sends_only_the_chunks_the_remote_lacks(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 1)
    oid1 = add_commit(repo, "model.bin", v1, "v1")
    assert not path_in(repo.cache, "chunks", oid1).exists(), "add costs what it did without chunking: no chunk list yet"
    first = push_json(repo)
    assert path_in(repo.cache, "chunks", oid1).is_file(), "the push that sent chunks records their list in the cache"
    assert first["objects"] == 1 and first["bytes"] == len(v1) == first["logical_bytes"]
    index = index_of(repo.remote_dir, oid1)
    assert index["oid"] == oid1 and sum(n for _, n in index["chunks"]) == len(v1)
    assert not path_in(repo.remote_dir, "objects", oid1).exists(), "held as chunks, not whole"
    assert all(path_in(repo.remote_dir, "objects", c).is_file() for c, _ in index["chunks"])

    v2 = edit(v1, 3 * MIB, 17 * MIB)
    oid2 = add_commit(repo, "model.bin", v2, "v2")
    second = push_json(repo)
    assert second["objects"] == 1 and second["logical_bytes"] == len(v2)
    assert 0 < second["bytes"] <= len(v2) // 8, second  # ~2 chunks of ~2 MiB per edit
    assert second["deduplicated"] >= 0.5
    assert push_json(repo)["already_present"] == 1, "an index in the remote means the object is there"

    # A clone at v1 downloads it all; moving to v2 downloads only the chunks v1 lacks.
    clone = clone_of(repo, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    got1 = pull_json(clone)
    assert (clone / "model.bin").read_bytes() == v1 and got1["bytes"] == len(v1)
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    got2 = pull_json(clone)
    assert (clone / "model.bin").read_bytes() == v2
    assert got2["objects"] == 1 and 0 < got2["bytes"] <= len(v2) // 8, got2
    assert path_in(clone / ".git" / "filer", "chunks", oid2).is_file(), "pull records the index too"


def test_a_remote_holding_whole_objects_keeps_working_and_mixes_with_chunks(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 2)
    oid1 = add_commit(repo, "data.bin", v1, "v1")
    # As an older gitfiler pushed it: the whole object, no index.
    whole = path_in(repo.remote_dir, "objects", oid1)
    whole.parent.mkdir(parents=True, exist_ok=True)
    whole.write_bytes(bytes(v1))
    assert push_json(repo)["already_present"] == 1
    v2 = edit(v1, 10 * MIB)
    oid2 = add_commit(repo, "data.bin", v2, "v2")
    out = push_json(repo)
    assert out["objects"] == 1 and out["bytes"] == out["logical_bytes"], "nothing to share: the remote's v1 is whole"
    assert path_in(repo.remote_dir, "chunks", oid2).is_file()

    clone = clone_of(repo, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    pull_json(clone)  # whole: the cache does not chunk it yet
    assert (clone / "data.bin").read_bytes() == v1
    assert not path_in(clone / ".git" / "filer", "chunks", oid1).exists()
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    got = pull_json(clone)
    assert (clone / "data.bin").read_bytes() == v2 and got["bytes"] <= len(v2) // 8, got
    assert path_in(clone / ".git" / "filer", "chunks", oid1).is_file(), "the version the work tree held was chunked to be reused"


def test_a_damaged_cached_version_is_not_reused_unchecked(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 10)
    oid1 = add_commit(repo, "m.bin", v1, "v1")
    v2 = edit(v1, 40 * MIB)
    add_commit(repo, "m.bin", v2, "v2")
    push_json(repo)
    clone = clone_of(repo, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    pull_json(clone)
    cached = path_in(clone / ".git" / "filer", "objects", oid1)
    os.chmod(cached, 0o644)
    with open(cached, "r+b") as f:  # bit rot in a chunk v2 shares with v1; same size
        f.seek(5 * MIB)
        f.write(b"rot" * 1000)
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v2


def test_pull_refuses_chunks_that_do_not_hash_to_their_names(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 3)
    oid = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    chunk = index_of(repo.remote_dir, oid)["chunks"][1][0]
    victim = path_in(repo.remote_dir, "objects", chunk)
    os.chmod(victim, 0o644)
    victim.write_bytes(b"x" * victim.stat().st_size)
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode != 0 and chunk in proc.stderr
    assert not (clone / "m.bin").exists()
    assert not path_in(clone / ".git" / "filer", "objects", oid).exists(), "nothing unverified becomes visible"


def test_a_corrupt_index_in_the_remote_is_not_trusted(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 4)
    oid = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    ix = path_in(repo.remote_dir, "chunks", oid)
    doc = json.loads(ix.read_text())
    doc["chunks"][0][1] += 1  # sizes no longer add up
    ix.write_text(json.dumps(doc))
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode != 0 and not (clone / "m.bin").exists()


def _age(root: Path, days: float = 2) -> None:
    past = time.time() - days * DAY
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (past, past))


@pytest.fixture
def origin(repo: Repo, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    repo.git("remote", "add", "origin", str(bare))
    return bare


def test_gc_keeps_every_chunk_a_kept_index_lists_and_collects_the_rest(repo: Repo, origin: Path, tmp_path: Path):
    v1 = data_of(BIG, 5)
    oid1 = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    repo.git("push", "-q", "origin", "main")
    # Another clone (unknown to this one's refs) pushes a version sharing most chunks with v1.
    other = make_repo(tmp_path, "other", remote_dir=repo.remote_dir)
    v9 = edit(v1, 1 * MIB, 12 * MIB, 20 * MIB)
    oid9 = add_commit(other, "m.bin", v9, "v9")
    push_json(other)
    mine = {c for c, _ in index_of(repo.remote_dir, oid1)["chunks"]}
    theirs = {c for c, _ in index_of(repo.remote_dir, oid9)["chunks"]}
    only_theirs = theirs - mine
    assert only_theirs and mine & theirs

    # Old chunks, but a young index (not-yet-pushed work elsewhere): all of its chunks stay.
    _age(repo.remote_dir / "objects")
    repo.filer("gc", "--git-remote", "origin", "--yes")
    assert all(path_in(repo.remote_dir, "objects", c).exists() for c in theirs | mine)
    assert path_in(repo.remote_dir, "chunks", oid9).exists()

    # Everything old: their index and the chunks only it needed go; v1's stay.
    _age(repo.remote_dir)
    out = json.loads(repo.filer("gc", "--git-remote", "origin", "--yes", "--json").stdout)
    assert out["indexes_deleted"] == [oid9]
    assert not path_in(repo.remote_dir, "chunks", oid9).exists()
    assert not any(path_in(repo.remote_dir, "objects", c).exists() for c in only_theirs)
    assert all(path_in(repo.remote_dir, "objects", c).exists() for c in mine)
    clone = clone_of(repo, tmp_path, "after-gc")
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v1


def test_gc_cache_drops_the_index_with_its_file(repo: Repo):
    v1 = data_of(BIG, 6)
    repo.write("m.bin", bytes(v1))
    oid = json.loads(repo.filer("add", "m.bin", "--json").stdout)[0]["oid"]
    repo.filer("remove", "m.bin")
    repo.filer("gc", "--grace", "0")
    assert not path_in(repo.cache, "objects", oid).exists()
    assert not path_in(repo.cache, "chunks", oid).exists()


def record_index(repo: Repo, data: bytes) -> Path:
    """Record the true chunk index of `data` in the cache, as a push that sent it as chunks
    (or a pull that rebuilt it) leaves it; return its path."""
    _oid, index = hash_and_chunk(bytes(data))
    ix = path_in(repo.cache, "chunks", index.oid)
    ix.parent.mkdir(parents=True, exist_ok=True)
    ix.write_bytes(index.encode())
    return ix


def test_fsck_rebuilds_an_index_that_does_not_match_its_file(repo: Repo):
    v1 = data_of(BIG, 7)
    oid = add_commit(repo, "m.bin", v1, "v1")
    ix = record_index(repo, v1)
    good = ix.read_bytes()
    doc = json.loads(good)
    doc["chunks"][0][0] = "sha256:" + "0" * 64
    ix.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    out = json.loads(repo.filer("fsck", "--json").stdout)
    assert out["corrupt"] == [] and [b["oid"] for b in out["bad_indexes"]] == [oid]
    assert ix.read_bytes() == good


def _forge_cache_index(repo: Repo, oid: str, position: int, chunk: str) -> bytes:
    """Make the cache's recorded index of `oid` list `chunk` at `position`; return the true one."""
    ix = path_in(repo.cache, "chunks", oid)
    good = ix.read_bytes()
    doc = json.loads(good)
    doc["chunks"][position][0] = chunk
    ix.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    return good


def test_push_sends_a_true_index_when_the_recorded_one_lists_a_chunk_it_would_upload(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 11)
    oid = add_commit(repo, "m.bin", v1, "v1")
    record_index(repo, v1)
    good = _forge_cache_index(repo, oid, 0, "sha256:" + "0" * 64)
    out = push_json(repo)
    assert out["ok"] and out["objects"] == 1 and out["problems"] == []
    assert path_in(repo.remote_dir, "chunks", oid).read_bytes() == good
    assert path_in(repo.cache, "chunks", oid).read_bytes() == good, "the recorded index is replaced"
    clone = clone_of(repo, tmp_path)
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v1


def test_push_never_vouches_for_a_chunk_the_remote_has_but_the_file_does_not(repo: Repo, tmp_path: Path):
    # v2's recorded index names v1's chunk where v2 changed: that chunk is in the remote, so it is
    # not uploaded again; only hashing v2's own bytes there shows the index is wrong.
    v1 = data_of(BIG, 12)
    oid1 = add_commit(repo, "m.bin", v1, "v1")
    push_json(repo)
    old = index_of(repo.remote_dir, oid1)["chunks"]
    v2 = edit(v1, 40 * MIB + 3 * MIB // 2)
    oid2 = add_commit(repo, "m.bin", v2, "v2")
    record_index(repo, v2)
    new = index_of(repo.cache, oid2)["chunks"]
    changed = [i for i, (c, n) in enumerate(new) if [c, n] not in old]
    same_size = [i for i in changed if new[i][1] == old[i][1] and new[i][0] != old[i][0]]
    assert same_size, "an edit inside a chunk keeps its cut points"
    good = _forge_cache_index(repo, oid2, same_size[0], old[same_size[0]][0])
    out = push_json(repo)
    assert out["ok"] and out["objects"] == 1 and out["problems"] == []
    assert path_in(repo.remote_dir, "chunks", oid2).read_bytes() == good
    clone = clone_of(repo, tmp_path)
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v2


def test_push_refuses_a_cached_file_that_no_longer_hashes_to_its_name(repo: Repo):
    v1 = data_of(BIG, 13)
    oid = add_commit(repo, "m.bin", v1, "v1")
    cached = path_in(repo.cache, "objects", oid)
    cached.chmod(0o644)
    with open(cached, "r+b") as f:
        f.seek(BIG - 10)
        f.write(b"bit rot!!!")
    proc = run(["git", "filer", "push"], repo.path, check=False)
    assert proc.returncode == 6 and "corrupt" in proc.stderr
    assert not path_in(repo.remote_dir, "chunks", oid).exists()
    assert not path_in(repo.remote_dir, "objects", oid).exists()


def test_a_file_of_repeated_content_is_sent_as_its_distinct_chunks_once(repo: Repo, tmp_path: Path):
    data = bytes(BIG)  # zeros: every chunk is the largest size, and all are the same
    oid = add_commit(repo, "zeros.bin", data, "zeros")
    out = push_json(repo)
    listed = index_of(repo.remote_dir, oid)["chunks"]
    assert len({c for c, _ in listed}) == 1 and len(listed) == BIG // (8 * MIB)
    assert out["objects"] == 1 and out["bytes"] == 8 * MIB, out
    clone = clone_of(repo, tmp_path)
    pull_json(clone)
    assert (clone / "zeros.bin").read_bytes() == data


def test_push_killed_midway_leaves_no_index_without_its_chunks(repo: Repo, tmp_path: Path):
    v1 = data_of(BIG, 8)
    oid = add_commit(repo, "big.bin", v1, "v1")
    proc = subprocess.Popen(["git", "filer", "push", "-j", "1"], cwd=repo.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    tmp = repo.remote_dir / "tmp"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if tmp.exists() and sum(1 for p in tmp.rglob("*") if p.is_file()) >= 3:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    killed_midway = proc.wait() == -signal.SIGKILL
    ix = path_in(repo.remote_dir, "chunks", oid)
    assert killed_midway and not ix.exists(), "killed while chunks were in flight"
    status = json.loads(repo.filer("push", "--dry-run", "--json").stdout)
    assert status["objects"] == 1, "without its index the object is not in the remote"
    again = push_json(repo)
    assert again["ok"]
    clone = clone_of(repo, tmp_path)
    pull_json(clone)
    assert (clone / "big.bin").read_bytes() == v1


def test_deploy_rebuilds_a_model_the_remote_holds_as_chunks(repo: Repo, tmp_path: Path):
    from test_deploy import git_filer, make_release

    model = bytes(data_of(BIG, 9))
    make_release(repo, "2026.11.1", model, {"vocab.txt": "a b c\n"})
    assert path_in(repo.remote_dir, "chunks", oid_of(model)).is_file() and not path_in(repo.remote_dir, "objects", oid_of(model)).exists()
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(repo.remote_dir), "--target", str(target), cwd=tmp_path)
    assert (target / "current" / "models" / "ranker.pt").read_bytes() == model


def test_a_small_file_another_writer_sent_as_chunks_is_still_read(repo: Repo, tmp_path: Path):
    data = bytes(data_of(5 * MIB, 14))
    oid = add_commit(repo, "small.bin", data, "small")
    # What a writer with a lower threshold leaves: chunks and an index, no whole object.
    _whole, index = hash_and_chunk(data)
    for c in index.chunks:
        p = path_in(repo.remote_dir, "objects", c.oid)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data[c.offset:c.end])
    ix = path_in(repo.remote_dir, "chunks", oid)
    ix.parent.mkdir(parents=True, exist_ok=True)
    ix.write_bytes(index.encode())
    clone = clone_of(repo, tmp_path)
    assert pull_json(clone)["objects"] == 1
    assert (clone / "small.bin").read_bytes() == data
