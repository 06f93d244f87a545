"""Bad input and broken storage: one clear line, a distinct exit code, nothing lost."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Repo, run, snapshot


def obj_path(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


@pytest.mark.parametrize(
    "text, words",
    [
        ("version: 1\npath: m.bin\nkind: file\noid: [unclosed\n", "not valid YAML"),
        ("version: 9\npath: m.bin\nkind: file\noid: sha256:" + "a" * 64 + "\nsize: 1\n", "unsupported schema version 9"),
        ("version: 1\npath: ../../etc/passwd\nkind: file\noid: sha256:" + "a" * 64 + "\nsize: 1\n", "not normalised or leaves"),
        ("version: 1\npath: /etc/passwd\nkind: file\noid: sha256:" + "a" * 64 + "\nsize: 1\n", "is absolute"),
        ("version: 1\npath: m.bin\nkind: file\noid: md5:abc\nsize: 1\n", "bad 'oid'"),
        ("version: 1\npath: m.bin\nkind: file\noid: sha256:" + "a" * 64 + "\nsize: '12'\n", "'size' must be a non-negative integer"),
        ("version: 1\npath: m.bin\nkind: blob\noid: sha256:" + "a" * 64 + "\nsize: 1\n", "'kind' must be one of"),
        ("- just\n- a list\n", "expected a YAML mapping"),
    ],
)
def test_malformed_registry_file_is_named_with_its_problem(repo: Repo, text: str, words: str):
    repo.write("m.bin.filer", text)
    before = snapshot(repo.path)
    for cmd in (["status"], ["push"]):
        proc = repo.filer(*cmd, check=False)
        assert proc.returncode == 4, (cmd, proc.stderr)
        line = proc.stderr.strip()
        assert line.startswith("error: m.bin.filer: ") and words in line and "\n" not in line
    # pull hydrates what it can and lists each bad registry file on a line of its own.
    proc = repo.filer("pull", check=False)
    assert proc.returncode == 4, proc.stderr
    assert any(line.strip().startswith("m.bin.filer: ") and words in line for line in proc.stderr.splitlines())
    assert snapshot(repo.path) == before


def test_hostile_manifest_with_traversal_is_refused_on_pull(repo: Repo):
    evil = b'{"entries":[{"exec":false,"oid":"sha256:' + b"b" * 64 + b'","path":"../../escape","size":1}],"version":1}'
    oid = "sha256:" + hashlib.sha256(evil).hexdigest()
    target = obj_path(repo.remote_dir, evil)
    target.parent.mkdir(parents=True)
    target.write_bytes(evil)
    repo.write("d.filer", f"version: 1\npath: d\nkind: dir\noid: {oid}\nsize: 1\nfiles: 1\n")
    proc = repo.filer("pull", check=False)
    assert proc.returncode != 0 and "leaves its directory" in proc.stderr
    assert not (repo.path.parent / "escape").exists()


def test_corrupt_cache_object_is_never_placed_in_the_work_tree(repo: Repo):
    repo.write("m.bin", b"original")
    repo.filer("add", "m.bin")
    os.unlink(repo.path / "m.bin")
    obj = obj_path(repo.cache, b"original")
    os.chmod(obj, 0o644)
    obj.write_bytes(b"bitrot!!")
    proc = repo.filer("checkout", check=False)
    assert proc.returncode != 0 and "corrupt object" in proc.stderr and str(obj) in proc.stderr
    assert not (repo.path / "m.bin").exists()
    assert [p.name for p in repo.path.iterdir() if p.name.startswith(".tmp-")] == []


def test_fsck_reports_corrupt_objects_by_path_and_digest(repo: Repo):
    repo.write("a.bin", b"aaa")
    repo.write("b.bin", b"bbb")
    repo.filer("add", "a.bin", "b.bin")
    assert "2 object(s)" in repo.filer("fsck").stderr
    obj = obj_path(repo.cache, b"aaa")
    os.chmod(obj, 0o644)
    obj.write_bytes(b"xxx")
    proc = repo.filer("fsck", check=False)
    assert proc.returncode == 6
    assert f"corrupt: {obj} (sha256:{hashlib.sha256(b'aaa').hexdigest()})" in proc.stderr
    repo.filer("fsck", "--remove-corrupt", check=False)
    assert not obj.exists() and obj_path(repo.cache, b"bbb").exists()


@pytest.fixture
def tiny_fs(tmp_path: Path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("mib", [3, 20], ids=["streamed", "kernel-copied"])
def test_full_disk_during_add_loses_nothing(repo: Repo, tiny_fs: Path, mib: int):
    data = os.urandom(mib * 1024 * 1024)
    repo.write("big.bin", data)
    env = dict(os.environ, GITFILER_CACHE_DIR=str(tiny_fs))
    before = snapshot(repo.path)
    proc = repo.filer("add", "big.bin", check=False, env=env)
    assert proc.returncode == 9
    assert "no space left" in proc.stderr and "Traceback" not in proc.stderr
    assert (repo.path / "big.bin").read_bytes() == data
    assert not (repo.path / "big.bin.filer").exists()
    assert snapshot(repo.path) == before
    assert [p for p in tiny_fs.rglob("*") if p.is_file()] == []


def test_full_disk_during_pull_leaves_work_tree_as_before(repo: Repo, tiny_fs: Path, tmp_path: Path):
    data = os.urandom(3 * 1024 * 1024)
    repo.write("big.bin", data)
    repo.filer("add", "big.bin")
    repo.filer("push")
    os.unlink(repo.path / "big.bin")
    env = dict(os.environ, GITFILER_CACHE_DIR=str(tiny_fs))
    proc = repo.filer("pull", check=False, env=env)
    assert proc.returncode == 9 and "no space left" in proc.stderr
    assert not (repo.path / "big.bin").exists()
    assert [p for p in tiny_fs.rglob("*") if p.is_file()] == []


def test_kill_during_add_leaves_old_state_plus_ignored_temp_files(repo: Repo):
    data = os.urandom(64 * 1024 * 1024)
    repo.write("big.bin", data)
    proc = subprocess.Popen(["git", "filer", "add", "big.bin"], cwd=repo.path)
    time.sleep(0.35)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (repo.path / "big.bin").read_bytes() == data
    # Whatever the moment of the kill, the registry file is either absent or complete.
    reg = repo.path / "big.bin.filer"
    if reg.exists():
        assert f"sha256:{hashlib.sha256(data).hexdigest()}" in reg.read_text()
    repo.filer("add", "big.bin")
    assert obj_path(repo.cache, data).read_bytes() == data
    repo.filer("fsck")


def test_the_fix_push_offers_for_a_vanished_committed_remote_works_as_written(repo: Repo):
    repo.write("m.bin", b"model")
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("m")
    for p in sorted(repo.remote_dir.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    repo.remote_dir.rmdir()
    proc = repo.filer("push", check=False)
    assert proc.returncode == 5
    fix = proc.stderr.split("Create it with '", 1)[1].split("'", 1)[0]
    assert fix.startswith("git filer remote add ")
    run(fix.split(), repo.path)
    assert repo.filer("push").returncode == 0 and obj_path(repo.remote_dir, b"model").is_file()


def test_unknown_command_and_bad_option_are_usage_errors(repo: Repo):
    proc = repo.filer("frobnicate", check=False)
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_not_a_repository_is_a_clear_error(tmp_path: Path):
    proc = run(["git", "filer", "status"], tmp_path, check=False)
    assert proc.returncode == 3 and "not inside a git work tree" in proc.stderr
