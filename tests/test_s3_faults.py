"""The S3 remote under faults and hostile servers: reads capped at the declared size,
checksums on every upload, retries of transient failures, no orphaned multipart uploads.

Faults come from the fault-injecting proxy of bench/drill_s3_faults.py, put in front of
the moto server; setup and checks talk to moto directly."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import clone_of, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from drill_s3_faults import INTERNAL, PASS, RESET_MID, FaultProxy, ProxyRequest  # noqa: E402

MiB = 1024 * 1024


def key(data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"proj/objects/sha256/{h[:2]}/{h[2:]}"


def through(repo_or_clone: Path, bucket: str, proxy: FaultProxy) -> None:
    """Point the clone's remote at the proxy (per-clone config, so the clone's history is unchanged)."""
    run(["git", "filer", "remote", "add", "team", f"s3://{bucket}/proj", "--endpoint-url", proxy.url, "--default", "--force", "--local"], repo_or_clone)


def is_part_upload(req: ProxyRequest) -> bool:
    return req.method == "PUT" and "partNumber=" in req.path


def open_uploads(client, bucket: str) -> list[dict]:
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def temp_files(root: Path) -> list[Path]:
    return list(root.rglob(".tmp-*"))


# -- reads capped at the declared size ----------------------------------------------------------


def test_object_larger_than_its_declared_size_is_refused(s3_repo, tmp_path: Path):
    repo, bucket, client = s3_repo
    data = os.urandom(3000)
    repo.write("a.bin", data)
    repo.filer("add", "a.bin")
    repo.commit_without_autopush("a")
    repo.filer("push")
    client.put_object(Bucket=bucket, Key=key(data), Body=data + bytes(4 * MiB))  # a hostile remote's object
    clone = clone_of(repo, tmp_path)
    proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode != 0
    assert f"s3://{bucket}/{key(data)} is {3000 + 4 * MiB} bytes but 3000 bytes were declared" in proc.stderr
    assert not (clone / "a.bin").exists()
    assert not list(clone.rglob(hashlib.sha256(data).hexdigest()[2:]))  # not in the cache
    assert temp_files(clone) == []


def test_endless_body_from_a_hostile_endpoint_stops_at_the_declared_size(s3_repo, moto_server, tmp_path: Path):
    repo, bucket, _client = s3_repo
    data = os.urandom(3000)
    repo.write("a.bin", data)
    repo.filer("add", "a.bin")
    repo.commit_without_autopush("a")
    repo.filer("push")
    sent = Counter()

    def endless(handler) -> None:
        # Chunked, with no length in the headers: only the reader's cap can stop it.
        handler.send_response_only(200, "OK")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = b"%x\r\n" % MiB + bytes(MiB) + b"\r\n"
        try:
            while sent["bytes"] < 2048 * MiB:
                handler.wfile.write(block)
                sent["bytes"] += MiB
        except OSError:
            pass
        handler.close_connection = True

    def decide(req: ProxyRequest):
        return endless if req.method == "GET" and key(data) in req.path else PASS

    clone = clone_of(repo, tmp_path)
    with FaultProxy(moto_server, decide) as proxy:
        through(clone, bucket, proxy)
        proc = run(["git", "filer", "pull"], clone, check=False)
    assert proc.returncode != 0
    assert f"s3://{bucket}/{key(data)} sent more than 3000 bytes" in proc.stderr
    assert sent["bytes"] < 64 * MiB  # socket buffers, not the 2 GiB on offer
    assert not (clone / "a.bin").exists() and temp_files(clone) == []


def test_ranged_download_checks_the_length_before_fetching_a_byte(s3, tmp_path: Path, monkeypatch):
    from gitfiler.config import RemoteConfig
    from gitfiler.errors import IntegrityError
    from gitfiler.objects import ObjectStore
    from gitfiler.remotes import s3 as s3mod

    endpoint, bucket, client = s3
    monkeypatch.setattr(s3mod, "RANGED_THRESHOLD", 1 * MiB)  # the ranged path without a 64 MiB fixture
    data = os.urandom(2 * MiB)
    oid = "sha256:" + hashlib.sha256(data).hexdigest()
    client.put_object(Bucket=bucket, Key=key(data), Body=data + b"more")
    seen: list[str] = []

    def decide(req: ProxyRequest) -> str:
        seen.append(req.method)
        return PASS

    store = ObjectStore(str(tmp_path / "cache"))
    with FaultProxy(endpoint, decide) as proxy:
        remote = s3mod.S3Remote(RemoteConfig(name="team", url=f"s3://{bucket}/proj", endpoint_url=proxy.url), f"{bucket}/proj")
        remote._one_stream = False  # the ranged path is under test; a server on this machine would get one streamed GET
        with pytest.raises(IntegrityError, match=f"is {2 * MiB + 4} bytes but {2 * MiB} bytes were declared"):
            remote.download(oid, store, None, 2 * MiB)
    assert seen == ["HEAD"]
    assert not store.has(oid) and temp_files(tmp_path) == []


def test_ranged_download_resumes_a_range_cut_mid_body(s3, tmp_path: Path, monkeypatch):
    from gitfiler.config import RemoteConfig
    from gitfiler.objects import ObjectStore
    from gitfiler.remotes import s3 as s3mod

    endpoint, bucket, client = s3
    monkeypatch.setattr(s3mod, "RANGED_THRESHOLD", 1 * MiB)
    monkeypatch.setattr(s3mod, "RANGE_SIZE", 1 * MiB)
    data = os.urandom(3 * MiB + 5)
    oid = "sha256:" + hashlib.sha256(data).hexdigest()
    client.put_object(Bucket=bucket, Key=key(data), Body=data)
    cuts = Counter()

    def decide(req: ProxyRequest) -> str:
        if req.method == "GET" and cuts["n"] < 2:
            cuts["n"] += 1
            return RESET_MID
        return PASS

    store = ObjectStore(str(tmp_path / "cache"))
    with FaultProxy(endpoint, decide) as proxy:
        remote = s3mod.S3Remote(RemoteConfig(name="team", url=f"s3://{bucket}/proj", endpoint_url=proxy.url), f"{bucket}/proj")
        remote._one_stream = False  # the ranged path is under test; a server on this machine would get one streamed GET
        remote.download(oid, store, None, len(data))
    assert cuts["n"] == 2
    assert Path(store.path(oid)).read_bytes() == data


def test_a_large_object_from_a_server_on_this_machine_comes_in_one_streamed_get(s3, tmp_path: Path, monkeypatch):
    from gitfiler.config import RemoteConfig
    from gitfiler.objects import ObjectStore
    from gitfiler.remotes import s3 as s3mod

    endpoint, bucket, client = s3
    monkeypatch.setattr(s3mod, "RANGED_THRESHOLD", 1 * MiB)
    monkeypatch.setattr(s3mod, "RANGE_SIZE", 1 * MiB)
    data = os.urandom(3 * MiB)
    oid = "sha256:" + hashlib.sha256(data).hexdigest()
    client.put_object(Bucket=bucket, Key=key(data), Body=data)
    seen: list[str] = []

    def decide(req: ProxyRequest) -> str:
        seen.append(req.method)
        return PASS

    store = ObjectStore(str(tmp_path / "cache"))
    with FaultProxy(endpoint, decide) as proxy:
        s3mod.S3Remote(RemoteConfig(name="team", url=f"s3://{bucket}/proj", endpoint_url=proxy.url), f"{bucket}/proj").download(oid, store, None, len(data))
    assert seen == ["GET"] and Path(store.path(oid)).read_bytes() == data


# -- checksums on upload ----------------------------------------------------------------------------


def test_multipart_upload_sends_the_sha256_of_every_part(s3_repo, moto_server):
    repo, bucket, _client = s3_repo
    big = os.urandom(9 * MiB)  # two parts
    repo.write("big.bin", big)
    repo.filer("add", "big.bin")
    seen: list[ProxyRequest] = []

    def decide(req: ProxyRequest) -> str:
        seen.append(req)
        return PASS

    with FaultProxy(moto_server, decide) as proxy:
        through(repo.path, bucket, proxy)
        repo.filer("push")
    create = [r for r in seen if r.method == "POST" and r.path.endswith("?uploads")]
    assert [r.headers.get("x-amz-checksum-algorithm") for r in create] == ["SHA256"]
    parts = [r for r in seen if is_part_upload(r)]
    assert len(parts) == 2
    for p in parts:
        assert p.headers.get("x-amz-checksum-sha256") == base64.b64encode(hashlib.sha256(p.body).digest()).decode()
    assert b"".join(p.body for p in sorted(parts, key=lambda r: r.path)) == big


# -- retries ----------------------------------------------------------------------------------------


def test_transient_failures_of_one_object_are_retried_until_it_gets_through(s3_repo, moto_server):
    repo, bucket, client = s3_repo
    files = {f"d/f{i}.bin": os.urandom(100) for i in range(5)}
    for rel, data in files.items():
        repo.write(rel, data)
    repo.filer("add", "d")
    flaky = key(files["d/f0.bin"])
    failed = Counter()

    def decide(req: ProxyRequest) -> str:
        # More failures in a row than boto3's own attempts (2 in tests): only the engine can retry it.
        if req.method == "PUT" and flaky in req.path and failed["n"] < 3:
            failed["n"] += 1
            return INTERNAL
        return PASS

    with FaultProxy(moto_server, decide) as proxy:
        through(repo.path, bucket, proxy)
        proc = repo.filer("push", check=False)
    assert proc.returncode == 0, proc.stderr
    assert failed["n"] == 3
    for data in files.values():
        assert client.get_object(Bucket=bucket, Key=key(data))["Body"].read() == data


def test_an_object_that_keeps_failing_is_given_up_after_the_budget_while_the_others_complete(s3_repo, moto_server):
    repo, bucket, client = s3_repo
    files = {f"f{i}.bin": os.urandom(100) for i in range(4)}
    for rel, data in files.items():
        repo.write(rel, data)
    repo.filer("add", *files)
    doomed = key(files["f0.bin"])

    def decide(req: ProxyRequest) -> str:
        return INTERNAL if req.method == "PUT" and doomed in req.path else PASS

    started = time.monotonic()
    with FaultProxy(moto_server, decide) as proxy:
        through(repo.path, bucket, proxy)
        proc = repo.filer("push", check=False, env=dict(os.environ, GITFILER_RETRY_BUDGET="1"))
    assert proc.returncode == 5
    assert "push finished with 1 problem(s)" in proc.stderr  # that object's failure, not one that stopped the run
    assert "InternalError" in proc.stderr and "gave up after" in proc.stderr
    assert time.monotonic() - started < 15
    for rel, data in files.items():
        if rel != "f0.bin":
            assert client.get_object(Bucket=bucket, Key=key(data))["Body"].read() == data


# -- no orphaned multipart uploads ------------------------------------------------------------------


def test_failed_multipart_upload_is_aborted(s3_repo, moto_server):
    repo, bucket, client = s3_repo
    repo.write("big.bin", os.urandom(9 * MiB))
    repo.filer("add", "big.bin")

    def decide(req: ProxyRequest) -> str:
        # Every part lands, the completion never does.
        return INTERNAL if req.method == "POST" and "uploadId=" in req.path else PASS

    with FaultProxy(moto_server, decide) as proxy:
        through(repo.path, bucket, proxy)
        proc = repo.filer("push", check=False, env=dict(os.environ, GITFILER_RETRY_BUDGET="1"))
    assert proc.returncode != 0
    assert open_uploads(client, bucket) == []


def test_multipart_upload_whose_create_answer_was_lost_leaves_no_upload_behind(s3_repo, moto_server):
    repo, bucket, client = s3_repo
    big = os.urandom(9 * MiB)
    repo.write("big.bin", big)
    repo.filer("add", "big.bin")
    cut = Counter()

    def decide(req: ProxyRequest) -> str:
        # moto creates the upload, the client never hears its id.
        if req.method == "POST" and req.path.endswith("?uploads") and not cut["n"]:
            cut["n"] += 1
            return RESET_MID
        return PASS

    with FaultProxy(moto_server, decide) as proxy:
        through(repo.path, bucket, proxy)
        repo.filer("push")
    assert cut["n"] == 1
    assert open_uploads(client, bucket) == []
    assert client.get_object(Bucket=bucket, Key=key(big))["Body"].read() == big


def test_interrupted_push_aborts_its_multipart_upload(s3_repo, moto_server):
    repo, bucket, client = s3_repo
    repo.write("big.bin", os.urandom(17 * MiB))  # three parts
    repo.write("small.bin", b"small")
    repo.filer("add", "big.bin", "small.bin")
    in_flight = threading.Event()

    def slow_parts(req: ProxyRequest) -> str:
        if is_part_upload(req):
            in_flight.set()
            time.sleep(3.0)  # long enough to be interrupted mid-upload, even on a loaded machine
        return PASS

    with FaultProxy(moto_server, slow_parts) as proxy:
        through(repo.path, bucket, proxy)
        push = subprocess.Popen(["git", "filer", "push"], cwd=repo.path, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert in_flight.wait(30), "the multipart upload never started"
            os.killpg(push.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            _out, err = push.communicate(timeout=60)
        finally:
            if push.poll() is None:
                os.killpg(push.pid, signal.SIGKILL)
    assert push.returncode != 0 and "interrupted" in err
    assert open_uploads(client, bucket) == []

