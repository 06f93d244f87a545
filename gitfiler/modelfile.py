"""The model registry file `.gitfiler/models.yaml`: models, their entry points and the oids of
the data and code they were built from (docs/models.md).

One canonical encoding (same content, same bytes); reading is as strict as for registry files:
no aliases, no duplicate keys, a size cap, unknown keys refused, every path checked.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistryError, UnsafePathError
from .objects import is_oid
from .paths import check_relative
from .registry import MAX_REGISTRY_BYTES, PLAIN_PATH, parse_yaml

PATH = ".gitfiler/models.yaml"
SCHEMA_VERSION = 1
MAX_BYTES = MAX_REGISTRY_BYTES
ARTIFACT, FILE, DIR = "artifact", "file", "dir"  # a gitfiler artifact; a git-tracked file; a git-tracked directory
KINDS = (ARTIFACT, FILE, DIR)
_GIT_OID = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256 repositories
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# PLAIN_PATH over a whole directory's listing at once: each line one name.
_PLAIN_LINES = re.compile(r"(?:\n" + PLAIN_PATH.pattern + ")+")
_HEX_LINES = b"0123456789abcdef\n"
_TOP_KEYS = {"version", "models"}
_MODEL_KEYS = {"entry", "model", "data", "code"}
_DEP_KEYS = {"path", "kind", "oid", "files"}


@dataclass(frozen=True)
class Dependency:
    path: str  # repo-relative, no trailing slash
    kind: str  # ARTIFACT, FILE or DIR
    oid: str = ""  # ARTIFACT: the registry file's oid; FILE: the git blob id; DIR: ""
    files: tuple[tuple[str, str], ...] = ()  # DIR: (path below the directory, git blob id), sorted

    @property
    def shown(self) -> str:
        return self.path + "/" if self.kind == DIR else self.path

    def lines(self) -> list[tuple[str, str]]:
        """(repo-relative path, oid) of everything this dependency records."""
        if self.kind == DIR:
            return [(f"{self.path}/{rel}", oid) for rel, oid in self.files]
        return [(self.path, self.oid)]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind == DIR:
            out["files"] = dict(self.files)
        else:
            out["oid"] = self.oid
        return out


@dataclass(frozen=True)
class Model:
    name: str
    entry: str  # "path:Symbol", recorded only: never imported or run
    model: Dependency | None = None
    data: tuple[Dependency, ...] = ()
    code: tuple[Dependency, ...] = ()

    def dependencies(self) -> list[Dependency]:
        return ([self.model] if self.model else []) + list(self.data) + list(self.code)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "entry": self.entry, "model": self.model.to_json() if self.model else None,
            "data": [d.to_json() for d in self.data], "code": [d.to_json() for d in self.code], "digest": digest(self),
        }


@dataclass
class Models:
    models: dict[str, Model] = field(default_factory=dict)


def digest(model: Model) -> str:
    """The provenance digest: SHA-256 over the sorted, distinct lines `path NUL oid LF` (UTF-8) of
    the model artifact and every dependency (a directory contributes one line per file), as
    'sha256:' and 64 hex digits. Only recorded oids enter it, so it is the same on every machine."""
    lines = sorted({f"{p}\0{o}\n".encode() for d in model.dependencies() for p, o in d.lines()})
    return "sha256:" + hashlib.sha256(b"".join(lines)).hexdigest()


def check_entry(entry: object) -> str:
    """`path:Symbol` with a safe relative path and a dotted Python name."""
    if not isinstance(entry, str) or ":" not in entry:
        raise UnsafePathError(f"entry {entry!r} must be PATH:SYMBOL, e.g. models/ranker.py:Ranker")
    path, _, symbol = entry.rpartition(":")
    check_relative(path, "entry path")
    if not _SYMBOL.match(symbol):
        raise UnsafePathError(f"entry symbol {symbol!r} is not a Python name (letters, digits, _ and dots)")
    return entry


def check_overlap(deps: list[Dependency], where: str) -> None:
    """A path given twice, or one inside another, would make the same file count twice."""
    # Sorted with a '/' appended, whatever lies inside a path comes right after it ('a', 'a/b'),
    # never after a sibling like 'a.txt'.
    paths = sorted(d.path + "/" for d in deps)
    for a, b in zip(paths, paths[1:], strict=False):
        if b.startswith(a):
            raise RegistryError(f"{where}: {a.rstrip('/')} and {b.rstrip('/')} overlap; give each path once")


# -- encoding -----------------------------------------------------------------------------------


def to_doc(models: Models) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name, m in models.models.items():
        item: dict[str, Any] = {"entry": m.entry, "data": [d.to_json() for d in sorted(m.data, key=_key)], "code": [d.to_json() for d in sorted(m.code, key=_key)]}
        if m.model:
            item["model"] = m.model.to_json()
        doc[name] = item
    return {"version": SCHEMA_VERSION, "models": doc}


def _key(d: Dependency) -> str:
    return d.path


def dumps(models: Models) -> bytes:
    """The canonical bytes: keys sorted, dependencies sorted by path, non-ASCII escaped (so
    the bytes never depend on how a YAML emitter chooses to print a character)."""
    import yaml

    doc = to_doc(models)
    text = yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, allow_unicode=False, width=1_000_000)
    data = text.encode("utf-8")
    if to_doc(loads(data)) != doc:
        raise RegistryError(f"{PATH}: a path would not read back as written; rename it")
    return data


def loads(data: bytes | None) -> Models:
    """Parse and validate; None (no file yet) is an empty registry."""
    if data is None:
        return Models()
    return from_doc(parse_yaml(data, PATH))


def from_doc(doc: Any) -> Models:
    """Validate a parsed document (from `parse_yaml`, or a cache of what it returned)."""
    try:
        return _from_doc(doc)
    except UnsafePathError as err:
        raise RegistryError(f"{PATH}: {err}") from None


def _from_doc(doc: Any) -> Models:
    def bad(problem: str) -> RegistryError:
        return RegistryError(f"{PATH}: {problem}")

    if not isinstance(doc, dict):
        raise bad("not a model registry (expected a YAML mapping)")
    _no_unknown(doc, _TOP_KEYS, "", bad)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("missing or non-integer 'version'")
    if version != SCHEMA_VERSION:
        raise bad(f"unsupported schema version {version}; this gitfiler reads version {SCHEMA_VERSION}, upgrade it")
    raw = doc.get("models")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad("'models' must be a mapping of model names")
    from .release import name_problem  # here: `model status` mostly answers without reading this file

    out = Models()
    for name, item in raw.items():
        problem = name_problem(name, "model name")
        if problem:
            raise bad(problem)
        if not isinstance(item, dict):
            raise bad(f"model {name}: expected a mapping")
        _no_unknown(item, _MODEL_KEYS, f"model {name}: ", bad)
        model = _dep(item["model"], f"model {name}: 'model'", bad, KINDS) if item.get("model") is not None else None
        deps: dict[str, tuple[Dependency, ...]] = {}
        for part, kinds in (("data", KINDS), ("code", (FILE, DIR))):
            listed = item.get(part) or []
            if not isinstance(listed, list):
                raise bad(f"model {name}: '{part}' must be a list")
            deps[part] = tuple(_dep(d, f"model {name}: '{part}'", bad, kinds) for d in listed)
        m = Model(name, check_entry(item.get("entry")), model, deps["data"], deps["code"])
        check_overlap(m.dependencies(), f"{PATH}: model {name}")
        out.models[name] = m
    return out


def _no_unknown(doc: dict[Any, Any], allowed: set[str], where: str, bad: Any) -> None:
    unknown = set(map(str, doc)) - allowed
    if unknown:
        raise bad(f"{where}unknown keys {sorted(unknown)}")


def _all_plain(path: str, files: dict[Any, Any]) -> bool:
    """True when every (name, blob id) of a directory dependency passes `_dep`'s first checks:
    names that `PLAIN_PATH` takes (short enough beside `path`) and ids of 40 or 64 lowercase hex
    digits, checked over the joined listing instead of file by file (10,000 recorded files cost
    15 ms one by one, on every `model status`; this, 2 ms). False sends `_dep` through the files
    one by one, which decides and says which file is wrong."""
    try:
        names, ids = "\n" + "\n".join(files), "\n".join(files.values())
        only_hex = not ids.encode("ascii").translate(None, _HEX_LINES)
    except (TypeError, UnicodeEncodeError):  # a name or id that is not a string, an id not ASCII
        return False
    # A newline inside one name or id would make two lines of it: only one line per item counts.
    if names.count("\n") != len(files) or ids.count("\n") != len(files) - 1 or not only_hex:
        return False
    return set(map(len, files.values())) <= {40, 64} and len(path) + max(map(len, files)) < 4096 and bool(_PLAIN_LINES.fullmatch(names))


def _dep(doc: Any, where: str, bad: Any, kinds: tuple[str, ...]) -> Dependency:
    if not isinstance(doc, dict):
        raise bad(f"{where}: each dependency is a mapping")
    _no_unknown(doc, _DEP_KEYS, f"{where}: ", bad)
    path = check_relative(doc.get("path"), f"{where} path")
    kind = doc.get("kind")
    if kind not in kinds:
        raise bad(f"{where}: {path}: 'kind' must be one of {', '.join(kinds)}, not {kind!r}")
    if kind == DIR:
        files = doc.get("files")
        if "oid" in doc or not isinstance(files, dict) or not files:
            raise bad(f"{where}: {path}: a directory records a non-empty 'files' mapping and no 'oid'")
        if not _all_plain(path, files):  # one by one, to say which file is wrong (or accept the unusual)
            plain, git_oid = PLAIN_PATH.fullmatch, _GIT_OID.match
            for rel, oid in files.items():
                if not (isinstance(rel, str) and plain(rel) and len(path) + len(rel) < 4096):
                    check_relative(f"{path}/{check_relative(rel, f'{where} file')}", f"{where} file")
                if not isinstance(oid, str) or not git_oid(oid):
                    raise bad(f"{where}: {path}/{rel}: bad git blob id {oid!r}")
        return Dependency(path, kind, files=tuple(sorted(files.items())))
    oid = doc.get("oid")
    if "files" in doc:
        raise bad(f"{where}: {path}: 'files' is only for kind dir")
    if kind == ARTIFACT and not is_oid(oid):
        raise bad(f"{where}: {path}: bad 'oid' {oid!r}; expected 'sha256:' and 64 lowercase hex digits")
    if kind == FILE and not (isinstance(oid, str) and _GIT_OID.match(oid)):
        raise bad(f"{where}: {path}: bad git blob id {oid!r}")
    assert isinstance(oid, str)
    return Dependency(path, kind, oid)
