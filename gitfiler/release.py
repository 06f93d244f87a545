"""Release manifests: a named, immutable set of artifacts, stored as one more object.

A release manifest is canonical JSON (same content, same bytes, so the same oid) listing
its components: what each is called, its type and version, where it goes below a release
directory, and the oid and size of its bytes (for a directory, its directory manifest's oid
and the file count). A remote names releases with small pointer records `releases/<name>`
holding the manifest's oid. Both are parsed strictly: a release comes from a remote, and a
remote is untrusted input (invariant 7).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistryError, UnsafePathError
from .objects import is_oid
from .paths import check_relative

SCHEMA = "gitfiler-release"
SCHEMA_VERSION = 1
# A manifest lists one line per component; a million components is far beyond any release.
MAX_RELEASE_BYTES = 16 * 1024 * 1024
MAX_POINTER_BYTES = 128
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_COMPONENT_KEYS = {"name", "type", "version", "path", "kind", "oid", "size", "files"}
_TOP_KEYS = {"schema", "version", "name", "created", "commit", "components"}
# What a target directory holds besides releases: a component may not take these names for its link.
RESERVED_COMPONENT_NAMES = frozenset({"current", "releases"})
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def name_problem(name: object, what: str = "release name") -> str | None:
    """Why `name` cannot name a release or a component (None when it can). It becomes a
    directory name on deployment hosts and a key in a remote, so: letters, digits and
    `._+-`, starting with a letter or digit, at most 128 characters, never `..`."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        return f"{what} {name!r} is not allowed; use letters, digits and . _ + - (starting with a letter or digit, at most 128, no '..')"
    return None


def check_name(name: object, what: str = "release name") -> str:
    problem = name_problem(name, what)
    if problem:
        raise UnsafePathError(problem)
    assert isinstance(name, str)
    return name


@dataclass(frozen=True)
class Component:
    name: str  # a single path segment: the link `<target>/<name>` on a host
    path: str  # where it goes below the release directory (its repo-relative artifact path)
    kind: str  # "file" or "dir"
    oid: str  # the file's oid, or the directory manifest's
    size: int  # bytes of the file, or of all the directory's files
    files: int | None = None  # a directory's file count
    type: str | None = None
    version: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "version": self.version, "path": self.path, "kind": self.kind,
            "oid": self.oid, "size": self.size, "files": self.files,
        }


@dataclass(frozen=True)
class Release:
    name: str
    created: str  # UTC, ISO 8601 to the second: "2026-11-29T05:00:00Z"
    commit: str | None  # the git commit the components were taken from, when known
    components: tuple[Component, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return sum(c.size for c in self.components)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "created": self.created, "commit": self.commit, "size": self.size,
            "components": [c.to_doc() for c in self.components],
        }


def encode(release: Release) -> bytes:
    """Canonical bytes: keys sorted, components sorted by name, no whitespace, UTF-8."""
    doc = {
        "schema": SCHEMA, "version": SCHEMA_VERSION, "name": release.name, "created": release.created, "commit": release.commit,
        "components": [c.to_doc() for c in sorted(release.components, key=lambda c: c.name)],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(data: bytes, where: str) -> Release:
    """Parse and validate a release manifest strictly; `where` names it in errors."""

    def bad(problem: str) -> RegistryError:
        return RegistryError(f"{where}: {problem}")

    if len(data) > MAX_RELEASE_BYTES:
        raise bad(f"larger than {MAX_RELEASE_BYTES} bytes; not a release manifest")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("not valid JSON; not a release manifest") from None
    except (RecursionError, ValueError):
        raise bad("nested too deeply or holds a number too large; not a release manifest") from None
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        raise bad(f"a release manifest is an object with exactly the keys {sorted(_TOP_KEYS)}")
    if doc["schema"] != SCHEMA:
        raise bad(f"'schema' is {doc['schema']!r}, not {SCHEMA!r}")
    if doc["version"] != SCHEMA_VERSION or isinstance(doc["version"], bool):
        raise bad(f"unsupported release manifest version {doc['version']!r}; this gitfiler reads version {SCHEMA_VERSION}, upgrade it")
    name_err = name_problem(doc["name"])
    if name_err:
        raise bad(name_err)
    created, commit = doc["created"], doc["commit"]
    if not isinstance(created, str) or not _CREATED.match(created):
        raise bad(f"'created' must be a UTC time like 2026-11-29T05:00:00Z, not {created!r}")
    if commit is not None and (not isinstance(commit, str) or not _COMMIT.match(commit)):
        raise bad(f"'commit' must be a full git commit id or null, not {commit!r}")
    raw = doc["components"]
    if not isinstance(raw, list) or not raw:
        raise bad("'components' must be a non-empty list")
    components = tuple(_component(item, i, bad) for i, item in enumerate(raw))
    problem = overlap_problem(components)
    if problem:
        raise bad(problem)
    release = Release(name=doc["name"], created=created, commit=commit, components=components)
    # Only the canonical bytes are a release: no duplicate keys, no second spelling that another
    # reader could take differently, one oid per release.
    if encode(release) != data:
        raise bad("not in canonical form (a gitfiler release manifest is written by gitfiler); refusing it")
    return release


def _component(item: Any, i: int, bad: Any) -> Component:
    if not isinstance(item, dict) or set(item) != _COMPONENT_KEYS:
        raise bad(f"component {i} must have exactly the keys {sorted(_COMPONENT_KEYS)}")
    name_err = name_problem(item["name"], "component name")
    if name_err:
        raise bad(name_err)
    if item["name"] in RESERVED_COMPONENT_NAMES:
        raise bad(f"component name {item['name']!r} is reserved (a deployment target's own link or directory)")
    name = item["name"]
    try:
        path = check_relative(item["path"], f"component {name!r} path")
    except UnsafePathError as err:
        raise bad(str(err)) from None
    kind, oid, size, files = item["kind"], item["oid"], item["size"], item["files"]
    if kind not in ("file", "dir"):
        raise bad(f"component {name!r}: 'kind' must be file or dir, not {kind!r}")
    if not is_oid(oid):
        raise bad(f"component {name!r}: bad oid {oid!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad(f"component {name!r}: bad size {size!r}")
    if kind == "dir":
        if not isinstance(files, int) or isinstance(files, bool) or files < 0:
            raise bad(f"component {name!r}: a directory needs a non-negative 'files' count, not {files!r}")
    elif files is not None:
        raise bad(f"component {name!r}: 'files' is only for directories")
    for key in ("type", "version"):
        value = item[key]
        if value is not None and (not isinstance(value, str) or len(value) > 256 or "\n" in value):
            raise bad(f"component {name!r}: {key!r} must be a one-line string or null")
    return Component(name=name, path=path, kind=kind, oid=oid, size=size, files=files, type=item["type"], version=item["version"])


def overlap_problem(components: tuple[Component, ...] | list[Component]) -> str | None:
    """Two components with one name, or one path at or inside another's, would make what a
    host places depend on the order they are written in."""
    names: set[str] = set()
    paths: set[str] = set()
    for c in components:
        if c.name in names:
            return f"two components are called {c.name!r}"
        names.add(c.name)
        paths.add(c.path)
    for c in components:
        parent = c.path.rpartition("/")[0]
        while parent:
            if parent in paths:
                return f"component path {c.path!r} lies inside the component path {parent!r}"
            parent = parent.rpartition("/")[0]
    if len(paths) != len(components):
        return "two components have one path"
    return None


def encode_pointer(oid: str) -> bytes:
    return f"{oid}\n".encode()


def decode_pointer(data: bytes, where: str) -> str:
    """The oid a pointer record `releases/<name>` names."""
    text = data[:MAX_POINTER_BYTES + 1].decode("ascii", errors="replace").strip()
    if len(data) > MAX_POINTER_BYTES or not is_oid(text):
        raise RegistryError(f"{where}: not a release pointer (expected one line 'sha256:<64 hex>')")
    return text
