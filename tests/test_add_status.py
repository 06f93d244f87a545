"""`init`, `add`, `status`, `ls`: tracking artifacts in a real repository."""

from __future__ import annotations

import hashlib
import json
import os
import stat

from conftest import Repo, git, make_repo, run


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_init_writes_config_and_prints_default_local_remote(tmp_path):
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "r")], tmp_path)
    out = run(["git", "filer", "init"], tmp_path / "r").stdout
    assert "default remote 'local'" in out
    remote_dir = out.splitlines()[0].rsplit("-> ", 1)[1]
    assert os.path.isdir(remote_dir) and remote_dir.startswith(os.environ["GITFILER_HOME"])
    staged = git(tmp_path / "r", "diff", "--cached", "--name-only").stdout.split()
    assert ".gitfiler/config.yaml" in staged


def test_add_file_writes_registry_ignores_artifact_and_stages(repo: Repo):
    data = os.urandom(100_000)
    repo.write("models/m.pt", data)
    repo.filer("add", "models/m.pt", "-m", "framework=torch")
    reg = (repo.path / "models/m.pt.filer").read_text()
    assert reg == f"version: 1\npath: m.pt\nkind: file\noid: {sha(data)}\nsize: 100000\nmeta:\n  framework: torch\n"
    assert (repo.path / "models/.gitignore").read_text() == "/m.pt\n"
    staged = repo.git("diff", "--cached", "--name-only").stdout.split()
    assert "models/m.pt.filer" in staged and "models/.gitignore" in staged
    assert "models/m.pt" not in staged
    obj = repo.cache / "objects/sha256" / sha(data)[7:9] / sha(data)[9:]
    assert obj.read_bytes() == data
    assert not obj.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_add_directory_tracks_manifest_object(repo: Repo):
    repo.write("data/train/a.csv", "a\n")
    repo.write("data/train/sub/b.csv", "b\n")
    os.chmod(repo.write("data/train/run.sh", "#!/bin/sh\n"), 0o755)
    out = json.loads(repo.filer("add", "data/train/", "--json").stdout)
    assert out[0]["kind"] == "dir" and out[0]["files"] == 3 and out[0]["size"] == 14
    manifest = (repo.cache / "objects/sha256" / out[0]["oid"][7:9] / out[0]["oid"][9:]).read_bytes()
    doc = json.loads(manifest)
    assert [e["path"] for e in doc["entries"]] == ["a.csv", "run.sh", "sub/b.csv"]
    assert [e["exec"] for e in doc["entries"]] == [False, True, False]
    assert sha(manifest) == out[0]["oid"]


def test_registry_bytes_are_deterministic(repo: Repo, tmp_path):
    repo.write("m.bin", b"x" * 10)
    repo.filer("add", "m.bin")
    first = (repo.path / "m.bin.filer").read_bytes()
    other = make_repo(tmp_path, "other", tmp_path / "r2")
    other.write("m.bin", b"x" * 10)
    other.filer("add", "m.bin")
    assert (other.path / "m.bin.filer").read_bytes() == first


def test_readding_unchanged_artifact_is_a_noop(repo: Repo):
    repo.write("m.bin", os.urandom(1000))
    repo.filer("add", "m.bin")
    before = (repo.path / "m.bin.filer").stat().st_mtime_ns
    out = repo.filer("add", "m.bin").stdout
    assert out.startswith("unchanged m.bin")
    assert (repo.path / "m.bin.filer").stat().st_mtime_ns == before


def test_add_refuses_paths_outside_repo_inside_git_and_registry_files(repo: Repo, tmp_path):
    (tmp_path / "outside.bin").write_bytes(b"x")
    repo.write("m.bin", b"y")
    repo.filer("add", "m.bin")
    for target, words in [
        (str(tmp_path / "outside.bin"), "outside the repository"),
        (".git/config", "inside .git"),
        ("m.bin.filer", "is a registry file"),
        ("nope.bin", "no such file"),
    ]:
        proc = repo.filer("add", target, check=False)
        assert proc.returncode != 0, target
        assert words in proc.stderr and "Traceback" not in proc.stderr


def test_add_refuses_file_already_committed_to_git(repo: Repo):
    repo.write("weights.bin", b"w")
    repo.git("add", "weights.bin")
    proc = repo.filer("add", "weights.bin", check=False)
    assert proc.returncode != 0 and "already committed to git" in proc.stderr


def test_status_reports_each_state(repo: Repo):
    for name in ("a.bin", "b.bin", "c.bin"):
        repo.write(name, os.urandom(100))
    repo.filer("add", "a.bin", "b.bin", "c.bin")
    repo.filer("push", "a.bin")
    repo.write("b.bin", b"changed")
    os.unlink(repo.path / "c.bin")
    rows = {r["artifact"]: r["state"] for r in json.loads(repo.filer("status", "--json").stdout)}
    assert rows == {"a.bin": "synced", "b.bin": "modified", "c.bin": "missing"}
    repo.write("d.bin", b"d")
    repo.filer("add", "d.bin")
    assert json.loads(repo.filer("status", "d.bin", "--json").stdout)[0]["state"] == "local"


def test_status_remote_checks_for_real(repo: Repo):
    data = os.urandom(100)
    repo.write("a.bin", data)
    repo.filer("add", "a.bin")
    repo.filer("push")
    # Someone deletes the object from the remote: only --cloud notices.
    obj = repo.remote_dir / "objects/sha256" / sha(data)[7:9] / sha(data)[9:]
    obj.unlink()
    assert json.loads(repo.filer("status", "--json").stdout)[0]["state"] == "synced"
    real = json.loads(repo.filer("status", "--cloud", "--json").stdout)[0]
    assert real["state"] == "local" and real["in_remote"] is False
    repo.filer("push")
    assert obj.exists()


def test_status_does_not_rehash_unchanged_files(repo: Repo):
    repo.write("big.bin", os.urandom(1000))
    repo.filer("add", "big.bin")
    os.utime(repo.path / "big.bin", ns=(1_000_000_000, 1_000_000_000))
    repo.filer("status")  # records the new stat
    # Same size and mtime but different bytes: the stat cache (by design) trusts it.
    p = repo.path / "big.bin"
    ino = p.stat().st_ino
    with open(p, "r+b") as f:
        f.write(b"Z")
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    assert p.stat().st_ino == ino
    # Had status re-hashed, it would say "modified"; the stat cache answers "local" without reading.
    assert json.loads(repo.filer("status", "--json").stdout)[0]["state"] == "local"
    # A size change is always seen.
    p.write_bytes(b"short")
    assert json.loads(repo.filer("status", "--json").stdout)[0]["state"] == "modified"


def test_status_sees_a_file_changed_in_a_tracked_directory(repo: Repo):
    repo.write("d/a.txt", "a")
    repo.write("d/b.txt", "b")
    repo.filer("add", "d")
    assert json.loads(repo.filer("status", "--json").stdout)[0]["state"] == "local"
    repo.write("d/new.txt", "new")
    assert json.loads(repo.filer("status", "--json").stdout)[0]["state"] == "modified"


def test_ls_lists_size_oid_and_meta(repo: Repo):
    repo.write("m.pt", b"12345")
    repo.filer("add", "m.pt", "-m", "version=3")
    rows = json.loads(repo.filer("ls", "--json").stdout)
    assert rows == [{"artifact": "m.pt", "registry": "m.pt.filer", "kind": "file", "oid": sha(b"12345"), "size": 5, "files": None, "meta": {"version": "3"}}]
    assert "version=3" in repo.filer("ls").stdout


def test_remove_stops_tracking_and_unignores(repo: Repo):
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "add")
    repo.filer("remove", "m.bin")
    assert not (repo.path / "m.bin").exists() and not (repo.path / "m.bin.filer").exists()
    assert (repo.path / ".gitignore").read_text() == ""
    assert "m.bin.filer" in repo.git("diff", "--cached", "--name-only", "--diff-filter=D").stdout
