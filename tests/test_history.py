"""`diff`, `log` and `export` (issue 11): history read through git's object database, never checked out."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import Repo, clone_of, run, snapshot
from gitfiler.registry import Entry, dumps


def _three_commits(repo: Repo) -> None:
    """data/ (a, b, c) and m.pt; then a changed, b removed, d added, m.pt changed; then n.pt added."""
    for name in "abc":
        repo.write(f"data/{name}.csv", f"{name}\n")
    repo.write("m.pt", b"model-v1")
    repo.filer("add", "data", "m.pt")
    repo.git("commit", "-qm", "one")
    repo.write("data/a.csv", "a changed\n")
    (repo.path / "data/b.csv").unlink()
    repo.write("data/d.csv", "d\n")
    repo.write("m.pt", b"model-v2-bigger")
    repo.filer("add", "data", "m.pt")
    repo.git("commit", "-qm", "two")


def test_diff_between_commits_with_files_and_json(repo: Repo) -> None:
    _three_commits(repo)
    out = json.loads(repo.filer("diff", "HEAD~1", "HEAD", "--files", "--json").stdout)
    changes = {c["artifact"]: c for c in out["changes"]}
    assert set(changes) == {"data", "m.pt"}
    assert changes["m.pt"]["status"] == "modified" and changes["m.pt"]["delta"] == len(b"model-v2-bigger") - len(b"model-v1")
    files = {f["path"]: f for f in changes["data"]["files"]}
    assert {p: f["status"] for p, f in files.items()} == {"data/a.csv": "modified", "data/b.csv": "removed", "data/d.csv": "added"}
    assert files["data/a.csv"]["old_size"] == 2 and files["data/a.csv"]["new_size"] == 10
    assert out["summary"] == {"added": 0, "modified": 2, "removed": 0, "delta": changes["data"]["delta"] + changes["m.pt"]["delta"]}
    human = repo.filer("diff", "HEAD~1", "HEAD", "--files").stdout
    assert "removed   data/b.csv" in human and "added     data/d.csv" in human


def test_diff_work_tree_against_head_and_a_revision(repo: Repo) -> None:
    _three_commits(repo)
    assert "no artifact differs" in repo.filer("diff").stdout
    repo.write("n.pt", b"new")
    repo.filer("add", "n.pt")
    (repo.path / "m.pt.filer").unlink()  # no longer tracked in the work tree
    out = json.loads(repo.filer("diff", "--json").stdout)
    assert {c["artifact"]: c["status"] for c in out["changes"]} == {"n.pt": "added", "m.pt": "removed"}
    assert out["new"] == "work tree"
    # One revision: that commit against the work tree; the exit status is 0 with differences.
    proc = repo.filer("diff", "HEAD~1", "--files")
    assert proc.returncode == 0 and "modified  data/" in proc.stdout and "added     n.pt" in proc.stdout


def test_diff_files_fetches_manifests_in_a_fresh_clone(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    clone = clone_of(repo, tmp_path)
    out = json.loads(run(["git", "filer", "diff", "HEAD~1", "HEAD", "--files", "--json"], clone).stdout)
    data = next(c for c in out["changes"] if c["artifact"] == "data")
    assert len(data["files"]) == 3
    assert not (clone / "data").exists()  # nothing hydrated


def test_log_over_fifty_commits(repo: Repo, tmp_path: Path) -> None:
    started = time.perf_counter()
    # 50 commits through one fast-import (the repository has none yet): the registry file changes in each, is removed at 40, back at 41.
    lines = []
    for i in range(1, 51):
        lines += ["commit refs/heads/main", f"mark :{i}", f"committer T <t@e> {1700000000 + i} +0000", f"data {len(f'c{i}')}", f"c{i}"]
        if i == 40:
            lines.append("D m.pt.filer")
        else:
            blob = dumps(Entry(registry="m.pt.filer", path="m.pt", kind="file", oid="sha256:" + f"{i:064x}", size=i, meta={"type": "model", "version": f"1.{i}"}))
            lines += ["M 100644 inline m.pt.filer", f"data {len(blob)}", blob.decode()]
        lines.append("")
    run(["git", "fast-import", "--quiet", "--force"], repo.path, input="\n".join(lines) + "\n")
    out = json.loads(repo.filer("log", "m.pt", "--json").stdout)
    history = out["history"]
    assert len(history) == 50
    assert [h["subject"] for h in history[:3]] == ["c50", "c49", "c48"]
    assert history[0]["size"] == 50 and history[0]["meta"] == {"type": "model", "version": "1.50"}
    removed = next(h for h in history if h["subject"] == "c40")
    assert removed["status"] == "removed" and removed["oid"] is None
    assert next(h for h in history if h["subject"] == "c41")["status"] == "added"
    assert history[-1]["status"] == "added"
    assert "c50" in repo.filer("log", "m.pt.filer").stdout  # the registry file names it too
    assert time.perf_counter() - started < 15


def test_log_refuses_a_path_outside_the_repository(repo: Repo) -> None:
    proc = repo.filer("log", "../elsewhere", check=False)
    assert proc.returncode == 4


def test_export_old_commit_leaves_head_and_work_tree_alone(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    before = snapshot(repo.path)
    head = repo.git("rev-parse", "HEAD").stdout
    dest = tmp_path / "out"
    out = json.loads(repo.filer("export", "HEAD~1", "--dest", str(dest), "--json").stdout)
    assert out["files"] == 4
    assert (dest / "m.pt").read_bytes() == b"model-v1"
    assert sorted(p.name for p in (dest / "data").iterdir()) == ["a.csv", "b.csv", "c.csv"]
    assert (dest / "data/a.csv").read_text() == "a\n"
    assert snapshot(repo.path) == before
    assert repo.git("rev-parse", "HEAD").stdout == head
    assert repo.git("status", "--porcelain").stdout == ""


def test_export_from_a_fresh_clone_fetches_and_selects(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    clone = clone_of(repo, tmp_path)
    dest = tmp_path / "sel"
    run(["git", "filer", "export", "HEAD~1", "--dest", str(dest), "-I", "data/b.csv"], clone)
    assert [str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()] == ["data/b.csv"]
    assert not (clone / "data").exists()


def test_export_refuses_non_empty_dest_unless_forced(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    proc = repo.filer("export", "HEAD", "--dest", str(dest), check=False)
    assert proc.returncode == 8 and "not empty" in proc.stderr
    assert os.listdir(dest) == ["mine.txt"]
    repo.filer("export", "HEAD", "--dest", str(dest), "--force")
    assert (dest / "mine.txt").read_text() == "keep" and (dest / "m.pt").read_bytes() == b"model-v2-bigger"


def test_export_never_follows_a_link_inside_dest(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    dest, elsewhere = tmp_path / "linked", tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    (dest / "data").symlink_to(elsewhere)
    proc = repo.filer("export", "HEAD", "--dest", str(dest), "--force", check=False)
    assert proc.returncode == 4
    assert f"data is a symlink in the export destination {dest}" in proc.stderr and "work tree" not in proc.stderr
    assert list(elsewhere.iterdir()) == []


def test_export_include_matching_nothing_is_an_error(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    dest = tmp_path / "none"
    proc = repo.filer("export", "HEAD", "--dest", str(dest), "-I", "nothing/**", check=False)
    assert proc.returncode == 1 and "matches no" in proc.stderr
    assert not dest.exists() or not os.listdir(dest)


def test_an_unsafe_registry_file_at_an_old_commit_is_refused(repo: Repo, tmp_path: Path) -> None:
    _three_commits(repo)
    good = (repo.path / "m.pt.filer").read_text()
    (repo.path / "m.pt.filer").write_text(good.replace("path: m.pt", "path: ../../escape"))
    repo.git("commit", "-qam", "hostile", env=dict(os.environ, GITFILER_NO_HOOKS="1"))
    dest = tmp_path / "out"
    for args in (["diff", "HEAD~1", "HEAD"], ["log", "m.pt"], ["export", "HEAD", "--dest", str(dest)]):
        proc = repo.filer(*args, check=False)
        assert proc.returncode == 4, (args, proc.stderr)
    assert not dest.exists()
    assert not (tmp_path / "escape").exists()
