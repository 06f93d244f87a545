#!/usr/bin/env python3
"""`git filer model status` with 10 models over 10,000 git-tracked files, beside `git filer status`
on the same repository (issue 11 target: model status <= status + 20%).

Each model has a model artifact, a directory artifact of data, a git-tracked csv and a code
directory of 1,000 git-tracked files. Measured twice: everything unchanged, and after editing
one code file per model (so git compares content for those and `hash-object` runs).

    python bench/bench_models.py [--files 10000] [--models 10] [--runs 7]
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


def timed(cmd: list[str], cwd: Path, runs: int) -> float:
    subprocess.run(cmd, cwd=cwd, capture_output=True)  # warm the stat cache and the page cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000, help="git-tracked code files in all")
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="leave the repository in place (its path is printed) for profiling")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitfiler-bench-models-"))
    os.environ.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
                      GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GITFILER_HOME=str(work / "home"), GITFILER_AUTOPUSH="0",
                      PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    repo = work / "repo"
    try:
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        subprocess.run(["git", "filer", "init", "-q", "--no-hooks", "--remote", str(work / "remote")], cwd=repo, check=True)
        per = args.files // args.models
        for m in range(args.models):
            for i in range(per):
                p = repo / f"src/m{m}/pkg{i % 10}/f{i}.py"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"X = {m * per + i}\n")
            (repo / f"data/m{m}").mkdir(parents=True)
            (repo / f"data/m{m}/labels.csv").write_text(f"id,label\n{m},1\n")
            for i in range(100):
                (repo / f"data/m{m}/train/{i}.bin").parent.mkdir(parents=True, exist_ok=True)
                (repo / f"data/m{m}/train/{i}.bin").write_bytes(os.urandom(1024))
            (repo / f"models/m{m}.pt").parent.mkdir(parents=True, exist_ok=True)
            (repo / f"models/m{m}.pt").write_bytes(os.urandom(64 * 1024))
            (repo / f"models/m{m}.py").write_text("class M: pass\n")
        subprocess.run(["git", "filer", "add", "-q", *[f"data/m{m}/train" for m in range(args.models)], *[f"models/m{m}.pt" for m in range(args.models)]],
                       cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True)
        for m in range(args.models):
            subprocess.run(["git", "filer", "model", "register", f"m{m}", "--entry", f"models/m{m}.py:M", "--model", f"models/m{m}.pt",
                            "--data", f"data/m{m}/train", "--data", f"data/m{m}/labels.csv", "--code", f"src/m{m}"], cwd=repo, check=True, capture_output=True)
        tracked = len(subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout.split(b"\0")) - 1
        print(f"repository: {args.models} models, {tracked} git-tracked files, {2 * args.models} gitfiler artifacts; median of {args.runs} runs")
        rows = []
        for label in ("unchanged", f"1 code file edited per model ({args.models} in all)"):
            if label != "unchanged":
                for m in range(args.models):
                    (repo / f"src/m{m}/pkg0/f0.py").write_text("X = -1\n")
            model = timed(["git", "filer", "model", "status"], repo, args.runs)
            plain = timed(["git", "filer", "status"], repo, args.runs)
            rows.append((label, model, plain))
        print(f"{'case':<44} {'model status':>13} {'status':>9} {'ratio':>7}")
        for label, model, plain in rows:
            print(f"{label:<44} {model * 1000:>10.0f} ms {plain * 1000:>6.0f} ms {model / plain:>6.2f}x")
    finally:
        if args.keep:
            print(f"kept: {repo}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
