"""Which objects an artifact needs: its closure.

A file artifact's closure is its one object. A directory's is every file its
manifest lists, then the manifest itself: the manifest comes last everywhere
(uploads, deletions' reverse, remote checks) because a remote that holds a
manifest vouches for all of its files.

Everything that asks "which objects does this entry need" goes through here;
what to do when a directory's manifest is not available (give up, recover it
from the work tree, fetch it, keep everything) is each caller's own policy,
signalled by `ManifestUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import manifest
from .errors import FilerError
from .objects import ObjectStore
from .registry import Entry

if TYPE_CHECKING:
    from .remotes import Remote
    from .transfer import TransferResult


class ManifestUnavailable(FilerError):
    """A directory's manifest is not in the cache (and, where asked, not fetched)."""

    exit_code = 7

    def __init__(self, entry: Entry, why: str = "", *, exit_code: int = 7) -> None:
        super().__init__(f"{entry.registry}: directory manifest {entry.oid} is not in the cache{'; ' + why if why else ''}")
        self.entry = entry
        self.oid = entry.oid
        self.exit_code = exit_code


@dataclass(frozen=True)
class Item:
    """One object as it sits in the work tree."""

    oid: str
    path: str  # repository-relative work-tree path
    size: int
    executable: bool = False


@dataclass(frozen=True)
class Closure:
    entry: Entry
    files: tuple[Item, ...]
    manifest_size: int | None = None  # the manifest object's size; None for a file artifact

    @property
    def manifest(self) -> str | None:
        """The manifest oid of a directory artifact; None for a file."""
        return self.entry.oid if self.entry.kind == "dir" else None

    def file_oids(self) -> list[str]:
        return list(dict.fromkeys(i.oid for i in self.files))

    def oids(self) -> list[str]:
        """Every object, files first and the manifest last."""
        return self.file_oids() + ([self.entry.oid] if self.manifest else [])

    def sizes(self) -> dict[str, int]:
        out = {i.oid: i.size for i in self.files}
        if self.manifest and self.manifest_size is not None:
            out[self.entry.oid] = self.manifest_size
        return out

    def paths(self) -> dict[str, str]:
        """Work-tree path -> oid."""
        return {i.path: i.oid for i in self.files}


def load_manifest(store: ObjectStore, entry: Entry) -> list[manifest.ManifestEntry]:
    """The one way to read a directory's manifest: verified against its oid, decoded strictly.
    Raises ManifestUnavailable when the cache lacks it (RegistryError/IntegrityError when bad)."""
    if not store.has(entry.oid):
        raise ManifestUnavailable(entry)
    return manifest.decode(store.read_verified(entry.oid), f"{entry.registry} (manifest {entry.oid})")


def from_manifest(entry: Entry, files: Iterable[manifest.ManifestEntry], manifest_size: int | None = None) -> Closure:
    items = tuple(Item(m.oid, f"{entry.artifact}/{m.path}", m.size, m.exec) for m in files)
    return Closure(entry, items, manifest_size)


def of(store: ObjectStore, entry: Entry) -> Closure:
    """The closure of `entry` from what the cache holds. Raises ManifestUnavailable for a
    directory whose manifest the cache lacks."""
    if entry.kind == "file":
        return Closure(entry, (Item(entry.oid, entry.artifact, entry.size),))
    files = load_manifest(store, entry)
    return from_manifest(entry, files, store.size(entry.oid))


def oids_or_self(store: ObjectStore, entry: Entry) -> list[str]:
    """Every oid of `entry`, or just its own oid when the manifest is not cached (the
    manifest still stands for its files: a remote only gets one after all of them)."""
    try:
        return of(store, entry).oids()
    except ManifestUnavailable:
        return [entry.oid]


@dataclass
class Resolved:
    """Closures of many entries, after fetching the manifests the cache lacked. Looked up
    by entry: two registry files (in two worktrees, or two commits) may share a name and
    differ in content, or share content at two paths."""

    closures: dict[tuple[str, str], Closure] = field(default_factory=dict)  # (registry, oid) -> closure
    problems: dict[tuple[str, str], FilerError] = field(default_factory=dict)  # (registry, oid) -> why it has none
    transfer: TransferResult | None = None  # the manifest downloads, if any were needed

    def get(self, entry: Entry) -> Closure | None:
        return self.closures.get((entry.registry, entry.oid))

    def problem(self, entry: Entry) -> FilerError | None:
        return self.problems.get((entry.registry, entry.oid))


def resolve(
    store: ObjectStore, entries: Iterable[Entry], *, remote: Callable[[], Remote] | None = None, jobs: int = 16,
    on_fetched: Callable[[Remote, set[str]], None] | None = None,
) -> Resolved:
    """Closures of `entries`. Directory manifests the cache lacks are downloaded in one batch
    through the transfer engine when `remote` (opened only if needed) is given; an entry
    whose manifest is still unavailable, or does not verify or decode, is in `problems`.
    `on_fetched(remote, oids)` learns which manifests did arrive (to update remote hints)."""
    entries = list(entries)
    out = Resolved()
    lacking = [e.oid for e in entries if e.kind == "dir" and not store.has(e.oid)]
    if lacking and remote is not None:
        from .transfer import download

        rem = remote()
        out.transfer = download(store, rem, list(dict.fromkeys(lacking)), {}, jobs, None)
        if on_fetched is not None:
            on_fetched(rem, set(lacking) - {o for o, _ in out.transfer.failures})
    failures = dict(out.transfer.failures) if out.transfer else {}
    for e in entries:
        key = (e.registry, e.oid)
        try:
            out.closures[key] = of(store, e)
        except ManifestUnavailable as err:
            why = failures.get(e.oid)
            code = out.transfer.codes.get(e.oid, err.exit_code) if out.transfer is not None else err.exit_code
            out.problems[key] = ManifestUnavailable(e, why, exit_code=code) if why else err
        except FilerError as err:
            out.problems[key] = err
    return out
