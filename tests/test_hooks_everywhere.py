"""The hooks in every clone, not only the one that ran `git filer init` (issue 9): gitfiler's
commands install what a plain `git clone` lacks and say so once, `install --global` covers new
clones through git's template directory, and the pre-commit hook refuses a file too large for
git. Real `git clone`, the real `git filer` entry point, real hooks run by git."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Repo, clone_of, run
from gitfiler.hooks import shims, triggers
from gitfiler.hooks.shims import ASIDE, shim
from gitfiler.hooks.triggers import HOOKS

MIB = 1 << 20
NOTE = "installed the git hooks in .git/hooks"


def obj(root: Path, data: bytes) -> Path:
    h = hashlib.sha256(data).hexdigest()
    return root / "objects/sha256" / h[:2] / h[2:]


def with_env(**values: str) -> dict[str, str]:
    return dict(os.environ, **values)


def ours(work: Path) -> list[str]:
    """The hooks of ours, as this gitfiler writes them, in a clone's .git/hooks."""
    hooks = work / ".git/hooks"
    return sorted(n for n in HOOKS if (hooks / n).exists() and (hooks / n).read_text() == shim(n) and os.access(hooks / n, os.X_OK))


def filer(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["git", "filer", *args], cwd, env=env, check=check)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["git", "-c", "gc.auto=0", *args], cwd, env=env, check=check)


@pytest.fixture
def published(repo: Repo) -> Repo:
    """`repo` with one artifact committed (its bytes uploaded by post-commit)."""
    repo.write("models/m.bin", b"model v1")
    repo.filer("add", "models/m.bin")
    repo.git("commit", "-qm", "model")
    return repo


@pytest.fixture
def plain_clone(published: Repo, tmp_path: Path) -> Path:
    """The README's "elsewhere" flow starts here: a plain `git clone`, nothing of gitfiler's in it."""
    clone = clone_of(published, tmp_path)
    assert ours(clone) == []
    return clone


def per_clone_config(work: Path) -> Path:
    return work / ".git/filer/config.yaml"


def set_per_clone(work: Path, **values: object) -> None:
    path = per_clone_config(work)
    doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    doc = {"version": 1, **(doc or {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))


# -- gitfiler's commands install what a plain clone lacks -------------------------------------------------------


def test_the_first_pull_in_a_plain_clone_installs_the_hooks_and_says_so_once(plain_clone: Path):
    first = filer(plain_clone, "pull")
    assert ours(plain_clone) == sorted(HOOKS)
    said = [line for line in first.stderr.splitlines() if NOTE in line]
    assert len(said) == 1 and "'git filer uninstall' removes them" in said[0], first.stderr
    assert all(name in said[0] for name in HOOKS)
    assert (plain_clone / "models/m.bin").read_bytes() == b"model v1"
    second = filer(plain_clone, "pull")
    assert "gitfiler:" not in second.stderr, second.stderr


@pytest.mark.parametrize("command", [["add", "new.bin"], ["checkout"], ["push"]])
def test_add_checkout_and_push_install_them_too(plain_clone: Path, command: list[str]):
    (plain_clone / "new.bin").write_bytes(b"new")
    proc = filer(plain_clone, *command, check=False)  # checkout fails here (nothing cached yet): the hooks are in first
    assert ours(plain_clone) == sorted(HOOKS) and NOTE in proc.stderr


def test_status_installs_nothing(plain_clone: Path):
    filer(plain_clone, "status")
    assert ours(plain_clone) == []


def test_the_push_gate_then_refuses_a_push_the_filer_remote_lacks_bytes_for(plain_clone: Path, published: Repo, tmp_path: Path):
    filer(plain_clone, "pull")
    (plain_clone / "models/new.bin").write_bytes(b"bytes only this clone has")
    filer(plain_clone, "add", "models/new.bin")
    git(plain_clone, "commit", "-qm", "new model", env=with_env(GITFILER_AUTOPUSH="0"))  # post-commit uploads nothing
    away = tmp_path / "remote-away"
    published.remote_dir.rename(away)  # the filer remote cannot be reached
    origin_before = git(plain_clone, "rev-parse", "origin/main").stdout
    proc = git(plain_clone, "push", "-q", "origin", "main", check=False)
    assert proc.returncode != 0 and "push refused" in proc.stderr, proc.stderr
    assert git(tmp_path / "origin.git", "rev-parse", "main").stdout == origin_before  # git sent nothing
    away.rename(published.remote_dir)
    proc = git(plain_clone, "push", "-q", "origin", "main")
    assert f"uploaded 1 object(s) to 'local' ({published.remote_dir}) before the push" in proc.stderr
    assert obj(published.remote_dir, b"bytes only this clone has").exists()


def test_no_hooks_variable_config_and_uninstall_keep_them_out(plain_clone: Path):
    proc = filer(plain_clone, "pull", env=with_env(GITFILER_NO_HOOKS="1"))
    assert ours(plain_clone) == [] and "gitfiler:" not in proc.stderr
    set_per_clone(plain_clone, hooks=False)
    filer(plain_clone, "pull")
    assert ours(plain_clone) == []
    set_per_clone(plain_clone, hooks=True)
    assert NOTE in filer(plain_clone, "pull").stderr and ours(plain_clone) == sorted(HOOKS)
    # `uninstall` is kept: the next command does not put them back; `install` lifts it.
    out = filer(plain_clone, "uninstall").stdout
    assert "will not put them back" in out and ours(plain_clone) == []
    assert "gitfiler:" not in filer(plain_clone, "pull").stderr and ours(plain_clone) == []
    filer(plain_clone, "install")
    assert ours(plain_clone) == sorted(HOOKS)
    assert "gitfiler:" not in filer(plain_clone, "pull").stderr


def test_a_repository_can_say_hooks_false_for_every_clone(published: Repo, tmp_path: Path):
    config = published.path / ".gitfiler/config.yaml"
    config.write_text(config.read_text() + "hooks: false\n")
    published.git("commit", "-qam", "the team runs its hooks through the pre-commit framework")
    clone = clone_of(published, tmp_path)
    filer(clone, "pull")
    assert ours(clone) == []


def test_a_repository_running_gitfilers_hooks_through_the_pre_commit_framework_gets_no_shims(published: Repo, tmp_path: Path):
    config = {"repos": [{"repo": "https://github.com/your-org/gitfiler", "rev": "main", "hooks": [{"id": "gitfiler-push"}]}]}
    published.write(".pre-commit-config.yaml", yaml.safe_dump(config))
    published.git("add", ".pre-commit-config.yaml")
    published.git("commit", "-qm", "gitfiler's hooks through pre-commit")
    clone = clone_of(published, tmp_path)
    proc = filer(clone, "pull")
    assert ours(clone) == [] and "gitfiler:" not in proc.stderr
    filer(clone, "install")  # by hand, still
    assert ours(clone) == sorted(HOOKS)


def test_a_bad_hooks_value_is_refused_by_name(plain_clone: Path):
    set_per_clone(plain_clone, hooks="sometimes")
    proc = filer(plain_clone, "pull", check=False)
    assert proc.returncode == 3 and "'hooks' must be true or false" in proc.stderr


def test_a_foreign_hook_is_chained_not_clobbered(plain_clone: Path, tmp_path: Path):
    mine = "#!/bin/sh\necho \"$@\" >> \"$(git rev-parse --git-dir)/mine.log\"\n"
    hook = plain_clone / ".git/hooks/pre-push"
    hook.write_text(mine)
    hook.chmod(0o755)
    proc = filer(plain_clone, "pull")
    assert "your pre-push hook runs first, kept as pre-push.pre-gitfiler" in proc.stderr
    assert ours(plain_clone) == sorted(HOOKS)
    assert (plain_clone / f".git/hooks/pre-push{ASIDE}").read_text() == mine
    git(plain_clone, "commit", "-q", "--allow-empty", "-m", "x")
    git(plain_clone, "push", "-q", "origin", "main")
    assert "origin" in (plain_clone / ".git/mine.log").read_text()  # it still runs
    filer(plain_clone, "uninstall")
    assert hook.read_text() == mine


def test_a_hook_we_cannot_chain_is_a_note_not_a_failure(plain_clone: Path):
    hooks = plain_clone / ".git/hooks"
    for name in ("pre-push", f"pre-push{ASIDE}"):
        (hooks / name).write_text("#!/bin/sh\nexit 0\n")
        (hooks / name).chmod(0o755)
    proc = filer(plain_clone, "pull")
    assert "could not install the pre-push hook" in proc.stderr and "--force" in proc.stderr
    assert (plain_clone / "models/m.bin").read_bytes() == b"model v1"
    assert ours(plain_clone) == sorted(set(HOOKS) - {"pre-push"})


def test_a_hooks_path_outside_the_repository_is_not_written_unasked(plain_clone: Path, tmp_path: Path):
    shared = tmp_path / "shared-hooks"
    git(plain_clone, "config", "core.hooksPath", str(shared))
    proc = filer(plain_clone, "pull")
    assert not shared.exists() and "outside this repository" in proc.stderr and "git filer install" in proc.stderr
    filer(plain_clone, "install")
    assert sorted(p.name for p in shared.iterdir()) == sorted(HOOKS)
    assert "gitfiler:" not in filer(plain_clone, "pull").stderr


# -- the pre-commit framework ------------------------------------------------------------------------------------


def test_the_pre_commit_frameworks_hook_is_chained_either_way_round(plain_clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    config = {"repos": [{"repo": "local", "hooks": [{
        "id": "mark", "name": "mark", "entry": "touch .git/framework-ran", "language": "system", "pass_filenames": False, "always_run": True,
    }]}]}
    (plain_clone / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(plain_clone, "add", ".pre-commit-config.yaml")
    pre_commit = [sys.executable, "-m", "pre_commit"]
    run([*pre_commit, "install"], plain_clone)
    filer(plain_clone, "pull")  # ours at pre-commit, the framework's kept and run first
    assert ours(plain_clone) == sorted(HOOKS)
    (plain_clone / "big.bin").write_bytes(b"\0" * (11 * MIB))
    git(plain_clone, "add", "big.bin")
    proc = git(plain_clone, "commit", "-qm", "big", check=False)
    assert proc.returncode != 0 and "commit refused: big.bin" in proc.stderr
    assert (plain_clone / ".git/framework-ran").exists()
    git(plain_clone, "rm", "-q", "--cached", "big.bin")
    git(plain_clone, "commit", "-qm", "framework config")
    # The framework installed again: it keeps our shim as pre-commit.legacy and runs it first.
    (plain_clone / ".git/framework-ran").unlink()
    run([*pre_commit, "install"], plain_clone)
    assert "gitfiler:" not in filer(plain_clone, "pull").stderr  # ours is in place there: nothing to do
    git(plain_clone, "add", "big.bin")
    proc = git(plain_clone, "commit", "-qm", "big", check=False)
    assert proc.returncode != 0 and proc.stderr.count("commit refused: big.bin") == 1
    assert (plain_clone / ".git/framework-ran").exists()


# -- install --global ----------------------------------------------------------------------------------------------


@pytest.fixture
def global_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "global.gitconfig"
    path.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(path))
    return path


def global_get(key: str) -> str | None:
    proc = subprocess.run(["git", "config", "--global", "--get", key], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_install_global_gives_every_new_clone_the_hooks_and_uninstall_global_undoes_it(published: Repo, tmp_path: Path, global_config: Path):
    clone_of(published, tmp_path, "first")  # creates origin.git
    origin = tmp_path / "origin.git"
    out = filer(tmp_path, "install", "--global").stdout  # outside any repository
    template = Path(os.environ["GITFILER_HOME"]) / "git-template"
    assert global_get("init.templateDir") == str(template) and "uninstall --global" in out
    run(["git", "clone", "-q", str(origin), str(tmp_path / "second")], tmp_path)
    assert ours(tmp_path / "second") == sorted(HOOKS)
    assert (tmp_path / "second/models/m.bin").read_bytes() == b"model v1"  # post-checkout hydrated the clone
    # A repository that is not gitfiler's gets the shims too, and they stay out of its way.
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "plain")], tmp_path)
    (tmp_path / "plain/big.bin").write_bytes(b"\0" * (11 * MIB))
    git(tmp_path / "plain", "add", "big.bin")
    assert git(tmp_path / "plain", "commit", "-qm", "x").stderr == ""
    filer(tmp_path, "uninstall", "--global")
    assert global_get("init.templateDir") is None and not template.exists()
    run(["git", "clone", "-q", str(origin), str(tmp_path / "third")], tmp_path)
    assert ours(tmp_path / "third") == [] and not (tmp_path / "third/models/m.bin").exists()
    assert ours(tmp_path / "second") == sorted(HOOKS)  # clones made meanwhile keep theirs


def test_install_global_inside_a_repository_installs_there_too(plain_clone: Path, global_config: Path):
    filer(plain_clone, "install", "--global")
    assert ours(plain_clone) == sorted(HOOKS) and global_get("init.templateDir")


def test_install_global_never_replaces_a_template_dir_of_yours(published: Repo, tmp_path: Path, global_config: Path):
    clone_of(published, tmp_path, "first")
    theirs = tmp_path / "my-template"
    (theirs / "hooks").mkdir(parents=True)
    (theirs / "hooks/pre-push").write_text("#!/bin/sh\necho mine >> \"$(git rev-parse --git-dir)/mine.log\"\n")
    (theirs / "hooks/pre-push").chmod(0o755)
    git(tmp_path, "config", "--global", "init.templateDir", str(theirs))
    proc = filer(tmp_path, "install", "--global", check=False)
    assert proc.returncode == 10 and "init.templateDir is already" in proc.stderr and "--force" in proc.stderr
    assert global_get("init.templateDir") == str(theirs) and sorted(p.name for p in (theirs / "hooks").iterdir()) == ["pre-push"]
    filer(tmp_path, "install", "--global", "--force")
    assert global_get("init.templateDir") == str(theirs)
    run(["git", "clone", "-q", str(tmp_path / "origin.git"), str(tmp_path / "second")], tmp_path)
    assert ours(tmp_path / "second") == sorted(HOOKS)
    assert (tmp_path / f"second/.git/hooks/pre-push{ASIDE}").read_text().startswith("#!/bin/sh\necho mine")
    filer(tmp_path, "uninstall", "--global")
    assert global_get("init.templateDir") == str(theirs)
    assert sorted(p.name for p in (theirs / "hooks").iterdir()) == ["pre-push"]
    assert "echo mine" in (theirs / "hooks/pre-push").read_text()


def test_install_global_never_replaces_a_hooks_path_of_yours(tmp_path: Path, global_config: Path):
    shared = tmp_path / "shared-hooks"
    git(tmp_path, "config", "--global", "core.hooksPath", str(shared))
    proc = filer(tmp_path, "install", "--global", check=False)
    assert proc.returncode == 10 and "core.hooksPath is" in proc.stderr and "--force" in proc.stderr
    assert not shared.exists() and global_get("init.templateDir") is None
    filer(tmp_path, "install", "--global", "--force")
    assert sorted(p.name for p in shared.iterdir()) == sorted(HOOKS) and global_get("core.hooksPath") == str(shared)
    filer(tmp_path, "uninstall", "--global")
    assert list(shared.iterdir()) == [] and global_get("core.hooksPath") == str(shared)


# -- the large-file check as a pre-commit hook ------------------------------------------------------------------------


def test_a_20_mib_file_committed_to_git_is_refused_with_the_fix(repo: Repo):
    repo.write("data/big.bin", os.urandom(20 * MIB))
    repo.git("add", "data/big.bin")
    proc = repo.git("commit", "-qm", "oops", check=False)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "data/big.bin is 20.0 MiB" in lines[0] and "git rm --cached data/big.bin && git filer add data/big.bin" in lines[0]
    assert repo.git("rev-list", "--all").stdout == ""
    repo.git("commit", "-qm", "on purpose", env=with_env(GITFILER_NO_HOOKS="1"))
    repo.write("data/big2.bin", os.urandom(12 * MIB))
    repo.git("add", "data/big2.bin")
    repo.git("commit", "-qm", "on purpose too", "--no-verify")
    assert repo.git("rev-list", "--count", "HEAD").stdout.strip() == "2"


def test_the_check_sees_what_commit_a_stages_and_the_per_clone_limit(repo: Repo):
    repo.write("notes.txt", "small")
    repo.git("add", "notes.txt")
    repo.git("commit", "-qm", "notes")  # small files pass
    repo.write("notes.txt", b"x" * (2 * MIB))
    repo.git("commit", "-qam", "grown, under the limit")
    set_per_clone(repo.path, large_file_threshold=MIB)
    repo.write("notes.txt", b"y" * (2 * MIB))
    proc = repo.git("commit", "-qam", "grown, over the limit now", check=False)
    assert proc.returncode != 0 and "notes.txt is 2.0 MiB, over the 1.0 MiB limit" in proc.stderr


def test_install_no_large_file_check_removes_the_hook_and_it_stays_out(repo: Repo):
    out = repo.filer("install", "--no-large-file-check").stdout
    assert "removed pre-commit" in out and not (repo.path / ".git/hooks/pre-commit").exists()
    repo.write("big.bin", b"\0" * (11 * MIB))
    repo.filer("pull")
    assert not (repo.path / ".git/hooks/pre-commit").exists()
    repo.git("add", "big.bin")
    repo.git("commit", "-qm", "big, on purpose")
    repo.filer("install", "--large-file-check")
    assert ours(repo.path) == sorted(HOOKS)


# -- the shim's fast path and the Python check decide alike ------------------------------------------------------------

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
}


def shell_idle(root: Path) -> bool:
    script = shims._filer_git() + shims._size_helper() + f"if {shims.nothing_to_do('pre-commit')}; then echo idle; else echo busy; fi\n"
    proc = subprocess.run(["sh", "-c", script], cwd=root, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() == "idle"


def sh(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("awk") is None, reason="awk")
def test_pre_commit_shell_and_python_decide_alike(tmp_path: Path):
    root = tmp_path / "r"
    sh(tmp_path, "init", "-q", "-b", "main", str(root))

    def both() -> bool:
        shell, python = shell_idle(root), triggers.idle(str(root), "pre-commit", [])
        assert shell == python
        return shell

    (root / "big.bin").write_bytes(b"\0" * (11 * MIB))
    sh(root, "add", "big.bin")
    assert both()  # not a gitfiler repository: nothing to do
    (root / ".gitfiler").mkdir()
    (root / ".gitfiler/config.yaml").write_text("version: 1\n")
    assert not both()  # unborn HEAD, a big file staged
    sh(root, "rm", "-q", "--cached", "big.bin")
    (root / "small.txt").write_text("s")
    sh(root, "add", "small.txt", ".gitfiler")
    assert both()
    sh(root, "commit", "-qm", "c0")
    assert both()  # nothing staged
    (root / "small.txt").write_bytes(b"s" * 3000)
    sh(root, "add", "small.txt")
    assert both()
    (root / ".gitfiler/config.yaml").write_text("version: 1\nlarge_file_threshold: 2000\n")
    assert not both()  # the committed limit, stated plainly
    (root / ".git/filer").mkdir(exist_ok=True)  # the state the Python check keeps is there already
    (root / ".git/filer/config.yaml").write_text("large_file_threshold: 5000\n")
    assert both()  # the per-clone file wins
    sh(root, "rm", "-qf", "small.txt")
    assert both()  # a deletion adds nothing


@pytest.mark.parametrize("value, idle", [("0", True), ("No", True), ("OFF", True), ("false", True), ("1", False), ("", False), ("maybe", False)])
def test_autopush_off_in_the_environment_keeps_post_commit_out_of_python(tmp_path: Path, value: str, idle: bool):
    root = tmp_path / "r"
    sh(tmp_path, "init", "-q", "-b", "main", str(root))
    (root / "m.bin.filer").write_text("registry file")  # the commit touches a registry file: work, unless autopush is off
    sh(root, "add", "m.bin.filer")
    sh(root, "commit", "-qm", "c")
    environ = {**os.environ, **GIT_ENV, "GITFILER_AUTOPUSH": value}
    script = shims._filer_git() + shims._off_helper(triggers.TRIGGERS["post-commit"].off_by) + f"if {shims.nothing_to_do('post-commit')}; then echo idle; else echo busy; fi\n"
    proc = subprocess.run(["sh", "-c", script], cwd=root, capture_output=True, text=True, env=environ)
    assert proc.returncode == 0, proc.stderr
    old = os.environ.get("GITFILER_AUTOPUSH")
    os.environ["GITFILER_AUTOPUSH"] = value
    try:
        python = triggers.idle(str(root), "post-commit", [])
    finally:
        os.environ.pop("GITFILER_AUTOPUSH") if old is None else os.environ.update(GITFILER_AUTOPUSH=old)
    assert (proc.stdout.strip() == "idle") == python == idle
