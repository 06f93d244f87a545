"""The Python API: train -> dump -> push -> load, for notebooks, training scripts and services.

Every operation goes through the same use cases as the CLI (`gitfiler.commands`);
this module only maps names to artifacts and objects to bytes.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from . import closure as closures
from . import env, serializers, sync
from .commands import add as add_cmd
from .commands import remove as remove_cmd
from .commands import status as status_cmd
from .errors import ConflictError, FilerError, IntegrityError
from .objects import OID_PREFIX
from .project import Project
from .registry import SUFFIX, Entry, check_type_version

if TYPE_CHECKING:
    from .commands.pack import PackResult

FROM_ENV_WAIT_S = 900.0


@dataclass
class FileInfo:
    """One artifact as `show_files()` reports it."""

    name: str
    path: str  # repo-relative
    state: str  # local | synced | modified | missing
    size: int
    oid: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Filer:
    """Artifacts in one directory, tracked by gitfiler.

    Example::

        filer = Filer("models")
        filer.dump(model, "my_model")          # models/my_model.pkl + models/my_model.pkl.filer
        filer.push("my_model")
        model = filer.load("my_model")         # verified, then deserialised

    `remote` is a configured remote name or a URL (s3://bucket/prefix, a directory);
    without it, $GITFILER_REMOTE, then the project's default remote. Outside any
    git repository (a container image holding only registry files), `directory`
    itself is the project root and the remote must come from the argument or
    $GITFILER_REMOTE; the cache from `cache` or $GITFILER_CACHE_DIR.
    """

    def __init__(self, directory: str | os.PathLike[str] = ".", remote: str | None = None, *, repo: str | os.PathLike[str] | None = None, cache: str | os.PathLike[str] | None = None) -> None:
        env.validate_all()  # every bad GITFILER_* variable in one message, before anything is touched
        self.directory = os.path.abspath(os.fspath(directory))
        os.makedirs(self.directory, exist_ok=True)
        start = os.fspath(repo) if repo is not None else self.directory
        self.project = Project.find(start, cache_dir=os.fspath(cache) if cache else None, require_git=False)
        if not self.project.has_git and repo is None:
            self.project = Project(self.directory, None, None, cache_dir=os.fspath(cache) if cache else None)
        rel = self.project.relpath(self.directory)
        if rel.startswith(".."):
            raise FilerError(f"{self.directory} is outside the repository {self.project.root}")
        self.prefix = "" if rel == "." else rel + "/"
        self.remote = remote
        self.jobs = self.project.jobs()

    # -- naming ------------------------------------------------------------------------

    def _entries(self) -> list[Entry]:
        """The good entries of this directory; a bad registry file beside them does not hide
        them (it is raised only when its own artifact is asked for, see `_get`)."""
        regs = [r for r in self.project.registry_files() if r.startswith(self.prefix) and "/" not in r[len(self.prefix):]]
        entries, self._bad = self.project.load_entries_lenient(regs)
        return entries

    @staticmethod
    def _name_of(entry: Entry) -> str:
        ser = entry.meta.get("serializer")
        try:
            ext = serializers.get(ser).extension if isinstance(ser, str) else ""
        except FilerError:
            ext = ""
        base = entry.artifact.rpartition("/")[2]
        return base[: -len(ext)] if ext and base.endswith(ext) else base

    def _find(self, name: str) -> Entry | None:
        for e in self._entries():
            if name in (self._name_of(e), e.artifact.rpartition("/")[2]):
                return e
        return None

    def _get(self, name: str) -> Entry:
        entry = self._find(name)
        if entry is None:
            for reg, err in getattr(self, "_bad", []):
                base = reg.rpartition("/")[2].removesuffix(SUFFIX)
                if base == name or base.startswith(name + "."):
                    raise err
            raise FilerError(f"no artifact named {name!r} in {self.directory}; see show_files()")
        return entry

    def _state(self, entry: Entry) -> str:
        return status_cmd.status(self.project, [self.project.abspath(entry.registry)], remote=self.remote, jobs=self.jobs)[0].state

    # -- writing -------------------------------------------------------------------------

    def dump(
        self, obj: Any, name: str, *, push: bool = False, overwrite: bool = False, serializer: str = "pickle", meta: dict[str, Any] | None = None,
        type: str | None = None, version: str | None = None,
    ) -> str:
        """Serialise `obj` to `<directory>/<name><ext>`, track it, and return its path.

        `type` (e.g. "model") and `version` (e.g. "1.4.0") are recorded as `meta.type` and
        `meta.version`, as `git filer add --type --version` records them; a bad value, or one
        also given in `meta`, raises FilerError before anything is written.

        Refused when `name` exists, unless `overwrite=True`; refused even then while
        the artifact is synced (remove it with `remove(name, remove_remote=True)` first),
        because pushed bytes may already be in use elsewhere.
        """
        if not name or "/" in name or name.startswith("."):
            raise FilerError(f"{name!r} is not a valid artifact name; use a plain file name without '/'")
        check_type_version(type, version, meta)
        ser = serializers.get(serializer)
        target = os.path.join(self.directory, name + ser.extension)
        rel = self.project.relpath(target)
        # The file itself may be tracked under another name (added by `git filer add`, or with a
        # serializer this process does not know): it is the same artifact all the same.
        existing = self._find(name) or next((e for e in self._entries() if e.artifact == rel), None)
        if existing is None and os.path.lexists(target) and not overwrite:
            raise FilerError(f"{target} exists and is not tracked; pass overwrite=True to replace it, or choose another name")
        if existing is not None:
            if not overwrite:
                raise FilerError(f"artifact {name!r} exists; pass overwrite=True to replace a local one")
            if self._state(existing) == status_cmd.SYNCED:
                raise FilerError(f"artifact {name!r} is synced to the remote and immutable; remove(name, remove_remote=True) first")
            if self._name_of(existing) == name and not existing.artifact.endswith(ser.extension):
                raise FilerError(f"artifact {name!r} was saved with serializer {existing.meta.get('serializer')!r}; remove it first to change format")

        def write(tmp: str) -> None:
            with open(tmp, "xb") as f:
                ser.dump(obj, f)

        self.project.tree.publish(rel, write)
        # The Python class is `python_class`: `type` is the artifact's type, a name a release uses.
        info = {"serializer": ser.name, "python_class": f"{builtins.type(obj).__module__}.{builtins.type(obj).__qualname__}"}
        info.update(meta or {})
        add_cmd.add(self.project, [target], jobs=self.jobs, meta=info, type=type, version=version)
        if push:
            self.push(name)
        return target

    def push(self, name: str) -> None:
        entry = self._get(name)
        sync.push(self.project, [entry], remote=self.remote, jobs=self.jobs)

    def push_all(self) -> None:
        sync.push(self.project, self._entries(), remote=self.remote, jobs=self.jobs)

    def pack(
        self, model: str | os.PathLike[str], output: str | os.PathLike[str], *, code: str | os.PathLike[str] | None = None,
        compression: str = "gzip", level: int | None = None, ref: str | None = None, add: bool = False,
    ) -> PackResult:
        """`git filer pack`: the serving archive at `output` (model files at the root, `code` under
        code/, a manifest of digests), reproducible and read back before it is kept. Paths are
        taken as given (relative to the current directory). See docs/packaging.md."""
        from .commands import pack as pack_cmd  # tarfile and the compressors only when packing

        return pack_cmd.pack(
            self.project, os.fspath(model), output=os.fspath(output), code=os.fspath(code) if code is not None else None,
            compression=compression, level=level, ref=ref, add=add, remote=self.remote, jobs=self.jobs,
        )

    def remove(self, name: str, *, remove_remote: bool = False) -> None:
        """Stop tracking `name` and delete its local file. Remote bytes stay (other commits may use them) unless `remove_remote`."""
        remove_cmd.remove(self.project, [self._get(name)], remove_remote=remove_remote, remote=self.remote)

    def remove_locals(self) -> list[str]:
        """Untrack the artifacts of this directory that were never pushed, and return their names.

        As in the original `Filer` API: their registry files go (unstaged, their `.gitignore`
        lines too, like `git filer remove --keep-files`), the artifact files stay on disk. The
        remote itself is asked whether it holds each artifact (never the local record of what it
        holds); a directory counts as pushed once its manifest is there, since a push uploads the
        manifest last. Raises RemoteError when the remote cannot be asked: then nothing changes.
        To free disk instead, see `free_local_copies()`.
        """
        entries = self._entries()
        if not entries:
            return []
        from .transfer import find_missing

        remote = self.project.remote(self.remote, jobs=self.jobs)
        wanted = {e.oid for e in entries}
        missing = find_missing(remote, wanted, self.jobs)
        self.project.state.remote_mark(remote.name, wanted - missing)
        self.project.state.remote_mark(remote.name, missing, present=False)
        never_pushed = [e for e in entries if e.oid in missing]
        if never_pushed:
            remove_cmd.remove(self.project, never_pushed, keep_files=True)
        return [self._name_of(e) for e in never_pushed]

    def free_local_copies(self) -> list[str]:
        """Free local disk: delete the work tree copies and cached bytes of artifacts the remote holds.

        The remote itself is asked (never the local record of what it holds) for every object of
        each artifact, a directory's manifest and each of its files, before anything is deleted.
        Artifacts it lacks or only partly holds, and ones changed locally, are kept; their names
        are not returned. A directory's manifest stays in the cache (it is tiny, and `gc` needs it).
        Raises RemoteError when the remote cannot be asked: then nothing is deleted.
        """
        entries = self._entries()
        if not entries:
            return []
        rows = status_cmd.status(self.project, [self.project.abspath(e.registry) for e in entries], remote=self.remote, jobs=self.jobs)
        by_reg = {e.registry: e for e in entries}
        # Only work tree copies holding exactly the committed bytes; whether the remote has them
        # is decided below by asking it, so the hint's "synced" or "local" does not matter here.
        candidates: list[tuple[Entry, list[str]]] = []
        for row in rows:
            if row.state not in (status_cmd.SYNCED, status_cmd.LOCAL):
                continue
            entry = by_reg[row.registry]
            try:
                candidates.append((entry, closures.of(self.project.store, entry).oids()))
            except (FilerError, OSError):
                continue  # a manifest we cannot have or read: we cannot tell what the remote must hold
        if not candidates:
            return []
        from .transfer import find_missing

        remote = self.project.remote(self.remote, jobs=self.jobs)
        wanted = {o for _, closure in candidates for o in closure}
        missing = find_missing(remote, wanted, self.jobs)
        self.project.state.remote_mark(remote.name, wanted - missing)
        self.project.state.remote_mark(remote.name, missing, present=False)
        removed = []
        for entry, closure in candidates:
            if missing.isdisjoint(closure) and self._drop_local_copy(entry, closure):
                removed.append(self._name_of(entry))
        return removed

    def _drop_local_copy(self, entry: Entry, closure: list[str]) -> bool:
        """Delete the work tree copy and cached bytes of an artifact the remote was just seen to hold
        in full. Re-checked right before: a copy changed since `status` looked is kept (False)."""
        from .workspace import current

        project = self.project
        if current(project, entry.artifact).oid != entry.oid:
            return False
        if entry.kind == "file":
            project.tree.unlink(entry.artifact)
            project.store.remove(entry.oid)
            return True
        files = [o for o in closure if o != entry.oid]
        for path in closures.of(project.store, entry).paths():
            project.tree.unlink(path)
        project.tree.rmdir_empty(entry.artifact)
        for oid in files:
            project.store.remove(oid)
        return True

    # -- reading -------------------------------------------------------------------------

    def show_files(self) -> list[FileInfo]:
        """Print one line per artifact, `name (state)`, and return the same as records."""
        entries = self._entries()
        rows = status_cmd.status(self.project, [self.project.abspath(e.registry) for e in entries], remote=self.remote, jobs=self.jobs) if entries else []
        by_reg = {e.registry: e for e in entries}
        out = []
        for row in rows:
            e = by_reg[row.registry]
            out.append(FileInfo(self._name_of(e), e.artifact, row.state, e.size, e.oid, dict(e.meta)))
        for info in out:
            print(f"{info.name} ({info.state})")  # noqa: T201 - show_files is documented to print, for notebooks
        if not out:
            print("[no files exist]")  # noqa: T201 - the original API's words, which notebooks may look for
        return out

    @staticmethod
    def from_env() -> LiveRelease:
        """Deploy the release the environment names and return a reader of it: a container's start-up.

        Reads GITFILER_REMOTE, GITFILER_RELEASE, GITFILER_TARGET (and GITFILER_CACHE_DIR, the S3
        endpoint, retry and jobs variables), reporting every missing or bad one at once before
        anything is fetched; deploys like `git-filer deploy --from-env` (nothing to do when the
        release is already live); needs no git and no repository.

        Example::

            live = Filer.from_env()
            model = live.load("model")                  # a component name, or a path in the release
            tokenizer_dir = live.path("tokenizer")
        """
        from .commands import deploy as deploy_cmd

        settings = deploy_cmd.settings_from_env()
        jobs = settings.jobs or 16
        cache = deploy_cmd.cache_for(settings.target, settings.cache)
        source = deploy_cmd.remote_source(settings.remote, settings.release, cache=cache, jobs=jobs)
        # Several workers of one container may start at once: the first deploys, the others wait and find it live.
        deploy_cmd.deploy(settings.target, source, jobs=jobs, wait=FROM_ENV_WAIT_S)
        return LiveRelease(settings.target)

    def path(self, name: str) -> str:
        """A local path holding exactly the committed bytes of `name`, hydrating it if needed."""
        return self.pull(name)

    def pull(self, name: str) -> str:
        """Hydrate `name` from the remote (verified, like `git filer pull`) and return its path.
        Nothing is downloaded when the work tree or the cache already holds the committed bytes."""
        entry = self._get(name)
        try:
            sync.pull(self.project, [entry], remote=self.remote, jobs=self.jobs)
        except ConflictError:
            raise FilerError(f"{entry.artifact} was modified locally; re-dump it or remove the local change") from None
        return self.project.abspath(entry.artifact)

    def pull_all(self) -> list[str]:
        """Hydrate every artifact of this directory, as `git filer pull` does, and return their names.
        A registry file that cannot be read is reported with the rest; the other artifacts still land.
        A locally modified file is kept, not overwritten (ConflictError names it)."""
        entries = self._entries()
        bad = list(getattr(self, "_bad", []))
        if entries or bad:
            sync.pull(self.project, entries, remote=self.remote, jobs=self.jobs, unreadable=bad)
        return [self._name_of(e) for e in entries]

    def open(self, name: str) -> BinaryIO:
        """A read-only binary file object over the verified bytes of `name`."""
        return open(self.path(name), "rb")

    def load(self, name: str, *, serializer: str | None = None) -> Any:
        """Deserialise `name`. The bytes are checked against the committed SHA-256 first, always.

        Pickle runs code while loading: gitfiler guarantees these are the committed bytes,
        not that the commit is trustworthy.
        """
        entry = self._get(name)
        if entry.kind != "file":
            raise FilerError(f"{name!r} is a directory; use path({name!r}) instead")
        ser = serializers.get(serializer or str(entry.meta.get("serializer") or "pickle"))
        data = self._verified_bytes(entry)
        return serializers.load_bytes(ser, data)

    def _verified_bytes(self, entry: Entry) -> bytes:
        store = self.project.store
        if not store.has(entry.oid, entry.size):
            data = _read_if_matches(self.project, entry)
            if data is not None:
                return data
            result, _, _ = sync.fetch(self.project, [entry], remote=self.remote, jobs=self.jobs, sink=None)
            if result.failures:
                raise FilerError(result.failures[0][1])
        with store.open(entry.oid) as f:
            data = f.read(entry.size + 1)  # never more than the registry declares
        if OID_PREFIX + hashlib.sha256(data).hexdigest() != entry.oid:
            raise IntegrityError(f"corrupt object {store.path(entry.oid)}: content does not hash to {entry.oid}; refusing to deserialise it", oid=entry.oid)
        return data


class LiveRelease:
    """The release live in a deployment target, pinned when this object is made: a later switch
    of `current` does not change what it reads, so one process never mixes two releases."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        from .deployment import Target

        where = Target(os.fspath(target))
        name = where.live()
        record = where.record(name) if name else None
        if name is None or record is None:
            raise FilerError(f"nothing is live in {where.root}; deploy a release there first")
        self.release = name
        self.root = where.release_dir(name)
        self._files = {f.path: f for f in record.files}
        manifest = where.release_manifest(name)
        self.components = {c.name: c.path for c in manifest.components} if manifest else {}

    def path(self, name: str) -> str:
        """The absolute path of a component (by name) or of a file or directory (by its path in the release)."""
        from .paths import check_relative

        rel = self.components.get(name) or check_relative(name, "path")
        if rel not in self._files and not any(p.startswith(rel + "/") for p in self._files):
            raise FilerError(f"{name!r} is not in release {self.release} (components: {', '.join(sorted(self.components)) or 'none'})")
        return os.path.join(self.root, *rel.split("/"))

    def open(self, name: str) -> BinaryIO:
        return builtins.open(self.path(name), "rb")

    def load(self, name: str, *, serializer: str | None = None) -> Any:
        """Deserialise a file of the release, after checking its bytes against the deployed oid.
        The serializer is `serializer`, else the registered one whose extension the file has."""
        rel = self.components.get(name) or name
        placed = self._files.get(rel)
        if placed is None:
            self.path(name)  # says so when it is not in the release at all
            raise FilerError(f"{name!r} is a directory of release {self.release}; use path({name!r}) and read its files")
        with self.open(name) as f:
            data = f.read(placed.size + 1)
        if OID_PREFIX + hashlib.sha256(data).hexdigest() != placed.oid:
            raise IntegrityError(f"{self.path(name)} does not hash to {placed.oid}; the live release was changed (run 'git-filer deploy verify --deep')", oid=placed.oid)
        if serializer is None:
            ext = os.path.splitext(rel)[1]
            found = [n for n in serializers.names() if serializers.get(n).extension == ext]
            if not found:
                raise FilerError(f"no serializer for {ext or 'files without an extension'}; pass serializer='pickle' (or another registered name)")
            serializer = found[0]
        return serializers.load_bytes(serializers.get(serializer), data)


def _read_if_matches(project: Project, entry: Entry) -> bytes | None:
    """The work-tree copy's bytes if they are exactly the registered ones (read without following a link)."""
    try:
        data = project.tree.read_capped(entry.artifact, entry.size, "artifact")
    except FilerError:
        return None
    if data is None:
        return None
    return data if OID_PREFIX + hashlib.sha256(data).hexdigest() == entry.oid else None


__all__ = ["Filer", "FileInfo", "LiveRelease"]
