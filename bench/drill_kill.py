#!/usr/bin/env python3
"""kill drill: interrupt gitfiler operations at random moments, then prove nothing is lost or left behind.

For each operation (add; push to a local-directory remote and to moto S3; pull in a fresh
clone from both; a branch switch hydrated by the post-checkout hook) the drill measures the
normal duration, then N times starts it afresh and kills its whole process group (SIGKILL,
or SIGTERM in a share of the trials) at a uniformly random moment within that duration.
After each kill it inspects:

- the cache and the remote: every object present hashes to its name;
- the work tree: every artifact file is absent, the old content or the new content, never
  partial (sha256 against what the drill itself wrote); for `add` and `push` the user's files
  must be untouched;
- stray files: nothing new in `git status --porcelain --ignored -uall`, no `.tmp-*` anywhere
  in the work tree, no file inside a tracked directory that belongs to neither version;
- locks: git's own `*.lock` (a SIGKILLed git leaves `index.lock`: counted apart, removed as git
  advises) and lock files or records of gitfiler's (cache, remote);

then re-runs the operation to completion (it must succeed and leave exactly the new state),
looks for temp files under `.git/filer` that survived that successful re-run, and verifies a
fresh clone + `git filer pull` byte for byte.

    python bench/drill_kill.py                  # 100 trials per operation, within --budget (15 min)
    python bench/drill_kill.py --quick          # 10 trials per operation
    python bench/drill_kill.py --ops pull-local,checkout --trials 40 --budget 600

Every figure printed is measured in that run. Exit status: 0 when every failure column is 0,
1 otherwise, 2 when the drill could not set itself up.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
OPS = ("add", "push-local", "push-s3", "pull-local", "pull-s3", "checkout")
OBJ_RE = re.compile(r"^objects/sha256/[0-9a-f]{2}/[0-9a-f]{62}$")
TEMP_PREFIX = ".tmp-"
MiB = 1 << 20

# Failure columns: each counts the trials in which the problem was seen.
FAILURES = ("partial", "corrupt", "wt_temps", "cache_temps", "blocking_locks", "rerun_failed", "fresh_failed")
HEADERS = {
    "partial": "partial files", "corrupt": "corrupt objects", "wt_temps": "stray temps in work tree",
    "cache_temps": "stray temps in cache", "blocking_locks": "blocking locks", "rerun_failed": "failed re-runs",
    "fresh_failed": "failed fresh-clone verifications",
}
# Measured too, but not failures by the drill's rules (see bench/README.md).
INFO = ("term_hung", "cache_temps_after_kill", "remote_junk", "lock_files", "git_locks", "needed_pull", "orphan_mpu")
INFO_HEADERS = {
    "term_hung": "SIGTERM: still alive at 10 s", "cache_temps_after_kill": "cache temps right after kill",
    "remote_junk": "non-objects left in remote", "lock_files": "gitfiler lock files after kill",
    "git_locks": "git's own *.lock left", "needed_pull": "re-run needed 'git filer pull'",
    "orphan_mpu": "S3 multipart uploads left",
}


class SetupError(Exception):
    """The drill cannot prepare its fixture: not a finding about gitfiler."""


# -- environment and processes -------------------------------------------------------------------


def pinned_env(work: Path) -> dict[str, str]:
    """Like tests/conftest.py: no system/global git config, fixed identity, HOME and GITFILER_HOME in the temp dir."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("GITFILER_", "GIT_", "AWS_"))}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        e.pop(var, None)
    (work / "home").mkdir(exist_ok=True)
    (work / "gitfiler-home").mkdir(exist_ok=True)
    e.update(
        PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
        HOME=str(work / "home"), GITFILER_HOME=str(work / "gitfiler-home"),
        GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Drill", GIT_AUTHOR_EMAIL="drill@example.com",
        GIT_COMMITTER_NAME="Drill", GIT_COMMITTER_EMAIL="drill@example.com",
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, NO_PROXY="127.0.0.1,localhost",
    )
    return e


ENV: dict[str, str] = {}


def run(cmd: list[str], cwd: Path, *, check: bool = True, timeout: float = 600, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(ENV, **(extra or {}))
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise SetupError(f"{' '.join(cmd)} in {cwd} did not finish within {timeout:.0f} s") from err
    if check and proc.returncode != 0:
        raise SetupError(f"{' '.join(cmd)} in {cwd} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def git(cwd: Path, *args: str, check: bool = True, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(["git", "-c", "gc.auto=0", *args], cwd, check=check, extra=extra)


def group_alive(pgid: int) -> bool:
    """Is any process of the group still running? Zombies do not count: in a container
    nobody may ever reap the orphans, and they hold no file open."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.01)
    return False


@dataclass
class Outcome:
    killed: bool
    returncode: int | None
    elapsed: float
    term_exited: bool = False  # SIGTERM trials: the group ended by itself within the grace time


def run_and_kill(cmd: list[str], cwd: Path, at: float | None, sig: int, log: Path, timeout: float) -> Outcome:
    """Run `cmd` in its own process group; at `at` seconds send `sig` to the whole group.
    With `at=None` run it to completion (bounded by `timeout`)."""
    with open(log, "wb") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            p.wait(timeout=timeout if at is None else at)
            elapsed = time.monotonic() - t0
            wait_group_gone(p.pid, 10)
            return Outcome(False, p.returncode, elapsed)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - t0
        if at is None:  # a hang: not a kill trial, a failure of the run
            _kill_group(p.pid, signal.SIGKILL)
            p.wait()
            wait_group_gone(p.pid, 10)
            return Outcome(False, None, elapsed)
        _kill_group(p.pid, sig)
        term_exited = False
        if sig == signal.SIGTERM:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            term_exited = wait_group_gone(p.pid, max(0.1, 10 - (time.monotonic() - t0 - elapsed)))
            if not term_exited:
                _kill_group(p.pid, signal.SIGKILL)
        p.wait()
        if not wait_group_gone(p.pid, 10):
            _kill_group(p.pid, signal.SIGKILL)
            wait_group_gone(p.pid, 10)
        return Outcome(True, p.returncode, elapsed, term_exited)


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# -- files and digests ---------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(4 * MiB)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def walk_files(root: Path, *, skip_git: bool = True) -> set[str]:
    """Every non-directory below `root` (links included, never followed), relative, '/'-separated."""
    out: set[str] = set()

    def walk(d: str, prefix: str) -> None:
        try:
            it = os.scandir(d)
        except FileNotFoundError:
            return
        with it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    if skip_git and not prefix and e.name == ".git":
                        continue
                    walk(e.path, prefix + e.name + "/")
                else:
                    out.add(prefix + e.name)

    walk(str(root), "")
    return out


def write_random(path: Path, size: int, rng: random.Random) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.randbytes(size) if size < MiB else os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def copy_tree(src: Path, dst: Path) -> None:
    if dst.exists():
        rmtree(dst)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)


def rmtree(path: Path) -> None:
    """Remove a tree (`rm -rf`: several times faster than shutil here), even where files or
    directories were made read-only."""
    if not path.exists() and not path.is_symlink():
        return
    if subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True)
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)


# -- the data set ---------------------------------------------------------------------------------


@dataclass
class DataSet:
    """Two versions of the same artifacts: `data/` (small files + one large) and `models/model.bin`."""

    v1: dict[str, str]  # repo-relative path -> sha256 hex
    v2: dict[str, str]
    src1: Path
    src2: Path
    artifacts = ("data", "models/model.bin")
    tracked_dirs = ("data",)


def make_dataset(work: Path, small: int, big: int, rng: random.Random) -> DataSet:
    src1, src2 = work / "src" / "v1", work / "src" / "v2"
    v1: dict[str, str] = {}
    for i in range(small):
        rel = f"data/shard-{i % 12:02d}/item-{i:04d}.bin"
        v1[rel] = write_random(src1 / rel, rng.randint(256, 16 * 1024), rng)
    v1["data/weights.bin"] = write_random(src1 / "data/weights.bin", big, rng)
    v1["models/model.bin"] = write_random(src1 / "models/model.bin", big, rng)
    copy_tree(src1, src2)
    v2 = dict(v1)
    smalls = sorted(p for p in v1 if "/item-" in p)
    for rel in rng.sample(smalls, max(1, small // 10)):  # changed
        v2[rel] = write_random(src2 / rel, rng.randint(256, 16 * 1024), rng)
    for rel in rng.sample(sorted(set(smalls) - {p for p in v2 if v2[p] != v1[p]}), max(1, small // 30)):  # removed
        (src2 / rel).unlink()
        del v2[rel]
    for i in range(max(1, small // 30)):  # added
        rel = f"data/shard-new/extra-{i:03d}.bin"
        v2[rel] = write_random(src2 / rel, rng.randint(256, 16 * 1024), rng)
    v2["data/weights.bin"] = write_random(src2 / "data/weights.bin", big, rng)
    v2["models/model.bin"] = write_random(src2 / "models/model.bin", big, rng)
    return DataSet(v1, v2, src1, src2)


def place_version(src: Path, repo: Path) -> None:
    for name in ("data", "models/model.bin"):
        target = repo / name
        if target.is_dir():
            rmtree(target)
        elif target.exists():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if (src / name).is_dir():
            shutil.copytree(src / name, target)
        else:
            shutil.copy2(src / name, target)


# -- S3 (moto) ------------------------------------------------------------------------------------


@dataclass
class S3:
    endpoint: str
    proc: subprocess.Popen
    client: object
    verified: set[tuple[str, str, int]] = field(default_factory=set)  # (key, etag, size) whose bytes were hashed once

    def empty(self, bucket: str) -> None:
        c = self.client
        for up in c.list_multipart_uploads(Bucket=bucket).get("Uploads", []):  # type: ignore[attr-defined]
            c.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])  # type: ignore[attr-defined]
        while True:
            keys = [{"Key": o["Key"]} for o in c.list_objects_v2(Bucket=bucket).get("Contents", [])]  # type: ignore[attr-defined]
            if not keys:
                return
            c.delete_objects(Bucket=bucket, Delete={"Objects": keys})  # type: ignore[attr-defined]

    def listing(self, bucket: str) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # type: ignore[attr-defined]
            for o in page.get("Contents", []):
                out[o["Key"]] = (o["ETag"].strip('"'), o["Size"])
        return out

    def multipart_uploads(self, bucket: str) -> int:
        return len(self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))  # type: ignore[attr-defined]

    def check(self, bucket: str, prefix: str, md5_of: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
        """(corrupt keys, non-object keys, lock keys) under `prefix/`. An object whose ETag (the
        server's MD5 of the bytes it stored) matches the known content is not downloaded again;
        a multipart ETag is checked by download once per (key, ETag, size)."""
        corrupt, junk, locks = [], [], []
        for key, (etag, size) in self.listing(bucket).items():
            rel = key[len(prefix) + 1:] if key.startswith(prefix + "/") else key
            if rel.startswith("locks/"):
                locks.append(key)
                continue
            if not OBJ_RE.match(rel):
                junk.append(key)
                continue
            hexd = rel[len("objects/sha256/"):].replace("/", "")
            if md5_of.get(hexd) == etag or (key, etag, size) in self.verified:
                continue
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
            if hashlib.sha256(body).hexdigest() == hexd:
                self.verified.add((key, etag, size))
            else:
                corrupt.append(f"s3://{bucket}/{key} ({len(body)} bytes)")
        return corrupt, junk, locks


def start_moto(work: Path) -> S3 | None:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None:
        print("moto is not installed: skipping the S3 operations (pip install 'moto[server]')", flush=True)
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(work / "moto.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                print(f"moto server did not start ({(work / 'moto.log').read_text()[-300:]!r}): skipping the S3 operations", flush=True)
                return None
            time.sleep(0.1)
    else:
        proc.kill()
        print("moto server did not start within 30 s: skipping the S3 operations", flush=True)
        return None
    import boto3

    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return S3(endpoint, proc, client)


# -- stores on disk --------------------------------------------------------------------------------


@dataclass
class StoreCheck:
    corrupt: list[str] = field(default_factory=list)
    temps: list[str] = field(default_factory=list)  # temp files and other non-objects
    locks: list[str] = field(default_factory=list)


def is_lock_name(name: str) -> bool:
    return name.endswith(".lock") or name in ("lock", "LOCK") or bool(re.match(r"^(push|gc)-[0-9a-f]{16}$", name))


def check_store_dir(root: Path, *, cache: bool, hashed: dict[tuple[str, int, int, int], bool]) -> StoreCheck:
    """Objects hash to their names; everything else is sorted into temps and locks. For the cache
    (`.git/filer`) gitfiler's own files (state.db*, config.yaml) are not temps; anything under
    `tmp/`, any `.tmp-*` and any non-object under `objects/` is. `hashed` memoises verdicts by
    (path, inode, size, mtime_ns) so unchanged objects are not re-hashed within a trial."""
    out = StoreCheck()
    for rel in sorted(walk_files(root, skip_git=False)):
        name = rel.rsplit("/", 1)[-1]
        p = root / rel
        if OBJ_RE.match(rel):
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            key = (str(p), st.st_ino, st.st_size, st.st_mtime_ns)
            if key not in hashed:
                hashed[key] = p.is_file() and not p.is_symlink() and sha256_file(p) == rel[len("objects/sha256/"):].replace("/", "")
            if not hashed[key]:
                out.corrupt.append(f"{p} ({st.st_size} bytes)")
            continue
        if cache and rel.startswith(("state.db", "config.yaml")):
            continue
        if rel.startswith("locks/") or (is_lock_name(name) and not rel.startswith("tmp/")):
            out.locks.append(rel)
        elif cache and not (name.startswith(TEMP_PREFIX) or rel.startswith(("objects/", "tmp/"))):
            continue  # another file of gitfiler's own in .git/filer (not a temp by the drill's rules)
        else:
            out.temps.append(rel)
    return out


def git_lock_files(repo: Path) -> list[str]:
    gd = repo / ".git"
    return sorted(str(p.relative_to(repo)) for p in gd.rglob("*.lock") if "filer" not in p.relative_to(gd).parts[:1])


# -- the work tree -----------------------------------------------------------------------------------


def git_status_paths(repo: Path) -> set[str]:
    out = git(repo, "status", "--porcelain=v1", "-z", "--ignored=traditional", "--untracked-files=all", check=False).stdout
    paths: set[str] = set()
    tokens = out.split("\0")
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if len(tok) > 3:
            paths.add(tok[3:])
            if tok[0] in "RC":
                i += 1  # the next token is the rename's source
        i += 1
    return {p.rstrip("/") for p in paths}


def artifact_state(repo: Path, old: dict[str, str], new: dict[str, str], may_vanish: bool) -> list[str]:
    """Paths whose content is neither (absent,) old nor new: partial or foreign bytes."""
    bad = []
    for rel in sorted(set(old) | set(new)):
        p = repo / rel
        if not p.exists() and not p.is_symlink():
            if not may_vanish:
                bad.append(f"{rel}: missing (the user's file is gone)")
            continue
        if p.is_symlink() or not p.is_file():
            bad.append(f"{rel}: not a regular file")
            continue
        digest = sha256_file(p)
        if digest not in (old.get(rel), new.get(rel)):
            bad.append(f"{rel}: {p.stat().st_size} bytes, neither version")
    return bad


def final_state(repo: Path, new: dict[str, str], dirs: tuple[str, ...], old: dict[str, str] | None = None) -> list[str]:
    """Differences between the work tree's artifacts and exactly `new`. With `old`, a file that
    belongs to no version is left to the stray-file check (it is debris, not a wrong artifact)."""
    bad = []
    for rel, digest in sorted(new.items()):
        p = repo / rel
        if not p.is_file() or p.is_symlink():
            bad.append(f"{rel}: missing")
        elif sha256_file(p) != digest:
            bad.append(f"{rel}: wrong content")
    for d in dirs:
        for rel in walk_files(repo / d):
            full = f"{d}/{rel}"
            if full in new:
                continue
            if old is None:
                bad.append(f"{full}: in the tracked directory but in no version")
            elif full in old:
                bad.append(f"{full}: left over from the old version")
    return bad


@dataclass
class StrayCheck:
    git_visible: list[str]
    temp_named: list[str]
    unknown: list[str]

    def all(self) -> list[str]:
        return sorted(set(self.git_visible) | set(self.temp_named) | set(self.unknown))


def stray_files(repo: Path, allowed: set[str]) -> StrayCheck:
    files = walk_files(repo)
    return StrayCheck(
        git_visible=sorted(p for p in git_status_paths(repo) if p not in allowed),
        temp_named=sorted(p for p in files if p.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)),
        unknown=sorted(p for p in files if p not in allowed),
    )


# -- operations ---------------------------------------------------------------------------------------


@dataclass
class RemoteSpec:
    url: str
    endpoint: str | None = None
    bucket: str | None = None
    prefix: str | None = None

    def add(self, repo: Path, name: str = "drill") -> None:
        extra = ["--endpoint-url", self.endpoint] if self.endpoint else []
        run(["git", "filer", "remote", "add", name, self.url, "--default", "--local", "--force", *extra], repo)


@dataclass
class Op:
    name: str
    cmd: list[str]
    old: dict[str, str]
    new: dict[str, str]
    may_vanish: bool  # may an artifact file be absent after a kill (it is being placed), or is it the user's
    remote: RemoteSpec
    remote_written: bool
    template: Path = Path()
    duration: float = 0.0
    post_files: set[str] = field(default_factory=set)
    post_small: dict[str, bytes] = field(default_factory=dict)  # files `add` writes itself, as a complete run leaves them
    stats: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)  # wall time per phase of the trials
    details: dict[str, list[str]] = field(default_factory=dict)

    def note(self, column: str, trial: int, what: str) -> None:
        self.details.setdefault(column, [])
        if len(self.details[column]) < 4:
            self.details[column].append(f"trial {trial}: {what}")


class Drill:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.s3: S3 | None = None
        self.md5_of: dict[str, str] = {}  # object hex -> md5 hex, for S3 ETag checks
        self.full_snapshot: dict[str, tuple[int, int]] = {}
        self.full_s3: dict[str, tuple[str, int]] = {}
        self.ops: list[Op] = []
        self.deadline = time.monotonic() + args.budget
        self.log = work / "logs"
        self.log.mkdir()

    # -- fixture -----------------------------------------------------------------------------------

    def build(self) -> None:
        a = self.args
        t0 = time.monotonic()
        self.ds = make_dataset(self.work, a.small_files, a.big_mib * MiB, self.rng)
        w = self.work
        self.full = w / "remote-full"
        self.full.mkdir()
        author = w / "author"
        git(w, "init", "-q", "-b", "main", str(author))
        run(["git", "filer", "init", "--remote", str(self.full), "--no-hooks"], author)
        RemoteSpec(str(self.full)).add(author)
        git(author, "add", "-A")
        git(author, "commit", "-qm", "gitfiler config")
        place_version(self.ds.src1, author)
        run(["git", "filer", "add", *self.ds.artifacts], author)
        git(author, "commit", "-qm", "v1")
        git(author, "checkout", "-qb", "other")
        place_version(self.ds.src2, author)
        run(["git", "filer", "add", *self.ds.artifacts], author)
        git(author, "commit", "-qm", "v2")
        run(["git", "filer", "push"], author)
        git(author, "checkout", "-q", "main", extra={"GITFILER_NO_HOOKS": "1"})
        place_version(self.ds.src1, author)
        run(["git", "filer", "push"], author)
        self.origin = w / "origin.git"
        git(w, "clone", "-q", "--bare", str(author), str(self.origin))
        self.full_snapshot = self._snapshot(self.full)
        bad = check_store_dir(self.full, cache=False, hashed={})
        if bad.corrupt or bad.temps or len(self.full_snapshot) < a.small_files:
            raise SetupError(f"the reference remote is not sound: {bad}")
        for rel in self.full_snapshot:
            if OBJ_RE.match(rel):
                self.md5_of[rel[len("objects/sha256/"):].replace("/", "")] = hashlib.md5((self.full / rel).read_bytes()).hexdigest()
        rmtree(author)

        wanted = [o for o in OPS if o in a.ops]
        if any(o.endswith("-s3") for o in wanted):
            self.s3 = start_moto(w)
            if self.s3 is None:
                wanted = [o for o in wanted if not o.endswith("-s3")]
            else:
                for bucket in ("drill-full", "drill-push"):
                    self.s3.client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
                self._fill_full_bucket()
        tpl = w / "templates"
        tpl.mkdir()
        for name in wanted:
            op = self._make_op(name)
            op.template = tpl / name
            self._prepare_template(op)
            self.ops.append(op)
        print(f"fixture ready in {time.monotonic() - t0:.1f} s: {len(self.ds.v1)} files in v1 "
              f"({a.small_files} small + 2 x {a.big_mib} MiB), {len(self.ds.v2)} in v2", flush=True)

    def _fill_full_bucket(self) -> None:
        """The S3 pull source, filled by gitfiler itself from a clone of each branch."""
        assert self.s3
        spec = self._s3_spec("drill-full")
        seed = self.work / "s3-seed"
        for branch in ("main", "other"):
            rmtree(seed)
            git(self.work, "clone", "-q", "-b", branch, str(self.origin), str(seed))
            RemoteSpec(str(self.full)).add(seed, "full")
            spec.add(seed)
            run(["git", "filer", "pull", "-r", "full"], seed)
            run(["git", "filer", "push"], seed)
        rmtree(seed)
        corrupt, junk, _ = self.s3.check("drill-full", spec.prefix or "", self.md5_of)
        self.full_s3 = self.s3.listing("drill-full")
        if corrupt or junk or len(self.full_s3) < len(self.md5_of):
            raise SetupError(f"the reference S3 bucket is not sound: {len(self.full_s3)} keys, corrupt {corrupt}, junk {junk}")

    def _s3_spec(self, bucket: str) -> RemoteSpec:
        assert self.s3
        return RemoteSpec(f"s3://{bucket}/proj", self.s3.endpoint, bucket, "proj")

    def _make_op(self, name: str) -> Op:
        v1, v2 = self.ds.v1, self.ds.v2
        local_full = RemoteSpec(str(self.full))
        if name == "add":
            return Op(name, ["git", "filer", "add", *self.ds.artifacts], v1, v1, False, RemoteSpec(str(self._remote_dir(name))), False)
        if name == "push-local":
            return Op(name, ["git", "filer", "push"], v1, v1, False, RemoteSpec(str(self._remote_dir(name))), True)
        if name == "push-s3":
            return Op(name, ["git", "filer", "push"], v1, v1, False, self._s3_spec("drill-push"), True)
        if name == "pull-local":
            return Op(name, ["git", "filer", "pull"], {}, v1, True, local_full, False)
        if name == "pull-s3":
            return Op(name, ["git", "filer", "pull"], {}, v1, True, self._s3_spec("drill-full"), False)
        if name == "checkout":
            return Op(name, ["git", "checkout", "-q", "other"], v1, v2, True, local_full, False)
        raise SetupError(f"unknown operation {name!r}; choose from {', '.join(OPS)}")

    def _remote_dir(self, name: str) -> Path:
        return self.work / "run" / name / "remote"

    def _repo(self, op: Op) -> Path:
        return self.work / "run" / op.name / "repo"

    def _prepare_template(self, op: Op) -> None:
        """Build the starting state once; every trial starts from a copy of it."""
        t = op.template
        if op.name == "add":
            Path(op.remote.url).mkdir(parents=True, exist_ok=True)
            git(self.work, "init", "-q", "-b", "main", str(t))
            run(["git", "filer", "init", "--remote", op.remote.url, "--no-hooks"], t)
            op.remote.add(t)
            git(t, "add", "-A")
            git(t, "commit", "-qm", "gitfiler config")
            place_version(self.ds.src1, t)
            return
        git(self.work, "clone", "-q", str(self.origin), str(t))
        RemoteSpec(str(self.full)).add(t, "full")
        if op.name.startswith("push"):
            run(["git", "filer", "pull", "-r", "full"], t)  # the cache and work tree hold v1
        elif op.name == "checkout":
            run(["git", "filer", "pull", "-r", "full"], t)  # v1 hydrated; v2 will come from the remote
            run(["git", "filer", "install"], t)
            git(t, "branch", "-q", "other", "origin/other")
        op.remote.add(t)

    # -- one trial --------------------------------------------------------------------------------

    def _fresh_start(self, op: Op) -> Path:
        repo = self._repo(op)
        repo.parent.mkdir(parents=True, exist_ok=True)
        copy_tree(op.template, repo)
        if op.name in ("add", "push-local"):
            rmtree(self._remote_dir(op.name))
            self._remote_dir(op.name).mkdir(parents=True)
        if op.name == "push-s3":
            assert self.s3
            self.s3.empty("drill-push")
        return repo

    def _timeout(self, op: Op) -> float:
        return max(120.0, 20 * op.duration)

    def measure(self, op: Op, runs: int) -> None:
        """Normal duration (median of `runs` complete runs) and the state a complete run leaves."""
        times = []
        for i in range(runs):
            repo = self._fresh_start(op)
            out = run_and_kill(op.cmd, repo, None, signal.SIGKILL, self.log / f"{op.name}-reference-{i}.log", self._timeout(op))
            if out.returncode != 0:
                raise SetupError(f"{op.name}: an uninterrupted run exited {out.returncode}; see {self.log}/{op.name}-reference-{i}.log")
            bad = final_state(repo, op.new, self.ds.tracked_dirs)
            if bad:
                raise SetupError(f"{op.name}: an uninterrupted run does not leave the expected work tree: {bad[:3]}")
            times.append(out.elapsed)
        op.duration = sorted(times)[len(times) // 2]
        op.post_files = walk_files(repo)
        if op.name == "add":
            op.post_small = {p: (repo / p).read_bytes() for p in op.post_files if p.endswith((".filer", ".gitignore"))}

    def trial(self, op: Op, n: int) -> None:
        t0 = time.monotonic()
        try:
            self._trial(op, n)
        finally:
            op.seconds["total"] += time.monotonic() - t0

    def _trial(self, op: Op, n: int) -> None:
        tick = time.monotonic()

        def phase(name: str) -> None:
            nonlocal tick
            now = time.monotonic()
            op.seconds[name] += now - tick
            tick = now

        repo = self._fresh_start(op)
        pre_files = walk_files(repo)
        allowed = pre_files | op.post_files | set(op.old) | set(op.new)
        at = self.rng.uniform(0, op.duration)
        sig = signal.SIGTERM if self.rng.random() < self.args.term_share else signal.SIGKILL
        phase("setup")
        out = run_and_kill(op.cmd, repo, at, sig, self.log / f"{op.name}-{n}.log", self._timeout(op))
        phase("killed run")
        if self.args.verbose:
            what = f"{signal.Signals(sig).name} at {at:.2f} s" if out.killed else f"finished in {out.elapsed:.2f} s (exit {out.returncode}) before the {at:.2f} s kill"
            print(f"    {op.name} trial {n}: {what}", flush=True)
        op.stats["trials"] += 1
        if out.killed:
            op.stats["kills"] += 1
            if sig == signal.SIGTERM:
                op.stats["term_kills"] += 1
                op.stats["term_hung"] += not out.term_exited
        trouble: set[str] = set()
        if not out.killed and out.returncode != 0:  # finished before the kill moment, and failed
            trouble.add("rerun_failed")
            op.note("rerun_failed", n, f"the run was not killed and still exited {out.returncode}")
        hashed: dict[tuple[str, int, int, int], bool] = {}

        # 1. right after the kill
        bad = artifact_state(repo, op.old, op.new, op.may_vanish)
        bad += self._small_files_state(op, repo)
        if bad:
            trouble.add("partial")
            op.note("partial", n, f"kill at {at:.2f}s: {bad[:2]}")
        cache = check_store_dir(repo / ".git" / "filer", cache=True, hashed=hashed)
        remote_corrupt, remote_locks = self._check_remote(op, n)
        if cache.corrupt or remote_corrupt:
            trouble.add("corrupt")
            op.note("corrupt", n, f"kill at {at:.2f}s: {(cache.corrupt + remote_corrupt)[:2]}")
        if cache.temps:
            op.stats["cache_temps_after_kill"] += 1
        strays = stray_files(repo, allowed)
        if strays.all():
            trouble.add("wt_temps")
            op.note("wt_temps", n, f"after the kill at {at:.2f}s: visible to git {strays.git_visible[:2]}, .tmp-* {strays.temp_named[:2]}, unknown {strays.unknown[:2]}")
        locks = cache.locks + remote_locks
        if locks:
            op.stats["lock_files"] += 1
        git_locks = git_lock_files(repo)
        if git_locks:
            op.stats["git_locks"] += 1
            for rel in git_locks:  # what git itself tells the user to do
                (repo / rel).unlink()

        phase("inspect")
        # 2. re-run to completion
        ok = self._rerun(op, repo, n, trouble, locks)
        phase("re-run")

        # 3. after the successful re-run
        if ok:
            strays = stray_files(repo, pre_files | op.post_files | set(op.new))
            if strays.all():
                trouble.add("wt_temps")
                op.note("wt_temps", n, f"still there after the re-run: {strays.all()[:3]}")
            cache = check_store_dir(repo / ".git" / "filer", cache=True, hashed=hashed)
            if cache.temps:
                trouble.add("cache_temps")
                op.note("cache_temps", n, f"{len(cache.temps)} left after the re-run, e.g. {cache.temps[:2]}")
            if cache.corrupt:
                trouble.add("corrupt")
            self._remote_leftovers(op)
            phase("inspect")
            if not self._fresh_clone_ok(op, repo, n):
                trouble.add("fresh_failed")
            phase("fresh clone")
        for column in trouble:
            op.stats[column] += 1

    def _small_files_state(self, op: Op, repo: Path) -> list[str]:
        """`add` writes registry files and .gitignore lines: each absent or complete."""
        bad = []
        for rel, final in op.post_small.items():
            p = repo / rel
            if not p.exists():
                continue
            data = p.read_bytes()
            if rel.endswith(".gitignore"):
                if data and (not data.endswith(b"\n") or not set(data.splitlines()) <= set(final.splitlines())):
                    bad.append(f"{rel}: not a set of complete ignore lines")
            elif data != final:
                bad.append(f"{rel}: partial registry file")
        return bad

    def _check_remote(self, op: Op, n: int) -> tuple[list[str], list[str]]:
        """(corrupt objects, lock files) in the remote the operation uses."""
        if op.remote.bucket:
            assert self.s3
            if not op.remote_written:
                now = self.s3.listing(op.remote.bucket)
                if now != self.full_s3:
                    return [f"s3://{op.remote.bucket}: a read-only operation changed the bucket"], []
                return [], []
            corrupt, _junk, locks = self.s3.check(op.remote.bucket, op.remote.prefix or "", self.md5_of)
            return corrupt, locks
        root = Path(op.remote.url)
        if not op.remote_written and root == self.full:
            if self._snapshot(root) != self.full_snapshot:
                return [f"{root}: a read-only operation changed the remote"], []
            return [], []
        rc = check_store_dir(root, cache=False, hashed={})
        return rc.corrupt, rc.locks

    def _remote_leftovers(self, op: Op) -> None:
        if not op.remote_written:
            return
        if op.remote.bucket:
            assert self.s3
            _c, junk, _l = self.s3.check(op.remote.bucket, op.remote.prefix or "", self.md5_of)
            op.stats["remote_junk"] += bool(junk)
            op.stats["orphan_mpu"] += bool(self.s3.multipart_uploads(op.remote.bucket))
        else:
            rc = check_store_dir(Path(op.remote.url), cache=False, hashed={})
            op.stats["remote_junk"] += bool(rc.temps)

    def _rerun(self, op: Op, repo: Path, n: int, trouble: set[str], locks: list[str]) -> bool:
        out = run_and_kill(op.cmd, repo, None, signal.SIGKILL, self.log / f"{op.name}-{n}-rerun.log", self._timeout(op))
        if out.returncode != 0:
            tail = (self.log / f"{op.name}-{n}-rerun.log").read_text(errors="replace").strip().splitlines()[-1:]
            trouble.add("rerun_failed")
            op.note("rerun_failed", n, f"exit {out.returncode}: {tail}")
            if locks:
                trouble.add("blocking_locks")
                op.note("blocking_locks", n, f"re-run failed with {locks[:2]} present")
            return False
        bad = final_state(repo, op.new, self.ds.tracked_dirs, op.old)
        if bad and op.name == "checkout":
            # HEAD had already moved: git runs post-checkout with old == new and the hook has
            # nothing to do. The recovery gitfiler's hook messages point to is `git filer pull`.
            op.stats["needed_pull"] += 1
            out = run_and_kill(["git", "filer", "pull"], repo, None, signal.SIGKILL, self.log / f"{op.name}-{n}-pull.log", self._timeout(op))
            bad = final_state(repo, op.new, self.ds.tracked_dirs, op.old) if out.returncode == 0 else [f"'git filer pull' exited {out.returncode}"]
        if bad:
            trouble.add("rerun_failed")
            op.note("rerun_failed", n, f"re-run exited 0 but: {bad[:3]}")
            return False
        return True

    def _fresh_clone_ok(self, op: Op, repo: Path, n: int) -> bool:
        """Commit (for `add`, and push it), clone the trial's repository, pull, compare byte for byte."""
        try:
            if op.name == "add":
                git(repo, "commit", "-qm", "v1", extra={"GITFILER_AUTOPUSH": "0"})
                run(["git", "filer", "push"], repo)
            fresh = self.work / "run" / op.name / "fresh"
            rmtree(fresh)
            git(self.work, "clone", "-q", str(repo), str(fresh))
            op.remote.add(fresh)
            run(["git", "filer", "pull"], fresh)
            bad = final_state(fresh, op.new, self.ds.tracked_dirs)
            rmtree(fresh)
        except SetupError as err:
            bad = [str(err).strip().splitlines()[-1]]
        if bad:
            op.note("fresh_failed", n, str(bad[:3]))
        return not bad

    @staticmethod
    def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
        out = {}
        for rel in walk_files(root, skip_git=False):
            st = (root / rel).lstat()
            out[rel] = (st.st_size, st.st_mtime_ns)
        return out

    # -- the whole run ------------------------------------------------------------------------------

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def go(self) -> int:
        self.build()
        runs = 3  # one run can be far off on a busy machine, and every kill moment is drawn from it
        for op in self.ops:
            self.measure(op, runs)
            print(f"  {op.name:<11} normal duration {op.duration:.2f} s (median of {runs})", flush=True)
        stopped = False
        for n in range(1, self.args.trials + 1):
            for op in self.ops:
                if self.left() <= 0:
                    stopped = True
                    break
                self.trial(op, n)
            if stopped:
                break
            if n % max(1, self.args.trials // 10) == 0 or n == self.args.trials:
                print(f"  round {n}/{self.args.trials} done, {self.args.budget - self.left():.0f} s elapsed", flush=True)
        if stopped:
            print(f"budget of {self.args.budget:.0f} s used up: stopped before {self.args.trials} trials per operation "
                  "(give more with --budget)", flush=True)
        return self.report()

    def report(self) -> int:
        rows = [["operation", "trials", "kills (TERM)", *(HEADERS[c] for c in FAILURES)]]
        for op in self.ops:
            s = op.stats
            rows.append([op.name, str(s["trials"]), f"{s['kills']} ({s['term_kills']})", *(str(s[c]) for c in FAILURES)])
        print("\nkill drill: trials in which each problem was seen (0 everywhere is the target)\n")
        print_table(rows)
        info = [["operation", "normal s", "s/trial", *(INFO_HEADERS[c] for c in INFO)]]
        for op in self.ops:
            s = op.stats
            per = op.seconds["total"] / max(1, s["trials"])
            info.append([op.name, f"{op.duration:.2f}", f"{per:.1f}", *(str(s[c]) if c != "term_hung" else f"{s[c]}/{s['term_kills']}" for c in INFO)])
        print("\nmeasured beside it (not failures by the drill's rules; see bench/README.md)\n")
        print_table(info)
        if self.args.verbose:
            print("\nwall time per trial by phase (s):")
            for op in self.ops:
                n = max(1, op.stats["trials"])
                print(f"  {op.name:<11} " + "  ".join(f"{k} {v / n:.2f}" for k, v in op.seconds.items() if k != "total"))
        failed = any(op.stats[c] for op in self.ops for c in FAILURES)
        if failed:
            print("\nexamples (first few per column):")
            for op in self.ops:
                for column in FAILURES:
                    for line in op.details.get(column, []):
                        print(f"  {op.name} / {HEADERS[column]}: {line}")
        return 1 if failed else 0


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=None, help="trials per operation (default 100; --quick: 10)")
    ap.add_argument("--quick", action="store_true", help="10 trials per operation")
    ap.add_argument("--budget", type=float, default=None, help="stop starting trials after this many seconds (default 900; --quick: 600)")
    ap.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {','.join(OPS)}")
    ap.add_argument("--term-share", type=float, default=0.25, help="share of trials killed with SIGTERM instead of SIGKILL")
    ap.add_argument("--small-files", type=int, default=300, help="small files in the tracked directory")
    ap.add_argument("--big-mib", type=int, default=32, help="size of each of the two large files")
    ap.add_argument("--seed", type=int, default=None, help="random seed (printed; the kill moments also depend on timing)")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (its path is printed)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print where each trial's time goes")
    args = ap.parse_args(argv)
    args.trials = args.trials or (10 if args.quick else 100)
    args.budget = args.budget or (600.0 if args.quick else 900.0)
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = set(args.ops) - set(OPS)
    if unknown:
        ap.error(f"unknown operations {sorted(unknown)}; choose from {', '.join(OPS)}")
    work = Path(tempfile.mkdtemp(prefix="gitfiler-drill-"))
    ENV.update(pinned_env(work))
    if shutil.which("git-filer", path=ENV["PATH"]) is None:
        print("git-filer is not on PATH: install gitfiler (pip install -e '.[test]') or run with the venv's python", file=sys.stderr)
        return 2
    version = run(["git", "filer", "--version"], work).stdout.strip()
    print(f"kill drill: {version}, seed {args.seed}, {args.trials} trials per operation, budget {args.budget:.0f} s, work dir {work}", flush=True)
    drill = Drill(args, work)
    try:
        return drill.go()
    except SetupError as err:
        print(f"drill setup failed: {err}", file=sys.stderr)
        return 2
    finally:
        if drill.s3 is not None:
            _kill_group(drill.s3.proc.pid, signal.SIGTERM)
            try:
                drill.s3.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill_group(drill.s3.proc.pid, signal.SIGKILL)
        if args.keep:
            print(f"kept {work}")
        else:
            rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
