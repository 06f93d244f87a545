"""Invariant 8, nothing deletes a last copy on a hint: `Filer.free_local_copies` asks the remote,
`gc --git-remote` keeps young objects, and gc and pre-push exclude each other through lock
records in the remote."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import Repo, run
from gitfiler import Filer
from gitfiler.project import Project

DAY = 24 * 3600


def obj(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


def orphan(remote_dir: Path, data: bytes, age_s: float = 0) -> Path:
    """An object in the remote that no ref references, last modified `age_s` ago."""
    p = obj(remote_dir, data)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if age_s:
        past = time.time() - age_s
        os.utime(p, (past, past))
    return p


def lock_file(remote_dir: Path, kind: str, age_s: float = 0) -> Path:
    p = remote_dir / "locks" / f"{kind}-{os.urandom(8).hex()}"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("{}")
    if age_s:
        past = time.time() - age_s
        os.utime(p, (past, past))
    return p


@pytest.fixture
def origin(repo: Repo, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    repo.git("remote", "add", "origin", str(bare))
    return bare


def commit_unpushed(repo: Repo, rel: str, data: bytes) -> None:
    """Commit an artifact without the post-commit upload, so only pre-push can send its bytes."""
    repo.write(rel, data)
    repo.filer("add", rel)
    repo.commit_without_autopush("add " + rel)


# -- free_local_copies asks the remote -------------------------------------------------------------


@pytest.fixture
def api(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Filer:
    monkeypatch.chdir(repo.path)
    return Filer(".")


def test_free_local_copies_deletes_nothing_when_the_remote_lost_the_bytes(api: Filer, repo: Repo):
    api.dump({"w": [1, 2]}, "m", push=True)
    assert [f.state for f in api.show_files()] == ["synced"]  # the local hint says the remote has it
    shutil.rmtree(repo.remote_dir)
    repo.remote_dir.mkdir()
    assert api.free_local_copies() == []
    assert (repo.path / "m.pkl").exists() and obj(repo.cache, (repo.path / "m.pkl").read_bytes()).exists()
    assert api.load("m") == {"w": [1, 2]}


def test_free_local_copies_frees_a_directory_the_remote_holds_in_full(api: Filer, repo: Repo):
    repo.write("data/a.txt", b"alpha")
    repo.write("data/sub/b.txt", b"beta")
    repo.filer("add", "data")
    repo.filer("push")
    assert api.free_local_copies() == ["data"]
    assert not (repo.path / "data").exists()
    assert not obj(repo.cache, b"alpha").exists() and not obj(repo.cache, b"beta").exists()
    assert (Path(api.path("data")) / "sub/b.txt").read_bytes() == b"beta"


def test_free_local_copies_keeps_a_directory_whose_remote_copy_lacks_one_file(api: Filer, repo: Repo):
    repo.write("data/a.txt", b"alpha")
    repo.write("data/b.txt", b"beta")
    repo.filer("add", "data")
    repo.filer("push")
    obj(repo.remote_dir, b"beta").unlink()
    assert api.free_local_copies() == []
    assert (repo.path / "data/b.txt").read_bytes() == b"beta" and obj(repo.cache, b"beta").exists()


# -- the grace period ------------------------------------------------------------------------------


def test_gc_remote_keeps_a_young_unreferenced_object_and_deletes_an_old_one(repo: Repo, origin: Path):
    young = orphan(repo.remote_dir, b"uploaded by another clone's post-commit, not pushed yet")
    old = orphan(repo.remote_dir, b"abandoned two days ago", age_s=2 * DAY)
    out = repo.filer("gc", "--git-remote", "origin", "--yes").stdout
    assert young.exists() and not old.exists()
    assert "deleted 1 object(s)" in out and "1 unreferenced but younger than" in out


def test_gc_remote_grace_can_be_shortened(repo: Repo, origin: Path):
    hour_old = orphan(repo.remote_dir, b"an hour old", age_s=3600)
    repo.filer("gc", "--git-remote", "origin", "--yes", "--grace", "60")
    assert not hour_old.exists()


def test_gc_keeps_the_objects_of_a_registry_file_that_no_longer_parses(repo: Repo):
    repo.write("a.bin", b"bytes of an old commit")
    repo.filer("add", "a.bin")
    reg = repo.path / "a.bin.filer"
    # As if an older gitfiler had written it, or today's parser had become stricter.
    reg.write_text(reg.read_text() + "unknown_key: 1\n")
    repo.git("add", "a.bin.filer")
    repo.commit_without_autopush("a registry file today's parser refuses")
    repo.git("rm", "-q", "a.bin.filer")
    repo.commit_without_autopush("drop it")
    repo.filer("gc", "--grace", "0")
    assert obj(repo.cache, b"bytes of an old commit").exists()


# -- the lock between gc and pre-push --------------------------------------------------------------


def test_push_is_refused_while_a_gc_holds_the_remote_lock(repo: Repo, origin: Path):
    commit_unpushed(repo, "m.bin", b"weights")
    gc_lock = lock_file(repo.remote_dir, "gc")
    proc = repo.git("push", "-q", "origin", "main", check=False)
    assert proc.returncode != 0
    assert "a gc is deleting from the filer remote" in proc.stderr and "push again when it is done" in proc.stderr
    assert not repo.git("ls-remote", str(origin)).stdout  # nothing reached the git remote
    assert sorted(p.name for p in gc_lock.parent.iterdir()) == [gc_lock.name]  # the push's own lock is gone
    gc_lock.unlink()
    repo.git("push", "-q", "origin", "main")
    assert obj(repo.remote_dir, b"weights").exists() and not list(gc_lock.parent.iterdir())


def test_a_stale_gc_lock_does_not_block_a_push(repo: Repo, origin: Path):
    commit_unpushed(repo, "m.bin", b"weights")
    lock_file(repo.remote_dir, "gc", age_s=3 * 3600)  # a gc killed hours ago
    repo.git("push", "-q", "origin", "main")
    assert obj(repo.remote_dir, b"weights").exists()


def test_gc_is_refused_while_a_push_holds_the_remote_lock(repo: Repo, origin: Path):
    old = orphan(repo.remote_dir, b"abandoned", age_s=2 * DAY)
    push_lock = lock_file(repo.remote_dir, "push")
    proc = repo.filer("gc", "--git-remote", "origin", "--yes", check=False)
    assert proc.returncode != 0 and "a push is checking the filer remote" in proc.stderr and "run gc again later" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert old.exists() and sorted(p.name for p in push_lock.parent.iterdir()) == [push_lock.name]


def test_gc_removes_stale_locks_and_leaves_none_of_its_own(repo: Repo, origin: Path):
    stale = lock_file(repo.remote_dir, "push", age_s=2 * 3600)
    old = orphan(repo.remote_dir, b"abandoned", age_s=2 * DAY)
    repo.filer("gc", "--git-remote", "origin", "--yes")
    assert not stale.exists() and not old.exists() and not list(stale.parent.iterdir())


def test_gc_dry_run_takes_no_lock(repo: Repo, origin: Path):
    push_lock = lock_file(repo.remote_dir, "push")
    old = orphan(repo.remote_dir, b"abandoned", age_s=2 * DAY)
    assert "would delete 1 object(s)" in repo.filer("gc", "--git-remote", "origin", "--dry-run").stdout
    assert old.exists() and sorted(p.name for p in push_lock.parent.iterdir()) == [push_lock.name]


def test_a_lock_that_lapsed_during_a_long_pause_is_not_trusted(repo: Repo, monkeypatch: pytest.MonkeyPatch):
    from gitfiler.errors import RemoteError
    from gitfiler.remotes import PUSH

    remote = Project.find(str(repo.path)).remote()
    real = time.time
    with pytest.raises(RemoteError, match="could not keep its lock fresh .*push again"), remote.lock(PUSH):
        monkeypatch.setattr(time, "time", lambda: real() + 40 * 60)  # a suspended laptop wakes up
    monkeypatch.undo()
    assert remote.list_locks() == []


# -- S3: the same primitives -----------------------------------------------------------------------


def test_s3_listing_reports_sizes_and_last_modified(s3_repo):
    r, _bucket, _client = s3_repo
    r.write("m.bin", b"weights")
    r.filer("add", "m.bin")
    r.filer("push")
    listed = list(Project.find(str(r.path)).remote().list_objects())
    assert [(o.oid, o.size) for o in listed] == [("sha256:" + hashlib.sha256(b"weights").hexdigest(), 7)]
    assert abs(listed[0].mtime - time.time()) < 300


def test_s3_push_is_refused_while_a_gc_lock_is_in_the_bucket(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    commit_unpushed(r, "m.bin", b"weights")
    client.put_object(Bucket=bucket, Key=f"proj/locks/gc-{os.urandom(8).hex()}", Body=b"{}")
    proc = r.git("push", "-q", str(bare), "main", check=False)
    assert proc.returncode != 0 and "a gc is deleting from the filer remote 'team'" in proc.stderr
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="proj/locks/")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("proj/locks/gc-")  # the push's own lock is gone


def test_s3_gc_deletes_an_old_unreferenced_object_and_keeps_a_young_one(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    r.git("remote", "add", "origin", str(bare))
    young = "proj/" + str(obj(Path(""), b"young")).lstrip("/")
    client.put_object(Bucket=bucket, Key=young, Body=b"young")
    # S3 cannot set LastModified: a grace of 0 s makes it "old"; the lock record's own time is "now".
    time.sleep(1.1)
    out = r.filer("gc", "--git-remote", "origin", "--yes", "--grace", "0").stdout
    assert "deleted 1 object(s)" in out
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="proj/objects/")
    client.put_object(Bucket=bucket, Key=young, Body=b"young")
    out = r.filer("gc", "--git-remote", "origin", "--yes").stdout
    assert "deleted 0 object(s)" in out and "1 unreferenced but younger than" in out
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="proj/locks/")


def test_remove_from_remote_keeps_objects_another_tracked_artifact_uses(repo, tmp_path):
    import hashlib

    repo.write("a/same.bin", b"shared content")
    repo.write("b/same.bin", b"shared content")
    repo.write("c/own.bin", b"only mine")
    repo.filer("add", "a/same.bin", "b/same.bin", "c/own.bin")
    repo.git("commit", "-qm", "three")  # the post-commit hook uploads them
    shared = repo.remote_dir / "objects/sha256" / hashlib.sha256(b"shared content").hexdigest()[:2]
    own = repo.remote_dir / "objects/sha256" / hashlib.sha256(b"only mine").hexdigest()[:2]
    out = repo.filer("remove", "a/same.bin", "c/own.bin", "--from-remote")
    assert "kept 1 object(s) in the remote" in out.stdout
    assert any(shared.iterdir())  # b/same.bin still needs it
    assert not own.exists() or not any(own.iterdir())


def test_remove_from_remote_is_refused_while_a_gc_holds_the_remote(repo):
    from gitfiler.project import Project
    from gitfiler.remotes import GC

    repo.write("m.bin", b"bytes")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "m")
    with Project.find(str(repo.path)).remote().lock(GC):
        out = repo.filer("remove", "m.bin", "--from-remote", check=False)
    assert out.returncode == 5, out.stderr
    assert (repo.path / "m.bin.filer").exists()


# -- releases are roots ------------------------------------------------------------------------------


def age_everything(root: Path, age_s: float) -> None:
    past = time.time() - age_s
    for p in (root / "objects").rglob("*"):
        if p.is_file():
            os.utime(p, (past, past))


def test_gc_remote_keeps_a_published_release_that_no_ref_references(repo: Repo, origin: Path):
    repo.write("models/m.pt", b"released weights")
    repo.write("tok/vocab.txt", b"a b c")
    repo.filer("add", "models/m.pt", "tok")
    repo.git("commit", "-qm", "for the release")
    repo.filer("release", "create", "r1")
    repo.filer("release", "publish", "r1")
    repo.filer("remove", "models/m.pt", "tok")  # untracked now: no ref of origin's references them
    repo.git("commit", "-qm", "gone")
    repo.git("push", "-q", "origin", "main")
    repo.git("reflog", "expire", "--expire=now", "--all")
    age_everything(repo.remote_dir, 2 * DAY)
    repo.filer("gc", "--git-remote", "origin", "--yes")
    assert obj(repo.remote_dir, b"released weights").exists() and obj(repo.remote_dir, b"a b c").exists()
    pointer = (repo.remote_dir / "releases/r1").read_text().strip()
    assert (repo.remote_dir / "objects/sha256" / pointer[7:9] / pointer[9:]).exists()  # the release manifest


def test_gc_cache_keeps_the_manifest_of_a_release_created_here(repo: Repo):
    repo.write("m.bin", b"weights")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "m")
    repo.filer("release", "create", "r1")
    age_everything(repo.cache, 2 * DAY)
    repo.filer("gc")
    repo.filer("release", "publish", "r1")  # needs the release manifest from the cache
