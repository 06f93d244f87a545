"""A remote that is a directory: the embedded default, needing no server.

It is an ObjectStore like the cache, so writes are verified, atomic (temp name
beside the target, then rename) and safe for concurrent writers: two writers of
one object rename identical bytes into place.
"""

from __future__ import annotations

import os
from typing import Iterator

from ..errors import IntegrityError, ObjectMissingError, RemoteError
from ..objects import ObjectStore, Progress
from . import Remote


class LocalRemote(Remote):
    list_threshold = 1 << 62  # a stat per object is cheaper than walking the tree

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.url = path
        self.objects = ObjectStore(path)

    def check_access(self) -> None:
        if not os.path.isdir(self.url):
            parent = os.path.dirname(self.url.rstrip(os.sep))
            if not os.path.isdir(parent):
                raise RemoteError(f"remote '{self.name}': directory {self.url} does not exist and neither does its parent; fix the path with 'git filer remote add {self.name} PATH --force'")

    def exists(self, oid: str) -> bool:
        return self.objects.has(oid)

    def list_oids(self) -> Iterator[str]:
        return self.objects.iter_oids()

    def upload(self, store: ObjectStore, oid: str, progress: Progress | None = None) -> None:
        self.check_access()
        if not store.has(oid):
            raise ObjectMissingError(f"object {oid} is not in the cache; cannot upload it")
        try:
            self.objects.write_file(store.path(oid), expected=oid, progress=progress)
        except IntegrityError:
            raise IntegrityError(f"corrupt cache object {store.path(oid)}: its bytes do not hash to {oid}; not uploaded (run 'git filer fsck')", oid=oid) from None

    def download(self, oid: str, store: ObjectStore, progress: Progress | None = None, size: int | None = None) -> None:
        if not self.objects.has(oid):
            raise ObjectMissingError(f"object {oid} is not in {self.url}")
        try:
            store.write_file(self.objects.path(oid), expected=oid, progress=progress)
        except IntegrityError:
            raise IntegrityError(f"remote '{self.name}': object {self.objects.path(oid)} is corrupt (its bytes do not hash to {oid}); nothing was written", oid=oid) from None

    def delete(self, oid: str) -> None:
        self.objects.remove(oid)
