#!/usr/bin/env python3
"""`Filer.load` latency for a ~100 MiB pickled artifact: cold (from the remote), warm
(from the cache), beside plain `pickle.load` of the same file.

    python bench/bench_api.py [--size-mib 100]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gitfiler-bench-api-"))
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x", GITFILER_HOME=str(work / "home"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    os.environ.update(env)
    repo = work / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "filer", "init", "-q", "--no-hooks", "--remote", str(work / "remote")], cwd=repo, check=True)
    os.chdir(repo)
    from gitfiler import Filer

    # A model-like object: a dict of large float arrays as bytes (no numpy needed).
    n = args.size_mib
    model = {f"layer{i}": os.urandom(1024 * 1024) for i in range(n)}
    filer = Filer("models")
    path = filer.dump(model, "big", push=True)
    size = os.path.getsize(path)

    def plain() -> float:
        t = time.perf_counter()
        with open(path, "rb") as f:
            pickle.load(f)
        return time.perf_counter() - t

    def warm() -> float:
        t = time.perf_counter()
        Filer("models").load("big")
        return time.perf_counter() - t

    def cold() -> float:
        entry = filer._get("big")
        store = filer.project.store
        store.remove(entry.oid)
        if os.path.exists(path):
            os.unlink(path)
        t = time.perf_counter()
        Filer("models").load("big")
        return time.perf_counter() - t

    p = min(plain() for _ in range(args.runs))
    w = min(warm() for _ in range(args.runs))
    c = min(cold() for _ in range(args.runs))
    print(f"artifact: {size / 2**20:.0f} MiB pickle")
    print("| measure | time | vs pickle.load |\n|---|---|---|")
    print(f"| plain pickle.load of the file | {p * 1000:.0f} ms | 1.00x |")
    print(f"| Filer.load, warm (cache, verified) | {w * 1000:.0f} ms | {w / p:.2f}x |")
    print(f"| Filer.load, cold (local remote -> cache, verified) | {c * 1000:.0f} ms | {c / p:.2f}x |")
    os.chdir("/")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
