#!/usr/bin/env python3
"""How many threads suit a local-directory remote? `git filer push` and a fresh `pull` of many
small objects (and a few large ones) against a local remote, with -j 1, 2, 4 and 16, beside
the physical work (copying the same files with one thread). Prints only what this run measured;
the default for local remotes (config.LOCAL_REMOTE_JOBS) is chosen from these figures.

    python bench/bench_jobs.py [--small 2000] [--size 4096] [--large 4] [--large-mib 64] [--runs 3]
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


def run(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def physical_copy(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    for root, _dirs, files in os.walk(src):
        out = dst / Path(root).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(os.path.join(root, name), out / name)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--large", type=int, default=4)
    ap.add_argument("--large-mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitfiler-bench-jobs-"))
    os.environ.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
                      GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GITFILER_HOME=str(work / "home"), GITFILER_AUTOPUSH="0",
                      PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    os.environ.pop("GITFILER_JOBS", None)
    try:
        print(f"{'workload':<28} {'step':<6} {'physical':>9} " + " ".join(f"{'-j ' + str(j):>8}" for j in (1, 2, 4, 16)))
        for label, count, size in ((f"{args.small} x {args.size} B", args.small, args.size), (f"{args.large} x {args.large_mib} MiB", args.large, args.large_mib << 20)):
            repo = work / "repo"
            remote = work / "remote"
            shutil.rmtree(repo, ignore_errors=True)
            subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
            subprocess.run(["git", "filer", "init", "-q", "--no-hooks", "--remote", str(remote)], cwd=repo, check=True)
            for i in range(count):
                p = repo / f"data/d{i % 20}/f{i}.bin"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(os.urandom(size))
            subprocess.run(["git", "filer", "add", "-q", "data"], cwd=repo, check=True)
            subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
            subprocess.run(["git", "commit", "-qm", "data"], cwd=repo, check=True)
            phys = statistics.median(physical_copy(repo / "data", work / f"copy{r}") for r in range(args.runs))
            for r in range(args.runs):
                shutil.rmtree(work / f"copy{r}")
            push: dict[int, float] = {}
            pull: dict[int, float] = {}
            for j in (1, 2, 4, 16):
                pushes, pulls = [], []
                for _ in range(args.runs):
                    shutil.rmtree(remote / "objects" / "sha256")
                    (remote / "objects" / "sha256").mkdir()
                    pushes.append(run(["git", "filer", "push", "-q", "-j", str(j)], repo))
                    clone = work / "clone"
                    shutil.rmtree(clone, ignore_errors=True)
                    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, env={**os.environ, "GITFILER_NO_HOOKS": "1"})
                    subprocess.run(["git", "filer", "remote", "add", "local", str(remote), "--force", "-q"], cwd=clone, check=True, capture_output=True)
                    pulls.append(run(["git", "filer", "pull", "-q", "-j", str(j)], clone))
                push[j], pull[j] = statistics.median(pushes), statistics.median(pulls)
            for step, figures in (("push", push), ("pull", pull)):
                best = min(figures, key=lambda k: figures[k])
                cells = " ".join(f"{figures[j]:>7.2f}{'*' if j == best else ' '}" for j in (1, 2, 4, 16))
                print(f"{label:<28} {step:<6} {phys:>8.2f}s {cells}")
        print("seconds, median of", args.runs, "runs; * fastest; physical = one-thread copy of the same files")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
