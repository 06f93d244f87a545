"""`deploy`: put a release on a host and make it live; `deploy status | verify | rollback |
switch | prune` look after what is there. The target layout is `deployment.Target`'s.

A release comes from a remote by name (no git needed on the host), or from a commit of the
repository the command runs in (`--ref`). Every byte is verified before it is placed; the
release is built aside and renamed into place, then `current` is switched atomically, so a
failed or killed deploy leaves the live release as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import env
from ..deployment import DeployRecord, PlacedFile, Target
from ..errors import ConfigError, FilerError, IntegrityError, ObjectMissingError, PartialFailure, RegistryError, most_serious
from ..fsutil import sync_filesystem
from ..globs import matches
from ..objects import ObjectStore, digest_bytes
from ..release import Component, Release, encode, name_problem
from ..versions import sort_key

# `deploy status | verify | switch | rollback | prune` run on every host, often from scripts and
# health checks: what only fetching needs (remotes, boto3, git, sqlite, the transfer engine) is
# imported where it is used, so those verbs start in the time of the target's own code.
if TYPE_CHECKING:
    from .. import closure
    from ..project import Project
    from ..remotes import Remote
    from ..transfer import ProgressSink


@dataclass
class Source:
    """Where a release and its bytes come from."""

    release: Release
    release_oid: str
    manifest: bytes
    store: ObjectStore
    remote: Callable[[], Remote] | None
    describe: str


def cache_for(target_dir: str, cache: str | None, *, dry_run: bool = False) -> str:
    """The object cache a deploy uses: `cache` (the user's, maybe shared), else the target's own
    `.filer-deploy/cache`, whose directories are checked (never a link out of the target) before
    anything is written there. A dry run of a target that has none yet gets a throwaway one."""
    if cache:
        return os.path.abspath(cache)
    target = Target(target_dir)
    if dry_run and not os.path.isdir(target.default_cache):
        import atexit
        import shutil
        import tempfile

        scratch = tempfile.mkdtemp(prefix="gitfiler-dry-run-")
        atexit.register(shutil.rmtree, scratch, True)
        return scratch
    target.check_layout()  # what exists must be real directories; nothing is created before the release is found
    return target.default_cache


def remote_source(url: str | None, name: str, *, cache: str, jobs: int, project: Project | None = None) -> Source:
    """A published release: `url` is a remote URL, or (with `project`) a remote's name or None for its default remote."""
    from ..releases import fetch, open_location

    if project is not None:
        rem: Remote = project.remote(url, jobs=jobs)
    elif url:
        rem = open_location(url, jobs=jobs)
    else:
        raise ConfigError("no remote to deploy from; give --from URL")
    store = ObjectStore(cache)
    oid, release = fetch(rem, name, store)
    return Source(release, oid, store.read_verified(oid), store, lambda: rem, rem.describe())


def ref_source(project: Project, ref: str, name: str | None, *, remote: str | None, jobs: int) -> Source:
    """The artifacts of one commit of this repository, as a release named `name` (default: git-<commit>)."""
    from ..releases import build, entries_at

    commit, entries = entries_at(project, ref)
    if not entries:
        raise FilerError(f"{ref} tracks no artifacts; nothing to deploy")
    release = build(name or f"git-{commit[:12]}", entries, commit)
    data = encode(release)
    return Source(release, digest_bytes(data), data, project.store, lambda: project.remote(remote, jobs=jobs), f"{ref} ({commit[:12]})")


@dataclass
class DeployResult:
    target: str
    release: str
    previous: str | None
    changed: bool  # `current` now points elsewhere
    placed: bool  # the release directory was built by this run
    files: int
    bytes: int
    fetched_objects: int = 0
    fetched_bytes: int = 0
    dry_run: bool = False
    seconds: float = 0.0
    components: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True, "target": self.target, "release": self.release, "previous": self.previous, "changed": self.changed, "placed": self.placed,
            "files": self.files, "bytes": self.bytes, "fetched_objects": self.fetched_objects, "fetched_bytes": self.fetched_bytes,
            "dry_run": self.dry_run, "seconds": round(self.seconds, 3), "components": self.components,
        }


def _declared_mismatches(release: Release, resolved: closure.Resolved, entries: dict[str, Any]) -> list[tuple[str, str, int]]:
    """A directory component's manifest must hold exactly the file count and bytes the release
    declares: a release vouches for what a host will place, and a manifest that says otherwise
    (500 files where one was declared, gigabytes where one byte was) is refused."""
    out = []
    for c in release.components:
        found = resolved.get(entries[c.name])
        if found is None or c.kind != "dir":
            continue
        files, size = len(found.files), sum(i.size for i in found.files)
        if files != c.files or size != c.size:
            out.append((c.path, f"its directory manifest lists {files} file(s) of {size} bytes, the release declares {c.files} of {c.size}", RegistryError.exit_code))
    return out


def _picks(pattern: str, c: Component, path: str) -> bool:
    """Whether a deploy `-I` pattern takes the file at `path` of component `c`: by the component's name, or the file's release path."""
    return pattern == c.name or matches(path, pattern) or matches(c.name, pattern)


def deploy(
    target_dir: str, source: Source, *, include: tuple[str, ...] = (), jobs: int = 16, dry_run: bool = False, force: bool = False,
    link_components: bool = False, sink: ProgressSink | None = None, wait: float = 0.0,
) -> DeployResult:
    """`wait`: seconds to wait for another deploy of the target to finish (default: refuse at once)."""
    from .. import closure
    from ..releases import ReleaseExistsError, component_entry

    started = time.perf_counter()
    target = Target(target_dir)
    release = source.release
    name = release.name
    entries = {c.name: component_entry(c) for c in release.components}
    resolved = closure.resolve(source.store, entries.values(), remote=source.remote, jobs=jobs)
    problems = [(c.path, str(p), p.exit_code) for c in release.components if (p := resolved.problem(entries[c.name]))]
    problems += _declared_mismatches(release, resolved, entries)
    if problems and not dry_run:
        raise PartialFailure(
            f"release {name}: {problems[0][0]}: {problems[0][1]}", [(p, w) for p, w, _ in problems], most_serious([c for _, _, c in problems]),
        )
    files: list[PlacedFile] = []
    chosen: list[Component] = []
    matched: set[str] = set()
    for c in release.components:
        found = resolved.get(entries[c.name])
        items = [(i.path, i.oid, i.size, i.executable) for i in found.files] if found else [(c.path, c.oid, c.size, False)]
        picked = [PlacedFile(*i) for i in items if not include or any(_picks(g, c, i[0]) for g in include)]
        matched |= {g for g in include for i in items if _picks(g, c, i[0])}
        if picked:
            files += picked
            chosen.append(c)
    unmatched = [g for g in include if g not in matched]
    if unmatched:
        raise FilerError(f"--include {', '.join(repr(g) for g in unmatched)} matches nothing in release {name} (components: {', '.join(c.name for c in release.components)})")
    files.sort(key=lambda f: f.path)
    sizes = {f.oid: f.size for f in files}
    result = DeployResult(target.root, name, None, False, False, len(files), sum(f.size for f in files), components=[c.name for c in chosen])
    if dry_run:
        missing = [o for o in sizes if not source.store.has(o, sizes[o])]
        result.fetched_objects, result.fetched_bytes = len(missing), sum(sizes[o] for o in missing)
        result.previous = target.live() if os.path.isdir(target.root) else None
        result.changed = result.previous != name
        result.dry_run = True
        return result
    record = DeployRecord(name, source.release_oid, release.commit, source.describe, time.time(), list(include), files)
    with target.lock(wait):
        target.clean_staging()
        live = result.previous = target.live()
        if link_components:
            for c in chosen:
                target.component_link(c.name)  # refused before anything is fetched or switched
        have = target.record(name) if os.path.isdir(target.release_dir(name)) else None
        if have is None and os.path.lexists(target.release_dir(name)):
            raise ReleaseExistsError(f"{target.release_dir(name)} exists but no gitfiler deploy made it; move it away and deploy again")
        differs = have is not None and (have.release_oid != record.release_oid or have.files != record.files)
        if differs:
            if not force:
                raise ReleaseExistsError(
                    f"{target.release_dir(name)} holds a different release {name} (other content or --include); a deployed name never changes "
                    "in place: deploy under a new name, or replace it with --force (not while it is live)"
                )
            if live == name:
                raise ReleaseExistsError(f"release {name} is live in {target.root}; switch to another release before replacing it with --force")
        same = have is not None and not differs
        if same and have is not None:
            bad = target.check(have, deep=False)
            if bad and (live == name or not force):
                path, why, code = bad[0]
                fix = (f"it is live: deploy or switch to another release, then rebuild it with 'git-filer deploy {name} --force'" if live == name
                       else "rebuild it with the same command and --force")
                err = FilerError(f"release {name} in {target.root} is damaged ({path}: {why}); {fix}")
                err.exit_code = code
                raise err
            same = not (force and live != name)  # --force rebuilds a present release that is not live
        if not same:
            if os.path.lexists(target.release_dir(name)):
                target.remove(name)
            _drop_corrupt_cached(source.store, sizes)
            _fetch(source, sizes, jobs, sink, result)
            staging = target.new_staging_dir(name)
            own_cache = os.path.realpath(source.store.root) == os.path.realpath(target.default_cache)
            _place(source.store, staging, files, link=own_cache)
            target.commit(staging, record, source.manifest)
            result.placed = True
        if live != name:
            target.switch(name)
            result.changed = True
        if link_components:
            for c in chosen:
                target.link_component(c.name, c.path)
        target.drop_dangling_links()
    result.seconds = time.perf_counter() - started
    return result


def _fetch(source: Source, sizes: dict[str, int], jobs: int, sink: ProgressSink | None, result: DeployResult) -> None:
    missing = [o for o in sizes if not source.store.has(o, sizes[o])]
    if not missing:
        return
    from ..transfer import download

    if source.remote is None:
        raise ObjectMissingError(f"{len(missing)} object(s) are not in the cache and no remote was given")
    done = download(source.store, source.remote(), missing, sizes, jobs, sink)
    result.fetched_objects, result.fetched_bytes = done.objects, done.bytes
    if done.failures:
        raise PartialFailure(
            f"{len(done.failures)} object(s) could not be fetched; nothing was placed and the live release is unchanged",
            done.failures, most_serious(list(done.codes.values())) if done.codes else 1, result=done,
        )


def _drop_corrupt_cached(store: ObjectStore, sizes: dict[str, int]) -> None:
    """Re-hash what the cache already holds (a read, no write) so that nothing unchecked is
    placed; a corrupt object is dropped and fetched again like a missing one."""
    for oid, size in sizes.items():
        if oid not in store.verified and store.has(oid, size) and not store.verify(oid):
            store.remove(oid)


def _place(store: ObjectStore, staging: str, files: list[PlacedFile], *, link: bool = False) -> None:
    """Put every file into the staging directory, read-only, from objects verified in this run;
    then make it durable. With `link` (the target's own cache, same filesystem), a file is a
    hard link to its read-only cache object: one write per byte instead of two, and no second
    copy on disk. A shared cache, an executable file or a failed link gets a copy."""
    for f in files:
        if not store.has(f.oid, f.size):  # an object whose length is not the declared one is not the declared file
            actual = os.lstat(store.path(f.oid)).st_size if store.has(f.oid) else None
            raise IntegrityError(f"{f.path}: object {f.oid} holds {actual} bytes, the release declares {f.size}; nothing was placed", oid=f.oid)
        dest = os.path.join(staging, *f.path.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if link and not f.exec:
            store.check(f.oid)  # verified by this run already: free
            try:
                os.link(store.path(f.oid), dest)
                continue
            except OSError:
                pass  # another filesystem, too many links, not allowed: copy
        store.copy_out(f.oid, dest)
        os.chmod(dest, 0o555 if f.exec else 0o444)
    for dirpath, _dirs, _files in os.walk(staging, topdown=False):
        if dirpath != staging:
            os.chmod(dirpath, 0o555)
    sync_filesystem(staging)  # every byte on disk before the rename makes the release present


# -- looking after a target --------------------------------------------------------------------------


@dataclass
class ReleaseStatus:
    name: str
    live: bool
    previous: bool
    deployed: float
    files: int
    size: int
    commit: str | None
    source: str
    components: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StatusResult:
    target: str
    live: str | None
    previous: str | None
    releases: list[ReleaseStatus]
    disk_used: int

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "live": self.live, "previous": self.previous, "disk_used": self.disk_used, "releases": [r.to_json() for r in self.releases]}


def status(target_dir: str) -> StatusResult:
    target = Target(target_dir)
    target.require()
    live = target.live()
    previous = target.previous(live)
    rows = []
    for rec in target.records():
        manifest = target.release_manifest(rec.release)
        comps = [{"name": c.name, "type": c.type, "version": c.version, "path": c.path} for c in manifest.components] if manifest else []
        rows.append(ReleaseStatus(rec.release, rec.release == live, rec.release == previous, rec.deployed, len(rec.files), rec.size, rec.commit, rec.source, comps))
    rows.sort(key=lambda r: sort_key(r.name), reverse=True)
    return StatusResult(target.root, live, previous, rows, target.disk_usage())


@dataclass
class VerifyResult:
    target: str
    release: str
    deep: bool
    files: int
    problems: list[tuple[str, str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"ok": not self.problems, "target": self.target, "release": self.release, "deep": self.deep, "files": self.files,
                "problems": [{"path": p, "why": w} for p, w, _ in self.problems]}

    def failure(self) -> PartialFailure | None:
        if not self.problems:
            return None
        return PartialFailure(
            f"release {self.release} in {self.target}: {len(self.problems)} problem(s); redeploy it with 'git-filer deploy {self.release} --force' after switching away, or deploy another release",
            [(p, w) for p, w, _ in self.problems], most_serious([c for _, _, c in self.problems]), result=self,
        )


def verify(target_dir: str, *, release: str | None = None, deep: bool = False, jobs: int = 2) -> VerifyResult:
    target = Target(target_dir)
    target.require()
    name = release or target.live()
    if name is None:
        raise FilerError(f"nothing is live in {target.root}; deploy a release first")
    rec = target.record(name)
    if rec is None:
        raise ObjectMissingError(f"release {name} is not present in {target.root} (no deploy record); see 'git-filer deploy status'")
    problems = target.check(rec, deep=deep, jobs=jobs)
    if name == target.live():
        problems += [(os.path.join(target.root, n), "a component link to a path the live release does not have", 1) for n in target.dangling_links()]
    manifest_path = os.path.join(target.records_dir, f"{name}.release.json")
    kept = target.release_manifest_bytes(name)
    if kept is None:
        problems.append((manifest_path, "missing", 7))
    elif digest_bytes(kept) != rec.release_oid:
        problems.append((manifest_path, "the release manifest kept here does not hash to the recorded oid", 6))
    return VerifyResult(target.root, name, deep, len(rec.files), problems)


@dataclass
class SwitchResult:
    target: str
    release: str
    previous: str | None
    changed: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def switch(target_dir: str, name: str) -> SwitchResult:
    target = Target(target_dir)
    target.require()
    with target.lock():
        live = target.live()
        rec = target.record(name)
        if rec is None:
            raise ObjectMissingError(f"release {name} is not present in {target.root}; deploy it first (see 'git-filer deploy status')")
        bad = target.check(rec, deep=False)
        if bad:
            raise FilerError(f"release {name} in {target.root} is damaged ({bad[0][0]}: {bad[0][1]}); not switching to it; redeploy it with --force")
        if live != name:
            target.switch(name)
            target.drop_dangling_links()
        return SwitchResult(target.root, name, live, live != name)


def rollback(target_dir: str) -> SwitchResult:
    target = Target(target_dir)
    target.require()
    live = target.live()
    previous = target.previous(live)
    if previous is None:
        raise FilerError(f"no release in {target.root} was deployed before {live or 'the live one'}; nothing to roll back to (see 'git-filer deploy status')")
    return switch(target_dir, previous)


@dataclass
class PruneResult:
    target: str
    removed: list[str]
    kept: list[str]
    freed: int
    dry_run: bool
    cache_objects_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def prune(target_dir: str, *, keep: int, dry_run: bool = False) -> PruneResult:
    """Remove all but the `keep` most recently deployed releases; never the live one or the one rollback would return to."""
    if keep < 1:
        raise ConfigError("--keep must be at least 1")
    target = Target(target_dir)
    target.require()
    with target.lock():
        live = target.live()
        protected = {live, target.previous(live)}
        recs = target.records()
        kept = [r.release for r in recs[:keep]] + [r.release for r in recs[keep:] if r.release in protected]
        doomed = [r.release for r in recs[keep:] if r.release not in protected]
        freed = sum(target.disk_usage(target.release_dir(n)) for n in doomed)
        if not dry_run:
            for n in doomed:
                target.remove(n)
        result = PruneResult(target.root, doomed, kept, freed, dry_run)
        _prune_default_cache(target, [r for r in recs if r.release not in doomed], result)
        return result


def _prune_default_cache(target: Target, remaining: list[DeployRecord], result: PruneResult) -> None:
    """The target's own cache (`.filer-deploy/cache`) keeps only what the remaining releases use,
    so a host's disk does not grow with every release. A cache given with --cache may be shared
    with other targets: it is never collected here."""
    cache = target.default_cache
    if not os.path.isdir(os.path.join(cache, "objects")):
        return
    keep: set[str] = set()
    for rec in remaining:
        keep.add(rec.release_oid)
        keep.update(f.oid for f in rec.files)
        manifest = target.release_manifest(rec.release)
        if manifest is not None:
            keep.update(c.oid for c in manifest.components)
    store = ObjectStore(cache)
    for oid in list(store.iter_oids()):
        if oid in keep:
            continue
        try:
            size = os.lstat(store.path(oid)).st_size
        except FileNotFoundError:
            continue
        if result.dry_run or store.remove(oid):
            result.cache_objects_removed += 1
            result.freed += size


# -- configuration from the environment alone (containers) ----------------------------------------------


@dataclass
class EnvSettings:
    remote: str
    release: str
    target: str
    cache: str | None
    jobs: int | None


def settings_from_env() -> EnvSettings:
    """Everything a container's start-up needs, from GITFILER_* variables. Every missing or bad
    variable is reported at once, in one message, before anything is fetched."""
    from ..remotes import parse_url

    problems: list[str] = []
    values: dict[str, Any] = {}
    what = {env.REMOTE.name: "the remote's URL", env.RELEASE.name: "the release name", env.TARGET.name: "the target directory"}
    unset = []
    for var in (env.REMOTE, env.RELEASE, env.TARGET):
        values[var.name] = var.raw()
        if values[var.name] is None:
            unset.append(f"{var.name} ({what[var.name]})")
    if unset:
        problems.append(f"not set: {', '.join(unset)}")
    for check in (env.jobs, env.s3_max_attempts, env.retry_budget):
        try:
            values[check.__name__] = check()
        except ConfigError as err:
            problems.append(str(err).split("; ")[0])
    url, name = values[env.REMOTE.name], values[env.RELEASE.name]
    if url is not None:
        try:
            parse_url(url)
            if "://" not in url and not os.path.isabs(url):
                problems.append(f"{env.REMOTE.name}={url!r} is not a URL; give s3://bucket/prefix or an absolute directory")
        except ConfigError as err:
            problems.append(str(err))
    if name is not None and (problem := name_problem(name)):
        problems.append(f"{env.RELEASE.name}: {problem}")
    target = values[env.TARGET.name]
    if target is not None and not os.path.isabs(target):
        problems.append(f"{env.TARGET.name}={target!r} is relative; give an absolute directory")
    if problems:
        raise ConfigError(f"deploy --from-env needs GITFILER_REMOTE, GITFILER_RELEASE and GITFILER_TARGET: {'; '.join(problems)}")
    return EnvSettings(url, name, values[env.TARGET.name], env.cache_dir(), values["jobs"])
