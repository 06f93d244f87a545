"""gitfiler/hooks/triggers.py: one decision per hook, asked two ways. The shims' shell fast path
(rendered by gitfiler/hooks/shims.py) and the Python check the entry makes must agree on every
case: run both on a real repository and compare. The same for GITFILER_NO_HOOKS."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitfiler import env, git
from gitfiler.errors import ConfigError
from gitfiler.hooks import shims, triggers

ZERO = triggers.ZERO
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
}


def sh_git(root: Path, *args: str) -> str:
    env_ = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=root, env=env_, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """c0 README; c1 adds a.filer; c2 changes README only; c3 adds nested/d/b.filer. origin/main is c1."""
    root = tmp_path_factory.mktemp("triggers")
    sh_git(root, "init", "-q", "-b", "main")
    shas = {}
    for name, path, text in [("c0", "README", "0"), ("c1", "a.filer", "a"), ("c2", "README", "2"), ("c3", "nested/d/b.filer", "b")]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        sh_git(root, "add", path)
        sh_git(root, "commit", "-qm", name)
        shas[name] = sh_git(root, "rev-parse", "HEAD")
    sh_git(root, "update-ref", "refs/remotes/origin/main", shas["c1"])
    return root, shas


def shell_idle(root: Path, hook: str, args: list[str], stdin: str = "", extra_env: dict[str, str] | None = None) -> bool:
    script = shims._filer_git() + (shims._push_helper() if triggers.TRIGGERS[hook].per_ref else "")
    condition = shims.nothing_to_do(hook).replace(' < "$input"', "")
    script += f"if {condition}; then echo idle; else echo busy; fi\n"
    proc = subprocess.run(["sh", "-c", script, hook, *args], cwd=root, input=stdin, capture_output=True, text=True, env={**os.environ, **GIT_ENV, **(extra_env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() == "idle"


def python_idle(root: Path, hook: str, args: list[str], stdin: str = "", extra_env: dict[str, str] | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> bool:
    for k, v in (extra_env or {}).items():
        assert monkeypatch is not None
        monkeypatch.setenv(k, v)
    return triggers.idle(str(root), hook, args, stdin)


def at(root: Path, commit: str, orig_head: str | None = None) -> None:
    sh_git(root, "checkout", "-q", "--detach", commit)
    if orig_head:
        sh_git(root, "update-ref", "ORIG_HEAD", orig_head)


# (hook, HEAD, ORIG_HEAD, args, stdin, idle?) with commits named as in `history`.
CASES = [
    ("post-commit", "c1", None, [], "", False),
    ("post-commit", "c2", None, [], "", True),
    ("post-commit", "c3", None, [], "", False),  # a nested registry file
    ("post-commit", "c0", None, [], "", True),  # the root commit
    ("post-checkout", "c1", None, ["c0", "c1", "1"], "", False),
    ("post-checkout", "c2", None, ["c1", "c2", "1"], "", True),
    ("post-checkout", "c1", None, ["c0", "c1", "0"], "", True),  # a file checkout
    ("post-checkout", "c1", None, ["c1", "c1", "1"], "", True),  # nothing moved
    ("post-checkout", "c1", None, [ZERO, "c1", "1"], "", False),  # a clone: git cannot tell, so run
    ("post-checkout", "c3", None, ["c2", "c3", "1"], "", False),
    ("post-merge", "c1", "c0", ["0"], "", False),
    ("post-merge", "c2", "c1", ["0"], "", True),
    ("post-rewrite", "c1", "c0", ["amend"], "", True),
    ("post-rewrite", "c1", "c0", ["rebase"], "", False),
    ("post-rewrite", "c2", "c1", ["rebase"], "", True),
    ("pre-push", "c3", None, ["origin", "url"], "", True),  # nothing pushed
    ("pre-push", "c3", None, ["origin", "url"], f"refs/heads/x {ZERO} refs/heads/x c1\n", True),  # a deletion
    ("pre-push", "c3", None, ["origin", "url"], "refs/heads/main c2 refs/heads/main c1\n", True),
    ("pre-push", "c3", None, ["origin", "url"], "refs/heads/main c3 refs/heads/main c2\n", False),
    ("pre-push", "c3", None, ["origin", "url"], f"refs/heads/new c2 refs/heads/new {ZERO}\n", True),  # origin has c1
    ("pre-push", "c3", None, ["elsewhere", "url"], f"refs/heads/new c2 refs/heads/new {ZERO}\n", False),  # no ref there
    ("pre-push", "c3", None, ["origin", "url"], f"refs/heads/main c2 refs/heads/main {'f' * 40}\n", True),  # unknown remote tip
    ("pre-push", "c3", None, ["origin", "url"], f"refs/heads/a c2 refs/heads/a c1\nrefs/heads/b c3 refs/heads/b {ZERO}\n", False),
]


def _named(text: str, shas: dict[str, str]) -> str:
    for name, sha in shas.items():
        text = text.replace(f" {name} ", f" {sha} ").replace(f" {name}\n", f" {sha}\n")
    return text


@pytest.mark.parametrize("pathspec_env", [{}, {"GIT_GLOB_PATHSPECS": "1"}, {"GIT_LITERAL_PATHSPECS": "1"}, {"GIT_NOGLOB_PATHSPECS": "1"}], ids=["plain", "glob", "literal", "noglob"])
@pytest.mark.parametrize("hook, head, orig, args, stdin, expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_shell_and_python_decide_alike(history, monkeypatch, pathspec_env, hook, head, orig, args, stdin, expected) -> None:
    root, shas = history
    at(root, shas[head], shas[orig] if orig else None)
    args = [shas.get(a, a) for a in args]
    stdin = _named(stdin, shas)
    shell = shell_idle(root, hook, args, stdin, pathspec_env)
    python = python_idle(root, hook, args, stdin, pathspec_env, monkeypatch)
    assert (shell, python) == (expected, expected)


def test_commits_a_hydrating_hook_compares() -> None:
    assert triggers.commits("post-checkout", ["a", "b", "1"]) == ("a", "b")
    assert triggers.commits("post-merge", ["0"]) == ("ORIG_HEAD", "HEAD")
    assert triggers.commits("post-rewrite", ["rebase"]) == ("ORIG_HEAD", "HEAD")


def test_the_shims_reset_exactly_what_gitfilers_own_git_calls_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in shims.PATHSPEC_VARS:
        monkeypatch.setenv(var, "1")
    assert not set(shims.PATHSPEC_VARS) & set(git.clean_env())
    dropped = {k for k in os.environ if k.startswith("GIT_") and k.endswith("_PATHSPECS")} - set(git.clean_env())
    assert dropped == set(shims.PATHSPEC_VARS)


@pytest.mark.parametrize("value", ["", "1", "0", "true", "TRUE", "tRuE", "false", "False", "yes", "no", "on", "OFF", "2", "maybe", " 1", "y", "-"])
def test_no_hooks_means_the_same_to_the_shim_and_to_gitfiler(tmp_path: Path, value: str) -> None:
    script = shims._no_hooks_test() + "echo on\n"
    proc = subprocess.run(["sh", "-c", script, str(tmp_path / "post-commit")], capture_output=True, text=True, env={**os.environ, env.NO_HOOKS.name: value})
    shim_off = proc.stdout.strip() != "on"
    try:
        off = env.flag(env.NO_HOOKS, {env.NO_HOOKS.name: value}) is True
    except ConfigError:
        off = False  # the shim goes on to gitfiler, which names the bad value
    assert shim_off == off


def test_every_installed_hook_has_a_trigger_and_a_shim() -> None:
    assert triggers.HOOKS == ("post-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite", "pre-commit")
    for name in triggers.HOOKS:
        text = shims.shim(name)
        assert text.startswith("#!/bin/sh\n" + shims.ID_LINE) and f"git-filer hook {name} " in text
