"""The model registry (`git filer model ...`, docs/models.md) in real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Repo, clone_of, filer

REGISTER = ["model", "register", "ranker", "--entry", "models/ranker.py:Ranker", "--model", "models/ranker.pt",
            "--data", "data/train.bin", "--data", "data/labels.csv", "--code", "src/features/"]


def setup_model(repo: Repo) -> None:
    repo.write("models/ranker.py", "class Ranker: pass\n")
    repo.write("data/labels.csv", "a,b\n1,2\n")
    repo.write("src/features/a.py", "A = 1\n")
    repo.write("src/features/b.py", "B = 2\n")
    repo.write("src/features/deep/c.py", "C = 3\n")
    repo.write("data/train.bin", b"\x00" * 1000)
    repo.write("models/ranker.pt", b"weights-v1")
    repo.filer("add", "data/train.bin", "models/ranker.pt")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    repo.filer(*REGISTER)


def status(repo: Repo, *names: str) -> tuple[int, list[dict[str, object]]]:
    proc = repo.filer("model", "status", "--json", *names, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_register_change_reregister_ready(repo: Repo) -> None:
    setup_model(repo)
    assert status(repo) == (0, [{"name": "ranker", "state": "READY", "reasons": []}])
    text = repo.filer("model", "status").stdout
    assert "ranker" in text and "READY" in text
    # A git-tracked csv edited, and a gitfiler artifact re-added with new bytes.
    repo.write("data/labels.csv", "a,b\n1,3\n")
    repo.write("data/train.bin", b"\x01" * 1000)
    code, rows = status(repo)
    assert code == 1
    assert rows[0]["state"] == "STALE"
    assert "data/labels.csv: content changed" in rows[0]["reasons"]  # type: ignore[operator]
    assert any(str(r).startswith("data/train.bin: modified in the work tree") for r in rows[0]["reasons"])  # type: ignore[union-attr]
    repo.filer("add", "data/train.bin")
    code, rows = status(repo)
    assert "data/train.bin: content changed" in rows[0]["reasons"]  # type: ignore[operator]
    proc = repo.filer("model", "status", check=False)
    assert proc.returncode == 1 and "STALE" in proc.stdout and "not ready" in proc.stderr
    repo.filer(*REGISTER)  # retrained: record the new oids
    assert status(repo) == (0, [{"name": "ranker", "state": "READY", "reasons": []}])


def test_code_directory_changes_are_counted(repo: Repo) -> None:
    setup_model(repo)
    repo.write("src/features/a.py", "A = 10\n")
    repo.write("src/features/deep/c.py", "C = 30\n")
    repo.write("src/features/new.py", "N = 1\n")
    repo.git("add", "src/features/new.py")
    (repo.path / "src/features/b.py").unlink()
    code, rows = status(repo, "ranker")
    assert code == 1
    assert rows[0]["reasons"] == ["src/features/: 2 files changed, 1 added, 1 removed"]
    # Touching a file without changing it is not a change.
    (repo.path / "src/features/a.py").write_text("A = 10\n")
    repo.filer(*REGISTER)
    (repo.path / "src/features/a.py").touch()
    assert status(repo)[0] == 0


def test_missing_dependency_is_broken(repo: Repo) -> None:
    setup_model(repo)
    for p in ("src/features/a.py", "src/features/b.py", "src/features/deep/c.py", "data/labels.csv"):
        (repo.path / p).unlink()
    code, rows = status(repo)
    assert code == 1 and rows[0]["state"] == "BROKEN"
    assert set(rows[0]["reasons"]) == {"src/features/: missing", "data/labels.csv: missing"}  # type: ignore[arg-type]
    repo.filer("remove", "data/train.bin")
    assert "data/train.bin: missing" in status(repo)[1][0]["reasons"]  # type: ignore[operator]


def test_digest_is_the_same_in_a_clone(repo: Repo, tmp_path: Path) -> None:
    setup_model(repo)
    repo.git("commit", "-qm", "model")
    first = repo.filer("model", "digest", "ranker").stdout.strip()
    assert first.startswith("sha256:") and len(first) == 71
    dest = clone_of(repo, tmp_path)
    again = filer(dest, "model", "digest", "ranker", "--json").stdout
    assert json.loads(again) == {"name": "ranker", "digest": first}
    listed = json.loads(filer(dest, "model", "list", "--json").stdout)
    assert listed[0]["name"] == "ranker" and listed[0]["digest"] == first
    # Not hydrated in a fresh clone is not staleness: the registry files name the same bytes.
    assert filer(dest, "model", "status").returncode == 0


def test_register_is_canonical_and_refuses_bad_input(repo: Repo) -> None:
    setup_model(repo)
    before = (repo.path / ".gitfiler/models.yaml").read_bytes()
    repo.filer(*REGISTER)
    assert (repo.path / ".gitfiler/models.yaml").read_bytes() == before
    bad = repo.filer("model", "register", "../x", "--entry", "models/ranker.py:Ranker", check=False)
    assert bad.returncode == 4
    bad = repo.filer("model", "register", "m", "--entry", "models/ranker.py:Ranker", "--data", "nowhere.csv", check=False)
    assert bad.returncode == 1 and "neither a gitfiler artifact nor tracked by git" in bad.stderr
    bad = repo.filer("model", "register", "m", "--entry", "models/ranker.py:Ranker", "--code", "data/train.bin", check=False)
    assert bad.returncode == 1 and "--data" in bad.stderr
    bad = repo.filer("model", "register", "m", "--entry", "models/ranker.py:Ranker", "--code", "src/features", "--code", "src/features/deep", check=False)
    assert bad.returncode == 1 and "overlap" in bad.stderr
    assert repo.filer("model", "register", "m", "--entry", "models/ranker.py:", check=False).returncode == 4


YAML_HEAD = "version: 1\nmodels:\n  ranker:\n    entry: models/ranker.py:Ranker\n"
HOSTILE = {
    "traversal": YAML_HEAD + "    data:\n    - {kind: file, oid: " + "a" * 40 + ", path: ../../etc/passwd}\n",
    "git dir": YAML_HEAD + "    code:\n    - {kind: file, oid: " + "a" * 40 + ", path: .git/config}\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b]\n",
    "duplicate keys": YAML_HEAD + "  ranker:\n    entry: x.py:X\n",
    "unknown keys": YAML_HEAD + "    run: rm -rf /\n",
    "unknown top key": "version: 1\nmodels: {}\nhooks: []\n",
    "bad oid": YAML_HEAD + "    data:\n    - {kind: artifact, oid: sha256:zz, path: data/x}\n",
    "bad entry": "version: 1\nmodels:\n  ranker:\n    entry: /abs/x.py:Ranker\n",
    "bad name": "version: 1\nmodels:\n  ../x:\n    entry: x.py:X\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_models_yaml_refused(repo: Repo, case: str) -> None:
    repo.write(".gitfiler/models.yaml", HOSTILE[case])
    for args in (["model", "status"], ["model", "list"], ["model", "digest", "ranker"]):
        proc = repo.filer(*args, check=False)
        assert proc.returncode == 4, (case, args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "models.yaml" in lines[0], (case, proc.stderr)


def test_status_of_unknown_model_and_empty(repo: Repo) -> None:
    assert repo.filer("model", "status").returncode == 0
    proc = repo.filer("model", "status", "nope", check=False)
    assert proc.returncode == 1 and "no model named" in proc.stderr


def listing_doc(files: dict[object, object]) -> dict[str, object]:
    return {"version": 1, "models": {"m": {"entry": "m.py:M", "code": [{"path": "src", "kind": "dir", "files": files}]}}}


@pytest.mark.parametrize("files", [
    {f"pkg{i % 7}/f{i}.py": f"{i:040x}" for i in range(500)},  # the common shape, checked in one pass
    {"a.py": "a" * 64, "_b+c-d.e": "b" * 40},  # SHA-256 blob ids too
    {"ünïcode.py": "a" * 40, "plain.py": "b" * 40},  # a name the one-pass check leaves to the file-by-file one
])
def test_a_recorded_directory_listing_that_is_valid_reads_back(files: dict[object, object]) -> None:
    from gitfiler.modelfile import from_doc

    dep = from_doc(listing_doc(files)).models["m"].code[0]
    assert dep.files == tuple(sorted(files.items()))  # type: ignore[arg-type]


@pytest.mark.parametrize(("bad", "said"), [
    ({"../x.py": "a" * 40}, "not normalised"),
    ({"deep/.git/config": "a" * 40}, "inside .git"),
    ({"a//b.py": "a" * 40}, "not normalised"),
    ({"x" * 256: "a" * 40}, "longer than 255"),
    ({7: "a" * 40}, "non-empty relative path"),
    ({"a.py": "A" * 40}, "bad git blob id"),
    ({"a.py": "a" * 39}, "bad git blob id"),
    ({"a.py": 12}, "bad git blob id"),
    ({"a.py": "a" * 40 + "\n" + "b" * 40}, "bad git blob id"),
])
def test_one_bad_file_in_a_large_recorded_listing_is_named(bad: dict[object, object], said: str) -> None:
    from gitfiler.errors import RegistryError
    from gitfiler.modelfile import from_doc

    files: dict[object, object] = {f"f{i}.py": f"{i:040x}" for i in range(300)}
    files.update(bad)
    with pytest.raises(RegistryError, match=said) as err:
        from_doc(listing_doc(files))
    assert "models.yaml" in str(err.value)
