"""The hook entry through real git: GITFILER_NO_HOOKS read one way by the shims, the hooks and
the command line; hook policy on errors (only pre-push fails git); a remote that fails while the
gate fetches a manifest is a remote error, not a missing manifest."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from conftest import Repo, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from drill_s3_faults import INTERNAL, PASS, FaultProxy, ProxyRequest  # noqa: E402

ZERO = "0" * 40
HOOK_NAMES = ("post-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite", "pre-commit")


def obj(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


def with_env(**values: str) -> dict[str, str]:
    return dict(os.environ, **values)


def installed(work: Path) -> list[str]:
    return sorted(n for n in HOOK_NAMES if (work / ".git/hooks" / n).exists())


@pytest.fixture
def origin(repo: Repo, tmp_path: Path) -> Path:
    """A bare git remote holding `repo`'s main with one artifact."""
    repo.write("m.bin", b"model")
    repo.filer("add", "m.bin")
    repo.git("commit", "-qm", "model")
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    repo.git("push", "-q", str(bare), "main")
    return bare


# -- GITFILER_NO_HOOKS: one truth table for the shim and the command line -------------------------------------


@pytest.mark.parametrize("value", ["false", "0", "no", "OFF", ""])
def test_no_hooks_set_to_no_leaves_hooks_on_in_init_clone_and_the_shims(tmp_path: Path, origin: Path, value: str):
    env = with_env(GITFILER_NO_HOOKS=value)
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "fresh")], tmp_path)
    run(["git", "filer", "init", "--remote", str(tmp_path / "fresh-remote")], tmp_path / "fresh", env=env)
    assert installed(tmp_path / "fresh") == sorted(HOOK_NAMES)
    fresh = Repo(tmp_path / "fresh", tmp_path / "fresh-remote")
    fresh.write("a.bin", b"uploaded by post-commit")
    fresh.filer("add", "a.bin")
    fresh.git("commit", "-qm", "a", env=env)
    assert obj(fresh.remote_dir, b"uploaded by post-commit").exists()  # the shim ran gitfiler
    proc = run(["git", "filer", "clone", str(origin), str(tmp_path / "cloned")], tmp_path, env=env)
    assert installed(tmp_path / "cloned") == sorted(HOOK_NAMES), proc.stderr
    assert (tmp_path / "cloned/m.bin").read_bytes() == b"model"


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_no_hooks_set_to_yes_turns_hooks_off_in_init_clone_and_the_shims(repo: Repo, tmp_path: Path, origin: Path, value: str):
    env = with_env(GITFILER_NO_HOOKS=value)
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "fresh")], tmp_path)
    run(["git", "filer", "init", "--remote", str(tmp_path / "fresh-remote")], tmp_path / "fresh", env=env)
    assert installed(tmp_path / "fresh") == []
    run(["git", "filer", "clone", str(origin), str(tmp_path / "cloned")], tmp_path, env=env)
    assert installed(tmp_path / "cloned") == []
    assert installed(repo.path) == sorted(HOOK_NAMES)
    repo.write("b.bin", b"not uploaded")
    repo.filer("add", "b.bin")
    proc = repo.git("commit", "-qm", "b", env=env)
    assert not obj(repo.remote_dir, b"not uploaded").exists()  # the shim returned at once
    assert "gitfiler" not in proc.stderr


def test_a_bad_no_hooks_value_is_named_and_only_the_push_is_refused(repo: Repo, tmp_path: Path):
    env = with_env(GITFILER_NO_HOOKS="maybe")
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "fresh")], tmp_path)
    proc = run(["git", "filer", "init", "--remote", str(tmp_path / "fresh-remote")], tmp_path / "fresh", env=env, check=False)
    assert proc.returncode == 3 and "GITFILER_NO_HOOKS='maybe' is not a yes/no value" in proc.stderr
    repo.write("c.bin", b"c")
    repo.filer("add", "c.bin")
    commit = repo.git("commit", "-qm", "c", env=env)  # post-commit names the problem and lets the commit be
    assert "GITFILER_NO_HOOKS='maybe'" in commit.stderr and repo.git("log", "--oneline").stdout.count("\n") == 1
    bare = tmp_path / "o.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    push = repo.git("push", "-q", str(bare), "main", env=env, check=False)
    assert push.returncode != 0 and "push refused: GITFILER_NO_HOOKS='maybe'" in push.stderr


# -- hook policy ---------------------------------------------------------------------------------------------


def test_unknown_hook_and_wrong_arguments(repo: Repo):
    proc = repo.filer("hook", "commit-msg", check=False)  # a git hook gitfiler does not install
    assert proc.returncode == 2
    proc = run(["git-filer", "hook", "pre-receive"], repo.path, check=False)
    assert proc.returncode == 2 and "unknown hook 'pre-receive'" in proc.stderr
    assert run(["git-filer", "hook", "post-checkout", "a"], repo.path, check=False).returncode == 0
    proc = run(["git-filer", "hook", "pre-push", "origin"], repo.path, check=False, input="")
    assert proc.returncode == 1 and "git filer install --force" in proc.stderr


def test_post_commit_failure_never_fails_the_commit_and_says_who_catches_up(repo: Repo):
    repo.filer("remote", "add", "gone", "/nonexistent/dir/remote", "--default")
    repo.write("m.bin", b"x")
    repo.filer("add", "m.bin")
    proc = repo.git("commit", "-qm", "offline")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gitfiler: ")]
    assert lines[0].startswith("gitfiler: post-commit: could not upload this commit's artifacts: ")
    assert lines[-1] == "gitfiler: they will be pushed by the pre-push hook at 'git push'"


def test_a_checkout_hook_does_not_blame_the_remote_for_a_bad_variable(repo: Repo, origin: Path):
    repo.git("checkout", "-qb", "other")
    repo.write("m.bin", b"another model")
    repo.filer("add", "m.bin")
    repo.commit_without_autopush("another")
    bad = repo.git("checkout", "-q", "main", env=with_env(GITFILER_NO_HOOKS="maybe"))
    assert "GITFILER_NO_HOOKS='maybe'" in bad.stderr
    assert "when the remote is reachable" not in bad.stderr and "fix that, then run 'git filer pull'" in bad.stderr


def test_autopush_variable_overrides_the_config_both_ways(repo: Repo):
    config = repo.path / ".gitfiler/config.yaml"
    config.write_text(config.read_text() + "autopush: false\n")
    repo.write("a.bin", b"pushed anyway")
    repo.filer("add", "a.bin")
    repo.git("commit", "-qm", "a", env=with_env(GITFILER_AUTOPUSH="yes"))
    assert obj(repo.remote_dir, b"pushed anyway").exists()
    config.write_text(config.read_text().replace("autopush: false\n", ""))
    repo.write("b.bin", b"held back")
    repo.filer("add", "b.bin")
    repo.git("commit", "-qm", "b", env=with_env(GITFILER_AUTOPUSH="off"))
    assert not obj(repo.remote_dir, b"held back").exists()


def test_exported_pathspec_settings_do_not_hide_registry_files_from_the_hooks(repo: Repo):
    """'*.filer' must reach nested registry files in the shim as in gitfiler, whatever the user exported."""
    for var in ("GIT_GLOB_PATHSPECS", "GIT_LITERAL_PATHSPECS"):
        data = f"deep, {var}".encode()
        repo.write(f"a/b/{var}.bin", data)
        repo.filer("add", f"a/b/{var}.bin")
        repo.git("commit", "-qm", var, env=with_env(**{var: "1"}))
        assert obj(repo.remote_dir, data).exists(), var


# -- the gate: a remote that fails is the remote's problem ---------------------------------------------------


def test_pre_push_reports_a_remote_failing_on_a_manifest_as_a_remote_error(s3_repo, moto_server):
    repo, bucket, _client = s3_repo
    for i in range(3):
        repo.write(f"d/f{i}.bin", os.urandom(100))
    repo.filer("add", "d")
    repo.commit_without_autopush("dir")
    repo.filer("push")
    manifest = (repo.path / "d.filer").read_text().split("oid: sha256:")[1].split()[0]
    (repo.cache / "objects/sha256" / manifest[:2] / manifest[2:]).unlink()  # the gate must fetch it
    key = f"proj/objects/sha256/{manifest[:2]}/{manifest[2:]}"

    def decide(req: ProxyRequest) -> str:
        return INTERNAL if req.method == "GET" and key in req.path else PASS

    head = repo.git("rev-parse", "HEAD").stdout.strip()
    with FaultProxy(moto_server, decide) as proxy:
        run(["git", "filer", "remote", "add", "team", f"s3://{bucket}/proj", "--endpoint-url", proxy.url, "--default", "--force", "--local"], repo.path)
        proc = run(
            ["git-filer", "hook", "pre-push", "origin", "url"], repo.path, check=False,
            env=with_env(GITFILER_RETRY_BUDGET="1"), input=f"refs/heads/main {head} refs/heads/main {ZERO}\n",
        )
    assert proc.returncode == 5, proc.stderr
    assert f"gitfiler: push refused: could not fetch the directory manifest sha256:{manifest} of d.filer from the filer remote 'team': " in proc.stderr
    assert "InternalError" in proc.stderr and "neither in the cache" not in proc.stderr


def test_pre_push_still_refuses_a_manifest_the_remote_does_not_have(repo: Repo, tmp_path: Path):
    for i in range(2):
        repo.write(f"d/f{i}.bin", f"file {i}".encode())
    repo.filer("add", "d")
    repo.commit_without_autopush("dir")
    manifest = (repo.path / "d.filer").read_text().split("oid: sha256:")[1].split()[0]
    (repo.cache / "objects/sha256" / manifest[:2] / manifest[2:]).unlink()
    (repo.path / "d/f0.bin").write_bytes(b"changed: the work tree cannot give the manifest back")
    head = repo.git("rev-parse", "HEAD").stdout.strip()
    proc = run(["git-filer", "hook", "pre-push", "origin", "url"], repo.path, check=False, input=f"refs/heads/main {head} refs/heads/main {ZERO}\n")
    assert proc.returncode == 7, proc.stderr
    assert "directory manifest is neither in the cache nor in the filer remote" in proc.stderr
