"""The Python API (`gitfiler.Filer`): the train -> dump -> push -> load workflow."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Repo
from gitfiler import Filer, FilerError
from gitfiler.errors import IntegrityError
from gitfiler.serializers import register_serializer


class Model:
    """A stand-in for a trained model: any picklable object will do."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.weights == self.weights


@pytest.fixture
def filer(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Filer:
    monkeypatch.chdir(repo.path)
    return Filer("models")


def test_the_readme_snippet_runs_as_written(filer: Filer, repo: Repo, capsys):
    model, model2 = Model([1.0, 2.0]), Model([3.0])
    filer.dump(model, "my_model")
    assert (repo.path / "models/my_model.pkl").exists() and (repo.path / "models/my_model.pkl.filer").exists()
    files = filer.show_files()
    assert capsys.readouterr().out == "my_model (local)\n"
    assert [(f.name, f.state) for f in files] == [("my_model", "local")]
    filer.push("my_model")
    assert [f.state for f in filer.show_files()] == ["synced"]
    with pytest.raises(FilerError, match="exists; pass overwrite=True"):
        filer.dump(model2, "my_model")
    with pytest.raises(FilerError, match=r"synced .*remove\(name, remove_remote=True\) first"):
        filer.dump(model2, "my_model", overwrite=True)
    assert filer.load("my_model") == model
    filer.dump(Model([9.0]), "old")
    filer.push_all()
    filer.remove("old")
    assert filer._find("old") is None and not (repo.path / "models/old.pkl").exists()
    filer.dump(Model([8.0]), "old2", push=True)
    filer.remove("old2", remove_remote=True)
    assert filer.free_local_copies() == ["my_model"]
    assert not (repo.path / "models/my_model.pkl").exists()
    assert filer.load("my_model") == model  # comes back from the remote, verified


def test_dump_stages_registry_files_like_add(filer: Filer, repo: Repo):
    filer.dump({"a": 1}, "cfg", serializer="json")
    staged = repo.git("diff", "--cached", "--name-only").stdout.split()
    assert "models/cfg.json.filer" in staged and "models/cfg.json" not in staged
    assert "serializer: json" in (repo.path / "models/cfg.json.filer").read_text()


def test_overwrite_replaces_a_local_artifact(filer: Filer):
    filer.dump([1], "m")
    filer.dump([2], "m", overwrite=True)
    assert filer.load("m") == [2]


def test_remove_leaves_remote_bytes_unless_asked(filer: Filer, repo: Repo):
    path = filer.dump(b"raw weights", "w", serializer="bytes", push=True)
    oid = hashlib.sha256(b"raw weights").hexdigest()
    remote_obj = repo.remote_dir / "objects/sha256" / oid[:2] / oid[2:]
    filer.remove("w")
    assert remote_obj.exists() and not os.path.exists(path)
    filer.dump(b"raw weights", "w", serializer="bytes", push=True)
    filer.remove("w", remove_remote=True)
    assert not remote_obj.exists()


def test_remove_refuses_a_modified_file(filer: Filer):
    path = filer.dump([1], "m")
    Path(path).write_bytes(b"edited by hand")
    with pytest.raises(FilerError, match="differ from their registry"):
        filer.remove("m")
    assert Path(path).read_bytes() == b"edited by hand"


def test_show_files_reports_modified_and_missing(filer: Filer, capsys):
    a = filer.dump([1], "a")
    b = filer.dump([2], "b")
    Path(a).write_bytes(b"changed")
    os.unlink(b)
    states = {f.name: f.state for f in filer.show_files()}
    assert states == {"a": "modified", "b": "missing"}


def test_serializers_json_bytes_and_custom(filer: Filer):
    filer.dump({"k": [1, 2]}, "j", serializer="json")
    filer.dump(b"\x00\x01", "raw", serializer="bytes")
    register_serializer("upper", ".up", lambda obj, f: f.write(obj.upper().encode()), lambda f: f.read().decode(), replace=True)
    filer.dump("hello", "shout", serializer="upper")
    assert filer.load("j") == {"k": [1, 2]}
    assert filer.load("raw") == b"\x00\x01"
    assert filer.load("shout") == "HELLO"
    with pytest.raises(FilerError, match="unknown serializer 'nope'"):
        filer.dump(1, "x", serializer="nope")


def test_path_and_open_give_verified_bytes(filer: Filer):
    filer.dump(b"blob", "blob", serializer="bytes", push=True)
    os.unlink(filer.path("blob"))
    with filer.open("blob") as f:
        assert f.read() == b"blob"
        assert f.mode == "rb"


def test_tampered_object_is_refused_before_unpickling(filer: Filer, repo: Repo, tmp_path: Path):
    marker = tmp_path / "pwned"
    filer.dump(Model([1.0]), "m", push=True)
    filer.free_local_copies()
    # An attacker swaps the remote's bytes for a pickle that would run code.
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    entry = filer._get("m")
    remote_obj = repo.remote_dir / "objects/sha256" / entry.oid[7:9] / entry.oid[9:]
    os.chmod(remote_obj, 0o644)
    remote_obj.write_bytes(evil)
    with pytest.raises(FilerError):
        filer.load("m")
    assert not marker.exists()
    # A corrupted cache copy (same size, other bytes) is caught the same way. (One of another
    # size counts as absent and is fetched again: the remote's tampered copy is refused above.)
    cache_obj = repo.cache / "objects/sha256" / entry.oid[7:9] / entry.oid[9:]
    cache_obj.parent.mkdir(parents=True, exist_ok=True)
    cache_obj.write_bytes(bytes(entry.size))
    with pytest.raises(IntegrityError, match="refusing to deserialise"):
        filer.load("m")
    assert not marker.exists()


def test_s3_remote_by_url(s3, repo: Repo, monkeypatch: pytest.MonkeyPatch):
    endpoint, bucket, client = s3
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("GITFILER_S3_ENDPOINT_URL", endpoint)
    filer = Filer("models", remote=f"s3://{bucket}/api")
    filer.dump({"w": [1, 2, 3]}, "m", push=True)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("api/objects/sha256/")
    assert [f.state for f in filer.show_files()] == ["synced"]
    filer.free_local_copies()
    assert filer.load("m") == {"w": [1, 2, 3]}


def test_a_service_without_git_loads_a_model_pushed_from_a_repo(filer: Filer, repo: Repo, tmp_path: Path):
    filer.dump({"weights": list(range(1000))}, "prod_model", push=True)
    repo.git("commit", "-qm", "model")
    # The container image: only the registry files, no .git, no artifacts.
    image = tmp_path / "image" / "models"
    image.mkdir(parents=True)
    shutil.copy(repo.path / "models/prod_model.pkl.filer", image)
    script = tmp_path / "image" / "serve.py"
    script.write_text(textwrap.dedent("""
        import json
        from gitfiler import Filer
        model = Filer("models").load("prod_model")
        print(json.dumps({"n": len(model["weights"]), "last": model["weights"][-1]}))
    """))
    env = dict(os.environ, GITFILER_REMOTE=str(repo.remote_dir), GITFILER_CACHE_DIR=str(tmp_path / "host-cache"))
    proc = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"n": 1000, "last": 999}
    assert not (script.parent / ".git").exists()
    assert any((tmp_path / "host-cache" / "objects").rglob("*"))


def test_filer_without_git_or_remote_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    d = tmp_path / "plain"
    d.mkdir()
    (d / "m.pkl.filer").write_text("version: 1\npath: m.pkl\nkind: file\noid: sha256:" + "a" * 64 + "\nsize: 1\nmeta:\n  serializer: pickle\n")
    monkeypatch.setenv("GITFILER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(FilerError, match="GITFILER_REMOTE"):
        Filer(d).load("m")


def test_dump_refuses_to_replace_a_pushed_artifact_added_by_the_cli(repo):
    from gitfiler import Filer, FilerError

    repo.write("models/model.bin", b"pushed bytes")
    repo.filer("add", "models/model.bin")
    repo.git("commit", "-qm", "model")  # the post-commit hook pushes it
    with pytest.raises(FilerError):
        Filer(str(repo.path / "models")).dump(b"x", "model", serializer="bytes", overwrite=True)
    assert (repo.path / "models" / "model.bin").read_bytes() == b"pushed bytes"


def test_dump_refuses_to_overwrite_an_untracked_file(repo):
    from gitfiler import Filer, FilerError

    repo.write("models/notes.pkl", b"mine")
    with pytest.raises(FilerError, match="not tracked"):
        Filer(str(repo.path / "models")).dump({"a": 1}, "notes")
    assert (repo.path / "models" / "notes.pkl").read_bytes() == b"mine"
