"""Directory manifests: canonical JSON listing of a tracked directory, stored as an object."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import RegistryError, UnsafePathError
from .objects import is_oid
from .paths import check_relative

MANIFEST_VERSION = 1
_ENTRY_KEYS = {"path", "oid", "size", "exec"}


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # POSIX, relative to the tracked directory
    oid: str
    size: int
    exec: bool = False


def encode(entries: list[ManifestEntry]) -> bytes:
    """Canonical bytes: entries sorted by path, keys sorted, no whitespace, UTF-8."""
    ordered = sorted(entries, key=lambda e: e.path)
    doc = {
        "version": MANIFEST_VERSION,
        "entries": [{"path": e.path, "oid": e.oid, "size": e.size, "exec": e.exec} for e in ordered],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(data: bytes, where: str) -> list[ManifestEntry]:
    """Parse and validate strictly; `where` names the manifest in error messages."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RegistryError(f"{where}: directory manifest is not valid JSON ({err})") from None
    except (RecursionError, ValueError):  # nesting beyond the parser's depth, or an integer of thousands of digits
        raise RegistryError(f"{where}: directory manifest is nested too deeply or holds a number too large") from None
    if not isinstance(doc, dict) or set(doc) != {"version", "entries"}:
        raise RegistryError(f"{where}: directory manifest must be an object with exactly 'version' and 'entries'")
    if doc["version"] != MANIFEST_VERSION or isinstance(doc["version"], bool):
        raise RegistryError(f"{where}: unsupported manifest version {doc['version']!r}; upgrade gitfiler")
    raw = doc["entries"]
    if not isinstance(raw, list):
        raise RegistryError(f"{where}: manifest 'entries' must be a list")
    entries: list[ManifestEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
            raise RegistryError(f"{where}: manifest entry {i} must have exactly the keys {sorted(_ENTRY_KEYS)}")
        path, oid, size, exe = item["path"], item["oid"], item["size"], item["exec"]
        try:
            check_relative(path, "manifest entry path")
        except UnsafePathError as err:
            raise RegistryError(f"{where}: {err}") from None
        if not is_oid(oid):
            raise RegistryError(f"{where}: manifest entry {path!r} has a bad oid {oid!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryError(f"{where}: manifest entry {path!r} has a bad size {size!r}")
        if not isinstance(exe, bool):
            raise RegistryError(f"{where}: manifest entry {path!r} has a non-boolean 'exec'")
        if path in seen:
            raise RegistryError(f"{where}: manifest lists {path!r} twice")
        seen.add(path)
        entries.append(ManifestEntry(path, oid, size, exe))
    for path in seen:
        parent = path.rpartition("/")[0]
        while parent:
            if parent in seen:
                raise RegistryError(f"{where}: manifest has both a file {parent!r} and an entry below it")
            parent = parent.rpartition("/")[0]
    return entries


ADDED, MODIFIED, REMOVED = "added", "modified", "removed"


@dataclass(frozen=True)
class FileChange:
    """A file that differs between two listings of one directory (`diff --files`, `status --files`)."""

    path: str  # as the listings name it (repo-relative in both callers)
    status: str  # ADDED, MODIFIED or REMOVED
    old: ManifestEntry | None
    new: ManifestEntry | None

    @property
    def old_size(self) -> int | None:
        return self.old.size if self.old else None

    @property
    def new_size(self) -> int | None:
        return self.new.size if self.new else None

    def to_json(self) -> dict[str, object]:
        old_size, new_size = self.old_size, self.new_size
        return {
            "path": self.path, "status": self.status,
            "old_oid": self.old.oid if self.old else None, "new_oid": self.new.oid if self.new else None,
            "old_size": old_size, "new_size": new_size, "delta": (new_size or 0) - (old_size or 0),
            "old_exec": self.old.exec if self.old else None, "new_exec": self.new.exec if self.new else None,
        }


def compare(old: dict[str, ManifestEntry], new: dict[str, ManifestEntry]) -> list[FileChange]:
    """The files that differ (content, size or executable bit), sorted by path; keys are the
    paths to report, so a caller can list both sides relative to whatever root it shows."""
    out: list[FileChange] = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is not None and b is not None and (a.oid, a.size, a.exec) == (b.oid, b.size, b.exec):
            continue
        out.append(FileChange(path, ADDED if a is None else REMOVED if b is None else MODIFIED, a, b))
    return out
