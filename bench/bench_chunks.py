#!/usr/bin/env python3
"""Chunked objects benchmark (issue 14): what content-defined chunking saves when a large file
changes a little, and what it costs when it cannot help.

    python bench/bench_chunks.py                    # the issue's workloads at 1 GiB (~20 GiB of temp disk)
    python bench/bench_chunks.py --size-mib 128     # a quick run, every size scaled down by 8
    python bench/bench_chunks.py --no-s3            # local-directory remote only
    python bench/bench_chunks.py --sweep            # also: bytes and chunk counts for other chunk sizes
    python bench/bench_chunks.py --repeat 3         # three runs of each mode, ratios of the medians

Workloads (random data, each as v1 then v2; sizes scale with --size-mib, the default 1024):
  scattered  1 GiB, 1% of its bytes changed in 10 scattered places
  append     1 GiB, then 16 MiB appended (scaled: size/64)
  tensors    256 MiB safetensors-like (8-byte length, JSON header, tensors of 1-8 MiB) with 10%
             of the tensors changed and the header rewritten (scaled: size/4)
  new        1 GiB of new random bytes (nothing to share)

For each workload and remote (local directory, moto S3 over HTTP), the same steps run twice,
once with chunking ("chunked") and once with it off ("whole": CHUNK_THRESHOLD raised past the
file size, which is what gitfiler did before): `add` of v2, `push` of v2 to a remote holding
v1, and `pull` of v2 into a clone whose cache holds v1. Printed: bytes uploaded/downloaded for
v2, each step's time, and the S3 requests each push/pull made (counted by a botocore event hook
in this process). "hash+copy" is the time to copy the v2 file and SHA-256 it, the floor for `add`.
Each timed step starts after os.sync(), so the previous step's writeback is not timed with it.
Everything runs in this process through gitfiler's own functions (no CLI start-up in the times),
forgetting before each step which objects it already verified, as a new process would; git
plumbing (init, commit, checkout) runs as subprocesses outside the timed steps.
Every figure printed is measured by the run that prints it.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitfiler import chunks, cutpoints  # noqa: E402
from gitfiler.commands.add import add  # noqa: E402
from gitfiler.project import Project  # noqa: E402
from gitfiler.sync import pull, push  # noqa: E402

MIB = 1024 * 1024
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GITFILER_NO_HOOKS": "1", "GITFILER_AUTOPUSH": "0",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@e"}
REQUESTS: collections.Counter[str] = collections.Counter()
THRESHOLD = chunks.CHUNK_THRESHOLD


def sh(cwd: Path, *cmd: str) -> str:
    env = dict(os.environ, **GIT_ENV, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


# -- workloads ---------------------------------------------------------------------------------------


def rand(n: int, rng: random.Random) -> bytes:
    piece = 64 * MIB  # randbytes overflows past 256 MiB at once
    return b"".join(rng.randbytes(min(piece, n - i)) for i in range(0, n, piece))


def scattered(size: int, rng: random.Random) -> tuple[bytes, bytes]:
    v1 = bytearray(rand(size, rng))
    v2 = bytearray(v1)
    span = size // 1000  # 10 places x 0.1% = 1% of the bytes
    for i in range(10):
        off = (i * size) // 10 + rng.randrange(size // 10 - span)
        v2[off:off + span] = rand(span, rng)
    return bytes(v1), bytes(v2)


def append(size: int, rng: random.Random) -> tuple[bytes, bytes]:
    v1 = rand(size, rng)
    return v1, v1 + rand(max(MIB, size // 64), rng)


def safetensors_like(size: int, rng: random.Random) -> tuple[bytes, bytes]:
    tensors: list[bytes] = []
    total = 0
    while total < size:
        t = rand(rng.randint(1 * MIB, 8 * MIB) // 4 * 4, rng)
        tensors.append(t)
        total += len(t)

    def build(ts: list[bytes], meta: dict[str, str]) -> bytes:
        header: dict[str, object] = {"__metadata__": meta}
        off = 0
        for i, t in enumerate(ts):
            header[f"layer.{i}.weight"] = {"dtype": "F32", "shape": [len(t) // 4], "data_offsets": [off, off + len(t)]}
            off += len(t)
        h = json.dumps(header).encode()
        return len(h).to_bytes(8, "little") + h + b"".join(ts)

    v1 = build(tensors, {"format": "pt", "step": "1000"})
    changed = list(tensors)
    for i in rng.sample(range(len(tensors)), max(1, len(tensors) // 10)):
        changed[i] = rand(len(tensors[i]), rng)
    v2 = build(changed, {"format": "pt", "step": "2000", "note": "fine-tuned: header rewritten"})
    return v1, v2


def new_bytes(size: int, rng: random.Random) -> tuple[bytes, bytes]:
    return b"", rand(size, rng)


WORKLOADS: list[tuple[str, str, Callable[[int, random.Random], tuple[bytes, bytes]], int, str]] = [
    # name, description, builder, size divisor, target
    ("scattered", "1% changed in 10 places", scattered, 1, "v2 upload <= 5% of the file"),
    ("append", "16 MiB appended", append, 1, "v2 upload <= 2x the appended bytes"),
    ("tensors", "safetensors-like, 10% tensors + header", safetensors_like, 4, "v2 upload <= 15%"),
    ("new", "new random bytes", new_bytes, 1, "<= 5% slower than whole-file"),
]


# -- one run -----------------------------------------------------------------------------------------


@dataclass
class Step:
    seconds: float = 0.0
    bytes: int = 0
    requests: dict[str, int] = field(default_factory=dict)


@dataclass
class Run:
    add: Step
    push: Step
    pull: Step
    floor: float  # hash + copy of v2


def _measure(fn: Callable[[], int]) -> Step:
    os.sync()  # the previous step's dirty pages are written out before this one is timed, not during it
    REQUESTS.clear()
    t = time.perf_counter()
    moved = fn()
    return Step(time.perf_counter() - t, moved, dict(REQUESTS))


def hash_copy_floor(src: Path, scratch: Path) -> float:
    dest = scratch / "floor.tmp"
    os.sync()
    t = time.perf_counter()
    shutil.copyfile(src, dest)
    h = hashlib.sha256()
    with open(dest, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    took = time.perf_counter() - t
    dest.unlink()
    return took


def one_run(base: Path, remote_url: str, endpoint: str | None, v1: bytes, v2: bytes, chunked: bool) -> Run:
    chunks.CHUNK_THRESHOLD = THRESHOLD if chunked else 1 << 62
    work = base / "work"
    sh(base, "git", "init", "-q", "-b", "main", str(work))
    if endpoint:
        sh(work, "git", "filer", "init", "--no-hooks")
        sh(work, "git", "filer", "remote", "add", "team", remote_url, "--endpoint-url", endpoint, "--default", "--force")
    else:
        sh(work, "git", "filer", "init", "--no-hooks", "--remote", remote_url)
    project = Project.find(str(work))
    art = work / "model.bin"
    if v1:
        art.write_bytes(v1)
        add(project, [str(art)])
        sh(work, "git", "commit", "-qm", "v1")
        push(project, project.load_entries())
    os.chmod(art, 0o644) if art.exists() else None
    art.unlink(missing_ok=True)
    art.write_bytes(v2)
    floor = hash_copy_floor(art, base)
    step_add = _measure(lambda: (add(project, [str(art)]), 0)[1])
    sh(work, "git", "commit", "-qm", "v2")
    project.store.verified.clear()  # push runs in another process than add (the hook, or the user's next command)
    step_push = _measure(lambda: push(project, project.load_entries()).transfer.bytes)
    # A clone whose cache holds v1 (pulled at v1), then pulls v2.
    bare = base / "origin.git"
    sh(base, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    sh(work, "git", "push", "-q", str(bare), "main")
    clone = base / "clone"
    sh(base, "git", "clone", "-q", "-b", "main", str(bare), str(clone))
    if endpoint:
        sh(clone, "git", "filer", "remote", "add", "team", remote_url, "--endpoint-url", endpoint, "--default", "--force")
    cp = Project.find(str(clone))
    if v1:
        sh(clone, "git", "checkout", "-q", "HEAD~1")
        pull(cp, cp.load_entries())
        sh(clone, "git", "checkout", "-q", "main")
    cp.store.verified.clear()
    step_pull = _measure(lambda: pull(cp, cp.load_entries(), force=True).transfer.bytes)
    if hashlib.sha256((clone / "model.bin").read_bytes()).digest() != hashlib.sha256(v2).digest():
        raise SystemExit("pulled bytes differ from v2")
    return Run(step_add, step_push, step_pull, floor)


# -- S3 ----------------------------------------------------------------------------------------------


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
    raise SystemExit("moto server did not start")


def empty_bucket(client: object, bucket: str) -> None:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)  # type: ignore[attr-defined]
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])  # type: ignore[attr-defined]


def count_s3_requests() -> None:
    """Count every HTTP request (retries included) every S3Remote's client sends, by kind."""
    from gitfiler.remotes import s3

    original = s3.S3Remote.__init__

    def counting(self: s3.S3Remote, *a: object, **kw: object) -> None:
        original(self, *a, **kw)  # type: ignore[arg-type]

        def tally(request: object, **_: object) -> None:
            method = getattr(request, "method", "?")
            url = getattr(request, "url", "")
            REQUESTS["LIST" if method == "GET" and "list-type=2" in url else method] += 1

        self.client.meta.events.register("before-send.s3", tally)

    s3.S3Remote.__init__ = counting  # type: ignore[method-assign]


# -- chunk size sweep ----------------------------------------------------------------------------------

SWEEP = [(256 * 1024, 1 * MIB, 4 * MIB), (512 * 1024, 1 * MIB, 4 * MIB), (512 * 1024, 2 * MIB, 8 * MIB), (1 * MIB, 2 * MIB, 8 * MIB), (1 * MIB, 4 * MIB, 16 * MIB)]


def sweep(size_mib: int) -> None:
    """What each (min, avg, max) would upload for each workload's v2, and how many chunks (one
    PUT each when new) v2 has: chunking in memory only, no store, no remote. The chosen sizes run
    once more without the layout cut points (gitfiler/cutpoints.py), to show what they save."""
    print(f"\n== chunk size sweep (in memory; new bytes of v2 as % of v2, and v2's chunk count; --size-mib {size_mib})")
    loads = {n: build(size_mib * MIB // d, random.Random(zlib.crc32(n.encode()))) for n, _w, build, d, _t in WORKLOADS if n != "new"}
    saved = chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE
    layout = cutpoints.of
    try:
        for mn, av, mx, cuts in [(*s, True) for s in SWEEP] + [(*saved, False)]:
            chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE = mn, av, mx
            cutpoints.of = layout if cuts else (lambda _buf: [])
            row = []
            for n, (v1, v2) in loads.items():
                before = {c.oid for c in chunks.chunk_buffer(v1)}
                after = chunks.chunk_buffer(v2)
                new = sum(c.size for c in {c.oid: c for c in after if c.oid not in before}.values())
                row.append(f"{n} {new / len(v2):5.1%} ({len(after)} chunks)")
            mark = ("  <- chosen" if cuts else "  (FastCDC alone, no layout cut points)") if (mn, av, mx) == saved else ""
            print(f"min {human(mn):>9} avg {human(av):>8} max {human(mx):>8}:  " + "; ".join(row) + mark)
    finally:
        chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE = saved
        cutpoints.of = layout


# -- report ------------------------------------------------------------------------------------------


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def reqs(step: Step) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(step.requests.items())) or "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--no-s3", action="store_true")
    ap.add_argument("--only", help="comma-separated workload names")
    ap.add_argument("--tmp", default=None, help="scratch directory (default: the system temp dir)")
    ap.add_argument("--sweep", action="store_true", help="also compare chunk sizes (in memory) on the same workloads")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each mode, alternating which goes first; ratios are of the medians")
    args = ap.parse_args()
    os.environ.update(GIT_ENV)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    print(f"chunk sizes: min {human(chunks.MIN_SIZE)}, avg {human(chunks.AVG_SIZE)}, max {human(chunks.MAX_SIZE)}; threshold {human(chunks.CHUNK_THRESHOLD)}; "
          f"{os.cpu_count()} CPU(s); python {sys.version.split()[0]}")
    # "local": a directory on the cache's filesystem (large files go whole, as hard links);
    # "other-fs": one on another filesystem (/dev/shm here, standing in for another disk or a
    # NAS), where large files go as chunks.
    other_fs = "/dev/shm" if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(args.tmp or tempfile.gettempdir()).st_dev else None
    remotes = ["local"] + (["other-fs"] if other_fs else []) + ([] if args.no_s3 else ["s3"])
    moto = None
    client = None
    if "s3" in remotes:
        import boto3

        count_s3_requests()
        moto, endpoint = start_moto()
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    only = set(args.only.split(",")) if args.only else None
    try:
        for name, what, build, divisor, target in WORKLOADS:
            if only and name not in only:
                continue
            size = args.size_mib * MIB // divisor
            v1, v2 = build(size, random.Random(zlib.crc32(name.encode())))
            print(f"\n== {name}: {what}; v2 {human(len(v2))}; target: {target}")
            print(f"{'remote':<9}{'mode':<9}{'add s':>7}{'hash+copy s':>12}{'push s':>8}{'up bytes':>12}{'pull s':>8}{'down bytes':>12}  push requests / pull requests")
            for where in remotes:
                results: dict[str, list[Run]] = {"whole": [], "chunked": []}
                # Alternate which mode goes first, so neither always runs on a warmer or busier machine.
                order = [m for rep in range(args.repeat) for m in (("whole", "chunked") if rep % 2 == 0 else ("chunked", "whole"))]
                for mode in order:
                    with tempfile.TemporaryDirectory(prefix="gf-chunks-", dir=args.tmp) as tmp:
                        base = Path(tmp)
                        if where == "s3":
                            assert client is not None
                            bucket = f"b-{name}-{mode}"
                            client.create_bucket(Bucket=bucket)
                            r = one_run(base, f"s3://{bucket}/proj", endpoint, v1, v2, mode == "chunked")
                            empty_bucket(client, bucket)  # moto keeps everything in memory
                        elif where == "other-fs":
                            with tempfile.TemporaryDirectory(prefix="gf-chunks-remote-", dir=other_fs) as far:
                                r = one_run(base, str(Path(far) / "remote"), None, v1, v2, mode == "chunked")
                        else:
                            r = one_run(base, str(base / "remote"), None, v1, v2, mode == "chunked")
                    results[mode].append(r)
                    print(f"{where:<9}{mode:<9}{r.add.seconds:>7.2f}{r.floor:>12.2f}{r.push.seconds:>8.2f}{human(r.push.bytes):>12}{r.pull.seconds:>8.2f}"
                          f"{human(r.pull.bytes):>12}  {reqs(r.push)} / {reqs(r.pull)}")
                w, c = results["whole"], results["chunked"]

                def med(runs: list[Run], step: str) -> float:
                    return statistics.median(getattr(r, step).seconds for r in runs)

                print(f"{'':<9}{'ratio':<9}{med(c, 'add') / med(w, 'add'):>7.2f}{'':>12}{med(c, 'push') / med(w, 'push'):>8.2f}"
                      f"{c[-1].push.bytes / len(v2):>11.1%} {med(c, 'pull') / med(w, 'pull'):>8.2f}{c[-1].pull.bytes / len(v2):>11.1%}   "
                      f"(chunked / whole{f', medians of {args.repeat}' if args.repeat > 1 else ''}; bytes as % of v2)")
        if args.sweep:
            sweep(args.size_mib)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=10)


if __name__ == "__main__":
    main()
