"""How `gitfiler.pack` writes an archive: the tar stream it writes itself is byte for byte the one
tarfile writes; zstd's bytes do not depend on its worker count or the machine's cores; a zstd
archive is the manifest member in a stored frame, then the rest compressed, and any reader sees
one tar stream; the inputs are hashed alongside the writing and every member is still read back
against its digest."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import have, run, write_tree

zstandard = pytest.importorskip("zstandard")

from gitfiler import pack as packing  # noqa: E402
from gitfiler.errors import FilerError, IntegrityError  # noqa: E402


def inputs(tmp_path: Path) -> packing.Layout:
    """Names that need pax records (long, non-ASCII), an empty file, an executable, an empty
    directory, sizes on and off the block boundary, and a file over the 1 MiB copy chunk."""
    model = write_tree(tmp_path / "model", {
        "weights.bin": os.urandom((3 << 20) + 123), "config.json": b'{"layers": 3}\n', "empty.txt": b"",
        "tokenizer/vocab-\u00e9\u00e8.txt": b"a\nb\n" * 128, "d/" + "x" * 120 + "/deep.bin": b"y" * 512,
    })
    (model / "empty-dir").mkdir()
    code = write_tree(tmp_path / "code", {"inference.py": b"def model_fn(d):\n    return d\n", "serve.sh": b"#!/bin/sh\n"})
    (code / "serve.sh").chmod(0o755)
    return packing.layout(packing.scan(str(model), "model"), packing.scan(str(code), "code"))


def tar_stream(archive: Path) -> bytes:
    data = archive.read_bytes()
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    if data.startswith(b"\x1f\x8b"):
        return gzip.decompress(data)
    return data


def test_the_tar_stream_is_byte_for_byte_what_tarfile_writes(tmp_path: Path):
    lay = inputs(tmp_path)
    out = tmp_path / "ours.tar"
    packing.write(str(out), lay, compression="none", level=None)
    theirs = io.BytesIO()
    with tarfile.open(fileobj=theirs, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        tf.addfile(packing._info(packing.MANIFEST_NAME, "file", len(lay.manifest)), io.BytesIO(lay.manifest))
        for m in lay.members:
            f = m.input
            if f is None:
                tf.addfile(packing._info(m.path, "dir"))
                continue
            with f.open() as src:
                tf.addfile(packing._info(m.path, "file", f.size, f.executable), src)
    assert out.read_bytes() == theirs.getvalue()


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_the_same_tar_stream_whatever_the_compression(tmp_path: Path, compression: str):
    lay = inputs(tmp_path)
    plain, packed = tmp_path / "a.tar", tmp_path / f"a.{compression}"
    packing.write(str(plain), lay, compression="none", level=None)
    packing.write(str(packed), lay, compression=compression, level=packing.check_level(compression, None))
    assert tar_stream(packed) == plain.read_bytes()


def test_zstd_bytes_do_not_depend_on_the_worker_count_or_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    inputs(tmp_path)
    # Several zstd jobs (a job is a few MiB at level 3), so that the workers truly share the work.
    write_tree(tmp_path / "model", {"more.bin": os.urandom(24 << 20)})
    lay = packing.layout(packing.scan(str(tmp_path / "model"), "model"), packing.scan(str(tmp_path / "code"), "code"))
    digests = set()
    for workers, cores in [(1, 1), (2, 2), (3, 64), (8, 2)]:
        monkeypatch.setattr(packing, "ZSTD_WORKERS", workers)
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        out = tmp_path / f"w{workers}.tar.zst"
        packing.write(str(out), lay, compression="zstd", level=3)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_zstd_packs_the_same_bytes_in_another_process_with_one_cpu(tmp_path: Path):
    """A machine with another core count, as near as a test gets: a child pinned to one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity here")
    lay = inputs(tmp_path)
    mine = tmp_path / "here.tar.zst"
    packing.write(str(mine), lay, compression="zstd", level=3)
    other = tmp_path / "pinned.tar.zst"
    code = (
        "import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); from gitfiler import pack as p; "
        "lay = p.layout(p.scan(sys.argv[1], 'model'), p.scan(sys.argv[2], 'code')); p.write(sys.argv[3], lay, compression='zstd', level=3)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "model"), str(tmp_path / "code"), str(other)], check=True, timeout=120)
    assert other.read_bytes() == mine.read_bytes()


def test_a_zstd_archive_is_the_manifest_stored_then_the_rest_in_one_compressed_frame(tmp_path: Path):
    lay = inputs(tmp_path)
    out = tmp_path / "a.tar.zst"
    packing.write(str(out), lay, compression="zstd", level=3)
    data = out.read_bytes()
    first = packing._stored_zstd_frame_size(packing._manifest_member_size(lay))
    manifest_member = zstandard.ZstdDecompressor().decompressobj().decompress(data[:first])
    assert manifest_member == packing._manifest_member(lay)
    assert manifest_member[packing.tarfile.BLOCKSIZE:].rstrip(b"\0") == lay.manifest
    assert data[first:first + 4] == b"\x28\xb5\x2f\xfd"  # the second frame starts right after
    if have("zstd"):  # GNU tar and the zstd CLI read the two frames as one archive
        listing = run(["tar", "-I", "zstd", "-tf", str(out)], tmp_path).stdout.splitlines()
        assert listing[0] == packing.MANIFEST_NAME and "code/serve.sh" in listing


def test_a_manifest_larger_than_a_zstd_block_is_stored_in_several_blocks(tmp_path: Path):
    files = {f"shard-{i:05d}-{'n' * 40}.bin": b"%d" % i for i in range(1500)}  # ~190 KiB of manifest
    lay = packing.layout(packing.scan(str(write_tree(tmp_path / "model", files)), "model"), None)
    out = tmp_path / "a.tar.zst"
    written = packing.write(str(out), lay, compression="zstd", level=3)
    assert len(lay.manifest) > 128 << 10 and len(written.oids) == 1500
    with tarfile.open(fileobj=io.BytesIO(tar_stream(out))) as tf:
        assert tf.getnames()[0] == packing.MANIFEST_NAME
        assert tf.extractfile(packing.MANIFEST_NAME).read() == lay.manifest  # type: ignore[union-attr]


def test_zstd_hashes_the_inputs_while_it_writes_and_returns_their_digests(tmp_path: Path):
    lay = inputs(tmp_path)
    assert packing.hashes_while_writing("zstd") and not packing.hashes_while_writing("gzip")
    written = packing.write(str(tmp_path / "a.tar.zst"), lay, compression="zstd", level=3)
    again = packing.layout(packing.scan(str(tmp_path / "model"), "model"), packing.scan(str(tmp_path / "code"), "code"))
    assert written.oids == packing.digest_inputs(again) and lay.manifest == again.manifest
    assert written.sha256 == "sha256:" + hashlib.sha256((tmp_path / "a.tar.zst").read_bytes()).hexdigest()


def test_digests_vouched_for_are_still_checked_by_the_read_back(tmp_path: Path):
    """`known` (the stat cache) is trusted for the manifest, never for the archive: a wrong one
    fails the read-back and nothing is kept."""
    lay = inputs(tmp_path)
    wrong = {"config.json": "sha256:" + "0" * 64}
    out = tmp_path / "a.tar.zst"
    with pytest.raises(IntegrityError, match="config.json"):
        packing.write(str(out), lay, compression="zstd", level=3, known=wrong)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["code", "model"]


def _racing_layout(first: bytes, then: bytes) -> packing.Layout:
    """One file whose every open after the first reads `then`."""
    opened: list[int] = []

    def opener() -> io.BytesIO:
        opened.append(1)
        return io.BytesIO(first if len(opened) == 1 else then)

    return packing.layout(packing.Tree([packing.Input("w.bin", len(first), False, opener, None, "models/w.bin")]), None)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_an_input_rewritten_between_hashing_and_writing_fails_the_read_back(tmp_path: Path, compression: str):
    lay = _racing_layout(b"x" * 70_000, b"y" * 70_000)
    oids = packing.digest_inputs(lay)
    with pytest.raises(IntegrityError, match="models/w.bin reads back .* changed while it was packed"):
        packing.write(str(tmp_path / "out"), lay, oids, compression=compression, level=packing.check_level(compression, None))
    assert os.listdir(tmp_path) == []


def test_an_input_that_shrinks_while_zstd_hashes_it_is_one_clear_error_and_no_output(tmp_path: Path):
    lay = _racing_layout(b"x" * 70_000, b"x" * 10)  # whichever thread opens it second sees it shrunk
    with pytest.raises(FilerError, match="models/w.bin (changed while it was read|shrank while it was packed)"):
        packing.write(str(tmp_path / "out"), lay, compression="zstd", level=3)
    assert os.listdir(tmp_path) == []
