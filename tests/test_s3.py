"""The S3 remote, over HTTP against moto's server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import Repo, _start_moto, clone_of, run, snapshot


def key(oid_hex: str) -> str:
    return f"proj/objects/sha256/{oid_hex[:2]}/{oid_hex[2:]}"


def test_s3_push_and_pull_roundtrip(s3_repo, tmp_path: Path):
    repo, bucket, client = s3_repo
    big = os.urandom(9 * 1024 * 1024)  # above the single-PUT size
    repo.write("models/big.bin", big)
    repo.write("data/d/a.txt", "a")
    repo.filer("add", "models/big.bin", "data/d")
    repo.commit_without_autopush("v1")
    out = json.loads(repo.filer("push", "--json").stdout)
    assert out["objects"] == 3
    body = client.get_object(Bucket=bucket, Key=key(hashlib.sha256(big).hexdigest()))["Body"].read()
    assert body == big
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull"], clone)
    assert (clone / "models/big.bin").read_bytes() == big
    assert (clone / "data/d/a.txt").read_text() == "a"


def test_s3_status_remote_uses_the_bucket(s3_repo):
    repo, bucket, client = s3_repo
    repo.write("a.bin", b"a")
    repo.filer("add", "a.bin")
    assert json.loads(repo.filer("status", "--cloud", "--json").stdout)[0]["state"] == "local"
    repo.filer("push")
    client.delete_object(Bucket=bucket, Key=key(hashlib.sha256(b"a").hexdigest()))
    assert json.loads(repo.filer("status", "--cloud", "--json").stdout)[0]["in_remote"] is False


def test_s3_push_of_a_directory_is_idempotent(s3_repo):
    repo, bucket, client = s3_repo
    for i in range(30):
        repo.write(f"d/f{i}.txt", f"file {i}")
    repo.filer("add", "d")
    assert json.loads(repo.filer("push", "--json").stdout)["objects"] == 31
    assert json.loads(repo.filer("push", "--json").stdout)["already_present"] == 31


def test_missing_bucket_is_a_clear_error_and_nothing_changes(tmp_path: Path, s3):
    endpoint, _bucket, _client = s3
    from conftest import make_repo

    repo = make_repo(tmp_path)
    repo.filer("remote", "add", "team", "s3://no-such-bucket-xyz/p", "--endpoint-url", endpoint, "--default")
    repo.write("a.bin", b"a")
    repo.filer("add", "a.bin")
    before = snapshot(repo.path)
    proc = repo.filer("push", check=False)
    assert proc.returncode == 5
    assert "bucket 'no-such-bucket-xyz' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert snapshot(repo.path) == before


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path, s3):
    from conftest import _free_port, make_repo

    repo = make_repo(tmp_path)
    repo.filer("remote", "add", "team", "s3://bucket/p", "--endpoint-url", f"http://127.0.0.1:{_free_port()}", "--default")
    repo.write("a.bin", b"a")
    repo.filer("add", "a.bin")
    before = snapshot(repo.path)
    proc = repo.filer("push", check=False)
    assert proc.returncode == 5
    assert "cannot reach http://127.0.0.1:" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(repo.path) == before


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory):
    proc, url = _start_moto(tmp_path_factory.mktemp("moto-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_bad_credentials_are_a_clear_error(tmp_path: Path, moto_with_auth, monkeypatch):
    from conftest import make_repo

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    repo = make_repo(tmp_path)
    repo.filer("remote", "add", "team", "s3://bucket/p", "--endpoint-url", moto_with_auth, "--default")
    repo.write("a.bin", b"a")
    repo.filer("add", "a.bin")
    proc = repo.filer("push", check=False)
    assert proc.returncode == 5
    assert "access denied" in proc.stderr and "Traceback" not in proc.stderr
    assert "wrong" not in proc.stderr  # the secret never reaches output


def test_credentials_never_land_in_tracked_config(repo: Repo):
    proc = repo.filer("remote", "add", "x", "s3://b/p", "--endpoint-url", "http://127.0.0.1:1", check=False)
    assert proc.returncode == 0
    cfg = (repo.path / ".gitfiler/config.yaml").read_text()
    (repo.path / ".gitfiler/config.yaml").write_text(cfg + "aws_secret_access_key: hunter2\n")
    proc = repo.filer("status", check=False)
    assert proc.returncode == 3 and "looks like a credential" in proc.stderr


def test_s3_large_object_uses_multipart_and_ranged_download(s3_repo, tmp_path: Path):
    repo, bucket, client = s3_repo
    big = os.urandom(70 * 1024 * 1024)  # above the 64 MiB ranged-download threshold
    repo.write("big.bin", big)
    repo.filer("add", "big.bin")
    repo.commit_without_autopush("big")
    repo.filer("push")
    head = client.head_object(Bucket=bucket, Key=key(hashlib.sha256(big).hexdigest()))
    assert "-" in head["ETag"]  # a multipart upload's ETag carries the part count
    clone = clone_of(repo, tmp_path)
    run(["git", "filer", "pull"], clone)
    assert (clone / "big.bin").read_bytes() == big
