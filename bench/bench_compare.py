#!/usr/bin/env python3
"""gitfiler beside DVC and git-lfs on the issue-13 workloads, all in one run.

    python bench/bench_compare.py              # W1 + W3 + W3 on S3, 3 rotated repetitions (~10 min)
    python bench/bench_compare.py --quick      # W1 500 files, W3 32 MiB: a smoke run
    python bench/bench_compare.py --only w1,s3 # sections: w1, w3, s3

W1 = 2,000 x 4 KiB random files in data/; W3 = one 256 MiB file + 100 x 64 KiB in data/.
Per tool (where installed) and workload: track, push to a local remote, no-op status,
fresh clone + hydrate, modify one small file + re-track + commit + push; W3 also push to and
clone + pull from moto S3 (gitfiler, DVC) beside raw boto3 GETs of the large object.
Each repetition rotates the tool order; the table prints medians. Every figure comes from
this run: a tool that is not installed gets "not measured".
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent  # the dev venv's git-filer sits beside its python
KIB = 1024
MIB = 1024 * KIB
GF, DVC, LFS = "gitfiler", "DVC", "git-lfs"
OFF = {"GITFILER_AUTOPUSH": "0"}  # push is measured on its own, never inside a commit


@dataclass
class Ctx:
    work: Path
    dvc: str | None
    lfs: bool
    endpoint: str = ""
    # (workload, step) -> tool -> seconds, one per repetition
    times: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    notes: set[str] = field(default_factory=set)  # how a peer did a step, seen in this run

    def record(self, workload: str, step: str, tool: str, seconds: float) -> None:
        self.times.setdefault((workload, step), {}).setdefault(tool, []).append(seconds)
        print(f"    {workload:<3} {step:<24} {tool:<9} {seconds:8.3f} s", flush=True)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        e = dict(os.environ)
        path = [str(BIN), os.environ.get("PATH", "")] + ([os.path.dirname(self.dvc)] if self.dvc else [])
        e.update(
            GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(self.work / "gitconfig"), GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
            GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", PATH=os.pathsep.join(path), DVC_NO_ANALYTICS="1",
            GITFILER_HOME=str(self.work / "gitfiler-home"), AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
        )
        for var in ("GITFILER_CACHE_DIR", "GITFILER_JOBS", "GITFILER_NO_HOOKS", "GITFILER_REMOTE", "AWS_PROFILE"):
            e.pop(var, None)
        # With it set, every start-up recompiles the tools' modules: not what users see.
        e.pop("PYTHONDONTWRITEBYTECODE", None)
        e.update(extra or {})
        return e

    def sh(self, cmd: Sequence[str], cwd: Path, extra: dict[str, str] | None = None, check: bool = True) -> float:
        t = time.perf_counter()
        proc = subprocess.run(list(cmd), cwd=cwd, env=self.env(extra), capture_output=True, text=True)
        dt = time.perf_counter() - t
        if check and proc.returncode != 0:
            raise SystemExit(f"benchmark step failed in {cwd}: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
        return dt

    def out(self, cmd: Sequence[str]) -> str:
        proc = subprocess.run(list(cmd), cwd=self.work, env=self.env(), capture_output=True, text=True)
        return (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else "unavailable"


def settle() -> None:
    """Let the disk write back what the last step left, so the next step does not pay for it."""
    os.sync()
    time.sleep(0.3)


def drop(path: Path) -> None:
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        shutil.rmtree(path)


def dvc_bin() -> str | None:
    for cand in (os.environ.get("DVC"), shutil.which("dvc"), "/tmp/dvcvenv/bin/dvc"):
        if cand and os.path.exists(cand):
            return cand
    return None


def write_random(path: Path, size: int) -> None:
    chunk = os.urandom(min(size, 4 * MIB))
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
        f.seek(0)  # a distinct head: no two files ever share an oid
        f.write(os.urandom(16))


def make_workload(root: Path, small: int, small_size: int, big: int) -> Path:
    data = root / "data"
    drop(root)
    data.mkdir(parents=True)
    if big:
        write_random(data / "big.bin", big)
    for i in range(small):
        (data / f"f{i:05d}.bin").write_bytes(os.urandom(small_size))
    os.sync()
    return data


def same_tree(expected: Path, got: Path) -> None:
    """An untimed check that a clone was really hydrated: names, sizes, and a few files' bytes."""
    want = sorted((p.name, p.stat().st_size) for p in expected.iterdir())
    have = sorted((p.name, p.stat().st_size) for p in got.iterdir()) if got.is_dir() else []
    if want != have:
        raise SystemExit(f"clone of {got} does not hold the workload (sizes or names differ)")
    for name, size in want[:2] + want[-1:]:
        if size <= 4 * MIB and (expected / name).read_bytes() != (got / name).read_bytes():
            raise SystemExit(f"clone of {got}: {name} differs")


def replace(path: Path, data: bytes) -> None:
    """Rewrite a file as editors do (new file, rename): the tools may have linked the old one."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- one tool, one repetition ---------------------------------------------------------------


@dataclass
class Tool:
    """The commands a user types for each step, per tool. The remote for local runs is a
    directory (gitfiler, DVC) or a bare git repository holding the LFS store (git-lfs)."""

    name: str
    ctx: Ctx

    def setup(self, repo: Path, remote: str, s3: bool) -> None:
        c = self.ctx
        c.sh(["git", "init", "-q", "-b", "main", str(repo)], c.work)
        if self.name == GF:
            c.sh(["git", "filer", "init", "-q", "--remote", str(c.work / "gf-unused-remote") if s3 else remote], repo)
            if s3:
                c.sh(["git", "filer", "remote", "add", "s3", remote, "--endpoint-url", c.endpoint, "--default"], repo)
        elif self.name == DVC:
            assert c.dvc
            c.sh([c.dvc, "init", "-q"], repo)
            c.sh([c.dvc, "config", "core.autostage", "true"], repo)
            c.sh([c.dvc, "remote", "add", "-d", "r", remote], repo)
            if s3:
                c.sh([c.dvc, "remote", "modify", "r", "endpointurl", c.endpoint], repo)
        else:
            c.sh(["git", "init", "-q", "--bare", "-b", "main", remote], c.work)
            c.sh(["git", "remote", "add", "origin", remote], repo)
            c.sh(["git", "lfs", "install", "--local"], repo)

    def track(self, repo: Path) -> float:
        c = self.ctx
        if self.name == GF:
            return c.sh(["git", "filer", "add", "-q", "data"], repo, OFF)
        if self.name == DVC:
            assert c.dvc
            return c.sh([c.dvc, "add", "-q", "data"], repo)
        return c.sh(["git", "lfs", "track", "data/**"], repo) + c.sh(["git", "add", ".gitattributes", "data"], repo)

    def commit(self, repo: Path, msg: str) -> float:
        return self.ctx.sh(["git", "commit", "-qm", msg], repo, OFF)

    def push(self, repo: Path) -> float:
        c = self.ctx
        if self.name == GF:
            return c.sh(["git", "filer", "push", "-q"], repo)
        if self.name == DVC:
            assert c.dvc
            return c.sh([c.dvc, "push", "-q"], repo)
        return c.sh(["git", "push", "-q", "origin", "main"], repo)

    def status(self, repo: Path) -> float:
        c = self.ctx
        if self.name == GF:
            cmd = ["git", "filer", "status"]
        elif self.name == DVC:
            assert c.dvc
            cmd = [c.dvc, "status", "-q"]
        else:
            cmd = ["git", "status"]
        c.sh(cmd, repo)  # the first call may build caches: a no-op status is the one after
        return min(c.sh(cmd, repo) for _ in range(3))

    def clone_hydrate(self, repo: Path, remote: str, dst: Path) -> float:
        c = self.ctx
        if self.name == LFS:
            return c.sh(["git", "clone", "-q", "-b", "main", remote, str(dst)], c.work)
        t = c.sh(["git", "clone", "-q", str(repo), str(dst)], c.work)
        if self.name == GF:
            return t + c.sh(["git", "filer", "pull", "-q"], dst)
        assert c.dvc
        return t + c.sh([c.dvc, "pull", "-q"], dst)

    def modify_push(self, repo: Path, victim: Path, size: int) -> float:
        replace(victim, os.urandom(size))
        c = self.ctx
        if self.name == GF:
            t = c.sh(["git", "filer", "add", "-q", "data"], repo, OFF)
        elif self.name == DVC:
            assert c.dvc
            t = c.sh([c.dvc, "add", "-q", "data"], repo)
        else:
            t = c.sh(["git", "add", "data"], repo)
        return t + self.commit(repo, "modify") + self.push(repo)


def run_local(ctx: Ctx, tool: Tool, wl: str, src: Path, victim_size: int) -> None:
    base = ctx.work / f"{wl}-{tool.name}"
    drop(base)
    base.mkdir()
    repo = base / "repo"
    remote = str(base / ("origin.git" if tool.name == LFS else "remote"))
    tool.setup(repo, remote, s3=False)
    subprocess.run(["cp", "-r", str(src), str(repo / "data")], check=True)
    settle()
    ctx.record(wl, "track", tool.name, tool.track(repo))
    ctx.sh(["git", "add", "-A"], repo, OFF)
    tool.commit(repo, "data")
    settle()
    ctx.record(wl, "push to local remote", tool.name, tool.push(repo))
    if tool.name == LFS:
        pushed = next((p for p in (Path(remote) / "lfs" / "objects").rglob("*") if p.is_file()), None)
        if pushed is not None and pushed.stat().st_nlink > 1:
            ctx.notes.add("git-lfs's push to a local path hard-links its objects into the remote's lfs/objects (link count > 1 in this run): it copies no bytes")
    settle()
    ctx.record(wl, "no-op status", tool.name, tool.status(repo))
    settle()
    clone = base / "clone"
    ctx.record(wl, "clone + hydrate", tool.name, tool.clone_hydrate(repo, remote, clone))
    same_tree(src, clone / "data")
    settle()
    smalls = sorted(p for p in (repo / "data").iterdir() if p.stat().st_size == victim_size)
    victim = smalls[len(smalls) // 2]
    ctx.record(wl, "modify 1 file + push", tool.name, tool.modify_push(repo, victim, victim_size))
    drop(base)
    settle()


def run_s3(ctx: Ctx, tool: Tool, src: Path, rep: int) -> None:
    base = ctx.work / f"s3-{tool.name}"
    drop(base)
    base.mkdir()
    repo = base / "repo"
    remote = f"s3://bench/{tool.name}-{rep}"
    tool.setup(repo, remote, s3=True)
    subprocess.run(["cp", "-r", str(src), str(repo / "data")], check=True)
    tool.track(repo)
    ctx.sh(["git", "add", "-A"], repo, OFF)
    tool.commit(repo, "data")
    settle()
    ctx.record("W3", "S3 push", tool.name, tool.push(repo))
    settle()
    clone = base / "clone"
    ctx.record("W3", "S3 clone + pull", tool.name, tool.clone_hydrate(repo, remote, clone))
    same_tree(src, clone / "data")
    drop(base)
    settle()


# -- S3: moto and raw boto3 -----------------------------------------------------------------


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


# (label, multipart_chunksize MiB, max_concurrency); 0 MiB = one plain streamed GET
SMALL = "100 x 64 KiB, 16 threads"
RAW_SETTINGS = [("one GET, streamed", 0, 1), ("8 MiB x 10 (boto3 default)", 8, 10), ("16 MiB x 8", 16, 8), ("32 MiB x 8", 32, 8), ("64 MiB x 4", 64, 4), ("128 MiB x 2", 128, 2)]


def raw_get_small(client: object, keys: list[str]) -> float:
    """The 100 small objects of W3, 16 at a time, into memory."""
    import concurrent.futures as cf

    t = time.perf_counter()
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.get_object(Bucket="raw", Key=k)["Body"].read(), keys))  # type: ignore[attr-defined]
    return time.perf_counter() - t


def raw_get(client: object, dst: Path, chunk_mib: int, conc: int) -> float:
    from boto3.s3.transfer import TransferConfig

    t = time.perf_counter()
    if chunk_mib == 0:
        body = client.get_object(Bucket="raw", Key="big")["Body"]  # type: ignore[attr-defined]
        with open(dst, "wb") as f:
            for part in body.iter_chunks(4 * MIB):
                f.write(part)
    else:
        cfg = TransferConfig(multipart_threshold=chunk_mib * MIB, multipart_chunksize=chunk_mib * MIB, max_concurrency=conc)
        client.download_file("raw", "big", str(dst), Config=cfg)  # type: ignore[attr-defined]
    dt = time.perf_counter() - t
    dst.unlink()
    return dt


# -- report ---------------------------------------------------------------------------------


def fmt(xs: list[float] | None) -> str:
    if not xs:
        return ""
    m = statistics.median(xs)
    return f"{m:.2f} s" if m >= 0.1 else f"{m * 1000:.0f} ms"


def verdict(ctx: Ctx, wl: str, step: str, peers: list[str]) -> tuple[str, str]:
    """(gitfiler vs the faster peer, targets with met / not met), from medians of this run."""
    cell = ctx.times.get((wl, step), {})
    if GF not in cell:
        return "", ""
    gf = statistics.median(cell[GF])
    measured = {p: statistics.median(cell[p]) for p in peers if p in cell}
    if not measured:
        return "no peer measured", ""
    name, best = min(measured.items(), key=lambda kv: kv[1])
    ratio = best / gf
    cmp = f"{ratio:.2f}x ({'faster' if ratio >= 1 else 'slower'} than {name})"
    targets = [f">= faster peer: {'met' if ratio >= 1 else 'NOT met'}"]
    if wl == "W1" and step in ("push to local remote", "clone + hydrate") and DVC in measured:
        r = measured[DVC] / gf
        targets.append(f">= 3x DVC: {'met' if r >= 3 else 'NOT met'} ({r:.1f}x)")
    return cmp, "; ".join(targets)


def print_table(ctx: Ctx, peers: list[str], missing: dict[str, str], raw: dict[str, list[float]], sizes: dict[str, int]) -> None:
    print("\n| step | DVC | git-lfs | gitfiler | gitfiler vs the faster of the two | target |\n|---|---|---|---|---|---|")
    for (wl, step), cell in ctx.times.items():
        cols = []
        for tool in (DVC, LFS, GF):
            if tool in cell:
                cols.append(fmt(cell[tool]))
            elif tool in missing:
                cols.append(f"not measured ({missing[tool]})")
            else:
                cols.append("n/a (no S3 remote)")
        cmp, target = verdict(ctx, wl, step, [p for p in peers if p in cell])
        print(f"| {wl} {step} | {' | '.join(cols)} | {cmp} | {target} |")
    for note in sorted(ctx.notes):
        print(f"note: {note}")
    pull = ctx.times.get(("W3", "S3 clone + pull"), {})
    if raw and GF in pull:
        print("\nraw boto3 GETs from the same moto server (medians):")
        for label, times in raw.items():
            what = "" if label == SMALL else f"the {sizes['big'] // MIB} MiB object, "
            print(f"  {what}{label}: {fmt(times)}")
        big_raw = {k: v for k, v in raw.items() if k != SMALL}
        best_label, best_times = min(big_raw.items(), key=lambda kv: statistics.median(kv[1]))
        raw_s = statistics.median(best_times)
        raw_rate = sizes["big"] / MIB / raw_s
        whole = raw_s + statistics.median(raw[SMALL])
        gf_rate = sizes["w3"] / MIB / statistics.median(pull[GF])
        print("S3 pull rate (W3 bytes / clone + pull time: the git clone, process start-up and the 100 small objects count against the tools):")
        whole_rate = sizes["w3"] / MIB / whole
        print(f"  raw boto3 GET of the {sizes['big'] // MIB} MiB object, best settings ({best_label}): {raw_rate:.0f} MiB/s; of all of W3 (+ the small ones): {whole_rate:.0f} MiB/s")
        ok = "met" if gf_rate >= 0.9 * raw_rate else "NOT met"
        print(f"  gitfiler: {gf_rate:.0f} MiB/s = {gf_rate / raw_rate:.0%} of raw boto3's large-object rate (target >= 90%: {ok}), {gf_rate / whole_rate:.0%} of its whole-W3 rate")
        if DVC in pull:
            dvc_rate = sizes["w3"] / MIB / statistics.median(pull[DVC])
            print(f"  DVC: {dvc_rate:.0f} MiB/s; gitfiler = {gf_rate / dvc_rate:.2f}x DVC's rate (target >= 1.2x: {'met' if gf_rate >= 1.2 * dvc_rate else 'NOT met'})")
        else:
            print(f"  DVC: not measured ({missing.get(DVC, '')})")


# -- main -----------------------------------------------------------------------------------


def rotated(tools: list[Tool], rep: int) -> list[Tool]:
    k = rep % len(tools)
    return tools[k:] + tools[:k]


def repeat(reps: int, tools: list[Tool], body: Callable[[Tool, int], None]) -> None:
    for rep in range(reps):
        order = rotated(tools, rep)
        print(f"  repetition {rep + 1}/{reps}: {', '.join(t.name for t in order)}", flush=True)
        for tool in order:
            body(tool, rep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="W1 500 files, W3 32 MiB (a smoke run)")
    ap.add_argument("--only", default="", help="comma list of: w1, w3, s3")
    ap.add_argument("--reps", type=int, default=3, help="repetitions, tool order rotated each time (default 3)")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    only = set(filter(None, args.only.lower().split(",")))
    if only - {"w1", "w3", "s3"}:
        ap.error(f"--only takes w1, w3, s3 (got {args.only})")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gitfiler-benchcmp-"))
    work.mkdir(parents=True, exist_ok=True)
    dvc = dvc_bin()
    lfs = subprocess.run(["git", "lfs", "version"], capture_output=True).returncode == 0
    ctx = Ctx(work, dvc, lfs)
    missing = {name: "not installed" for name, ok in ((DVC, dvc), (LFS, lfs)) if not ok}
    (work / "gitconfig").touch()
    if lfs:  # the smudge filter must be configured for a fresh clone to hydrate, as `git lfs install` does
        ctx.sh(["git", "lfs", "install", "--skip-repo"], work)

    n_w1, big = (500, 32 * MIB) if args.quick else (2000, 256 * MIB)
    print(f"workdir {work}; cpus {os.cpu_count()}; python {sys.version.split()[0]}")
    print(f"  {ctx.out(['git', '--version'])}; git-filer {shutil.which('git-filer', path=str(BIN)) or 'not found'}: {ctx.out(['git', 'filer', '--version'])}")
    print(f"  DVC: {ctx.out([dvc, '--version']) + ' (' + dvc + ')' if dvc else 'not installed'}; git-lfs: {ctx.out(['git', 'lfs', 'version']) if lfs else 'not installed'}")
    tools = [Tool(GF, ctx)] + ([Tool(DVC, ctx)] if dvc else []) + ([Tool(LFS, ctx)] if lfs else [])
    peers = [t.name for t in tools if t.name != GF]

    # A warm-up round on three files: bytecode caches written, every path checked once.
    tiny = make_workload(work / "src-tiny", 3, 4 * KIB, 0)
    for tool in tools:
        run_local(ctx, tool, "warm", tiny, 4 * KIB)
    ctx.times.clear()

    raw: dict[str, list[float]] = {}
    sizes = {"big": big, "w3": big + 100 * 64 * KIB}
    try:
        if not only or "w1" in only:
            print(f"\n== W1: {n_w1:,} x 4 KiB in data/")
            w1 = make_workload(work / "src-w1", n_w1, 4 * KIB, 0)
            repeat(args.reps, tools, lambda t, _r: run_local(ctx, t, "W1", w1, 4 * KIB))
            drop(w1.parent)
        if not only or only & {"w3", "s3"}:
            w3 = make_workload(work / "src-w3", 100, 64 * KIB, big)
            if not only or "w3" in only:
                print(f"\n== W3: {big // MIB} MiB + 100 x 64 KiB in data/, local remote")
                repeat(args.reps, tools, lambda t, _r: run_local(ctx, t, "W3", w3, 64 * KIB))
            if not only or "s3" in only:
                raw = bench_s3(ctx, tools, w3, args.reps)
            drop(w3.parent)
    finally:
        drop(work / "src-tiny")
    print_table(ctx, peers, missing, raw, sizes)
    shutil.rmtree(work, ignore_errors=True)


def bench_s3(ctx: Ctx, tools: list[Tool], w3: Path, reps: int) -> dict[str, list[float]]:
    import boto3
    from botocore.config import Config

    print(f"\n== W3 against S3 (moto server on 127.0.0.1); raw boto3 GET settings tried: {', '.join(s[0] for s in RAW_SETTINGS)}")
    for k, v in ctx.env().items():
        if k.startswith("AWS_"):
            os.environ[k] = v
    proc, ctx.endpoint = start_moto()
    raw: dict[str, list[float]] = {}
    try:
        client = boto3.client("s3", endpoint_url=ctx.endpoint, config=Config(max_pool_connections=32))
        for bucket in ("bench", "raw"):
            client.create_bucket(Bucket=bucket)
        client.upload_file(str(w3 / "big.bin"), "raw", "big")
        small_keys = [f"s/{p.name}" for p in sorted(w3.iterdir()) if p.name != "big.bin"]
        for key in small_keys:
            client.upload_file(str(w3 / key[2:]), "raw", key)
        s3_tools = [t for t in tools if t.name != LFS]
        for rep in range(reps):
            order = rotated(s3_tools, rep)
            print(f"  repetition {rep + 1}/{reps}: {', '.join(t.name for t in order)}, raw boto3", flush=True)
            for tool in order:
                run_s3(ctx, tool, w3, rep)
            for label, chunk, conc in RAW_SETTINGS:
                dt = raw_get(client, ctx.work / "raw.tmp", chunk, conc)
                raw.setdefault(label, []).append(dt)
                print(f"    W3  raw boto3 GET {label:<27} {dt:8.3f} s", flush=True)
                settle()
            dt = raw_get_small(client, small_keys)
            raw.setdefault(SMALL, []).append(dt)
            print(f"    W3  raw boto3 GET {SMALL:<27} {dt:8.3f} s", flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return raw


if __name__ == "__main__":
    main()
