#!/usr/bin/env python3
"""gitfiler deploy benchmark (issue 10): deploy of a release beside `git filer clone` of the
same commit and beside the physical work, from a local-directory remote and from S3 (moto);
switch and rollback against the process start-up floor; `deploy verify --deep` against hashlib.

    python bench/bench_deploy.py              # the issue's workload: 1 GiB + 200 x 64 KiB (~9 GiB of temp disk)
    python bench/bench_deploy.py --quick      # 64 MiB + 200 x 64 KiB: a smoke run, about a minute
    python bench/bench_deploy.py --no-s3      # skip the moto S3 section

Every figure printed is measured by the run that prints it. The physical work is done here
with plain Python on the same files: hashlib over each object, os.sendfile for one copy
(local), or boto3 get_object streamed through hashlib into a file (S3). Read the ratios,
not the absolute times; on a shared machine expect noise (each deploy / clone / physical
figure is the best of --repeat runs, interleaved; switch, rollback and start-up are medians).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
GIT_FILER = str(BIN / "git-filer")
ROWS: list[tuple[str, str, str, str]] = []  # (section, measure, value, ratio / target)
WORK = Path(".")
EXTRA_ENV: dict[str, str] = {}  # the moto endpoint and test credentials, once moto runs
CHUNK = 4 << 20
RANGE = 64 << 20  # gitfiler's ranged-GET size for large S3 objects


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("GITFILER_", "AWS_", "GIT_"))}
    e.update(
        GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
        GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GIT_TERMINAL_PROMPT="0",
        PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]), GITFILER_HOME=str(WORK / "gitfiler-home"),
    )
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # measure an ordinary install, bytecode cached
    e.update(EXTRA_ENV)
    return e


def sh(cmd: list[str], cwd: Path, *, extra: dict[str, str] | None = None) -> float:
    e = env()
    e.update(extra or {})
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {cmd}\n{proc.stdout}\n{proc.stderr}")
    return dt


def settle() -> None:
    """Let the disk write back what earlier steps left dirty: deploy ends with a sync, and must
    not pay for the previous step's writes (nor the next step for its)."""
    os.sync()
    time.sleep(1)


def drop(path: Path) -> None:
    """Remove a tree, read-only release directories included."""
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        shutil.rmtree(path)


def row(section: str, measure: str, value: str, target: str = "") -> None:
    ROWS.append((section, measure, value, target))
    print(f"  {measure:<62} {value:>12}  {target}", flush=True)


def ratio(ours: float, base: float, what: str) -> str:
    return f"{ours / base:.2f}x {what}" if base > 0 else f"n/a x {what}"


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = os.urandom(CHUNK)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
        f.write(os.urandom(16))  # different files never share an oid


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def sendfile_copy(src: str, dest: str) -> None:
    with open(src, "rb") as s, open(dest, "wb") as d:
        size = os.fstat(s.fileno()).st_size
        offset = 0
        while offset < size:
            sent = os.sendfile(d.fileno(), s.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent


def files_under(root: Path) -> list[str]:
    return sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)


def best_of(n: int, steps: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run each step n times, interleaved (a burst of load from another tenant hits them alike), keep the best."""
    out: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(n):
        for name, step in steps.items():
            settle()
            out[name].append(step())
    return {k: min(v) for k, v in out.items()}


def median_cli(cmd: list[str], cwd: Path, n: int) -> float:
    return statistics.median(sh(cmd, cwd) for _ in range(n))


# -- the workload ---------------------------------------------------------------------------------


class Workload:
    """A repository whose commit `big` tracks models/big.bin (--type model) and data/ (--type data);
    release `big` is that commit, published to the `local` remote (and to `s3`); `big-b` is the same
    content under another name (for switching). Releases `small-a` / `small-b` (a 1 KiB `tiny`
    artifact, a later commit) are published to a remote of their own, so the big release's
    remotes hold its objects and nothing else."""

    def __init__(self, big: int, n_small: int, s3_url: str | None, endpoint: str | None) -> None:
        self.big, self.n_small = big, n_small
        self.src = WORK / "src"
        self.remote = WORK / "remote"
        self.small_remote = WORK / "remote-small"
        self.origin = WORK / "origin.git"
        self.s3_url = s3_url
        r = self.src
        sh(["git", "init", "-q", "-b", "main", str(r)], WORK)
        sh(["git", "filer", "init", "--remote", str(self.remote)], r)
        if s3_url and endpoint:
            sh(["git", "filer", "remote", "add", "s3", s3_url, "--endpoint-url", endpoint], r)
        write_random(r / "models" / "big.bin", big)
        (r / "data").mkdir()
        for i in range(n_small):
            (r / "data" / f"part-{i:04d}.bin").write_bytes(os.urandom(64 << 10))
        sh(["git", "filer", "add", "models/big.bin", "--type", "model", "--version", "1.0.0"], r)
        sh(["git", "filer", "add", "data/", "--type", "data"], r)
        quiet = {"GITFILER_NO_HOOKS": "1"}  # no post-commit upload: publish does the uploading here
        sh(["git", "commit", "-qm", "big"], r, extra=quiet)
        sh(["git", "branch", "big"], r)
        sh(["git", "filer", "release", "create", "big"], r)
        sh(["git", "filer", "release", "create", "big-b"], r)
        sh(["git", "filer", "release", "publish", "big", "-r", "local"], r)
        sh(["git", "filer", "release", "publish", "big-b", "-r", "local"], r)
        sh(["git", "clone", "-q", "--bare", "-b", "big", str(r), str(self.origin)], WORK)
        sh(["git", "filer", "remote", "add", "small", str(self.small_remote)], r)
        (r / "models" / "tiny.bin").write_bytes(os.urandom(1024))
        sh(["git", "filer", "add", "models/tiny.bin", "--type", "tiny", "--version", "1.0.0"], r)
        sh(["git", "commit", "-qm", "tiny"], r, extra=quiet)
        for name in ("small-a", "small-b"):
            sh(["git", "filer", "release", "create", name, "--component", "tiny"], r)
            sh(["git", "filer", "release", "publish", name, "-r", "small"], r)

    def publish_s3(self) -> None:
        sh(["git", "filer", "release", "publish", "big", "-r", "s3"], self.src)

    @property
    def label(self) -> str:
        return f"{self.big >> 20} MiB + {self.n_small} x 64 KiB"


def deploy(release: str, source: str, target: Path) -> float:
    return sh([GIT_FILER, "deploy", release, "--from", source, "--target", str(target)], WORK)


def clone(w: Workload, dest: Path, remote: str) -> float:
    return sh(["git", "filer", "clone", str(w.origin), str(dest), "-r", remote, "--no-hooks"], WORK)


# -- 1. local-directory remote -----------------------------------------------------------------------


def physical_local(remote: Path, out: Path) -> float:
    """Read every object of the remote, SHA-256 it, write one copy (sendfile)."""
    drop(out)
    out.mkdir()
    t = time.perf_counter()
    for i, f in enumerate(files_under(remote / "objects")):
        sha256_file(f)
        sendfile_copy(f, str(out / str(i)))
    return time.perf_counter() - t


def fsync_tree(root: Path) -> float:
    t = time.perf_counter()
    for f in files_under(root):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - t


def bench_local(w: Workload, repeat: int) -> None:
    print(f"\n== 1. deploy from a local-directory remote, cold object cache: {w.label}")
    target, dest, copy = WORK / "t-local", WORK / "clone-local", WORK / "phys-local"
    synced: list[float] = []

    def phys() -> float:
        s = physical_local(w.remote, copy)
        synced.append(s + fsync_tree(copy))  # the same copy made durable: deploy syncs before it switches
        drop(copy)
        return s

    def dep() -> float:
        drop(target)
        return deploy("big", str(w.remote), target)

    def cln() -> float:
        drop(dest)
        s = clone(w, dest, "local")
        drop(dest)
        return s

    got = best_of(repeat, {"physical": phys, "deploy": dep, "clone": cln})
    p, d, c = got["physical"], got["deploy"], got["clone"]
    ps = min(synced)
    row("local", "physical: read + sha256 + one copy (hashlib, sendfile)", f"{p:.2f} s")
    row("local", "physical, the copy then fsynced", f"{ps:.2f} s")
    row("local", "git-filer deploy big (cold cache)", f"{d:.2f} s", f"{ratio(d, p, 'physical')}; {ratio(d, ps, 'physical + fsync')}; {ratio(d, c, 'clone')}")
    row("local", "git filer clone of the same commit (cold cache)", f"{c:.2f} s", ratio(c, p, "physical"))
    # The deploy target stays: sections 3 and 4 use it.


# -- 2. S3 (moto) ----------------------------------------------------------------------------------


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("moto server did not start")


def physical_s3(client: object, bucket: str, prefix: str, out: Path, jobs: int, ranged: bool) -> float:
    """Every object under the prefix's objects/, `jobs` at a time: get_object streamed through sha256
    into a file; with `ranged`, objects over 64 MiB as gitfiler fetches them (HEAD, then 64 MiB
    ranges, 8 at a time, written in place, then the file hashed)."""
    drop(out)
    out.mkdir()
    t = time.perf_counter()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/objects/")  # type: ignore[attr-defined]
    objs = [(o["Key"], int(o["Size"])) for page in pages for o in page.get("Contents", [])]

    def streamed(dest: Path, key: str) -> None:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[attr-defined]
        h = hashlib.sha256()
        with open(dest, "wb") as f:
            for chunk in body.iter_chunks(1 << 20):
                h.update(chunk)
                f.write(chunk)

    def in_ranges(dest: Path, key: str) -> None:
        size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])  # type: ignore[attr-defined]
        with open(dest, "wb") as f:
            f.truncate(size)

            def span(start: int) -> None:
                stop = min(start + RANGE, size)
                body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}")["Body"]  # type: ignore[attr-defined]
                pos = start
                for chunk in body.iter_chunks(1 << 20):
                    os.pwrite(f.fileno(), chunk, pos)
                    pos += len(chunk)

            with cf.ThreadPoolExecutor(8) as pool:
                list(pool.map(span, range(0, size, RANGE)))
        sha256_file(str(dest))

    def one(i: int) -> None:
        key, size = objs[i]
        (in_ranges if ranged and size > RANGE else streamed)(out / str(i), key)

    with cf.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, range(len(objs))))
    return time.perf_counter() - t


def bench_s3(w: Workload, endpoint: str, repeat: int) -> None:
    import boto3

    assert w.s3_url
    print(f"\n== 2. deploy from S3 (moto server on 127.0.0.1; moto is the ceiling), cold object cache: {w.label}")
    bucket, _, prefix = w.s3_url.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    t = time.perf_counter()
    w.publish_s3()
    row("s3", "(setup) git filer release publish big -r s3", f"{time.perf_counter() - t:.2f} s")
    target, dest, copy = WORK / "t-s3", WORK / "clone-s3", WORK / "phys-s3"

    def phys() -> float:
        s = physical_s3(client, bucket, prefix, copy, 16, ranged=False)
        drop(copy)
        return s

    def phys_ranged() -> float:
        s = physical_s3(client, bucket, prefix, copy, 16, ranged=True)
        drop(copy)
        return s

    def dep() -> float:
        s = deploy("big", w.s3_url or "", target)
        drop(target)
        return s

    def cln() -> float:
        drop(dest)
        s = clone(w, dest, "s3")
        drop(dest)
        return s

    got = best_of(repeat, {"physical": phys, "ranged": phys_ranged, "deploy": dep, "clone": cln})
    p, pr, d, c = got["physical"], got["ranged"], got["deploy"], got["clone"]
    row("s3", "physical: boto3 get_object streamed + sha256 + write (16 threads)", f"{p:.2f} s")
    row("s3", "physical, objects > 64 MiB in 64 MiB ranges x 8 (gitfiler's requests)", f"{pr:.2f} s", ratio(pr, p, "one GET per object"))
    row("s3", "git-filer deploy big --from s3://... (cold cache)", f"{d:.2f} s", f"{ratio(d, p, 'physical')}; {ratio(d, pr, 'physical, ranged')}; {ratio(d, c, 'clone')}")
    row("s3", "git filer clone of the same commit, -r s3 (cold cache)", f"{c:.2f} s", ratio(c, p, "physical"))


# -- 3. switch and rollback ----------------------------------------------------------------------------


def bench_switch(w: Workload, runs: int) -> None:
    print(f"\n== 3. switch and rollback through the CLI (median of {runs})")
    small = WORK / "t-small"
    big = WORK / "t-local"  # `big` is live there since section 1
    deploy("big-b", str(w.remote), big)
    deploy("small-a", str(w.small_remote), small)
    deploy("small-b", str(w.small_remote), small)
    start = median_cli([GIT_FILER, "--version"], WORK, runs)
    row("switch", "process start-up: git-filer --version", f"{start * 1000:.0f} ms")
    for label, target, _first, second in (("1 KiB release", small, "small-a", "small-b"), (f"{w.label} release", big, "big", "big-b")):
        sw: list[float] = []
        rb: list[float] = []
        for _ in range(runs):
            # `second` is live; rollback returns to `first` (deployed before it); switch brings `second` back.
            rb.append(sh([GIT_FILER, "deploy", "rollback", "--target", str(target)], WORK))
            sw.append(sh([GIT_FILER, "deploy", "switch", second, "--target", str(target)], WORK))
        s, r = statistics.median(sw), statistics.median(rb)
        row("switch", f"deploy switch, {label}", f"{s * 1000:.0f} ms", f"{(s - start) * 1000:+.0f} ms over start-up")
        row("switch", f"deploy rollback, {label}", f"{r * 1000:.0f} ms", f"{(r - start) * 1000:+.0f} ms over start-up")
    drop(small)


# -- 4. verify --deep ---------------------------------------------------------------------------------------


def bench_verify(w: Workload, runs: int) -> None:
    print(f"\n== 4. deploy verify --deep vs hashlib over the same files (page cache warm, median of {runs})")
    target = WORK / "t-local"
    live = target / "current"
    files = files_under(live.resolve())
    size = sum(os.path.getsize(f) for f in files)

    def plain() -> float:
        t = time.perf_counter()
        for f in files:
            sha256_file(f)
        return time.perf_counter() - t

    cmd = [GIT_FILER, "deploy", "verify", "--deep", "--target", str(target)]
    sh(cmd, WORK)
    plain()  # both read from a warm page cache
    v: list[float] = []
    h: list[float] = []
    for _ in range(runs):
        v.append(sh(cmd, WORK))
        h.append(plain())
    start = median_cli([GIT_FILER, "--version"], WORK, 5)
    vm, hm = statistics.median(v), statistics.median(h)
    row("verify", f"hashlib.sha256 over the live release ({len(files)} files, {size >> 20} MiB), 1 thread", f"{hm:.2f} s", f"{size / hm / 1e6:.0f} MB/s")
    row("verify", "git-filer deploy verify --deep", f"{vm:.2f} s", f"{ratio(vm, hm, 'hashlib')} (target <= 1.2x)")
    row("verify", "  the same less process start-up (git-filer --version)", f"{vm - start:.2f} s", ratio(vm - start, hm, "hashlib"))


# -- main -----------------------------------------------------------------------------------------------


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    try:
        import moto

        moto_v = moto.__version__
    except ImportError:
        moto_v = "not installed"
    gf = subprocess.run([GIT_FILER, "--version"], capture_output=True, text=True).stdout.strip()
    return f"cores: {os.cpu_count()} ({model}); Python {platform.python_version()}; {platform.system()} {platform.release()}; {gf}; moto {moto_v}"


def main() -> None:
    global WORK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64 MiB instead of 1 GiB (a smoke run, about a minute)")
    ap.add_argument("--no-s3", action="store_true", help="skip the moto S3 section")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each deploy / clone / physical step, best kept (default 2, quick 1)")
    ap.add_argument("--runs", type=int, default=20, help="runs of switch, rollback and start-up, median kept (default 20)")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    q = args.quick
    big, n_small = (64 << 20, 200) if q else (1 << 30, 200)
    repeat = args.repeat or (1 if q else 2)
    WORK = Path(args.workdir or tempfile.mkdtemp(prefix="gitfiler-bench-deploy-"))
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"workdir {WORK}\n{machine()}")
    print("a shared machine: other tenants' load shows up as noise; read the ratios")
    moto_proc = None
    endpoint = s3_url = None
    started = time.perf_counter()
    try:
        if not args.no_s3:
            moto_proc, endpoint = start_moto()
            EXTRA_ENV.update(
                AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", GITFILER_S3_ENDPOINT_URL=endpoint,
            )
            import boto3

            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench").create_bucket(Bucket="bench")
            s3_url = "s3://bench/deploy"
        t = time.perf_counter()
        w = Workload(big, n_small, s3_url, endpoint)
        print(f"(setup: repository, add, commit, releases, publish to the local remote: {time.perf_counter() - t:.1f} s)")
        bench_local(w, repeat)
        bench_switch(w, args.runs)
        bench_verify(w, 3)
        if endpoint:
            bench_s3(w, endpoint, repeat)
        else:
            row("s3", "deploy, clone and physical from S3", "not measured (skipped: --no-s3)")
    finally:
        if moto_proc is not None:
            moto_proc.terminate()
            moto_proc.wait(timeout=10)
    print(f"\n{machine()}; workload {big >> 20} MiB + {n_small} x 64 KiB; best of {repeat} (transfers), median of {args.runs} (switch); total {time.perf_counter() - started:.0f} s")
    print("\n| section | measure | value | ratio |\n|---|---|---|---|")
    for s, m, v, tg in ROWS:
        print(f"| {s} | {m} | {v} | {tg} |")
    drop(WORK)


if __name__ == "__main__":
    main()
