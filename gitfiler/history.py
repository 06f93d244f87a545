"""Artifacts as of any revision, for `diff`, `log` and `export`: registry files read from git's
object database (never checked out), manifests from the cache or else the remote, verified.

Every registry file is read strictly (`registry.loads` + `project.check_entry`): a bad one at
some old commit is an error naming that commit, not something skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import closure, git
from .closure import Closure
from .errors import FilerError, RegistryError, UnsafePathError
from .names import REGISTRY_SUFFIX
from .paths import check_relative
from .project import Project, check_entry
from .registry import MAX_REGISTRY_BYTES, Entry, loads
from .releases import entries_at

WORKTREE = "work tree"  # how the side of a comparison that is the work tree is named


def entries_of(project: Project, rev: str | None) -> tuple[str, list[Entry]]:
    """(what to call the side, its entries): a commit's registry files, or with `rev` None the
    work tree's (what `git diff` compares a commit with)."""
    if rev is None:
        return WORKTREE, project.load_entries()
    if rev == "HEAD" and project.has_git and git.rev_parse(project.root, "HEAD^{commit}") is None:
        raise FilerError("this repository has no commit yet (no HEAD); commit the .filer files first")
    return entries_at(project, rev)


def closures(project: Project, entries: list[Entry], *, remote: str | None, jobs: int) -> dict[tuple[str, str], Closure]:
    """The closure of every entry, fetching the directory manifests the cache lacks from the
    remote (opened only then) in one batch; the first entry that has none raises."""
    resolved = closure.resolve(project.store, entries, remote=project.remote_on_demand(remote, jobs=jobs), jobs=jobs)
    for e in entries:
        problem = resolved.problem(e)
        if problem is not None:
            raise problem
    return resolved.closures


def artifact_of(project: Project, path: str) -> str:
    """The repo-relative artifact path a user's PATH names (the artifact or its registry file);
    a path outside the repository or otherwise unsafe is refused (exit 4)."""
    rel = project.relpath(path).rstrip("/")
    rel = rel.removesuffix(REGISTRY_SUFFIX) if rel.endswith(REGISTRY_SUFFIX) and len(rel.rpartition("/")[2]) > len(REGISTRY_SUFFIX) else rel
    return check_relative(rel, "artifact path")


@dataclass
class Version:
    """One commit that changed an artifact's registry file, and the entry it left (None: removed)."""

    commit: str
    time: int
    subject: str
    entry: Entry | None


def versions(project: Project, artifact: str, rev: str = "HEAD") -> list[Version]:
    """The artifact's registry file at every commit reachable from `rev` that changed it, newest
    first: one `git log` and one `git cat-file --batch`, nothing checked out."""
    if not project.has_git:
        raise FilerError("the history of an artifact needs a git repository; run this inside one")
    if git.rev_parse(project.root, f"{rev}^{{commit}}") is None:
        raise FilerError("this repository has no commit yet" if rev == "HEAD" else f"'{rev}' is not a commit, branch or tag of this repository")
    registry = artifact + REGISTRY_SUFFIX
    changes = git.path_log(project.root, registry, rev)
    regular = [c.blob for c in changes if c.mode in ("100644", "100755")]
    blobs = git.read_blobs(project.root, regular, max_size=MAX_REGISTRY_BYTES)
    out: list[Version] = []
    for c in changes:
        entry: Entry | None = None
        if c.mode in ("100644", "100755"):
            if c.blob in blobs.too_large:
                raise RegistryError(f"{registry} at {c.commit[:12]} is larger than {MAX_REGISTRY_BYTES} bytes; it is not a registry file")
            if c.blob not in blobs:
                raise FilerError(f"{registry} at {c.commit[:12]}: blob {c.blob} is missing; is the repository complete? try 'git fsck'")
            try:
                entry = check_entry(loads(blobs[c.blob], registry))
            except (RegistryError, UnsafePathError) as err:
                raise type(err)(f"{err} (at commit {c.commit[:12]})") from None
        out.append(Version(c.commit, c.time, c.subject, entry))
    return out
