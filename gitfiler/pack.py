"""The `model.tar.gz` that SageMaker-style hosts serve: model files at the root, inference code
under `code/`, and `gitfiler-manifest.json` (every file's path, oid, size and executable bit),
written reproducibly and read back before it is kept. See docs/packaging.md.

Reproducible: the same inputs give the same bytes. Members come in a fixed order (the manifest
first, then the model's directories and files sorted by path component by component, then
`code` and what lies below it, sorted the same way); every member has mtime 0 (1970-01-01, no
clock in the archive), uid and gid 0, no user or group name, mode 0644 (0755 for directories and
executable files); the tar format is POSIX pax; the gzip header carries neither a time nor a
file name; compression runs single-threaded at a fixed level.

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
from typing import IO, BinaryIO, cast

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


def _hash(f: IO[bytes], progress: Progress | None) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(CHUNK):
        h.update(chunk)
        n += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return OID_PREFIX + h.hexdigest(), n


def digest_inputs(lay: Layout, progress: Progress | None = None, known: dict[str, str] | None = None) -> dict[str, str]:
    """Every file's oid, hashing those whose oid is not known yet (archive path -> oid). `known`
    may vouch for some (the stat cache); the read-back after writing checks them all the same."""
    out: dict[str, str] = {}
    for f in lay.files:
        oid = f.oid or (known or {}).get(f.path)
        if oid is not None:
            out[f.path] = oid
            continue
        with f.open() as src:
            oid, size = _hash(src, progress)
        if size != f.size:
            raise FilerError(f"{f.shown or f.path} changed while it was read ({f.size} bytes, then {size}); pack again once it is written")
        out[f.path] = oid
    lay.manifest = PackManifest(
        [ManifestFile(f.path, out[f.path], f.size, f.executable) for f in lay.files], [m.path for m in lay.members if m.kind == "dir"],
    ).encode()
    return out


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
        return cast(BinaryIO, zstandard.ZstdCompressor(level=level).stream_writer(raw, closefd=False))
    return raw


def _info(path: str, kind: str, size: int = 0, executable: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE if kind == "dir" else tarfile.REGTYPE
    info.size = size
    info.mode = DIR_MODE if kind == "dir" else (EXEC_MODE if executable else FILE_MODE)
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _Source:
    """An input as tarfile's copy pulls it, in chunks: reports progress, and stops the write
    as soon as the read-back has failed (no point finishing an archive that will not be kept)."""

    def __init__(self, f: IO[bytes], progress: Progress | None, stop: threading.Event) -> None:
        self.f = f
        self.progress = progress
        self.stop = stop

    def read(self, n: int = -1) -> bytes:
        if self.stop.is_set():
            raise _Stopped()
        chunk = self.f.read(n)
        if self.progress is not None and chunk:
            self.progress(len(chunk))
        return chunk


class _Stopped(Exception):
    """The read-back failed; its error is the one to report."""


class _Sink:
    """The archive file as the compressor writes it: buffered, and announced to `_Follow` once
    the bytes are in the file."""

    def __init__(self, raw: BinaryIO, follow: _Follow) -> None:
        self.raw = raw
        self.follow = follow
        self.size = 0
        self.buf = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buf += data
        if len(self.buf) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            # An unbuffered write may write less than asked (a disk filling up: the rest fails on
            # the next call, with ENOSPC); announcing bytes that are not in the file would let the
            # read-back report a truncated archive instead of the full disk.
            with memoryview(self.buf) as view:
                done = 0
                while done < len(view):
                    done += self.raw.write(view[done:]) or 0
            self.size += len(self.buf)
            self.follow.wrote(len(self.buf))
            self.buf = bytearray()

    def tell(self) -> int:
        return self.size + len(self.buf)


class _Follow:
    """A reader of a file that is still being written: `read` waits for bytes the writer has
    announced, and returns b"" only once the writer is done. The read-back runs on it in a
    thread of its own, one file behind the writer, so decompressing and hashing the archive
    again costs a second core instead of a second pass."""

    def __init__(self, path: str) -> None:
        # Unbuffered: a buffered reader would read ahead into bytes the writer has not announced yet.
        self.f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.h = hashlib.sha256()  # the archive's own digest, from the bytes read back
        self.cond = threading.Condition()
        self.written = 0
        self.pos = 0
        self.done = False

    def wrote(self, n: int) -> None:
        with self.cond:
            self.written += n
            self.cond.notify()

    def finish(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify()

    def read(self, n: int = -1) -> bytes:
        with self.cond:
            while self.pos >= self.written and not self.done:
                self.cond.wait()
            avail = self.written - self.pos
        if avail <= 0:
            return b""
        data = self.f.read(avail if n is None or n < 0 else min(n, avail)) or b""
        self.pos += len(data)
        self.h.update(data)
        return data

    def drain(self) -> None:
        """Read what the reader above left unread (tar's zero padding), for the digest."""
        while self.read(CHUNK):
            pass

    def close(self) -> None:
        self.f.close()


@dataclass
class Written:
    archive_bytes: int
    sha256: str


def write(output: str, lay: Layout, oids: dict[str, str], *, compression: str, level: int | None, progress: Progress | None = None) -> Written:
    """Write the archive to a temp file beside `output` while a second thread reads it back and
    checks every member against `oids` (and the manifest against itself); only an archive that
    read back whole and right is renamed over `output` (an existing one is replaced whole). An
    input that changed since it was hashed shows up there as a member with another digest."""
    result = Written(0, "")

    def fill(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        stop = threading.Event()
        failed: list[BaseException] = []
        with os.fdopen(fd, "wb", buffering=0) as raw:
            follow = _Follow(tmp)
            sink = _Sink(cast(BinaryIO, raw), follow)

            def read_back() -> None:
                try:
                    verify(follow, compression, lay, oids, where=output)
                    follow.drain()
                except BaseException as err:  # handed to the writer's thread, raised there
                    failed.append(err)
                    stop.set()

            checker = threading.Thread(target=read_back, name="gitfiler-pack-verify", daemon=True)
            checker.start()
            try:
                _write_tar(cast(BinaryIO, sink), lay, compression, level, progress, stop)
                sink.flush()
            except _Stopped:
                pass
            finally:
                follow.finish()
                checker.join()
                follow.close()
            if failed:
                raise failed[0]
        if follow.pos != sink.size:
            raise IntegrityError(f"{output}: {sink.size} bytes were written but {follow.pos} read back; the archive was not kept")
        result.sha256, result.archive_bytes = OID_PREFIX + follow.h.hexdigest(), sink.size

    try:
        publish(output, fill)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full(os.path.dirname(output) or ".") from err
        raise
    return result


def _write_tar(sink: BinaryIO, lay: Layout, compression: str, level: int | None, progress: Progress | None, stop: threading.Event) -> None:
    comp = _compressor(compression, level, sink)
    try:
        with tarfile.open(fileobj=comp, mode="w|", bufsize=CHUNK, format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
            tf.copybufsize = CHUNK  # type: ignore[attr-defined]  # tarfile's default 16 KiB pieces cost more in Python than the compression does
            tf.addfile(_info(MANIFEST_NAME, "file", len(lay.manifest)), io.BytesIO(lay.manifest))
            for m in lay.members:
                if m.input is None:
                    tf.addfile(_info(m.path, "dir"))
                    continue
                f = m.input
                with f.open() as src:
                    try:
                        tf.addfile(_info(m.path, "file", f.size, f.executable), _Source(src, progress, stop))  # type: ignore[arg-type,unused-ignore]
                    except OSError as err:  # tarfile's "unexpected end of data" is an OSError without an errno
                        if err.errno is not None:
                            raise
                        raise FilerError(f"{f.shown or f.path} shrank while it was packed; pack again once it is written") from None
    finally:
        if comp is not sink:
            comp.close()


# -- reading back ----------------------------------------------------------------------------------------------


def verify(stream: _Follow, compression: str, lay: Layout, oids: dict[str, str], *, where: str) -> None:
    """Read the archive being written and check it member by member against what was meant."""
    expected = iter([(MANIFEST_NAME, "file")] + [(m.path, m.kind) for m in lay.members])
    manifest_oid = OID_PREFIX + hashlib.sha256(lay.manifest).hexdigest()
    kind = "tar" if compression == "none" else compression
    with tarsafe.read_stream(cast(BinaryIO, stream), kind, where) as reader:
        for member, info in reader:
            want = next(expected, None)
            if want != (member.path, member.kind):
                raise IntegrityError(f"{where}: read back {member.path!r} where {want[0] if want else 'the end'!r} was written; the archive was not kept", path=member.path)
            if member.kind == "dir":
                continue
            with reader.open(info) as src:
                oid, _ = _hash(src, None)
            meant = manifest_oid if member.path == MANIFEST_NAME else oids[member.path]
            if oid != meant:
                shown = next((m.input.shown for m in lay.members if m.path == member.path and m.input is not None), member.path)
                raise IntegrityError(
                    f"{shown or member.path} reads back from {where} as {oid}, not {meant}: it changed while it was packed, or the disk returned other bytes; "
                    "the archive was not kept", path=member.path,
                )
    left = next(expected, None)
    if left is not None:
        raise IntegrityError(f"{where}: {left[0]} is missing when the archive is read back; it was not kept", path=left[0])


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

