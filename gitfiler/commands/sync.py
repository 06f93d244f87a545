"""`push`, `pull` and `checkout`: move objects between cache and remote, and
between cache and work tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConflictError, FilerError, IntegrityError, ObjectMissingError, PartialFailure, UnsafePathError, most_serious
from ..globs import selected
from ..manifest import ManifestEntry
from ..project import Project
from ..registry import Entry
from ..transfer import ProgressSink, TransferResult
from ..workspace import HydrateReport, apply, current, load_manifest, plan


@dataclass
class SyncResult:
    transfer: TransferResult
    artifacts: int = 0
    hydrated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    codes: list[int] = field(default_factory=list)  # exit codes of the problems, where known


def _recover_from_worktree(project: Project, entry: Entry) -> bool:
    """Put an artifact's objects back into the cache from an unchanged work tree copy."""
    try:
        cur = current(project, entry.artifact)
        if not cur.exists or cur.oid != entry.oid:
            return False
        cur = current(project, entry.artifact, store=project.store)
    except FilerError:
        return False
    if cur.manifest_bytes is not None:
        project.store.write_bytes(cur.manifest_bytes)
    return True


def _closure_for_push(project: Project, entry: Entry, sizes: dict[str, int]) -> tuple[list[str], str | None]:
    """(file oids, manifest oid or None) that the remote must hold for `entry`.

    What the cache lacks is not an error here: a clone that never pulled an artifact has
    nothing to upload for it, and the remote is asked (`upload_missing`) whether it holds
    it; only what is missing there too fails. A manifest the cache lacks stands for its
    files, since a remote receives a manifest only after all of them."""
    store = project.store
    if not store.has(entry.oid):
        _recover_from_worktree(project, entry)
    if entry.kind == "file":
        sizes[entry.oid] = entry.size
        return [entry.oid], None
    if not store.has(entry.oid):
        return [], entry.oid
    files = load_manifest(store, entry)
    if any(not store.has(m.oid) for m in files):
        _recover_from_worktree(project, entry)
    for m in files:
        sizes[m.oid] = m.size
    sizes[entry.oid] = store.size(entry.oid)
    return [m.oid for m in files], entry.oid


def push(
    project: Project, paths: list[str], *, remote: str | None = None, jobs: int = 16, sink: ProgressSink | None = None,
    entries: list[Entry] | None = None,
) -> SyncResult:
    chosen = entries if entries is not None else project.select(project.load_entries(), paths)
    rem = project.remote(remote, jobs=jobs)
    sizes: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    file_oids: list[str] = []
    manifests: dict[str, list[str]] = {}  # manifest oid -> the file oids it needs first
    for e in chosen:
        try:
            files, man = _closure_for_push(project, e, sizes)
        except (FilerError, IntegrityError) as err:
            problems.append((e.registry, str(err)))
            continue
        file_oids += files
        if man:
            manifests[man] = files
    result, _failed = upload_missing(project, rem, file_oids, manifests, sizes, jobs=jobs, sink=sink)
    out = SyncResult(result, artifacts=len(chosen), problems=problems)
    _raise_if_failed(out, "push")
    return out


def upload_missing(
    project: Project, rem, file_oids: list[str], manifests: dict[str, list[str]], sizes: dict[str, int], *,
    jobs: int, sink: ProgressSink | None = None,
) -> tuple[TransferResult, set[str]]:
    """Ask the remote what it lacks and upload it from the cache: files first, then each
    manifest whose files all made it (so a manifest in a remote vouches for its files).

    Returns the transfer result (failures include objects the cache lacks) and every oid
    not confirmed in the remote. The remote hints are updated either way.
    """
    from ..transfer import find_missing, upload

    wanted = list(dict.fromkeys([*file_oids, *manifests]))
    missing = find_missing(rem, wanted, jobs)
    store = project.store
    absent = [(o, f"not in the filer remote '{rem.name}' nor in the local cache") for o in wanted if o in missing and not store.has(o)]
    failed = {o for o, _ in absent}
    result = upload(store, rem, [o for o in dict.fromkeys(file_oids) if o in missing and o not in failed], sizes, jobs, sink)
    rem.flush()  # the files are durable before a manifest that vouches for them becomes visible
    failed |= {o for o, _ in result.failures}
    ready = [m for m, files in manifests.items() if m in missing and m not in failed and not (set(files) & failed)]
    failed |= {m for m in manifests if m in missing and m not in ready}
    result.merge(upload(store, rem, ready, sizes, jobs, None))
    rem.flush()
    failed |= {o for o, _ in result.failures}
    result.failures = absent + result.failures
    result.present = len(wanted) - len(missing)
    project.state.remote_mark(rem.name, set(wanted) - failed)
    return result, failed


def _selected_entries(
    project: Project, paths: list[str], include: tuple[str, ...], exclude: tuple[str, ...], problems: list[tuple[str, str]] | None = None,
    codes: list[int] | None = None,
) -> list[Entry]:
    """The entries to act on. With `problems`, a bad registry file is reported there and the
    others go ahead; without it, the first bad one raises."""
    if problems is None:
        entries = project.load_entries()
    else:
        entries, bad = project.load_entries_lenient()
        for reg, err in bad:
            problems.append((reg, str(err).removeprefix(f"{reg}: ").removeprefix(f"{reg} ")))
            if codes is not None:
                codes.append(err.exit_code)
    entries = project.select(entries, paths)
    return [e for e in entries if selected(e.artifact, include, exclude)]


def fetch(
    project: Project, entries: list[Entry], *, remote: str | None, jobs: int, sink: ProgressSink | None, offline: bool = False,
) -> tuple[TransferResult, dict[str, list[ManifestEntry]], list[tuple[str, str]]]:
    """Download into the cache what `entries` need and it lacks: manifests first, then files.
    `offline`: download nothing, only read the manifests the cache already has."""
    store = project.store
    result = TransferResult("download")
    problems: list[tuple[str, str]] = []
    rem = None

    def get(oids: list[str], sizes: dict[str, int], progress: ProgressSink | None) -> None:
        # Whatever is still absent afterwards is reported per artifact by the caller.
        nonlocal rem
        # A cached object of the wrong size is a torn write (power loss) or tampering: fetch it again.
        todo = [o for o in dict.fromkeys(oids) if not store.has(o, sizes.get(o))]
        if not todo or offline:
            return
        if rem is None:
            rem = project.remote(remote, jobs=jobs)
        from ..transfer import download

        r = download(store, rem, todo, sizes, jobs, progress)
        result.merge(r)
        project.state.remote_mark(rem.name, set(todo) - {o for o, _ in r.failures})

    dirs = [e for e in entries if e.kind == "dir"]
    get([e.oid for e in dirs], {}, None)
    manifests: dict[str, list[ManifestEntry]] = {}
    for e in dirs:
        if store.has(e.oid):
            try:
                manifests[e.registry] = load_manifest(store, e)
            except FilerError as err:
                problems.append((e.registry, str(err)))
                result.codes[e.registry] = err.exit_code
    sizes: dict[str, int] = {}
    wanted: list[str] = []
    for e in entries:
        if e.kind == "file":
            wanted.append(e.oid)
            sizes[e.oid] = e.size
        else:
            for m in manifests.get(e.registry, []):
                wanted.append(m.oid)
                sizes[m.oid] = m.size
    get(wanted, sizes, sink)
    return result, manifests, problems


def pull(
    project: Project,
    paths: list[str],
    *,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    force: bool = False,
    remote: str | None = None,
    jobs: int = 16,
    sink: ProgressSink | None = None,
    offline: bool = False,
    entries: list[Entry] | None = None,
    previous: dict[str, str] | None = None,
) -> SyncResult:
    from ..tempfiles import area

    area(project.temp_base).sweep()  # what killed runs left, even when this run writes nothing
    bad: list[tuple[str, str]] = []
    codes: list[int] = []
    chosen = entries if entries is not None else _selected_entries(project, paths, include, exclude, bad, codes)
    transfer, manifests, problems = fetch(project, chosen, remote=remote, jobs=jobs, sink=sink, offline=offline)
    codes += [transfer.codes.get(what, 1) for what, _ in problems]
    out = SyncResult(transfer, artifacts=len(chosen), problems=bad + problems, codes=codes)
    failed = dict(transfer.failures)
    attributed: set[str] = set()
    with project.state.batch():
        _hydrate_all(
            project, chosen, manifests, failed, attributed, out, offline=offline, force=force, previous=previous, jobs=jobs, remote=remote,
        )
    # Each failure is reported once, under the artifact it affects where known.
    transfer.failures = [(o, why) for o, why in transfer.failures if o not in attributed]
    _raise_if_failed(out, "checkout" if offline else "pull")
    return out


def _hydrate_all(
    project: Project, chosen: list[Entry], manifests: dict[str, list[ManifestEntry]], failed: dict[str, str],
    attributed: set[str], out: SyncResult, *, offline: bool, force: bool, previous: dict[str, str] | None, jobs: int = 8,
    remote: str | None = None,
) -> None:
    store = project.store
    planned: list[tuple[Entry, HydrateReport]] = []
    for e in chosen:
        needed = [e.oid] if e.kind == "file" else [m.oid for m in manifests.get(e.registry, [])] + [e.oid]
        absent = [o for o in needed if not store.has(o)]
        if absent:
            why = next((failed[o] for o in absent if o in failed), None)
            if why is not None:
                out.problems.append((e.artifact, why))
                out.codes.append(most_serious([out.transfer.codes.get(o, 1) for o in absent if o in failed]))
                attributed.update(o for o in absent if o in failed)
                continue
            hint = "run 'git filer pull'" if offline else "push it from a machine that has it"
            out.problems.append((e.artifact, f"{len(absent)} object(s) not available, e.g. {absent[0]}; {hint}"))
            out.codes.append(ObjectMissingError.exit_code)
            continue
        try:
            rep = plan(project, e, force=force, manifest_entries=manifests.get(e.registry), previous=previous)
        except FilerError as err:  # a bad manifest, a link in the way: this artifact only
            out.problems.append((e.artifact, str(err)))
            out.codes.append(err.exit_code)
            continue
        out.problems += rep.problems
        out.codes += [UnsafePathError.exit_code] * len(rep.problems)
        out.kept += rep.kept
        planned.append((e, rep))
    try:
        apply(project, [rep for _e, rep in planned], jobs=min(jobs, 8))
    except FilerError:
        # Place artifact by artifact so each problem is named and the others still land.
        for e, rep in planned:
            _apply_one(project, e, rep, out, offline=offline, remote=remote, jobs=jobs)
    for _e, rep in planned:
        out.hydrated += rep.written


def _apply_one(project: Project, e: Entry, rep: HydrateReport, out: SyncResult, *, offline: bool, remote: str | None, jobs: int) -> None:
    """Apply one artifact's plan. A cache object that fails verification now (a torn write, a
    flipped bit) is dropped and fetched again once, rather than blocking the pull for good."""
    for attempt in (1, 2):
        try:
            apply(project, [rep])
            return
        except IntegrityError as err:
            sizes = {oid: size for oid, _rel, _x, size in rep.todo}
            if attempt == 2 or offline or not err.oid or err.oid not in sizes:
                out.problems.append((e.artifact, str(err)))
                out.codes.append(err.exit_code)
                return
            project.store.remove(err.oid)
            refetched, _, _ = fetch(project, [_file_entry(e, err.oid, sizes[err.oid])], remote=remote, jobs=jobs, sink=None)
            if refetched.failures:
                out.problems.append((e.artifact, f"{err}; fetching it again failed: {refetched.failures[0][1]}"))
                out.codes.append(err.exit_code)
                return
        except FilerError as err:
            out.problems.append((e.artifact, str(err)))
            out.codes.append(err.exit_code)
            return


def _file_entry(e: Entry, oid: str, size: int) -> Entry:
    """A one-object stand-in for fetching a single object of `e` again."""
    return Entry(registry=e.registry, path=e.path, kind="file", oid=oid, size=size)


def _raise_if_failed(out: SyncResult, action: str) -> None:
    failures = list(out.problems) + list(out.transfer.failures)
    if failures:
        # Kept files are listed too: with other problems they would otherwise go unmentioned.
        kept = [(path, "modified in the work tree; kept, not overwritten (--force discards it)") for path in out.kept]
        codes = out.codes + [out.transfer.codes.get(o, 1) for o, _ in out.transfer.failures] + [ConflictError.exit_code] * len(kept)
        err = PartialFailure(f"{action} finished with {len(failures)} problem(s)", failures + kept, exit_code=most_serious(codes))
        err.result = out  # type: ignore[attr-defined]
        raise err
    if out.kept:
        err2 = ConflictError(
            f"{len(out.kept)} modified file(s) kept, not overwritten; commit them with 'git filer add' or rerun with --force to discard them"
        )
        err2.result = out  # type: ignore[attr-defined]
        err2.kept = out.kept  # type: ignore[attr-defined]
        raise err2
