"""`tarsafe`: what a member may be, told before a byte of it is written; compression told by
content; extraction that never follows a link already in the destination."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler import tarsafe
from gitfiler.errors import FilerError, UnsafePathError

from .support import UNIT


def member(name: str, *, type: bytes = tarfile.REGTYPE, size: int = 0, mode: int = 0o644, linkname: str = "") -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type, i.size, i.mode, i.linkname = type, size, mode, linkname
    return i


def archive(tmp_path: Path, files: list[tuple[tarfile.TarInfo, bytes]], compress=lambda b: b, name: str = "a.tar") -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in files:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    p = tmp_path / name
    p.write_bytes(compress(buf.getvalue()))
    return str(p)


def checker(limits: tarsafe.Limits | None = None, raw_size: int | None = None) -> tarsafe.Reader:
    return tarsafe.Reader(None, "a.tar", limits or tarsafe.Limits(), raw_size)  # type: ignore[arg-type]


# -- compression by content ---------------------------------------------------------------------------


@pytest.mark.parametrize(("compress", "kind"), [
    (lambda b: b, "tar"), (gzip.compress, "gzip"), (bz2.compress, "bz2"), (lzma.compress, "xz"),
])
def test_compression_is_told_by_content(tmp_path: Path, compress, kind: str):
    path = archive(tmp_path, [(member("x", size=1), b"x")], compress, name="no-suffix")
    with open(path, "rb") as f:
        assert tarsafe.compression_of(f.read(512)) == kind
    assert tarsafe.is_tarball(path)


def test_zstd_is_told_by_its_magic_number():
    zstandard = pytest.importorskip("zstandard")
    assert tarsafe.compression_of(zstandard.ZstdCompressor().compress(b"x" * 600)) == "zstd"


def test_text_and_random_bytes_are_not_tarballs(tmp_path: Path):
    (tmp_path / "t.tar.gz").write_bytes(b"hello\n" * 200)
    assert not tarsafe.is_tarball(str(tmp_path / "t.tar.gz"))
    assert tarsafe.compression_of(b"") == ""
    with pytest.raises(tarsafe.NotATarball), tarsafe.open_archive(str(tmp_path / "t.tar.gz")):
        pass


# -- member checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "a//b", ".git/config", "a/.GIT/x", "x" * 300, "a\\..\\b"])
def test_unsafe_names_are_refused(name: str):
    with pytest.raises(UnsafePathError):
        checker().check(member(name, size=1))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_links_devices_and_fifos_are_refused(kind: bytes):
    with pytest.raises(UnsafePathError):
        checker().check(member("x", type=kind, linkname="y"))


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1755])
def test_setuid_setgid_and_sticky_are_refused(mode: int):
    with pytest.raises(UnsafePathError, match="setuid"):
        checker().check(member("x", size=1, mode=mode))


def test_a_leading_dot_slash_and_the_root_entry_are_accepted():
    c = checker()
    assert c.check(member("./", type=tarfile.DIRTYPE)) is None
    got = c.check(member("./bin/run", size=4, mode=0o755))
    assert got == tarsafe.Member("bin/run", "file", 4, True)


def test_duplicates_and_members_below_a_file_are_refused():
    c = checker()
    c.check(member("a", size=1))
    with pytest.raises(UnsafePathError, match="twice"):
        c.check(member("a", size=1))
    with pytest.raises(UnsafePathError, match="is a file"):
        c.check(member("a/b", size=1))


def test_size_caps_are_checked_against_the_header():
    with pytest.raises(UnsafePathError, match="more than the limit"):
        checker(tarsafe.Limits(member_bytes=10)).check(member("x", size=11))
    c = checker(tarsafe.Limits(total_bytes=15))
    c.check(member("a", size=10))
    with pytest.raises(UnsafePathError, match="in all"):
        c.check(member("b", size=10))
    claim = member("x", size=10 << 30)
    claim.offset_data = 512
    with pytest.raises(UnsafePathError, match="holds only"):
        checker(raw_size=4096).check(claim)


def test_the_member_count_is_capped(tmp_path: Path):
    path = archive(tmp_path, [(member(f"f{i}", size=0), b"") for i in range(5)])
    with pytest.raises(UnsafePathError, match="more than 3 members"), tarsafe.open_archive(path, tarsafe.Limits(members=3)) as reader:
        list(reader)


@given(st.text(min_size=1, max_size=40))
@UNIT
def test_whatever_name_is_accepted_stays_below_the_destination(name: str):
    try:
        got = checker().check(member(name, size=0))
    except UnsafePathError:
        return
    if got is not None:
        dest = "/dest"
        assert os.path.normpath(os.path.join(dest, got.path)).startswith(dest + "/")


# -- extraction ---------------------------------------------------------------------------------------------


def test_extract_writes_files_with_normalised_modes_and_digests(tmp_path: Path):
    path = archive(tmp_path, [(member("d", type=tarfile.DIRTYPE, mode=0o700), b""), (member("d/run", size=2, mode=0o700), b"ok"), (member("f", size=1, mode=0o600), b"x")], gzip.compress)
    dest = tmp_path / "dest"
    dest.mkdir()
    with tarsafe.open_archive(path) as reader:
        done = tarsafe.extract(reader, str(dest))
    assert (dest / "d" / "run").stat().st_mode & 0o7777 == 0o755 and (dest / "f").stat().st_mode & 0o7777 == 0o644
    assert (dest / "d").stat().st_mode & 0o7777 == 0o755
    assert [m.path for m, _ in done.files] == ["d/run", "f"] and done.dirs == ["d"]
    import hashlib

    assert done.files[1][1] == "sha256:" + hashlib.sha256(b"x").hexdigest()


def test_extract_never_follows_a_link_already_in_the_destination(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "d")
    path = archive(tmp_path, [(member("d/evil", size=4), b"evil")])
    with pytest.raises(UnsafePathError, match="symlink"), tarsafe.open_archive(path) as reader:
        tarsafe.extract(reader, str(dest))
    assert list(outside.iterdir()) == []


def test_a_file_member_replaces_a_link_at_its_name_instead_of_writing_through_it(tmp_path: Path):
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(target, dest / "f")
    path = archive(tmp_path, [(member("f", size=3), b"new")])
    with tarsafe.open_archive(path) as reader:
        tarsafe.extract(reader, str(dest))
    assert target.read_bytes() == b"keep" and not (dest / "f").is_symlink() and (dest / "f").read_bytes() == b"new"


def test_a_truncated_archive_is_one_clear_error(tmp_path: Path):
    path = archive(tmp_path, [(member("big", size=100_000), os.urandom(100_000))])
    data = Path(path).read_bytes()
    Path(path).write_bytes(gzip.compress(data[:20_000]))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(FilerError, match="truncated"), tarsafe.open_archive(path) as reader:
        tarsafe.extract(reader, str(dest))


def test_read_small_refuses_a_member_over_its_cap(tmp_path: Path):
    path = archive(tmp_path, [(member("m.json", size=10), b"0123456789")])
    with tarsafe.open_archive(path) as reader:
        for _m, info in reader:
            with pytest.raises(UnsafePathError, match="larger than"):
                tarsafe.read_small(reader, info, 5)



# -- large members: hashed and written by a second thread ---------------------------------------------------


def test_a_large_member_is_written_whole_with_its_digest(tmp_path: Path):
    data = os.urandom(tarsafe.PIPELINE_BYTES + 12_345)
    path = archive(tmp_path, [(member("big.bin", size=len(data)), data)], gzip.compress, "a.tar.gz")
    dest = tmp_path / "dest"
    dest.mkdir()
    with tarsafe.open_archive(path) as reader:
        out = tarsafe.extract(reader, str(dest))
    assert (dest / "big.bin").read_bytes() == data
    assert out.files[0][1] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_large_member_cut_short_is_one_clear_error(tmp_path: Path):
    data = os.urandom(tarsafe.PIPELINE_BYTES + 12_345)
    path = archive(tmp_path, [(member("big.bin", size=len(data)), data)])
    Path(path).write_bytes(gzip.compress(Path(path).read_bytes()[: tarsafe.PIPELINE_BYTES]))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(FilerError, match="truncated"), tarsafe.open_archive(path) as reader:
        tarsafe.extract(reader, str(dest))


def test_a_write_failing_in_the_writer_thread_is_raised_by_the_copy(tmp_path: Path):
    class Failing(io.BytesIO):
        def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
            if self.tell() > tarsafe.CHUNK:
                raise OSError(28, "No space left on device")
            return super().write(b)

    src = io.BytesIO(os.urandom(tarsafe.PIPELINE_BYTES + 1))
    with pytest.raises(OSError, match="No space left"):
        tarsafe.copy_member(src, Failing(), tarsafe.PIPELINE_BYTES + 1)
