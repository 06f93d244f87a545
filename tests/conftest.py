"""Shared fixtures: pinned git environment, real repositories in temp dirs, the real
`git filer` entry point, and a moto S3 server over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN_DIR = os.path.dirname(sys.executable)


@pytest.fixture(autouse=True)
def pinned_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config, fixed identity, and a HOME that refuses writes."""
    blocker = tmp_path_factory.mktemp("home") / "not-a-directory"
    blocker.write_text("tests must not write to $HOME\n")
    # Any attempt to create something under $HOME fails with ENOTDIR, even as root.
    monkeypatch.setenv("HOME", str(blocker / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("GITFILER_HOME", str(tmp_path_factory.mktemp("gitfiler-home")))
    monkeypatch.setenv("PATH", BIN_DIR + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for var in ("GITFILER_CACHE_DIR", "GITFILER_REMOTE", "GITFILER_RELEASE", "GITFILER_TARGET", "GITFILER_JOBS", "AWS_PROFILE", "GITFILER_NO_HOOKS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GITFILER_S3_MAX_ATTEMPTS", "2")


def run(cmd: list[str], cwd: Path, *, check: bool = True, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, input=input, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["git", "-c", "gc.auto=0", *args], cwd, check=check)


def filer(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point, reached the way users reach it: `git filer ...`."""
    return run(["git", "filer", *args], cwd, check=check, env=env, input=input)


@dataclass
class Repo:
    path: Path
    remote_dir: Path

    def write(self, rel: str, data: bytes | str) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def filer(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return filer(self.path, *args, check=check, env=env)

    def git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        if env is not None:
            return run(["git", "-c", "gc.auto=0", *args], self.path, check=check, env=env)
        return git(self.path, *args, check=check)

    def commit_without_autopush(self, msg: str) -> None:
        """Commit with the post-commit upload off, so a test can exercise `push` itself."""
        self.git("commit", "-qm", msg, env=dict(os.environ, GITFILER_AUTOPUSH="0"))

    @property
    def cache(self) -> Path:
        return self.path / ".git" / "filer"


def make_repo(base: Path, name: str = "work", remote_dir: Path | None = None, init_args: tuple[str, ...] = ()) -> Repo:
    path = base / name
    run(["git", "init", "-q", "-b", "main", str(path)], base)
    remote_dir = remote_dir or base / "filer-remote"
    filer(path, "init", "--remote", str(remote_dir), *init_args)
    return Repo(path, remote_dir)


def clone_of(repo: Repo, tmp_path: Path, name: str = "clone") -> Path:
    """Push `repo` to a bare origin beside it and clone that: a plain git clone, nothing hydrated."""
    bare = tmp_path / "origin.git"
    if not bare.exists():
        run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    repo.git("push", "-q", str(bare), "main")
    dest = tmp_path / name
    run(["git", "clone", "-q", str(bare), str(dest)], tmp_path)
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """`files` (relative path -> bytes) written below `root`, directories made on the way."""
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def snapshot(*roots: Path) -> dict[str, bytes | None]:
    """Every file below `roots` with its bytes: compare before/after to prove nothing changed."""
    out: dict[str, bytes | None] = {}
    for root in roots:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file() and "state.db" not in p.name and "/.git/objects/" not in str(p) and p.name != "index":
                out[str(p)] = p.read_bytes()
    return out


# -- S3 over HTTP: moto's server mode -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto(tmp: Path, extra_env: dict[str, str] | None = None):
    port = _free_port()
    env = dict(os.environ, **(extra_env or {}))
    log = open(tmp / f"moto-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited early; see {log.name}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start within 30 s")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory):
    proc, url = _start_moto(tmp_path_factory.mktemp("moto"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket on the moto server; returns (endpoint_url, bucket, boto3 client)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    return moto_server, bucket, client


@pytest.fixture
def s3_repo(tmp_path: Path, s3) -> tuple[Repo, str, object]:
    endpoint, bucket, client = s3
    r = make_repo(tmp_path)
    r.filer("remote", "add", "team", f"s3://{bucket}/proj", "--endpoint-url", endpoint, "--default")
    return r, bucket, client


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None
