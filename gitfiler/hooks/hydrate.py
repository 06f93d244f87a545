"""post-checkout, post-merge, post-rewrite: bring the work tree's artifacts from the old
commit to the new one.

Artifacts whose registry file disappeared are removed if unmodified; those whose registry
file changed are hydrated (limited by `autopull`). Never fails the git operation: what
could not be done is returned for the entry to report, and `git filer pull` finishes it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .. import closure, env, git, registry, sync
from ..errors import ConflictError, FilerError, PartialFailure, UnsafePathError
from ..globs import selected
from ..project import Project, check_entry
from ..registry import SUFFIX, Entry
from ..sync import SyncResult
from ..workspace import retire


@dataclass
class HydrateOutcome:
    hydrated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # modified files not overwritten
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, why) not hydrated
    removed: list[str] = field(default_factory=list)  # files of artifacts whose registry file is gone
    kept_gone: list[str] = field(default_factory=list)  # modified files of such artifacts, left in place


def run(root: str, hook: str, old: str, new: str) -> HydrateOutcome | None:
    """Hydrate for `hook` between revisions `old` and `new`; None when it is not the time
    (a checkout in the middle of a rebase: post-rewrite hydrates once it is done) or
    gitfiler is not set up here."""
    project = Project.find(root)
    if hook != "post-rewrite" and in_rebase(project):
        return None
    if not project.initialized:
        return None
    # One call both resolves OLD and checks it is a commit this clone has (a fresh clone's
    # post-checkout names the zero id).
    old_commit = (git.rev_parse(project.root, f"{old}^{{commit}}") or "") if old and old != git.ZERO_SHA else ""
    return hydrate_changed(project, old_commit, new, jobs=project.jobs(), old_verified=True)


def in_rebase(project: Project) -> bool:
    assert project.git_dir
    return any(os.path.isdir(os.path.join(project.git_dir, d)) for d in ("rebase-merge", "rebase-apply"))


def autopull_selected(project: Project, entries: list[Entry]) -> list[Entry]:
    """GITFILER_AUTOPULL, else the config's `autopull` (yes, no, or a list of globs)."""
    setting: bool | list[str] | None = env.autopull()
    if setting is None:
        setting = project.config.autopull
    if setting is False:
        return []
    if isinstance(setting, list):
        return [e for e in entries if selected(e.artifact, setting, ())]
    return entries


def previous_oids(project: Project, old: str, registries: list[str]) -> dict[str, str]:
    """Work-tree path -> oid as the registry files of commit `old` recorded them (what may be
    replaced without asking, as git replaces an unmodified file)."""
    prev: dict[str, str] = {}
    for reg, data in git.files_at(project.root, old, registries).items():
        try:
            prev.update(closure.of(project.store, registry.loads(data, reg)).paths())
        except FilerError:
            continue  # unreadable, or a manifest not cached: its files are treated as modified
    return prev


def hydrate_changed(project: Project, old: str, new: str, *, jobs: int = 16, old_verified: bool = False) -> HydrateOutcome:
    """Bring the work tree from commit `old` ("" when unknown) to `new` for artifacts whose
    registry files differ. `old_verified`: `old` is "" or a commit known to exist here."""
    out = HydrateOutcome()
    known_old = bool(old) and old != git.ZERO_SHA and (old_verified or git.object_exists(project.root, old))
    if known_old:
        regs = git.diff_names(project.root, old, new, f"*{SUFFIX}")
    else:
        regs = git.ls_files(project.root, [f"*{SUFFIX}"], others=False)
    present = [r for r in regs if _is_regular(project, r)]
    still_there = set(present)
    gone = [r for r in regs if r not in still_there]
    if known_old and gone:
        for reg, data in git.files_at(project.root, old, gone).items():
            try:
                rep = retire(project, check_entry(registry.loads(data, reg)))
            except FilerError:
                continue  # what a bad or unreadable record names is left alone
            out.removed += rep.removed
            out.kept_gone += rep.kept
    if not present:
        return out
    good, bad = project.load_entries_lenient(present)
    entries = autopull_selected(project, good)
    if not entries and not bad:
        return out
    previous = previous_oids(project, old, [e.registry for e in entries]) if known_old else None
    try:
        result = sync.pull(project, entries, jobs=jobs, previous=previous, unreadable=bad)
    except (ConflictError, PartialFailure) as err:
        if not isinstance(err.result, SyncResult):
            raise
        result = err.result  # what was kept or failed is in it, beside what was hydrated
    out.hydrated = result.hydrated
    out.kept = result.kept
    out.problems = result.problems + result.transfer.failures
    return out


def _is_regular(project: Project, rel: str) -> bool:
    try:
        st = project.tree.lstat(rel)
    except UnsafePathError:
        return False
    return st is not None and stat.S_ISREG(st.st_mode)
