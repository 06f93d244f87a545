"""pre-push: the gate. Every registry file added or changed in every pushed commit is
validated, and the filer remote must hold every object they reference (what it lacks is
uploaded from the cache first); anything that cannot be satisfied refuses the push.

Which commits a push sends is `triggers.push_range` (the rule the shim's fast path uses too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import closure, git, registry, sync
from ..errors import ObjectMissingError, RegistryError, RemoteError, UnsafePathError, most_serious
from ..project import Project
from ..registry import SUFFIX, Entry
from ..remotes import PUSH
from .triggers import parse_push_lines, push_range

__all__ = ["PrePushReport", "Refusal", "check", "parse_push_lines", "pushed_changes", "pushed_commits", "run"]


@dataclass
class Refusal:
    commit: str
    registry: str
    oid: str
    reason: str
    exit_code: int = 1


@dataclass
class PrePushReport:
    commits: int = 0
    registry_files: int = 0
    objects: int = 0
    uploaded: int = 0
    remote: str = ""  # the filer remote checked, as messages name it
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the push may go ahead, else the code of the most serious refusal."""
        return most_serious([r.exit_code for r in self.refusals]) if self.refusals else 0


def pushed_commits(root: str, git_remote: str, lines: list[tuple[str, str, str, str]]) -> list[str]:
    """Every commit the push sends (deletions send nothing)."""
    commits: dict[str, None] = {}
    for _lref, lsha, _rref, rsha in lines:
        rng = push_range(root, git_remote, lsha, rsha)
        if rng is not None:
            commits.update(dict.fromkeys(git.rev_list(root, rng)))
    return list(commits)


def pushed_changes(root: str, git_remote: str, stdin_text: str) -> tuple[list[str], list[git.Change]]:
    commits = pushed_commits(root, git_remote, parse_push_lines(stdin_text))
    return commits, git.changed_files(root, commits, SUFFIX)


def run(root: str, git_remote: str, stdin_text: str) -> PrePushReport | None:
    """The gate for git's pre-push input; None when it does not apply (no registry file in the
    pushed commits, or gitfiler not set up here)."""
    commits, changes = pushed_changes(root, git_remote, stdin_text)
    if not changes:
        return None
    project = Project.find(root)
    if not project.initialized:
        return None
    return check(project, commits, changes, jobs=project.jobs())


def _read(project: Project, changes: list[git.Change], report: PrePushReport) -> list[tuple[git.Change, Entry]]:
    """The registry files of `changes`, each blob read once; a bad one becomes a refusal."""
    first_seen: dict[str, git.Change] = {}
    for ch in changes:
        first_seen.setdefault(ch.blob, ch)
    blobs = git.read_blobs(project.root, list(first_seen))
    entries: list[tuple[git.Change, Entry]] = []
    for blob, ch in first_seen.items():
        if blob in blobs.too_large:
            report.refusals.append(Refusal(ch.commit, ch.path, "-", f"{blobs.too_large[blob]} bytes, larger than a registry file may be (1 MiB)", RegistryError.exit_code))
            continue
        try:
            entries.append((ch, registry.loads(blobs[blob], ch.path)))
        except (RegistryError, UnsafePathError) as err:
            report.refusals.append(Refusal(ch.commit, ch.path, "-", str(err).removeprefix(f"{ch.path}: "), err.exit_code))
        except KeyError:
            report.refusals.append(Refusal(ch.commit, ch.path, "-", "blob missing from the local repository", ObjectMissingError.exit_code))
    return entries


def check(project: Project, commits: list[str], changes: list[git.Change], *, jobs: int = 16) -> PrePushReport:
    """Validate the registry files `changes` names and make sure the filer remote holds
    everything they reference. A remote that cannot be reached raises RemoteError: that is
    no verdict on the pushed artifacts."""
    report = PrePushReport(commits=len(commits))
    entries = _read(project, changes, report)
    report.registry_files = len(entries)
    if not entries:
        return report
    remote = project.remote(jobs=jobs)
    # A shared lock: no `gc --git-remote` deletes from the remote while this check runs, and
    # none is running now (else the push is refused: RemoteError). Three small requests.
    with remote.lock(PUSH):
        resolved = closure.resolve(
            project.store, [e for _ch, e in entries], remote=lambda: remote, jobs=jobs,
            on_fetched=lambda rem, oids: project.state.remote_mark(rem.name, oids),
        )
        owners: dict[str, tuple[str, str]] = {}  # oid -> (commit, registry file), for messages
        closures: list[closure.Closure] = []
        for ch, e in entries:
            found = resolved.get(e)
            if found is None:
                report.refusals.append(_manifest_refusal(ch, e, resolved, remote.name))
                continue
            closures.append(found)
            for oid in found.oids():
                owners.setdefault(oid, (ch.commit, e.registry))
        result, _failed = sync.upload_missing(project, remote, closures, jobs=jobs)
        report.objects = len(owners)
        for oid, why in result.failures:
            commit, reg = owners[oid]
            report.refusals.append(Refusal(commit, reg, oid, why, result.codes.get(oid, ObjectMissingError.exit_code)))
        report.uploaded = result.objects
        report.remote = result.remote
    return report


def _manifest_refusal(ch: git.Change, e: Entry, resolved: closure.Resolved, remote_name: str) -> Refusal:
    """Why a directory's closure is unknown. A remote that failed to answer is the remote's
    problem, not the artifact's: that is raised, and the push is refused as unreachable."""
    problem = resolved.problem(e)
    code = problem.exit_code if problem is not None else 1
    why = dict(resolved.transfer.failures).get(e.oid) if resolved.transfer is not None else None
    if isinstance(problem, closure.ManifestUnavailable):
        if code == RemoteError.exit_code:
            raise RemoteError(
                f"could not fetch the directory manifest {e.oid} of {e.registry} from the filer remote '{remote_name}': "
                f"{why or 'no answer'}; check that the remote is reachable and push again"
            )
        if code == ObjectMissingError.exit_code:
            return Refusal(ch.commit, e.registry, e.oid, f"directory manifest is neither in the cache nor in the filer remote '{remote_name}'", code)
        return Refusal(ch.commit, e.registry, e.oid, f"directory manifest could not be fetched from the filer remote '{remote_name}': {why or problem}", code)
    return Refusal(ch.commit, e.registry, e.oid, str(problem) if problem is not None else "directory manifest could not be read", code)
