"""Reading and writing gitfiler's config files: the committed `.gitfiler/config.yaml`
(never through a link) and the untracked per-clone file under the git directory."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import env, git
from .config import TRACKED, dump_doc, validate_doc
from .errors import ConfigError
from .fsutil import atomic_write_bytes
from .project import Project


def default_remote_dir(project: Project) -> str:
    """A local-directory remote outside the repository, so a clone on this machine can reach it."""
    base = env.data_home()
    name = os.path.basename(project.root.rstrip(os.sep)) or "repo"
    return os.path.join(base, "remotes", f"{name}-{secrets.token_hex(4)}")


def read(project: Project, path: str) -> dict[str, Any]:
    from .registry import MAX_REGISTRY_BYTES, parse_yaml

    if path == os.path.join(project.root, TRACKED):
        data = project.tree.read_capped(TRACKED, MAX_REGISTRY_BYTES, "gitfiler config")  # never through a link
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
    if data is None:
        return {}
    return validate_doc(parse_yaml(data, path, ConfigError), path) or {}


def create_remote_dir(path: str) -> None:
    """The user named this directory: create it now (if its parent exists), since a clone
    never creates a directory that the committed config names."""
    if os.path.isdir(os.path.dirname(path.rstrip(os.sep))):
        os.makedirs(os.path.join(path, "objects", "sha256"), exist_ok=True)


def config_path(project: Project, local: bool) -> str:
    if local:
        if not project.local_config_path:
            raise ConfigError("--local needs a git repository")
        return project.local_config_path
    return os.path.join(project.root, TRACKED)


def write(project: Project, path: str, doc: dict[str, Any]) -> None:
    doc.setdefault("version", 1)
    validate_doc(doc, path)
    if path == os.path.join(project.root, TRACKED):
        project.tree.write_atomic(TRACKED, dump_doc(doc))
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_bytes(path, dump_doc(doc))
    project.__dict__.pop("config", None)


@contextmanager
def editing(project: Project, *, local: bool) -> Iterator[dict[str, Any]]:
    """Read a config file, let the caller change it, validate and write it back atomically;
    the tracked file is staged so the change travels with the next commit."""
    path = config_path(project, local)
    doc = read(project, path)
    yield doc
    write(project, path, doc)
    if not local and project.has_git:
        git.add(project.root, [TRACKED])


def get_local(project: Project) -> dict[str, Any]:
    """The untracked per-clone config as written (empty without a git directory)."""
    return read(project, project.local_config_path) if project.local_config_path else {}


def set_local(project: Project, key: str, value: object) -> None:
    """Set one top-level key in the untracked per-clone config (None removes it). The file is
    written only when that changes it, so callers may say what they want on every run."""
    if not project.local_config_path:
        return
    doc = get_local(project)
    if (key not in doc) if value is None else (doc.get(key, object()) == value):
        return
    if value is None:
        del doc[key]
    else:
        doc[key] = value
    write(project, project.local_config_path, doc)
