#!/usr/bin/env python3
"""gitfiler benchmark: builds workloads in a temp dir and prints gitfiler beside the
physical work (hashing, copying), raw boto3, and DVC / git-lfs where installed.

    python bench/bench.py                 # everything (several minutes; needs ~6 GiB free)
    python bench/bench.py --quick         # smaller sizes, for a smoke run
    python bench/bench.py --only status,hooks

Figures are ratios measured side by side in one run; absolute times depend on the machine.
Every figure printed is measured by the run that prints it: a peer that is not installed
gets "not measured", never a number from elsewhere.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ROWS: list[tuple[str, str, str, str]] = []  # (section, measure, value, target)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
        GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x",
        # DVC's own hooks call `dvc`, which may live in a venv of its own: after ours on PATH.
        PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")] + ([os.path.dirname(DVC)] if DVC else [])),
        DVC_NO_ANALYTICS="1", GITFILER_HOME=str(WORK / "gitfiler-home"),
    )
    e.pop("GITFILER_CACHE_DIR", None)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # measure an ordinary install, bytecode cached
    return e


def sh(cmd: list[str] | str, cwd: Path, *, check: bool = True, extra: dict[str, str] | None = None) -> float:
    e = env()
    e.update(extra or {})
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, shell=isinstance(cmd, str))
    dt = time.perf_counter() - t
    if check and proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {cmd}\n{proc.stdout}\n{proc.stderr}")
    return dt


def best(fn: Callable[[], float], n: int = 5) -> float:
    return min(fn() for _ in range(n))


def peak_rss_mb(cmd: list[str], cwd: Path) -> float:
    """Peak RSS of `cmd` alone. Measured by /usr/bin/time where present: a child forked
    from this (large) benchmark process would report the parent's pages as its own."""
    if os.path.exists("/usr/bin/time"):
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark step failed: {cmd}\n{proc.stderr}")
        return int(proc.stderr.strip().splitlines()[-1]) / 1024
    proc2 = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc2.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark step failed: {cmd}")
    return usage.ru_maxrss / 1024


def settle() -> None:
    """Let the disk finish writing back and discarding what earlier sections left, so
    one section's cleanup does not slow the next one's file creation."""
    os.sync()
    time.sleep(3)


def row(section: str, measure: str, value: str, target: str = "") -> None:
    ROWS.append((section, measure, value, target))
    print(f"  {measure:<58} {value:>18}  {target}", flush=True)


def versus(ours: float, theirs: float) -> str:
    """gitfiler's time against a peer's, both measured in this run, in the direction it came out."""
    if ours <= 0 or theirs <= 0:
        return "gitfiler vs peer: n/a"
    if theirs >= ours:
        return f"gitfiler {theirs / ours:.1f}x faster"
    return f"gitfiler {ours / theirs:.1f}x slower"


def not_measured(section: str, measure: str, peer: str) -> None:
    """The row a peer would have had: said plainly, so no figure from elsewhere stands in for it."""
    row(section, measure, f"not measured ({SKIPPED[peer]})")


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = os.urandom(4 * 1024 * 1024)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
        # vary the tail so different files never share an oid
        f.write(os.urandom(16))


def hash_file(path: Path) -> float:
    t = time.perf_counter()
    h = hashlib.sha256()
    buf = bytearray(4 * 1024 * 1024)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return time.perf_counter() - t


def cp(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    return time.perf_counter() - t


def drop(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        shutil.rmtree(path)
        settle()


def git_repo(path: Path, remote: Path | None = None) -> Path:
    drop(path)
    sh(["git", "init", "-q", "-b", "main", str(path)], WORK)
    if remote is not None:
        sh(["git", "filer", "init", "--remote", str(remote)], path)
    return path


def dvc_bin() -> str | None:
    for cand in (os.environ.get("DVC"), shutil.which("dvc"), "/work/dvc-venv/bin/dvc", "/tmp/dvcvenv/bin/dvc"):
        if cand and os.path.exists(cand):
            return cand
    return None


def lfs_ok() -> bool:
    return subprocess.run(["git", "lfs", "version"], capture_output=True).returncode == 0


def dvc_repo(path: Path, remote: Path | str | None = None, s3_endpoint: str | None = None) -> Path:
    dvc = DVC
    assert dvc
    drop(path)
    sh(["git", "init", "-q", "-b", "main", str(path)], WORK)
    sh([dvc, "init", "-q"], path)
    sh([dvc, "config", "core.autostage", "true"], path)
    if remote is not None:
        sh([dvc, "remote", "add", "-d", "r", str(remote)], path)
        if s3_endpoint:
            sh([dvc, "remote", "modify", "r", "endpointurl", s3_endpoint], path)
    return path


# -- sections ------------------------------------------------------------------------------


def bench_add(size: int) -> None:
    print(f"\n== add of a {size >> 20} MiB file")
    src = WORK / "big-src.bin"
    write_random(src, size)
    hash_s = min(hash_file(src) for _ in range(2))
    cp_s = min(cp(src, WORK / "big-copy.bin") for _ in range(2))
    (WORK / "big-copy.bin").unlink()
    physical = hash_s + cp_s
    row("add", "physical: sha256 + cp", f"{physical:.2f} s", f"(hash {hash_s:.2f} + cp {cp_s:.2f})")

    def gitfiler_add() -> float:
        r = git_repo(WORK / "add-gf", WORK / "add-gf-remote")
        os.link(src, r / "big.bin")
        return sh(["git", "filer", "add", "big.bin"], r)

    gf = min(gitfiler_add() for _ in range(2))
    row("add", "gitfiler add", f"{gf:.2f} s", f"{gf / physical:.2f}x physical (target <= 1.3x)")
    if DVC:
        def dvc_add() -> float:
            r = dvc_repo(WORK / "add-dvc")
            os.link(src, r / "big.bin")
            return sh([DVC, "add", "-q", "big.bin"], r)

        d = min(dvc_add() for _ in range(2))
        row("add", "dvc add", f"{d:.2f} s", f"{versus(gf, d)} (target: faster)")
    else:
        not_measured("add", "dvc add", "dvc")
    if LFS:
        r = WORK / "add-lfs"
        drop(r)
        sh(["git", "init", "-q", "-b", "main", str(r)], WORK)
        sh(["git", "lfs", "install", "--local"], r)
        sh(["git", "lfs", "track", "*.bin"], r)
        os.link(src, r / "big.bin")
        lf = sh(["git", "add", "big.bin"], r)
        row("add", "git-lfs: git add (clean filter)", f"{lf:.2f} s", versus(gf, lf))
    else:
        not_measured("add", "git-lfs: git add (clean filter)", "git-lfs")
    drop(WORK / "add-gf")
    drop(WORK / "add-dvc")
    drop(WORK / "add-lfs")
    src.unlink()


def make_small_files(root: Path, n: int, size: int = 64, nested: bool = True) -> None:
    for i in range(n):
        sub = root / f"d{i // 1000:03d}" if nested else root
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:06d}.txt").write_bytes(f"{i}\n".encode().ljust(size, b"."))


def bench_status(counts: list[int]) -> None:
    print("\n== no-op status")
    py = best(lambda: sh([sys.executable, "-c", "pass"], WORK), 5)
    row("status", "python startup (floor)", f"{py * 1000:.0f} ms")
    base_10k = None
    for n in counts:
        r = git_repo(WORK / f"st-gf-{n}", WORK / f"st-gf-remote-{n}")
        make_small_files(r / "data", n)
        sh(["git", "filer", "add", "data"], r)
        sh(["git", "filer", "status"], r)
        gf = best(lambda: sh(["git", "filer", "status"], r))
        # The physical floor: a bare Python process that only walks and lstat()s the same tree.
        walk = "import os,sys\ndef w(p):\n for e in os.scandir(p):\n  w(e.path) if e.is_dir(follow_symlinks=False) else e.stat(follow_symlinks=False)\nw(sys.argv[1])"
        floor = best(lambda: sh([sys.executable, "-c", walk, str(r / "data")], r))
        row("status", f"physical: python start + walk + lstat of {n:,} files", f"{floor * 1000:.0f} ms")
        if n == 10_000:
            base_10k = gf
        target = "target <= 0.10 s" if n <= 10_000 else (f"target <= 10k + 0.3 s ({(base_10k or 0) + 0.3:.2f} s)" if base_10k else "")
        row("status", f"gitfiler status: {n:,} files as one directory", f"{gf * 1000:.0f} ms", f"{gf / floor:.1f}x physical; {target}")
        if DVC and n <= 10_000:
            d = dvc_repo(WORK / f"st-dvc-{n}")
            make_small_files(d / "data", n)
            sh([DVC, "add", "-q", "data"], d)
            sh([DVC, "status", "-q"], d, check=False)
            dv = best(lambda: sh([DVC, "status", "-q"], d, check=False), 3)
            row("status", f"dvc status: {n:,} files as one directory", f"{dv * 1000:.0f} ms", f"{versus(gf, dv)} (target >= 4x faster)")
            drop(d)
        elif not DVC:
            not_measured("status", f"dvc status: {n:,} files as one directory", "dvc")
        drop(r)
    n = 1000
    r = git_repo(WORK / "st-gf-sep", WORK / "st-gf-sep-remote")
    make_small_files(r / "models", n, nested=False)
    sh("git filer add models/*.txt", r)
    sh(["git", "filer", "status"], r)
    gf = best(lambda: sh(["git", "filer", "status"], r))
    row("status", f"gitfiler status: {n:,} separately tracked files", f"{gf * 1000:.0f} ms", "target <= 0.15 s")
    if DVC:
        d = dvc_repo(WORK / "st-dvc-sep")
        make_small_files(d / "models", n, nested=False)
        sh(f"{DVC} add -q models/*.txt", d)
        sh([DVC, "status", "-q"], d, check=False)
        dv = best(lambda: sh([DVC, "status", "-q"], d, check=False), 3)
        row("status", f"dvc status: {n:,} separately tracked files", f"{dv * 1000:.0f} ms", f"{versus(gf, dv)} (target >= 4x faster)")
        drop(d)
    else:
        not_measured("status", f"dvc status: {n:,} separately tracked files", "dvc")
    drop(r)


def gf_roundtrip(name: str, populate: Callable[[Path], None], remote_args: list[str], extra: dict[str, str] | None = None) -> tuple[float, float]:
    """(push seconds, clone + pull seconds) for gitfiler."""
    r = git_repo(WORK / f"{name}-src", WORK / f"{name}-local-remote")
    if remote_args:
        sh(["git", "filer", "remote", "add", "bench", *remote_args, "--default"], r)
    populate(r)
    sh(["git", "filer", "add", "data"], r)
    # No post-commit upload here: `git filer push` itself is what is measured.
    sh(["git", "commit", "-qm", "x"], r, extra={"GITFILER_NO_HOOKS": "1"})
    push = sh(["git", "filer", "push"], r, extra=extra)
    clone = WORK / f"{name}-clone"
    drop(clone)
    t = time.perf_counter()
    sh(["git", "clone", "-q", str(r), str(clone)], WORK)
    sh(["git", "filer", "pull"], clone, extra=extra)
    pull = time.perf_counter() - t
    drop(r)
    drop(clone)
    return push, pull


def dvc_roundtrip(name: str, populate: Callable[[Path], None], remote: str, s3_endpoint: str | None = None) -> tuple[float, float]:
    r = dvc_repo(WORK / f"{name}-dvc-src", remote, s3_endpoint)
    populate(r)
    sh([DVC, "add", "-q", "data"], r)
    sh(["git", "add", "-A"], r)
    sh(["git", "commit", "-qm", "x"], r)
    push = sh([DVC, "push", "-q"], r)
    clone = WORK / f"{name}-dvc-clone"
    drop(clone)
    t = time.perf_counter()
    sh(["git", "clone", "-q", str(r), str(clone)], WORK)
    sh([DVC, "pull", "-q"], clone)
    pull = time.perf_counter() - t
    drop(r)
    drop(clone)
    return push, pull


def bench_transfer_local(n_small: int, big: int, n_big: int) -> None:
    print("\n== push, then fresh clone + pull: local-directory remote")

    def small(r: Path) -> None:
        make_small_files(r / "data", n_small, size=4096)

    gp, gl = gf_roundtrip("small", small, [])
    row("local", f"gitfiler push {n_small:,} x 4 KiB", f"{gp:.2f} s")
    row("local", f"gitfiler clone + pull {n_small:,} x 4 KiB", f"{gl:.2f} s")
    if DVC:
        drop(WORK / "dvc-remote-small")
        dp, dl = dvc_roundtrip("small", small, str(WORK / "dvc-remote-small"))
        row("local", f"dvc push {n_small:,} x 4 KiB", f"{dp:.2f} s", f"{versus(gp, dp)} (target >= 3x faster)")
        row("local", f"dvc clone + pull {n_small:,} x 4 KiB", f"{dl:.2f} s", f"{versus(gl, dl)} (target >= 3x faster)")
        drop(WORK / "dvc-remote-small")
    else:
        not_measured("local", f"dvc push, clone + pull {n_small:,} x 4 KiB", "dvc")

    src = WORK / "bigsrc"
    drop(src)
    for i in range(n_big):
        write_random(src / f"w{i}.bin", big)
    files = sorted(src.iterdir())
    hash_s = sum(hash_file(f) for f in files)
    cp_s = sum(cp(f, WORK / "tmpcopy") for f in files)
    (WORK / "tmpcopy").unlink()
    physical_push = hash_s + cp_s  # hash + copy into the remote
    physical_pull = hash_s + 2 * cp_s  # hash + copy into the cache + copy into the work tree

    def bigs(r: Path) -> None:
        (r / "data").mkdir()
        for f in files:
            os.link(f, r / "data" / f.name)

    gp, gl = gf_roundtrip("big", bigs, [])
    row("local", f"physical: hash + copy of {n_big} x {big >> 20} MiB", f"{physical_push:.2f} s")
    row("local", f"gitfiler push {n_big} x {big >> 20} MiB", f"{gp:.2f} s", f"{gp / physical_push:.2f}x physical (hash + copy)")
    row("local", f"gitfiler clone + pull {n_big} x {big >> 20} MiB", f"{gl:.2f} s", f"{gl / physical_pull:.2f}x physical (hash + 2 copies; target <= 1.5x)")
    if DVC:
        drop(WORK / "dvc-remote-big")
        dp, dl = dvc_roundtrip("big", bigs, str(WORK / "dvc-remote-big"))
        row("local", f"dvc push {n_big} x {big >> 20} MiB", f"{dp:.2f} s", versus(gp, dp))
        row("local", f"dvc clone + pull {n_big} x {big >> 20} MiB", f"{dl:.2f} s", versus(gl, dl))
        drop(WORK / "dvc-remote-big")
    else:
        not_measured("local", f"dvc push, clone + pull {n_big} x {big >> 20} MiB", "dvc")
    drop(WORK / "big-local-remote")
    drop(WORK / "small-local-remote")


def start_moto() -> tuple[subprocess.Popen, str]:
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
    raise SystemExit("moto server did not start")


def bench_transfer_s3(n_small: int, big: int, n_big: int) -> None:
    print("\n== push, then fresh clone + pull: S3 (moto server on 127.0.0.1; moto is the ceiling)")
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    proc, endpoint = start_moto()
    try:
        client = boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=32))
        for b in ("raw", "gf-small", "gf-big", "dvc-small"):
            client.create_bucket(Bucket=b)

        # raw boto3, 16 threads, small objects
        payloads = [os.urandom(4096) for _ in range(n_small)]
        t = time.perf_counter()
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: client.put_object(Bucket="raw", Key=f"s/{i}", Body=payloads[i]), range(n_small)))
        raw_put = time.perf_counter() - t
        t = time.perf_counter()
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: client.get_object(Bucket="raw", Key=f"s/{i}")["Body"].read(), range(n_small)))
        raw_get = time.perf_counter() - t

        def small(r: Path) -> None:
            make_small_files(r / "data", n_small, size=4096)

        gp, gl = gf_roundtrip("s3small", small, ["s3://gf-small/p", "--endpoint-url", endpoint])
        row("s3", f"raw boto3 put_object x {n_small:,} (16 threads)", f"{raw_put:.2f} s", f"{n_small / raw_put:.0f} requests/s")
        row("s3", f"gitfiler push {n_small:,} x 4 KiB", f"{gp:.2f} s", f"{raw_put / gp:.0%} of raw rate (target >= 90%)")
        row("s3", f"raw boto3 get_object x {n_small:,} (16 threads)", f"{raw_get:.2f} s", f"{n_small / raw_get:.0f} requests/s")
        row("s3", f"gitfiler clone + pull {n_small:,} x 4 KiB", f"{gl:.2f} s", f"{raw_get / gl:.0%} of raw rate (target >= 90%)")
        if DVC:
            dp, dl = dvc_roundtrip("s3small", small, "s3://dvc-small/p", endpoint)
            row("s3", f"dvc push {n_small:,} x 4 KiB", f"{dp:.2f} s", versus(gp, dp))
            row("s3", f"dvc clone + pull {n_small:,} x 4 KiB", f"{dl:.2f} s", versus(gl, dl))
        else:
            not_measured("s3", f"dvc push, clone + pull {n_small:,} x 4 KiB", "dvc")

        src = WORK / "s3bigsrc"
        drop(src)
        for i in range(n_big):
            write_random(src / f"w{i}.bin", big)
        files = sorted(src.iterdir())
        tc = TransferConfig()
        t = time.perf_counter()
        for f in files:
            client.upload_file(str(f), "raw", f"b/{f.name}", Config=tc)
        raw_up = time.perf_counter() - t
        t = time.perf_counter()
        for f in files:
            client.download_file("raw", f"b/{f.name}", str(WORK / "dl.tmp"), Config=tc)
        raw_down = time.perf_counter() - t
        # The same with gitfiler's part size (64 MiB): moto re-reads the whole object for each
        # ranged GET, so boto3's default 8 MiB parts are slow against it.
        ours = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=8)
        t = time.perf_counter()
        for f in files:
            client.download_file("raw", f"b/{f.name}", str(WORK / "dl.tmp"), Config=ours)
        raw_down_64 = time.perf_counter() - t
        (WORK / "dl.tmp").unlink()

        def bigs(r: Path) -> None:
            (r / "data").mkdir()
            for f in files:
                os.link(f, r / "data" / f.name)

        gp, gl = gf_roundtrip("s3big", bigs, ["s3://gf-big/p", "--endpoint-url", endpoint])
        row("s3", f"raw boto3 upload_file {n_big} x {big >> 20} MiB", f"{raw_up:.2f} s")
        row("s3", f"gitfiler push {n_big} x {big >> 20} MiB", f"{gp:.2f} s", f"{raw_up / gp:.0%} of raw rate (target >= 90%)")
        row("s3", f"raw boto3 download_file {n_big} x {big >> 20} MiB", f"{raw_down:.2f} s")
        row("s3", "raw boto3 download_file, 64 MiB parts", f"{raw_down_64:.2f} s")
        row("s3", f"gitfiler clone + pull {n_big} x {big >> 20} MiB", f"{gl:.2f} s", f"{raw_down / gl:.0%} of raw rate, {raw_down_64 / gl:.0%} of 64 MiB-part rate (target >= 90%)")
        drop(src)
    finally:
        proc.terminate()


def bench_memory(small: int, large: int) -> None:
    print("\n== peak RSS of `git filer add` and `git filer pull`")
    out = {}
    for size in (small, large):
        r = git_repo(WORK / f"mem-{size}", WORK / f"mem-remote-{size}")
        write_random(r / "f.bin", size)
        add = peak_rss_mb([str(BIN / "git-filer"), "add", "f.bin"], r)
        sh(["git", "filer", "push"], r)
        os.unlink(r / "f.bin")
        subprocess.run(["chmod", "-R", "u+w", str(r / ".git/filer/objects")])
        shutil.rmtree(r / ".git/filer/objects")
        pull = peak_rss_mb([str(BIN / "git-filer"), "pull"], r)
        out[size] = (add, pull)
        row("memory", f"peak RSS, {size >> 20} MiB file: add / pull", f"{add:.0f} / {pull:.0f} MB")
        drop(r)
        drop(WORK / f"mem-remote-{size}")
    d_add = out[large][0] - out[small][0]
    d_pull = out[large][1] - out[small][1]
    row("memory", f"growth {small >> 20} MiB -> {large >> 20} MiB: add / pull", f"{d_add:+.0f} / {d_pull:+.0f} MB", "target <= +50 MB")


def bench_hooks() -> None:
    """Hook timings are added by the hooks work (bench_hooks.py) when present."""
    hooks = HERE / "bench_hooks.py"
    if hooks.exists():
        import importlib.util

        spec = importlib.util.spec_from_file_location("bench_hooks", hooks)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        mod.run(sys.modules[__name__])


def main() -> None:
    global WORK, DVC, LFS, SKIPPED
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--only", default="", help="comma list of: add,status,local,s3,memory,hooks,compare")
    ap.add_argument("--no-dvc", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    WORK = Path(args.workdir or tempfile.mkdtemp(prefix="gitfiler-bench-"))
    WORK.mkdir(parents=True, exist_ok=True)
    DVC = None if args.no_dvc else dvc_bin()
    LFS = lfs_ok()
    SKIPPED = {"dvc": "skipped: --no-dvc" if args.no_dvc else "not installed", "git-lfs": "not installed"}
    only = set(filter(None, args.only.split(",")))
    q = args.quick
    print(f"workdir {WORK}; dvc: {DVC or SKIPPED['dvc']}; git-lfs: {'yes' if LFS else SKIPPED['git-lfs']}; cpus: {os.cpu_count()}")
    if not only or "add" in only:
        bench_add(64 << 20 if q else 1 << 30)
    if not only or "status" in only:
        bench_status([1000] if q else [10_000, 100_000])
    if not only or "local" in only:
        bench_transfer_local(500 if q else 5000, 16 << 20 if q else 256 << 20, 3)
    if not only or "s3" in only:
        bench_transfer_s3(300 if q else 5000, 16 << 20 if q else 256 << 20, 3)
    if not only or "memory" in only:
        bench_memory(64 << 20, 256 << 20 if q else 1 << 30)
    if not only or "hooks" in only:
        bench_hooks()
    if not only or "compare" in only:
        # The issue-13 table (W1, W3, W3 on S3) beside DVC and git-lfs, medians of rotated
        # repetitions: bench_compare.py prints it measured in this same run.
        print("\n== side by side with DVC and git-lfs (bench_compare.py)", flush=True)
        extra = {"DVC": DVC} if DVC else {}
        subprocess.run([sys.executable, str(HERE / "bench_compare.py"), *(["--quick"] if q else [])], env={**os.environ, **extra}, check=False)
    print("\n| section | measure | value | ratio / target |\n|---|---|---|---|")
    for s, m, v, t in ROWS:
        print(f"| {s} | {m} | {v} | {t} |")
    shutil.rmtree(WORK, ignore_errors=True)


WORK = Path(".")
DVC: str | None = None
LFS = False
SKIPPED: dict[str, str] = {"dvc": "not installed", "git-lfs": "not installed"}  # why a peer's rows say "not measured"

if __name__ == "__main__":
    main()
