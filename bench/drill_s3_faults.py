"""S3 fault drill: push and pull through a fault-injecting proxy in front of moto.

    python bench/drill_s3_faults.py                 # rates 0,10,25,50 %, 3 trials each
    python bench/drill_s3_faults.py --trials 5 --rates 0,50
    python bench/drill_s3_faults.py --quick         # small workload, one trial: a smoke run

The script starts its own moto server and, in front of it, a threaded HTTP proxy on
127.0.0.1 (stdlib only). For each request, with probability `rate`, the proxy injects
one fault, chosen uniformly among: 503 SlowDown (an S3 XML error body), 500
InternalError, a connection reset (either before the request reaches moto, or after,
cutting the response mid-body), and a delay of 0.2-1.5 s. Setup and every check talk
to moto directly, never through the proxy.

Workload: one 64 MiB file and a directory of 300 × 16 KiB files, added and committed
in a real git repository whose S3 remote points at the proxy (302 objects with the
directory's manifest). Per trial, with a fresh bucket:

- push: `git filer push` from a copy of the repository. Complete = exit 0 and every
  object in the bucket with the right bytes, without a re-run.
- pull: (the bucket filled by a fault-free push if the faulty one did not finish)
  `git filer pull` in a fresh clone. Complete = exit 0 and every file byte-correct.
- silent: exit 0 but something missing or wrong. corrupt: an object or file whose bytes
  do not match its name, whatever the exit code. orphans: multipart uploads left open
  in the bucket.

Every figure is measured in this run. Each command is killed after --timeout seconds
(counted as incomplete), so the drill always ends.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# -- the fault-injecting proxy ---------------------------------------------------------------------

PASS, SLOWDOWN, INTERNAL, RESET_EARLY, RESET_MID, DELAY = "pass", "slowdown", "internal", "reset-early", "reset-mid", "delay"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
_ERRORS = {
    SLOWDOWN: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    INTERNAL: (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class ProxyRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def random_faults(rate: float, seed: int | None = None, delay_s: tuple[float, float] = (0.2, 1.5)) -> Callable[[ProxyRequest], str]:
    """A fault chooser: with probability `rate` one of the five faults, else PASS."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def decide(_req: ProxyRequest) -> str:
        with lock:
            if rng.random() >= rate:
                return PASS
            return rng.choice([SLOWDOWN, INTERNAL, RESET_EARLY, RESET_MID, DELAY])

    decide.delay_s = delay_s  # type: ignore[attr-defined]
    return decide


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of `upstream` that asks `decide` what to do
    with each request (see the module docstring). `counts` tallies what it did. `decide` may
    also return a callable, which is handed the request handler to answer as it likes."""

    def __init__(self, upstream: str, decide: Callable[[ProxyRequest], str], delay_s: tuple[float, float] = (0.2, 1.5)) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.decide = decide
        self.delay_s = getattr(decide, "delay_s", delay_s)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as S3 does

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = ProxyRequest(self.command, self.path, dict(self.headers.items()), body)
                action = proxy.decide(req)
                if callable(action):
                    proxy.count("custom")
                    return action(self)
                proxy.count(action)
                if action in _ERRORS:
                    return self._error(*_ERRORS[action])
                if action == RESET_EARLY:
                    return self._reset()
                if action == DELAY:
                    time.sleep(random.uniform(*proxy.delay_s))
                self._forward(req, cut=action == RESET_MID)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

            def _error(self, status: int, reason: str, code: str, message: str) -> None:
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
                ).encode()
                self.send_response_only(status, reason)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(xml)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(xml)

            def _reset(self) -> None:
                """Drop the connection with a TCP RST, as a failing load balancer does."""
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    os.close(self.connection.detach())
                except OSError:
                    pass

            def _forward(self, req: ProxyRequest, cut: bool) -> None:
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=300)
                try:
                    conn.putrequest(req.method, req.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in req.headers.items():
                        if k.lower() not in _HOP_BY_HOP:
                            conn.putheader(k, v)
                    conn.endheaders(req.body or None)
                    resp = conn.getresponse()
                    data = resp.read()
                except OSError:
                    self._error(502, "Bad Gateway", "BadGateway", "the drill's upstream failed")
                    return
                finally:
                    conn.close()
                if cut and (not data or self.command == "HEAD"):
                    return self._reset()  # moto did the work; the client never hears of it
                self.send_response_only(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                declared = resp.getheader("Content-Length")
                self.send_header("Content-Length", declared if self.command == "HEAD" and declared else str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if cut:
                    self.wfile.write(data[: len(data) // 2])
                    return self._reset()
                self.wfile.write(data)

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:
                    pass

        return Handler


# -- moto and git plumbing --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"moto server did not start; see {log_path}")


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITFILER_", "AWS_", "GIT_"))}
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        HOME=str(home),
        GITFILER_HOME=str(tmp / "gitfiler-home"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Drill", GIT_AUTHOR_EMAIL="drill@example.com",
        GIT_COMMITTER_NAME="Drill", GIT_COMMITTER_EMAIL="drill@example.com",
        GIT_TERMINAL_PROMPT="0",
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        GITFILER_AUTOPUSH="0",
    )
    return env


@dataclass
class Outcome:
    code: int
    seconds: float
    stderr: str


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> Outcome:
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        return Outcome(-9, time.perf_counter() - started, f"killed after {timeout:.0f} s: {err.stderr or ''}")
    return Outcome(proc.returncode, time.perf_counter() - started, proc.stderr)


def must(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    out = run(cmd, cwd, env)
    if out.code != 0:
        raise SystemExit(f"setup step failed: {' '.join(cmd)} (exit {out.code})\n{out.stderr}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_source(tmp: Path, env: dict[str, str], big_mib: int, small: int, small_kib: int) -> tuple[Path, dict[str, str], set[str]]:
    """The repository every trial copies: (path, {work-tree path: sha256}, every object oid hex)."""
    src = tmp / "source"
    must(["git", "init", "-q", "-b", "main", str(src)], tmp, env)
    must(["git", "filer", "init", "--remote", str(tmp / "unused-local-remote")], src, env)
    rng = random.Random(7)
    files: dict[str, str] = {}
    big = src / "model.bin"
    with open(big, "wb") as f:
        for _ in range(big_mib):
            f.write(rng.randbytes(1 << 20))
    files["model.bin"] = sha256_file(big)
    (src / "data" / "small").mkdir(parents=True)
    for i in range(small):
        p = src / "data" / "small" / f"f{i:04d}.bin"
        p.write_bytes(rng.randbytes(small_kib * 1024))
        files[f"data/small/f{i:04d}.bin"] = sha256_file(p)
    must(["git", "filer", "add", "model.bin", "data/small"], src, env)
    must(["git", "add", "-A"], src, env)
    must(["git", "commit", "-qm", "drill workload"], src, env)
    cache = src / ".git" / "filer" / "objects" / "sha256"
    oids = {shard.name + obj.name for shard in cache.iterdir() if len(shard.name) == 2 for obj in shard.iterdir() if not obj.name.startswith(".")}
    return src, files, oids


# -- checks against moto directly -------------------------------------------------------------------


def s3_client(endpoint: str):
    import boto3
    import botocore.config

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}),
    )


def bucket_state(client, bucket: str, oids: set[str]) -> tuple[int, int, int]:
    """(objects missing, objects corrupt, open multipart uploads)."""
    missing = corrupt = 0
    for hexd in sorted(oids):
        key = f"proj/objects/sha256/{hexd[:2]}/{hexd[2:]}"
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except client.exceptions.NoSuchKey:
            missing += 1
            continue
        h = hashlib.sha256()
        for block in iter(lambda: body.read(1 << 20), b""):
            h.update(block)
        if h.hexdigest() != hexd:
            corrupt += 1
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return missing, corrupt, len(uploads)


def worktree_state(clone: Path, files: dict[str, str]) -> tuple[int, int]:
    """(files missing, files with wrong bytes)."""
    missing = wrong = 0
    for rel, digest in files.items():
        p = clone / rel
        if not p.is_file():
            missing += 1
        elif sha256_file(p) != digest:
            wrong += 1
    return missing, wrong


def drop_bucket(client, bucket: str) -> None:
    for up in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


# -- the drill ---------------------------------------------------------------------------------------


@dataclass
class RateResult:
    rate: float
    push_ok: int = 0
    pull_ok: int = 0
    silent: int = 0
    corrupt: int = 0
    orphans: int = 0
    push_s: list[float] = field(default_factory=list)
    pull_s: list[float] = field(default_factory=list)
    faults: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def trial(
    n: int, rate: float, seed: int, tmp: Path, env: dict[str, str], moto: str, src: Path, files: dict[str, str], oids: set[str],
    timeout: float, res: RateResult,
) -> None:
    client = s3_client(moto)
    bucket = f"drill-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    work = tmp / f"t-{int(rate * 100)}-{n}"
    try:
        with FaultProxy(moto, random_faults(rate, seed)) as proxy:
            repo = work / "repo"
            shutil.copytree(src, repo, symlinks=True)
            must(["git", "filer", "remote", "add", "drill", f"s3://{bucket}/proj", "--endpoint-url", proxy.url, "--default", "--local"], repo, env)
            push = run(["git", "filer", "push"], repo, env, timeout)
            missing, corrupt, open_uploads = bucket_state(client, bucket, oids)
            res.orphans += open_uploads
            res.corrupt += corrupt
            complete = push.code == 0 and not missing and not corrupt
            res.push_ok += complete
            if complete:
                res.push_s.append(push.seconds)
            if push.code == 0 and (missing or corrupt):
                res.silent += 1
                res.notes.append(f"push trial {n}: exit 0 with {missing} missing, {corrupt} corrupt")
            if push.code != 0:
                last = (push.stderr.strip().splitlines() or ["(no output)"])[-1]
                res.notes.append(f"push trial {n}: exit {push.code}, {missing} of {len(oids)} missing: {last[:160]}")
            if missing or corrupt:  # fill the bucket without faults so the pull is measured on its own
                fill_env = dict(env, GITFILER_S3_ENDPOINT_URL=moto)
                must(["git", "filer", "push"], repo, fill_env)

            clone = work / "clone"
            must(["git", "clone", "-q", str(repo), str(clone)], work, env)
            must(["git", "filer", "remote", "add", "drill", f"s3://{bucket}/proj", "--endpoint-url", proxy.url, "--default", "--local"], clone, env)
            pull = run(["git", "filer", "pull"], clone, env, timeout)
            gone, wrong = worktree_state(clone, files)
            res.corrupt += wrong
            ok = pull.code == 0 and not gone and not wrong
            res.pull_ok += ok
            if ok:
                res.pull_s.append(pull.seconds)
            if pull.code == 0 and (gone or wrong):
                res.silent += 1
                res.notes.append(f"pull trial {n}: exit 0 with {gone} missing, {wrong} wrong")
            if pull.code != 0:
                last = (pull.stderr.strip().splitlines() or ["(no output)"])[-1]
                res.notes.append(f"pull trial {n}: exit {pull.code}, {gone} missing: {last[:160]}")
            res.orphans += len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
            res.faults.update(proxy.counts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop_bucket(client, bucket)


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt_time(t: float | None, base: float | None) -> str:
    if t is None:
        return "—"
    ratio = f" ({t / base:.1f}×)" if base else ""
    return f"{t:.1f} s{ratio}"


def print_table(results: list[RateResult], trials: int) -> None:
    base = results[0] if results and results[0].rate == 0 else None
    bp, bl = (median(base.push_s), median(base.pull_s)) if base else (None, None)
    header = (
        f"{'rate':>5} | {'push complete':>13} | {'pull complete':>13} | {'silent':>6} | {'corrupt':>7} | {'orphans':>7} | "
        f"{'push median (vs 0%)':>20} | {'pull median (vs 0%)':>20} | faults injected / requests"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        total = sum(r.faults.values())
        injected = total - r.faults.get(PASS, 0)
        print(
            f"{r.rate * 100:>4.0f}% | {r.push_ok:>6}/{trials:<6} | {r.pull_ok:>6}/{trials:<6} | {r.silent:>6} | {r.corrupt:>7} | {r.orphans:>7} | "
            f"{fmt_time(median(r.push_s), bp):>20} | {fmt_time(median(r.pull_s), bl):>20} | {injected}/{total}"
        )
    for r in results:
        for note in r.notes:
            print(f"  {r.rate * 100:.0f}%: {note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--rates", default="0,10,25,50", help="fault rates in percent, comma-separated (0 first for the baseline)")
    ap.add_argument("--big-mib", type=int, default=64)
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--small-kib", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=900, help="seconds before a push or pull is killed and counted incomplete")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="8 MiB + 50 files, one trial")
    args = ap.parse_args(argv)
    if args.quick:
        args.big_mib, args.small, args.trials = 9, 50, 1
    rates = [float(x) / 100 for x in args.rates.split(",") if x.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="drill-s3-"))
    env = base_env(tmp)
    moto_proc, moto = start_moto(tmp / "moto.log")
    results: list[RateResult] = []
    try:
        src, files, oids = build_source(tmp, env, args.big_mib, args.small, args.small_kib)
        print(
            f"workload: 1 × {args.big_mib} MiB + {args.small} × {args.small_kib} KiB ({len(oids)} objects), "
            f"{args.trials} trial(s) per rate, faults: 503 SlowDown, 500 InternalError, reset (early / mid-body), delay",
            flush=True,
        )
        for rate in rates:
            res = RateResult(rate)
            for n in range(args.trials):
                trial(n, rate, args.seed * 1000 + int(rate * 100) * 10 + n, tmp, env, moto, src, files, oids, args.timeout, res)
                print(f"  rate {rate * 100:.0f}% trial {n + 1}/{args.trials}: push {res.push_ok} ok, pull {res.pull_ok} ok so far", flush=True)
            results.append(res)
    finally:
        moto_proc.terminate()
        try:
            moto_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            moto_proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print_table(results, args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
