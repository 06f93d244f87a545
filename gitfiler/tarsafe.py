"""Reading tar archives that someone else made: a model tarball given to `pack`, an archive given
to `unpack`. Every member is checked before a byte of it is written; the archive is streamed
(one forward pass, no member held in memory), whatever its compression.

What a member may be: a regular file or a directory, at a normalised relative path
(`paths.check_relative`: no absolute path, no `..`, no `.git`, no over-long names), without
setuid, setgid or sticky bits, not sparse, named once. Links (symbolic and hard), devices and
FIFOs are refused, never created: an archive has no business pointing outside its destination.
`tarfile.data_filter` runs on every member as a second opinion. Sizes are checked against the
header before anything is written: a member cap, a total cap, the free space of the destination,
and, for an uncompressed archive, the bytes the archive file actually holds. The number of
members and the total length of their names are capped, and so is any header tarfile would
read whole into memory (pax, GNU long names; sparse maps are refused before they are read).

Writes go through `TreeFS` (no link on the way is followed; a file is renamed into place, never
written through what stands at its name).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import queue
import stat
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from .errors import ConfigError, DiskFullError, FilerError, UnsafePathError
from .paths import check_relative
from .treefs import TreeFS

CHUNK = 1 << 20
MAX_MEMBERS = 1_000_000
# Far above any model file of today and far below "fills the disk by surprise"; the free space
# of the destination is checked as well, so these are the caps for a disk that is very large.
MAX_MEMBER_BYTES = 1 << 40
MAX_TOTAL_BYTES = 4 << 40
# A pax or GNU long-name header is read whole into memory by tarfile, before any member check:
# a name is at most a few KiB, so a header claiming more is a bomb, not a name.
MAX_HEADER_BYTES = 1 << 20
# Every name read is remembered (to refuse one seen twice): a million members of 4 KiB names would
# hold GiBs, so the names' total length is capped too.
MAX_NAME_TOTAL = 256 << 20
_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_FILTER_ROOT = "/nonexistent-tarsafe-root"  # data_filter wants a destination; this one has no links
_DATA_FILTER: Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None] | None = getattr(tarfile, "data_filter", None)
ZSTD_HINT = "zstd needs the zstandard package: pip install 'gitfiler[zstd]'"

# Magic numbers: compression is told by content, never by the file's name.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


class NotATarball(FilerError):
    """The input is neither a tar archive nor a compressed one."""


@dataclass(frozen=True)
class Limits:
    members: int = MAX_MEMBERS
    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    name_bytes: int = MAX_NAME_TOTAL


@dataclass(frozen=True)
class Member:
    """One checked member: `path` normalised, `kind` "file" or "dir"."""

    path: str
    kind: str
    size: int
    executable: bool


def compression_of(head: bytes) -> str:
    """"gzip", "bz2", "xz", "zstd" or "tar" (uncompressed) from an archive's first bytes; "" when
    it is none of these."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if len(head) >= 512 and _is_v7_header(head[:512]):
        return "tar"
    return ""


def _is_v7_header(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def decompressor(kind: str, raw: BinaryIO) -> BinaryIO:
    """A reader of the uncompressed bytes of `raw`."""
    if kind == "gzip":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if kind == "bz2":
        return cast(BinaryIO, bz2.BZ2File(raw, "rb"))
    if kind == "xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    if kind == "zstd":
        zstandard = import_zstandard()
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True))
    return raw


def import_zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ConfigError(ZSTD_HINT) from None
    return zstandard


def is_tarball(path: str) -> bool:
    """True when `path` is a regular file whose content starts like a (compressed) tar archive."""
    try:
        with open(path, "rb") as f:
            return compression_of(f.read(512)) != ""
    except OSError:
        return False


class _CheckedInfo(tarfile.TarInfo):
    """A TarInfo that refuses, before tarfile reads them, the headers tarfile would otherwise
    hold in memory whole: an extended header or long name larger than MAX_HEADER_BYTES, and
    the sparse maps (GNU and pax 1.0), which grow with the bytes an archive feeds them."""

    def _proc_member(self, archive: Any) -> Any:
        if self.size < 0:
            raise UnsafePathError(f"member {self.name!r} has a negative size in its header; refusing the archive")
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise UnsafePathError(f"an extended tar header claims {self.size} bytes, more than the limit of {MAX_HEADER_BYTES}; refusing the archive")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise UnsafePathError(f"member {self.name!r} is a sparse file; gitfiler does not unpack sparse members")
        return super()._proc_member(archive)  # type: ignore[misc]

    def _proc_gnusparse_10(self, next: Any, pax_headers: Any, archive: Any) -> None:
        raise UnsafePathError(f"member {next.name!r} is a sparse file; gitfiler does not unpack sparse members")


class Reader:
    """The members of one archive, in order, each checked; `open()` the current file member's bytes."""

    def __init__(self, tf: tarfile.TarFile, where: str, limits: Limits, raw_size: int | None) -> None:
        self._tf = tf
        self.where = where
        self.limits = limits
        self._raw_size = raw_size  # the archive file's size when it is uncompressed
        self._seen: dict[str, str] = {}
        self._names = 0  # the length of the names in _seen
        self.total = 0

    def __iter__(self) -> Iterator[tuple[Member, tarfile.TarInfo]]:
        count = 0
        try:
            while (info := self._next()) is not None:
                count += 1
                if count > self.limits.members:
                    raise UnsafePathError(f"{self.where} has more than {self.limits.members} members; refusing it")
                member = self.check(info)
                if member is None:
                    continue
                yield member, info
        except tarfile.TarError as err:
            raise FilerError(f"{self.where} is damaged or truncated ({err}); nothing of it was kept") from None
        except EOFError:
            raise FilerError(f"{self.where} is truncated; nothing of it was kept") from None

    def _next(self) -> tarfile.TarInfo | None:
        try:
            info = self._tf.next()
        except UnsafePathError as err:  # from _CheckedInfo, which does not know the archive's name
            raise UnsafePathError(f"{self.where}: {err}") from None
        self._tf.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every member read; a stream needs none of them
        return info

    def open(self, info: tarfile.TarInfo) -> IO[bytes]:
        f = self._tf.extractfile(info)
        assert f is not None  # only called for regular files
        return f

    def check(self, info: tarfile.TarInfo) -> Member | None:
        """The member as it may be written, or UnsafePathError; None for the archive's root (`./`)."""
        name = info.name
        while name.startswith("./"):
            name = name[2:]
        name = name.rstrip("/") if info.isdir() else name
        if name in ("", "."):
            if info.isdir():
                return None
            raise UnsafePathError(f"{self.where}: a member has an empty name; refusing the archive")
        shown = repr(info.name)
        try:
            rel = check_relative(name, "member")
        except UnsafePathError as err:
            raise UnsafePathError(f"{self.where}: {err}; refusing the archive") from None
        if info.issym() or info.islnk():
            raise UnsafePathError(f"{self.where}: member {shown} is a {'symbolic' if info.issym() else 'hard'} link (to {info.linkname!r}); gitfiler does not unpack links")
        if info.ischr() or info.isblk() or info.isfifo():
            raise UnsafePathError(f"{self.where}: member {shown} is a device or FIFO; refusing the archive")
        if info.issparse():
            raise UnsafePathError(f"{self.where}: member {shown} is a sparse file; gitfiler does not unpack sparse members")
        if not (info.isreg() or info.isdir()):
            raise UnsafePathError(f"{self.where}: member {shown} is of an unknown type {info.type!r}; refusing the archive")
        if info.mode & _SPECIAL_BITS:
            raise UnsafePathError(f"{self.where}: member {shown} has the setuid, setgid or sticky bit (mode {info.mode:o}); refusing the archive")
        if _DATA_FILTER is not None:  # Python 3.10.12+, 3.11.4+: a second opinion on top of the checks above
            try:
                _DATA_FILTER(info, _FILTER_ROOT)
            except tarfile.TarError as err:
                raise UnsafePathError(f"{self.where}: member {shown} is refused by tarfile's data filter ({err})") from None
        kind = "dir" if info.isdir() else "file"
        if rel in self._seen:
            raise UnsafePathError(f"{self.where}: member {shown} appears twice; refusing the archive")
        parent = rel.rpartition("/")[0]
        while parent:
            if self._seen.get(parent) == "file":
                raise UnsafePathError(f"{self.where}: member {shown} lies below {parent!r}, which is a file in the archive; refusing it")
            parent = parent.rpartition("/")[0]
        self._seen[rel] = kind
        self._names += len(rel)
        if self._names > self.limits.name_bytes:
            raise UnsafePathError(f"{self.where}: the member names are longer than {self.limits.name_bytes} characters in all; refusing the archive")
        size = info.size if kind == "file" else 0
        if size > self.limits.member_bytes:
            raise UnsafePathError(f"{self.where}: member {shown} claims {size} bytes, more than the limit of {self.limits.member_bytes}; refusing it")
        self.total += size
        if self.total > self.limits.total_bytes:
            raise UnsafePathError(f"{self.where}: the members claim more than {self.limits.total_bytes} bytes in all; refusing the archive")
        if self._raw_size is not None and info.offset_data + size > self._raw_size:
            raise UnsafePathError(
                f"{self.where}: member {shown} claims {size} bytes but the archive holds only {max(self._raw_size - info.offset_data, 0)} after its header; refusing it"
            )
        return Member(rel, kind, size, bool(info.mode & stat.S_IXUSR) and kind == "file")  # the owner bit, as git reads it


@contextmanager
def open_archive(path: str, limits: Limits | None = None, *, where: str | None = None) -> Iterator[Reader]:
    """Read the archive at `path` forward once; NotATarball when its content is not one."""
    where = where or path
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise NotATarball(f"{where} is a directory, not a tar archive") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotATarball(f"{where} is a directory, not a tar archive" if stat.S_ISDIR(st.st_mode) else f"{where} is not a regular file")
    os.set_blocking(fd, True)
    raw = os.fdopen(fd, "rb")
    with raw:
        kind = compression_of(raw.read(512))
        raw.seek(0)
        if not kind:
            raise NotATarball(f"{where} is not a tar archive (plain, gzip, bz2, xz or zstd)")
        with read_stream(raw, kind, where, limits, st.st_size if kind == "tar" else None) as reader:
            yield reader


@contextmanager
def read_stream(raw: BinaryIO, kind: str, where: str, limits: Limits | None = None, raw_size: int | None = None) -> Iterator[Reader]:
    """Read an archive of known compression `kind` from the forward-only stream `raw`.
    `raw_size`: the archive's length when it is uncompressed (a member claiming more is refused)."""
    stream = decompressor(kind, raw)
    try:
        try:
            tf = tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK, encoding="utf-8", errors="surrogateescape", tarinfo=_CheckedInfo)  # noqa: SIM115 - closed below
        except UnsafePathError as err:  # the first header, read by open(), refused by _CheckedInfo
            raise UnsafePathError(f"{where}: {err}") from None
        except Exception as err:
            if not is_damage(err):
                raise
            raise NotATarball(f"{where} is not a tar archive ({err})") from None
        with tf:
            yield Reader(tf, where, limits or Limits(), raw_size)
    except Exception as err:
        if isinstance(err, FilerError) or not is_damage(err):
            raise
        raise FilerError(f"{where} is damaged or truncated ({err}); nothing of it was kept") from None
    finally:
        if stream is not raw:
            stream.close()


def is_damage(err: BaseException) -> bool:
    """True for the errors a decompressor or tarfile raises on bytes that are not what they
    claim to be (as opposed to a failing disk, which is an OSError of its own, or a bug)."""
    if isinstance(err, (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)):
        return True
    if type(err).__module__.startswith("zstandard"):
        return True
    return isinstance(err, OSError) and err.errno is None and "Invalid data stream" in str(err)  # bz2


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def copy_member(
    src: IO[bytes], dst: BinaryIO, size: int, hasher: Any = None, progress: Callable[[int], None] | None = None, what: str = "a member",
) -> int:
    """Copy exactly the member's bytes in chunks; memory stays flat. A large member is hashed
    and written by a second thread while this one decompresses the next chunk (zlib, zstd,
    hashlib and file writes all release the GIL): two cores, as `tar xzf` gets from its gzip."""
    if size < PIPELINE_BYTES:
        _copy(src, size, lambda chunk: _take(chunk, dst, hasher), progress, what)
        return size
    pipe: queue.Queue[bytes | None] = queue.Queue(maxsize=4)  # at most a few chunks in flight
    failed: list[BaseException] = []

    def drain() -> None:
        while (chunk := pipe.get()) is not None:
            if not failed:
                try:
                    _take(chunk, dst, hasher)
                except BaseException as err:  # raised in the reading thread, below
                    failed.append(err)

    def hand(chunk: bytes) -> None:
        if failed:
            raise failed[0]
        pipe.put(chunk)

    writer = threading.Thread(target=drain, name="gitfiler-unpack-write", daemon=True)
    writer.start()
    try:
        _copy(src, size, hand, progress, what)
    finally:
        pipe.put(None)
        writer.join()
    if failed:
        raise failed[0]
    return size


PIPELINE_BYTES = 8 * CHUNK


def _take(chunk: bytes, dst: BinaryIO, hasher: Any) -> None:
    if hasher is not None:
        hasher.update(chunk)
    dst.write(chunk)


def _copy(src: IO[bytes], size: int, take: Callable[[bytes], None], progress: Callable[[int], None] | None, what: str) -> None:
    left = size
    while left:
        try:
            chunk = src.read(min(CHUNK, left))
        except tarfile.ReadError:
            chunk = b""
        if not chunk:
            raise FilerError(f"{what} ends before the {size} bytes its header claims: the archive is truncated, or the header lies; nothing of it was kept")
        take(chunk)
        left -= len(chunk)
        if progress is not None:
            progress(len(chunk))


@dataclass
class Extracted:
    files: list[tuple[Member, str]]  # (member, "sha256:<hex>") in archive order
    dirs: list[str]


def write_member(reader: Reader, tree: TreeFS, member: Member, info: tarfile.TarInfo, progress: Callable[[int], None] | None = None) -> str:
    """Write one file member at its path below `tree` (temp, then rename; no link on the way is
    followed) after checking the free space against its header; returns its digest. The mode is
    normalised: 0755 when executable, else 0644."""
    free = free_bytes(tree.root)
    if member.size > free:
        raise DiskFullError(f"{reader.where}: member {member.path!r} needs {member.size} bytes but the destination has only {free} free; nothing was kept")
    h = hashlib.sha256()

    def fill(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as f, reader.open(info) as src:
            copy_member(src, f, member.size, h, progress, f"{reader.where}: member {member.path!r}")
        os.chmod(tmp, 0o755 if member.executable else 0o644)

    tree.publish(member.path, fill)
    return "sha256:" + h.hexdigest()


def extract(reader: Reader, dest: str, *, progress: Callable[[int], None] | None = None) -> Extracted:
    """Write every member below the existing directory `dest` and return what was written."""
    tree = TreeFS(os.path.realpath(dest))
    out = Extracted([], [])
    for member, info in reader:
        if member.kind == "dir":
            tree.makedirs(member.path)
            os.chmod(tree.abspath(member.path), 0o755)
            out.dirs.append(member.path)
        else:
            out.files.append((member, write_member(reader, tree, member, info, progress)))
    return out


def read_small(reader: Reader, info: tarfile.TarInfo, cap: int) -> bytes:
    """The whole of a small member (the embedded manifest), refusing one larger than `cap`."""
    if info.size > cap:
        raise UnsafePathError(f"{reader.where}: member {info.name!r} is larger than {cap} bytes; refusing it")
    buf = io.BytesIO()
    with reader.open(info) as src:
        copy_member(src, buf, info.size, what=f"{reader.where}: member {info.name!r}")
    return buf.getvalue()
