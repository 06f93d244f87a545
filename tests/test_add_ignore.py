"""A directory artifact leaves out what git ignores and what `.filerignore` lists;
`add --auto` splits files by `large_file_threshold`."""

from __future__ import annotations

import json
import os

from conftest import Repo


def manifest_paths(repo: Repo, oid: str) -> list[str]:
    data = (repo.cache / "objects/sha256" / oid[7:9] / oid[9:]).read_bytes()
    return sorted(e["path"] for e in json.loads(data)["entries"])


def states(repo: Repo) -> dict[str, str]:
    return {s["artifact"]: s["state"] for s in json.loads(repo.filer("status", "--json").stdout)}


def test_gitignore_and_filerignore_are_left_out_and_counted(repo: Repo):
    repo.write(".gitignore", "*.tmp\n")
    repo.write("data/train/a.bin", "a")
    repo.write("data/train/scratch.tmp", "t")
    repo.write("data/train/cache/c.bin", "c")
    repo.write("data/train/sub/deep.tmp", "d")
    repo.write("data/train/.filerignore", "cache/\n")
    out = json.loads(repo.filer("add", "--json", "data/train").stdout)
    assert out[0]["files"] == 2 and out[0]["skipped"] == 3  # a.bin and .filerignore kept
    human = repo.filer("add", "data/train").stdout
    assert "skipped: 3 ignored files" in human
    assert manifest_paths(repo, out[0]["oid"]) == [".filerignore", "a.bin"]


def test_manifest_holds_only_kept_files(repo: Repo):
    repo.write(".gitignore", "*.tmp\n")
    repo.write(".filerignore", "data/train/cache/\n")
    repo.write("data/train/a.bin", "a")
    repo.write("data/train/x.tmp", "x")
    repo.write("data/train/cache/c.bin", "c")
    out = json.loads(repo.filer("add", "--json", "data/train").stdout)
    assert (out[0]["files"], out[0]["skipped"], out[0]["size"]) == (1, 2, 1)


def test_status_stays_clean_when_an_ignored_file_changes(repo: Repo):
    repo.write(".gitignore", "*.tmp\n")
    repo.write("data/train/a.bin", "a")
    repo.write("data/train/x.tmp", "x")
    repo.filer("add", "data/train")
    before = states(repo)["data/train"]
    assert before in ("synced", "local")
    repo.write("data/train/x.tmp", "changed")
    repo.write("data/train/y.tmp", "new")
    assert states(repo)["data/train"] == before
    repo.write("data/train/a.bin", "changed")
    assert states(repo)["data/train"] == "modified"


def test_status_notices_a_changed_rule(repo: Repo):
    repo.write("data/train/a.bin", "a")
    repo.write("data/train/x.tmp", "x")
    repo.filer("add", "data/train")
    assert states(repo)["data/train"] in ("synced", "local")
    repo.write(".filerignore", "*.tmp\n")
    assert states(repo)["data/train"] == "modified"


def test_info_exclude_is_honoured(repo: Repo):
    exclude = repo.path / ".git/info/exclude"
    exclude.parent.mkdir(exist_ok=True)
    exclude.write_text("*.log\n")
    repo.write("data/run/a.bin", "a")
    repo.write("data/run/train.log", "log")
    out = json.loads(repo.filer("add", "--json", "data/run").stdout)
    assert (out[0]["files"], out[0]["skipped"]) == (1, 1)


def test_a_user_rule_ignoring_the_directory_itself_does_not_empty_it(repo: Repo):
    # DVC-style repositories ignore the data directory as a whole; its files still count.
    repo.write(".gitignore", "train/\n*.tmp\n")
    repo.write("data/train/a.bin", "a")
    repo.write("data/train/b.bin", "b")
    repo.write("data/train/x.tmp", "x")
    out = json.loads(repo.filer("add", "--json", "data/train").stdout)
    assert (out[0]["files"], out[0]["skipped"]) == (2, 1)


def test_negation_in_a_deeper_filerignore_wins(repo: Repo):
    repo.write(".filerignore", "*.csv\n")
    repo.write("data/t/.filerignore", "!keep.csv\n")
    repo.write("data/t/keep.csv", "k")
    repo.write("data/t/drop.csv", "d")
    out = json.loads(repo.filer("add", "--json", "data/t").stdout)
    assert (out[0]["files"], out[0]["skipped"]) == (2, 1)  # keep.csv and .filerignore


def test_symlinked_filerignore_is_refused_not_followed(repo: Repo, tmp_path):
    outside = tmp_path / "outside-rules"
    outside.write_text("*\n")
    repo.write("data/t/a.bin", "a")
    os.symlink(outside, repo.path / "data/.filerignore")
    proc = repo.filer("add", "data/t", check=False)
    assert proc.returncode != 0
    assert "symlink" in proc.stderr
    assert not (repo.path / "data/t.filer").exists()
    # Inside the directory a link is refused like any other link there.
    os.unlink(repo.path / "data/.filerignore")
    os.symlink(outside, repo.path / "data/t/.filerignore")
    proc = repo.filer("add", "data/t", check=False)
    assert proc.returncode != 0 and "symlink" in proc.stderr


def test_add_auto_splits_by_threshold(repo: Repo):
    cfg = repo.path / ".gitfiler/config.yaml"
    cfg.write_text(cfg.read_text() + "large_file_threshold: 1000\n")
    repo.write("proj/big.bin", os.urandom(5000))
    repo.write("proj/small.txt", "hello")
    repo.write("proj/sub/big2.bin", os.urandom(2000))
    repo.write("proj/sub/tiny.py", "x = 1\n")
    repo.write("proj/.gitignore", "*.tmp\n")
    repo.write("proj/junk.tmp", os.urandom(5000))
    out = json.loads(repo.filer("add", "--auto", "--json", "proj").stdout)
    assert sorted(r["artifact"] for r in out["filer"]) == ["proj/big.bin", "proj/sub/big2.bin"]
    assert sorted(out["git"]) == ["proj/.gitignore", "proj/small.txt", "proj/sub/tiny.py"]
    staged = set(repo.git("diff", "--cached", "--name-only").stdout.split())
    assert {"proj/small.txt", "proj/sub/tiny.py", "proj/big.bin.filer", "proj/sub/big2.bin.filer"} <= staged
    assert "proj/big.bin" not in staged and "proj/junk.tmp" not in staged
    assert (repo.path / "proj/big.bin.filer").exists() and not (repo.path / "proj/junk.tmp.filer").exists()


def test_add_auto_human_output(repo: Repo):
    cfg = repo.path / ".gitfiler/config.yaml"
    cfg.write_text(cfg.read_text() + "large_file_threshold: 10\n")
    repo.write("m/big.bin", "x" * 100)
    repo.write("m/s.txt", "s")
    out = repo.filer("add", "--auto", "m/big.bin", "m/s.txt").stdout
    assert "added m/big.bin" in out and "git add m/s.txt" in out
    assert "1 file(s) tracked with gitfiler, 1 staged with git" in out
