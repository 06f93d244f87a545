"""post-commit: upload what the new commit's registry files reference to the default remote.

Never fails the commit: the entry reports a failure as a warning, and the pre-push gate
uploads what this could not.
"""

from __future__ import annotations

from .. import env, git, registry, sync
from ..errors import RegistryError
from ..project import Project
from ..registry import SUFFIX
from ..sync import SyncResult


def autopush(project: Project) -> bool:
    """GITFILER_AUTOPUSH, else the config's `autopush`."""
    setting = env.autopush()
    return project.config.autopush is not False if setting is None else setting


def run(root: str) -> SyncResult | None:
    """Upload the objects of registry files HEAD added or changed; None when there is nothing
    to do (gitfiler not set up here, autopush off, or no registry file in the commit)."""
    project = Project.find(root)
    if not project.initialized or not autopush(project):
        return None
    head = git.rev_parse(project.root, "HEAD")
    changes = git.changed_files(project.root, [head] if head else [], SUFFIX)
    if not changes:
        return None
    blobs = git.read_blobs(project.root, [c.blob for c in changes])
    for c in changes:
        if c.blob in blobs.too_large:
            raise RegistryError(f"{c.path}: larger than 1 MiB; not a registry file")
    entries = [registry.loads(blobs[c.blob], c.path) for c in changes if c.blob in blobs]
    return sync.push(project, entries, jobs=project.jobs())
