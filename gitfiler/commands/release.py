"""`release create | publish | list`: name a set of artifacts at one commit, publish it to a
remote (objects first, the name last), and list what is published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import closure, sync
from ..errors import FilerError, ObjectMissingError, PartialFailure, most_serious
from ..objects import ObjectStore
from ..project import Project
from ..release import Release, check_name, decode_pointer, encode_pointer
from ..releases import LocalReleases, ReleaseExistsError, build, choose, component_entry, entries_at, fetch, load_manifest, open_location, save_manifest
from ..remotes import Remote
from ..transfer import ProgressSink, TransferResult, find_missing, upload
from ..versions import sort_key


@dataclass
class ReleaseInfo:
    oid: str
    release: Release
    published: bool | None = None  # None: not asked
    mtime: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.release.to_json()
        data.update(oid=self.oid, published=self.published)
        return data


def create(
    project: Project, name: str, *, components: tuple[str, ...] = (), rev: str = "HEAD", include: tuple[str, ...] = (), force: bool = False,
) -> ReleaseInfo:
    """Write the release manifest into the cache and record the name in this clone."""
    check_name(name)
    local = LocalReleases.of(project)
    if not force and local.get(name) is not None:
        raise ReleaseExistsError(f"release {name} already exists in this clone; choose another name, or replace it with --force")
    commit, entries = entries_at(project, rev)
    release = build(name, choose(entries, components, include, rev), commit)
    oid = save_manifest(project.store, release)
    local.save(name, oid, replace=force)
    return ReleaseInfo(oid, release)


@dataclass
class PublishResult:
    info: ReleaseInfo
    remote: str
    transfer: TransferResult
    already: bool = False  # the remote already had this very release under the name

    def to_json(self) -> dict[str, Any]:
        t = self.transfer
        return {"ok": True, "release": self.info.release.name, "oid": self.info.oid, "remote": self.remote, "already_published": self.already,
                "objects": t.objects, "bytes": t.bytes, "already_present": t.present}


def publish(project: Project, name: str, *, remote: str | None = None, force: bool = False, jobs: int | None = None, sink: ProgressSink | None = None) -> PublishResult:
    """Upload every object the release needs, then its manifest, then the pointer: a pointer in
    a remote vouches for everything below it. An existing name is never moved without `force`."""
    local = LocalReleases.of(project)
    oid = local.get(name)
    if oid is None:
        raise FilerError(f"no release {name} in this clone; create it first with 'git filer release create {name} ...'")
    store = project.store
    release = load_manifest(store, oid, f"release {name}")
    n = project.jobs(jobs, remote=remote)
    rem = project.remote(remote, jobs=n)
    existing = rem.get_release(name)
    if existing is not None and not force:
        theirs = decode_pointer(existing, f"release {name} in {rem.describe()}")
        if theirs != oid:
            raise ReleaseExistsError(
                f"release {name} is already published to {rem.describe()} with different content; a published name never moves: "
                "create the release under a new name (or move it with --force)"
            )
    entries = [component_entry(c) for c in release.components]
    resolved = closure.resolve(store, entries, remote=lambda: rem, jobs=n)
    problems = [(e.path, str(p)) for e in entries if (p := resolved.problem(e))]
    if problems:
        raise PartialFailure(f"cannot publish release {name}: {problems[0][0]}: {problems[0][1]}", problems, most_serious([p.exit_code for e in entries if (p := resolved.problem(e))]))
    closures = [c for e in entries if (c := resolved.get(e)) is not None]
    result, failed = sync.upload_missing(project, rem, closures, jobs=n, sink=sink)
    if failed:
        raise PartialFailure(
            f"cannot publish release {name}: {len(failed)} object(s) did not reach {rem.describe()}; nothing was published, retry",
            result.failures, most_serious(list(result.codes.values())) if result.codes else 1, result=result,
        )
    _upload_manifest(store, rem, oid, n)
    if existing is not None and not force:
        return PublishResult(ReleaseInfo(oid, release, True), rem.describe(), result, already=True)
    if not rem.put_release(name, encode_pointer(oid), replace=force):
        raise ReleaseExistsError(f"release {name} was published to {rem.describe()} by someone else meanwhile; a published name never moves")
    return PublishResult(ReleaseInfo(oid, release, True), rem.describe(), result)


def _upload_manifest(store: ObjectStore, rem: Remote, oid: str, jobs: int) -> None:
    if oid in find_missing(rem, [oid], jobs):
        done = upload(store, rem, [oid], {}, jobs)
        if done.failures:
            raise FilerError(f"cannot upload the release manifest {oid}: {done.failures[0][1]}")
        rem.flush()


def listing(
    project: Project | None, *, remote: str | None = None, local_only: bool = False, skipped: list[tuple[str, str]] | None = None,
) -> list[ReleaseInfo]:
    """Releases published to the remote (default: the default remote) and those created in
    this clone, in version order of their names. A published release that cannot be read
    (a malformed or tampered pointer or manifest) is left out and named in `skipped`.
    Without a project (a host with no repository), `remote` is a URL or directory and its
    manifests are read through a scratch store that is removed afterwards."""
    import tempfile

    if project is None:
        if not remote or local_only:
            raise FilerError("outside a repository, 'release list' needs -r URL (the remote's URL or directory)")
        with tempfile.TemporaryDirectory(prefix="gitfiler-release-list-") as scratch:
            return _published(open_location(remote, jobs=1), ObjectStore(scratch), {}, skipped)
    out: dict[str, ReleaseInfo] = {}
    local = LocalReleases.of(project) if project.has_git else None
    if not local_only:
        _published(project.remote(remote), project.store, out, skipped)
    if local is not None:
        for name in local.names():
            if name in out:
                continue
            mine = local.get(name)
            if mine is not None:
                out[name] = ReleaseInfo(mine, load_manifest(project.store, mine, f"release {name}"), None if local_only else False)
    return [out[n] for n in sorted(out, key=sort_key)]


def _published(rem: Remote, store: ObjectStore, out: dict[str, ReleaseInfo], skipped: list[tuple[str, str]] | None) -> list[ReleaseInfo]:
    """Add to `out` every release published in `rem`; returns them in version order."""
    for rec in rem.list_releases():
        try:
            oid, release = fetch(rem, rec.name, store)
        except ObjectMissingError:
            continue  # deleted while we listed
        except FilerError as err:
            if skipped is None:
                raise
            skipped.append((rec.name, str(err)))
            continue
        out[rec.name] = ReleaseInfo(oid, release, True, rec.mtime)
    return [out[n] for n in sorted(out, key=sort_key)]
