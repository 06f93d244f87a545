"""Content-defined chunking of large files, and the chunk index that lists a file's chunks.

A file at or above CHUNK_THRESHOLD is cut by FastCDC into chunks of MIN_SIZE..MAX_SIZE bytes
(AVG_SIZE on average); each chunk is an ordinary object named by the SHA-256 of its bytes. The
file itself is still named by the SHA-256 of all its bytes: a chunk index only says how to
rebuild it, and whoever rebuilds it checks the whole-file digest before trusting the result.

The index is canonical JSON (docs/format.md, "Chunked objects"):

    {"version":1,"oid":"sha256:<file>","size":N,"chunks":[["sha256:<chunk>",size],...]}

Offsets are implicit (cumulative). An index comes from a remote, so it is untrusted: `decode`
is strict and capped (count, sizes, total), and never trusts a number it did not check.

Pure: no files, no I/O beyond the buffers it is handed.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from . import cutpoints
from .errors import IntegrityError

INDEX_VERSION = 1
# Chosen by bench/bench_chunks.py (docs/format.md has the figures): 2 MiB on average keeps a
# 1 GiB file at ~500 requests, small enough chunks that scattered edits move a few percent.
MIN_SIZE = 512 * 1024
AVG_SIZE = 2 * 1024 * 1024
MAX_SIZE = 8 * 1024 * 1024
# Below this a file is never chunked, and goes whole (S3: one PUT, or at most 16 multipart parts).
# The brief's starting point was 16 MiB (objects.BIG_FILE); 128 MiB keeps the whole-object S3 paths
# (multipart upload, ranged download) serving files up to that size, as tests/test_s3.py requires
# of a 70 MiB file. Checkpoints worth deduplicating are mostly far larger; see docs/format.md.
CHUNK_THRESHOLD = 128 * 1024 * 1024
# An index entry is ~85 bytes; at the average chunk size a 1 TiB file's index is ~45 MiB (its worst
# case, `max_chunks`, ~340 MiB). Reads of an index are capped here before it is parsed.
MAX_INDEX_BYTES = 256 * 1024 * 1024
_PREFIX = "sha256:"
_OID = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Chunk:
    oid: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class ChunkIndex:
    oid: str  # the whole file's oid
    size: int  # the whole file's size
    chunks: tuple[Chunk, ...]

    def encode(self) -> bytes:
        doc = {"version": INDEX_VERSION, "oid": self.oid, "size": self.size, "chunks": [[c.oid, c.size] for c in self.chunks]}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    def chunk_oids(self) -> list[str]:
        return list(dict.fromkeys(c.oid for c in self.chunks))


def is_chunked_size(size: int) -> bool:
    return size >= CHUNK_THRESHOLD


def index_relpath(oid: str) -> str:
    """Where a file's index lives below a store or remote root (keyed by the FILE's oid)."""
    if not _OID.match(oid):
        raise IntegrityError(f"{oid!r} is not an object id")
    h = oid[len(_PREFIX):]
    return f"chunks/sha256/{h[:2]}/{h[2:]}"


def oid_of_index_relpath(rel: str) -> str | None:
    """Strict inverse of `index_relpath`; None for anything else (temp files, junk)."""
    parts = rel.split("/")
    if len(parts) != 4 or parts[0] != "chunks" or parts[1] != "sha256" or len(parts[2]) != 2:
        return None
    oid = _PREFIX + parts[2] + parts[3]
    return oid if _OID.match(oid) else None


def max_chunks(size: int) -> int:
    # Chunks are at least MIN_SIZE but the last of each span (`segments`), and spans are at
    # least MIN_SIZE: at most two chunks per MIN_SIZE bytes.
    return 2 * (size // MIN_SIZE) + 1


def index_cap(size: int) -> int:
    """The most bytes an index of a `size`-byte file can take (an entry is ~85 bytes): what a
    reader reads at most, so a hostile remote cannot make it hold 256 MiB per file."""
    return min(MAX_INDEX_BYTES, 128 * max_chunks(size) + 256)


def decode(data: bytes, oid: str, size: int | None = None, *, where: str = "chunk index") -> ChunkIndex:
    """Parse an index strictly: it must describe `oid` (of `size` bytes, when declared), in at
    most `max_chunks(size)` chunks, each 1..MAX_SIZE bytes, summing to the size exactly."""

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{where} for {oid} is corrupt ({why}); refusing it", oid=oid)

    cap = MAX_INDEX_BYTES if size is None else index_cap(size)
    if len(data) > cap:
        raise bad(f"larger than {cap} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise bad("not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"version", "oid", "size", "chunks"}:
        raise bad("expected exactly the keys version, oid, size, chunks")
    if doc["version"] != INDEX_VERSION or isinstance(doc["version"], bool):
        raise bad(f"unsupported version {doc['version']!r}; this gitfiler reads version {INDEX_VERSION}")
    if doc["oid"] != oid:
        raise bad(f"it describes {doc['oid']!r}")
    total = doc["size"]
    if not isinstance(total, int) or isinstance(total, bool) or total < 0 or (size is not None and total != size):
        raise bad(f"size {total!r} where {size} was declared")
    listed = doc["chunks"]
    if not isinstance(listed, list) or len(listed) > max_chunks(total):
        raise bad(f"more than {max_chunks(total)} chunks, or not a list")
    out: list[Chunk] = []
    offset = 0
    for item in listed:
        if not isinstance(item, list) or len(item) != 2:
            raise bad("a chunk is not [oid, size]")
        c_oid, c_size = item
        if not isinstance(c_oid, str) or not _OID.match(c_oid):
            raise bad(f"chunk id {c_oid!r}")
        if not isinstance(c_size, int) or isinstance(c_size, bool) or not 0 < c_size <= MAX_SIZE:
            raise bad(f"chunk size {c_size!r} (1..{MAX_SIZE})")
        out.append(Chunk(c_oid, offset, c_size))
        offset += c_size
        if offset > total:
            raise bad("chunks add up to more than the size")
    if offset != total:
        raise bad(f"chunks add up to {offset} bytes, not {total}")
    return ChunkIndex(oid, total, tuple(out))


def cut(buf: bytes | bytearray | memoryview) -> Iterator[tuple[int, int]]:
    """(offset, length) of each content-defined chunk of `buf`, cut also where the file's own
    layout starts a part (`cutpoints`: a tensor, a zip member). The bounds are read at each call,
    so a benchmark may try other sizes."""
    from pyfastcdc import FastCDC

    cdc = FastCDC(avg_size=AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)
    view = memoryview(buf)
    for start, end in segments(len(view), cutpoints.of(view)):
        for c in cdc.cut_buf(view[start:end]):
            yield start + c.offset, c.length


def segments(size: int, points: list[int]) -> list[tuple[int, int]]:
    """[start, end) spans of `size` bytes split at those sorted `points` that leave every span at
    least MIN_SIZE long: small parts (a bias, a header) ride with their neighbours, so the chunk
    count stays within `max_chunks` (each span adds at most one short chunk, its last)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for p in points:
        if p - start >= MIN_SIZE and size - p >= MIN_SIZE:
            spans.append((start, p))
            start = p
    spans.append((start, size))
    return spans


def chunk_buffer(buf: bytes | bytearray | memoryview) -> list[Chunk]:
    """The chunks of `buf` with their digests."""
    view = memoryview(buf)
    return [Chunk(_PREFIX + hashlib.sha256(view[o:o + n]).hexdigest(), o, n) for o, n in cut(buf)]


def hash_and_chunk(buf: bytes | bytearray | memoryview) -> tuple[str, ChunkIndex]:
    """The whole-buffer oid and its chunk index in one pass over memory (typically an mmap of
    the file just copied into the cache). The whole-file digest runs on a second thread
    (hashlib releases the GIL), so on two cores this costs about one SHA-256 pass, not two."""
    view = memoryview(buf)
    whole: list[str] = []

    def digest() -> None:
        whole.append(_PREFIX + hashlib.sha256(view).hexdigest())

    worker = threading.Thread(target=digest, name="gitfiler-hash")
    worker.start()
    try:
        chunks = chunk_buffer(view)
    finally:
        worker.join()
    return whole[0], ChunkIndex(whole[0], len(view), tuple(chunks))


def verify_chunk(oid: str, data: bytes | memoryview) -> bool:
    return _PREFIX + hashlib.sha256(data).hexdigest() == oid
