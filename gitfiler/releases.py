"""Releases in a repository and in a remote: building one from a commit's artifacts, the
per-clone record of releases created here, and reading a published one back.

A release is an object like any other (its manifest, `release.encode`); what names it is a
pointer record: `<git common dir>/filer/releases/<name>` for one created in this clone, and
`releases/<name>` in a remote once published. Both hold one line, the manifest's oid.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from . import git
from .errors import FilerError, ObjectMissingError, OversizeError, RegistryError, UnsafePathError
from .fsutil import NotPlainFile, atomic_write_bytes, publish, read_plain, write_new
from .globs import matches
from .names import REGISTRY_SUFFIX
from .objects import ObjectStore
from .project import Project, check_entry, overlapping
from .registry import MAX_REGISTRY_BYTES, Entry, loads
from .release import (
    MAX_POINTER_BYTES,
    MAX_RELEASE_BYTES,
    RESERVED_COMPONENT_NAMES,
    Component,
    Release,
    check_name,
    decode,
    decode_pointer,
    encode,
    encode_pointer,
    name_problem,
    overlap_problem,
)
from .remotes import Remote


class ReleaseExistsError(FilerError):
    """A release name is taken (in a remote, in this clone, or on a host) by different content.
    Exit 8, as for work-tree files: something was kept rather than overwritten."""

    exit_code = 8


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- building a release from a commit -------------------------------------------------------------


def entries_at(project: Project, rev: str) -> tuple[str, list[Entry]]:
    """The full commit id `rev` names, and the artifacts its registry files record."""
    if not project.has_git:
        raise FilerError(f"'{rev}' needs a git repository; run this inside one (or deploy a published release with --from URL)")
    commit = git.rev_parse(project.root, f"{rev}^{{commit}}") if not rev.startswith("-") else None
    if commit is None and rev == "HEAD":
        raise FilerError("this repository has no commit yet: commit the .filer files first (git commit), then create the release")
    if commit is None:
        raise FilerError(f"'{rev}' is not a commit, branch or tag of this repository")
    blobs = git.files_named(project.root, commit, REGISTRY_SUFFIX, max_size=MAX_REGISTRY_BYTES)
    if blobs.too_large:
        path = sorted(blobs.too_large)[0]
        raise RegistryError(f"{path} at {commit[:12]} is larger than {MAX_REGISTRY_BYTES} bytes; it is not a registry file")
    entries = [check_entry(loads(data, path)) for path, data in sorted(blobs.items())]
    clashes = overlapping(entries)
    if clashes:
        raise next(iter(clashes.values()))
    return commit, entries


def choose(entries: list[Entry], specs: Iterable[str], include: Iterable[str], rev: str) -> list[Entry]:
    """The entries a release takes. `specs` are `--component SEL[:VERSION]`: SEL is an artifact
    type, an artifact path or a glob over paths, and VERSION, when given, must be the artifact's
    recorded version. Without specs, every artifact (narrowed by `include` globs). A SEL or glob
    that selects nothing is an error, as is a version that does not match."""
    specs, include = list(specs), list(include)
    chosen: list[Entry] = []
    if not specs:
        chosen = [e for e in entries if not include or any(matches(e.artifact, g) for g in include)]
        unmatched = [g for g in include if not any(matches(e.artifact, g) for e in entries)]
        if unmatched:
            raise FilerError(f"--include {', '.join(repr(g) for g in unmatched)} matches no artifact at {rev}; see 'git filer ls'")
    for spec in specs:
        sel, _, version = spec.partition(":")
        found = [e for e in entries if e.meta.get("type") == sel or e.artifact == sel or matches(e.artifact, sel)]
        if not found:
            raise FilerError(f"--component {spec!r}: no artifact at {rev} has type or path {sel!r}; see 'git filer ls'")
        if version:
            wrong = [e for e in found if str(e.meta.get("version")) != version]
            if wrong:
                have = ", ".join(f"{e.artifact} is {e.meta.get('version', 'unversioned')!s}" for e in wrong)
                raise FilerError(f"--component {spec!r}: at {rev}, {have}; commit that version first, or name the version recorded")
        chosen += [e for e in found if e not in chosen]
    if not chosen:
        raise FilerError(f"{rev} tracks no artifacts; add some with 'git filer add' and commit them first")
    return chosen


def build(name: str, entries: list[Entry], commit: str | None, created: str | None = None) -> Release:
    """A release of `entries`, each a component named by its type (when no other component has
    that type) or else by its file name, made safe for a directory name."""
    check_name(name)
    entries = sorted(entries, key=lambda e: e.artifact)
    types = [str(e.meta["type"]) for e in entries if isinstance(e.meta.get("type"), str)]
    taken: set[str] = set()
    components = []
    for e in entries:
        kind = e.meta.get("type")
        base = kind if isinstance(kind, str) and types.count(kind) == 1 and name_problem(kind) is None else _safe(posixpath.basename(e.artifact))
        label, n = base, 2
        while label in taken or label in RESERVED_COMPONENT_NAMES:
            label, n = f"{base}-{n}", n + 1
        taken.add(label)
        version = e.meta.get("version")
        components.append(Component(
            name=label, path=e.artifact, kind=e.kind, oid=e.oid, size=e.size, files=e.files,
            type=kind if isinstance(kind, str) else None, version=None if version is None else str(version),
        ))
    problem = overlap_problem(components)
    if problem:
        raise FilerError(f"release {name}: {problem}")
    return Release(name=name, created=created or now_utc(), commit=commit, components=tuple(components))


def _safe(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip(".-+_")[:100] or "component"
    return cleaned.replace("..", ".")


def component_entry(c: Component) -> Entry:
    """The component as a registry entry, so `closure` can list its files."""
    return Entry(registry=c.path + REGISTRY_SUFFIX, path=posixpath.basename(c.path), kind=c.kind, oid=c.oid, size=c.size, files=c.files)


# -- releases created in this clone -----------------------------------------------------------------


@dataclass
class LocalReleases:
    """Pointers to the releases created in this clone (`<git common dir>/filer/releases/<name>`)."""

    directory: str

    @classmethod
    def of(cls, project: Project) -> LocalReleases:
        if project.filer_dir is None:
            raise FilerError("releases are created inside a git repository; run this in one")
        return cls(os.path.join(project.filer_dir, "releases"))

    def get(self, name: str) -> str | None:
        check_name(name)
        try:
            data = read_plain(os.path.join(self.directory, name), MAX_POINTER_BYTES + 1)
        except NotPlainFile as err:
            raise UnsafePathError(f"release record {err.path} {err.why}; remove it and create the release again") from None
        return None if data is None else decode_pointer(data, f"release record {name}")

    def save(self, name: str, oid: str, *, replace: bool) -> None:
        check_name(name)
        os.makedirs(self.directory, exist_ok=True)
        target = os.path.join(self.directory, name)
        if replace:
            atomic_write_bytes(target, encode_pointer(oid))
            return
        try:
            publish(target, write_new(encode_pointer(oid)), replace=False)
        except FileExistsError:
            if self.get(name) != oid:
                raise ReleaseExistsError(f"release {name} already exists in this clone; choose another name, or replace it with --force") from None

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.directory) if name_problem(n) is None)
        except FileNotFoundError:
            return []


def save_manifest(store: ObjectStore, release: Release) -> str:
    return store.write_bytes(encode(release)).oid


def load_manifest(store: ObjectStore, oid: str, where: str) -> Release:
    """A release manifest from the store: verified against its oid, decoded strictly."""
    if not store.has(oid):
        raise ObjectMissingError(f"{where}: release manifest {oid} is not in the cache")
    return decode(store.read_verified(oid, MAX_RELEASE_BYTES), where)


# -- releases in a remote ------------------------------------------------------------------------------


def open_location(url: str, *, jobs: int) -> Remote:
    """A remote given by its URL or directory alone (a host with no repository: deploy --from,
    release list -r). A directory must exist: reading never creates one."""
    from .config import RemoteConfig
    from .errors import RemoteError
    from .remotes import open_remote, parse_url

    scheme, location = parse_url(url)
    if scheme == "local" and not os.path.isdir(location):
        raise RemoteError(f"remote {url}: no such directory on this host; check the URL (or GITFILER_REMOTE)")
    return open_remote(RemoteConfig(name=url, url=url), jobs=jobs)


def published_using(remote: Remote, store: ObjectStore, oids: set[str]) -> list[str]:
    """The releases published in `remote` with a component whose oid (a file's, or a directory
    manifest's) is one of `oids`, sorted; a release that cannot be read is named too, since it
    may use them."""
    users = []
    for rec in remote.list_releases():
        try:
            _oid, release = fetch(remote, rec.name, store)
        except FilerError:
            users.append(rec.name)
            continue
        if any(c.oid in oids for c in release.components):
            users.append(rec.name)
    return sorted(users)


def fetch(remote: Remote, name: str, store: ObjectStore) -> tuple[str, Release]:
    """The release `name` as published in `remote`: its pointer, then its manifest, downloaded
    into `store` (verified, capped) and decoded strictly. Its name must be the one asked for."""
    check_name(name)
    data = remote.get_release(name)
    where = f"release {name} in {remote.describe() if remote.name != remote.url else repr(remote.url)}"
    if data is None:
        raise ObjectMissingError(f"{where}: not published there; check the name and the remote ('git filer release list' in the repository lists what is published)")
    oid = decode_pointer(data, where)
    if not store.has(oid):
        from .transfer import download

        result = download(store, remote, [oid], {oid: MAX_RELEASE_BYTES}, 1)  # the cap: never read more
        if isinstance(result.errors.get(oid), OversizeError):
            raise RegistryError(f"{where}: its manifest {oid} is larger than {MAX_RELEASE_BYTES} bytes; not a release manifest")
        if result.failures:
            code = result.codes.get(oid, ObjectMissingError.exit_code)
            err = ObjectMissingError if code == ObjectMissingError.exit_code else FilerError
            failure = err(f"{where}: cannot fetch its manifest {oid}: {result.failures[0][1]}")
            failure.exit_code = code
            raise failure
    release = load_manifest(store, oid, where)
    if release.name != name:
        raise RegistryError(f"{where}: the manifest it points to is release {release.name!r}; the remote is inconsistent or tampered with")
    return oid, release
