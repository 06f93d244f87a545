"""Where a model file's own layout says its parts begin: the tensor boundaries of a safetensors
file, the members of a zip archive (PyTorch's `torch.save`, NumPy's `.npz`).

Content-defined chunking resynchronises after an edit, but the chunks on either side of a
changed tensor still change with it. A fine-tuned checkpoint changes a tenth of its tensors,
each of them 1-8 MiB, about the size of a chunk: cutting at the tensors' own boundaries keeps
an unchanged tensor's chunks unchanged whatever happened to its neighbours (bench_chunks.py's
safetensors-like workload: 23% of the file uploaded without these cuts).

The points are a hint to the writer only: a chunk index lists its chunks explicitly, and a
reader never looks here. The bytes are untrusted (a pulled object is chunked as it is stored),
so each parser reads only what its format's header declares, within `MAX_LAYOUT_BYTES`, and
gives up silently (no points) on anything it does not expect.

Pure: no files, no I/O beyond the buffer it is handed.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

# A safetensors header or a zip central directory larger than this is not followed: parsing is
# then bounded to a few tens of MiB of memory, and the largest public checkpoints' headers are a
# few hundred KiB.
MAX_LAYOUT_BYTES = 4 * 1024 * 1024

Buffer = bytes | bytearray | memoryview


def of(buf: Buffer) -> list[int]:
    """Sorted offsets strictly inside `buf` where a part of the file begins; [] when the format
    is not one known here or its header is not as expected."""
    view = memoryview(buf)
    for parse in _PARSERS:
        points = parse(view)
        if points:
            return sorted(p for p in set(points) if 0 < p < len(view))
    return []


def _safetensors(view: memoryview) -> list[int]:
    # 8 bytes of little-endian header length, a JSON object, then the tensors' bytes; each tensor
    # names its [begin, end) within the bytes after the header.
    if len(view) < 10:
        return []
    (length,) = struct.unpack_from("<Q", view, 0)
    if not 2 <= length <= MAX_LAYOUT_BYTES or 8 + length > len(view) or view[8] != ord("{"):
        return []
    try:
        header = json.loads(bytes(view[8:8 + length]))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    if not isinstance(header, dict):
        return []
    base = 8 + length
    points = [base]
    for name, tensor in header.items():
        if name == "__metadata__" or not isinstance(tensor, dict):
            continue
        span = tensor.get("data_offsets")
        if not isinstance(span, list) or len(span) != 2:
            continue
        for offset in span:
            if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= len(view) - base:
                points.append(base + offset)
    return points


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory entry, before its name
_CAP32 = 0xFFFFFFFF


def _zip(view: memoryview) -> list[int]:
    # The central directory, found from the end record, lists each member's local header offset.
    size = len(view)
    tail_start = max(0, size - _EOCD.size - 0xFFFF)
    at = bytes(view[tail_start:]).rfind(b"PK\x05\x06")
    if at < 0 or tail_start + at + _EOCD.size > size:
        return []
    eocd = tail_start + at
    _sig, _disk, _cd_disk, _here, count, cd_size, cd_offset, _comment = _EOCD.unpack_from(view, eocd)
    if _CAP32 in (cd_size, cd_offset) or count == 0xFFFF:
        located = eocd - _ZIP64_LOCATOR.size
        if located < 0:
            return []
        sig, _d, z64_at, _n = _ZIP64_LOCATOR.unpack_from(view, located)
        if sig != b"PK\x06\x07" or z64_at + _ZIP64_EOCD.size > located:
            return []
        fields = _ZIP64_EOCD.unpack_from(view, z64_at)
        if fields[0] != b"PK\x06\x06":
            return []
        count, cd_size, cd_offset = fields[7], fields[8], fields[9]
    if cd_size > MAX_LAYOUT_BYTES or cd_offset + cd_size > eocd:
        return []
    points: list[int] = []
    pos, end = cd_offset, cd_offset + cd_size
    while pos + _CENTRAL.size <= end and len(points) < count:
        entry = _CENTRAL.unpack_from(view, pos)
        if entry[0] != b"PK\x01\x02":
            return []
        name_len, extra_len, comment_len = entry[10], entry[11], entry[12]
        offset = entry[16]
        extra_at = pos + _CENTRAL.size + name_len
        if offset == _CAP32:
            offset = _zip64_offset(view, extra_at, min(extra_at + extra_len, end), entry)
        if offset is not None and offset < cd_offset:
            points.append(offset)
        pos = extra_at + extra_len + comment_len
    return points


def _zip64_offset(view: memoryview, pos: int, end: int, entry: tuple[object, ...]) -> int | None:
    # The zip64 extra field holds, in order, only those of (size, compressed size, offset) whose
    # 32-bit field is all ones.
    while pos + 4 <= end:
        tag, length = struct.unpack_from("<2H", view, pos)
        if tag == 1:
            skip = 8 * ((entry[9] == _CAP32) + (entry[8] == _CAP32))
            if pos + 4 + skip + 8 <= min(end, pos + 4 + length):
                (offset,) = struct.unpack_from("<Q", view, pos + 4 + skip)
                return int(offset)
            return None
        pos += 4 + length
    return None


_PARSERS: tuple[Callable[[memoryview], list[int]], ...] = (_safetensors, _zip)
