"""Registry files (`<artifact>.filer`): the small committed record of an artifact.

One canonical encoding: same content, same bytes. Reading validates strictly
and names the file in every error.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import FilerError, RegistryError, UnsafePathError
from .names import REGISTRY_SUFFIX
from .objects import is_oid
from .paths import MAX_PATH_BYTES, check_relative

if TYPE_CHECKING:
    from .treefs import TreeFS

SUFFIX = REGISTRY_SUFFIX
# A path every `check_relative` rule accepts at a glance (ASCII, no part starting with '.', parts of
# at most 255 characters; at most MAX_PATH_BYTES in all is for the caller to check): most paths,
# checked by one regex; anything else goes through check_relative itself.
PLAIN_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}(?:/[A-Za-z0-9_][A-Za-z0-9._+-]{0,254})*")
SCHEMA_VERSION = 1
KINDS = ("file", "dir")
_KEYS = {"version", "path", "kind", "oid", "size", "files", "meta"}


@dataclass
class Entry:
    registry: str  # repo-relative POSIX path of the .filer file
    path: str  # artifact path relative to the registry file's directory
    kind: str
    oid: str
    size: int
    files: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    artifact: str = field(init=False, repr=False, compare=False)  # repo-relative POSIX path of the artifact

    def __post_init__(self) -> None:
        registry, path = self.registry, self.path
        head = registry.rpartition("/")[0]
        if head.endswith("/") or path.startswith("/") or (not head and registry.startswith("/")):
            self.artifact = posixpath.join(posixpath.dirname(registry), path)  # unusual spellings: as posixpath has them
        else:  # the same, without two calls per entry (status builds one for every registry file)
            self.artifact = f"{head}/{path}" if head else path

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact, "registry": self.registry, "kind": self.kind, "oid": self.oid, "size": self.size, "files": self.files, "meta": self.meta,
        }


def registry_path_for(artifact: str) -> str:
    return artifact + SUFFIX


def is_registry_file(path: str) -> bool:
    return path.endswith(SUFFIX) and len(os.path.basename(path)) > len(SUFFIX)


def dumps(entry: Entry) -> bytes:
    """The canonical bytes. Readable UTF-8 where YAML reads it back exactly; where it would not
    (a line or paragraph separator, a non-breaking space at an edge), the escaped form."""
    if not entry.meta and _is_plain(entry.path):
        return _dumps(entry, True)  # nothing in it that YAML could read otherwise: no YAML needed
    for readable in (True, False):
        data = _dumps(entry, readable)
        if readable and loads(data, entry.registry) != entry:
            continue
        return data
    raise AssertionError("unreachable")


def _dumps(entry: Entry, readable: bool) -> bytes:
    lines = [
        f"version: {SCHEMA_VERSION}",
        f"path: {_scalar(entry.path, readable)}",
        f"kind: {entry.kind}",
        f"oid: {entry.oid}",
        f"size: {entry.size}",
    ]
    if entry.kind == "dir":
        lines.append(f"files: {entry.files}")
    text = "\n".join(lines) + "\n"
    if entry.meta:
        import yaml

        body = yaml.safe_dump(entry.meta, sort_keys=True, default_flow_style=False, allow_unicode=readable, width=1000)
        text += "meta:\n" + "".join(f"  {line}\n" for line in body.removesuffix("\n").split("\n"))
    return text.encode("utf-8")


# A path YAML reads back as this very string when written bare: it starts with a letter or '_'
# (so it is no number, date, '.inf', '~' or indicator) and holds nothing YAML gives a meaning.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./+-]*")
# ... unless it is a word YAML 1.1 (PyYAML) resolves to a boolean or null.
_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null"}


def _is_plain(value: str) -> bool:
    return _PLAIN.fullmatch(value) is not None and value.lower() not in _YAML_WORDS


def _scalar(value: str, readable: bool = True) -> str:
    if _is_plain(value):
        return value
    import yaml

    # safe_dump quotes whatever YAML would misread (e.g. 'true', '1.0', ': ').
    out = yaml.safe_dump(value, default_flow_style=True, allow_unicode=readable, width=10_000)
    out = out.removesuffix("\n")
    out = out.removesuffix("\n...") if out.endswith("\n...") else out
    return out.rstrip("\n")


MAX_REGISTRY_BYTES = 1 << 20


def _strict_loader() -> type:
    """A safe loader that refuses what a small config file never needs and a hostile one abuses:
    aliases (an alias bomb expands to gigabytes) and duplicate keys (two readers could disagree)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        def construct_object(self, node, deep=False):  # type: ignore[no-untyped-def]
            # An alias hands the constructor a node it has already seen.
            if node in self.constructed_objects or node in self.recursive_objects:
                raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed", node.start_mark)
            return super().construct_object(node, deep)

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            seen: set[tuple[str, str]] = set()
            for key_node, _value in node.value:
                key = (key_node.tag, str(key_node.value))
                if key in seen or key_node.tag == "tag:yaml.org,2002:merge":
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate or merge key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


_LOADER: type | None = None


def parse_yaml(data: bytes, where: str, error: type[Exception] = RegistryError, *, fix: str = "fix the file or restore it with git") -> Any:
    """Safe-load YAML (never constructing Python objects; no aliases, no duplicate keys;
    at most 1 MiB); errors name `where` and end with `fix`."""
    import yaml

    global _LOADER
    if len(data) > MAX_REGISTRY_BYTES:
        raise error(f"{where}: larger than {MAX_REGISTRY_BYTES} bytes; it is not a gitfiler file ({fix})")
    if _LOADER is None:
        _LOADER = _strict_loader()
    try:
        return yaml.load(data.decode("utf-8"), Loader=_LOADER)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError) as err:
        # ValueError: an integer of thousands of digits (Python refuses to convert it).
        problem = str(err).splitlines()[0] if isinstance(err, (UnicodeDecodeError, yaml.YAMLError)) else "a value is too large or nested too deeply"
        raise error(f"{where}: not valid YAML ({problem}); {fix}") from None


_FAST_LINE = re.compile(r"^(version|size|files): (0|[1-9][0-9]{0,17})$|^(kind): ([a-z]+)$|^(oid): (sha256:[0-9a-f]{64})$|^(path): ([A-Za-z_][A-Za-z0-9._/-]*)$")
# Plain scalars YAML 1.1 would read as booleans or null rather than strings.
_YAML_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


def _fast_parse(text: str) -> dict[str, Any] | None:
    """The canonical encoding without `meta`, read without the YAML parser.

    Accepts only lines whose YAML meaning is unambiguous (see docs/format.md);
    anything else returns None and goes through the YAML parser, so results
    never differ. Pre-push reads thousands of these.
    """
    if not text.endswith("\n"):
        return None
    doc: dict[str, Any] = {}
    for line in text[:-1].split("\n"):
        m = _FAST_LINE.match(line)
        if m is None:
            return None
        value: int | str
        if m.group(1):
            key, value = m.group(1), int(m.group(2))
        else:
            key, value = next((m.group(i), m.group(i + 1)) for i in (3, 5, 7) if m.group(i))
            if value.lower() in _YAML_WORDS:
                return None
        if key in doc:
            return None
        doc[key] = value
    return doc


def parse_doc(data: bytes, registry: str) -> Any:
    """The raw mapping of a registry file, before validation."""
    try:
        doc = _fast_parse(data.decode("utf-8"))
    except UnicodeDecodeError:
        doc = None
    return doc if doc is not None else parse_yaml(data, registry)


def loads(data: bytes, registry: str) -> Entry:
    """Parse and validate a registry file's bytes. `registry` is its repo-relative path."""
    return from_mapping(parse_doc(data, registry), registry)


def from_mapping(doc: Any, registry: str) -> Entry:
    def bad(problem: str) -> RegistryError:
        return RegistryError(f"{registry}: {problem}")

    if not isinstance(doc, dict):
        raise bad("not a valid registry file (expected a YAML mapping)")
    unknown = set() if doc.keys() <= _KEYS else set(map(str, doc)) - _KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("missing or non-integer 'version'")
    if version != SCHEMA_VERSION:
        raise bad(f"unsupported schema version {version}; this gitfiler reads version {SCHEMA_VERSION}, upgrade it")
    path = doc.get("path")
    if not (isinstance(path, str) and len(path) <= MAX_PATH_BYTES and PLAIN_PATH.fullmatch(path)):  # else: the rules one by one
        try:
            path = check_relative(path, "'path'")
        except UnsafePathError as err:
            raise bad(str(err)) from None
    kind = doc.get("kind")
    if kind not in KINDS:
        raise bad(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    oid = doc.get("oid")
    if not is_oid(oid):
        raise bad(f"bad 'oid' {oid!r}; expected 'sha256:' and 64 lowercase hex digits")
    size = doc.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad(f"'size' must be a non-negative integer, not {size!r}")
    files = doc.get("files")
    if kind == "dir":
        if not isinstance(files, int) or isinstance(files, bool) or files < 0:
            raise bad(f"'files' must be a non-negative integer for a directory, not {files!r}")
    elif files is not None:
        raise bad("'files' is only allowed for kind 'dir'")
    meta = doc.get("meta", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise bad("'meta' must be a mapping with string keys")
    problem = _meta_problem(meta, 0) if meta else None
    if problem:
        raise bad(f"'meta' {problem}")
    return Entry(registry=registry, path=path, kind=kind, oid=oid, size=size, files=files, meta=meta)


_META_SCALARS = (str, int, float, bool, type(None))
MAX_META_DEPTH = 32


def _meta_problem(value: Any, depth: int) -> str | None:
    """Why `value` cannot be metadata (None when it can): plain YAML data only, so that it
    reads back as written and converts to JSON; no tuples, sets or binary."""
    import datetime

    if depth > MAX_META_DEPTH:
        return f"is nested more than {MAX_META_DEPTH} levels deep"
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int, float, bool)) for k in value):
            return "has a key that is not a string, number or boolean"
        return next((p for v in value.values() if (p := _meta_problem(v, depth + 1))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := _meta_problem(v, depth + 1))), None)
    if isinstance(value, _META_SCALARS + (datetime.date,)):
        return None
    return f"holds a {type(value).__name__}; use plain mappings, lists and scalars"


def read(root: str, registry: str) -> Entry:
    from .treefs import TreeFS

    data = TreeFS(root).read_capped(registry, MAX_REGISTRY_BYTES, "registry file")
    if data is None:
        raise RegistryError(f"{registry}: registry file not found")
    return loads(data, registry)


def write(tree: TreeFS, entry: Entry) -> bool:
    """Write atomically; returns False when the file already holds these exact bytes."""
    data = dumps(entry)
    if tree.read_capped(entry.registry, MAX_REGISTRY_BYTES, "registry file") == data:
        return False
    tree.write_atomic(entry.registry, data)
    return True


# `meta.type` and `meta.version`: the two metadata keys gitfiler itself gives a meaning. A type
# becomes a component and link name in releases, so it is as narrow as a file name can be.
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_VERSION_CHARS = 128


def type_problem(value: object) -> str | None:
    """Why `value` cannot be an artifact type (None when it can)."""
    if not isinstance(value, str) or not _TYPE.fullmatch(value) or ".." in value:
        return f"artifact type {value!r} is not allowed; use letters, digits and . _ - (starting with a letter or digit, at most 64, no '..')"
    return None


def version_problem(value: object) -> str | None:
    """Why `value` cannot be an artifact version (None when it can): free text on one line."""
    if not isinstance(value, str):
        return f"artifact version {value!r} must be text, not {type(value).__name__}; quote it"
    if not value or value != value.strip() or len(value) > MAX_VERSION_CHARS or not value.isprintable():
        return f"artifact version {value!r} is not allowed; use one line of at most {MAX_VERSION_CHARS} printable characters, without leading or trailing spaces"
    return None


def check_type_version(type: str | None = None, version: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, str]:
    """The `type` and `version` metadata to record, from the arguments or from `meta` (which may hold
    them too, but not both ways at once), validated. Raises FilerError saying what is wrong."""
    meta = meta or {}
    out: dict[str, str] = {}
    for key, value, check in (("type", type, type_problem), ("version", version, version_problem)):
        if value is not None and key in meta:
            raise FilerError(f"the artifact {key} is given twice ({key}={meta[key]!r} in meta and {key}={value!r}); give it once")
        value = value if value is not None else meta.get(key)
        if value is None:
            continue
        problem = check(value)
        if problem:
            raise FilerError(problem)
        out[key] = value
    return out
