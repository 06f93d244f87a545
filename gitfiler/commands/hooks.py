"""What each git hook does. The shims call `git filer hook NAME`, which lands here
through `gitfiler.hookcli` (no click, so a hook with nothing to do stays cheap).

- post-commit: upload what the new commit's registry files reference (never fails the commit).
- pre-push: validate every registry file added or changed in every pushed commit, and make
  sure the filer remote holds every object they reference; refuse the push otherwise.
- post-checkout / post-merge / post-rewrite: hydrate what the new HEAD references.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .. import git, registry
from ..errors import FilerError, IntegrityError, PartialFailure, RegistryError, UnsafePathError
from ..globs import selected
from ..manifest import decode as decode_manifest
from ..project import Project, check_entry
from ..registry import SUFFIX, Entry
from ..remotes import PUSH
from ..workspace import HydrateReport, retire
from .sync import SyncResult


@dataclass
class Refusal:
    commit: str
    registry: str
    oid: str
    reason: str


@dataclass
class PrePushReport:
    commits: int = 0
    registry_files: int = 0
    objects: int = 0
    uploaded: int = 0
    refusals: list[Refusal] = field(default_factory=list)


def _closure(project: Project, entry: Entry, remote, report: PrePushReport, commit: str) -> tuple[list[str], str | None]:
    """(file oids, manifest oid) of an entry; a bad manifest becomes a refusal."""
    if entry.kind == "file":
        return [entry.oid], None
    store = project.store
    if not store.has(entry.oid):
        try:
            remote.download(entry.oid, store)
        except FilerError:
            report.refusals.append(Refusal(commit, entry.registry, entry.oid, "directory manifest is neither in the cache nor in the filer remote"))
            return [], None
    try:
        files = decode_manifest(store.read_verified(entry.oid), f"{entry.registry} (manifest {entry.oid})")
    except (RegistryError, IntegrityError) as err:
        report.refusals.append(Refusal(commit, entry.registry, entry.oid, str(err)))
        return [], None
    return [m.oid for m in files], entry.oid


def pre_push(project: Project, commits: list[str], changes: list[git.Change], *, jobs: int = 16) -> PrePushReport:
    """Validate the registry files `changes` names (from `prepush.pushed_changes`) and
    make sure the filer remote holds everything they reference."""
    report = PrePushReport()
    report.commits = len(commits)
    if not changes:
        return report
    first_seen: dict[str, git.Change] = {}
    for ch in changes:
        first_seen.setdefault(ch.blob, ch)
    blobs = git.read_blobs(project.root, list(first_seen))
    entries: list[tuple[git.Change, Entry]] = []
    for blob, ch in first_seen.items():
        if blob in blobs.too_large:
            report.refusals.append(Refusal(ch.commit, ch.path, "-", f"{blobs.too_large[blob]} bytes, larger than a registry file may be (1 MiB)"))
            continue
        try:
            entries.append((ch, registry.loads(blobs[blob], ch.path)))
        except (RegistryError, UnsafePathError, KeyError) as err:
            reason = str(err).removeprefix(f"{ch.path}: ") if not isinstance(err, KeyError) else "blob missing from the local repository"
            report.refusals.append(Refusal(ch.commit, ch.path, "-", reason))
    report.registry_files = len(entries)
    remote = project.remote(jobs=jobs)
    if not entries:
        return report
    # A shared lock: no `gc --remote` deletes from the remote while this check runs, and
    # none is running now (else the push is refused: RemoteError). Three small requests.
    with remote.lock(PUSH):
        sizes: dict[str, int] = {}
        owners: dict[str, tuple[str, str]] = {}  # oid -> (commit, registry) for messages
        file_oids: dict[str, None] = {}
        manifests: dict[str, list[str]] = {}
        for ch, e in entries:
            files, man = _closure(project, e, remote, report, ch.commit)
            for o in files:
                file_oids[o] = None
                owners.setdefault(o, (ch.commit, e.registry))
            if e.kind == "file":
                sizes[e.oid] = e.size
            if man:
                manifests[man] = files
                owners.setdefault(man, (ch.commit, e.registry))
        from .sync import upload_missing

        result, _failed = upload_missing(project, remote, list(file_oids), manifests, sizes, jobs=jobs)
        report.objects = len(set(file_oids) | set(manifests))
        for o, why in result.failures:
            commit, reg = owners[o]
            report.refusals.append(Refusal(commit, reg, o, why))
        report.uploaded = result.objects
    return report


def post_commit(project: Project, *, jobs: int = 16) -> SyncResult | None:
    """Upload the objects of registry files the new commit added or changed; None if there are none."""
    head = git.rev_parse(project.root, "HEAD")
    changes = git.changed_files(project.root, [head] if head else [], SUFFIX)
    if not changes:
        return None
    blobs = git.read_blobs(project.root, [c.blob for c in changes])
    for c in changes:
        if c.blob in blobs.too_large:
            raise RegistryError(f"{c.path}: larger than 1 MiB; not a registry file")
    entries = [registry.loads(blobs[c.blob], c.path) for c in changes if c.blob in blobs]
    from .sync import push

    return push(project, [], jobs=jobs, entries=entries)


def autopull_selected(project: Project, entries: list[Entry]) -> list[Entry]:
    setting = project.config.autopull
    env = os.environ.get("GITFILER_AUTOPULL")
    if env is not None:
        setting = env.lower() not in ("0", "false", "no", "off")
    if setting is False:
        return []
    if isinstance(setting, list):
        return [e for e in entries if selected(e.artifact, setting, ())]
    return entries


def previous_oids(project: Project, old: str, registries: list[str]) -> dict[str, str]:
    """Work tree path -> oid as the registry files of commit `old` recorded them."""
    prev: dict[str, str] = {}
    if not old or old == git.ZERO_SHA:
        return prev
    for reg, data in git.files_at(project.root, old, registries).items():
        try:
            e = registry.loads(data, reg)
        except (RegistryError, UnsafePathError):
            continue
        if e.kind == "file":
            prev[e.artifact] = e.oid
        elif project.store.has(e.oid):
            try:
                for m in decode_manifest(project.store.read_verified(e.oid), reg):
                    prev[f"{e.artifact}/{m.path}"] = m.oid
            except (RegistryError, IntegrityError):
                continue
    return prev


def hydrate_changed(project: Project, old: str, new: str, *, jobs: int = 16) -> tuple[SyncResult | None, HydrateReport]:
    """Bring the work tree from commit `old` to `new` for artifacts whose registry files differ.

    Artifacts whose registry file disappeared are removed if unmodified; then the
    rest are hydrated. Raises ConflictError/PartialFailure like `pull`.
    """
    retired = HydrateReport()
    if old and old != git.ZERO_SHA and git.object_exists(project.root, old):
        regs = git.diff_names(project.root, old, new, f"*{SUFFIX}")
    else:
        regs = git.ls_files(project.root, [f"*{SUFFIX}"], others=False)
    present = [r for r in regs if _is_regular(project, r)]
    gone = [r for r in regs if r not in set(present)]
    for reg, data in (git.files_at(project.root, old, gone) if gone else {}).items():
        try:
            rep = retire(project, check_entry(registry.loads(data, reg)))
        except FilerError:
            continue  # what a bad or unreadable record names is left alone
        retired.removed += rep.removed
        retired.kept += rep.kept
    if not present:
        return None, retired
    good, bad = project.load_entries_lenient(present)
    entries = autopull_selected(project, good)
    from .sync import pull

    try:
        result = pull(project, [], jobs=jobs, entries=entries, previous=previous_oids(project, old, [e.registry for e in entries])) if entries else None
    except PartialFailure as err:
        err.failures = [(reg, str(e)) for reg, e in bad] + err.failures
        raise
    if bad:
        # The good ones are hydrated; the bad registry files are named, each on its line.
        raise PartialFailure(f"{len(bad)} registry file(s) could not be read", [(reg, str(e)) for reg, e in bad], exit_code=bad[0][1].exit_code)
    return result, retired


def _is_regular(project: Project, rel: str) -> bool:
    try:
        st = project.tree.lstat(rel)
    except UnsafePathError:
        return False
    return st is not None and stat.S_ISREG(st.st_mode)


def in_rebase(project: Project) -> bool:
    assert project.git_dir
    return any(os.path.isdir(os.path.join(project.git_dir, d)) for d in ("rebase-merge", "rebase-apply"))
