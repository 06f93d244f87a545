"""Chunking and chunk indexes (docs/format.md, "Chunked objects"): content-defined cuts that
survive edits, canonical indexes that decode back, strict refusal of anything else."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler import chunks
from gitfiler.chunks import MAX_SIZE, MIN_SIZE, Chunk, ChunkIndex, decode, hash_and_chunk, index_relpath, oid_of_index_relpath
from gitfiler.errors import IntegrityError

from .support import UNIT

FILE = "sha256:" + "f" * 64


def _oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _random(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def test_chunks_cover_the_buffer_within_bounds_and_hash_to_their_names():
    data = _random(24 * 1024 * 1024)
    whole, index = hash_and_chunk(data)
    assert whole == _oid(data) and index.oid == whole and index.size == len(data)
    assert b"".join(data[c.offset:c.end] for c in index.chunks) == data
    assert all(MIN_SIZE <= c.size <= MAX_SIZE for c in index.chunks[:-1])
    assert all(c.oid == _oid(data[c.offset:c.end]) for c in index.chunks)
    assert decode(index.encode(), whole, len(data)) == index


def test_an_edit_in_the_middle_changes_few_chunks():
    data = bytearray(_random(32 * 1024 * 1024))
    before = {c.oid for c in hash_and_chunk(bytes(data))[1].chunks}
    data[16 * 1024 * 1024:16 * 1024 * 1024 + 100] = b"x" * 100
    data[8 * 1024 * 1024:8 * 1024 * 1024] = b"inserted bytes shift everything after them"
    after = hash_and_chunk(bytes(data))[1].chunks
    new = [c for c in after if c.oid not in before]
    assert len(new) <= 4, "content-defined cuts resynchronise after an edit"


def test_index_paths_round_trip_and_refuse_junk():
    assert index_relpath(FILE) == f"chunks/sha256/ff/{'f' * 62}"
    assert oid_of_index_relpath(index_relpath(FILE)) == FILE
    for junk in ["chunks/sha256/ff/x", "objects/sha256/ff/" + "f" * 62, "chunks/sha256/f/" + "f" * 63, "chunks/sha256/ff/.tmp-1"]:
        assert oid_of_index_relpath(junk) is None
    with pytest.raises(IntegrityError):
        index_relpath("sha256:../../etc")


def _doc(**over: Any) -> bytes:
    doc: dict[str, Any] = {"version": 1, "oid": FILE, "size": 3 * MIN_SIZE, "chunks": [["sha256:" + "a" * 64, MIN_SIZE], ["sha256:" + "b" * 64, 2 * MIN_SIZE]]}
    doc.update(over)
    return json.dumps(doc).encode()


def test_a_valid_index_decodes_with_cumulative_offsets():
    index = decode(_doc(), FILE, 3 * MIN_SIZE)
    assert index.chunks == (Chunk("sha256:" + "a" * 64, 0, MIN_SIZE), Chunk("sha256:" + "b" * 64, MIN_SIZE, 2 * MIN_SIZE))


@pytest.mark.parametrize("bad", [
    b"not json", b"[]", _doc(version=2), _doc(version=True), _doc(oid="sha256:" + "0" * 64), _doc(size=-1), _doc(size="3"),
    _doc(size=3 * MIN_SIZE + 1),  # chunks do not add up
    _doc(chunks=[["sha256:" + "a" * 64, 3 * MIN_SIZE + 1]]),  # more than the size
    _doc(chunks=[["sha256:" + "a" * 64, 0], ["sha256:" + "b" * 64, 3 * MIN_SIZE]]),  # empty chunk
    _doc(size=MAX_SIZE + 1, chunks=[["sha256:" + "a" * 64, MAX_SIZE + 1]]),  # over the max chunk size
    _doc(chunks=[["../x", MIN_SIZE], ["sha256:" + "b" * 64, 2 * MIN_SIZE]]),
    _doc(chunks=[["sha256:" + "a" * 64, True], ["sha256:" + "b" * 64, 2 * MIN_SIZE]]),
    _doc(chunks=[["sha256:" + "a" * 64]]), _doc(chunks={}), _doc(extra=1),
    _doc(size=1, chunks=[["sha256:" + "a" * 64, 1]] * 3),  # more chunks than size/min+1 allows
])
def test_malformed_indexes_are_refused(bad: bytes):
    with pytest.raises(IntegrityError):
        decode(bad, FILE)


def test_declared_size_must_match():
    with pytest.raises(IntegrityError):
        decode(_doc(), FILE, 3 * MIN_SIZE + 5)


def test_oversized_index_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(chunks, "MAX_INDEX_BYTES", 10)
    with pytest.raises(IntegrityError, match="larger than"):
        decode(_doc(), FILE)


sizes = st.lists(st.integers(min_value=1, max_value=MAX_SIZE), min_size=0, max_size=40)
digests = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())


@UNIT
@given(st.lists(st.tuples(digests, st.integers(min_value=1, max_value=MAX_SIZE)), max_size=40))
def test_encode_decode_round_trip(items: list[tuple[str, int]]):
    offset = 0
    listed = []
    for oid, size in items:
        listed.append(Chunk(oid, offset, size))
        offset += size
    if len(listed) > chunks.max_chunks(offset):
        return
    index = ChunkIndex(FILE, offset, tuple(listed))
    data = index.encode()
    assert decode(data, FILE, offset) == index
    assert ChunkIndex(FILE, offset, tuple(listed)).encode() == data  # canonical


@UNIT
@given(st.binary(max_size=400))
def test_decode_never_crashes_on_junk(data: bytes):
    try:
        index = decode(data, FILE)
    except IntegrityError:
        return
    assert sum(c.size for c in index.chunks) == index.size


@UNIT
@given(st.integers(min_value=0, max_value=2**40), st.data())
def test_decode_enforces_caps_on_any_accepted_index(size: int, data: st.DataObject):
    count = data.draw(st.integers(min_value=0, max_value=5))
    parts = data.draw(st.lists(st.integers(min_value=-1, max_value=MAX_SIZE + 1), min_size=count, max_size=count))
    doc = {"version": 1, "oid": FILE, "size": size, "chunks": [["sha256:" + "c" * 64, n] for n in parts]}
    try:
        index = decode(json.dumps(doc).encode(), FILE)
    except IntegrityError:
        return
    assert index.size == size == sum(parts)
    assert all(0 < c.size <= MAX_SIZE for c in index.chunks) and len(index.chunks) <= chunks.max_chunks(size)


def test_an_index_larger_than_its_file_could_need_is_refused():
    padded = _doc()[:-1] + b" " * 1000 + b"}"
    assert decode(padded, FILE) is not None  # no declared size: only the global cap applies
    with pytest.raises(IntegrityError, match="larger than"):
        decode(padded, FILE, 3 * MIN_SIZE)
