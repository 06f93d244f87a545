"""Git hooks driven by real git commands: commit, push to a bare repo, checkout, merge, rebase, worktree."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from conftest import BIN_DIR, Repo, git, run
from gitfiler.hooks.shims import shim
from gitfiler.hooks.triggers import HOOKS

ROOT = Path(__file__).resolve().parents[1]


def obj(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    return bare


def commit_artifact(repo: Repo, rel: str, data: bytes, msg: str = "add") -> None:
    repo.write(rel, data)
    repo.filer("add", rel)
    repo.git("commit", "-qm", msg)


# -- installing ---------------------------------------------------------------------------------


def test_init_installs_every_hook_and_install_is_idempotent(repo: Repo):
    hooks = repo.path / ".git/hooks"
    for name in HOOKS:
        assert (hooks / name).read_text() == shim(name) and os.access(hooks / name, os.X_OK)
    assert "already installed" in repo.filer("install").stdout


def test_shims_in_the_hooks_folder_match_what_install_writes():
    for name in HOOKS:
        assert (ROOT / "hooks" / name).read_text() == shim(name), f"hooks/{name} is stale: regenerate it"


def test_install_respects_core_hooks_path(repo: Repo):
    repo.git("config", "core.hooksPath", "myhooks")
    repo.filer("install")
    assert (repo.path / "myhooks/pre-push").read_text() == shim("pre-push")


def test_existing_user_hook_is_chained_still_runs_and_is_restored(tmp_path: Path):
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "r")], tmp_path)
    user_hook = tmp_path / "r/.git/hooks/post-commit"
    user_hook.write_text("#!/bin/sh\necho user-hook-ran >> \"$(git rev-parse --git-dir)/user.log\"\n")
    user_hook.chmod(0o755)
    out = run(["git", "filer", "init", "--remote", str(tmp_path / "rem")], tmp_path / "r").stdout
    assert "kept as post-commit.pre-gitfiler" in out
    repo = Repo(tmp_path / "r", tmp_path / "rem")
    commit_artifact(repo, "m.bin", b"m")
    assert (tmp_path / "r/.git/user.log").read_text() == "user-hook-ran\n"
    assert obj(repo.remote_dir, b"m").exists()  # and ours ran too
    repo.filer("uninstall")
    assert user_hook.read_text().startswith("#!/bin/sh\necho user-hook-ran")
    assert not (tmp_path / "r/.git/hooks/pre-push").exists()


def test_failing_chained_pre_push_hook_still_blocks_the_push(repo: Repo, origin: Path):
    hooks = repo.path / ".git/hooks"
    (hooks / "pre-push").unlink()
    (hooks / "pre-push").write_text("#!/bin/sh\necho 'user pre-push says no' >&2\nexit 3\n")
    (hooks / "pre-push").chmod(0o755)
    repo.filer("install")
    commit_artifact(repo, "m.bin", b"m")
    proc = repo.git("push", "-q", str(origin), "main", check=False)
    assert proc.returncode != 0 and "user pre-push says no" in proc.stderr


def test_hooks_without_git_filer_on_path(repo: Repo, origin: Path):
    commit_artifact(repo, "m.bin", b"m")
    env = dict(os.environ, PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != BIN_DIR))
    if shutil.which("git-filer", path=env["PATH"]):
        pytest.skip("git-filer is installed system-wide")
    repo.write("n.bin", b"n")
    repo.filer("add", "n.bin")
    proc = run(["git", "commit", "-qm", "x"], repo.path, env=env)
    assert "git-filer is not on PATH; skipping post-commit" in proc.stderr
    proc = run(["git", "push", "-q", str(origin), "main"], repo.path, env=env, check=False)
    assert proc.returncode != 0 and "refusing to push unchecked artifacts" in proc.stderr


# -- post-commit ----------------------------------------------------------------------------------


def test_post_commit_uploads_the_new_commits_objects(repo: Repo):
    commit_artifact(repo, "m.bin", b"weights v1")
    assert obj(repo.remote_dir, b"weights v1").read_bytes() == b"weights v1"


def test_post_commit_offline_warns_and_never_fails_the_commit(repo: Repo):
    repo.filer("remote", "add", "gone", "/nonexistent/dir/remote", "--default")
    repo.write("m.bin", b"x")
    repo.filer("add", "m.bin")
    proc = repo.git("commit", "-qm", "offline")
    assert "will be pushed by the pre-push hook" in proc.stderr
    assert repo.git("log", "--oneline").stdout.count("\n") == 1


def test_autopush_off(repo: Repo):
    (repo.path / ".gitfiler/config.yaml").write_text((repo.path / ".gitfiler/config.yaml").read_text() + "autopush: false\n")
    commit_artifact(repo, "m.bin", b"not yet")
    assert not obj(repo.remote_dir, b"not yet").exists()


# -- pre-push -------------------------------------------------------------------------------------


def test_push_refused_when_object_missing_everywhere_then_allowed(repo: Repo, origin: Path):
    env = dict(os.environ, GITFILER_AUTOPUSH="0")
    repo.write("m.bin", b"lost bytes")
    repo.filer("add", "m.bin")
    run(["git", "commit", "-qm", "v1"], repo.path, env=env)
    cached = obj(repo.cache, b"lost bytes")
    backup = cached.read_bytes()
    cached.unlink()
    (repo.path / "m.bin").write_bytes(b"changed since")  # the work tree cannot supply it either
    proc = repo.git("push", "-q", str(origin), "main", check=False)
    assert proc.returncode != 0
    assert "push refused" in proc.stderr and "m.bin.filer" in proc.stderr
    assert f"sha256:{hashlib.sha256(b'lost bytes').hexdigest()}" in proc.stderr
    assert git(origin, "rev-parse", "-q", "--verify", "refs/heads/main", check=False).returncode != 0
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(backup)
    repo.git("push", "-q", str(origin), "main")
    assert obj(repo.remote_dir, b"lost bytes").exists()


def test_pre_push_uploads_what_post_commit_could_not(repo: Repo, origin: Path):
    env = dict(os.environ, GITFILER_AUTOPUSH="0")
    repo.write("m.bin", b"late")
    repo.filer("add", "m.bin")
    run(["git", "commit", "-qm", "v1"], repo.path, env=env)
    assert not obj(repo.remote_dir, b"late").exists()
    proc = repo.git("push", str(origin), "main")
    assert "uploaded 1 object(s)" in proc.stderr
    assert obj(repo.remote_dir, b"late").exists()


def test_corrupt_cache_object_is_not_uploaded(repo: Repo, origin: Path):
    env = dict(os.environ, GITFILER_AUTOPUSH="0")
    repo.write("m.bin", b"good")
    repo.filer("add", "m.bin")
    run(["git", "commit", "-qm", "v1"], repo.path, env=env)
    cached = obj(repo.cache, b"good")
    cached.chmod(0o644)
    cached.write_bytes(b"rot!")
    proc = repo.git("push", "-q", str(origin), "main", check=False)
    assert proc.returncode != 0 and "corrupt" in proc.stderr
    assert not obj(repo.remote_dir, b"good").exists()


@pytest.mark.parametrize(
    "body, reason",
    [
        ("version: 1\npath: ../../etc/passwd\nkind: file\noid: sha256:{oid}\nsize: 4\n", "leaves its directory"),
        ("version: 1\npath: m.bin\nkind: file\noid: sha256:nothex\nsize: 4\n", "bad 'oid'"),
    ],
)
def test_hostile_registry_file_in_a_pushed_commit_refuses_the_push(repo: Repo, origin: Path, body: str, reason: str):
    commit_artifact(repo, "ok.bin", b"fine")
    repo.write("evil.filer", body.format(oid=hashlib.sha256(b"fine").hexdigest()))
    repo.git("add", "evil.filer")
    repo.git("commit", "-qm", "evil")
    proc = repo.git("push", "-q", str(origin), "main", check=False)
    assert proc.returncode != 0 and "evil.filer" in proc.stderr and reason in proc.stderr


def test_pre_push_checks_every_pushed_commit_not_just_the_tip(repo: Repo, origin: Path):
    env = dict(os.environ, GITFILER_AUTOPUSH="0")
    for i in range(3):
        repo.write("m.bin", f"version {i}".encode())
        repo.filer("add", "m.bin")
        run(["git", "commit", "-qm", f"v{i}"], repo.path, env=env)
    obj(repo.cache, b"version 1").unlink()  # a middle version only
    proc = repo.git("push", "-q", str(origin), "main", check=False)
    assert proc.returncode != 0 and hashlib.sha256(b"version 1").hexdigest() in proc.stderr


def test_branch_deletion_and_pushes_without_artifacts_pass(repo: Repo, origin: Path):
    commit_artifact(repo, "m.bin", b"m")
    repo.git("push", "-q", str(origin), "main")
    repo.git("push", "-q", str(origin), "main:feature")
    repo.git("push", "-q", str(origin), ":feature")
    repo.git("commit", "--allow-empty", "-qm", "no artifacts")
    proc = repo.git("push", str(origin), "main")
    assert "gitfiler" not in proc.stderr


# -- hydration on checkout, merge, rebase, worktree -------------------------------------------------


def test_branch_switch_hydrates_and_never_overwrites_a_modified_artifact(repo: Repo):
    commit_artifact(repo, "a.bin", b"a1")
    commit_artifact(repo, "b.bin", b"b1")
    repo.git("checkout", "-qb", "feature")
    commit_artifact(repo, "a.bin", b"a2")
    commit_artifact(repo, "b.bin", b"b2")
    repo.git("checkout", "-q", "main")
    assert (repo.path / "a.bin").read_bytes() == b"a1" and (repo.path / "b.bin").read_bytes() == b"b1"
    (repo.path / "b.bin").write_bytes(b"my experiment")
    proc = repo.git("checkout", "feature")
    assert (repo.path / "a.bin").read_bytes() == b"a2"
    assert (repo.path / "b.bin").read_bytes() == b"my experiment"
    assert "kept your modified b.bin" in proc.stderr


def test_file_checkout_does_not_hydrate(repo: Repo):
    commit_artifact(repo, "a.bin", b"a1")
    os.unlink(repo.path / "a.bin")
    repo.git("checkout", "--", "a.bin.filer")
    assert not (repo.path / "a.bin").exists()


def test_merge_hydrates(repo: Repo):
    commit_artifact(repo, "a.bin", b"a1")
    repo.git("checkout", "-qb", "feature")
    commit_artifact(repo, "c.bin", b"c1")
    repo.git("checkout", "-q", "main")
    assert not (repo.path / "c.bin").exists()
    repo.git("merge", "-q", "feature")
    assert (repo.path / "c.bin").read_bytes() == b"c1"


def test_git_pull_in_a_clone_hydrates(repo: Repo, origin: Path, tmp_path: Path):
    commit_artifact(repo, "a.bin", b"a1")
    repo.git("push", "-q", str(origin), "main")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    run(["git", "filer", "install"], clone)
    run(["git", "filer", "pull"], clone)
    commit_artifact(repo, "a.bin", b"a2")
    repo.git("push", "-q", str(origin), "main")
    git(clone, "pull", "-q")
    assert (clone / "a.bin").read_bytes() == b"a2"


def test_rebase_hydrates_once_done(repo: Repo):
    commit_artifact(repo, "a.bin", b"a1")
    repo.git("checkout", "-qb", "feature")
    commit_artifact(repo, "f.bin", b"f1")
    repo.git("checkout", "-q", "main")
    commit_artifact(repo, "a.bin", b"a2")
    repo.git("checkout", "-q", "feature")
    assert (repo.path / "a.bin").read_bytes() == b"a1"
    repo.git("rebase", "-q", "main")
    assert (repo.path / "a.bin").read_bytes() == b"a2"
    assert (repo.path / "f.bin").read_bytes() == b"f1"


def test_worktree_add_hydrates_from_the_shared_cache(repo: Repo, tmp_path: Path):
    commit_artifact(repo, "a.bin", b"a1")
    shutil.rmtree(repo.remote_dir)  # proves the shared cache, not the remote, supplies it
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"))
    assert (tmp_path / "wt/a.bin").read_bytes() == b"a1"


def test_autopull_globs_limit_what_checkout_hydrates(repo: Repo):
    (repo.path / ".gitfiler/config.yaml").write_text((repo.path / ".gitfiler/config.yaml").read_text() + "autopull: ['models/**']\n")
    repo.git("add", ".gitfiler/config.yaml")
    repo.git("commit", "-qm", "cfg")
    repo.git("checkout", "-qb", "feature")
    commit_artifact(repo, "models/m.bin", b"m")
    commit_artifact(repo, "data/d.bin", b"d")
    repo.git("checkout", "-q", "main")
    os.unlink(repo.path / "models/m.bin") if (repo.path / "models/m.bin").exists() else None
    os.unlink(repo.path / "data/d.bin") if (repo.path / "data/d.bin").exists() else None
    repo.git("checkout", "-q", "feature")
    assert (repo.path / "models/m.bin").exists() and not (repo.path / "data/d.bin").exists()


# -- clone-and-hydrate ----------------------------------------------------------------------------


def test_clone_with_include_hydrates_only_matching_artifacts(repo: Repo, origin: Path, tmp_path: Path):
    commit_artifact(repo, "models/prod/a.bin", b"prod")
    commit_artifact(repo, "models/dev/b.bin", b"dev")
    repo.git("push", "-q", str(origin), "main")
    cache = tmp_path / "shared-cache"
    dest = tmp_path / "srv/app"
    run(["git", "filer", "clone", str(origin), str(dest), "--include", "models/prod/**", "--no-hooks", "--cache", str(cache)], tmp_path)
    assert (dest / "models/prod/a.bin").read_bytes() == b"prod"
    assert not (dest / "models/dev/b.bin").exists()
    assert not (dest / ".git/hooks/pre-push").exists()
    assert obj(cache, b"prod").exists() and not obj(cache, b"dev").exists()


def test_clone_fails_listing_artifacts_it_could_not_hydrate(repo: Repo, origin: Path, tmp_path: Path):
    commit_artifact(repo, "a.bin", b"a")
    repo.git("push", "-q", str(origin), "main")
    obj(repo.remote_dir, b"a").unlink()
    proc = run(["git", "filer", "clone", str(origin), str(tmp_path / "c")], tmp_path, check=False)
    assert proc.returncode != 0 and "a.bin" in proc.stderr


def test_clone_verify_replaces_a_corrupt_shared_cache_object(repo: Repo, origin: Path, tmp_path: Path):
    commit_artifact(repo, "a.bin", b"a")
    repo.git("push", "-q", str(origin), "main")
    cache = tmp_path / "shared"
    bad = obj(cache, b"a")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"X")
    run(["git", "filer", "clone", str(origin), str(tmp_path / "c"), "--cache", str(cache), "--verify"], tmp_path)
    assert (tmp_path / "c/a.bin").read_bytes() == b"a"


# -- gc ---------------------------------------------------------------------------------------------


def test_gc_keeps_everything_reachable_and_deletes_the_rest(repo: Repo):
    commit_artifact(repo, "a.bin", b"v1")
    commit_artifact(repo, "a.bin", b"v2")
    repo.write("tmp.bin", b"never committed")
    repo.filer("add", "tmp.bin")
    repo.filer("remove", "tmp.bin")
    out = repo.filer("gc", "--grace", "0", "--dry-run").stdout
    assert "would delete 1 object(s)" in out and obj(repo.cache, b"never committed").exists()
    repo.filer("gc", "--grace", "0")
    assert not obj(repo.cache, b"never committed").exists()
    assert obj(repo.cache, b"v1").exists() and obj(repo.cache, b"v2").exists()  # v1 is still in history


def test_gc_remote_needs_yes_and_keeps_what_refs_reach(repo: Repo, origin: Path):
    repo.git("remote", "add", "origin", str(origin))
    commit_artifact(repo, "a.bin", b"kept")
    repo.git("push", "-q", "origin", "main")
    orphan = obj(repo.remote_dir, b"orphan")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"orphan")
    proc = repo.filer("gc", "--git-remote", "origin", check=False)
    assert proc.returncode != 0 and "--yes" in proc.stderr and orphan.exists()
    repo.filer("gc", "--git-remote", "origin", "--yes", "--grace", "0")
    assert not orphan.exists() and obj(repo.remote_dir, b"kept").exists()


def test_gc_refuses_a_shared_cache_unless_told(repo: Repo, tmp_path: Path):
    env = dict(os.environ, GITFILER_CACHE_DIR=str(tmp_path / "shared"))
    proc = repo.filer("gc", env=env, check=False)
    assert proc.returncode != 0 and "--shared-cache-ok" in proc.stderr
    repo.filer("gc", "--shared-cache-ok", env=env)
