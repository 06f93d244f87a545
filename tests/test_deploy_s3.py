"""Releases through S3 (moto's server over HTTP), and a container's start-up configured by
environment variables alone, in a separate process with no git on PATH."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from conftest import BIN_DIR, Repo, run


def publish_release(repo: Repo, name: str, weights: bytes) -> None:
    repo.write("models/ranker.pt", weights)
    repo.write("tokenizer/vocab.txt", "a b c\n")
    repo.filer("add", "models/ranker.pt", "--type", "model", "--version", "1.4.0")
    repo.filer("add", "tokenizer", "--type", "tokenizer", "--version", "2.0.0")
    repo.git("commit", "-qm", name)
    repo.filer("release", "create", name)
    repo.filer("release", "publish", name)


def container_env(tmp_path: Path, endpoint: str, **variables: str) -> dict[str, str]:
    """Only what a container image would set: no git, no repository, no HOME to write to."""
    nogit = tmp_path / "bin"
    nogit.mkdir(exist_ok=True)
    if not (nogit / "python3").exists():
        os.symlink(sys.executable, nogit / "python3")
    return {
        "PATH": str(nogit), "HOME": os.environ["HOME"],
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "GITFILER_S3_ENDPOINT_URL": endpoint, **variables,
    }


def test_publish_to_s3_writes_the_pointer_after_the_objects(s3_repo, tmp_path: Path):
    repo, bucket, client = s3_repo
    publish_release(repo, "2026.11.1", b"w" * 5000)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="proj/")["Contents"]]
    assert "proj/releases/2026.11.1" in keys
    pointer = client.get_object(Bucket=bucket, Key="proj/releases/2026.11.1")["Body"].read().decode().strip()
    assert f"proj/objects/sha256/{pointer[7:9]}/{pointer[9:]}" in keys
    rows = json.loads(repo.filer("release", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["2026.11.1"] and rows[0]["published"]


def test_s3_refuses_to_move_a_published_name(s3_repo):
    repo, bucket, client = s3_repo
    publish_release(repo, "r1", b"one")
    repo.write("models/ranker.pt", b"two")
    repo.filer("add", "models/ranker.pt")
    repo.git("commit", "-qm", "two")
    repo.filer("release", "create", "r1", "--force")
    out = repo.filer("release", "publish", "r1", check=False)
    assert out.returncode == 8 and "never moves" in out.stderr


def test_container_start_up_deploys_from_environment_variables_alone(s3_repo, s3, tmp_path: Path):
    repo, bucket, _client = s3_repo
    endpoint = s3[0]
    publish_release(repo, "2026.11.1", b"weights" * 1000)
    target, cache = tmp_path / "srv", tmp_path / "cache"
    env = container_env(
        tmp_path, endpoint, GITFILER_REMOTE=f"s3://{bucket}/proj", GITFILER_RELEASE="2026.11.1", GITFILER_TARGET=str(target), GITFILER_CACHE_DIR=str(cache),
    )
    out = run([os.path.join(BIN_DIR, "git-filer"), "deploy", "--from-env", "--json"], tmp_path, env=env)
    assert json.loads(out.stdout)["release"] == "2026.11.1"
    assert (target / "current/models/ranker.pt").read_bytes() == b"weights" * 1000
    assert any(cache.rglob("objects/sha256/*/*"))  # the shared cache was used, not TARGET/.filer-deploy/cache
    assert not (target / ".filer-deploy" / "cache").exists()


def test_container_start_up_with_a_bad_environment_fails_before_any_transfer(tmp_path: Path, s3):
    env = container_env(tmp_path, s3[0], GITFILER_REMOTE="ftp://nowhere", GITFILER_RELEASE="../etc", GITFILER_S3_MAX_ATTEMPTS="0")
    out = run([os.path.join(BIN_DIR, "git-filer"), "deploy", "--from-env"], tmp_path, env=env, check=False)
    assert out.returncode == 3 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    for word in ("GITFILER_TARGET", "ftp://nowhere", "GITFILER_RELEASE", "GITFILER_S3_MAX_ATTEMPTS"):
        assert word in line


def test_filer_from_env_deploys_and_loads_in_a_fresh_process(s3_repo, s3, tmp_path: Path):
    repo, bucket, _client = s3_repo
    import pickle

    repo.write("models/params.pkl", pickle.dumps({"lr": 0.1}))
    repo.filer("add", "models/params.pkl", "--type", "params", "--version", "1")
    publish_release(repo, "2026.11.1", b"weights" * 100)
    target = tmp_path / "srv"
    env = container_env(tmp_path, s3[0], GITFILER_REMOTE=f"s3://{bucket}/proj", GITFILER_RELEASE="2026.11.1", GITFILER_TARGET=str(target))
    code = (
        "from gitfiler import Filer\n"
        "live = Filer.from_env()\n"
        "print(live.release, live.load('params')['lr'], open(live.path('model'), 'rb').read(7))\n"
        "again = Filer.from_env()\n"  # already live: nothing to do, same answer
        "print(again.release)\n"
    )
    out = run([sys.executable, "-c", code], tmp_path, env=env)
    assert out.stdout.split() == ["2026.11.1", "0.1", "b'weights'", "2026.11.1"]
