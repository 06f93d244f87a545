"""Registry files: the fast line parser never disagrees with the strict YAML reading, and the
canonical encoding reads back as the entry it was written from (docs/format.md, Registry files)."""

from __future__ import annotations

import dataclasses
import datetime
import random
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gitfiler import registry
from gitfiler.errors import RegistryError, UnsafePathError
from gitfiler.registry import Entry

from .support import UNIT, is_safe_path, typed

OID = "sha256:" + "a" * 64
REG = "models/x.bin.filer"

# -- entries ------------------------------------------------------------------------------------------

# Names the fast parser takes as they are: they start a letter or '_' and hold no YAML syntax.
plain_segments = st.from_regex(r"[A-Za-z_][A-Za-z0-9._-]{0,12}", fullmatch=True).filter(lambda s: s.lower() not in registry._YAML_WORDS)
# Names YAML would misread unquoted, or that need quoting, escaping or a fallback to the escaped encoding.
TRICKY = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "Null", "NULL", "~", "0x10", "0o10", "010", "1e3", "1.0", "+1", "-1",
    "1_000", ".inf", ".nan", "2001-12-14", "a b", " lead", "trail ", "tab\tin", "new\nline", "cr\rx", "a: b", "a #b", "#x", "- x", "? x",
    "&x", "*x", "!x", "%x", "@x", "`x", "'", '"', "[x]", "{x}", ",", "é", "日本語", "e\u0301", "\u2028", "\u2029", "\x85", "\xa0",
    "\xa0x\xa0", "\ufeff", "\x1b[31m", "\x7f", "-", "--", "...", "...x", ".hidden", "a" * 120,
]


def _valid_segment(s: str) -> bool:
    return bool(s) and "/" not in s and "\\" not in s and "\x00" not in s and s not in (".", "..") and s.lower() != ".git"


any_segments = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=10).filter(_valid_segment)
_safe = is_safe_path


segments = st.one_of(plain_segments, st.sampled_from(TRICKY), any_segments)
paths = st.lists(segments, min_size=1, max_size=4).map("/".join).filter(_safe)  # 'a: b' first is a drive letter
plain_paths = st.lists(plain_segments, min_size=1, max_size=4).map("/".join)
oids = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())
sizes = st.one_of(st.integers(0, 10**18 - 1), st.integers(0, 2**80))

meta_text = st.one_of(st.sampled_from(TRICKY), st.text(st.characters(blacklist_categories=["Cs"]), max_size=12))
meta_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), meta_text,
    st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)),
)
meta_values = st.recursive(meta_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(meta_text, inner, max_size=3), max_leaves=10)
metas = st.dictionaries(meta_text, meta_values, max_size=4)


@st.composite
def entries(draw: st.DrawFn, path: st.SearchStrategy[str] = paths, size: st.SearchStrategy[int] = sizes, meta: bool = True) -> Entry:
    kind = draw(st.sampled_from(["file", "dir"]))
    return Entry(
        registry=draw(st.sampled_from([REG, "x.filer", "a b/é.filer", "deep/er/than/that.filer"])),
        path=draw(path),
        kind=kind,
        oid=draw(oids),
        size=draw(size),
        files=draw(st.integers(0, 10**6)) if kind == "dir" else None,
        meta=draw(metas) if meta and draw(st.booleans()) else {},
    )


# -- registry-like texts: canonical ones, then edited by hand ------------------------------------------

ODD_SCALARS = [
    "yes", "no", "Yes", "NO", "on", "off", "y", "n", "true", "False", "null", "Null", "~", "", "0x10", "0o10", "010", "00", "-0", "+1",
    "1e3", "1.0", "1_000", ".inf", ".nan", "'1'", '"1"', "'file'", '"dir"', "'yes'", "!!int 1", "!!str 1", "!!str file", "2001-12-14",
    "1 # one", "1#one", "[1]", "{a: 1}", "&a 1", "*a", "|\n  1", "sha256:" + "A" * 64, "SHA256:" + "a" * 64, "File", "dir ", "file\t",
    "a\u2028b", "é", "\ufeff1", "1\xa0", "\uff11", "9" * 19, "9" * 40,
]


def _blocks(text: str) -> list[list[str]]:
    """Top-level `key: value` lines, each with the indented lines below it (meta's body)."""
    blocks: list[list[str]] = []
    for line in text.removesuffix("\n").split("\n"):
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _edit(kind: str, blocks: list[list[str]], rnd: random.Random, odd: str) -> None:
    """One hand edit of the kind a user, a merge tool or an editor makes (in place)."""
    i = rnd.randrange(len(blocks))
    key, _, value = blocks[i][0].partition(": ")
    if kind == "reorder":
        rnd.shuffle(blocks)
    elif kind == "odd_scalar" and value:
        blocks[i][0] = f"{key}: {odd}"
    elif kind == "quote" and value:
        blocks[i][0] = f"{key}: " + rnd.choice([f"'{value}'", f'"{value}"'])
    elif kind == "duplicate":
        blocks.insert(rnd.randrange(len(blocks) + 1), list(blocks[i]))
    elif kind == "drop" and len(blocks) > 1:
        del blocks[i]
    elif kind == "trailing_space":
        blocks[i][-1] += rnd.choice([" ", "  ", "\t", " \t"])
    elif kind == "tab":
        blocks[i][0] = blocks[i][0].replace(": ", rnd.choice([":\t", "\t: ", ": \t", ":"]), 1)
    elif kind == "indent":
        blocks[i][0] = rnd.choice([" ", "  ", "\t"]) + blocks[i][0]
    elif kind == "comment":
        if rnd.random() < 0.5:
            blocks.insert(rnd.randrange(len(blocks) + 1), [rnd.choice(["# note", "#", "  # indented"])])
        else:
            blocks[i][0] += rnd.choice([" # note", "# glued", " #"])
    elif kind == "key_case":
        blocks[i][0] = blocks[i][0][:1].upper() + blocks[i][0][1:]
    elif kind == "extra_key":
        blocks.insert(rnd.randrange(len(blocks) + 1), [rnd.choice(["files: 3", "meta: {}", "meta:", "note: x", "version: 1", "size: 0"])])
    elif kind == "unicode":
        blocks[i][0] = blocks[i][0].replace(" ", rnd.choice(["\xa0", "\u3000", " \u200b"]), 1) if rnd.random() < 0.5 else blocks[i][0] + "é"


EDITS = ["reorder", "odd_scalar", "quote", "duplicate", "drop", "trailing_space", "tab", "indent", "comment", "key_case", "extra_key", "unicode"]


@st.composite
def registry_texts(draw: st.DrawFn) -> str:
    """The canonical bytes of a random entry, then up to three hand edits, a line ending and a file
    start or end of the kinds editors produce. About a third stay canonical."""
    entry = draw(entries(st.one_of(plain_paths, paths)))
    blocks = _blocks(registry.dumps(entry).decode("utf-8"))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for kind in draw(st.lists(st.sampled_from(EDITS), max_size=3)):
        _edit(kind, blocks, rnd, draw(st.sampled_from(ODD_SCALARS)))
    newline = draw(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r", "\x85", "\u2028"]))
    text = newline.join(line for block in blocks for line in block)
    start = draw(st.sampled_from(["", "", "", "\ufeff", "---\n", "%YAML 1.1\n---\n", "\n"]))
    end = draw(st.sampled_from([newline, newline, newline, "", newline * 2, newline + "...\n", newline + "---\n"]))
    return start + text + end


def _outcome(read: Any) -> Any:
    try:
        return ("entry", typed(read()))
    except (RegistryError, UnsafePathError) as err:
        return ("refused", str(err))


def _yaml_reading(data: bytes) -> Entry:
    return registry.from_mapping(registry.parse_yaml(data, REG), REG)


CANONICAL = f"version: 1\npath: a.bin\nkind: file\noid: {OID}\nsize: 1\n"


# -- the fast parser and the YAML parser --------------------------------------------------------------


@UNIT
@given(registry_texts())
@example(CANONICAL)
@example(CANONICAL.replace("a.bin", "yes"))
@example(CANONICAL.replace("a.bin", "Null"))
@example(CANONICAL.replace("size: 1", "size: 010"))
@example(CANONICAL.replace("size: 1", "size: 0x10"))
@example(CANONICAL.replace("size: 1", "size: 1e3"))
@example(CANONICAL.replace("version: 1", "version: ~"))
@example(CANONICAL.replace("kind: file", "kind: on"))
@example(CANONICAL + "size: 1\n")
@example(CANONICAL.replace("\n", "\r\n"))
@example(CANONICAL.replace("size: 1", "size: 1 "))
@example(CANONICAL.replace("size: 1", "size:\t1"))
@example(CANONICAL.replace("size: 1", "size: 1 # bytes"))
@example(CANONICAL.removesuffix("\n"))
@example(CANONICAL.replace("version: 1", "version: 2"))
@example(CANONICAL.replace("size: 1\n", ""))
@example(CANONICAL + "files: 3\n")
@example(CANONICAL.replace("kind: file", "kind: link"))
@example(CANONICAL.replace("a.bin", "a.bin "))
@example(CANONICAL.replace("a.bin", "a.bin # note"))
@example(CANONICAL.replace("a.bin", "a b"))
def test_fast_parser_agrees_with_yaml_on_every_registry_text(text: str) -> None:
    data = text.encode("utf-8")
    fast, strict = _outcome(lambda: registry.loads(data, REG)), _outcome(lambda: _yaml_reading(data))
    assert fast == strict, f"loads() gives {fast!r}\nthe YAML reading gives {strict!r}\nfor {text!r}"


@UNIT
@given(registry_texts())
@example(CANONICAL.replace("a.bin", "a.bin "))
@example(CANONICAL.replace("a.bin", "a.bin\t"))
@example(CANONICAL.replace("size: 1", "size: 1 "))
def test_fast_parser_only_accepts_what_yaml_reads_as_the_same_mapping(text: str) -> None:
    doc = registry._fast_parse(text)
    if doc is None:
        return
    assert typed(doc) == typed(registry.parse_yaml(text.encode("utf-8"), REG)), f"the fast parser misreads {text!r} as {doc!r}"


@UNIT
@given(entries(plain_paths, st.integers(0, 10**18 - 1), meta=False))
def test_canonical_text_without_meta_takes_the_fast_path(entry: Entry) -> None:
    # pre-push reads thousands of these; the YAML parser must not be needed for the common case.
    assert registry._fast_parse(registry.dumps(entry).decode("utf-8")) is not None


@pytest.mark.parametrize("word", sorted(registry._YAML_WORDS | {"Yes", "NO", "True", "Off", "NULL"}))
def test_fast_parser_leaves_yaml_booleans_and_null_to_yaml(word: str) -> None:
    assert registry._fast_parse(CANONICAL.replace("a.bin", word)) is None


# -- the canonical encoding ---------------------------------------------------------------------------


@UNIT
@given(entries())
@example(Entry(REG, "yes", "file", OID, 0))
@example(Entry(REG, "new\nline/\u2028/\xa0", "dir", OID, 2**70, files=0, meta={"k": {"nested": [1, "1", True, None, 1.5]}}))
def test_dumps_then_loads_gives_back_the_same_entry(entry: Entry) -> None:
    again = registry.loads(registry.dumps(entry), entry.registry)
    assert typed(again) == typed(entry)
    assert again.artifact == entry.artifact


@UNIT
@given(entries())
def test_dumps_is_stable_across_a_round_trip(entry: Entry) -> None:
    data = registry.dumps(entry)
    assert registry.dumps(registry.loads(data, entry.registry)) == data


@UNIT
@given(entries())
def test_dumps_writes_keys_in_canonical_order_with_lf_and_a_final_newline(entry: Entry) -> None:
    text = registry.dumps(entry).decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    keys = [line.partition(":")[0] for line in text.split("\n") if line and not line.startswith(" ")]
    want = ["version", "path", "kind", "oid", "size"] + (["files"] if entry.kind == "dir" else []) + (["meta"] if entry.meta else [])
    assert keys == want


@UNIT
@given(entries(meta=False), metas.filter(bool))
def test_dumps_writes_meta_last_as_a_block_indented_by_two(entry: Entry, meta: dict[str, Any]) -> None:
    text = registry.dumps(dataclasses.replace(entry, meta=meta)).decode("utf-8")
    head, sep, body = text.partition("\nmeta:\n")
    assert sep and "meta" not in [line.partition(":")[0] for line in head.split("\n")]
    assert body and all(line.startswith("  ") for line in body.removesuffix("\n").split("\n"))


def test_dumps_sorts_meta_keys() -> None:
    text = registry.dumps(Entry(REG, "a", "file", OID, 1, meta={"b": 1, "a": {"z": 1, "y": 2}})).decode("utf-8")
    assert text.endswith("meta:\n  a:\n    y: 2\n    z: 1\n  b: 1\n")


def test_dumps_quotes_a_path_yaml_would_misread() -> None:
    text = registry.dumps(Entry(REG, "true", "file", OID, 1)).decode("utf-8")
    assert re.search(r"^path: ['\"]true['\"]$", text, re.M)


# -- errors -------------------------------------------------------------------------------------------


@UNIT
@given(registry_texts())
def test_every_refusal_names_the_registry_file(text: str) -> None:
    try:
        registry.loads(text.encode("utf-8"), REG)
    except (RegistryError, UnsafePathError) as err:
        assert str(err).startswith(REG + ":")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (CANONICAL.replace("version: 1", "version: 2"), "unsupported schema version 2"),
        (CANONICAL.replace("a.bin", "../a.bin"), "not normalised"),
        (CANONICAL.replace("a.bin", "/etc/passwd"), "absolute"),
        (CANONICAL.replace("a.bin", ".git/config"), "inside .git"),
        (CANONICAL.replace("kind: file", "kind: link"), "'kind' must be one of"),
        (CANONICAL.replace(OID, OID.upper()), "bad 'oid'"),
        (CANONICAL.replace("size: 1", "size: -1"), "'size' must be a non-negative integer"),
        (CANONICAL + "files: 1\n", "'files' is only allowed for kind 'dir'"),
        (CANONICAL.replace("kind: file", "kind: dir"), "'files' must be a non-negative integer"),
        (CANONICAL + "extra: 1\n", "unknown keys ['extra']"),
        (CANONICAL + "meta: [1]\n", "'meta' must be a mapping"),
        (CANONICAL + "size: 2\n", "duplicate"),
        (CANONICAL + "meta:\n  a: &x 1\n  b: *x\n", "aliases"),
        ("- just\n- a list\n", "expected a YAML mapping"),
    ],
)
def test_loads_refuses_a_malformed_registry_file_saying_why(text: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=re.escape(problem)):
        registry.loads(text.encode("utf-8"), REG)


def test_loads_refuses_a_file_larger_than_the_cap_without_parsing_it() -> None:
    data = CANONICAL.encode() + b"#" * registry.MAX_REGISTRY_BYTES
    with pytest.raises(RegistryError, match="larger than"):
        registry.loads(data, REG)


def test_loads_refuses_bytes_that_are_not_utf8() -> None:
    with pytest.raises(RegistryError, match="not valid YAML"):
        registry.loads(CANONICAL.encode() + b"meta:\n  a: \xff\n", REG)


# -- names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [("a.filer", True), ("d/a.bin.filer", True), (".filer", False), ("d/.filer", False), ("a.filer.bak", False)])
def test_is_registry_file_needs_a_name_before_the_suffix(path: str, expected: bool) -> None:
    assert registry.is_registry_file(path) is expected


def test_entry_artifact_is_the_path_joined_to_the_registry_directory() -> None:
    assert Entry("d/e/x.filer", "sub/x.bin", "file", OID, 1).artifact == "d/e/sub/x.bin"
    assert Entry("x.filer", "x.bin", "file", OID, 1).artifact == "x.bin"
