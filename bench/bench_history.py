#!/usr/bin/env python3
"""`git filer diff --files` between two commits of a 10,000-file directory artifact (issue 11
target: <= 0.3 s) and `git filer log` over 1,000 commits (target: <= 1 s). Every figure printed
is measured by this run (median of --runs, after one warm-up); `dvc diff` is shown beside only
when dvc is installed, else "not measured".

    python bench/bench_history.py [--files 10000] [--commits 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def env(home: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
        GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GITFILER_HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    e.pop("GITFILER_CACHE_DIR", None)
    return e


def sh(cmd: list[str], cwd: Path, e: dict[str, str], stdin: str | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, input=stdin)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {cmd}\n{proc.stdout}\n{proc.stderr}")


def timed(cmd: list[str], cwd: Path, e: dict[str, str], runs: int) -> float:
    sh(cmd, cwd, e)  # warm-up: bytecode, page cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sh(cmd, cwd, e)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def diff_repo(base: Path, e: dict[str, str], files: int, *, dvc: str | None = None) -> Path:
    """Two commits of `data/` (1% of its files changed, 1% removed, 1% added), tracked by
    gitfiler, or by DVC when `dvc` is its executable: the same files, the same steps."""
    repo = base / ("diff-dvc" if dvc else "diff")
    sh(["git", "init", "-q", "-b", "main", str(repo)], base, e)
    if dvc:
        sh([dvc, "init", "-q"], repo, e)
        sh([dvc, "config", "core.autostage", "true"], repo, e)
        track = [dvc, "add", "-q", "data"]
    else:
        sh(["git", "filer", "init", "--remote", str(base / "remote")], repo, e)
        track = ["git", "filer", "add", "data"]
    data = repo / "data"
    data.mkdir()
    for i in range(files):
        (data / f"f{i:05d}.bin").write_bytes(f"file {i}\n".encode())
    sh(track, repo, e)
    sh(["git", "add", "-A"], repo, e)
    sh(["git", "commit", "-qm", "one"], repo, e)
    step = max(files // 100, 1)  # 1% changed, 1% removed, 1% added
    for i in range(0, files, step):
        (data / f"f{i:05d}.bin").write_bytes(f"changed {i}\n".encode())
        (data / f"f{i + 1:05d}.bin").unlink(missing_ok=True)
        (data / f"new{i:05d}.bin").write_bytes(f"new {i}\n".encode())
    sh(track, repo, e)
    sh(["git", "add", "-A"], repo, e)
    sh(["git", "commit", "-qm", "two"], repo, e)
    return repo


def dvc_bin() -> str | None:
    for cand in (os.environ.get("DVC"), shutil.which("dvc"), "/tmp/dvcvenv/bin/dvc"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def log_repo(base: Path, e: dict[str, str], commits: int) -> Path:
    from gitfiler.registry import Entry, dumps

    repo = base / "log"
    sh(["git", "init", "-q", "-b", "main", str(repo)], base, e)
    lines: list[str] = []
    for i in range(1, commits + 1):
        blob = dumps(Entry(registry="m.pt.filer", path="m.pt", kind="file", oid="sha256:" + f"{i:064x}", size=i, meta={"type": "model", "version": f"1.{i}"})).decode()
        lines += ["commit refs/heads/main", f"committer b <b@x> {1700000000 + i} +0000", f"data {len(f'c{i}')}", f"c{i}"]
        # Other files change too, as in a real history: the log must skip those commits cheaply.
        lines += ["M 100644 inline m.pt.filer", f"data {len(blob)}", blob, f"M 100644 inline src/x{i % 50}.py", f"data {len(str(i))}", str(i), ""]
    sh(["git", "fast-import", "--quiet"], repo, e, stdin="\n".join(lines) + "\n")
    sh(["git", "checkout", "-q", "main"], repo, e)
    return repo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--commits", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="gitfiler-bench-history-"))
    try:
        e = env(base / "home")
        repo = diff_repo(base, e, args.files)
        rows = [
            (f"diff --files HEAD~1 HEAD, {args.files:,}-file directory", timed(["git", "filer", "diff", "HEAD~1", "HEAD", "--files"], repo, e, args.runs), "<= 0.3 s"),
            (f"diff --files --json HEAD~1 HEAD, {args.files:,}-file directory", timed(["git", "filer", "diff", "HEAD~1", "HEAD", "--files", "--json"], repo, e, args.runs), "<= 0.3 s"),
            ("diff HEAD~1 HEAD (artifacts only)", timed(["git", "filer", "diff", "HEAD~1", "HEAD"], repo, e, args.runs), "-"),
        ]
        dvc = dvc_bin()
        dvc_row = "not measured (dvc not installed; set DVC=path/to/dvc)"
        if dvc:
            e_dvc = {**e, "DVC_NO_ANALYTICS": "1"}
            drepo = diff_repo(base, e_dvc, args.files, dvc=dvc)
            dvc_s = timed([dvc, "diff", "HEAD~1", "HEAD"], drepo, e_dvc, max(3, args.runs // 2))
            version = subprocess.run([dvc, "--version"], capture_output=True, text=True, env=e_dvc).stdout.strip()
            ours = rows[0][1]
            dvc_row = f"{dvc_s:>7.3f}s  dvc {version} lists files by default; gitfiler diff --files is {dvc_s / ours:.1f}x faster"
        repo = log_repo(base, e, args.commits)
        rows.append((f"log m.pt over {args.commits:,} commits", timed(["git", "filer", "log", "m.pt"], repo, e, args.runs), "<= 1 s"))
        rows.append((f"log m.pt --json over {args.commits:,} commits", timed(["git", "filer", "log", "m.pt", "--json"], repo, e, args.runs), "<= 1 s"))
        width = max(len(r[0]) for r in rows)
        print(f"{'measure':<{width}}  {'median':>8}  target")
        for name, seconds, target in rows:
            print(f"{name:<{width}}  {seconds:>7.3f}s  {target}")
        print(f"{'dvc diff, same data':<{width}}  {dvc_row}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
