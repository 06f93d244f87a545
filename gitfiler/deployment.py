"""A deployment target directory: releases side by side, one of them live.

    <target>/current -> releases/<name>      the live release (a relative symlink)
    <target>/releases/<name>/...             read-only files, every byte verified when placed
    <target>/<component> -> current/<path>   optional per-component links
    <target>/.filer-deploy/                  gitfiler's own: lock, records, staging, default cache

A release appears whole or not at all: it is built in `.filer-deploy/staging/` and renamed
into `releases/`. `current` is switched by creating a new link and renaming it over the old
one, so a reader sees the old release or the new one, never a mix, and a failed or killed
deploy leaves `current` as it was. Deploys to one target take an exclusive `flock` on
`.filer-deploy/lock`; the kernel drops it when a process dies, so a killed deploy never blocks
the next. Nothing here needs git.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import FilerError, RegistryError, UnsafePathError
from .fsutil import NotPlainFile, fsync_path, read_plain
from .objects import is_oid
from .paths import check_relative
from .release import MAX_RELEASE_BYTES, Release, check_name, decode, name_problem

META = ".filer-deploy"
RECORD_SCHEMA = "gitfiler-deploy"
RECORD_VERSION = 1
MAX_RECORD_BYTES = 256 * 1024 * 1024


class DeployBusyError(FilerError):
    """Another deploy holds the target's lock."""


@dataclass(frozen=True)
class PlacedFile:
    path: str  # below the release directory
    oid: str
    size: int
    exec: bool = False


@dataclass
class DeployRecord:
    """What a release directory holds and where it came from: `.filer-deploy/records/<name>.json`."""

    release: str
    release_oid: str
    commit: str | None
    source: str
    deployed: float  # when it was placed here (seconds since the epoch): rollback goes by this order
    include: list[str] = field(default_factory=list)
    files: list[PlacedFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_doc(self) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA, "version": RECORD_VERSION, "release": self.release, "release_oid": self.release_oid,
            "commit": self.commit, "source": self.source, "deployed": self.deployed, "include": self.include,
            "files": [[f.path, f.oid, f.size, f.exec] for f in self.files],
        }

    @classmethod
    def from_doc(cls, doc: Any, where: str) -> DeployRecord:
        def bad(problem: str) -> RegistryError:
            return RegistryError(f"{where}: {problem}; redeploy the release (or remove the record)")

        keys = {"schema", "version", "release", "release_oid", "commit", "source", "deployed", "include", "files"}
        if not isinstance(doc, dict) or set(doc) != keys or doc["schema"] != RECORD_SCHEMA or doc["version"] != RECORD_VERSION:
            raise bad("not a gitfiler deploy record of this version")
        if name_problem(doc["release"]) or not is_oid(doc["release_oid"]):
            raise bad("bad release name or oid")
        deployed = doc["deployed"]
        if isinstance(deployed, bool) or not isinstance(deployed, (int, float)) or not math.isfinite(deployed) or not isinstance(doc["source"], str):
            raise bad("bad 'deployed' or 'source'")
        if doc["commit"] is not None and not (isinstance(doc["commit"], str) and re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", doc["commit"])):
            raise bad("bad 'commit'")
        if not isinstance(doc["include"], list) or not all(isinstance(g, str) for g in doc["include"]):
            raise bad("bad 'include'")
        files = []
        for item in doc["files"] if isinstance(doc["files"], list) else [None]:
            if not (
                isinstance(item, list) and len(item) == 4 and is_oid(item[1]) and isinstance(item[2], int) and not isinstance(item[2], bool)
                and item[2] >= 0 and isinstance(item[3], bool)
            ):
                raise bad("bad file entry")
            try:
                check_relative(item[0], "file path")
            except UnsafePathError as err:
                raise bad(str(err)) from None
            files.append(PlacedFile(item[0], item[1], item[2], item[3]))
        commit = doc["commit"]
        return cls(doc["release"], doc["release_oid"], commit if isinstance(commit, str) else None, doc["source"], float(doc["deployed"]), doc["include"], files)


class Target:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.meta = os.path.join(self.root, META)
        self.releases = os.path.join(self.root, "releases")
        self.current = os.path.join(self.root, "current")
        self.records_dir = os.path.join(self.meta, "records")
        self.staging = os.path.join(self.meta, "staging")

    @property
    def default_cache(self) -> str:
        return os.path.join(self.meta, "cache")

    def release_dir(self, name: str) -> str:
        return os.path.join(self.releases, check_name(name))

    # -- directories gitfiler owns here: real directories, never links -------------------------------

    def _real_dir(self, path: str, *, create: bool) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return False
            os.makedirs(path, exist_ok=True)
            st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path} is not a plain directory (a link or a file?); move it away and deploy again")
        return True

    def check_layout(self) -> None:
        """Refuse a link (or a file) where gitfiler's own directories belong, creating nothing."""
        for d in (self.meta, self.releases, self.records_dir, self.staging, self.default_cache):
            self._real_dir(d, create=False)

    def prepare(self, *, with_cache: bool = False) -> None:
        """Create the layout (the target itself may be a link the user made; what is inside may not)."""
        os.makedirs(self.root, exist_ok=True)
        for d in (self.meta, self.releases, self.records_dir, self.staging, *([self.default_cache] if with_cache else [])):
            self._real_dir(d, create=True)

    @contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[None]:
        """The exclusive deploy lock. When another deploy holds it, wait up to `wait` seconds
        (several workers of one container starting at once), then give up with DeployBusyError."""
        import fcntl

        self.prepare()
        path = os.path.join(self.meta, "lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                        raise DeployBusyError(f"another deploy to {self.root} is running (pid {holder}); retry when it is done, or pass --wait SECONDS") from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    # -- what is here -------------------------------------------------------------------------------

    def live(self) -> str | None:
        """The live release's name: where `current` points, if it is one of ours."""
        try:
            link = os.readlink(self.current)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.EINVAL:
                raise UnsafePathError(f"{self.current} is not a symlink; gitfiler manages it as one: move it away and deploy again") from None
            raise
        head, _, name = link.partition("/")
        if head != "releases" or name_problem(name) is not None:
            raise UnsafePathError(f"{self.current} points to {link!r}, not to a release under releases/; fix or remove the link")
        return name

    def record(self, name: str) -> DeployRecord | None:
        path = os.path.join(self.records_dir, f"{check_name(name)}.json")
        data = read_small(path, MAX_RECORD_BYTES)
        if data is None:
            return None
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise RegistryError(f"{path}: not valid JSON; redeploy the release (or remove the record)") from None
        rec = DeployRecord.from_doc(doc, path)
        if rec.release != name:
            raise RegistryError(f"{path}: records release {rec.release!r}, not {name!r}")
        return rec

    def release_manifest_bytes(self, name: str) -> bytes | None:
        """The release manifest kept when the release was deployed (as fetched; its oid is in the record)."""
        return read_small(os.path.join(self.records_dir, f"{check_name(name)}.release.json"), MAX_RELEASE_BYTES)

    def release_manifest(self, name: str) -> Release | None:
        data = self.release_manifest_bytes(name)
        return None if data is None else decode(data, os.path.join(self.records_dir, f"{name}.release.json"))

    def names(self) -> list[str]:
        """Releases present: a directory under releases/ with a record."""
        if not os.path.isdir(self.releases):
            return []
        out = []
        with os.scandir(self.releases) as entries:
            for entry in entries:
                if name_problem(entry.name) is None and entry.is_dir(follow_symlinks=False) and os.path.exists(os.path.join(self.records_dir, f"{entry.name}.json")):
                    out.append(entry.name)
        return out

    def records(self) -> list[DeployRecord]:
        """Every present release's record, newest deploy first."""
        found = [r for r in (self.record(n) for n in self.names()) if r is not None]
        return sorted(found, key=lambda r: r.deployed, reverse=True)

    def previous(self, live: str | None) -> str | None:
        """What rollback returns to: the newest release placed before the live one."""
        recs = self.records()
        live_rec = next((r for r in recs if r.release == live), None)
        older = [r for r in recs if r.release != live and (live_rec is None or r.deployed < live_rec.deployed)]
        return older[0].release if older else None

    # -- changing it (under the lock) ---------------------------------------------------------------

    def new_staging_dir(self, name: str) -> str:
        path = os.path.join(self.staging, f"{name}-{os.urandom(4).hex()}")
        os.mkdir(path, 0o755)
        return path

    def clean_staging(self) -> int:
        """Remove what killed deploys left half-built (only under the lock: no one else is staging)."""
        removed = 0
        with os.scandir(self.staging) as entries:
            for entry in entries:
                remove_tree(entry.path)
                removed += 1
        return removed

    def commit(self, staging_dir: str, record: DeployRecord, manifest_bytes: bytes) -> None:
        """Make a staged release present: its records first, then the directory renamed into place."""
        from .fsutil import atomic_write_bytes

        name = record.release
        atomic_write_bytes(os.path.join(self.records_dir, f"{name}.release.json"), manifest_bytes)
        atomic_write_bytes(os.path.join(self.records_dir, f"{name}.json"), json.dumps(record.to_doc(), sort_keys=True).encode())
        os.chmod(staging_dir, 0o555)
        os.rename(staging_dir, self.release_dir(name))
        fsync_path(self.releases)

    def switch(self, name: str) -> None:
        """Point `current` at releases/<name>: a new link renamed over the old one (atomic)."""
        self.release_dir(name)  # validates the name
        self.live()  # refuses a `current` that is not our link
        self._relink(self.current, f"releases/{name}")

    def _relink(self, link: str, to: str) -> None:
        tmp = os.path.join(os.path.dirname(link), f".{os.path.basename(link)}.new-{os.urandom(4).hex()}")
        os.symlink(to, tmp)
        try:
            os.replace(tmp, link)
        except BaseException:
            os.unlink(tmp)
            raise
        fsync_path(os.path.dirname(link))

    def component_link(self, component: str) -> tuple[str, str | None]:
        """Where `<target>/<component>` is and what it links to now (None: nothing there). Refuses a
        name the layout uses and anything in the way that is not a component link gitfiler made."""
        check_name(component, "component name")
        if component in ("current", "releases") or component.startswith("."):
            raise UnsafePathError(f"component name {component!r} is the target's own; it gets no link")
        link = os.path.join(self.root, component)
        try:
            existing = os.readlink(link)
        except FileNotFoundError:
            return link, None
        except OSError:
            raise UnsafePathError(f"{link} exists and is not a link gitfiler made; move it away to get the component link") from None
        if not existing.startswith("current/"):
            raise UnsafePathError(f"{link} is a link to {existing!r}, not one gitfiler made; move it away to get the component link")
        return link, existing

    def link_component(self, component: str, path: str) -> None:
        """`<target>/<component> -> current/<path>`; refuses to replace anything but such a link."""
        link, existing = self.component_link(component)
        if existing != f"current/{path}":
            self._relink(link, f"current/{path}")

    def dangling_links(self) -> list[str]:
        """Component links (`<target>/<x> -> current/...`) the live release has no path for."""
        with os.scandir(self.root) as entries:
            return sorted(
                e.name for e in entries
                if e.is_symlink() and e.name not in ("current", "releases") and os.readlink(e.path).startswith("current/") and not os.path.exists(e.path)
            )

    def drop_dangling_links(self) -> None:
        for name in self.dangling_links():
            os.unlink(os.path.join(self.root, name))

    def require(self) -> None:
        """Refuse a directory that is not a deployment target, before any other question is asked of it."""
        if not os.path.isdir(self.meta):
            raise FilerError(f"{self.root} is not a gitfiler deployment target (no {META}/ inside); deploy a release there first")

    def remove(self, name: str) -> None:
        """Delete a (not live) release: out of releases/ first (one rename), then its records and files."""
        src = self.release_dir(name)
        trash = os.path.join(self.staging, f"trash-{name}-{os.urandom(4).hex()}")
        if os.path.lexists(src):
            os.rename(src, trash)
        for suffix in (".json", ".release.json"):
            try:
                os.unlink(os.path.join(self.records_dir, name + suffix))
            except FileNotFoundError:
                pass
        remove_tree(trash)

    def disk_usage(self, path: str | None = None) -> int:
        """Bytes allocated below `path` (default: the releases), each inode counted once."""
        seen: set[tuple[int, int]] = set()
        total = 0
        for dirpath, _dirs, files in os.walk(path or self.releases):
            for n in files:
                try:
                    st = os.lstat(os.path.join(dirpath, n))
                except FileNotFoundError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += st.st_blocks * 512
        return total

    # -- checking it ---------------------------------------------------------------------------------

    def check(self, record: DeployRecord, *, deep: bool, jobs: int = 2) -> list[tuple[str, str, int]]:
        """Problems with a present release, as (path, why, exit code): a file missing (7), not a
        plain read-only file or of the wrong size, an extra file (1), and with `deep` content
        that does not hash to its oid (6)."""
        from .objects import hash_file

        base = self.release_dir(record.release)
        if not self._real_dir(base, create=False):
            return [(base, "missing", 7)]
        problems: list[tuple[str, str, int]] = []
        expected = {f.path: f for f in record.files}
        to_hash: list[PlacedFile] = []
        for f in record.files:
            full = os.path.join(base, *f.path.split("/"))
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                problems.append((f.path, "missing", 7))
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append((f.path, "not a plain file (replaced by a link or a directory?)", 6))
            elif st.st_size != f.size:
                problems.append((f.path, f"size {st.st_size}, expected {f.size}", 6))
            else:
                if st.st_mode & 0o222:
                    problems.append((f.path, "writable; release files are read-only", 1))
                if deep:
                    to_hash.append(f)
        for dirpath, dirs, files in os.walk(base):
            for n in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
                rel = os.path.relpath(os.path.join(dirpath, n), base).replace(os.sep, "/")
                if rel not in expected:
                    problems.append((rel, "not part of the release", 1))
        if to_hash:
            from concurrent.futures import ThreadPoolExecutor

            def digest(f: PlacedFile) -> str:
                return hash_file(os.path.join(base, *f.path.split("/")))[0]

            to_hash.sort(key=lambda f: f.size, reverse=True)  # the largest first: the threads finish together
            with ThreadPoolExecutor(max(1, min(jobs, len(to_hash)))) as pool:
                for f, oid in zip(to_hash, pool.map(digest, to_hash), strict=True):
                    if oid != f.oid:
                        problems.append((f.path, f"content changed: hashes to {oid}, expected {f.oid}", 6))
        return sorted(problems)


def read_small(path: str, cap: int) -> bytes | None:
    """A file of gitfiler's own, whole, or None when absent: never through a link, never a device
    or a pipe (which could stream forever or block), never more than `cap` bytes."""
    try:
        data = read_plain(path, cap + 1)
    except NotPlainFile as err:
        raise UnsafePathError(f"{path} {err.why}; gitfiler's records are plain files: remove it and redeploy") from None
    if data is None:
        return None
    if len(data) > cap:
        raise RegistryError(f"{path} is larger than {cap} bytes; it is not a gitfiler record")
    return data


def remove_tree(path: str) -> None:
    """rmtree for read-only release trees: make each directory writable on the way down. Links are removed, never followed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    for dirpath, dirs, _files in os.walk(path):
        os.chmod(dirpath, 0o755)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
    shutil.rmtree(path)


def age(seconds_since_epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds_since_epoch))
