"""push, clone, pull and checkout through the local-directory remote."""

from __future__ import annotations

import hashlib
import json
import os

from conftest import Repo, clone_of, git, run, snapshot


def test_push_then_clone_and_pull_hydrates_verified_bytes(repo: Repo, tmp_path):
    model = os.urandom(3 * 1024 * 1024)
    repo.write("models/m.pt", model)
    repo.write("data/d/x.csv", "1,2\n")
    repo.write("data/d/y/z.csv", "3,4\n")
    repo.filer("add", "models/m.pt", "data/d")
    repo.commit_without_autopush("v1")
    out = json.loads(repo.filer("push", "--json").stdout)
    assert out["ok"] and out["objects"] == 4  # model, two files, one manifest
    clone = clone_of(repo, tmp_path)
    pulled = json.loads(run(["git", "filer", "pull", "--json"], clone).stdout)
    assert pulled["objects"] == 4
    assert (clone / "models/m.pt").read_bytes() == model
    assert (clone / "data/d/y/z.csv").read_text() == "3,4\n"
    rows = json.loads(run(["git", "filer", "status", "--json"], clone).stdout)
    assert {r["state"] for r in rows} == {"synced"}


def test_push_is_idempotent_and_reports_present_objects(repo: Repo):
    repo.write("a.bin", b"a" * 100)
    repo.filer("add", "a.bin")
    repo.filer("push")
    again = json.loads(repo.filer("push", "--json").stdout)
    assert again["objects"] == 0 and again["already_present"] == 1


def test_push_uploads_manifest_only_after_its_files(repo: Repo):
    repo.write("d/a", "a")
    repo.write("d/b", "b")
    oid = json.loads(repo.filer("add", "d", "--json").stdout)[0]["oid"]
    # Make one file object unreadable in the cache: it cannot be uploaded, so neither may the manifest.
    files = json.loads((repo.cache / "objects/sha256" / oid[7:9] / oid[9:]).read_text())["entries"]
    victim = repo.cache / "objects/sha256" / files[0]["oid"][7:9] / files[0]["oid"][9:]
    os.chmod(victim, 0o644)
    victim.write_bytes(b"corrupted")
    proc = repo.filer("push", check=False)
    assert proc.returncode != 0
    assert not (repo.remote_dir / "objects/sha256" / oid[7:9] / oid[9:]).exists()
    assert not (repo.remote_dir / "objects/sha256" / files[0]["oid"][7:9] / files[0]["oid"][9:]).exists()


def test_pull_never_overwrites_a_modified_file(repo: Repo, tmp_path):
    repo.write("m.bin", b"v1")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    (clone / "m.bin").write_bytes(b"my local experiment")
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode == 8
    assert "kept (modified): m.bin" in proc.stderr
    assert (clone / "m.bin").read_bytes() == b"my local experiment"
    run(["git", "filer", "pull", "--force"], clone)
    assert (clone / "m.bin").read_bytes() == b"v1"


def test_pull_replaces_a_file_still_clean_from_the_previous_version(repo: Repo, tmp_path):
    repo.write("m.bin", b"v1")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull"], clone)
    repo.write("m.bin", b"v2")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v2")
    repo.filer("push")
    repo.git("push", "-q", str(tmp_path / "origin.git"), "main")
    git(clone, "pull", "-q")
    run(["git", "filer", "pull"], clone)
    assert (clone / "m.bin").read_bytes() == b"v2"


def test_pull_include_exclude_select_artifacts(repo: Repo, tmp_path):
    for p in ("models/prod/a.bin", "models/dev/b.bin", "data/c.bin"):
        repo.write(p, p)
    repo.filer("add", "models/prod/a.bin", "models/dev/b.bin", "data/c.bin")
    repo.git("commit", "-qm", "x")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull", "--include", "models/**", "--exclude", "models/dev/**"], clone)
    assert (clone / "models/prod/a.bin").exists()
    assert not (clone / "models/dev/b.bin").exists() and not (clone / "data/c.bin").exists()


def test_checkout_hydrates_from_cache_without_network(repo: Repo):
    repo.write("m.bin", b"abc")
    repo.filer("add", "m.bin")
    os.unlink(repo.path / "m.bin")
    # Point the default remote somewhere that does not exist: checkout must not need it.
    out = repo.filer("checkout", "--json", env=dict(os.environ, GITFILER_REMOTE="/nonexistent/remote"))
    assert json.loads(out.stdout)["hydrated"] == ["m.bin"]
    assert (repo.path / "m.bin").read_bytes() == b"abc"


def test_checkout_lists_what_the_cache_lacks(repo: Repo, tmp_path):
    repo.write("m.bin", b"abc")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "checkout"], clone, check=False)
    assert proc.returncode != 0 and "m.bin: 1 object(s) not available" in proc.stderr


def test_hardlink_checkout_is_read_only(repo: Repo, tmp_path):
    repo.write("m.bin", b"abc")
    repo.filer("add", "m.bin")
    os.unlink(repo.path / "m.bin")
    repo.filer("checkout", env=dict(os.environ, GITFILER_CHECKOUT="hardlink"))
    st = (repo.path / "m.bin").stat()
    assert st.st_nlink == 2 and not st.st_mode & 0o222


def test_push_recovers_objects_missing_from_cache_from_the_work_tree(repo: Repo):
    data = b"precious"
    repo.write("m.bin", data)
    repo.filer("add", "m.bin")
    oid = hashlib.sha256(data).hexdigest()
    (repo.cache / "objects/sha256" / oid[:2] / oid[2:]).unlink()
    repo.filer("push")
    assert (repo.remote_dir / "objects/sha256" / oid[:2] / oid[2:]).read_bytes() == data


def test_corrupt_remote_object_is_refused_and_nothing_written(repo: Repo, tmp_path):
    repo.write("m.bin", b"good bytes")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "v1")
    repo.filer("push")
    oid = hashlib.sha256(b"good bytes").hexdigest()
    remote_obj = repo.remote_dir / "objects/sha256" / oid[:2] / oid[2:]
    os.chmod(remote_obj, 0o644)
    remote_obj.write_bytes(b"evil bytes")
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "install"], clone)  # else the pull's first act, installing the hooks, is a change
    before = snapshot(clone)
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode != 0
    assert f"sha256:{oid}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (clone / "m.bin").exists()
    assert snapshot(clone) == before
