"""Property-based fuzzing of what a hostile repository or remote controls byte for byte
(issue 7, drill 2): registry files, directory manifests and the path checks.

For any input:
- the only exceptions are gitfiler's typed errors (FilerError subclasses): anything else is
  an "internal error" (exit 70) a repository can trigger at will;
- an accepted path never resolves outside the root it is joined to, never names `.git`, and
  is normalised;
- an accepted registry file survives `dumps` -> `loads` unchanged, and an accepted manifest
  survives `encode` -> `decode`;
- the registry's fast path never disagrees with the YAML parser.

Bounded (300 examples a property, no deadline, no example database left in the work tree) so
the whole file takes seconds. A failure prints the smallest input that breaks the property.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import posixpath
import tempfile
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from gitfiler import manifest, registry
from gitfiler.errors import FilerError, UnsafePathError
from gitfiler.paths import check_relative

# Hypothesis keeps caches in ./.hypothesis even without an example database: not in the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), f"gitfiler-hypothesis-{os.getuid()}"))
FUZZ = settings(
    max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
ROOT = "/fake/root"
GOOD_OID = "sha256:" + "a" * 64
HUGE_INT = "9" * 5000  # past Python's int-from-string limit (4300 digits)

# -- hostile building blocks ---------------------------------------------------------------------------

SEGMENTS = [
    "a", "b.bin", "..", ".", "", "...", ".git", ".GIT", ".Git", ".git ", " .git", "git~1", "C:", "c:x", "~", "~root",
    "\\", "..\\..", "a\\b", "\x00", "a\x00b", "\n", "\x1b[31m", " ", "%2e%2e", "\u2025", "\uff0e\uff0e", "e\u0301",
    "\u202e", "\ufeff", "-", "*", "[x]", "?",
]
hostile_paths = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=6)), min_size=1, max_size=6).flatmap(
        lambda parts: st.sampled_from(["/", "\\", "//", "/./", "/../"]).map(lambda sep: sep.join(parts))
    ),
    st.sampled_from(["/", "//x", "/etc/passwd", "../x", "a/../../x", "a/..", "./a", "a/.", "a//b", ".git/hooks/post-checkout",
                     "a/.git/config", "C:\\x", "c:/x", "\\\\server\\share", "a/b/", "x" * 5000]),
)
safe_segments = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/\\."), min_size=1, max_size=8)
registry_names = st.lists(safe_segments, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + ".filer")

# Names that are valid paths but that YAML, a shell or a terminal would read as something else.
TRICKY_NAMES = [
    "true", "yes", "No", "null", "~", "1", "1.0", "0x1", "1e3", ".inf", "2001-12-14", "a: b", "- x", "#c", "&a", "*a", "!x",
    "%x", "@x", "`x", "[x]", "{x}", "'", '"', "?", ",", " lead", "trail ", "tab\tx", "nl\nx", "\u2028", "\ufeff", "é",
    "e\u0301", "\x1b[31m", "-", "--", "...x", ".hidden", "git", ".gitx", "x.git", "a" * 200,
]
valid_segments = st.one_of(
    st.sampled_from(TRICKY_NAMES),
    st.text(min_size=1, max_size=10).filter(lambda t: "/" not in t and "\\" not in t and "\x00" not in t and t not in (".", "..") and t.lower() != ".git"),
)
valid_paths = st.lists(valid_segments, min_size=1, max_size=4).map("/".join)

oids = st.one_of(
    st.just(GOOD_OID),
    st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
    st.sampled_from(["sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "md5:abc", "sha256:../../etc/passwd", "sha256:"]),
    st.text(max_size=80),
)
valid_oids = st.one_of(st.just(GOOD_OID), st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
yaml_scalars = st.one_of(
    json_scalars, hostile_paths, st.sampled_from(TRICKY_NAMES), st.dates(), st.binary(max_size=8), st.integers(min_value=-10**200, max_value=10**200),
)
nested = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
metas = st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(TRICKY_NAMES)), nested, max_size=4)
counts = st.one_of(st.integers(min_value=-3, max_value=10**30), json_scalars)
HOSTILE_VALUES = {
    "version": st.one_of(st.sampled_from([0, 2, -1, True, 1.0, "1"]), json_scalars),
    "path": st.one_of(hostile_paths, json_scalars),
    "kind": st.one_of(st.sampled_from(["File", "directory", "dir ", "../file"]), json_scalars),
    "oid": oids, "size": counts, "files": counts,
    "meta": st.one_of(nested, st.dictionaries(st.integers(), json_scalars, min_size=1, max_size=2)),
    "extra": yaml_scalars,
}

# Raw YAML text a hostile registry file might hold as a value: tags, anchors, flow junk, odd ints.
RAW_YAML = [
    "1", "0", "-1", "01", "0x1", "0o7", "1_000", "+1", "1e3", "1.0", ".inf", "-.inf", ".nan", "~", "null", "true", "yes", "on",
    "'1'", '"1"', "&a 1", "*a", "&a [1, 2]", "!!str 1", "!!int '1'", "!!float 1", "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system", "!!binary aGk=", "!!set {a, b}", "!!omap [a: 1, b: 2]", "!!pairs [a: 1]", "!!timestamp 2001-12-14",
    "2001-12-14", "[", "]", "{", "}", "{a: 1}", "[1, 2]", "{<<: {a: 1}}", "|\n  text", ">\n  text", "'unterminated",
    '"\\x00"', '"\\ud800"', '"\\u202e"', "a: b", "- x", "? x", "%TAG ! x", "---", "...", "\t", "\x00", "\ufeff",
    GOOD_OID, "sha256:" + "A" * 64, "file", "dir", "../x", "/etc/passwd", ".git/config", "a/../../b", HUGE_INT, "-" + HUGE_INT,
]
SCHEMA_KEYS = ["version", "path", "kind", "oid", "size", "files", "meta"]
KEYS = SCHEMA_KEYS + ["unknown", "Version", "path ", " path", "", "meta.x", "<<", "? path"]
raw_values = st.one_of(st.sampled_from(RAW_YAML), st.sampled_from(TRICKY_NAMES), st.text(max_size=30), hostile_paths)
yamlish_lines = st.tuples(
    st.sampled_from(["", "  ", "\t", "- "]), st.sampled_from(KEYS), st.sampled_from([": ", ":", " : ", ":\n  "]), raw_values,
).map("".join)


MUTATIONS = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3])  # half the inputs valid, to exercise what is accepted


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["file", "dir"]))
    doc: dict[str, Any] = {"version": 1, "path": draw(valid_paths), "kind": kind, "oid": draw(valid_oids), "size": draw(st.integers(0, 2**70))}
    if kind == "dir":
        doc["files"] = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        doc["meta"] = draw(metas)
    return doc


@st.composite
def schema_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid registry mapping with up to two fields dropped or given hostile values."""
    doc = draw(valid_documents())
    for _ in range(draw(MUTATIONS)):
        key = draw(st.sampled_from(SCHEMA_KEYS + ["extra"]))
        if key in doc and draw(st.booleans()):
            del doc[key]
        else:
            doc[key] = draw(HOSTILE_VALUES[key])
    return doc


@st.composite
def yamlish_text(draw: st.DrawFn) -> str:
    """Registry-file text written by hand: a valid file's lines with raw (unquoted) values, then up
    to three lines replaced, duplicated, inserted or dropped; LF or CRLF; maybe no last newline."""
    doc = draw(valid_documents())
    if draw(st.booleans()):
        doc["path"] = json.dumps(doc["path"])  # quoted, or raw for YAML to misread
    lines = [f"{k}: {v}" for k, v in doc.items() if k != "meta"]
    if "meta" in doc:
        body = yaml.safe_dump(doc["meta"], allow_unicode=True, width=10**6).splitlines()
        lines += ["meta:"] + [f"  {line}" for line in body]
    for _ in range(draw(MUTATIONS)):
        i = draw(st.integers(0, len(lines)))
        op = draw(st.sampled_from(["replace", "duplicate", "insert", "drop"]))
        if op == "insert" or i == len(lines):
            lines.insert(i, draw(yamlish_lines))
        elif op == "replace":
            lines[i] = lines[i].partition(":")[0] + ": " + draw(raw_values)
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            del lines[i]
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    return nl.join(lines) + (nl if draw(st.integers(0, 9)) else "")


def canonical_start(path: str = "a.bin", kind: str = "file") -> str:
    return f"version: 1\npath: {path}\nkind: {kind}\noid: {GOOD_OID}\nsize: 1\n" + ("files: 1\n" if kind == "dir" else "")


ALIAS_BOMB = canonical_start() + "meta:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
)

# -- the properties' checks ------------------------------------------------------------------------------


def assert_inside(path: str) -> None:
    """An accepted relative path stays below any root it is joined to, and is already normalised."""
    joined = posixpath.normpath(posixpath.join(ROOT, path))
    assert joined.startswith(ROOT + "/"), f"accepted {path!r}, which resolves to {joined!r}, outside {ROOT}"
    assert posixpath.normpath(path) == path, f"accepted {path!r}, which is not normalised"
    assert not any(part.lower() == ".git" for part in path.split("/")), f"accepted {path!r}, which names .git"
    assert "\\" not in path and "\x00" not in path, f"accepted {path!r}, with a backslash or NUL"


def same(a: Any, b: Any, seen: set[tuple[int, int]] | None = None) -> bool:
    """Deep equality where NaN equals NaN and a shared (aliased) node is compared once."""
    if a is b:
        return True
    seen = set() if seen is None else seen
    if (id(a), id(b)) in seen:
        return True
    seen.add((id(a), id(b)))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name), seen) for f in dataclasses.fields(a) if f.compare)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], seen) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, seen) for x, y in zip(a, b, strict=True))
    return a == b


def check_registry(data: bytes, reg: str = "dir/x.bin.filer") -> None:
    try:
        entry = registry.loads(data, reg)
    except FilerError:
        return
    assert_inside(entry.path)
    assert_inside(entry.artifact)
    assert entry.artifact == posixpath.join(posixpath.dirname(reg), entry.path)
    text = registry.dumps(entry)
    again = registry.loads(text, reg)
    assert same(again, entry), f"round trip changed the entry:\n{entry}\n{again}\nvia\n{text!r}"
    assert registry.dumps(again) == text, "the canonical encoding is not stable"


def check_manifest(data: bytes) -> None:
    try:
        entries = manifest.decode(data, "d.filer (manifest)")
    except FilerError:
        return
    paths = [e.path for e in entries]
    for p in paths:
        assert_inside(p)
    assert len(set(paths)) == len(paths), f"accepted a manifest listing a path twice: {paths}"
    as_dirs = {p + "/" for p in paths}
    assert not any(p.startswith(d) for p in paths for d in as_dirs), f"accepted a file with entries below it: {paths}"
    assert manifest.decode(manifest.encode(entries), "again") == sorted(entries, key=lambda e: e.path)


# -- registry files -------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\xff\xfe")
@example(b"\x00" * 64)
@example(ALIAS_BOMB.encode())
@example(("[" * 100_000).encode())
@example(canonical_start().replace("size: 1", f"size: {HUGE_INT}").encode())
def test_registry_loads_arbitrary_bytes_raises_only_typed_errors(data: bytes):
    check_registry(data)


@FUZZ
@given(yamlish_text(), registry_names)
@example(canonical_start() + f"meta:\n  x: 1\nsize: {HUGE_INT}\n", "x.filer")
@example(canonical_start() + "meta:\n  x: !!omap [a: 1, b: 2]\n", "x.filer")
@example(canonical_start() + "meta:\n  x: !!pairs [a: 1]\n", "x.filer")
@example(canonical_start() + "oid: sha256:" + "b" * 64 + "\n", "x.filer")
@example(canonical_start("'true'"), "x.filer")
@example(canonical_start('"a: b"'), "x.filer")
def test_registry_loads_yamlish_text_raises_only_typed_errors_and_round_trips(text: str, reg: str):
    check_registry(text.encode("utf-8"), reg)


@FUZZ
@given(schema_documents(), registry_names)
@example({"version": 1, "path": "\xa0", "kind": "file", "oid": GOOD_OID, "size": 0}, "x.filer")  # found by this test
@example({"version": 1, "path": "a", "kind": "file", "oid": GOOD_OID, "size": 0, "meta": {"\u2028": "\x85"}}, "x.filer")  # idem
def test_registry_loads_schema_shaped_documents_and_round_trips(doc: dict[str, Any], reg: str):
    check_registry(yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"), reg)


@FUZZ
@given(st.one_of(yamlish_text(), schema_documents().map(lambda d: yaml.safe_dump(d, allow_unicode=True))))
@example(canonical_start())
@example(canonical_start("a-b_c.d/e"))
@example(canonical_start("yes"))
@example(canonical_start().replace("size: 1", f"size: {HUGE_INT}"))
def test_registry_fast_path_agrees_with_the_yaml_parser(text: str):
    data = text.encode("utf-8")
    outcomes = []
    for parse in (registry.parse_doc, registry.parse_yaml):
        try:
            outcomes.append(("ok", parse(data, "x.filer")))
        except FilerError:
            outcomes.append(("error", None))
    assert same(outcomes[0], outcomes[1]), f"parse_doc gives {outcomes[0]!r}, the YAML parser {outcomes[1]!r}"


# -- directory manifests ----------------------------------------------------------------------------------------

valid_manifest_entries = st.fixed_dictionaries({"path": valid_paths, "oid": valid_oids, "size": st.integers(0, 2**64), "exec": st.booleans()})
HOSTILE_ENTRY_VALUES = {"path": hostile_paths, "oid": oids, "size": counts, "exec": json_scalars}


@st.composite
def manifest_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest with up to three hostile changes: a field, a missing or extra key, a
    duplicate entry, an entry below another, a bad version, an extra top-level key."""
    entries = draw(st.lists(valid_manifest_entries, max_size=6, unique_by=lambda e: e["path"]))
    doc: dict[str, Any] = {"version": 1, "entries": entries}
    for _ in range(draw(MUTATIONS)):
        change = draw(st.sampled_from(["field", "drop", "extra", "duplicate", "below", "version", "top"]))
        if change in ("field", "drop", "extra", "duplicate", "below") and not entries:
            entries.append(draw(valid_manifest_entries))
        victim = draw(st.sampled_from(entries)) if entries else None
        if change == "field":
            key = draw(st.sampled_from(sorted(HOSTILE_ENTRY_VALUES)))
            victim[key] = draw(HOSTILE_ENTRY_VALUES[key])
        elif change == "drop" and victim:
            del victim[draw(st.sampled_from(sorted(victim)))]
        elif change == "extra":
            victim[draw(st.text(max_size=5))] = draw(json_scalars)
        elif change == "duplicate":
            entries.append(dict(victim))
        elif change == "below":
            entries.append(dict(draw(valid_manifest_entries), path=f"{victim.get('path', 'a')}/{draw(valid_segments)}"))
        elif change == "version":
            doc["version"] = draw(st.one_of(st.sampled_from([0, 2, True, 1.0, "1"]), json_scalars))
        else:
            doc[draw(st.text(max_size=5))] = draw(json_scalars)
    return doc


@FUZZ
@given(st.binary(max_size=2048))
@example(b"[" * 100_000)
@example(b'{"version":1,"entries":' + b"[" * 100_000 + b"]}")
@example(b'{"version":1,"entries":[{"path":"a","oid":"' + GOOD_OID.encode() + b'","size":' + HUGE_INT.encode() + b',"exec":false}]}')
@example(b'{"version":1,"entries":[{"path":"a","oid":"' + GOOD_OID.encode() + b'","size":NaN,"exec":false}]}')
@example(b'{"version":1,"version":1,"entries":[]}')
def test_manifest_decode_arbitrary_bytes_raises_only_typed_errors(data: bytes):
    check_manifest(data)


@FUZZ
@given(manifest_docs())
@example({"version": 1, "entries": [{"path": "a", "oid": GOOD_OID, "size": 1, "exec": False},
                                    {"path": "a/b", "oid": GOOD_OID, "size": 1, "exec": False}]})
@example({"version": 1.0, "entries": []})
def test_manifest_decode_structured_documents_accepts_only_safe_paths(doc: dict[str, Any]):
    check_manifest(json.dumps(doc, allow_nan=True).encode("utf-8"))


# -- path checks -------------------------------------------------------------------------------------------------


@FUZZ
@given(hostile_paths)
@example("..")
@example("a/../..")
@example(".GIT/config")
@example("C:\\x")
@example("a\x00b")
def test_check_relative_never_accepts_a_path_leaving_the_root(path: str):
    try:
        accepted = check_relative(path, "path")
    except FilerError:
        return
    assert accepted == path
    assert_inside(path)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=8), st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_check_relative_refuses_what_is_not_a_string_with_a_typed_error(value: Any):
    try:
        check_relative(value, "path")
    except UnsafePathError:
        return
    raise AssertionError(f"accepted {value!r}")
