"""Layout cut points (gitfiler/cutpoints.py): where a safetensors file's tensors and a zip
archive's members begin, read only from what their headers declare; any other bytes, and any
header that is not as expected, give no points and no error."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import struct
import zipfile

from hypothesis import given
from hypothesis import strategies as st

from gitfiler import chunks, cutpoints
from gitfiler.chunks import MIN_SIZE, hash_and_chunk, segments

from .support import UNIT

MIB = 1024 * 1024


def _safetensors(tensors: list[bytes], meta: dict[str, str]) -> bytes:
    header: dict[str, object] = {"__metadata__": meta}
    offset = 0
    for i, t in enumerate(tensors):
        header[f"layer.{i}.weight"] = {"dtype": "F32", "shape": [len(t) // 4], "data_offsets": [offset, offset + len(t)]}
        offset += len(t)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"".join(tensors)


def _tensors(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, 3) * MIB) for _ in range(count)]


def test_a_safetensors_file_is_cut_where_each_tensor_begins():
    tensors = [b"a" * 8, b"b" * 16, b"c" * 4]
    data = _safetensors(tensors, {"format": "pt"})
    base = len(data) - 28
    assert cutpoints.of(data) == [base, base + 8, base + 24]


def test_a_zip_archive_is_cut_where_each_member_begins():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for i in range(5):
            zf.writestr(f"archive/data/{i}", bytes([i]) * (1000 + i))
    data = out.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        starts = sorted(info.header_offset for info in zf.infolist())
    assert cutpoints.of(data) == [s for s in starts if s > 0]


def test_a_zip64_member_offset_is_read_from_its_extra_field():
    # A central directory entry whose 32-bit offset is all ones keeps the real one in the zip64
    # extra field (tag 1), after the sizes that are all ones too.
    name = b"archive/data/0"
    extra = struct.pack("<2HQQ", 1, 16, 5000, 1234)  # uncompressed size, then the offset
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, 0, 7, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
    body = b"\0" * 6000
    cd = entry + name + extra
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    assert cutpoints.of(body + cd + eocd) == [1234]


def test_other_bytes_and_malformed_headers_give_no_points():
    rng = random.Random(3)
    good = _safetensors([b"x" * 8, b"y" * 8], {})
    for data in [b"", b"\0" * 100, rng.randbytes(100_000), b"PK\x05\x06", good[:20], struct.pack("<Q", 2**40) + b"{}",
                 struct.pack("<Q", 4) + b"[1] " + b"x" * 10, struct.pack("<Q", 2) + b"{}"]:
        assert cutpoints.of(data) == []


def test_a_header_larger_than_the_cap_is_not_parsed():
    huge = struct.pack("<Q", cutpoints.MAX_LAYOUT_BYTES + 2) + b"{" + b" " * cutpoints.MAX_LAYOUT_BYTES + b"}" + b"x" * 8
    assert cutpoints.of(huge) == []


@UNIT
@given(st.binary(max_size=2000))
def test_any_bytes_give_sorted_points_strictly_inside(data: bytes):
    points = cutpoints.of(data)
    assert points == sorted(set(points)) and all(0 < p < len(data) for p in points)


@UNIT
@given(st.data())
def test_a_damaged_layout_header_never_raises(draw: st.DataObject):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a", b"1" * 50)
        zf.writestr("b", b"2" * 50)
    for good in (bytearray(_safetensors([b"x" * 8, b"y" * 8], {"k": "v"})), bytearray(out.getvalue())):
        for _ in range(draw.draw(st.integers(1, 8))):
            at = draw.draw(st.integers(0, len(good) - 1))
            good[at] = draw.draw(st.integers(0, 255))
        points = cutpoints.of(bytes(good))
        assert all(0 < p < len(good) for p in points)


@UNIT
@given(st.integers(0, 40 * MIB), st.lists(st.integers(0, 40 * MIB), max_size=200))
def test_segments_cover_the_file_and_none_is_shorter_than_a_chunk(size: int, points: list[int]):
    spans = segments(size, sorted(set(points)))
    assert spans[0][0] == 0 and spans[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(end - start >= MIN_SIZE for start, end in spans) or len(spans) == 1


def test_a_changed_tensor_leaves_every_other_tensors_chunks_unchanged():
    tensors = _tensors(12, seed=5)
    v1 = _safetensors(tensors, {"step": "1"})
    tensors[6] = random.Random(9).randbytes(len(tensors[6]))
    v2 = _safetensors(tensors, {"step": "2", "note": "a longer header shifts every offset"})
    before = {c.oid for c in hash_and_chunk(v1)[1].chunks}
    new = [c for c in hash_and_chunk(v2)[1].chunks if c.oid not in before]
    changed = len(tensors[6])
    first = len(v2) - sum(len(t) for t in tensors) + len(tensors[0])  # the header rides with tensor 0
    assert sum(c.size for c in new) <= changed + first


@UNIT
@given(st.lists(st.integers(1, 8192), min_size=1, max_size=100), st.integers(0, 2**32))
def test_cuts_at_any_tensor_layout_stay_within_the_chunk_count_readers_accept(sizes: list[int], seed: int):
    # Small bounds (read at each call) so that a property can try many layouts: spans just over
    # the minimum each end in a short chunk, which `max_chunks` must allow for.
    rng = random.Random(seed)
    data = _safetensors([rng.randbytes(n) for n in sizes], {})
    saved = chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE
    chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE = 1024, 4096, 16384
    try:
        cuts = list(chunks.cut(data))
        assert [o for o, _n in cuts] == [sum(n for _o, n in cuts[:i]) for i in range(len(cuts))]
        assert sum(n for _o, n in cuts) == len(data)
        assert len(cuts) <= chunks.max_chunks(len(data))
    finally:
        chunks.MIN_SIZE, chunks.AVG_SIZE, chunks.MAX_SIZE = saved


def test_a_file_cut_at_every_tensor_has_an_index_readers_accept():
    rng = random.Random(11)
    tensors = [rng.randbytes(MIN_SIZE + 4096) for _ in range(40)]
    data = _safetensors(tensors, {})
    whole, index = hash_and_chunk(data)
    assert len(index.chunks) >= 40
    assert chunks.decode(index.encode(), whole, len(data)) == index
    assert whole == "sha256:" + hashlib.sha256(data).hexdigest()
