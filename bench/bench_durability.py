"""What fsync costs a local-directory remote: uploads with and without it, measured now.

A local-directory remote is often a NAS holding the team's only copy, so it fsyncs each
object before renaming it into place and each touched directory once per batch. This
prints the cost of that against the same uploads without it, for many small objects and
for one large one. Run: python bench/bench_durability.py [--small N] [--large-mib M]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from gitfiler.objects import ObjectStore
from gitfiler.remotes.local import LocalRemote
from gitfiler.transfer import upload


def fill_cache(root: str, small: int, large_mib: int) -> tuple[ObjectStore, list[str], list[str], dict[str, int]]:
    cache = ObjectStore(root)
    smalls = [cache.write_bytes(os.urandom(4096)).oid for _ in range(small)]
    big = cache.write_bytes(os.urandom(large_mib * 1024 * 1024)).oid if large_mib else None
    sizes = dict.fromkeys(smalls, 4096)
    if big:
        sizes[big] = large_mib * 1024 * 1024
    return cache, smalls, [big] if big else [], sizes


def timed_upload(cache: ObjectStore, oids: list[str], sizes: dict[str, int], durable: bool, jobs: int) -> float:
    dest = tempfile.mkdtemp(prefix="gf-remote-", dir=os.path.dirname(cache.root))
    try:
        remote = LocalRemote("bench", dest)
        remote.objects.durable = durable
        os.sync()
        started = time.perf_counter()
        result = upload(cache, remote, oids, sizes, jobs)
        remote.flush()
        elapsed = time.perf_counter() - started
        assert not result.failures, result.failures
        return elapsed
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large-mib", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gf-durability-")
    try:
        cache, smalls, bigs, sizes = fill_cache(os.path.join(work, "cache"), args.small, args.large_mib)
        print(f"{'workload':<28} {'no fsync':>10} {'fsync':>10} {'cost':>8}")
        for label, oids in ((f"{args.small} x 4 KiB", smalls), (f"1 x {args.large_mib} MiB", bigs)):
            if not oids:
                continue
            plain, synced = [], []
            for i in range(args.repeat):  # alternate the order so neither side always runs on a warm disk
                for durable in ((False, True) if i % 2 == 0 else (True, False)):
                    (synced if durable else plain).append(timed_upload(cache, oids, sizes, durable, args.jobs))
            a, b = statistics.median(plain), statistics.median(synced)
            print(f"{label:<28} {a:>9.2f}s {b:>9.2f}s {b / a:>7.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
