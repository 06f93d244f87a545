"""Chunked objects through an S3 remote (moto over HTTP): the same engine as the local remote,
with chunks as ordinary keys, the index under `chunks/`, and a push killed midway leaving
chunks but never an index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_chunks import BIG, add_commit, data_of, edit, pull_json, push_json

from conftest import clone_of, run

MIB = 1024 * 1024


def keys(client, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]


def test_s3_push_and_pull_move_only_new_chunks(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    v1 = data_of(BIG, 11)
    oid1 = add_commit(r, "m.bin", v1, "v1")
    assert push_json(r)["bytes"] == len(v1)
    index_key = f"proj/chunks/sha256/{oid1[7:9]}/{oid1[9:]}"
    assert keys(client, bucket, "proj/chunks/") == [index_key]
    index = json.loads(client.get_object(Bucket=bucket, Key=index_key)["Body"].read())
    assert len(keys(client, bucket, "proj/objects/")) == len({c for c, _ in index["chunks"]})

    v2 = edit(v1, 5 * MIB, 19 * MIB)
    add_commit(r, "m.bin", v2, "v2")
    out = push_json(r)
    assert out["objects"] == 1 and 0 < out["bytes"] <= len(v2) // 8, out

    clone = clone_of(r, tmp_path)
    run(["git", "checkout", "-q", "HEAD~1"], clone)
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v1
    run(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"], clone)
    got = pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v2 and 0 < got["bytes"] <= len(v2) // 8, got


@pytest.mark.parametrize("swap", ["other bytes", "longer"])
def test_s3_pull_refuses_a_chunk_that_is_not_what_its_name_says(s3_repo, tmp_path: Path, swap: str):
    r, bucket, client = s3_repo
    v1 = data_of(BIG, 13)
    oid = add_commit(r, "m.bin", v1, "v1")
    push_json(r)
    index = json.loads(client.get_object(Bucket=bucket, Key=f"proj/chunks/sha256/{oid[7:9]}/{oid[9:]}")["Body"].read())
    chunk, size = index["chunks"][3]
    key = f"proj/objects/sha256/{chunk[7:9]}/{chunk[9:]}"
    client.put_object(Bucket=bucket, Key=key, Body=b"x" * size if swap == "other bytes" else b"x" * (size + 1))
    clone = clone_of(r, tmp_path)
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode == 6 and key in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (clone / "m.bin").exists()
    assert not list((clone / ".git" / "filer" / "objects").rglob(oid[9:])), "nothing unverified becomes visible"


def test_s3_push_killed_midway_leaves_chunks_but_no_index(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    v1 = data_of(BIG, 12)
    add_commit(r, "big.bin", v1, "v1")
    proc = subprocess.Popen(["git", "filer", "push", "-j", "1"], cwd=r.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(keys(client, bucket, "proj/objects/")) >= 2:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "killed while chunks were in flight"
    assert keys(client, bucket, "proj/objects/") and not keys(client, bucket, "proj/chunks/")
    assert json.loads(r.filer("push", "--dry-run", "--json").stdout)["objects"] == 1, "no index: not in the remote"
    assert push_json(r)["ok"]
    assert len(keys(client, bucket, "proj/chunks/")) == 1
    clone = clone_of(r, tmp_path)
    pull_json(clone)
    assert (clone / "big.bin").read_bytes() == v1


def test_s3_gc_keeps_referenced_chunks_and_collects_orphans(s3_repo, tmp_path: Path):
    r, bucket, client = s3_repo
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    r.git("remote", "add", "origin", str(bare))
    v1 = data_of(BIG, 13)
    add_commit(r, "m.bin", v1, "v1")
    push_json(r)
    r.git("push", "-q", "origin", "main")
    before = set(keys(client, bucket, "proj/objects/"))
    client.put_object(Bucket=bucket, Key="proj/objects/sha256/00/" + "0" * 62, Body=b"orphan chunk of a killed push")
    time.sleep(1.1)  # S3 cannot backdate: a grace of 0 s makes what exists now "old"
    out = json.loads(r.filer("gc", "--git-remote", "origin", "--yes", "--grace", "0", "--json").stdout)
    assert out["deleted"] == ["sha256:00" + "0" * 62] and out["indexes_deleted"] == []
    assert set(keys(client, bucket, "proj/objects/")) == before
    clone = clone_of(r, tmp_path, "after-gc")
    pull_json(clone)
    assert (clone / "m.bin").read_bytes() == v1
