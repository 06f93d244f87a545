"""`init` and `remote add|list|remove|default`: the project's configuration."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from .. import git
from ..config import TRACKED, RemoteConfig, dump_doc, validate_doc
from ..errors import ConfigError
from ..fsutil import atomic_write_bytes
from ..project import Project
from ..remotes import parse_url

DEFAULT_REMOTE_NAME = "local"


@dataclass
class InitResult:
    config: str
    remote: RemoteConfig
    created: bool


def default_remote_dir(project: Project) -> str:
    """A local-directory remote outside the repository, so a clone on this machine can reach it."""
    base = os.environ.get("GITFILER_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share"), "gitfiler"
    )
    name = os.path.basename(project.root.rstrip(os.sep)) or "repo"
    return os.path.join(base, "remotes", f"{name}-{secrets.token_hex(4)}")


def _read(project: Project, path: str) -> dict[str, Any]:
    from ..registry import MAX_REGISTRY_BYTES, parse_yaml

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


def _create_remote_dir(path: str) -> None:
    """The user named this directory: create it now (if its parent exists), since a clone
    never creates a directory that the committed config names."""
    if os.path.isdir(os.path.dirname(path.rstrip(os.sep))):
        os.makedirs(os.path.join(path, "objects", "sha256"), exist_ok=True)


def _config_path(project: Project, local: bool) -> str:
    if local:
        if not project.local_config_path:
            raise ConfigError("--local needs a git repository")
        return project.local_config_path
    return os.path.join(project.root, TRACKED)


def _write(project: Project, path: str, doc: dict[str, Any]) -> None:
    doc.setdefault("version", 1)
    validate_doc(doc, path)
    if path == os.path.join(project.root, TRACKED):
        project.tree.write_atomic(TRACKED, dump_doc(doc))
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_bytes(path, dump_doc(doc))
    project.__dict__.pop("config", None)


def init(project: Project, *, remote_url: str | None = None, stage: bool = True) -> InitResult:
    path = os.path.join(project.root, TRACKED)
    doc = _read(project, path)
    created = not doc
    remotes = doc.setdefault("remotes", {})
    if remote_url:
        parse_url(remote_url)
        url = remote_url if remote_url.startswith("s3://") else os.path.abspath(os.path.expanduser(remote_url))
        if not url.startswith("s3://"):
            _create_remote_dir(url)
        remotes[doc.get("default_remote") or DEFAULT_REMOTE_NAME] = {"url": url}
        doc.setdefault("default_remote", DEFAULT_REMOTE_NAME)
    elif not doc.get("default_remote"):
        remote_dir = default_remote_dir(project)
        os.makedirs(os.path.join(remote_dir, "objects", "sha256"), exist_ok=True)
        remotes[DEFAULT_REMOTE_NAME] = {"url": remote_dir}
        doc["default_remote"] = DEFAULT_REMOTE_NAME
    _write(project, path, doc)
    if project.local_config_path:
        os.makedirs(os.path.dirname(project.local_config_path), exist_ok=True)
    if stage and project.has_git:
        git.add(project.root, [TRACKED])
    chosen = doc["default_remote"]
    return InitResult(TRACKED, RemoteConfig(name=chosen, **remotes[chosen]), created)


@contextmanager
def _editing(project: Project, *, local: bool) -> Iterator[dict[str, Any]]:
    """Read a config file, let the caller change it, validate and write it back atomically;
    the tracked file is staged so the change travels with the next commit."""
    path = _config_path(project, local)
    doc = _read(project, path)
    yield doc
    _write(project, path, doc)
    if not local and project.has_git:
        git.add(project.root, [TRACKED])


def remote_add(
    project: Project, name: str, url: str, *, endpoint_url: str | None = None, region: str | None = None,
    profile: str | None = None, default: bool = False, force: bool = False, local: bool = False,
) -> RemoteConfig:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"remote name {name!r} may use only letters, digits, '-' and '_'")
    scheme, _ = parse_url(url)
    if scheme == "local":
        url = os.path.abspath(os.path.expanduser(url[7:] if url.startswith("file://") else url))
        _create_remote_dir(url)
    cfg = RemoteConfig(name=name, url=url, endpoint_url=endpoint_url, region=region, profile=profile)
    with _editing(project, local=local) as doc:
        remotes = doc.setdefault("remotes", {})
        if name in remotes and not force:
            raise ConfigError(f"remote {name!r} already exists ({remotes[name]['url']}); pass --force to replace it")
        remotes[name] = cfg.to_doc()
        if default or not doc.get("default_remote"):
            doc["default_remote"] = name
    return cfg


def set_local(project: Project, key: str, value: object) -> None:
    """Set one top-level key in the untracked per-clone config."""
    with _editing(project, local=True) as doc:
        doc[key] = value


def remote_remove(project: Project, name: str, *, local: bool = False) -> None:
    with _editing(project, local=local) as doc:
        if name not in (doc.get("remotes") or {}):
            raise ConfigError(f"no remote named {name!r}; see 'git filer remote list'")
        del doc["remotes"][name]
        if doc.get("default_remote") == name:
            doc.pop("default_remote")


def remote_default(project: Project, name: str, *, local: bool = False) -> None:
    if name not in project.config.remotes:
        raise ConfigError(f"no remote named {name!r}; add it first with 'git filer remote add {name} URL'")
    with _editing(project, local=local) as doc:
        doc["default_remote"] = name
