"""The sync engine shared by `push`, `pull`, `checkout`, `clone`, the hooks and the
Python API: move objects between cache and remote, and between cache and work tree,
for a given list of registry entries. Choosing the entries is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import closure
from .chunks import ChunkIndex, is_chunked_size
from .closure import Closure
from .errors import ConflictError, FilerError, IntegrityError, ObjectMissingError, PartialFailure, UnsafePathError, most_serious
from .globs import matches, may_select_below, selected
from .names import REGISTRY_SUFFIX
from .project import Project
from .registry import Entry
from .transfer import ProgressSink, TransferResult
from .workspace import HydrateReport, apply, current, plan


@dataclass
class SyncResult:
    transfer: TransferResult
    artifacts: int = 0
    hydrated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # directory artifacts hydrated only in the files -I/-X chose
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    codes: list[int] = field(default_factory=list)  # exit codes of the problems, where known

    def to_json(self, ok: bool) -> dict[str, Any]:
        t = self.transfer
        return {
            "ok": ok, "artifacts": self.artifacts, "objects": t.objects, "bytes": t.bytes, "already_present": t.present,
            "seconds": round(t.seconds, 3), "hydrated": self.hydrated, "kept": self.kept, "partial": self.partial,
            # Whole size of the objects moved; more than `bytes` when chunks already there were skipped.
            "logical_bytes": t.logical_bytes, "deduplicated": round(1 - t.bytes / t.logical_bytes, 4) if t.logical_bytes else 0.0,
            "remote": t.remote,
            "problems": [{"what": w, "why": y} for w, y in self.problems + t.failures],
        }


class UnmatchedInclude(FilerError):
    """An `--include` pattern selects nothing: most likely a typo, which must not pass for a
    successful run that hydrated nothing."""

    def __init__(self, patterns: list[str], *, excluding: bool) -> None:
        after = " (after --exclude)" if excluding else ""
        self.what = f"--include {', '.join(repr(p) for p in patterns)} matches no tracked artifact and no file inside one{after}"
        super().__init__(f"{self.what}; nothing was downloaded or written (see 'git filer ls')")
        self.patterns = patterns


@dataclass(frozen=True)
class Scope:
    """What `-I`/`-X` choose. An artifact, and a file inside a directory artifact, is in scope
    when `globs.selected` says so for its path: one rule for both. A directory artifact with only
    some of its files in scope is hydrated partly: those files (and its manifest), the others
    left alone. Every include pattern must select something."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def keeps(self, path: str) -> bool:
        return selected(path, self.include, self.exclude)

    def may_reach(self, entry: Entry) -> bool:
        """In scope whole, or (a directory) maybe in some of its files: its manifest tells."""
        return self.keeps(entry.artifact) or (entry.kind == "dir" and may_select_below(entry.artifact, self.include, self.exclude))

    def narrow(self, entries: list[Entry], resolved: closure.Resolved, unreadable: Sequence[str] = ()) -> tuple[list[Entry], list[str]]:
        """The entries with something in scope, and the directory artifacts among them only
        partly in scope; their closures in `resolved` are cut to the files in scope.
        `unreadable`: registry files that could not be read (reported elsewhere; a pattern
        naming their artifact did select something). Raises UnmatchedInclude otherwise."""
        hit = {p for p in self.include for reg in unreadable if matches(reg.removesuffix(REGISTRY_SUFFIX), p)}
        chosen: list[Entry] = []
        partial: list[str] = []
        for e in entries:
            found = resolved.get(e)
            whole = self.keeps(e.artifact)
            if found is None or e.kind == "file":
                # A file artifact here is in scope; a directory without a manifest cannot be
                # looked into: it stays, for its problem to be reported, and may be what a pattern meant.
                chosen.append(e)
                hit.update(p for p in self.include if matches(e.artifact, p) or (found is None and may_select_below(e.artifact, (p,), self.exclude)))
                continue
            files = found.files if whole and not self.exclude else tuple(i for i in found.files if self.keeps(i.path))
            if not files and (found.files or not whole):
                del resolved.closures[(e.registry, e.oid)]  # nothing of it in scope: fetch nothing for it
                continue
            if len(files) < len(found.files):
                resolved.closures[(e.registry, e.oid)] = replace(found, files=files)
                partial.append(e.artifact)
            chosen.append(e)
            for p in self.include:
                if p not in hit and (
                    (whole and matches(e.artifact, p)) or (may_select_below(e.artifact, (p,), ()) and any(matches(i.path, p) for i in files))
                ):
                    hit.add(p)
        unmatched = [p for p in self.include if p not in hit]
        if unmatched:
            raise UnmatchedInclude(unmatched, excluding=bool(self.exclude))
        return chosen, partial


def select(
    project: Project, paths: list[str], include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), *, lenient: bool = False,
) -> tuple[list[Entry], list[tuple[str, FilerError]]]:
    """The entries to act on, and (when `lenient`) the registry files that could not be read,
    which the caller reports while the others go ahead; without `lenient` the first bad one raises.
    With `include`/`exclude`, a directory artifact some of whose files may be in scope is among
    them too: `pull` with the same patterns reads its manifest and takes only those files."""
    bad: list[tuple[str, FilerError]] = []
    if lenient:
        entries, bad = project.load_entries_lenient()
    else:
        entries = project.load_entries()
    entries = project.select(entries, paths)
    scope = Scope(include, exclude)
    return [e for e in entries if scope.may_reach(e)], bad


@dataclass
class _AlsoCounting:
    """Forwards to `sink`, counting `extra` objects more: the directory manifests a run moves in
    a phase of their own, without a bar, so the bar names as many objects as the summary."""

    sink: ProgressSink
    extra: int

    def start(self, label: str, total_objects: int, total_bytes: int) -> None:
        self.sink.start(label, total_objects + self.extra, total_bytes)

    def advance(self, nbytes: int) -> None:
        self.sink.advance(nbytes)

    def finish(self) -> None:
        self.sink.finish()


def _counting(sink: ProgressSink | None, extra: int) -> ProgressSink | None:
    return _AlsoCounting(sink, extra) if sink is not None and extra else sink


# -- push -----------------------------------------------------------------------------------


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


def _push_closure(project: Project, entry: Entry) -> Closure | None:
    """What the remote must hold for `entry`, from the cache (or an unchanged work-tree copy).

    What the cache lacks is not an error here: a clone that never pulled an artifact has
    nothing to upload for it, and the remote is asked (`upload_missing`) whether it holds
    it; only what is missing there too fails. None: the manifest is not at hand, and it
    stands for its files, since a remote receives a manifest only after all of them."""
    store = project.store
    if not store.has(entry.oid):
        _recover_from_worktree(project, entry)
    try:
        found = closure.of(store, entry)
    except closure.ManifestUnavailable:
        return None
    if any(not store.has(i.oid) for i in found.files):
        _recover_from_worktree(project, entry)
    return found


def push(
    project: Project, entries: list[Entry], *, remote: str | None = None, jobs: int = 16, sink: ProgressSink | None = None,
) -> SyncResult:
    """Upload what `entries` need and the remote lacks (the remote is always asked)."""
    rem = project.remote(remote, jobs=jobs)
    problems: list[tuple[str, str]] = []
    codes: list[int] = []
    closures: list[Closure] = []
    bare: list[str] = []
    for e in entries:
        try:
            found = _push_closure(project, e)
        except FilerError as err:
            problems.append((e.registry, str(err)))
            codes.append(err.exit_code)
            continue
        if found is None:
            bare.append(e.oid)
        else:
            closures.append(found)
    result, _failed = upload_missing(project, rem, closures, bare=bare, jobs=jobs, sink=sink)
    out = SyncResult(result, artifacts=len(entries), problems=problems, codes=codes)
    raise_if_failed(out, "push")
    return out


def upload_missing(
    project: Project, rem: Any, closures: list[Closure], *, bare: list[str] | tuple[str, ...] = (), jobs: int, sink: ProgressSink | None = None,
) -> tuple[TransferResult, set[str]]:
    """Ask the remote what it lacks and upload it from the cache: files first, then each
    manifest whose files all made it (so a manifest in a remote vouches for its files).
    `bare`: manifests whose closures are unknown here; the remote must already hold them.

    Returns the transfer result (failures include objects the cache lacks) and every oid
    not confirmed in the remote. The remote hints are updated either way.
    """
    from .transfer import find_missing, push_chunked, push_streaming, upload

    sizes: dict[str, int] = {}
    file_oids: list[str] = []
    manifests: dict[str, list[str]] = {}  # manifest oid -> the file oids it needs first
    for c in closures:
        sizes.update(c.sizes())
        file_oids += c.file_oids()
        if c.manifest:
            manifests[c.manifest] = c.file_oids()
    for oid in bare:
        manifests.setdefault(oid, [])
    wanted = list(dict.fromkeys([*file_oids, *manifests]))
    missing = find_missing(rem, wanted, jobs, sizes=sizes)
    store = project.store
    absent = [(o, f"not in the filer remote '{rem.name}' nor in the local cache") for o in wanted if o in missing and not store.has(o)]
    failed = {o for o, _ in absent}
    planned = [m for m in manifests if m in missing and m not in failed]
    todo = [o for o in dict.fromkeys(file_oids) if o in missing and o not in failed]
    chunked, unconfirmed, streamed = _chunk_indexes(store, rem, todo, sizes)
    result = push_chunked(store, rem, chunked, jobs, sink, confirm=unconfirmed)
    result.merge(push_streaming(store, rem, streamed, sizes, jobs, sink))
    whole = [o for o in todo if o not in chunked and o not in streamed]
    result.merge(upload(store, rem, whole, sizes, jobs, _counting(sink, len(planned))))
    rem.flush()  # the files are durable before a manifest that vouches for them becomes visible
    failed |= {o for o, _ in result.failures}
    ready = [m for m, files in manifests.items() if m in missing and m not in failed and not (set(files) & failed)]
    failed |= {m for m in manifests if m in missing and m not in ready}
    result.merge(upload(store, rem, ready, sizes, jobs, None))
    rem.flush()
    failed |= {o for o, _ in result.failures}
    result.failures = absent + result.failures
    result.codes.update({o: ObjectMissingError.exit_code for o, _ in absent})
    result.present = len(wanted) - len(missing)
    result.remote = rem.describe()
    project.state.remote_mark(rem.name, set(wanted) - failed)
    return result, failed


def _chunk_indexes(store: Any, rem: Any, oids: list[str], sizes: dict[str, int]) -> tuple[dict[str, ChunkIndex], set[str], list[str]]:
    """The cached files among `oids` to send as chunks (large ones, to a remote that holds
    chunks) with their indexes, and those of them whose index push must still confirm against
    their bytes (an index in a remote vouches for the file, so it is never taken on trust from
    another process); and those to cut while they are sent (no recorded index, a remote that
    is a local directory: `transfer.push_streaming`). Anything else goes whole."""
    out: dict[str, ChunkIndex] = {}
    unconfirmed: set[str] = set()
    streamed: list[str] = []
    if not rem.sends_chunks(store):
        return out, unconfirmed, streamed
    for oid in oids:
        if not is_chunked_size(sizes.get(oid, 0)) or not store.has(oid, sizes[oid]):
            continue
        if rem.cheap_exists and not store.has_index(oid):
            streamed.append(oid)
            continue
        found = store.index_to_send(oid, sizes[oid])  # None: corrupt; the whole-object upload reports it
        if found is not None and found[0].size == sizes[oid]:
            out[oid] = found[0]
            if found[1]:
                unconfirmed.add(oid)
    return out, unconfirmed, streamed


# -- pull / checkout ----------------------------------------------------------------------------


def fetch(
    project: Project, entries: list[Entry], *, remote: str | None, jobs: int, sink: ProgressSink | None, offline: bool = False,
    narrow: Callable[[closure.Resolved], None] | None = None,
) -> tuple[TransferResult, closure.Resolved, list[tuple[str, str]]]:
    """Download into the cache what `entries` need and it lacks: manifests first, then files.
    `offline`: download nothing, only read the manifests the cache already has.
    `narrow`: called with the closures once the manifests are in, before any file is
    fetched; it may cut them (`Scope.narrow`) or raise to stop the run.

    Returns the transfer, the closures, and the entries whose manifest is
    unusable (a manifest that could not be had at all is left to the caller, which finds its
    objects absent)."""
    store = project.store
    result = TransferResult("download")
    rem = project.remote_on_demand(remote, jobs=jobs)

    def mark(r: Any, oids: set[str]) -> None:
        project.state.remote_mark(r.name, oids)

    resolved = closure.resolve(store, entries, remote=None if offline else rem, jobs=jobs, on_fetched=mark)
    if narrow is not None:
        narrow(resolved)
    if resolved.transfer is not None:
        result.merge(resolved.transfer)
    problems: list[tuple[str, str]] = []
    for (reg, _oid), err in resolved.problems.items():
        if not isinstance(err, closure.ManifestUnavailable):
            problems.append((reg, str(err)))
            result.codes[reg] = err.exit_code
    sizes: dict[str, int] = {}
    wanted: list[str] = []
    for c in resolved.closures.values():
        wanted += c.file_oids()
        sizes.update({i.oid: i.size for i in c.files})
    # A cached object of the wrong size is a torn write (power loss) or tampering: fetch it again.
    todo = [o for o in dict.fromkeys(wanted) if not store.has(o, sizes.get(o))]
    if todo and not offline:
        from .transfer import download

        # (A large object the remote holds as chunks is rebuilt from the chunks the cache
        # already has inside other versions: `transfer.download` decides.)
        r = download(
            store, rem(), todo, sizes, jobs, _counting(sink, resolved.transfer.objects if resolved.transfer else 0),
            earlier=_earlier_versions(project, resolved, set(todo)),
        )
        result.merge(r)
        mark(rem(), set(todo) - {o for o, _ in r.failures})
    if rem.opened is not None:
        result.remote = rem.opened.describe()
    return result, resolved, problems


def _earlier_versions(project: Project, resolved: closure.Resolved, todo: set[str]) -> list[str]:
    """The cached versions the work tree last held at the paths of the large files in `todo`
    (as the stat cache recorded them): what a rebuild from chunks is most likely to share."""
    paths = [i.path for c in resolved.closures.values() for i in c.files if i.oid in todo and is_chunked_size(i.size)]
    if not paths:
        return []
    found = project.state.stat_lookup(paths)
    return list(dict.fromkeys(oid for _key, _checked, oid in found.values() if oid not in todo and project.store.has(oid)))


def fetch_files(
    project: Project, entries: list[Entry], *, remote: str | None, jobs: int, sink: ProgressSink | None, nothing: str,
    narrow: Callable[[closure.Resolved], None] | None = None,
) -> tuple[TransferResult, list[closure.Item]]:
    """The transfer and every file `entries` hold, in the cache (fetched first where it lacked
    them, verified), or an error: an unusable manifest, a failed transfer, an object still absent. For commands
    that write all of it elsewhere or nothing (`export`, `pack --ref`); `nothing` ends each
    message ("nothing was written to DEST")."""
    transfer, resolved, problems = fetch(project, entries, remote=remote, jobs=jobs, sink=sink, narrow=narrow)
    for e in entries:
        problem = resolved.problem(e)
        if problem is not None:
            raise problem
    if problems:
        raise FilerError(f"{problems[0][0]}: {problems[0][1]}")
    if transfer.failures:
        raise PartialFailure(
            f"{len(transfer.failures)} object(s) could not be fetched; {nothing}", transfer.failures,
            most_serious(list(transfer.codes.values())) if transfer.codes else 1, result=transfer,
        )
    items = [i for e in entries if (c := resolved.get(e)) is not None for i in c.files]
    absent = [i for i in items if not project.store.has(i.oid, i.size)]
    if absent:
        raise ObjectMissingError(f"{absent[0].path}: object {absent[0].oid} is not in the cache and could not be fetched; {nothing}")
    return transfer, items


def pull(
    project: Project,
    entries: list[Entry],
    *,
    force: bool = False,
    remote: str | None = None,
    jobs: int = 16,
    sink: ProgressSink | None = None,
    offline: bool = False,
    previous: dict[str, str] | None = None,
    unreadable: list[tuple[str, FilerError]] | None = None,
    scope: Scope | None = None,
) -> SyncResult:
    """Fetch what `entries` need (unless `offline`) and hydrate the work tree.
    `unreadable`: registry files the caller could not read, reported with the rest.
    `scope`: the -I/-X that chose `entries` (`select`), which also choose files inside
    directory artifacts; an include pattern that selects nothing stops the run before any
    file is downloaded (UnmatchedInclude)."""
    from .tempfiles import area

    area(project.temp_base).sweep()  # what killed runs left, even when this run writes nothing
    bad = [(reg, str(err).removeprefix(f"{reg}: ").removeprefix(f"{reg} ")) for reg, err in unreadable or []]
    codes = [err.exit_code for _reg, err in unreadable or []]
    entries = list(entries)
    partial: list[str] = []
    scope = scope if scope is not None and (scope.include or scope.exclude) else None

    def narrow(resolved: closure.Resolved) -> None:
        if scope is not None:
            entries[:], partial[:] = scope.narrow(entries, resolved, [reg for reg, _err in unreadable or []])

    transfer, closures, problems = fetch(project, entries, remote=remote, jobs=jobs, sink=sink, offline=offline, narrow=narrow)
    codes += [transfer.codes.get(what, 1) for what, _ in problems]
    out = SyncResult(transfer, artifacts=len(entries), partial=partial, problems=bad + problems, codes=codes)
    failed = dict(transfer.failures)
    attributed: set[str] = set()
    only = scope.keeps if scope is not None else None
    with project.state.batch():
        _hydrate_all(
            project, entries, closures, failed, attributed, out, offline=offline, force=force, previous=previous, jobs=jobs, remote=remote, only=only,
        )
    # Each failure is reported once, under the artifact it affects where known.
    transfer.failures = [(o, why) for o, why in transfer.failures if o not in attributed]
    raise_if_failed(out, "checkout" if offline else "pull")
    return out


def _hydrate_all(
    project: Project, chosen: list[Entry], closures: closure.Resolved, failed: dict[str, str],
    attributed: set[str], out: SyncResult, *, offline: bool, force: bool, previous: dict[str, str] | None, jobs: int = 8,
    remote: str | None = None, only: Callable[[str], bool] | None = None,
) -> None:
    store = project.store
    planned: list[tuple[Entry, HydrateReport]] = []
    for e in chosen:
        found = closures.get(e)
        needed = found.oids() if found is not None else [e.oid]
        absent = [o for o in needed if not store.has(o)]
        if absent or found is None:
            why = next((failed[o] for o in absent if o in failed), None)
            if why is not None:
                out.problems.append((e.artifact, why))
                out.codes.append(most_serious([out.transfer.codes.get(o, 1) for o in absent if o in failed]))
                attributed.update(o for o in absent if o in failed)
                continue
            if found is None and not absent:
                continue  # its manifest is unusable: already reported by fetch
            hint = "run 'git filer pull'" if offline else "push it from a machine that has it"
            out.problems.append((e.artifact, f"{len(absent)} object(s) not available, e.g. {absent[0]}; {hint}"))
            out.codes.append(ObjectMissingError.exit_code)
            continue
        try:
            rep = plan(project, found, force=force, previous=previous, only=only)
        except FilerError as err:  # a link in the way: this artifact only
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
            sizes = {i.oid: i.size for i in rep.todo}
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


# -- dry runs: what push or pull would move ------------------------------------------------------


@dataclass
class SyncPlan:
    """What `push --dry-run` / `pull --dry-run` found: nothing is uploaded, downloaded or written
    (a pull's plan does read the directory manifests the cache lacks: they say which files there are)."""

    action: str  # "push" or "pull"
    remote: str
    artifacts: int
    objects: int = 0
    bytes: int = 0
    present: int = 0  # already where they would go
    files: int = 0  # pull: work-tree files that would be written
    kept: list[str] = field(default_factory=list)  # pull: modified files that would be kept (no --force)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": True, "action": self.action, "remote": self.remote, "artifacts": self.artifacts, "objects": self.objects, "bytes": self.bytes,
            "already_present": self.present, "files": self.files, "kept": self.kept, "problems": [{"what": w, "why": y} for w, y in self.problems],
        }


def plan_push(project: Project, entries: list[Entry], *, remote: str | None = None, jobs: int = 16) -> SyncPlan:
    """Which objects `push` would upload (the remote is asked, as push asks it) and how many bytes."""
    from .transfer import find_missing

    rem = project.remote(remote, jobs=jobs)
    out = SyncPlan("push", rem.describe(), len(entries))
    sizes: dict[str, int] = {}
    for e in entries:
        try:
            sizes.update(closure.of(project.store, e).sizes())
        except closure.ManifestUnavailable:
            sizes.setdefault(e.oid, 0)  # the manifest stands for its files: the remote must have it already
        except FilerError as err:
            out.problems.append((e.registry, str(err)))
    missing = find_missing(rem, list(sizes), jobs, sizes=sizes)
    out.present = len(sizes) - len(missing)
    for oid in missing:
        if project.store.has(oid):
            out.objects += 1
            out.bytes += sizes[oid]
        else:
            out.problems.append((oid, f"not in the filer remote '{rem.name}' nor in the local cache"))
    return out


def plan_pull(
    project: Project, entries: list[Entry], *, remote: str | None = None, jobs: int = 16, force: bool = False, scope: Scope | None = None,
) -> SyncPlan:
    """What `pull` would download into the cache and write into the work tree."""
    rem = project.remote_on_demand(remote, jobs=jobs)
    resolved = closure.resolve(project.store, entries, remote=rem, jobs=jobs)
    entries = list(entries)
    if scope is not None and (scope.include or scope.exclude):
        entries, _partial = scope.narrow(entries, resolved)
    only = scope.keeps if scope is not None and (scope.include or scope.exclude) else None
    out = SyncPlan("pull", rem().describe(), len(entries))
    seen: set[str] = set()
    for e in entries:
        found = resolved.get(e)
        if found is None:
            err = resolved.problem(e)
            out.problems.append((e.registry, str(err) if err else "its directory manifest is unavailable"))
            continue
        for item in found.files:
            if item.oid in seen:
                continue
            seen.add(item.oid)
            if project.store.has(item.oid, item.size):
                out.present += 1
            else:
                out.objects += 1
                out.bytes += item.size
        report = plan(project, found, force=force, only=only)
        out.files += len(report.todo)
        out.kept += report.kept
        out.problems += report.problems
    return out


def raise_if_failed(out: SyncResult, action: str) -> None:
    failures = list(out.problems) + list(out.transfer.failures)
    if failures:
        # Kept files are listed too: with other problems they would otherwise go unmentioned.
        kept = [(path, "modified in the work tree; kept, not overwritten (--force discards it)") for path in out.kept]
        codes = out.codes + [out.transfer.codes.get(o, 1) for o, _ in out.transfer.failures] + [ConflictError.exit_code] * len(kept)
        raise PartialFailure(f"{action} finished with {len(failures)} problem(s)", failures + kept, exit_code=most_serious(codes), result=out)
    if out.kept:
        raise ConflictError(
            f"{len(out.kept)} modified file(s) kept, not overwritten; commit them with 'git filer add' or rerun with --force to discard them",
            kept=out.kept, result=out,
        )
