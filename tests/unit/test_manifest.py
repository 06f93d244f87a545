"""Directory manifests: canonical JSON that decodes back to the entries it was made from, and
strict refusal of anything else (docs/format.md, Directory manifests)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler.errors import RegistryError
from gitfiler.manifest import ManifestEntry, decode, encode

from .support import UNIT, is_safe_path

OID = "sha256:" + "b" * 64
WHERE = "data.filer (manifest)"


_safe = is_safe_path


segments = st.one_of(
    st.sampled_from(["a", "b.csv", "é", "日本", "a b", "new\nline", "yes", "1", "~", ".hidden", "x" * 60]),
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=8),
).filter(lambda s: "/" not in s)
paths = st.lists(segments, min_size=1, max_size=3).map("/".join).filter(_safe)
oids = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())
manifest_entries = st.builds(ManifestEntry, path=paths, oid=oids, size=st.integers(0, 2**70), exec=st.booleans())


def _no_parent_conflicts(entries: list[ManifestEntry]) -> bool:
    names = {e.path for e in entries}
    return not any(e.path.startswith(other + "/") for e in entries for other in names)


valid_lists = st.lists(manifest_entries, max_size=8, unique_by=lambda e: e.path).filter(_no_parent_conflicts)


def _doc(*entries: Any, version: Any = 1) -> bytes:
    return json.dumps({"version": version, "entries": list(entries)}).encode()


def _entry(**changes: Any) -> dict[str, Any]:
    return {"path": "a", "oid": OID, "size": 1, "exec": False, **changes}


@UNIT
@given(valid_lists)
def test_encode_then_decode_gives_back_the_entries_sorted_by_path(entries: list[ManifestEntry]) -> None:
    assert decode(encode(entries), WHERE) == sorted(entries, key=lambda e: e.path)


@UNIT
@given(valid_lists, st.randoms(use_true_random=False))
def test_encode_does_not_depend_on_the_order_of_entries(entries: list[ManifestEntry], rnd: Any) -> None:
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert encode(shuffled) == encode(entries)


@UNIT
@given(valid_lists)
def test_encode_is_compact_sorted_utf8_without_a_trailing_newline(entries: list[ManifestEntry]) -> None:
    data = encode(entries)
    doc = json.loads(data)
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert not data.endswith(b"\n")


def test_encode_keeps_non_ascii_readable() -> None:
    assert "é".encode() in encode([ManifestEntry("é", OID, 1)])


def test_encode_orders_paths_by_code_point() -> None:
    data = encode([ManifestEntry("b", OID, 1), ManifestEntry("B", OID, 1), ManifestEntry("a/z", OID, 1), ManifestEntry("a-", OID, 1)])
    assert [e["path"] for e in json.loads(data)["entries"]] == ["B", "a-", "a/z", "b"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"[]", "exactly 'version' and 'entries'"),
        (b'{"version":1}', "exactly 'version' and 'entries'"),
        (b'{"version":1,"entries":[],"x":1}', "exactly 'version' and 'entries'"),
        (_doc(version=2), "unsupported manifest version 2"),
        (_doc(version=True), "unsupported manifest version True"),
        (b'{"version":1,"entries":{}}', "'entries' must be a list"),
        (_doc({"path": "a", "oid": OID, "size": 1}), "must have exactly the keys"),
        (_doc(_entry(mode=1)), "must have exactly the keys"),
        (_doc("a"), "must have exactly the keys"),
        (b'{"version":1,"entries":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_decode_refuses_a_malformed_manifest(data: bytes, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem) as err:
        decode(data, WHERE)
    assert str(err.value).startswith(WHERE + ":")


@pytest.mark.parametrize("path", ["", "/abs", "../up", "a/../b", "a//b", "./a", "a/", ".git/config", "x/.GIT/y", "C:x", "a\\b", "a\x00b", 1, None])
def test_decode_refuses_an_unsafe_path(path: Any) -> None:
    with pytest.raises(RegistryError, match="manifest entry path"):
        decode(_doc(_entry(path=path)), WHERE)


@pytest.mark.parametrize("oid", ["", "sha256:" + "B" * 64, "sha256:" + "b" * 63, "md5:" + "b" * 32, 7, None])
def test_decode_refuses_a_bad_oid(oid: Any) -> None:
    with pytest.raises(RegistryError, match="bad oid"):
        decode(_doc(_entry(oid=oid)), WHERE)


@pytest.mark.parametrize("size", [-1, 1.0, "1", True, None, [1]])
def test_decode_refuses_a_size_that_is_not_a_non_negative_integer(size: Any) -> None:
    with pytest.raises(RegistryError, match="bad size"):
        decode(_doc(_entry(size=size)), WHERE)


@pytest.mark.parametrize("exe", [0, 1, "true", None])
def test_decode_refuses_an_exec_flag_that_is_not_a_boolean(exe: Any) -> None:
    with pytest.raises(RegistryError, match="non-boolean 'exec'"):
        decode(_doc(_entry(exec=exe)), WHERE)


def test_decode_refuses_a_path_listed_twice() -> None:
    with pytest.raises(RegistryError, match="lists 'a' twice"):
        decode(_doc(_entry(), _entry(size=2)), WHERE)


@pytest.mark.parametrize("below", ["a/b", "a/b/c"])
def test_decode_refuses_a_file_with_entries_below_it(below: str) -> None:
    with pytest.raises(RegistryError, match="both a file 'a' and an entry below it"):
        decode(_doc(_entry(), _entry(path=below)), WHERE)


def test_decode_accepts_siblings_that_share_a_prefix() -> None:
    assert [e.path for e in decode(_doc(_entry(path="a"), _entry(path="ab/c"), _entry(path="a-b")), WHERE)] == ["a", "ab/c", "a-b"]


def test_decode_refuses_an_integer_of_thousands_of_digits_with_a_typed_error() -> None:
    with pytest.raises(RegistryError):
        decode(b'{"version":1,"entries":[{"path":"a","oid":"' + OID.encode() + b'","size":' + b"9" * 5000 + b',"exec":false}]}', WHERE)
