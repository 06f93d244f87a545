"""`git filer doctor`: the effective setup, where each value comes from, and each problem with
its fix and exit code. Real repositories, the real entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from conftest import Repo, filer, make_repo, run


def doctor_json(cwd: Path, *, env: dict[str, str] | None = None) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    proc = filer(cwd, "doctor", "--json", check=False, env=env)
    return json.loads(proc.stdout), proc


def check(report: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    return next(c for c in report["sections"][section] if c["name"] == name)


def test_a_healthy_repository_exits_0_and_names_where_each_value_comes_from(repo: Repo):
    report, proc = doctor_json(repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["ok"] and report["problems"] == 0
    default = check(report, "configuration", "default_remote")
    assert (default["value"], default["source"]) == ("local", "committed")
    assert check(report, "configuration", "jobs")["source"] == "default"
    assert check(report, "remotes", "remote 'local'")["status"] == "ok"
    assert all(c["status"] == "ok" for c in report["sections"]["hooks"])
    assert check(report, "versions", "git-filer")["path"]


def test_the_text_report_shows_sources_and_says_there_is_nothing_wrong(repo: Repo):
    proc = repo.filer("doctor")
    assert "default_remote" in proc.stdout and "[committed]" in proc.stdout
    assert "no problems found" in proc.stderr


def test_a_value_set_in_the_environment_has_source_environment(repo: Repo):
    report, proc = doctor_json(repo.path, env=dict(os.environ, GITFILER_JOBS="3"))
    assert proc.returncode == 0
    assert (check(report, "configuration", "jobs")["value"], check(report, "configuration", "jobs")["source"]) == (3, "environment")
    assert check(report, "environment", "GITFILER_JOBS")["value"] == "3"


def test_a_value_in_the_per_clone_file_has_source_per_clone(repo: Repo):
    (repo.path / ".git" / "filer" / "config.yaml").write_text("version: 1\nautopush: false\n")
    report, _ = doctor_json(repo.path)
    assert (check(report, "configuration", "autopush")["value"], check(report, "configuration", "autopush")["source"]) == (False, "per-clone")


def test_a_key_the_committed_file_may_not_set_is_shown_as_ignored(repo: Repo):
    with open(repo.path / ".gitfiler" / "config.yaml", "a") as f:
        f.write("cache_dir: /tmp/elsewhere\n")
    report, proc = doctor_json(repo.path)
    ignored = check(report, "configuration", "cache_dir (committed)")
    assert (ignored["source"], ignored["status"]) == ("ignored", "warn")
    assert check(report, "cache", "location")["path"] == str(repo.cache)
    assert proc.returncode == 0


def test_a_bad_environment_value_is_a_config_problem(repo: Repo):
    report, proc = doctor_json(repo.path, env=dict(os.environ, GITFILER_NO_HOOKS="maybe"))
    assert proc.returncode == 3
    assert check(report, "environment", "GITFILER_NO_HOOKS")["status"] == "problem"


def test_a_missing_hook_is_a_problem_with_its_fix(repo: Repo):
    (repo.path / ".git" / "hooks" / "pre-push").unlink()
    proc = repo.filer("doctor", check=False)
    assert proc.returncode == 10, proc.stdout + proc.stderr
    line = next(i for i, text in enumerate(proc.stdout.splitlines()) if "pre-push" in text)
    assert "problem" in proc.stdout.splitlines()[line]
    assert proc.stdout.splitlines()[line + 1].strip() == "fix: git filer install"
    assert "Traceback" not in proc.stderr


def test_an_outdated_shim_is_reported(repo: Repo):
    hook = repo.path / ".git" / "hooks" / "post-merge"
    hook.write_text(hook.read_text() + "# an older gitfiler wrote this\n")
    report, proc = doctor_json(repo.path)
    found = check(report, "hooks", "post-merge")
    assert (found["status"], found["state"], found["fix"]) == ("problem", "outdated", "git filer install --force")
    assert proc.returncode == 10
    filer(repo.path, "install", "--force")
    assert filer(repo.path, "doctor", check=False).returncode == 0


def test_a_foreign_hook_is_a_problem_and_a_chained_one_is_named(repo: Repo):
    hooks = repo.path / ".git" / "hooks"
    filer(repo.path, "uninstall")
    (hooks / "post-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "post-commit").chmod(0o755)
    report, _ = doctor_json(repo.path)
    assert check(report, "hooks", "post-commit")["state"] == "foreign"
    assert check(report, "hooks", "post-commit")["status"] == "warn"  # after uninstall, hooks are off in this clone
    filer(repo.path, "install")
    report, proc = doctor_json(repo.path)
    assert check(report, "hooks", "post-commit")["chained"] == "post-commit.pre-gitfiler"
    assert proc.returncode == 0


def test_an_unreachable_local_remote_exits_5_with_the_fix(repo: Repo):
    shutil.rmtree(repo.remote_dir)
    proc = repo.filer("doctor", check=False)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    row = next(i for i, text in enumerate(lines) if "remote 'local'" in text)
    assert "problem" in lines[row] and str(repo.remote_dir) in lines[row]
    assert lines[row + 1].strip().startswith("fix: restore ") and "git filer remote add local" in lines[row + 1]


def test_a_committed_default_naming_a_per_clone_remote_is_a_problem(repo: Repo, tmp_path: Path):
    repo.filer("remote", "add", "mine", str(tmp_path / "mine"), "--local")
    config = repo.path / ".gitfiler" / "config.yaml"
    config.write_text(config.read_text().replace("default_remote: local", "default_remote: mine"))
    report, proc = doctor_json(repo.path)
    assert proc.returncode == 3
    problem = check(report, "remotes", "committed default")
    assert "only this clone's per-clone config" in problem["detail"] and "without --local" in problem["fix"]


def test_broken_config_yaml_exits_3_without_a_traceback(repo: Repo):
    (repo.path / ".gitfiler" / "config.yaml").write_text("remotes: [\n")
    proc = repo.filer("doctor", check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not valid YAML" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr and "internal error" not in proc.stderr
    report, proc = doctor_json(repo.path)
    assert check(report, "configuration", "config")["status"] == "problem" and report["exit_code"] == 3


def test_outside_a_repository_it_reports_that_and_still_checks_the_tools(tmp_path: Path):
    outside = tmp_path / "plain"
    outside.mkdir()
    report, proc = doctor_json(outside)
    assert proc.returncode == 0, proc.stderr
    assert check(report, "repository", "repository")["status"] == "warn"
    assert check(report, "versions", "git")["value"]
    assert "hooks" not in report["sections"] and "remotes" not in report["sections"]


def test_a_git_repository_without_gitfiler_is_told_to_run_init(tmp_path: Path):
    run(["git", "init", "-q", "-b", "main", str(tmp_path / "bare-repo")], tmp_path)
    report, _ = doctor_json(tmp_path / "bare-repo")
    assert check(report, "repository", "repository")["fix"] == "git filer init"


def test_the_s3_credential_source_is_named_and_no_secret_is_printed(tmp_path: Path, s3):
    endpoint, bucket, _client = s3
    key_id, secret = "AKIADOCTORKEYID00042", "doctor-secret-ZX81-never-print-me"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    r = make_repo(tmp_path)
    r.filer("remote", "add", "team", f"s3://{bucket}/proj", "--endpoint-url", endpoint, "--default", env=env)
    report, proc = doctor_json(r.path, env=env)
    text = filer(r.path, "doctor", "-v", check=False, env=env)
    for out in (proc.stdout, proc.stderr, text.stdout, text.stderr):
        assert secret not in out and key_id not in out
    assert proc.returncode == 0, proc.stdout + proc.stderr
    creds = check(report, "remotes", "remote 'team' credentials")
    assert (creds["method"], creds["profile"]) == ("env", "default")
    assert check(report, "remotes", "remote 'team'")["reachable"] is True


def test_a_remote_that_never_answers_costs_seconds_not_a_hang(repo: Repo):
    import socket
    import time

    from gitfiler.commands.doctor import REMOTE_TIMEOUT_S

    with socket.socket() as silent:  # accepts connections (the backlog does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = dict(os.environ, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="us-east-1")
        repo.filer("remote", "add", "slow", "s3://bucket/p", "--endpoint-url", f"http://127.0.0.1:{port}", "--local", env=env)
        started = time.monotonic()
        report, proc = doctor_json(repo.path, env=env)
        took = time.monotonic() - started
    assert proc.returncode == 5
    assert check(report, "remotes", "remote 'slow'")["detail"].endswith(f"no answer within {REMOTE_TIMEOUT_S:.0f} s")
    assert took < REMOTE_TIMEOUT_S + 20


def test_merge_records_every_source_of_a_key_and_the_one_in_effect(monkeypatch):
    from gitfiler.config import merge

    monkeypatch.setenv("GITFILER_CHECKOUT", "copy")
    cfg = merge(
        {"default_remote": "team", "checkout": "symlink", "remotes": {"team": {"url": "s3://b/p"}}},
        {"default_remote": "mine", "jobs": 4, "remotes": {"mine": {"url": "/srv/mine"}}},
    )
    assert (cfg.default_remote, cfg.source("default_remote"), cfg.value_from("default_remote", "committed")) == ("mine", "per-clone", "team")
    assert (cfg.checkout, cfg.source("checkout"), cfg.ignored) == ("copy", "environment", ["checkout"])
    assert (cfg.source("jobs"), cfg.source("autopush")) == ("per-clone", "default")
    assert (cfg.source("remotes.team"), cfg.source("remotes.mine")) == ("committed", "per-clone")
