"""`status`: per artifact, is it synced, local-only, modified or not hydrated?"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import FilerError
from ..project import Project
from ..registry import Entry
from ..workspace import current, current_many, only_files_absent

if TYPE_CHECKING:
    from ..manifest import FileChange, ManifestEntry

SYNCED, LOCAL, MODIFIED, MISSING = "synced", "local", "modified", "missing"


@dataclass
class ArtifactStatus:
    artifact: str
    registry: str
    kind: str
    state: str
    oid: str
    size: int
    files: int | None
    in_remote: bool | None  # None: no remote configured
    # With --files, for a modified or missing directory: the files that differ from the record
    # (None: not asked, or the directory's manifest is not in the cache to compare with).
    changes: list[FileChange] | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["changes"] = None if self.changes is None else [c.to_json() for c in self.changes]
        if self.changes is None:
            del out["changes"]
        return out


def status(
    project: Project, paths: list[str], *, check_remote: bool = False, remote: str | None = None, jobs: int | None = None, files: bool = False,
) -> list[ArtifactStatus]:
    jobs = project.jobs(jobs, remote=remote)  # reads the config first: a broken one is reported, not skipped
    entries = project.select(project.load_entries(), paths)
    try:
        remote_name: str | None = project.remote_config(remote).name
    except FilerError:
        if check_remote or remote is not None:
            raise  # a remote asked for by name must exist; only a repository with none is fine without one
        remote_name = None
    in_remote: dict[str, bool] = {}
    if remote_name is not None:
        if check_remote:
            from ..closure import oids_or_self
            from ..transfer import find_missing

            rem = project.remote(remote, jobs=jobs)
            closures = {e.registry: oids_or_self(project.store, e) for e in entries}
            wanted = {o for c in closures.values() for o in c}
            missing = find_missing(rem, wanted, jobs)
            project.state.remote_mark(remote_name, wanted - missing)
            project.state.remote_mark(remote_name, missing, present=False)
            in_remote = {reg: not (set(c) & missing) for reg, c in closures.items()}
        else:
            # A manifest is uploaded after all its files, so its presence vouches for them.
            held = project.state.remote_has_many(remote_name, [e.oid for e in entries])
            in_remote = {e.registry: e.oid in held for e in entries}
    out = []
    now = current_many(project, [e.artifact for e in entries])
    for e in entries:
        cur = now[e.artifact]
        if not cur.exists:
            state = MISSING
        elif cur.oid != e.oid:
            # A directory lacking some files, the rest as recorded (`pull -I` took only those): missing, not modified.
            state = MISSING if only_files_absent(project, e) else MODIFIED
        elif in_remote.get(e.registry):
            state = SYNCED
        else:
            state = LOCAL
        out.append(
            ArtifactStatus(
                e.artifact, e.registry, e.kind, state, e.oid, e.size, e.files,
                in_remote=in_remote.get(e.registry) if remote_name else None,
                changes=file_changes(project, e, jobs) if files and state in (MODIFIED, MISSING) and e.kind == "dir" else None,
            )
        )
    return out


def file_changes(project: Project, entry: Entry, jobs: int) -> list[FileChange] | None:
    """The files of a directory artifact that differ from its record, repo-relative; None when
    its manifest is not in the cache (status never reaches for the remote)."""
    # Imported here, as `--cloud` imports transfer: a plain `status` needs neither manifests nor closures.
    from ..closure import ManifestUnavailable, load_manifest
    from ..manifest import compare

    try:
        recorded = load_manifest(project.store, entry)
    except ManifestUnavailable:
        return None
    now = current(project, entry.artifact, jobs=jobs, listing=True)
    prefix = f"{entry.artifact}/"

    def keyed(files: list[ManifestEntry]) -> dict[str, ManifestEntry]:
        return {prefix + f.path: f for f in files}

    return compare(keyed(recorded), keyed(now.entries))
