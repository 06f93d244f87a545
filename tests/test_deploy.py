"""Releases and deployment hosts (issue 10): create, publish, deploy, switch, rollback, prune,
verify, through the local-directory remote and the real `git-filer` entry point."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, Repo, run


def git_filer(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script itself, as a host without git runs it."""
    return run([os.path.join(BIN_DIR, "git-filer"), *args], cwd, check=check, env=env)


def make_release(repo: Repo, name: str, model: bytes, tokenizer_files: dict[str, str], *, version: str = "1.0.0") -> None:
    repo.write("models/ranker.pt", model)
    for rel, text in tokenizer_files.items():
        repo.write(f"tokenizer/{rel}", text)
    repo.filer("add", "models/ranker.pt", "--type", "model", "--version", version)
    repo.filer("add", "tokenizer", "--type", "tokenizer", "--version", "2.0.0")
    repo.git("commit", "-qm", f"release {name}")
    repo.filer("release", "create", name, "--component", f"model:{version}", "--component", "tokenizer")
    repo.filer("release", "publish", name)


@pytest.fixture
def published(repo: Repo) -> Repo:
    make_release(repo, "2026.11.1", b"weights-1" * 1000, {"vocab.txt": "a b c\n", "sub/merges.txt": "x y\n"})
    return repo


def live(target: Path) -> str:
    return os.readlink(target / "current")


def test_deploy_places_a_verified_read_only_release_and_links_current(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    out = git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), "--json", cwd=tmp_path)
    data = json.loads(out.stdout)
    assert data["changed"] and data["placed"] and data["files"] == 3
    assert live(target) == "releases/2026.11.1"
    placed = target / "current" / "models" / "ranker.pt"
    assert placed.read_bytes() == b"weights-1" * 1000
    assert (target / "current" / "tokenizer" / "sub" / "merges.txt").read_text() == "x y\n"
    assert not placed.stat().st_mode & 0o222


def test_redeploying_the_live_release_does_nothing(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    args = ("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target))
    git_filer(*args, cwd=tmp_path)
    again = json.loads(git_filer(*args, "--json", cwd=tmp_path).stdout)
    assert not again["changed"] and not again["placed"] and again["fetched_objects"] == 0


def test_switch_rollback_and_status(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    make_release(published, "2026.11.2", b"weights-2" * 1000, {"vocab.txt": "a b c d\n"}, version="1.1.0")
    src = str(published.remote_dir)
    git_filer("deploy", "2026.11.1", "--from", src, "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), cwd=tmp_path)
    assert live(target) == "releases/2026.11.2"
    status = json.loads(git_filer("deploy", "status", "--target", str(target), "--json", cwd=tmp_path).stdout)
    assert status["live"] == "2026.11.2" and status["previous"] == "2026.11.1"
    assert [r["name"] for r in status["releases"]] == ["2026.11.2", "2026.11.1"]
    git_filer("deploy", "rollback", "--target", str(target), cwd=tmp_path)
    assert live(target) == "releases/2026.11.1"
    assert (target / "current/models/ranker.pt").read_bytes() == b"weights-1" * 1000
    git_filer("deploy", "switch", "2026.11.2", "--target", str(target), cwd=tmp_path)
    assert live(target) == "releases/2026.11.2"


def test_rollback_with_nothing_earlier_is_a_clear_error(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path)
    out = git_filer("deploy", "rollback", "--target", str(target), cwd=tmp_path, check=False)
    assert out.returncode == 1 and "nothing to roll back to" in out.stderr and "Traceback" not in out.stderr
    assert live(target) == "releases/2026.11.1"


def test_prune_keeps_the_live_and_the_previous_release(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    src = str(published.remote_dir)
    for i, name in enumerate(["2026.11.2", "2026.11.3", "2026.11.4"]):
        make_release(published, name, f"w{i}".encode() * 500, {"vocab.txt": f"v{i}\n"}, version=f"1.{i + 1}.0")
    for name in ["2026.11.1", "2026.11.2", "2026.11.3", "2026.11.4"]:
        git_filer("deploy", name, "--from", src, "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "switch", "2026.11.1", "--target", str(target), cwd=tmp_path)  # live is now the oldest
    out = json.loads(git_filer("deploy", "prune", "--keep", "1", "--target", str(target), "--json", cwd=tmp_path).stdout)
    assert sorted(out["removed"]) == ["2026.11.2", "2026.11.3"]
    assert sorted(os.listdir(target / "releases")) == ["2026.11.1", "2026.11.4"]
    assert live(target) == "releases/2026.11.1"
    assert out["cache_objects_removed"] >= 4  # the pruned releases' own models and vocabularies, not the kept ones'
    git_filer("deploy", "switch", "2026.11.4", "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "verify", "--deep", "--target", str(target), cwd=tmp_path)


def test_verify_deep_catches_a_same_size_edit_of_a_live_file(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "verify", "--target", str(target), "--deep", cwd=tmp_path)
    f = target / "current/tokenizer/vocab.txt"
    os.chmod(f, 0o644)
    f.write_text("a b X\n")  # same size
    os.chmod(f, 0o444)
    shallow = git_filer("deploy", "verify", "--target", str(target), cwd=tmp_path, check=False)
    assert shallow.returncode == 0  # sizes and modes still match: only --deep reads the bytes
    deep = git_filer("deploy", "verify", "--target", str(target), "--deep", cwd=tmp_path, check=False)
    assert deep.returncode == 6
    assert "tokenizer/vocab.txt" in deep.stderr and "content changed" in deep.stderr and "Traceback" not in deep.stderr


def test_verify_names_a_missing_file(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path)
    d = target / "releases/2026.11.1/tokenizer/sub"
    os.chmod(d, 0o755)
    (d / "merges.txt").unlink()
    out = git_filer("deploy", "verify", "--target", str(target), cwd=tmp_path, check=False)
    assert out.returncode == 7 and "merges.txt: missing" in out.stderr


def test_publish_refuses_to_move_a_published_name(published: Repo):
    published.write("models/ranker.pt", b"other weights")
    published.filer("add", "models/ranker.pt", "--type", "model", "--version", "1.0.0")
    published.git("commit", "-qm", "other")
    published.filer("release", "create", "2026.11.1", "--force")
    before = (published.remote_dir / "releases" / "2026.11.1").read_bytes()
    out = published.filer("release", "publish", "2026.11.1", check=False)
    assert out.returncode == 8 and "never moves" in out.stderr and "Traceback" not in out.stderr
    assert (published.remote_dir / "releases" / "2026.11.1").read_bytes() == before


def test_publishing_the_same_release_again_is_fine(published: Repo):
    out = json.loads(published.filer("release", "publish", "2026.11.1", "--json").stdout)
    assert out["already_published"] and out["objects"] == 0


def test_release_create_checks_the_component_version(repo: Repo):
    repo.write("models/ranker.pt", b"w")
    repo.filer("add", "models/ranker.pt", "--type", "model", "--version", "1.3.0")
    repo.git("commit", "-qm", "m")
    out = repo.filer("release", "create", "r1", "--component", "model:1.4.0", check=False)
    assert out.returncode == 1 and "models/ranker.pt is 1.3.0" in out.stderr


def test_release_list_shows_published_and_local_releases_in_version_order(published: Repo):
    published.filer("release", "create", "2026.9.1")
    rows = json.loads(published.filer("release", "list", "--json").stdout)
    assert [(r["name"], r["published"]) for r in rows] == [("2026.9.1", False), ("2026.11.1", True)]
    comps = {c["name"]: c for c in rows[1]["components"]}
    assert comps["model"]["version"] == "1.0.0" and comps["tokenizer"]["kind"] == "dir"


def test_deploy_include_selects_components_and_files(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), "-I", "tokenizer/sub/*", cwd=tmp_path)
    files = sorted(str(p.relative_to(target / "current/")) for p in (target / "current/").rglob("*") if p.is_file())
    assert files == ["tokenizer/sub/merges.txt"]


def test_deploy_include_matching_nothing_is_an_error(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    out = git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), "-I", "nope*", cwd=tmp_path, check=False)
    assert out.returncode == 1 and "matches nothing" in out.stderr
    assert not (target / "current").exists()


def test_deploy_of_an_unpublished_release_exits_7(published: Repo, tmp_path: Path):
    out = git_filer("deploy", "2099.1.1", "--from", str(published.remote_dir), "--target", str(tmp_path / "srv"), cwd=tmp_path, check=False)
    assert out.returncode == 7 and "not published" in out.stderr


def test_deploy_from_a_ref_in_the_repository(repo: Repo, tmp_path: Path):
    repo.write("models/m.pt", b"m1")
    repo.filer("add", "models/m.pt")
    repo.git("commit", "-qm", "one")
    repo.git("tag", "v1")
    target = tmp_path / "srv"
    out = json.loads(repo.filer("deploy", "--ref", "v1", "--target", str(target), "--json").stdout)
    assert out["release"].startswith("git-") and (target / "current/models/m.pt").read_bytes() == b"m1"


def test_component_links_point_through_current(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), "--link-components", cwd=tmp_path)
    assert os.readlink(target / "model") == "current/models/ranker.pt"
    assert (target / "tokenizer" / "vocab.txt").read_text() == "a b c\n"


def test_deploy_needs_no_git_on_path(published: Repo, tmp_path: Path):
    nogit = tmp_path / "bin"
    nogit.mkdir()
    os.symlink(sys.executable, nogit / "python3")
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = str(nogit)
    assert shutil.which("git", path=env["PATH"]) is None
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path, env=env)
    git_filer("deploy", "verify", "--deep", "--target", str(target), cwd=tmp_path, env=env)
    assert (target / "current/models/ranker.pt").exists()


def test_deploy_from_env_reports_every_missing_variable_at_once(tmp_path: Path):
    env = dict(os.environ, GITFILER_JOBS="many")
    for k in ("GITFILER_REMOTE", "GITFILER_RELEASE", "GITFILER_TARGET"):
        env.pop(k, None)
    out = git_filer("deploy", "--from-env", cwd=tmp_path, check=False, env=env)
    assert out.returncode == 3 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    for name in ("GITFILER_REMOTE", "GITFILER_RELEASE", "GITFILER_TARGET", "GITFILER_JOBS"):
        assert name in line


def test_a_deploy_killed_mid_transfer_leaves_the_live_release_and_the_next_one_completes(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    src = str(published.remote_dir)
    git_filer("deploy", "2026.11.1", "--from", src, "--target", str(target), cwd=tmp_path)
    big = os.urandom(1024 * 1024) * 64  # 64 MiB: long enough to kill mid-copy
    make_release(published, "2026.11.2", big, {"vocab.txt": "v2\n"}, version="2.0.0")
    proc = subprocess.Popen(
        [os.path.join(BIN_DIR, "git-filer"), "deploy", "2026.11.2", "--from", src, "--target", str(target), "-j", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 30
    staging = target / ".filer-deploy"
    while time.time() < deadline and proc.poll() is None:
        tmp_files = [p for p in staging.rglob("*") if p.is_file() and p.stat().st_size > 0 and "records" not in p.parts and p.name != "lock"]
        if tmp_files:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert live(target) == "releases/2026.11.1"
    assert (target / "current/models/ranker.pt").read_bytes() == b"weights-1" * 1000
    git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), cwd=tmp_path)
    assert live(target) == "releases/2026.11.2"
    assert (target / "current/models/ranker.pt").read_bytes() == big
    assert os.listdir(staging / "staging") == []


def test_a_second_deploy_while_one_holds_the_lock_is_refused(published: Repo, tmp_path: Path):
    import fcntl

    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path)
    fd = os.open(target / ".filer-deploy" / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        out = git_filer("deploy", "switch", "2026.11.1", "--target", str(target), cwd=tmp_path, check=False)
        assert out.returncode == 1 and "another deploy" in out.stderr
    finally:
        os.close(fd)
    git_filer("deploy", "switch", "2026.11.1", "--target", str(target), cwd=tmp_path)


def test_release_directories_are_read_only(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), cwd=tmp_path)
    d = target / "releases/2026.11.1"
    assert not stat.S_IMODE(d.stat().st_mode) & 0o222


def test_files_are_hard_links_to_the_targets_own_cache_and_copies_from_a_shared_one(published: Repo, tmp_path: Path):
    own, shared = tmp_path / "own", tmp_path / "shared"
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(own), cwd=tmp_path)
    git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(shared), "--cache", str(tmp_path / "cache"), cwd=tmp_path)
    assert (own / "current/models/ranker.pt").stat().st_nlink == 2  # one write per byte, one copy on disk
    assert (shared / "current/models/ranker.pt").stat().st_nlink == 1  # a shared cache is never linked into a release


def test_a_corrupt_cached_object_is_fetched_again_not_placed(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    cache = tmp_path / "cache"
    src = str(published.remote_dir)
    git_filer("deploy", "2026.11.1", "--from", src, "--target", str(target), "--cache", str(cache), cwd=tmp_path)
    cached = next(p for p in cache.rglob("objects/sha256/*/*") if p.read_bytes() == b"weights-1" * 1000)
    os.chmod(cached, 0o644)
    cached.write_bytes(b"X" * 9000)  # same size, other bytes
    make_release(published, "2026.11.2", b"weights-1" * 1000, {"vocab.txt": "new\n"})  # shares the model
    out = json.loads(git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), "--cache", str(cache), "--json", cwd=tmp_path).stdout)
    assert out["fetched_objects"] >= 1
    assert (target / "current/models/ranker.pt").read_bytes() == b"weights-1" * 1000


def test_force_rebuilds_a_damaged_release_that_is_not_live(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    src = str(published.remote_dir)
    make_release(published, "2026.11.2", b"weights-2" * 1000, {"vocab.txt": "v2\n"}, version="1.1.0")
    git_filer("deploy", "2026.11.1", "--from", src, "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), cwd=tmp_path)
    git_filer("deploy", "switch", "2026.11.1", "--target", str(target), cwd=tmp_path)
    d = target / "releases/2026.11.2/tokenizer"
    os.chmod(d, 0o755)
    (d / "vocab.txt").unlink()
    refused = git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), cwd=tmp_path, check=False)
    assert refused.returncode == 7 and "damaged" in refused.stderr and "--force" in refused.stderr
    git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), "--force", cwd=tmp_path)
    assert (target / "current/tokenizer/vocab.txt").read_text() == "v2\n"
    git_filer("deploy", "verify", "--deep", "--target", str(target), cwd=tmp_path)


def test_a_component_link_the_new_release_lacks_is_removed(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    src = str(published.remote_dir)
    make_release(published, "2026.11.2", b"weights-2" * 1000, {"vocab.txt": "v2\n"}, version="1.1.0")
    git_filer("deploy", "2026.11.1", "--from", src, "--target", str(target), "--link-components", cwd=tmp_path)
    git_filer("deploy", "2026.11.2", "--from", src, "--target", str(target), "-I", "model", "--link-components", cwd=tmp_path)
    assert os.path.islink(target / "model") and not os.path.lexists(target / "tokenizer")
    git_filer("deploy", "verify", "--target", str(target), cwd=tmp_path)


def test_from_env_refuses_arguments_it_would_ignore(tmp_path: Path):
    out = git_filer("deploy", "2026.11.1", "--from-env", cwd=tmp_path, check=False)
    assert out.returncode == 2 and "drop NAME" in out.stderr


def test_a_remote_directory_that_does_not_exist_is_exit_5(tmp_path: Path):
    out = git_filer("deploy", "r1", "--from", str(tmp_path / "nowhere"), "--target", str(tmp_path / "srv"), cwd=tmp_path, check=False)
    assert out.returncode == 5 and "no such directory" in out.stderr
    assert not (tmp_path / "srv").exists()


def test_dry_run_counts_files_and_places_nothing(published: Repo, tmp_path: Path):
    target = tmp_path / "srv"
    out = json.loads(git_filer("deploy", "2026.11.1", "--from", str(published.remote_dir), "--target", str(target), "--dry-run", "--json", cwd=tmp_path).stdout)
    assert out["dry_run"] and out["files"] == 3 and out["fetched_objects"] == 3
    assert not (target / "current").exists() and not (target / "releases").exists()


def test_a_hostile_release_name_on_the_command_line_is_a_usage_error(tmp_path: Path):
    out = git_filer("deploy", "../etc", "--from", str(tmp_path), "--target", str(tmp_path / "srv"), cwd=tmp_path, check=False)
    assert out.returncode == 2 and "not allowed" in out.stderr


def test_remove_from_remote_warns_when_a_published_release_used_the_bytes(published: Repo):
    result = published.filer("remove", "models/ranker.pt", "--from-remote")
    assert "published release(s) 2026.11.1 used what was deleted" in result.stderr


def test_remove_from_remote_says_nothing_of_releases_that_do_not_use_the_bytes(published: Repo):
    published.write("other.bin", b"unrelated")
    published.filer("add", "other.bin")
    published.git("commit", "-qm", "other")
    published.filer("push")
    assert "published release" not in published.filer("remove", "other.bin", "--from-remote").stderr


def test_release_list_with_a_remote_url_works_on_a_host_with_no_repository(published: Repo, tmp_path: Path):
    host = tmp_path / "host"
    host.mkdir()
    out = json.loads(git_filer("release", "list", "-r", str(published.remote_dir), "--json", cwd=host).stdout)
    assert [r["name"] for r in out] == ["2026.11.1"] and not list(host.iterdir())
    missing = git_filer("release", "list", "-r", str(tmp_path / "nowhere"), cwd=host, check=False)
    assert missing.returncode == 5 and "no such directory" in missing.stderr
