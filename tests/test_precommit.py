"""The pre-commit framework integration, driven by the real `pre-commit` tool."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Repo, make_repo, run

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(autouse=True)
def pre_commit_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path_factory.getbasetemp() / "pre-commit-home"))


def local_config(hook_ids: list[str], args: dict[str, list[str]] | None = None) -> str:
    """A config running our manifest's hooks as `repo: local` against the installed gitfiler."""
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = []
    for hook in manifest:
        if hook["id"] in hook_ids:
            hook = dict(hook, language="system")
            if args and hook["id"] in args:
                hook["args"] = args[hook["id"]]
            hooks.append(hook)
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]})


@pytest.fixture
def prepo(tmp_path: Path) -> Repo:
    r = make_repo(tmp_path, init_args=("--no-hooks",))
    return r


def install(repo: Repo, config: str, *types: str) -> None:
    repo.write(".pre-commit-config.yaml", config)
    repo.git("add", ".pre-commit-config.yaml")
    run([*PRE_COMMIT, "install", *[a for t in types for a in ("-t", t)]], repo.path)


def test_manifest_is_valid():
    run([*PRE_COMMIT, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], ROOT)


def test_large_file_is_refused_with_the_command_to_use(prepo: Repo):
    install(prepo, local_config(["gitfiler-large-files"], {"gitfiler-large-files": ["--max-size", "1M"]}), "pre-commit")
    prepo.write("weights.bin", os.urandom(2 * 1024 * 1024))
    prepo.git("add", "weights.bin")
    proc = prepo.git("commit", "-qm", "oops", check=False)
    assert proc.returncode != 0
    assert "git filer add weights.bin" in proc.stdout + proc.stderr
    prepo.git("rm", "-q", "--cached", "weights.bin")
    prepo.filer("add", "weights.bin")
    prepo.git("commit", "-qm", "tracked properly")


def test_validate_catches_a_model_changed_but_not_readded(prepo: Repo):
    install(prepo, local_config(["gitfiler-validate"]), "pre-commit")
    prepo.write("m.bin", b"v1")
    prepo.filer("add", "m.bin")
    prepo.git("commit", "-qm", "v1")
    prepo.write("m.bin", b"retrained but not re-added")
    prepo.write("notes.txt", "x")
    prepo.git("add", "notes.txt")
    proc = prepo.git("commit", "-qm", "notes", check=False)
    assert proc.returncode != 0 and "git filer add m.bin" in proc.stdout + proc.stderr
    prepo.filer("add", "m.bin")
    prepo.git("commit", "-qm", "notes and model")


def test_push_stage_refuses_missing_objects(prepo: Repo, tmp_path: Path):
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp_path)
    prepo.git("remote", "add", "origin", str(bare))
    install(prepo, local_config(["gitfiler-push"]), "pre-push")
    prepo.write("m.bin", b"bytes")
    prepo.filer("add", "m.bin")
    prepo.git("commit", "-qm", "v1")
    h = hashlib.sha256(b"bytes").hexdigest()
    cached = prepo.cache / "objects/sha256" / h[:2] / h[2:]
    data = cached.read_bytes()
    cached.unlink()
    (prepo.path / "m.bin").write_bytes(b"changed")
    proc = prepo.git("push", "-q", "origin", "main", check=False)
    assert proc.returncode != 0 and f"sha256:{h}" in proc.stdout + proc.stderr
    cached.write_bytes(data)
    prepo.git("push", "-q", "origin", "main")
    assert (prepo.remote_dir / "objects/sha256" / h[:2] / h[2:]).exists()


def test_pull_stage_hydrates_on_branch_switch(prepo: Repo):
    install(prepo, local_config(["gitfiler-pull"]), "post-checkout", "post-merge")
    prepo.git("commit", "-qm", "config")
    prepo.git("checkout", "-qb", "feature")
    prepo.write("m.bin", b"feature model")
    prepo.filer("add", "m.bin")
    prepo.git("commit", "-qm", "model")
    prepo.git("checkout", "-q", "main")
    os.unlink(prepo.path / "m.bin") if (prepo.path / "m.bin").exists() else None
    prepo.git("checkout", "-q", "feature")
    assert (prepo.path / "m.bin").read_bytes() == b"feature model"


@pytest.mark.skipif(os.environ.get("GITFILER_SKIP_TRY_REPO") == "1", reason="needs PyPI to build pre-commit's environment")
def test_try_repo_installs_gitfiler_from_this_repository(prepo: Repo, tmp_path: Path):
    """The manifest as users consume it: pre-commit builds its own venv from this repository."""
    prepo.write("big.bin", os.urandom(11 * 1024 * 1024))  # over the default 10 MiB limit
    prepo.git("add", "big.bin")
    proc = run([*PRE_COMMIT, "try-repo", str(ROOT), "gitfiler-large-files", "--files", "big.bin"], prepo.path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "git filer add big.bin" in out
