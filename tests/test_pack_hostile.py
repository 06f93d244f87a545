"""Hostile archives against `git filer unpack` and against `git filer pack` given a model tarball
(issue 12, design invariant 5). Each archive is crafted by hand with `tarfile` or byte by byte,
never through gitfiler, and aims at a sentinel directory beside the destination.

For every case: the archive is refused (exit 4 for an unsafe member, one `error:` line, no
crash, under tests/hostile.py's memory and file-size caps), the destination is not created,
no output archive is left, and the sentinel is unchanged (paths, modes, sizes, mtimes, digests).
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import hostile
from hostile import Proc

GIT_FILER = os.path.join(hostile.BIN_DIR, "git-filer")
EXIT_UNSAFE = 4
TEN_GB = 10 << 30


@dataclass
class World:
    base: Path
    env: dict[str, str]
    sentinel: Path

    def run(self, *args: str) -> Proc:
        return hostile.run_capped([GIT_FILER, *args], self.base, self.env)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("pack-hostile")
    sentinel = base / "sentinel"
    hostile.make_sentinel(sentinel, cfg_remote=base / "cfg-remote")
    return World(base, hostile.pinned_env(base), sentinel)


@pytest.fixture(autouse=True)
def sentinel_unchanged(world: World):
    before = hostile.snapshot(world.sentinel)
    yield
    after = hostile.snapshot(world.sentinel)
    assert after == before, f"the sentinel directory changed: {hostile.difference(before, after)}"


# -- crafting ------------------------------------------------------------------------------------------


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


def claims(size: int, *, sparse: bool = False) -> bytes:
    """A member whose header claims `size` bytes but whose archive holds only a few: the size
    field alone, or a GNU sparse header whose real size says so."""
    i = info("huge.bin", size=16)
    block = bytearray(i.tobuf(tarfile.GNU_FORMAT))
    if sparse:
        block[156:157] = tarfile.GNUTYPE_SPARSE
        block[483:495] = b"%011o\0" % size  # realsize
    else:
        block[124:136] = b"\x80" + size.to_bytes(11, "big")  # base-256, as GNU tar writes sizes over 8 GiB
    block[148:156] = b"        "
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + b"x" * 512 + b"\0" * 1024


def cases(sentinel: Path) -> dict[str, bytes]:
    s = str(sentinel)
    return {
        "tar-slip": tar_bytes([good(), good("../sentinel/evil.txt")]),
        "deep-slip": tar_bytes([good("a/b/../../../sentinel/evil.txt")]),
        "absolute": tar_bytes([good(f"{s}/abs.txt")]),
        "symlink-then-file": tar_bytes([(info("link", type=tarfile.SYMTYPE, linkname=s), b""), good("link/evil.txt")]),
        "relative-symlink": tar_bytes([(info("up", type=tarfile.SYMTYPE, linkname="../sentinel"), b""), good("up/evil.txt")]),
        "hardlink-passwd": tar_bytes([(info("passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd"), b"")]),
        "hardlink-sentinel": tar_bytes([(info("f", type=tarfile.LNKTYPE, linkname=f"{s}/file.txt"), b"")]),
        "char-device": tar_bytes([(info("null", type=tarfile.CHRTYPE), b"")]),
        "block-device": tar_bytes([(info("disk", type=tarfile.BLKTYPE), b"")]),
        "fifo": tar_bytes([(info("pipe", type=tarfile.FIFOTYPE), b"")]),
        "setuid": tar_bytes([(info("run.sh", size=3, mode=0o4755), b"id\n")]),
        "setgid-dir": tar_bytes([(info("d", type=tarfile.DIRTYPE, mode=0o2755), b"")]),
        "dot-git": tar_bytes([good(".git/hooks/post-checkout")]),
        "duplicate": tar_bytes([good("a.txt"), good("a.txt", b"second\n")]),
        "file-then-below-it": tar_bytes([good("a"), good("a/b")]),
        "ten-gb-header": claims(TEN_GB),
        "ten-gb-sparse": claims(TEN_GB, sparse=True),
        "long-name": tar_bytes([good("x" * 300)], tarfile.PAX_FORMAT),
    }


CASES = list(cases(Path("/x")))


def build(world: World, name: str, compress: Callable[[bytes], bytes] = lambda b: b) -> Path:
    archive = world.base / f"{name}.tar"
    archive.write_bytes(compress(cases(world.sentinel)[name]))
    return archive


def refused(proc: Proc, code: int = EXIT_UNSAFE) -> str:
    assert proc.returncode == code, str(proc)
    lines = [line for line in proc.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), str(proc)
    return lines[0]


def leftovers(world: World) -> list[str]:
    """Anything in the base directory that a run left behind (temp files, a destination)."""
    return sorted(p.name for p in world.base.iterdir() if p.name.startswith((".tmp-", "dest", "out")))


@pytest.mark.parametrize("name", CASES)
def test_unpack_refuses_a_hostile_archive_and_writes_nothing(world: World, name: str):
    archive = build(world, name)
    line = refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert "refus" in line or "not" in line
    assert leftovers(world) == []


@pytest.mark.parametrize("name", CASES)
def test_unpack_refuses_a_hostile_gzip_archive_and_writes_nothing(world: World, name: str):
    archive = build(world, name, gzip.compress)
    proc = world.run("unpack", str(archive), str(world.base / "dest"), "--max-size", "1G")
    refused(proc)
    assert leftovers(world) == []


@pytest.mark.parametrize("name", CASES)
def test_pack_refuses_a_hostile_model_tarball_and_leaves_no_output(world: World, name: str):
    archive = build(world, name, gzip.compress)
    # A compressed stream's true length is known only at its end: with the disk's free space as
    # the only cap, a size claim the stream cannot back is found there (exit 1, nothing kept).
    code = 1 if name == "ten-gb-header" else EXIT_UNSAFE
    line = refused(world.run("pack", str(archive), "-o", str(world.base / "out.tar.gz")), code)
    assert code == EXIT_UNSAFE or "truncated" in line
    assert leftovers(world) == []


def test_a_ten_gb_header_is_refused_from_the_header_before_anything_is_written(world: World):
    archive = build(world, "ten-gb-header")
    line = refused(world.run("unpack", str(archive), str(world.base / "dest")))
    assert "claims 10737418240 bytes but the archive holds only" in line
    gz = build(world, "ten-gb-header", gzip.compress)
    line = refused(world.run("unpack", str(gz), str(world.base / "dest"), "--max-size", "1G"))
    assert "claims 10737418240 bytes, more than the limit" in line
    assert leftovers(world) == []


def test_a_destination_that_is_a_symlink_is_refused(world: World):
    archive = world.base / "fine.tar"
    archive.write_bytes(tar_bytes([good()]))
    link = world.base / "dest-link"
    os.symlink(world.sentinel, link)
    try:
        proc = world.run("unpack", str(archive), str(link))
        assert proc.returncode != 0 and "not a directory" in refused(proc, 1)
    finally:
        link.unlink()


def test_a_good_archive_after_all_that_unpacks(world: World):
    archive = world.base / "fine.tar.gz"
    archive.write_bytes(gzip.compress(tar_bytes([good(), good("sub/x.bin", b"\0" * 10)])))
    dest = world.base / "dest"
    proc = world.run("unpack", str(archive), str(dest))
    try:
        assert proc.returncode == 0, str(proc)
        assert (dest / "ok.txt").read_bytes() == b"fine\n" and (dest / "sub" / "x.bin").stat().st_mode & 0o7777 == 0o644
    finally:
        import shutil

        shutil.rmtree(dest)
