#!/usr/bin/env python3
"""`git filer model status` with 10 models over 10,000 git-tracked files, beside `git filer status`
on the same repository (issue 11 target: model status <= status + 20%).

Each model has a model artifact, a directory artifact of data, a git-tracked csv and a code
directory of 1,000 git-tracked files. Measured with everything unchanged, after editing one code
file per model (so git compares content for those and `hash-object` runs), and on the first run
after git's index changed (its mtime moved before each run: the index is listed and models.yaml
read, not what an earlier run remembered; see docs/models.md). Each `model status` form runs in
alternation with `git filer status`, and the ratio is the median of the per-pair ratios.

    python bench/bench_models.py [--files 10000] [--models 10] [--runs 15]
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
from collections.abc import Callable
from pathlib import Path


def once(cmd: list[str], cwd: Path, before: Callable[[], None] | None = None) -> float:
    if before is not None:
        before()
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True)
    return time.perf_counter() - t


def paired(cmd: list[str], base: list[str], cwd: Path, runs: int, before: Callable[[], None] | None = None) -> tuple[float, float, float]:
    """(median of cmd, median of base, median of cmd/base over pairs run back to back, order alternating)."""
    once(cmd, cwd, before)  # warm the stat cache and the page cache
    once(base, cwd)
    ours, theirs, ratios = [], [], []
    for i in range(runs):
        if i % 2:
            b = once(base, cwd)
            a = once(cmd, cwd, before)
        else:
            a = once(cmd, cwd, before)
            b = once(base, cwd)
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000, help="git-tracked code files in all")
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="leave the repository in place (its path is printed) for profiling")
    ap.add_argument("--bin", metavar="DIR", help="put DIR first on PATH: the `git-filer` there is measured (e.g. another checkout's, for a before/after)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitfiler-bench-models-"))
    os.environ.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
                      GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GITFILER_HOME=str(work / "home"), GITFILER_AUTOPUSH="0",
                      PATH=os.pathsep.join([*([args.bin] if args.bin else []), str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
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
        print(f"repository: {args.models} models, {tracked} git-tracked files, {2 * args.models} gitfiler artifacts; "
              f"medians of {args.runs} runs, each beside a run of `git filer status`")
        index = repo / ".git" / "index"

        def index_changed() -> None:
            later = time.time_ns() - 1_000_000_000  # a second ago: not racy, and newer than before
            os.utime(index, ns=(later, later))

        status = ["git", "filer", "status"]
        forms = [("model status", ["git", "filer", "model", "status"], None), ("model status --json", ["git", "filer", "model", "status", "--json"], None),
                 ("model status m0 m1", ["git", "filer", "model", "status", "m0", "m1"], None)]
        rows = []
        for case in ("unchanged", f"1 code file edited per model ({args.models} in all)"):
            if case != "unchanged":
                for m in range(args.models):
                    (repo / f"src/m{m}/pkg0/f0.py").write_text("X = -1\n")
            for label, cmd, before in forms:
                rows.append((case, label, *paired(cmd, status, repo, args.runs, before)))
        rows.append(("edited, the index changed before each run", "model status", *paired(forms[0][1], status, repo, args.runs, index_changed)))
        print(f"{'case':<44} {'command':<20} {'model':>9} {'status':>9} {'ratio':>7}")
        for case, label, model, plain, ratio in rows:
            print(f"{case:<44} {label:<20} {model * 1000:>6.0f} ms {plain * 1000:>6.0f} ms {ratio:>6.2f}x")
    finally:
        if args.keep:
            print(f"kept: {repo}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
