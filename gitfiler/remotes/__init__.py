"""Remotes: where objects live beyond this machine. One small synchronous interface;
the concurrency lives in `gitfiler.transfer`, above it."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Iterator

from ..config import RemoteConfig
from ..errors import ConfigError
from ..objects import ObjectStore, Progress


class Remote(ABC):
    name: str
    url: str
    # Above this many oids, listing the remote beats one existence check per object.
    list_threshold: int = 1 << 62

    @abstractmethod
    def exists(self, oid: str) -> bool: ...

    @abstractmethod
    def list_oids(self) -> Iterator[str]: ...

    @abstractmethod
    def upload(self, store: ObjectStore, oid: str, progress: Progress | None = None) -> None:
        """Copy a cache object to the remote, refusing bytes that do not hash to `oid`."""

    @abstractmethod
    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        """Stream an object into the cache; it lands only if its bytes hash to `oid`. `size` is a hint."""

    @abstractmethod
    def delete(self, oid: str) -> None: ...

    def check_access(self) -> None:
        """Raise RemoteError when the remote cannot be used at all (unreachable, missing, denied)."""

    def describe(self) -> str:
        return f"{self.name} ({self.url})"


def parse_url(url: str) -> tuple[str, str]:
    """('s3', 'bucket/prefix') or ('local', '/abs/path')."""
    if url.startswith("s3://"):
        rest = url[5:].strip("/")
        if not rest:
            raise ConfigError(f"{url!r}: an S3 remote needs a bucket, e.g. s3://my-bucket/ml-artifacts")
        return "s3", rest
    if url.startswith("file://"):
        return "local", url[7:]
    if "://" in url:
        raise ConfigError(f"{url!r}: unsupported remote URL; use s3://bucket/prefix or a local directory path")
    return "local", os.path.abspath(os.path.expanduser(url))


def open_remote(cfg: RemoteConfig, *, jobs: int = 8) -> Remote:
    scheme, location = parse_url(cfg.url)
    if scheme == "s3":
        from .s3 import S3Remote

        return S3Remote(cfg, location, jobs=jobs)
    from .local import LocalRemote

    return LocalRemote(cfg.name, location)
