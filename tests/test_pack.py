"""`git filer pack` / `unpack` (issue 12), through the real `git filer` entry point: the layout a
SageMaker-style host serves, byte-identical archives from the same inputs, verification on
both ends, every compression read back by Python's tarfile and listed by GNU tar, `--ref`,
`--add`, and one clear line for each bad input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import Repo, clone_of, filer, have, run, write_tree

MODEL = {"model.pt": os.urandom(50_000), "config.json": b'{"layers": 3}\n', "tokenizer/vocab.txt": b"a\nb\nc\n"}
CODE = {"inference.py": b"def model_fn(d):\n    return d\n", "requirements.txt": b"torch\n", "lib/util.py": b"X = 1\n"}
EXECUTABLE = "serve.sh"


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    model = write_tree(tmp_path / "model", MODEL)
    code = write_tree(tmp_path / "src" / "inference", CODE)
    (code / EXECUTABLE).write_bytes(b"#!/bin/sh\nexec python inference.py\n")
    (code / EXECUTABLE).chmod(0o755)
    return model, code


def members(archive: Path) -> list[tarfile.TarInfo]:
    with open_tar(archive) as tf:
        return tf.getmembers()


def open_tar(archive: Path) -> tarfile.TarFile:
    """Python's tarfile on any of our compressions (zstd through the zstandard package)."""
    data = archive.read_bytes()
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard

        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def pack(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return filer(cwd, "pack", *args, check=check)


def one_line_failure(proc: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    assert proc.returncode != 0, proc
    if code is not None:
        assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- layout -----------------------------------------------------------------------------------------


def test_layout_puts_the_model_at_the_root_and_the_code_under_code_with_its_exec_bit(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    out = tmp_path / "dist" / "model.tar.gz"
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", str(out))
    assert "packed 7 file(s)" in proc.stdout and "ratio" in proc.stdout and "verified" in proc.stdout
    infos = members(out)
    names = [m.name for m in infos]
    assert names == [
        "gitfiler-manifest.json", "config.json", "model.pt", "tokenizer", "tokenizer/vocab.txt",
        "code", "code/inference.py", "code/lib", "code/lib/util.py", "code/requirements.txt", "code/serve.sh",
    ]
    by_name = {m.name: m for m in infos}
    assert by_name["code/serve.sh"].mode == 0o755 and by_name["code/inference.py"].mode == 0o644
    assert by_name["code"].isdir() and by_name["code"].mode == 0o755
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in infos)
    with open_tar(out) as tf:
        for rel, data in MODEL.items():
            assert tf.extractfile(rel).read() == data  # type: ignore[union-attr]
        manifest = json.loads(tf.extractfile("gitfiler-manifest.json").read())  # type: ignore[union-attr]
    files = {f["path"]: f for f in manifest["files"]}
    assert files["model.pt"]["oid"] == "sha256:" + hashlib.sha256(MODEL["model.pt"]).hexdigest()
    assert files["code/serve.sh"]["exec"] is True and files["model.pt"]["exec"] is False
    assert manifest["schema"] == "gitfiler-pack" and manifest["version"] == 1


def test_empty_directories_are_recorded_as_directory_members(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    (model / "checkpoints" / "empty").mkdir(parents=True)
    out = tmp_path / "m.tar.gz"
    pack(tmp_path, str(model), "-o", str(out))
    by_name = {m.name: m for m in members(out)}
    assert by_name["checkpoints/empty"].isdir()
    dest = tmp_path / "dest"
    filer(tmp_path, "unpack", str(out), str(dest), "--verify")
    assert (dest / "checkpoints" / "empty").is_dir()


def test_a_model_tarball_input_goes_to_the_root(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    given = tmp_path / "trained.bin"  # a tarball whatever its name: told by content
    with tarfile.open(given, "w:gz") as tf:
        tf.add(model, arcname=".")
    out = tmp_path / "out.tar.gz"
    result = json.loads(pack(tmp_path, str(given), "--code", str(code), "-o", str(out), "--json").stdout)
    assert result["inputs"]["model"]["oid"] == "sha256:" + sha256(given)  # the tarball's own oid, as `add` records it
    names = [m.name for m in members(out)]
    assert "model.pt" in names and "tokenizer/vocab.txt" in names and "code/inference.py" in names
    again = tmp_path / "again.tar.gz"
    pack(tmp_path, str(model), "--code", str(code), "-o", str(again))
    assert sha256(again) == sha256(out)  # the same files, from a tarball or a directory: the same bytes


def test_a_gitfiler_archive_may_be_packed_again_and_gets_a_fresh_manifest(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    first = tmp_path / "first.tar.gz"
    pack(tmp_path, str(model), "--code", str(code), "-o", str(first))
    second = tmp_path / "second.tar.xz"
    pack(tmp_path, str(first), "-o", str(second), "--compression", "xz")
    assert [m.name for m in members(second)] == [m.name for m in members(first)]
    third = tmp_path / "third.tar.gz"
    pack(tmp_path, str(second), "-o", str(third))
    assert sha256(third) == sha256(first)  # its own code/ stays last: the same bytes again


def test_an_existing_output_is_replaced_whole(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    out = tmp_path / "m.tar.gz"
    out.write_bytes(b"old")
    pack(tmp_path, str(model), "-o", str(out))
    assert [m.name for m in members(out)][0] == "gitfiler-manifest.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tar.gz", "model", "src"]  # no temp left


# -- reproducible -------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_reproducible_same_inputs_other_mtimes_and_umask_give_the_same_bytes(tmp_path: Path, inputs: tuple[Path, Path], compression: str):
    model, code = inputs
    first = tmp_path / "a.tar.gz"
    pack(tmp_path, str(model), "--code", str(code), "-o", str(first), "--compression", compression)
    # The same files, written on another day under another umask.
    other = tmp_path / "other"
    old = os.umask(0o077)
    try:
        model2 = write_tree(other / "model", MODEL)
        code2 = write_tree(other / "code", CODE)
        (code2 / EXECUTABLE).write_bytes((code / EXECUTABLE).read_bytes())
        (code2 / EXECUTABLE).chmod(0o700)
    finally:
        os.umask(old)
    day = 86_400
    for p in [*other.rglob("*"), other]:
        os.utime(p, (1_000_000_000 + day, 1_000_000_000 + day))
    second = tmp_path / "b.tar.gz"
    env = dict(os.environ)
    proc = subprocess.run(
        ["git", "filer", "pack", str(model2), "--code", str(code2), "-o", str(second), "--compression", compression], cwd=tmp_path, env=env,
        capture_output=True, text=True, preexec_fn=lambda: os.umask(0o027), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sha256(first) == sha256(second)
    if compression == "gzip":
        assert (second.read_bytes()[4:8]) == b"\0\0\0\0"  # the gzip header's mtime


# -- verified ------------------------------------------------------------------------------------------


def test_verified_a_corrupt_byte_fails_unpack_verify_naming_the_member(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    out = tmp_path / "m.tar"
    pack(tmp_path, str(model), "--code", str(code), "-o", str(out), "--compression", "none")
    data = bytearray(out.read_bytes())
    at = data.index(MODEL["model.pt"][:64]) + 100
    data[at] ^= 0xFF
    out.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    proc = filer(tmp_path, "unpack", str(out), str(dest), "--verify", check=False)
    line = one_line_failure(proc, 6)
    assert "model.pt" in line and "digest" in line
    assert not dest.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.tar", "model", "src"]


def test_unpack_verify_without_a_manifest_is_an_error(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tf:
        tf.add(model / "config.json", arcname="config.json")
    proc = filer(tmp_path, "unpack", str(plain), str(tmp_path / "dest"), "--verify", check=False)
    assert "gitfiler-manifest.json" in one_line_failure(proc)
    filer(tmp_path, "unpack", str(plain), str(tmp_path / "dest"))  # without --verify: unpacked, safely
    assert (tmp_path / "dest" / "config.json").read_bytes() == MODEL["config.json"]


def test_unpack_verify_refuses_a_member_the_manifest_does_not_list(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    out = tmp_path / "m.tar"
    pack(tmp_path, str(model), "-o", str(out), "--compression", "none")
    with tarfile.open(out, "a") as tf:
        extra = tarfile.TarInfo("extra.bin")
        extra.size = 3
        tf.addfile(extra, io.BytesIO(b"abc"))
    proc = filer(tmp_path, "unpack", str(out), str(tmp_path / "dest"), "--verify", check=False)
    assert "extra.bin" in one_line_failure(proc, 6)
    assert not (tmp_path / "dest").exists()


def test_unpack_refuses_a_non_empty_destination(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    out = tmp_path / "m.tar.gz"
    pack(tmp_path, str(model), "-o", str(out))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    assert "not empty" in one_line_failure(filer(tmp_path, "unpack", str(out), str(dest), check=False))
    assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = filer(tmp_path, "unpack", str(out), str(empty), "--verify", "--json")
    assert json.loads(proc.stdout)["verified"] is True and (empty / "model.pt").read_bytes() == MODEL["model.pt"]


# -- compression ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "bz2", "xz", "zstd", "none"])
def test_compression_variant_is_read_by_tarfile_and_listed_by_gnu_tar(tmp_path: Path, inputs: tuple[Path, Path], compression: str):
    model, code = inputs
    out = tmp_path / f"model.{compression}"
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", str(out), "--compression", compression, "--json")
    result = json.loads(proc.stdout)
    assert result["compression"] == compression and result["files"] == 7 and result["archive_bytes"] == out.stat().st_size
    assert result["sha256"] == "sha256:" + sha256(out)
    with open_tar(out) as tf:
        assert tf.extractfile("code/inference.py").read() == CODE["inference.py"]  # type: ignore[union-attr]
    if compression == "zstd":
        if not have("zstd"):
            pytest.skip("no zstd binary: GNU tar cannot read zstd here (read back through zstandard above)")
        listing = run(["tar", "-I", "zstd", "-tvf", str(out)], tmp_path).stdout
    else:
        listing = run(["tar", "-tvf", str(out)], tmp_path).stdout
    assert "code/serve.sh" in listing and "-rwxr-xr-x 0/0" in listing and "1970-01-01" in listing


def test_a_level_outside_the_compressions_range_is_bad_usage(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    proc = pack(tmp_path, str(model), "-o", str(tmp_path / "x.tar.gz"), "--level", "12", check=False)
    assert proc.returncode == 2 and "between 1 and 9" in proc.stderr
    assert not (tmp_path / "x.tar.gz").exists()


# -- --ref and --add ----------------------------------------------------------------------------------------


def test_ref_packs_the_committed_version_while_the_work_tree_holds_another(repo: Repo):
    repo.write("models/ranker/weights.bin", b"v1 weights" * 1000)
    repo.write("models/ranker/config.json", b'{"v": 1}')
    repo.write("src/inference/inference.py", b"VERSION = 1\n")
    repo.filer("add", "models/ranker")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "v1")
    repo.write("models/ranker/weights.bin", b"v2 weights")
    repo.write("src/inference/inference.py", b"VERSION = 2\n")
    out = repo.path.parent / "dist" / "model.tar.gz"
    proc = repo.filer("pack", "models/ranker", "--code", "src/inference", "-o", str(out), "--ref", "HEAD")
    assert "of " in proc.stdout  # names the commit
    with open_tar(out) as tf:
        assert tf.extractfile("weights.bin").read() == b"v1 weights" * 1000  # type: ignore[union-attr]
        assert tf.extractfile("code/inference.py").read() == b"VERSION = 1\n"  # type: ignore[union-attr]
        assert sorted(tf.getnames()) == ["code", "code/inference.py", "config.json", "gitfiler-manifest.json", "weights.bin"]
    assert (repo.path / "models/ranker/weights.bin").read_bytes() == b"v2 weights"  # nothing checked out


def test_ref_in_a_fresh_clone_fetches_what_the_cache_lacks_and_unpacks_a_model_tarball_artifact(repo: Repo, tmp_path: Path):
    trained = io.BytesIO()
    with tarfile.open(fileobj=trained, mode="w:gz") as tf:
        for rel, data in MODEL.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    repo.write("models/model.tar.gz", trained.getvalue())
    repo.write("src/inference/inference.py", CODE["inference.py"])
    repo.filer("add", "models/model.tar.gz")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "trained")  # the post-commit hook uploads the tarball
    clone = clone_of(repo, tmp_path)
    out = tmp_path / "served.tar.gz"
    run(["git", "filer", "pack", "models/model.tar.gz", "--code", "src/inference/", "-o", str(out), "--ref", "HEAD"], clone)
    with open_tar(out) as tf:
        assert tf.extractfile("model.pt").read() == MODEL["model.pt"]  # type: ignore[union-attr]
        assert tf.extractfile("code/inference.py").read() == CODE["inference.py"]  # type: ignore[union-attr]
    assert not (clone / "models" / "model.tar.gz").exists()  # fetched into the cache, never hydrated


def test_ref_of_a_path_the_commit_lacks_is_one_line(repo: Repo):
    repo.write("a.txt", "a")
    repo.git("add", "a.txt")
    repo.git("commit", "-qm", "a")
    out = repo.path.parent / "m.tar.gz"
    proc = repo.filer("pack", "models/none", "-o", str(out), "--ref", "HEAD", check=False)
    assert "is not in HEAD" in one_line_failure(proc)
    assert not out.exists()


def test_add_tracks_the_archive_with_type_package_and_the_input_oids(repo: Repo):
    repo.write("models/m/w.bin", b"weights")
    repo.write("src/inf/inference.py", b"pass\n")
    proc = repo.filer("pack", "models/m", "--code", "src/inf", "-o", "dist/model.tar.gz", "--add", "--json")
    result = json.loads(proc.stdout)
    assert result["registry"] == "dist/model.tar.gz.filer"
    reg = (repo.path / "dist" / "model.tar.gz.filer").read_text()
    assert "type: package" in reg and result["inputs"]["model"]["oid"] in reg and result["inputs"]["code"]["oid"] in reg
    assert "/model.tar.gz" in (repo.path / "dist" / ".gitignore").read_text()
    listed = json.loads(repo.filer("ls", "--json").stdout)
    assert [e["meta"]["type"] for e in listed if e["artifact"] == "dist/model.tar.gz"] == ["package"]
    staged = repo.git("diff", "--cached", "--name-only").stdout.split()
    assert "dist/model.tar.gz.filer" in staged and "dist/.gitignore" in staged
    # The model input's oid is the one `add` gives the same directory.
    repo.filer("add", "models/m")
    assert f"oid: {result['inputs']['model']['oid']}" in (repo.path / "models" / "m.filer").read_text()


def test_the_python_api_packs_like_the_command_line(repo: Repo, monkeypatch: pytest.MonkeyPatch):
    from gitfiler import Filer

    repo.write("models/m/w.bin", b"weights")
    monkeypatch.chdir(repo.path)
    result = Filer("models").pack("models/m", "dist/m.tar.gz")
    cli = repo.filer("pack", "models/m", "-o", "dist/cli.tar.gz", "--json")
    assert result.sha256 == json.loads(cli.stdout)["sha256"] and result.files == 1


# -- bad input ---------------------------------------------------------------------------------------------


def test_a_missing_model_path_is_one_line_and_no_output(tmp_path: Path):
    proc = pack(tmp_path, "nope", "-o", "out.tar.gz", check=False)
    assert "nope: no such file or directory" in one_line_failure(proc, 1)
    assert not (tmp_path / "out.tar.gz").exists()


def test_a_missing_code_path_is_one_line_and_no_output(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    proc = pack(tmp_path, str(model), "--code", "gone/", "-o", "out.tar.gz", check=False)
    assert "gone/: no such file or directory" in one_line_failure(proc, 1)
    assert not (tmp_path / "out.tar.gz").exists()


def test_an_empty_model_directory_is_one_line_and_no_output(tmp_path: Path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    proc = pack(tmp_path, "empty", "-o", "out.tar.gz", check=False)
    assert "holds no files" in one_line_failure(proc, 1)
    assert not (tmp_path / "out.tar.gz").exists()


def test_an_input_named_like_a_tarball_that_is_not_one_is_one_line_and_no_output(tmp_path: Path):
    (tmp_path / "model.tar.gz").write_bytes(b"this is not gzip\n" * 10)
    proc = pack(tmp_path, "model.tar.gz", "-o", "out.tar.gz", check=False)
    assert "is not a tar archive" in one_line_failure(proc, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz"]
    (tmp_path / "weights.gz").write_bytes(__import__("gzip").compress(b"not a tar inside"))
    proc = pack(tmp_path, "weights.gz", "-o", "out.tar.gz", check=False)
    assert "not a tar archive" in one_line_failure(proc, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz", "weights.gz"]


def test_an_output_inside_an_input_is_refused_before_any_write(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    before = sorted(p.name for p in model.rglob("*"))
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", str(model / "dist" / "m.tar.gz"), check=False)
    assert "inside the input" in one_line_failure(proc, 4)
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", str(code / "m.tar.gz"), check=False)
    assert "inside the input" in one_line_failure(proc, 4)
    assert sorted(p.name for p in model.rglob("*")) == before and not (code / "m.tar.gz").exists()


def test_a_symlink_in_an_input_is_refused_naming_it(tmp_path: Path, inputs: tuple[Path, Path]):
    model, code = inputs
    os.symlink("/etc/passwd", code / "passwd")
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", "out.tar.gz", check=False)
    line = one_line_failure(proc, 4)
    assert "passwd is a symlink" in line
    assert not (tmp_path / "out.tar.gz").exists()


@pytest.mark.parametrize("name", ["code/x.py", "gitfiler-manifest.json"])
def test_a_model_file_colliding_with_code_or_the_manifest_is_refused(tmp_path: Path, inputs: tuple[Path, Path], name: str):
    model, code = inputs
    write_tree(model, {name: b"x"})
    proc = pack(tmp_path, str(model), "--code", str(code), "-o", "out.tar.gz", check=False)
    assert name.split("/")[0] in one_line_failure(proc, 1)
    assert not (tmp_path / "out.tar.gz").exists()


def test_zstd_without_the_zstandard_package_says_how_to_install_it(tmp_path: Path, inputs: tuple[Path, Path]):
    model, _ = inputs
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "zstandard.py").write_text("raise ImportError('no zstandard here')\n")
    env = dict(os.environ, PYTHONPATH=str(shim))
    proc = run(["git", "filer", "pack", str(model), "-o", "out.tar.zst", "--compression", "zstd"], tmp_path, check=False, env=env)
    assert "pip install 'gitfiler[zstd]'" in one_line_failure(proc, 3)
    assert not (tmp_path / "out.tar.zst").exists()


def test_an_input_changed_after_it_was_hashed_is_caught_by_the_read_back_and_nothing_is_kept(tmp_path: Path, inputs: tuple[Path, Path]):
    from gitfiler import pack as packing
    from gitfiler.errors import IntegrityError

    model, _ = inputs
    lay = packing.layout(packing.scan(str(model), "model"), None)
    oids = packing.digest_inputs(lay)
    data = bytearray(MODEL["model.pt"])
    data[0] ^= 1
    (model / "model.pt").write_bytes(bytes(data))  # same size, other bytes: as if training wrote it meanwhile
    out = tmp_path / "out.tar.gz"
    with pytest.raises(IntegrityError, match="model.pt"):
        packing.write(str(out), lay, oids, compression="gzip", level=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "src"]


def test_a_full_disk_is_one_line_exit_9_and_no_half_written_output(tmp_path: Path):
    import resource

    model = write_tree(tmp_path / "big", {"w.bin": os.urandom(3 << 20)})
    cap = 1 << 20  # the file-size limit stands in for a full disk: the same EFBIG/ENOSPC path

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    proc = subprocess.run(
        ["git", "filer", "pack", str(model), "-o", str(tmp_path / "out" / "m.tar.gz")], cwd=tmp_path,
        capture_output=True, text=True, preexec_fn=limit, timeout=120,
    )
    assert "no space left" in one_line_failure(proc, 9)
    assert not (tmp_path / "out").exists()  # nothing half-written, and not the directory pack made for it


def test_inside_a_repository_a_file_changed_since_the_last_pack_is_packed_as_it_is_now(repo: Repo):
    # The stat cache may vouch for an unchanged input; one rewritten in place (same size, new
    # bytes, another mtime) must be read again, and the read-back would refuse a wrong digest.
    weights = repo.write("models/ranker/weights.bin", b"A" * 4096)
    repo.filer("add", "models/ranker")
    out = repo.path.parent / "dist" / "model.tar.gz"
    repo.filer("pack", "models/ranker", "-o", str(out))
    weights.write_bytes(b"B" * 4096)
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 5_000_000_000))
    repo.filer("pack", "models/ranker", "-o", str(out))
    with open_tar(out) as tf:
        assert tf.extractfile("weights.bin").read() == b"B" * 4096  # type: ignore[union-attr]
    unpacked = repo.path.parent / "unpacked"
    repo.filer("unpack", str(out), str(unpacked), "--verify")
