"""The `model.tar.gz` that SageMaker-style hosts serve: model files at the root, inference code
under `code/`, and `gitfiler-manifest.json` (every file's path, oid, size and executable bit),
written reproducibly and read back before it is kept. See docs/packaging.md.

Reproducible: the same inputs give the same bytes. Members come in a fixed order (the manifest
first, then the model's directories and files sorted by path component by component, then
`code` and what lies below it, sorted the same way); every member has mtime 0 (1970-01-01, no
clock in the archive), uid and gid 0, no user or group name, mode 0644 (0755 for directories and
executable files); the tar format is POSIX pax; the gzip header carries neither a time nor a
file name; compression runs at a fixed level, zstd in its multi-threaded format, whose bytes do
not depend on the number of workers (nor, so, on the machine's cores).

Verified: while the archive is written, another thread reads the file back, decompresses it and
compares it with the tar stream that was meant (headers byte for byte, data by digest). For
zstd the inputs are hashed alongside the writing rather than before it: the manifest member,
whose length is known before any digest is, goes to a stored frame of its own at the head of
the file, written last (see `_stored_zstd_frame`).

Nothing here knows about repositories: the use case (`commands.pack`) turns paths, artifacts or
commits into `Input`s. Archives given to us are read through `tarsafe`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Protocol, cast

from . import tarsafe
from .errors import FilerError, IntegrityError, RegistryError, UnsafePathError
from .fsutil import disk_full, is_disk_full, publish, temp_name_beside
from .manifest import ManifestEntry, encode
from .objects import OID_PREFIX, is_oid
from .paths import check_relative
from .treefs import TreeFS

MANIFEST_NAME = "gitfiler-manifest.json"
MANIFEST_SCHEMA = "gitfiler-pack"
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 256 << 20
CODE_DIR = "code"
MTIME = 0  # every member's time: the archive says nothing about when it was made
FILE_MODE, EXEC_MODE, DIR_MODE = 0o644, 0o755, 0o755
CHUNK = 1 << 20
# zstd's worker threads. Its multi-threaded format gives the same bytes for any count >= 1 (a
# test packs with several), so this is fixed for speed alone, not for the bytes: two workers
# compress faster than the read-back (one thread: decompress and hash) can follow, so more
# would not finish sooner; with 0 zstd would write its single-threaded format, other bytes.
ZSTD_WORKERS = 2
# name -> (lowest level, highest level, default level); "none" takes no level.
COMPRESSIONS: dict[str, tuple[int, int, int] | None] = {
    "gzip": (1, 9, 6), "bz2": (1, 9, 9), "xz": (0, 9, 6), "zstd": (1, 22, 3), "none": None,
}
SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Input:
    """One file to pack: its path in the archive, and how to read it."""

    path: str
    size: int
    executable: bool
    open: Callable[[], IO[bytes]]
    oid: str | None = None  # known already (an object of the cache): not hashed beforehand
    shown: str = ""  # how to name the source to the user
    source: str | None = None  # the file on disk it is read from, if any


@dataclass
class Tree:
    """Files and directories as they will sit in the archive (paths relative to its root)."""

    files: list[Input] = field(default_factory=list)
    dirs: set[str] = field(default_factory=set)
    source_oid: str | None = None  # the oid of the tarball the files were read from, if any

    def under(self, prefix: str) -> Tree:
        return Tree([_moved(f, f"{prefix}/{f.path}") for f in self.files], {prefix} | {f"{prefix}/{d}" for d in self.dirs})


def _moved(f: Input, path: str) -> Input:
    return Input(path, f.size, f.executable, f.open, f.oid, f.shown)


def check_level(compression: str, level: int | None) -> int | None:
    """The level to use: `level`, or the compression's default. FilerError when it is out of range."""
    if compression not in COMPRESSIONS:
        raise FilerError(f"unknown compression {compression!r}; choose one of {', '.join(COMPRESSIONS)}")
    bounds = COMPRESSIONS[compression]
    if bounds is None:
        if level is not None:
            raise FilerError("--level does not apply to --compression none")
        return None
    low, high, default = bounds
    if level is None:
        return default
    if not low <= level <= high:
        raise FilerError(f"--level for {compression} must be between {low} and {high}")
    return level


def named_like_tarball(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


# -- inputs from the file system ------------------------------------------------------------------------


def scan(path: str, shown: str) -> Tree:
    """A directory's files and subdirectories (empty ones too), or a single file at the root.
    A symlink anywhere is refused, naming it: following it could pack bytes from elsewhere, and
    dropping it would ship a model without a file it expects. Devices and FIFOs likewise."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise FilerError(f"{shown}: no such file or directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(f"{shown} is a symlink; gitfiler packs files and directories, never links (replace it with what it points to)")
    if stat.S_ISREG(st.st_mode):
        name = os.path.basename(os.path.abspath(path))
        _check_utf8(name, shown)
        return Tree([_file_input(path, name, st, shown)])
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{shown} is not a regular file or directory; refusing to pack it")
    tree = Tree()
    _walk(path, "", tree, shown)
    return tree


def _walk(top: str, rel: str, tree: Tree, shown: str) -> None:
    here = os.path.join(top, rel) if rel else top
    with os.scandir(here) as it:
        found = sorted(it, key=lambda e: e.name)
    for e in found:
        child = f"{rel}/{e.name}" if rel else e.name
        where = os.path.join(shown, child)
        _check_utf8(e.name, where)
        check_relative(child, f"{where}:")
        st = e.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(f"{where} is a symlink; gitfiler packs files and directories, never links (replace it with what it points to, or remove it)")
        if stat.S_ISDIR(st.st_mode):
            tree.dirs.add(child)
            _walk(top, child, tree, shown)
        elif stat.S_ISREG(st.st_mode):
            tree.files.append(_file_input(os.path.join(top, child), child, st, where))
        else:
            raise UnsafePathError(f"{where} is a device, FIFO or socket; refusing to pack it")


def _check_utf8(name: str, shown: str) -> None:
    """The archive names its members in UTF-8 (pax) and so does the manifest (JSON): a name
    the file system holds as other bytes has no faithful place in either."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(f"{shown.encode('utf-8', 'backslashreplace').decode()}: the name is not valid UTF-8; rename it to pack it") from None


def _file_input(path: str, rel: str, st: os.stat_result, shown: str) -> Input:
    def opener() -> IO[bytes]:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        f = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            f.close()
            raise UnsafePathError(f"{shown} is no longer a regular file; refusing to pack it")
        os.set_blocking(fd, True)
        return f

    return Input(rel, st.st_size, bool(st.st_mode & stat.S_IXUSR), opener, None, shown, path)


def unpack_input(archive: str, into: str, shown: str, limits: tarsafe.Limits | None = None) -> Tree:
    """A model tarball's members as a Tree: extracted (checked, through `tarsafe`) below the
    directory `into`, which the caller removes afterwards. An archive gitfiler packed is checked
    against its embedded manifest on the way, and that manifest left out: the new archive gets
    its own."""
    dest = os.path.join(into, "model")
    done = unpack(archive, dest, verify=None, limits=limits, where=shown)
    if done.manifest:
        os.unlink(os.path.join(dest, MANIFEST_NAME))
    return scan(dest, shown)


# -- the layout ------------------------------------------------------------------------------------------


def _key(path: str) -> tuple[bool, tuple[bytes, ...]]:
    """Sorted component by component, bytewise; `code` and below last (also when the model brings
    its own code/, so that packing an archive again gives the same order)."""
    parts = path.split("/")
    return parts[0] == CODE_DIR, tuple(p.encode("utf-8", "surrogateescape") for p in parts)


@dataclass(frozen=True)
class Member:
    path: str
    kind: str  # "file" | "dir"
    input: Input | None = None


@dataclass
class Layout:
    members: list[Member]  # in archive order, the manifest not included
    manifest: bytes = b""

    @property
    def files(self) -> list[Input]:
        return [m.input for m in self.members if m.input is not None]


def layout(model: Tree, code: Tree | None) -> Layout:
    """The archive's members in order; a model file that would collide with the manifest or with
    `code/` is refused, as is an empty model."""
    if not model.files:
        raise FilerError("the model holds no files; nothing to pack")
    for d in sorted(model.dirs) + [f.path for f in model.files]:
        if d == MANIFEST_NAME:
            raise FilerError(f"the model has a file named {MANIFEST_NAME}, which is the name of the archive's own manifest; rename it")
        if code is not None and (d == CODE_DIR or d.startswith(CODE_DIR + "/")):
            raise FilerError(f"the model has {d!r}, which collides with the code directory {CODE_DIR}/ that --code fills; rename it or leave out --code")
    members: list[Member] = []
    for tree in (model, code.under(CODE_DIR) if code is not None else None):
        if tree is None:
            continue
        dirs = set(tree.dirs)
        for f in tree.files:
            parent = f.path.rpartition("/")[0]
            while parent:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
        part = [Member(d, "dir") for d in dirs] + [Member(f.path, "file", f) for f in tree.files]
        members += sorted(part, key=lambda m: _key(m.path))
    return Layout(members)


# -- the embedded manifest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestFile:
    path: str
    oid: str
    size: int
    exec: bool


@dataclass
class PackManifest:
    files: list[ManifestFile]
    dirs: list[str]

    def encode(self) -> bytes:
        """Canonical JSON: keys sorted, no whitespace, UTF-8; files and dirs in archive order."""
        doc = {
            "schema": MANIFEST_SCHEMA, "version": MANIFEST_VERSION,
            "files": [{"path": f.path, "oid": f.oid, "size": f.size, "exec": f.exec} for f in self.files],
            "dirs": self.dirs,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes, where: str) -> PackManifest:
        def bad(why: str) -> RegistryError:
            return RegistryError(f"{where}: {MANIFEST_NAME} {why}")

        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise bad("is not valid JSON") from None
        if not isinstance(doc, dict) or set(doc) != {"schema", "version", "files", "dirs"} or doc["schema"] != MANIFEST_SCHEMA:
            raise bad(f"must be an object with exactly schema={MANIFEST_SCHEMA!r}, version, files and dirs")
        if doc["version"] != MANIFEST_VERSION or isinstance(doc["version"], bool):
            raise bad(f"has version {doc['version']!r}, which this gitfiler does not read; upgrade gitfiler")
        if not isinstance(doc["files"], list) or not isinstance(doc["dirs"], list):
            raise bad("must hold lists 'files' and 'dirs'")
        try:
            for d in doc["dirs"]:
                check_relative(d, "a manifest directory")
        except UnsafePathError as err:
            raise bad(str(err)) from None
        files: list[ManifestFile] = []
        for i, item in enumerate(doc["files"]):
            if not isinstance(item, dict) or set(item) != {"path", "oid", "size", "exec"}:
                raise bad(f"file {i} must have exactly path, oid, size and exec")
            try:
                path = check_relative(item["path"], "a manifest path")
            except UnsafePathError as err:
                raise bad(str(err)) from None
            size, exe = item["size"], item["exec"]
            if not is_oid(item["oid"]) or not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(exe, bool):
                raise bad(f"file {path!r} has a bad oid, size or exec")
            files.append(ManifestFile(path, item["oid"], size, exe))
        names = [f.path for f in files] + list(doc["dirs"])
        if len(set(names)) != len(names):
            raise bad("names a path twice")
        return cls(files, list(doc["dirs"]))


def input_oid(files: list[tuple[str, str, int, bool]]) -> str:
    """The oid gitfiler gives a directory of these files (path, oid, size, exec): its manifest's digest."""
    data = encode([ManifestEntry(p, o, s, e) for p, o, s, e in files])
    return OID_PREFIX + hashlib.sha256(data).hexdigest()


# -- writing -------------------------------------------------------------------------------------------------


def _hash(f: IO[bytes], progress: Progress | None, buf: bytearray, stop: threading.Event | None = None) -> tuple[str, int]:
    """The digest and length of what `f` holds, read into `buf` (reused: no allocation per chunk)."""
    h = hashlib.sha256()
    total = 0
    readinto = getattr(f, "readinto", None)
    with memoryview(buf) as view:
        while True:
            if stop is not None and stop.is_set():
                raise _Stopped()
            if readinto is not None:
                n = readinto(view)
                chunk: bytes | memoryview = view[:n]
            else:
                chunk = f.read(len(buf))
                n = len(chunk)
            if not n:
                break
            h.update(chunk)
            total += n
            if progress is not None:
                progress(n)
    return OID_PREFIX + h.hexdigest(), total


def digest_inputs(
    lay: Layout, progress: Progress | None = None, known: dict[str, str] | None = None, stop: threading.Event | None = None,
) -> dict[str, str]:
    """Every file's oid, hashing those whose oid is not known yet (archive path -> oid), and the
    manifest (`lay.manifest`). `known` may vouch for some (the stat cache); the read-back after
    writing checks them all the same."""
    out: dict[str, str] = {}
    buf = bytearray(CHUNK)
    for f in lay.files:
        oid = f.oid or (known or {}).get(f.path)
        if oid is not None:
            out[f.path] = oid
            continue
        with f.open() as src:
            oid, size = _hash(src, progress, buf, stop)
        if size != f.size:
            raise FilerError(f"{f.shown or f.path} changed while it was read ({f.size} bytes, then {size}); pack again once it is written")
        out[f.path] = oid
    lay.manifest = _manifest(lay, out)
    return out


def _manifest(lay: Layout, oids: dict[str, str]) -> bytes:
    return PackManifest(
        [ManifestFile(f.path, oids[f.path], f.size, f.executable) for f in lay.files], [m.path for m in lay.members if m.kind == "dir"],
    ).encode()


def _manifest_member(lay: Layout) -> bytes:
    """The archive's first member whole: header, the manifest, zero padding to a block."""
    return _header(MANIFEST_NAME, "file", len(lay.manifest)) + lay.manifest + tarfile.NUL * (-len(lay.manifest) % tarfile.BLOCKSIZE)


def _manifest_member_size(lay: Layout) -> int:
    """The length of `_manifest_member` before any file is hashed: an oid is `sha256:` and 64
    hex digits whatever the bytes, so the manifest's length, and its header, are known already."""
    size = len(_manifest(lay, {f.path: OID_PREFIX + "0" * 64 for f in lay.files}))
    return len(_header(MANIFEST_NAME, "file", size)) + size + -size % tarfile.BLOCKSIZE


def _compressor(compression: str, level: int | None, raw: BinaryIO) -> BinaryIO:
    if compression == "gzip":
        assert level is not None
        return cast(BinaryIO, gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=raw, mtime=0))
    if compression == "bz2":
        return cast(BinaryIO, bz2.BZ2File(raw, "wb", compresslevel=level or 9))
    if compression == "xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, "wb", preset=level))
    if compression == "zstd":
        zstandard = tarsafe.import_zstandard()
        # Multi-threaded: jobs are cut at sizes the level fixes, whatever the count of workers.
        compressor = zstandard.ZstdCompressor(level=level, threads=ZSTD_WORKERS)
        return cast(BinaryIO, compressor.stream_writer(raw, closefd=False, write_size=CHUNK))
    return raw


# A zstd archive is two frames: the manifest member stored (raw blocks, so the frame's length
# follows from the manifest's length alone), then everything else compressed. The second frame
# is written first, beside a gap of exactly the first frame's length, while the inputs are
# still being hashed for the manifest; the first frame fills the gap once they are. Any zstd
# reader reads concatenated frames as one stream (RFC 8878), so the tar stream is the same.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_FRAME_HEADER = _ZSTD_MAGIC + bytes([0x00, 0x38])  # no content size, no checksum; window 128 KiB (exponent 7)
_ZSTD_BLOCK = 128 << 10


def _stored_zstd_frame(data: bytes) -> bytes:
    out = bytearray(_ZSTD_FRAME_HEADER)
    for at in range(0, len(data), _ZSTD_BLOCK):
        piece = data[at:at + _ZSTD_BLOCK]
        last = at + _ZSTD_BLOCK >= len(data)
        out += (len(piece) << 3 | last).to_bytes(3, "little")  # block type 0: raw
        out += piece
    return bytes(out)


def _stored_zstd_frame_size(n: int) -> int:
    return len(_ZSTD_FRAME_HEADER) + 3 * -(-n // _ZSTD_BLOCK) + n


def _header(path: str, kind: str, size: int = 0, executable: bool = False) -> bytes:
    """A member's header as tarfile writes it in a pax archive (a pax record first when a name
    or size needs one)."""
    return _info(path, kind, size, executable).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _end_of_archive(offset: int) -> bytes:
    """Two zero blocks, then zeros up to a whole record, as tarfile ends an archive."""
    end = tarfile.BLOCKSIZE * 2
    return tarfile.NUL * (end + -(offset + end) % tarfile.RECORDSIZE)


def _info(path: str, kind: str, size: int = 0, executable: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE if kind == "dir" else tarfile.REGTYPE
    info.size = size
    info.mode = DIR_MODE if kind == "dir" else (EXEC_MODE if executable else FILE_MODE)
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Stopped(Exception):
    """Another thread of the write failed; its error is the one to report."""


class _Tail:
    """How far the archive file is written; readers of the growing file wait on it."""

    def __init__(self, end: int) -> None:
        self.cond = threading.Condition()
        self.end = end
        self.done = False

    def wrote(self, n: int) -> None:
        with self.cond:
            self.end += n
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def past(self, pos: int) -> int:
        """How many bytes are written beyond `pos`, waiting for some; 0 once the writer is done."""
        with self.cond:
            while self.end <= pos and not self.done:
                self.cond.wait()
            return max(self.end - pos, 0)


class _Sink:
    """The archive file as the compressor writes it: buffered, and announced to the readers
    once the bytes are in the file."""

    def __init__(self, raw: BinaryIO, tail: _Tail) -> None:
        self.raw = raw
        self.tail = tail
        self.size = 0
        self.buf = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = len(data)
        if not self.buf and n >= CHUNK:  # zstd hands over whole CHUNKs: no copy into the buffer
            self._put(data)
            return n
        self.buf += data
        if len(self.buf) >= CHUNK:
            self.flush()
        return n

    def flush(self) -> None:
        if self.buf:
            self._put(self.buf)
            self.buf = bytearray()

    def _put(self, data: bytes | bytearray | memoryview) -> None:
        # An unbuffered write may write less than asked (a disk filling up: the rest fails on
        # the next call, with ENOSPC); announcing bytes that are not in the file would let the
        # read-back report a truncated archive instead of the full disk.
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                done += self.raw.write(view[done:]) or 0
            self.size += len(view)
            self.tail.wrote(len(view))

    def tell(self) -> int:
        return self.size + len(self.buf)


class _Follow:
    """A reader of the file being written, from `pos` on: a read waits for bytes the writer has
    announced, and returns nothing only once the writer is done. The read-back runs on one in a
    thread of its own, behind the writer, so decompressing and hashing the archive again costs
    another core instead of another pass. With `digest`, every byte read is hashed: the
    archive's own digest, from the bytes as the file returns them."""

    def __init__(self, path: str, tail: _Tail, pos: int, *, digest: bool) -> None:
        # Unbuffered: a buffered reader would read ahead into bytes the writer has not announced yet.
        self.f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.f.seek(pos)
        self.tail = tail
        self.pos = pos
        self.h = hashlib.sha256() if digest else None

    def read(self, n: int = -1) -> bytes:
        avail = self.tail.past(self.pos)
        if not avail:
            return b""
        data = self.f.read(avail if n is None or n < 0 else min(n, avail)) or b""
        self._took(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
        avail = self.tail.past(self.pos)
        if not avail:
            return 0
        with memoryview(b) as view:
            n = self.f.readinto(view[:avail]) or 0
            self._took(view[:n])
        return n

    def _took(self, data: bytes | memoryview) -> None:
        self.pos += len(data)
        if self.h is not None:
            self.h.update(data)

    def drain(self) -> None:
        """Read to the end (for the digest)."""
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass

    def close(self) -> None:
        self.f.close()


class _Digests:
    """The input digests the read-back compares members with. With zstd they are still being
    computed while the archive is written: a member read back before its digest is known is
    compared once it is (`settle`)."""

    def __init__(self, lay: Layout, oids: dict[str, str] | None, stop: threading.Event) -> None:
        self.shown = {f.path: f.shown or f.path for f in lay.files}
        self.oids = oids if oids is not None else {}
        self.ready = threading.Event()
        if oids is not None:
            self.ready.set()
        self.stop = stop
        self.pending: list[tuple[str, str]] = []

    def known(self, oids: dict[str, str]) -> None:
        self.oids = oids
        self.ready.set()

    def check(self, path: str, oid: str, where: str) -> None:
        if not self.ready.is_set():
            self.pending.append((path, oid))
            return
        meant = self.oids[path]
        if oid != meant:
            raise IntegrityError(
                f"{self.shown[path]} reads back from {where} as {oid}, not {meant}: it changed while it was packed, or the disk returned other bytes; "
                "the archive was not kept", path=path,
            )

    def settle(self, where: str) -> None:
        while not self.ready.wait(0.05):
            if self.stop.is_set():
                raise _Stopped()
        if self.stop.is_set():
            raise _Stopped()
        for path, oid in self.pending:
            self.check(path, oid, where)
        self.pending = []


@dataclass
class Written:
    archive_bytes: int
    sha256: str
    oids: dict[str, str] = field(default_factory=dict)  # archive path -> oid of every input


def hashes_while_writing(compression: str) -> bool:
    """True when `write` hashes the inputs itself, alongside writing (zstd); else the caller
    hashes them first (`digest_inputs`) and passes their oids."""
    return compression == "zstd"


def write(
    output: str, lay: Layout, oids: dict[str, str] | None = None, *, compression: str, level: int | None,
    progress: Progress | None = None, known: dict[str, str] | None = None,
) -> Written:
    """Write the archive to a temp file beside `output` while a second thread reads it back and
    checks it against what was meant (`verify`); only an archive that read back whole and right
    is renamed over `output` (an existing one is replaced whole). An input that changed since it
    was hashed shows up there as a member with another digest. `oids`: every input's digest,
    from `digest_inputs`; without them they are computed here (`known` may vouch for some),
    alongside the writing for zstd, before it otherwise."""
    if oids is None and not hashes_while_writing(compression):
        oids = digest_inputs(lay, None, known)
    if oids is not None and not lay.manifest:
        lay.manifest = _manifest(lay, oids)
    result = Written(0, "")

    def fill(tmp: str) -> None:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "r+b", buffering=0) as raw:
            run = _Run(tmp, raw, lay, oids, output)
            if hashes_while_writing(compression):
                run.zstd_front_last(level, progress, known)
            else:
                run.one_stream(compression, level, progress)
            result.archive_bytes, result.sha256, result.oids = run.size, run.sha256, run.digests.oids

    try:
        publish(output, fill)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full(os.path.dirname(output) or ".") from err
        raise
    return result


class _Run:
    """One archive being written: the writer in this thread, the checks in others; the first
    failure stops them all and is the one raised."""

    def __init__(self, tmp: str, raw: BinaryIO, lay: Layout, oids: dict[str, str] | None, where: str) -> None:
        self.tmp = tmp
        self.raw = raw
        self.lay = lay
        self.where = where
        self.stop = threading.Event()
        self.failed: list[BaseException] = []
        self.digests = _Digests(lay, oids, self.stop)
        self.size = 0
        self.sha256 = ""

    def _thread(self, name: str, work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except _Stopped:
                pass
            except BaseException as err:  # handed to the writer's thread, raised there
                self.failed.append(err)
                self.stop.set()

        t = threading.Thread(target=run, name=f"gitfiler-pack-{name}", daemon=True)
        t.start()
        return t

    def _finish(self, tail: _Tail, threads: list[threading.Thread], write: Callable[[], None]) -> None:
        try:
            write()
        except _Stopped:
            pass
        except BaseException:
            self.stop.set()  # the other threads give up too (a full disk, Ctrl-C)
            raise
        finally:
            tail.finish()
            for t in threads:
                t.join()
        if self.failed:
            raise self.failed[0]

    def one_stream(self, compression: str, level: int | None, progress: Progress | None) -> None:
        """gzip, bz2, xz, none: one compressed stream, the digests known before; one reading
        thread checks it and takes the archive's digest."""
        tail = _Tail(0)
        sink = _Sink(self.raw, tail)
        follow = _Follow(self.tmp, tail, 0, digest=True)

        def read_back() -> None:
            verify(follow, compression, self.lay, self.digests, where=self.where, manifest=True)
            follow.drain()

        try:
            checker = self._thread("verify", read_back)
            self._finish(tail, [checker], lambda: self._write(sink, compression, level, progress, manifest=True))
        finally:
            follow.close()
        self._done(sink.size, [follow.pos], follow)

    def zstd_front_last(self, level: int | None, progress: Progress | None, known: dict[str, str] | None) -> None:
        """zstd: the second frame written here from the end of the gap on; one thread hashes the
        inputs, fills the gap with the first frame and takes the archive's digest from the
        file's start; another reads the second frame back and checks it."""
        front = _stored_zstd_frame_size(_manifest_member_size(self.lay))
        self.raw.seek(front)
        tail = _Tail(front)
        sink = _Sink(self.raw, tail)
        follow = _Follow(self.tmp, tail, front, digest=False)
        whole = _Follow(self.tmp, tail, 0, digest=True)

        def first_frame() -> None:
            if not self.digests.ready.is_set():
                self.digests.known(digest_inputs(self.lay, None, known, self.stop))
            frame = _stored_zstd_frame(_manifest_member(self.lay))
            if len(frame) != front:  # _manifest_member_size disagrees with the manifest: a bug, never a half archive
                raise IntegrityError(f"{self.where}: the manifest takes {len(frame)} bytes, not the {front} set aside; the archive was not kept")
            done = 0
            while done < front:
                done += os.pwrite(self.raw.fileno(), frame[done:], done)
            # Read back from the file (the archive's digest starts here), checked decompressed,
            # then the digest follows the second frame as it is written.
            verify_first_frame(whole, front, self.lay, where=self.where)
            whole.drain()

        def read_back() -> None:
            verify(follow, "zstd", self.lay, self.digests, where=self.where, manifest=False)
            follow.drain()
            self.digests.settle(self.where)

        try:
            threads = [self._thread("manifest", first_frame), self._thread("verify", read_back)]
            self._finish(tail, threads, lambda: self._write(sink, "zstd", level, progress, manifest=False))
        finally:
            follow.close()
            whole.close()
        self._done(front + sink.size, [follow.pos, whole.pos], whole)

    def _write(self, sink: _Sink, compression: str, level: int | None, progress: Progress | None, *, manifest: bool) -> None:
        _write_tar(sink, self.lay, compression, level, progress, self.stop, manifest=manifest)
        sink.flush()

    def _done(self, size: int, read: list[int], whole: _Follow) -> None:
        for pos in read:
            if pos != size:
                raise IntegrityError(f"{self.where}: {size} bytes were written but {pos} read back; the archive was not kept")
        assert whole.h is not None
        self.size, self.sha256 = size, OID_PREFIX + whole.h.hexdigest()


def _write_tar(sink: _Sink, lay: Layout, compression: str, level: int | None, progress: Progress | None, stop: threading.Event, *, manifest: bool) -> None:
    """The tar stream through the compressor into `sink`; without `manifest`, all of it but the
    first member (which zstd stores in a frame of its own)."""
    out = cast(BinaryIO, sink)
    comp = _compressor(compression, level, out)
    try:
        if manifest:
            tar = _TarWriter(comp, 0)
            tar.add(_header(MANIFEST_NAME, "file", len(lay.manifest)), len(lay.manifest), io.BytesIO(lay.manifest), None, stop)
        else:
            tar = _TarWriter(comp, _manifest_member_size(lay))
        for m in lay.members:
            if m.input is None:
                tar.add(_header(m.path, "dir"))
                continue
            f = m.input
            with f.open() as src:
                try:
                    tar.add(_header(m.path, "file", f.size, f.executable), f.size, src, progress, stop)
                except _ShortInput:
                    raise FilerError(f"{f.shown or f.path} shrank while it was packed; pack again once it is written") from None
        tar.close()
    finally:
        if comp is not out:
            comp.close()


class _ShortInput(Exception):
    """An input ended before the size its header claims."""


class _TarWriter:
    """The tar stream `tarfile.open(mode="w|", format=PAX_FORMAT)` writes, byte for byte (the
    headers are tarfile's own `tobuf`), with the member data copied straight from the input
    into the compressor through one reused buffer: tarfile's stream layer joins and slices
    every chunk, which costs more than the compression at zstd's speed. `offset`: where in
    the tar stream the first byte written goes (the end of the archive is padded by it)."""

    def __init__(self, out: BinaryIO, offset: int) -> None:
        self.out = out
        self.offset = offset
        self.buf = bytearray(CHUNK)

    def add(self, header: bytes, size: int = 0, src: IO[bytes] | None = None, progress: Progress | None = None, stop: threading.Event | None = None) -> None:
        self.out.write(header)
        self.offset += len(header)
        if src is None or size == 0:
            return
        readinto = getattr(src, "readinto", None)
        view = memoryview(self.buf)
        left = size
        while left:
            if stop is not None and stop.is_set():
                raise _Stopped()
            want = min(CHUNK, left)
            if readinto is not None:
                n = readinto(view[:want])
                piece: bytes | memoryview = view[:n]
            else:
                piece = src.read(want)
                n = len(piece)
            if not n:
                raise _ShortInput()
            self.out.write(piece)
            left -= n
            if progress is not None:
                progress(n)
        pad = -size % tarfile.BLOCKSIZE
        if pad:
            self.out.write(tarfile.NUL * pad)
        self.offset += size + pad

    def close(self) -> None:
        end = _end_of_archive(self.offset)
        self.out.write(end)
        self.offset += len(end)


# -- reading back ----------------------------------------------------------------------------------------------


def verify(stream: _Follow, compression: str, lay: Layout, digests: _Digests, *, where: str, manifest: bool) -> None:
    """Decompress the archive as it is being written and compare it with the tar stream that
    was meant: every header (pax records included) byte for byte, every member's data by its
    digest (the manifest against itself), the zero padding, the end blocks, and nothing after
    them. Stricter than parsing the archive back (a parser forgives bytes it skips) and cheaper:
    the data is hashed in place in one reused buffer. Without `manifest`, the stream starts
    after the first member (zstd's second frame)."""
    raw = cast(BinaryIO, stream)
    src = tarsafe.decompressor("tar" if compression == "none" else compression, raw)
    back = _ReadBack(cast(_ReadsInto, src), where)
    try:
        if manifest:
            back.expect(_header(MANIFEST_NAME, "file", len(lay.manifest)), MANIFEST_NAME)
            oid = back.digest(MANIFEST_NAME, len(lay.manifest))
            if oid != OID_PREFIX + hashlib.sha256(lay.manifest).hexdigest():
                raise IntegrityError(f"{where}: {MANIFEST_NAME} reads back as other bytes than were written; the archive was not kept", path=MANIFEST_NAME)
        else:
            back.offset = _manifest_member_size(lay)
        for m in lay.members:
            f = m.input
            back.expect(_header(m.path, m.kind, f.size if f else 0, f.executable if f else False), m.path)
            if f is not None:
                digests.check(m.path, back.digest(m.path, f.size), where)
        back.expect(_end_of_archive(back.offset), "the end of the archive")
        if not back.at_end():
            raise IntegrityError(f"{where}: more bytes read back than were written; the archive was not kept")
    except Exception as err:
        if isinstance(err, (FilerError, _Stopped)) or not tarsafe.is_damage(err):
            raise
        raise IntegrityError(f"{where} does not decompress as it was written ({err}); the archive was not kept") from None
    finally:
        if src is not raw:
            src.close()


def verify_first_frame(stream: _Follow, size: int, lay: Layout, *, where: str) -> None:
    """zstd's first frame, read back from the file: it must decompress to the manifest member."""
    zstandard = tarsafe.import_zstandard()
    frame = bytearray()
    while len(frame) < size:
        piece = stream.read(size - len(frame))
        if not piece:
            raise IntegrityError(f"{where} ends early when read back, in its first frame; the archive was not kept")
        frame += piece
    try:
        member = zstandard.ZstdDecompressor().decompressobj().decompress(bytes(frame))
    except zstandard.ZstdError as err:
        raise IntegrityError(f"{where}: the first frame does not decompress ({err}); the archive was not kept") from None
    if member != _manifest_member(lay):
        raise IntegrityError(f"{where}: {MANIFEST_NAME} reads back as other bytes than were written; the archive was not kept", path=MANIFEST_NAME)


class _ReadsInto(Protocol):
    def readinto(self, b: memoryview, /) -> int | None: ...


class _ReadBack:
    """The decompressed archive, consumed in order: fixed bytes compared, data hashed in place."""

    def __init__(self, src: _ReadsInto, where: str) -> None:
        self.src = src
        self.where = where
        self.buf = bytearray(CHUNK)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.offset = 0  # in the tar stream

    def _fill(self, what: str) -> None:
        n = self.src.readinto(self.view)
        if not n:
            raise IntegrityError(f"{self.where} ends early when read back, at {what}; the archive was not kept", path=what)
        self.start, self.end = 0, n

    def expect(self, data: bytes, what: str) -> None:
        at = 0
        while at < len(data):
            if self.start == self.end:
                self._fill(what)
            k = min(len(data) - at, self.end - self.start)
            if self.view[self.start:self.start + k] != data[at:at + k]:
                raise IntegrityError(f"{self.where}: {what} reads back other than it was written; the archive was not kept", path=what)
            self.start += k
            at += k
        self.offset += len(data)

    def digest(self, path: str, size: int) -> str:
        """The digest of the next `size` bytes, a member's data; then its zero padding."""
        h = hashlib.sha256()
        left = size
        while left:
            if self.start == self.end:
                self._fill(path)
            k = min(left, self.end - self.start)
            h.update(self.view[self.start:self.start + k])
            self.start += k
            left -= k
        self.offset += size
        self.expect(tarfile.NUL * (-size % tarfile.BLOCKSIZE), path)
        return OID_PREFIX + h.hexdigest()

    def at_end(self) -> bool:
        return self.start == self.end and not self.src.readinto(self.view)


@dataclass
class Unpacked:
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    verified: bool = False
    manifest: bool = False


def unpack(
    archive: str, dest: str, *, verify: bool | None, limits: tarsafe.Limits | None = None, progress: Progress | None = None, where: str | None = None,
) -> Unpacked:
    """Extract `archive` into `dest` (empty or absent) whole or not at all: into a staging
    directory beside it, moved into place at the end. With `verify`, every member must be one
    the embedded manifest lists, with its size, executable bit and digest, and none may be
    missing; an archive without a manifest is refused. `verify=None`: check the manifest when
    there is one."""
    dest = os.path.abspath(dest)
    if os.path.lexists(dest):
        if os.path.islink(dest) or not os.path.isdir(dest):
            raise FilerError(f"{dest} exists and is not a directory; unpack into an empty or new directory")
        if os.listdir(dest):
            raise FilerError(f"{dest} is not empty; unpack into an empty or new directory")
    parent = os.path.dirname(dest)
    made = make_parents(parent)
    out = Unpacked()
    try:
        staging = temp_name_beside(dest)
        os.mkdir(staging, 0o755)
    except BaseException:
        remove_made(made)
        raise
    try:
        with tarsafe.open_archive(archive, limits, where=where) as reader:
            _extract(reader, staging, out, verify, progress)
        os.chmod(staging, 0o755)
        if not os.path.lexists(dest):
            os.rename(staging, dest)
        else:
            for name in sorted(os.listdir(staging)):
                os.rename(os.path.join(staging, name), os.path.join(dest, name))
            os.rmdir(staging)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        remove_made(made)
        if isinstance(err, OSError) and is_disk_full(err):
            raise disk_full(parent) from err
        raise
    return out


def make_parents(directory: str) -> list[str]:
    """Create `directory` and the directories above it that are missing; returns those it
    created, deepest first, for `remove_made` when the work that needed them fails."""
    made: list[str] = []
    d = os.path.abspath(directory)
    while not os.path.lexists(d):
        made.append(d)
        d = os.path.dirname(d)
    os.makedirs(directory, exist_ok=True)
    return made


def remove_made(made: list[str]) -> None:
    """Remove again the directories `make_parents` created, if they are still empty: a failed
    command leaves the file system as it found it."""
    for d in made:
        try:
            os.rmdir(d)
        except OSError:
            return


def _extract(reader: tarsafe.Reader, staging: str, out: Unpacked, verify: bool | None, progress: Progress | None) -> None:
    tree = TreeFS(os.path.realpath(staging))
    wanted: dict[str, ManifestFile | None] | None = None
    first = True
    for member, info in reader:
        if first and member.path == MANIFEST_NAME and member.kind == "file":
            data = tarsafe.read_small(reader, info, MAX_MANIFEST_BYTES)
            manifest = PackManifest.decode(data, reader.where)
            wanted = {f.path: f for f in manifest.files} | dict.fromkeys(manifest.dirs)
            out.manifest = True
            out.verified = verify is not False
            tree.publish(MANIFEST_NAME, _bytes_fill(data))
            out.files += 1
            first = False
            continue
        if first and verify:
            raise FilerError(f"{reader.where} has no {MANIFEST_NAME} as its first member; it cannot be verified (unpack it without --verify)")
        first = False
        expect: ManifestFile | None = None
        if wanted is not None and out.verified:
            if member.path not in wanted:
                raise IntegrityError(f"{reader.where}: {member.path} is not in the archive's manifest; nothing was unpacked", path=member.path)
            expect = wanted.pop(member.path)
            if (expect is None) != (member.kind == "dir"):
                raise IntegrityError(f"{reader.where}: {member.path} is a {member.kind} in the archive but not in its manifest; nothing was unpacked", path=member.path)
            if expect is not None and (expect.size != member.size or expect.exec != member.executable):
                raise IntegrityError(f"{reader.where}: {member.path} does not match the manifest's size or executable bit; nothing was unpacked", path=member.path)
        if member.kind == "dir":
            tree.makedirs(member.path)
            os.chmod(tree.abspath(member.path), DIR_MODE)
            out.dirs += 1
            continue
        oid = tarsafe.write_member(reader, tree, member, info, progress)
        if expect is not None and oid != expect.oid:
            raise IntegrityError(f"{reader.where}: {member.path} does not match its digest in the manifest (corrupt); nothing was unpacked", oid=oid, path=member.path)
        out.files += 1
        out.bytes += member.size
    if first and verify:
        raise FilerError(f"{reader.where} is empty; there is nothing to verify")
    if wanted and out.verified:
        missing = sorted(wanted)[0]
        raise IntegrityError(f"{reader.where}: {missing} is in the manifest but not in the archive ({len(wanted)} missing); nothing was unpacked", path=missing)


def _bytes_fill(data: bytes) -> Callable[[str], None]:
    def fill(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, FILE_MODE)

    return fill


def check_zstd(compression: str) -> None:
    """Fail early, before any work, when zstd is asked for and the package is missing."""
    if compression == "zstd":
        tarsafe.import_zstandard()

