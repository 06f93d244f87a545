"""`remote add|list|remove|default`: where the bytes live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..config import RemoteConfig
from ..configfile import config_path, create_remote_dir, editing, read
from ..errors import ConfigError
from ..project import Project
from ..remotes import parse_url


def remote_add(
    project: Project, name: str, url: str, *, endpoint_url: str | None = None, region: str | None = None,
    profile: str | None = None, default: bool = False, force: bool = False, local: bool = False,
) -> RemoteConfig:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"remote name {name!r} may use only letters, digits, '-' and '_'")
    scheme, _ = parse_url(url)
    if scheme == "local":
        url = os.path.abspath(os.path.expanduser(url[7:] if url.startswith("file://") else url))
        create_remote_dir(url)
    cfg = RemoteConfig(name=name, url=url, endpoint_url=endpoint_url, region=region, profile=profile)
    # The default changes only when asked, or when the repository has none at all and the
    # remote is shared (committed): a per-clone remote never becomes the default by accident,
    # else the hooks would check a private remote while the team's lacks the bytes.
    had_default = project.config.default_remote is not None
    with editing(project, local=local) as doc:
        remotes = doc.setdefault("remotes", {})
        if name in remotes and not force:
            raise ConfigError(f"remote {name!r} already exists ({remotes[name]['url']}); pass --force to replace it")
        remotes[name] = cfg.to_doc()
        if default or (not local and not had_default):
            doc["default_remote"] = name
    return cfg


def remote_remove(project: Project, name: str, *, local: bool = False) -> None:
    with editing(project, local=local) as doc:
        if name not in (doc.get("remotes") or {}):
            raise ConfigError(f"no remote named {name!r}; see 'git filer remote list'")
        del doc["remotes"][name]
        if doc.get("default_remote") == name:
            doc.pop("default_remote")


def remote_default(project: Project, name: str, *, local: bool = False) -> None:
    """Make `name` the default: for everyone (the committed config, which may name only a
    committed remote) or, with `local`, for this clone only."""
    if name not in project.config.remotes:
        raise ConfigError(f"no remote named {name!r}; add it first with 'git filer remote add {name} URL'")
    if not local and name not in (read(project, config_path(project, local=False)).get("remotes") or {}):
        raise ConfigError(
            f"remote {name!r} exists only in this clone's config, so other clones could not use it as their default; "
            f"run 'git filer remote default {name} --local', or add it with 'git filer remote add' (without --local) first"
        )
    with editing(project, local=local) as doc:
        doc["default_remote"] = name


@dataclass
class RemoteRow:
    name: str
    config: RemoteConfig
    default: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.config.to_doc(), name=self.name, default=self.default)


def remote_list(project: Project) -> list[RemoteRow]:
    """The configured remotes by name; the default one marked."""
    cfg = project.config
    return [RemoteRow(name, r, name == cfg.default_remote) for name, r in sorted(cfg.remotes.items())]
