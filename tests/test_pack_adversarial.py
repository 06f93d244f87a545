"""Adversarial tests of `git filer pack` / `unpack` (issue 12): archives, inputs, outputs and
destinations crafted to make gitfiler read, write or delete outside what it was given, follow a
planted link, exhaust memory or disk, hang, crash, or leave half an output behind.

Archives are crafted by hand (tarfile, or header bytes), never through gitfiler. Every process
runs under tests/hostile.py's caps (2 GiB address space, 64 MiB largest file, a timeout), and a
sentinel directory outside everything must be unchanged after each test. A refusal is one
`error:` line with the README's exit code, and leaves no destination, output or temp file.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import hostile
from hostile import Proc

GIT_FILER = os.path.join(hostile.BIN_DIR, "git-filer")
EXIT_ERROR, EXIT_UNSAFE, EXIT_CORRUPT, EXIT_DISK_FULL = 1, 4, 6, 9
ZEROS = 16 << 20  # one compressed chunk of a bomb: repeated, it inflates to GiBs from a few MiB


@dataclass
class World:
    base: Path
    env: dict[str, str]
    sentinel: Path

    def run(self, *args: str, timeout: float = hostile.TIMEOUT_S) -> Proc:
        return hostile.run_capped([GIT_FILER, *args], self.base, self.env, timeout=timeout)

    def leftovers(self) -> list[str]:
        """What a failed run left in the base directory: temp files, a destination, an output."""
        return sorted(p.name for p in self.base.iterdir() if p.name.startswith((".tmp-", "dest", "out", "new")))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("pack-adversarial")
    sentinel = base / "sentinel"
    hostile.make_sentinel(sentinel, cfg_remote=base / "cfg-remote")
    return World(base, hostile.pinned_env(base), sentinel)


@pytest.fixture(autouse=True)
def sentinel_unchanged(world: World):
    before = hostile.snapshot(world.sentinel)
    yield
    after = hostile.snapshot(world.sentinel)
    assert after == before, f"the sentinel directory changed: {hostile.difference(before, after)}"


def refused(proc: Proc, code: int | tuple[int, ...] = EXIT_UNSAFE) -> str:
    codes = code if isinstance(code, tuple) else (code,)
    assert proc.returncode in codes, str(proc)
    lines = [line for line in proc.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), str(proc)
    return lines[0]


# -- crafting ----------------------------------------------------------------------------------------


def info(name: str, *, type: bytes = tarfile.REGTYPE, size: int = 0, mode: int = 0o644, linkname: str = "") -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type, i.size, i.mode, i.linkname = type, size, mode, linkname
    return i


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for i, data in members:
            tf.addfile(i, io.BytesIO(data) if i.isreg() else None)
    return buf.getvalue()


def good(name: str = "ok.txt", data: bytes = b"fine\n") -> tuple[tarfile.TarInfo, bytes]:
    return info(name, size=len(data)), data


def header(i: tarfile.TarInfo, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    return i.tobuf(fmt, "utf-8", "surrogateescape")


def with_size_field(block: bytes, field: bytes) -> bytes:
    """A header block with its 12-byte size field replaced and the checksum made right again."""
    b = bytearray(block[:512])
    b[124:136] = field
    b[148:156] = b"        "
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b) + block[512:]


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b, 1), "bz2": bz2.compress, "xz": lambda b: lzma.compress(b, preset=0),
}
try:
    import zstandard

    COMPRESSORS["zstd"] = lambda b: zstandard.ZstdCompressor(level=1).compress(b)
except ImportError:  # the optional extra
    pass

_chunks: dict[str, bytes] = {}


def bomb(compression: str, head: bytes, inflated: int, filler: bytes = b"\0") -> bytes:
    """`head`, then `inflated` bytes of `filler`, as a compressed stream of concatenated members
    (gzip, bz2, xz and zstd all read on across them): a few MiB that inflate to GiBs."""
    comp = COMPRESSORS[compression]
    key = f"{compression}:{filler!r}"
    if key not in _chunks:
        _chunks[key] = comp(filler * (ZEROS // len(filler)))
    return comp(head) + _chunks[key] * (inflated // ZEROS) + comp(b"\0" * 1024)


def write(world: World, name: str, data: bytes) -> Path:
    p = world.base / name
    p.write_bytes(data)
    return p


# -- tar-slip and names ------------------------------------------------------------------------------


def slip_cases(sentinel: Path) -> dict[str, bytes]:
    s = str(sentinel)
    pax_override = info("ok.txt", size=5)
    pax_override.pax_headers = {"path": "../sentinel/pax.txt"}
    return {
        "dot-slash-dot-dot": tar_bytes([good("./../sentinel/evil.txt")]),
        "inner-dot-dot": tar_bytes([good("a/../../sentinel/evil.txt")]),
        "backslashes": tar_bytes([good("..\\..\\sentinel\\evil.txt")]),
        "double-slash-absolute": tar_bytes([good("/" + s + "/evil.txt")]),
        "dot-dot-only": tar_bytes([good("..")]),
        "pax-path-override": tar_bytes([(pax_override, b"fine\n")], tarfile.PAX_FORMAT),
        "gnu-longname-slip": tar_bytes([good("a/" * 60 + "../" * 61 + "sentinel/evil.txt")], tarfile.GNU_FORMAT),
        "dot-git-uppercase": tar_bytes([good(".GIT/config")]),
        "symlink-to-dir-then-write-through": tar_bytes([(info("d", type=tarfile.SYMTYPE, linkname=s), b""), good("d/file.txt", b"owned\n")]),
        "hardlink-then-file-of-same-name": tar_bytes([(info("f", type=tarfile.LNKTYPE, linkname=f"{s}/file.txt"), b""), good("f", b"owned\n")]),
        "symlink-last": tar_bytes([good(), (info("z", type=tarfile.SYMTYPE, linkname="/etc/passwd"), b"")]),
        "file-then-dir-of-same-name": tar_bytes([good("a"), (info("a", type=tarfile.DIRTYPE, mode=0o755), b"")]),
        "dir-then-file-of-same-name": tar_bytes([(info("a", type=tarfile.DIRTYPE, mode=0o755), b""), good("a")]),
        "dir-twice-with-dot-slash": tar_bytes([(info("a", type=tarfile.DIRTYPE, mode=0o755), b""), (info("./a/", type=tarfile.DIRTYPE, mode=0o755), b"")]),
        "file-twice-with-dot-slash": tar_bytes([good("a.txt"), good("./a.txt", b"again\n")]),
        "negative-base256-size": with_size_field(header(info("neg.bin", size=16)), b"\xff" * 12) + b"x" * 512 + b"\0" * 1024,
        "sticky-dir": tar_bytes([(info("d", type=tarfile.DIRTYPE, mode=0o1777), b"")]),
    }


SLIP_CASES = list(slip_cases(Path("/x")))


@pytest.mark.parametrize("name", SLIP_CASES)
def test_unpack_refuses_a_crafted_member_and_keeps_nothing(world: World, name: str):
    archive = write(world, "a.tar", slip_cases(world.sentinel)[name])
    refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert world.leftovers() == []


@pytest.mark.parametrize("name", SLIP_CASES)
def test_pack_refuses_a_crafted_model_tarball_and_leaves_no_output(world: World, name: str):
    archive = write(world, "a.tar.gz", gzip.compress(slip_cases(world.sentinel)[name]))
    refused(world.run("pack", str(archive), "-o", str(world.base / "out.tar.gz")))
    assert world.leftovers() == []


def test_lookalike_dots_and_a_nul_in_a_name_stay_inside_the_destination(world: World):
    # U+2024 (one dot leader) looks like '.', but is a name like any other, not a way up.
    archive = write(world, "a.tar", tar_bytes([good("\u2024\u2024/x.txt"), good("\u2025/y.txt")]))
    dest = world.base / "dest"
    proc = world.run("unpack", str(archive), str(dest))
    try:
        assert proc.returncode == 0, str(proc)
        assert sorted(p.name for p in dest.iterdir()) == ["\u2024\u2024", "\u2025"]
    finally:
        import shutil

        shutil.rmtree(dest)


# -- headers that ask tarfile to hold GiBs -----------------------------------------------------------------


def test_a_pax_header_claiming_gibs_is_refused_before_it_is_read_into_memory(world: World):
    head = header(info("././@PaxHeader", type=tarfile.XHDTYPE, size=3 << 30), tarfile.USTAR_FORMAT)
    archive = write(world, "a.tar.gz", bomb("gzip", head, 3 << 30))
    line = refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert "extended tar header claims" in line
    line = refused(world.run("pack", str(archive), "-o", str(world.base / "out.tar.gz")))
    assert world.leftovers() == []


def test_a_gnu_long_name_claiming_gibs_is_refused_before_it_is_read_into_memory(world: World):
    head = header(info("././@LongLink", type=tarfile.GNUTYPE_LONGNAME, size=3 << 30))
    archive = write(world, "a.tar.xz", bomb("xz", head, 3 << 30, b"a"))
    refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert world.leftovers() == []


def test_a_pax_sparse_map_that_never_ends_is_refused_not_read(world: World):
    i = info("sparse.bin", size=1 << 30)
    i.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "sparse.bin", "GNU.sparse.realsize": "1"}
    head = header(i, tarfile.PAX_FORMAT) + b"999999999999\n"
    archive = write(world, "a.tar.gz", bomb("gzip", head, 1 << 30, b"0\n"))
    refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert world.leftovers() == []


# -- bombs: a member that inflates to far more than the archive ------------------------------------------


@pytest.mark.parametrize("compression", list(COMPRESSORS))
def test_a_compression_bomb_is_refused_from_its_header_with_max_size(world: World, compression: str):
    head = header(info("bomb.bin", size=1 << 30))
    archive = write(world, "a.tar.bomb", bomb(compression, head, 1 << 30))
    line = refused(world.run("unpack", str(archive), str(world.base / "dest"), "--max-size", "100M"))
    assert "more than the limit" in line
    assert world.leftovers() == []


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_compression_bomb_under_the_default_limit_stops_at_a_full_disk_and_keeps_nothing(world: World, compression: str):
    if compression not in COMPRESSORS:
        pytest.skip("zstandard is not installed")
    # The file-size cap of the run plays a full disk: the write fails there, one line, exit 9.
    head = header(info("bomb.bin", size=256 << 20))
    archive = write(world, "a.tar.bomb", bomb(compression, head, 256 << 20))
    refused(world.run("unpack", str(archive), str(world.base / "dest")), EXIT_DISK_FULL)
    assert world.leftovers() == []


# -- truncation -----------------------------------------------------------------------------------------


def packed(world: World) -> bytes:
    model = world.base / "m-src"
    if not model.exists():
        (model / "sub").mkdir(parents=True)
        (model / "a.bin").write_bytes(os.urandom(3000))
        (model / "sub" / "b.txt").write_bytes(b"b" * 700)
    out = world.base / "packed.tar"
    proc = world.run("pack", str(model), "-o", str(out), "--compression", "none")
    assert proc.returncode == 0, str(proc)
    return out.read_bytes()


def test_a_truncated_archive_is_refused_at_every_boundary_and_keeps_nothing(world: World):
    data = packed(world)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        last = tf.getmembers()[-1]
        complete = last.offset_data + last.size  # beyond it only padding and the end blocks are cut
    cuts = sorted({1, 100, 511, 512, 513, 1000, 1024, 1536, 2047, 2048, 2560, 4000} | set(range(512, len(data), 512)))
    for cut in cuts:
        archive = write(world, "t.tar", data[:cut])
        proc = world.run("unpack", str(archive), str(world.base / "dest"), "--verify")
        if cut >= complete:
            assert proc.returncode == 0, f"cut at {cut}: {proc}"
            import shutil

            shutil.rmtree(world.base / "dest")
            continue
        refused(proc, (EXIT_ERROR, EXIT_UNSAFE, EXIT_CORRUPT))
        assert world.leftovers() == [], f"cut at {cut}"
    gz = gzip.compress(data)
    for cut in (1, 10, len(gz) // 2, len(gz) - 9, len(gz) - 1):
        archive = write(world, "t.tar.gz", gz[:cut])
        refused(world.run("unpack", str(archive), str(world.base / "dest"), "--verify"), (EXIT_ERROR, EXIT_UNSAFE, EXIT_CORRUPT))
        assert world.leftovers() == [], f"gzip cut at {cut}"


# -- manifests that lie ---------------------------------------------------------------------------------

A, B = b"model bytes\n", b"more\n"


def oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(path: str, data: bytes, exe: bool = False) -> dict[str, object]:
    return {"path": path, "oid": oid(data), "size": len(data), "exec": exe}


def manifest(files: list[dict[str, object]], dirs: list[object] | None = None) -> bytes:
    return json.dumps({"schema": "gitfiler-pack", "version": 1, "files": files, "dirs": dirs or []}).encode()


def with_manifest(doc: bytes, members: list[tuple[tarfile.TarInfo, bytes]] | None = None) -> bytes:
    rest = members if members is not None else [good("a.bin", A), good("b.bin", B)]
    return tar_bytes([good("gitfiler-manifest.json", doc), *rest])


GOOD_FILES = [entry("a.bin", A), entry("b.bin", B)]
LIES: dict[str, tuple[bytes, int]] = {
    "lists-a-file-not-present": (with_manifest(manifest([*GOOD_FILES, entry("c.bin", b"c")])), EXIT_CORRUPT),
    "wrong-digest": (with_manifest(manifest([entry("a.bin", b"other bytes\n"[: len(A)]), entry("b.bin", B)])), EXIT_CORRUPT),
    "extra-member": (with_manifest(manifest(GOOD_FILES), [good("a.bin", A), good("b.bin", B), good("c.bin", b"c")]), EXIT_CORRUPT),
    "wrong-size": (with_manifest(manifest([{**entry("a.bin", A), "size": 1}, entry("b.bin", B)])), EXIT_CORRUPT),
    "wrong-exec": (with_manifest(manifest([entry("a.bin", A, True), entry("b.bin", B)])), EXIT_CORRUPT),
    "a-dir-listed-as-a-file": (with_manifest(manifest([*GOOD_FILES, entry("d", b"")]), [good("a.bin", A), good("b.bin", B), (info("d", type=tarfile.DIRTYPE, mode=0o755), b"")]), EXIT_CORRUPT),
    "not-first": (tar_bytes([good("a.bin", A), good("gitfiler-manifest.json", manifest(GOOD_FILES)), good("b.bin", B)]), EXIT_ERROR),
    "two-manifests": (with_manifest(manifest(GOOD_FILES), [good("gitfiler-manifest.json", manifest([])), good("a.bin", A), good("b.bin", B)]), EXIT_UNSAFE),
    "dot-dot-path": (with_manifest(manifest([*GOOD_FILES, entry("../sentinel/file.txt", b"x")])), EXIT_UNSAFE),
    "dot-dot-dir": (with_manifest(manifest(GOOD_FILES, ["../sentinel"])), EXIT_UNSAFE),
    "dirs-not-strings-no-files": (with_manifest(manifest([], [[1], {"a": 1}])), EXIT_UNSAFE),
    "dirs-not-strings": (with_manifest(manifest(GOOD_FILES, [[1]])), EXIT_UNSAFE),
    "path-not-a-string": (with_manifest(manifest([{**entry("a.bin", A), "path": 5}])), EXIT_UNSAFE),
    "size-a-float": (with_manifest(manifest([{**entry("a.bin", A), "size": 12.0}, entry("b.bin", B)])), EXIT_UNSAFE),
    "huge-number": (with_manifest(b'{"schema":"gitfiler-pack","version":1,"dirs":[],"files":[{"path":"a.bin","oid":"x","exec":false,"size":' + b"9" * 5000 + b"}]}"), EXIT_UNSAFE),
    "deep-nesting": (with_manifest(b"[" * 200_000 + b"]" * 200_000), EXIT_UNSAFE),
    "duplicate-keys-the-last-counts": (with_manifest(manifest(GOOD_FILES)[:-1] + b', "files": []}'), EXIT_CORRUPT),
    "not-json": (with_manifest(b"\xff\xfe{"), EXIT_UNSAFE),
    "claims-gibs": (with_size_field(header(info("gitfiler-manifest.json", size=16)), b"\x80" + (3 << 30).to_bytes(11, "big")) + b"{}" + b"\0" * 1534, EXIT_UNSAFE),
}


@pytest.mark.parametrize("name", list(LIES))
def test_unpack_verify_refuses_a_manifest_that_lies_and_keeps_nothing(world: World, name: str):
    data, code = LIES[name]
    archive = write(world, "a.tar.gz", gzip.compress(data))
    refused(world.run("unpack", str(archive), str(world.base / "dest"), "--verify"), code)
    assert world.leftovers() == []


def test_pack_of_a_model_tarball_whose_manifest_lies_is_refused(world: World):
    archive = write(world, "a.tar.gz", gzip.compress(LIES["wrong-digest"][0]))
    refused(world.run("pack", str(archive), "-o", str(world.base / "out.tar.gz")), EXIT_CORRUPT)
    assert world.leftovers() == []


# -- what the archive, the destination and the output are -------------------------------------------------


def test_an_archive_that_is_a_fifo_is_refused_without_hanging(world: World):
    fifo = world.base / "a.fifo"
    os.mkfifo(fifo)
    link = world.base / "fifo-link.tar"
    os.symlink(fifo, link)
    try:
        refused(world.run("unpack", str(fifo), str(world.base / "dest"), timeout=20), EXIT_ERROR)
        refused(world.run("unpack", str(link), str(world.base / "dest"), timeout=20), EXIT_ERROR)
        refused(world.run("pack", str(fifo), "-o", str(world.base / "out.tar.gz"), timeout=20))
        assert "is a directory" in refused(world.run("unpack", str(world.sentinel), str(world.base / "dest")), EXIT_ERROR)
    finally:
        link.unlink()
        fifo.unlink()
    assert world.leftovers() == []


def test_a_failed_unpack_removes_the_directories_it_created_for_its_destination(world: World):
    archive = write(world, "a.tar", slip_cases(world.sentinel)["inner-dot-dot"])
    refused(world.run("unpack", str(archive), str(world.base / "new-parent" / "sub" / "dest")))
    assert world.leftovers() == []


def test_a_failed_pack_removes_the_directories_it_created_for_its_output(world: World):
    archive = write(world, "a.tar", slip_cases(world.sentinel)["inner-dot-dot"])
    try:
        refused(world.run("pack", str(archive), "-o", str(world.base / "new-out" / "sub" / "model.tar.gz")))
        assert not (world.base / "new-out").exists()
    finally:
        import shutil

        shutil.rmtree(world.base / "new-out", ignore_errors=True)


def test_an_output_that_is_a_symlink_to_an_outside_file_is_replaced_not_written_through(world: World):
    model = world.base / "m-link"
    model.mkdir(exist_ok=True)
    (model / "w.bin").write_bytes(b"w")
    out = world.base / "out-link.tar.gz"
    os.symlink(world.sentinel / "file.txt", out)
    try:
        proc = world.run("pack", str(model), "-o", str(out))
        assert proc.returncode == 0, str(proc)
        assert not out.is_symlink() and tarfile.open(out).getnames()[0] == "gitfiler-manifest.json"
    finally:
        out.unlink()


def test_an_output_inside_an_input_through_a_symlink_or_dot_dot_is_refused(world: World):
    model = world.base / "m-in"
    model.mkdir(exist_ok=True)
    (model / "w.bin").write_bytes(b"w")
    link = world.base / "m-in-link"
    if not link.is_symlink():
        os.symlink(model, link)
    for out in (link / "out.tar.gz", world.base / "elsewhere" / ".." / "m-in" / "out.tar.gz", model / "new" / "out.tar.gz"):
        refused(world.run("pack", str(model), "-o", str(out)))
        assert sorted(p.name for p in model.iterdir()) == ["w.bin"], out
    assert world.leftovers() == []


def test_a_model_with_a_symlink_to_etc_passwd_or_a_fifo_is_refused_without_hanging(world: World):
    model = world.base / "m-bad"
    model.mkdir(exist_ok=True)
    (model / "w.bin").write_bytes(b"w")
    os.symlink("/etc/passwd", model / "passwd")
    try:
        assert "symlink" in refused(world.run("pack", str(model), "-o", str(world.base / "out.tar.gz")))
    finally:
        (model / "passwd").unlink()
    os.mkfifo(model / "pipe")
    try:
        refused(world.run("pack", str(model), "-o", str(world.base / "out.tar.gz"), timeout=20))
        refused(world.run("pack", str(model / "w.bin"), "--code", str(model / "pipe"), "-o", str(world.base / "out.tar.gz"), timeout=20))
    finally:
        (model / "pipe").unlink()
    assert world.leftovers() == []


def test_a_model_file_whose_name_is_not_utf8_is_refused_in_one_line(world: World):
    model = world.base / "m-bytes"
    model.mkdir(exist_ok=True)
    (model / "w.bin").write_bytes(b"w")
    bad = os.path.join(os.fsencode(model), b"bad\xff.bin")
    with open(bad, "wb") as f:
        f.write(b"x")
    try:
        assert "UTF-8" in refused(world.run("pack", str(model), "-o", str(world.base / "out.tar.gz")))
    finally:
        os.unlink(bad)
    # The same name inside a model tarball: unpacked into the scratch space, then refused there.
    archive = write(world, "a.tar", tar_bytes([good("bad\udcff.bin")]))
    assert "UTF-8" in refused(world.run("pack", str(archive), "-o", str(world.base / "out.tar.gz")))
    assert world.leftovers() == []


# -- races: an input that changes between hashing and writing ----------------------------------------------


def _layout_of(data_first: bytes, data_then: bytes):  # type: ignore[no-untyped-def]
    """A one-file model whose file reads `data_first` when hashed and `data_then` when packed."""
    from gitfiler import pack as packing

    reads = iter([data_first, data_then])
    f = packing.Input("w.bin", len(data_first), False, lambda: io.BytesIO(next(reads)), None, "models/w.bin")
    lay = packing.layout(packing.Tree([f]), None)
    return lay, packing.digest_inputs(lay)


def test_an_input_that_shrinks_after_it_was_hashed_is_one_clear_error_and_no_output(tmp_path: Path):
    from gitfiler import pack as packing
    from gitfiler.errors import FilerError

    lay, oids = _layout_of(b"x" * 5000, b"x" * 100)
    out = tmp_path / "out.tar.gz"
    with pytest.raises(FilerError, match="shrank while it was packed"):
        packing.write(str(out), lay, oids, compression="gzip", level=6)
    assert os.listdir(tmp_path) == []


def test_an_input_rewritten_in_place_after_it_was_hashed_fails_the_read_back_and_no_output(tmp_path: Path):
    from gitfiler import pack as packing
    from gitfiler.errors import IntegrityError

    lay, oids = _layout_of(b"x" * 5000, b"y" * 5000)
    out = tmp_path / "out.tar.gz"
    out.write_bytes(b"the previous archive")
    with pytest.raises(IntegrityError, match="changed while it was packed"):
        packing.write(str(out), lay, oids, compression="gzip", level=6)
    assert os.listdir(tmp_path) == ["out.tar.gz"] and out.read_bytes() == b"the previous archive"


# -- repositories: --add outside, --ref with a hostile registry file ----------------------------------------


def test_add_with_an_output_outside_the_repository_is_refused_before_packing(world: World, tmp_path: Path):
    from conftest import make_repo

    repo = make_repo(tmp_path)
    repo.write("models/m/w.bin", b"w")
    out = world.base / "out" / "model.tar.gz"
    proc = hostile.run_capped([GIT_FILER, "pack", "models/m", "-o", str(out), "--add"], repo.path, dict(os.environ))
    assert "must lie inside the repository" in refused(proc, EXIT_ERROR)
    assert world.leftovers() == []


def test_ref_with_a_registry_file_pointing_outside_is_refused(world: World, tmp_path: Path):
    from conftest import make_repo

    repo = make_repo(tmp_path)
    known = hostile.KNOWN
    repo.write("models/m.filer", hostile.registry_text("../../../sentinel/known.bin", hostile.oid_of(known), len(known)))
    repo.write("models/n.filer", hostile.registry_text("m", hostile.oid_of(known), len(known)) + "path: ../x\n")
    repo.git("add", "-f", "models")
    repo.git("commit", "-qm", "hostile", "--no-verify")
    for given in ("models/m", "models/../../sentinel/known.bin", "models"):
        proc = hostile.run_capped([GIT_FILER, "pack", given, "-o", str(world.base / "out.tar.gz"), "--ref", "HEAD"], repo.path, dict(os.environ))
        refused(proc, (EXIT_ERROR, EXIT_UNSAFE))
    assert world.leftovers() == []


def test_the_names_an_archive_makes_gitfiler_remember_are_capped_in_total(tmp_path: Path):
    # A million members with 4 KiB names would make the duplicate check hold GiBs: the total
    # length of the names is capped (256 Mi characters by default; a small cap here).
    from gitfiler import tarsafe
    from gitfiler.errors import UnsafePathError

    archive = tmp_path / "many.tar"
    archive.write_bytes(tar_bytes([good(f"{'n' * 200}{i:04d}") for i in range(20)], tarfile.PAX_FORMAT))
    with pytest.raises(UnsafePathError, match="member names are longer than 2000"), tarsafe.open_archive(str(archive), tarsafe.Limits(name_bytes=2000)) as reader:
        for _member in reader:
            pass


def test_a_disk_filling_up_mid_pack_is_always_reported_as_a_full_disk(tmp_path: Path):
    # write(2) first writes short, then fails with ENOSPC/EFBIG: a short write must not be
    # announced to the read-back as written, or the race reports "damaged or truncated" (exit 1).
    import resource
    import subprocess

    model = tmp_path / "big"
    model.mkdir()
    (model / "w.bin").write_bytes(os.urandom(3 << 20))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    for _ in range(6):
        proc = subprocess.run(
            [GIT_FILER, "pack", str(model), "-o", str(tmp_path / "out" / "m.tar.gz")], cwd=tmp_path,
            capture_output=True, text=True, preexec_fn=limit, timeout=120,
        )
        assert proc.returncode == EXIT_DISK_FULL, proc.stderr
        assert not (tmp_path / "out").exists()  # nothing half-written, nor the directory made for it
