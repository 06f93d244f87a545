"""A project: the work tree root, its config, cache and local state, found from a directory.

Works inside a git work tree (the normal case) and in a plain directory of
registry files with no `.git` (a deployment host or container image).
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from typing import Any

from . import env, git
from .config import TRACKED, Config, RemoteConfig, is_location, merge, validate_doc
from .errors import ConfigError, FilerError, RegistryError, UnsafePathError
from .objects import ObjectStore
from .registry import MAX_REGISTRY_BYTES, SUFFIX, Entry, from_mapping, parse_doc, parse_yaml
from .state import State, stat_key
from .treefs import TreeFS


class Project:
    def __init__(self, root: str, git_dir: str | None, common_dir: str | None, *, cache_dir: str | None = None) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self._cache_override = cache_dir
        # Every work-tree read, write and removal goes through this: no planted link is followed.
        self.tree = TreeFS(root, self.temp_for)
        self._temp_dev: dict[int, bool] = {}

    @classmethod
    def find(cls, start: str = ".", *, cache_dir: str | None = None, require_git: bool = True) -> Project:
        found = git.find_repo(start)
        if found is not None:
            return cls(found.root, found.git_dir, found.common_dir, cache_dir=cache_dir)
        if require_git:
            git.require_repo(start)  # raises the user-facing error
        return cls(os.path.abspath(start), None, None, cache_dir=cache_dir)

    @property
    def has_git(self) -> bool:
        return self.git_dir is not None

    # -- locations -------------------------------------------------------------------

    @property
    def filer_dir(self) -> str | None:
        return os.path.join(self.common_dir, "filer") if self.common_dir else None

    @property
    def local_config_path(self) -> str | None:
        return os.path.join(self.filer_dir, "config.yaml") if self.filer_dir else None

    @cached_property
    def cache_dir(self) -> str:
        chosen = self._cache_override or env.cache_dir() or self.config.cache_dir
        if chosen:
            return os.path.abspath(os.path.expanduser(chosen))
        if self.filer_dir:
            return self.filer_dir
        return os.path.join(os.path.expanduser("~"), ".cache", "gitfiler")

    @property
    def temp_base(self) -> str:
        """Where work-tree writes are prepared: under the git dir, which git never shows or commits."""
        if self.git_dir:
            return os.path.join(self.git_dir, "filer", "tmp")
        return os.path.join(self.cache_dir, "tmp")

    def temp_for(self, target: str) -> str:
        """A temp path that can be renamed onto `target` atomically: in the temp area when it is on
        the same filesystem as the target's directory, else beside the target."""
        from .fsutil import temp_name_beside
        from .tempfiles import area

        tmp_area = area(self.temp_base)
        dev = os.stat(os.path.dirname(target)).st_dev
        same = self._temp_dev.get(dev)
        if same is None:
            name = tmp_area.name()
            same = self._temp_dev[dev] = os.stat(os.path.dirname(name)).st_dev == dev
        return tmp_area.name() if same else temp_name_beside(target)

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.cache_dir)

    @cached_property
    def state(self) -> State:
        if self.git_dir:
            return State(os.path.join(self.git_dir, "filer", "state.db"))
        key = hashlib.sha256(self.root.encode()).hexdigest()[:16]
        return State(os.path.join(self.cache_dir, "state", f"{key}.db"))

    def abspath(self, rel: str) -> str:
        return self.root + os.sep + rel if os.sep == "/" else os.path.join(self.root, *rel.split("/"))

    def relpath(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")

    # -- small parsed files ----------------------------------------------------------------

    def _parsed_yaml(self, rel: str, key: str, cached: dict[str, Any] | None = None) -> tuple[Any, bool]:
        """(document, found) for a small YAML file in the work tree, parsed at most once per change
        of its stat. Read without following links and refused above 1 MiB (invariant 7)."""
        st = self.tree.lstat(rel)
        if st is None:
            return None, False
        sk = stat_key(st)
        entry = cached.get(key) if cached is not None else None
        if entry is not None:
            import json

            if self.state.trusted((entry[0], entry[1], "x"), sk):
                return json.loads(entry[2]), True
        elif cached is None:
            doc = self.state.parsed_get(key, sk)
            if doc is not None:
                return doc, True
        error = ConfigError if key == TRACKED else RegistryError
        try:
            data = self.tree.read_capped(rel, MAX_REGISTRY_BYTES, "gitfiler file")
        except UnsafePathError as err:
            raise error(str(err)) from None
        if data is None:
            return None, False
        doc = parse_yaml(data, key, ConfigError) if key == TRACKED else parse_doc(data, key)
        self._pending_parsed.append((key, sk, doc))
        return doc, True

    @cached_property
    def _pending_parsed(self) -> list[tuple[str, tuple[int, int, int], Any]]:
        return []

    def flush_state(self) -> None:
        if self._pending_parsed:
            try:
                self.state.parsed_store(self._pending_parsed)
            except TypeError:
                pass  # a document JSON cannot hold (odd YAML types) is simply re-parsed next time
            self._pending_parsed.clear()

    # -- configuration ------------------------------------------------------------------------

    @cached_property
    def config(self) -> Config:
        tracked, _ = self._parsed_yaml(TRACKED, TRACKED)
        local = self._local_config() if self.local_config_path else None
        return merge(validate_doc(tracked, TRACKED), validate_doc(local, self.local_config_path or "local config"))

    def _local_config(self) -> Any:
        """The per-clone config (the user's own file, not the repository's), parsed at most once
        per change of its stat like the committed one: a clone with one no longer imports YAML
        on every command."""
        path = self.local_config_path
        assert path is not None
        try:
            sk = stat_key(os.stat(path))
            doc = self.state.parsed_get(path, sk)
            if doc is not None:
                return doc
            with open(path, "rb") as f:
                data = f.read(MAX_REGISTRY_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None
        doc = parse_yaml(data, path, ConfigError, fix="fix the file (it is this clone's own, not in git)")
        self._pending_parsed.append((path, sk, doc))
        return doc

    @property
    def initialized(self) -> bool:
        try:
            return self.tree.lstat(TRACKED) is not None
        except UnsafePathError:
            return True  # a linked .gitfiler: reading the config will refuse it, with the reason

    @property
    def checkout(self) -> str:
        """How files are placed in the work tree (copy, reflink, hardlink, symlink, auto)."""
        return self.config.checkout

    def jobs(self, requested: int | None = None, *, remote: str | None = None) -> int:
        """Parallel transfers with `remote` (default: the default remote): as requested, else
        $GITFILER_JOBS, else the config's `jobs`, else what suits that kind of remote."""
        from .config import transfer_jobs

        if requested:
            return requested
        try:
            url: str | None = self.remote_config(remote).url
        except FilerError:
            url = None  # no remote: the command will say so if it needs one
        return transfer_jobs(url, self.config.jobs)

    def hash_jobs(self, requested: int | None = None) -> int:
        """Threads hashing work-tree files: as requested, else $GITFILER_JOBS, else the config's `jobs`, else 16."""
        from .config import default_jobs

        return requested or default_jobs(self.config.jobs)

    def remote_config(self, name_or_url: str | None = None) -> RemoteConfig:
        """The remote to use: an explicit name or URL, else $GITFILER_REMOTE, else the default."""
        chosen = name_or_url or env.remote() or self.config.default_remote
        if not chosen:
            raise ConfigError("no remote configured; run 'git filer remote add NAME URL --default' (or set GITFILER_REMOTE)")
        if chosen in self.config.remotes:
            return self.config.remotes[chosen]
        if is_location(chosen):
            return RemoteConfig(name=chosen, url=chosen)
        known = ", ".join(sorted(self.config.remotes)) or "none"
        raise ConfigError(f"no remote named {chosen!r} (configured: {known}); see 'git filer remote list'")

    def remote(self, name_or_url: str | None = None, *, jobs: int = 16):  # -> Remote
        from .remotes import open_remote

        return open_remote(self.remote_config(name_or_url), jobs=jobs)

    def remote_on_demand(self, name_or_url: str | None = None, *, jobs: int = 16) -> RemoteOnDemand:
        """The remote, opened the first time it is called for: a run whose cache holds everything never opens it."""
        return RemoteOnDemand(self, name_or_url, jobs)

    # -- registry files ------------------------------------------------------------------------

    def registry_files(self) -> list[str]:
        if self.has_git:
            # Staged-but-deleted files are listed too; load_entries skips what is gone.
            return sorted(git.ls_files(self.root, [f"*{SUFFIX}"]))
        out = []
        for dirpath, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in files:
                if name.endswith(SUFFIX) and len(name) > len(SUFFIX):
                    out.append(self.relpath(os.path.join(dirpath, name)))
        return sorted(out)

    def load_entries(self, registries: list[str] | None = None) -> list[Entry]:
        """Every entry (or those of `registries`); the first bad registry file raises."""
        entries, problems = self.load_entries_lenient(registries)
        if problems:
            raise problems[0][1]
        return entries

    def load_entries_lenient(self, registries: list[str] | None = None) -> tuple[list[Entry], list[tuple[str, FilerError]]]:
        """(good entries, [(registry, error)] for the bad ones), so one bad registry file does not
        stop the others. Two registry files that claim one path (or one inside the other) are
        both bad: which bytes belong there would depend on the order they are read in."""
        listed = registries is None
        regs: list[str] = self.registry_files() if registries is None else registries
        cached = self.state.parsed_many() if len(regs) > 20 else None
        entries: list[Entry] = []
        problems: list[tuple[str, FilerError]] = []
        for reg in regs:
            try:
                doc, found = self._parsed_yaml(reg, reg, cached)
                if not found:
                    if listed:
                        continue  # deleted in the work tree but still in git's index
                    raise RegistryError(f"{reg}: registry file not found")
                entries.append(check_entry(from_mapping(doc, reg)))
            except (RegistryError, UnsafePathError) as err:
                problems.append((reg, err))
        self.flush_state()
        clashes = overlapping(entries)
        if clashes:
            problems += [(e.registry, clashes[e.registry]) for e in entries if e.registry in clashes]
            entries = [e for e in entries if e.registry not in clashes]
        return entries, problems

    def select(self, entries: list[Entry], paths: list[str]) -> list[Entry]:
        """Entries named by `paths`: an artifact, its registry file, or a directory above them."""
        if not paths:
            return entries
        wanted = []
        for p in paths:
            rel = self.relpath(p)
            if rel.startswith("../"):
                raise FilerError(f"{p} is outside the repository {self.root}")
            wanted.append(rel.rstrip("/"))
        chosen = []
        unmatched = set(wanted)
        for e in entries:
            for w in wanted:
                if w in (".", e.registry, e.artifact) or e.registry.startswith(w + "/") or e.artifact.startswith(w + "/"):
                    chosen.append(e)
                    unmatched.discard(w)
                    break
        if unmatched:
            raise FilerError(f"not tracked by gitfiler: {', '.join(sorted(unmatched))} (see 'git filer ls')")
        return chosen


class RemoteOnDemand:
    """A callable giving one remote, opened on the first call and reused after (`closure.resolve`
    and the transfer engine take such a callable); `opened` is it, or None while nobody asked."""

    def __init__(self, project: Project, name_or_url: str | None, jobs: int) -> None:
        self._project, self._name, self._jobs = project, name_or_url, jobs
        self.opened: Any = None

    def __call__(self) -> Any:
        if self.opened is None:
            self.opened = self._project.remote(self._name, jobs=self._jobs)
        return self.opened


def check_entry(entry: Entry) -> Entry:
    """Refuse an artifact path that would overwrite what gitfiler or git itself relies on."""
    parts = entry.artifact.split("/")
    if parts[0] == ".gitfiler" or entry.artifact.endswith(SUFFIX) or parts[-1] in (".gitignore", ".gitattributes", ".gitmodules"):
        raise RegistryError(f"{entry.registry}: artifact path {entry.artifact!r} would overwrite a gitfiler or git file; refusing it")
    return entry


def overlapping(entries: list[Entry]) -> dict[str, RegistryError]:
    """Registry files whose artifacts are the same path or one inside the other, each with its error."""
    by_path: dict[str, Entry] = {}
    out: dict[str, RegistryError] = {}

    def clash(a: Entry, b: Entry) -> None:
        for x, y in ((a, b), (b, a)):
            out.setdefault(x.registry, RegistryError(
                f"{x.registry}: artifact {x.artifact!r} overlaps {y.artifact!r} of {y.registry}; two registry files cannot "
                "claim one path (remove one of them)"
            ))

    for e in sorted(entries, key=lambda e: e.artifact):
        other = by_path.get(e.artifact)
        if other is not None:
            clash(e, other)
            continue
        by_path[e.artifact] = e
    # A parent sorts before its children; check each path's ancestors.
    for path, e in by_path.items():
        parent = path.rpartition("/")[0]
        while parent:
            if parent in by_path:
                clash(e, by_path[parent])
                break
            parent = parent.rpartition("/")[0]
    return out
