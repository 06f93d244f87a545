"""Hook timings for bench.py: no-op hooks, the pre-push gate over a long history,
and a branch switch that hydrates, beside plain git, git-lfs and DVC where installed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from types import ModuleType

ZERO = "0" * 40


def _registry(name: str, data: bytes) -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return f"version: 1\npath: {name}\nkind: file\noid: sha256:{oid}\nsize: {len(data)}\n".encode()


def _store(root: Path, data: bytes) -> None:
    h = hashlib.sha256(data).hexdigest()
    p = root / "objects/sha256" / h[:2] / h[2:]
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def _fast_import_history(b: ModuleType, repo: Path, commits: int, per_commit: int, objects: list[Path], lfs: bool = False) -> None:
    """Build `commits` commits, each changing `per_commit` pointer files, with git fast-import."""
    lines: list[bytes] = []
    has_tip = subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/heads/main"], cwd=repo, capture_output=True).returncode == 0
    for c in range(commits):
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer b <b@x> {1700000000 + c} +0000\n".encode())
        msg = f"commit {c}".encode()
        lines.append(f"data {len(msg)}\n".encode() + msg + b"\n")
        if c == 0 and has_tip:
            lines.append(b"from refs/heads/main^0\n")  # later commits chain on the branch within the stream
        for k in range(per_commit):
            data = f"artifact {k} version {c}\n".encode()
            if lfs:
                oid = hashlib.sha256(data).hexdigest()
                body = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
                path = f"models/m{k}.bin"
                for root in objects:
                    p = root / oid[:2] / oid[2:4] / oid
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_bytes(data)
            else:
                body = _registry(f"m{k}.bin", data)
                path = f"models/m{k}.bin.filer"
                for root in objects:
                    _store(root, data)
            lines.append(f"M 100644 inline {path}\n".encode())
            lines.append(f"data {len(body)}\n".encode() + body + b"\n")
        if c == 0 and lfs:
            attrs = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
            lines.append(b"M 100644 inline .gitattributes\n" + f"data {len(attrs)}\n".encode() + attrs + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(lines), check=True, env=b.env())
    b.sh(["git", "reset", "-q", "--hard", "main"], repo, extra={"GITFILER_NO_HOOKS": "1"})


def _best(b: ModuleType, cmd, cwd: Path, n: int = 7, extra: dict[str, str] | None = None) -> float:
    return min(b.sh(cmd, cwd, extra=extra) for _ in range(n))


def bench_noop(b: ModuleType) -> None:
    print("\n== hooks with nothing to do (cost over plain git)")
    plain = b.git_repo(b.WORK / "noop-plain")
    ours = b.git_repo(b.WORK / "noop-gf", b.WORK / "noop-gf-remote")
    for r in (plain, ours):
        (r / "README").write_text("x\n")
        b.sh(["git", "add", "README"], r)
        b.sh(["git", "commit", "-qm", "init"], r)
        b.sh(["git", "branch", "other"], r)
    (ours / "m.bin").write_bytes(os.urandom(1000))
    b.sh(["git", "filer", "add", "m.bin"], ours)
    b.sh(["git", "commit", "-qm", "artifact"], ours)
    b.sh(["git", "branch", "-f", "other"], ours)
    for label, cmd in [
        ("file checkout (git checkout -- README)", ["git", "checkout", "--", "README"]),
        ("branch switch changing no artifact", "git checkout -q other && git checkout -q main"),
        ("commit touching no registry file", ["git", "commit", "-q", "--allow-empty", "-m", "x"]),
    ]:
        t_plain = _best(b, cmd, plain)
        t_ours = _best(b, cmd, ours)
        if isinstance(cmd, str):  # two checkouts: report per hook run
            t_plain, t_ours = t_plain / 2, t_ours / 2
        b.row("hooks", f"no-op: {label}", f"+{(t_ours - t_plain) * 1000:.0f} ms", f"plain git {t_plain * 1000:.0f} ms (target <= +40 ms)")
    for r in (plain, ours):
        bare = r.parent / f"{r.name}.git"
        b.sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)], b.WORK)
        b.sh(["git", "push", "-q", str(bare), "main"], r)

    def push_empty(r: Path) -> float:
        b.sh(["git", "commit", "-q", "--allow-empty", "-m", "y"], r, extra={"GITFILER_NO_HOOKS": "1"})
        return b.sh(["git", "push", "-q", str(r.parent / f"{r.name}.git"), "main"], r)

    t_plain = min(push_empty(plain) for _ in range(7))
    t_ours = min(push_empty(ours) for _ in range(7))
    b.row("hooks", "no-op: push of a commit touching no registry file", f"+{(t_ours - t_plain) * 1000:.0f} ms", f"plain git {t_plain * 1000:.0f} ms (target <= +40 ms)")
    if b.LFS:
        lfs = b.git_repo(b.WORK / "noop-lfs")
        b.sh(["git", "lfs", "install", "--local"], lfs)
        (lfs / "README").write_text("x\n")
        b.sh(["git", "add", "README"], lfs)
        b.sh(["git", "commit", "-qm", "init"], lfs)
        t_lfs = _best(b, ["git", "checkout", "--", "README"], lfs)
        t_plain = _best(b, ["git", "checkout", "--", "README"], plain)
        b.row("hooks", "git-lfs no-op: file checkout", f"+{(t_lfs - t_plain) * 1000:.0f} ms")
    else:
        b.not_measured("hooks", "git-lfs no-op: file checkout", "git-lfs")
    if b.DVC:
        d = b.dvc_repo(b.WORK / "noop-dvc")
        b.sh([b.DVC, "install"], d)
        b.sh(["git", "commit", "-qm", "init"], d)
        (d / "README").write_text("x\n")
        b.sh(["git", "add", "README"], d)
        b.sh(["git", "commit", "-qm", "readme"], d, check=False)
        t_dvc = _best(b, ["git", "checkout", "--", "README"], d, n=3)
        t_plain = _best(b, ["git", "checkout", "--", "README"], plain)
        b.row("hooks", "dvc no-op: file checkout", f"+{(t_dvc - t_plain) * 1000:.0f} ms")
    else:
        b.not_measured("hooks", "dvc no-op: file checkout", "dvc")
    for p in (plain, ours):
        b.drop(p)


def bench_pre_push(b: ModuleType, commits: int = 1001, per_commit: int = 10) -> None:
    print(f"\n== pre-push of {commits:,} new commits x {per_commit} changed registry files")
    r = b.git_repo(b.WORK / "pp-gf", b.WORK / "pp-gf-remote")
    b.sh(["git", "add", "-A"], r)
    b.sh(["git", "commit", "-qm", "config"], r, extra={"GITFILER_NO_HOOKS": "1"})
    t = time.perf_counter()
    _fast_import_history(b, r, commits, per_commit, [r / ".git/filer", b.WORK / "pp-gf-remote"])
    print(f"  (built the history in {time.perf_counter() - t:.1f} s)")
    bare = b.WORK / "pp-gf.git"
    b.sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)], b.WORK)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=r, capture_output=True, text=True, env=b.env()).stdout.strip()
    stdin = f"refs/heads/main {head} refs/heads/main {ZERO}\n"

    def hook() -> float:
        e = b.env()
        t0 = time.perf_counter()
        subprocess.run(["git-filer", "hook", "pre-push", str(bare), str(bare)], cwd=r, input=stdin, text=True, env=e, check=True, capture_output=True)
        return time.perf_counter() - t0

    t_hook = min(hook() for _ in range(3))
    b.row("pre-push", f"gitfiler pre-push hook, {commits * per_commit:,} registry versions", f"{t_hook:.2f} s", "target <= git-lfs on the same history (below)")
    t_push_plain = b.sh(["git", "push", "-q", str(bare), "main"], r, extra={"GITFILER_NO_HOOKS": "1"})
    b.row("pre-push", "plain git push of that history (no hook)", f"{t_push_plain:.2f} s")
    n_commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=r, capture_output=True, text=True).stdout.strip()
    b.row("pre-push", "commits in the pushed history", n_commits)
    if b.LFS:
        lr = b.WORK / "pp-lfs"
        b.drop(lr)
        b.sh(["git", "init", "-q", "-b", "main", str(lr)], b.WORK)
        lbare = b.WORK / "pp-lfs.git"
        b.drop(lbare)
        b.sh(["git", "init", "-q", "--bare", "-b", "main", str(lbare)], b.WORK)
        b.sh(["git", "lfs", "install", "--local"], lr)
        _fast_import_history(b, lr, commits, per_commit, [lr / ".git/lfs/objects"], lfs=True)
        lhead = subprocess.run(["git", "rev-parse", "HEAD"], cwd=lr, capture_output=True, text=True, env=b.env()).stdout.strip()
        # git-lfs's standalone file transfer stores objects inside the bare repository.
        b.sh(["git", "config", "lfs.url", f"file://{lbare}"], lr)
        b.sh(["git", "remote", "add", "origin", str(lbare)], lr)
        line = f"refs/heads/main {lhead} refs/heads/main {ZERO}\n"

        def lfs_pre_push() -> tuple[float, subprocess.CompletedProcess[str]]:
            t0 = time.perf_counter()
            proc = subprocess.run(["git", "lfs", "pre-push", "origin", str(lbare)], cwd=lr, input=line, text=True, env=b.env(), capture_output=True)
            return time.perf_counter() - t0, proc

        lfs_pre_push()  # the first run uploads; time the runs where every object is already there, as for gitfiler
        t_lfs, proc = min((lfs_pre_push() for _ in range(3)), key=lambda r: r[0])
        if proc.returncode == 0:
            b.row("pre-push", "git-lfs pre-push, same history, objects already in its store", f"{t_lfs:.2f} s", b.versus(t_hook, t_lfs))
        else:
            b.row("pre-push", "git-lfs pre-push", "failed", proc.stderr.strip().splitlines()[-1][:60] if proc.stderr.strip() else "")
        b.drop(lr)
        b.drop(lbare)
    else:
        b.not_measured("pre-push", "git-lfs pre-push, same history", "git-lfs")
    b.drop(r)
    b.drop(bare)


def bench_switch(b: ModuleType, n: int = 200, size: int = 64 * 1024) -> None:
    print(f"\n== branch switch hydrating {n} x {size >> 10} KiB artifacts")
    r = b.git_repo(b.WORK / "sw-gf", b.WORK / "sw-gf-remote")
    for i in range(n):
        (r / "models").mkdir(exist_ok=True)
        (r / f"models/m{i}.bin").write_bytes(os.urandom(size))
    b.sh("git filer add models/*.bin", r)
    b.sh(["git", "commit", "-qm", "v1"], r)
    b.sh(["git", "checkout", "-qb", "v2"], r)
    for i in range(n):
        (r / f"models/m{i}.bin").write_bytes(os.urandom(size))
    b.sh("git filer add models/*.bin", r)
    b.sh(["git", "commit", "-qm", "v2"], r)

    def switch() -> float:
        b.sh(["git", "checkout", "-q", "main"], r)
        return b.sh(["git", "checkout", "-q", "v2"], r)

    t = min(switch() for _ in range(3))
    b.row("switch", f"gitfiler: git checkout hydrating {n} artifacts", f"{t:.2f} s", "target <= 0.25 s, and no slower than git-lfs (below)")
    b.drop(r)
    if b.LFS:
        lr = b.git_repo(b.WORK / "sw-lfs")
        b.sh(["git", "lfs", "install", "--local"], lr)
        b.sh(["git", "lfs", "track", "*.bin"], lr)
        (lr / "models").mkdir()
        for i in range(n):
            (lr / f"models/m{i}.bin").write_bytes(os.urandom(size))
        b.sh(["git", "add", "-A"], lr)
        b.sh(["git", "commit", "-qm", "v1"], lr)
        b.sh(["git", "checkout", "-qb", "v2"], lr)
        for i in range(n):
            (lr / f"models/m{i}.bin").write_bytes(os.urandom(size))
        b.sh(["git", "add", "-A"], lr)
        b.sh(["git", "commit", "-qm", "v2"], lr)

        def lswitch() -> float:
            b.sh(["git", "checkout", "-q", "main"], lr)
            return b.sh(["git", "checkout", "-q", "v2"], lr)

        tl = min(lswitch() for _ in range(3))
        b.row("switch", f"git-lfs: git checkout of {n} artifacts", f"{tl:.2f} s", b.versus(t, tl))
        b.drop(lr)
    else:
        b.not_measured("switch", f"git-lfs: git checkout of {n} artifacts", "git-lfs")
    if b.DVC:
        d = b.dvc_repo(b.WORK / "sw-dvc")
        b.sh([b.DVC, "install"], d)
        (d / "models").mkdir()
        for i in range(n):
            (d / f"models/m{i}.bin").write_bytes(os.urandom(size))
        b.sh(f"{b.DVC} add -q models/*.bin", d)
        b.sh(["git", "add", "-A"], d)
        b.sh(["git", "commit", "-qm", "v1"], d, check=False)
        b.sh(["git", "checkout", "-qb", "v2"], d)
        for i in range(n):
            (d / f"models/m{i}.bin").write_bytes(os.urandom(size))
        b.sh(f"{b.DVC} add -q models/*.bin", d)
        b.sh(["git", "add", "-A"], d)
        b.sh(["git", "commit", "-qm", "v2"], d, check=False)

        def dswitch() -> float:
            b.sh(["git", "checkout", "-q", "main"], d, check=False)
            return b.sh(["git", "checkout", "-q", "v2"], d, check=False)

        td = min(dswitch() for _ in range(2))
        b.row("switch", f"dvc (post-checkout hook): git checkout of {n} artifacts", f"{td:.2f} s", b.versus(t, td))
        b.drop(d)
    else:
        b.not_measured("switch", f"dvc (post-checkout hook): git checkout of {n} artifacts", "dvc")


def run(b: ModuleType) -> None:
    bench_noop(b)
    bench_pre_push(b)
    bench_switch(b)
