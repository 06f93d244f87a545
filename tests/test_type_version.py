"""An artifact's type and version (`meta.type`, `meta.version`): `git filer add --type --version`,
`Filer.dump(type=, version=)`, and `git filer ls` showing them."""

from __future__ import annotations

import json
import os

import pytest

from conftest import Repo, snapshot
from gitfiler import Filer, FilerError
from gitfiler.registry import read


def meta_of(repo: Repo, registry: str) -> dict[str, object]:
    return read(str(repo.path), registry).meta


def test_add_records_type_and_version_beside_other_meta(repo: Repo):
    repo.write("models/m.pt", os.urandom(100))
    repo.filer("add", "models/m.pt", "--type", "model", "--version", "1.4.0", "-m", "framework=torch")
    text = (repo.path / "models/m.pt.filer").read_text()
    assert text.endswith("meta:\n  framework: torch\n  type: model\n  version: 1.4.0\n")
    assert meta_of(repo, "models/m.pt.filer") == {"framework": "torch", "type": "model", "version": "1.4.0"}
    assert "models/m.pt.filer" in repo.git("diff", "--cached", "--name-only").stdout.split()


def test_versions_that_look_like_numbers_stay_strings(repo: Repo):
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin", "--version", "1.4")
    assert meta_of(repo, "m.bin.filer")["version"] == "1.4"
    repo.filer("add", "m.bin", "--version", "2026.11")
    assert meta_of(repo, "m.bin.filer")["version"] == "2026.11"


def test_readding_updates_what_is_given_and_keeps_the_rest(repo: Repo):
    repo.write("m.bin", b"v1")
    repo.filer("add", "m.bin", "--type", "model", "--version", "1.0.0", "-m", "owner=ml")
    repo.filer("add", "m.bin", "--version", "1.1.0")
    assert meta_of(repo, "m.bin.filer") == {"type": "model", "version": "1.1.0", "owner": "ml"}
    repo.write("m.bin", b"v2")
    repo.filer("add", "m.bin")  # new bytes, nothing said about type or version: both kept
    assert meta_of(repo, "m.bin.filer") == {"type": "model", "version": "1.1.0", "owner": "ml"}
    repo.filer("add", "m.bin", "--type", "tokenizer")
    assert meta_of(repo, "m.bin.filer")["type"] == "tokenizer"


def test_meta_type_alone_is_the_same_as_the_option(repo: Repo):
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin", "-m", "type=model", "-m", "version=3")
    assert meta_of(repo, "m.bin.filer") == {"type": "model", "version": "3"}


def test_ls_shows_type_and_version_first(repo: Repo):
    repo.write("m.pt", b"12345")
    repo.write("plain.bin", b"p")
    repo.filer("add", "m.pt", "--type", "model", "--version", "1.4.0", "-m", "author=me")
    repo.filer("add", "plain.bin")
    lines = repo.filer("ls").stdout.splitlines()
    assert lines[0].endswith("  m.pt  type=model version=1.4.0 author=me")
    assert lines[1].endswith("  plain.bin")
    rows = json.loads(repo.filer("ls", "--json").stdout)
    assert rows[0]["meta"] == {"type": "model", "version": "1.4.0", "author": "me"}
    assert rows[1]["meta"] == {}


@pytest.mark.parametrize("args", [
    ["--type", "has space"],
    ["--type", "-leading-dash"],
    ["--type", "a/b"],
    ["--type", "a..b"],
    ["--type", "x" * 65],
    ["--type", ""],
    ["--type", "naïve"],
    ["-m", "type=bad/type"],
    ["--version", ""],
    ["--version", " 1.0"],
    ["--version", "1.0\t"],
    ["--version", "1.0\nsecond line"],
    ["--version", "1.0\x1b[31m"],
    ["--version", "1" * 129],
    ["--type", "model", "-m", "type=model"],
    ["--version", "2", "-m", "version=1"],
])
def test_bad_type_or_version_is_a_usage_error_and_writes_nothing(repo: Repo, args: list[str]):
    repo.write("m.bin", b"m")
    before = snapshot(repo.path)
    proc = repo.filer("add", "m.bin", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and ("type" in errors[0] or "version" in errors[0]), proc.stderr
    assert "Traceback" not in proc.stderr and "\x1b" not in proc.stderr
    assert snapshot(repo.path) == before
    assert not (repo.path / "m.bin.filer").exists()


def test_limits_are_inclusive(repo: Repo):
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin", "--type", "A" + "x._-9" * 12 + "abc", "--version", "v" * 128)
    meta = meta_of(repo, "m.bin.filer")
    assert len(str(meta["type"])) == 64 and len(str(meta["version"])) == 128


# -- the Python API ------------------------------------------------------------------------------


@pytest.fixture
def filer(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Filer:
    monkeypatch.chdir(repo.path)
    return Filer("models")


def test_dump_records_type_and_version(filer: Filer, repo: Repo):
    filer.dump({"w": [1, 2]}, "m", type="model", version="2026.11.1", meta={"owner": "ml"})
    meta = meta_of(repo, "models/m.pkl.filer")
    assert meta == {"serializer": "pickle", "python_class": "builtins.dict", "owner": "ml", "type": "model", "version": "2026.11.1"}
    assert [f.meta["version"] for f in filer.show_files()] == ["2026.11.1"]
    assert "type=model version=2026.11.1" in repo.filer("ls").stdout


def test_dump_without_type_records_no_type(filer: Filer, repo: Repo):
    filer.dump([1], "m")
    meta = meta_of(repo, "models/m.pkl.filer")
    assert "type" not in meta and "version" not in meta and meta["python_class"] == "builtins.list"


def test_dump_overwrite_keeps_or_updates_the_version(filer: Filer, repo: Repo):
    filer.dump([1], "m", type="model", version="1.0.0")
    filer.dump([2], "m", overwrite=True)
    assert meta_of(repo, "models/m.pkl.filer")["version"] == "1.0.0"
    filer.dump([3], "m", overwrite=True, version="1.1.0")
    assert meta_of(repo, "models/m.pkl.filer")["version"] == "1.1.0"


@pytest.mark.parametrize("kwargs", [
    {"type": "bad type"},
    {"version": ""},
    {"version": "two\nlines"},
    {"version": 1},
    {"type": "model", "meta": {"type": "model"}},
    {"meta": {"version": 1.5}},
])
def test_dump_refuses_bad_values_before_writing(filer: Filer, repo: Repo, kwargs: dict[str, object]):
    before = snapshot(repo.path)
    with pytest.raises(FilerError) as err:
        filer.dump([1], "m", **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(err.value) and type(err.value) is FilerError
    assert snapshot(repo.path) == before
