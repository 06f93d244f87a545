"""`model`: register a model with the data and code it was built from; say whether each is
READY, STALE (with each reason) or BROKEN; its provenance digest (docs/models.md)."""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import git
from ..errors import FilerError, RegistryError
from ..modelfile import ARTIFACT, DIR, FILE, MAX_BYTES, PATH, Dependency, Model, Models, check_entry, check_overlap, digest, dumps, from_doc
from ..names import REGISTRY_SUFFIX
from ..project import Project
from ..registry import parse_yaml
from ..state import StatKey, stat_key

READY, STALE, BROKEN = "READY", "STALE", "BROKEN"


@dataclass
class ModelStatus:
    name: str
    state: str
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "reasons": self.reasons}


def load(project: Project) -> Models:
    """The registry, validated on every read; the YAML parse (the slow part for thousands of
    recorded files) is kept in the stat cache and redone only when the file's stat changes."""
    return _load(project)[0]


def _load(project: Project) -> tuple[Models, StatKey | None]:
    """The registry and the stat key of the file it was read from (None: no file)."""
    st = project.tree.lstat(PATH)
    if st is None:
        return Models(), None
    key = stat_key(st)
    doc = project.state.parsed_get(PATH, key)
    if doc is None:
        data = project.tree.read_capped(PATH, MAX_BYTES, "model registry")
        if data is None:
            return Models(), None
        doc = parse_yaml(data, PATH)
        models = from_doc(doc)  # only a valid document is remembered
        project.state.parsed_store([(PATH, key, doc)])
        return models, key
    return from_doc(doc), key


def listing(project: Project) -> list[Model]:
    return [m for _, m in sorted(load(project).models.items())]


def get(project: Project, name: str) -> Model:
    model = load(project).models.get(name)
    if model is None:
        raise FilerError(f"no model named {name!r}; see 'git filer model list'")
    return model


# -- what the work tree holds now ----------------------------------------------------------------


class _Side:
    """`job()` in a thread of its own, side by side with the caller: a git process mostly waits on
    lstat (plain threads: importing concurrent.futures alone cost ~5 ms here)."""

    def __init__(self, job: Callable[[], Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self._thread.start()

    def _run(self, job: Callable[[], Any]) -> None:
        try:
            self._result = job()
        except BaseException as err:  # re-raised in the caller's thread by result()
            self._error = err

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class _Index:
    """Git's index for some paths ({path: blob id}, listed by `ls-files -s`)."""

    def __init__(self, blobs: dict[str, str]) -> None:
        self.blobs = blobs
        self.sorted = sorted(blobs)
        self._seen: dict[tuple[str, str], Dependency | None] = {}

    def dependency(self, path: str, kind: str) -> Dependency | None:
        """The FILE or DIR dependency at `path` as the index has it; None when it is not there."""
        if (path, kind) not in self._seen:
            if kind == FILE:
                dep = Dependency(path, FILE, self.blobs[path]) if path in self.blobs else None
            else:
                keys = _below(self.sorted, path)
                n, blobs = len(path) + 1, self.blobs
                dep = Dependency(path, DIR, files=tuple((k[n:], blobs[k]) for k in keys)) if keys else None
            self._seen[path, kind] = dep
        return self._seen[path, kind]


def _below(paths: list[str], path: str) -> list[str]:
    """The entries of sorted `paths` inside directory `path`."""
    return paths[bisect.bisect_left(paths, path + "/") : bisect.bisect_left(paths, path + "0")]  # '0' follows '/'


def _and_parents(path: str) -> list[str]:
    """'a/b/c' -> ['a/b/c', 'a/b', 'a']."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _look_at_work_tree(project: Project, paths: list[str], *, indexed: bool) -> tuple[dict[str, str | None], dict[str, str]]:
    """The git-tracked files at or below `paths` whose content is not as in git's index, {path:
    blob id now, None when deleted} (one `git diff --name-only`, then one `hash-object
    --stdin-paths` for those still there); with `indexed`, also {path: blob id in the index} of
    those files (one `ls-files -s` for them alone, beside the hashing)."""
    root = project.root
    changed = sorted(git.worktree_changed(root, paths))
    if not changed:
        return {}, {}
    in_index = _Side(lambda: git.index_blob_ids(root, changed)) if indexed else None
    try:
        fresh = git.hash_paths(root, [p for p in changed if project.tree.lstat(p) is not None])
    finally:
        if in_index is not None:
            in_index.join()
    return {p: fresh.get(p) for p in changed}, in_index.result() if in_index is not None else {}


class _Now:
    """The work tree for many dependencies at once. Gitfiler artifacts: their registry files and
    the stat cache. Git-tracked paths: git's index (one `ls-files -s`), and the files whose content
    is not as in the index (`_look_at_work_tree`). The git processes run while this thread looks at
    the artifacts.

    `recorded` ({path: how many files the record holds}) says git's index holds exactly what the
    records of these paths say (`_INDEX_AS_RECORDED`): then the index is not listed, and a changed
    file is compared with its blob id in the index. `look`: `_look_at_work_tree` already started
    (on these paths or more)."""

    def __init__(
        self, project: Project, git_paths: list[str], artifacts: list[str], *, recorded: dict[str, int] | None = None, look: _Side | None = None,
    ) -> None:
        self.project = project
        self.recorded = recorded
        if look is None and git_paths:
            look = _Side(lambda: _look_at_work_tree(project, git_paths, indexed=recorded is not None))
        listing = _Side(lambda: git.index_blob_ids(project.root, git_paths)) if recorded is None and git_paths else None
        try:
            self.artifacts = self._artifacts(artifacts)
        finally:
            for side in (look, listing):
                if side is not None:
                    side.join()
        self.index = _Index(listing.result() if listing is not None else {})
        fresh, self.indexed = look.result() if look is not None else ({}, {})
        tops = set(git_paths)  # `look` may have looked at more paths than these
        self.fresh: dict[str, str | None] = {p: oid for p, oid in fresh.items() if any(q in tops for q in _and_parents(p))}  # None: deleted
        self.changed = sorted(self.fresh)

    def _artifacts(self, artifacts: list[str]) -> dict[str, tuple[str | None, str]]:
        """{artifact: (registry oid or None, problem or "")} for those whose registry file exists."""
        # Imported here: `StatusStart` is wanted before the work tree's modules are loaded.
        from ..workspace import current_many, only_files_absent

        project = self.project
        out: dict[str, tuple[str | None, str]] = {}
        entries, problems = project.load_entries_lenient([a + REGISTRY_SUFFIX for a in artifacts if project.tree.lstat(a + REGISTRY_SUFFIX)])
        for reg, err in problems:
            out[reg.removesuffix(REGISTRY_SUFFIX)] = (None, str(err))
        now = current_many(project, [e.artifact for e in entries])
        for e in entries:
            cur = now[e.artifact]
            if cur.exists and cur.oid != e.oid and not only_files_absent(project, e):
                out[e.artifact] = (e.oid, "modified in the work tree and not re-added ('git filer add' it)")
            else:
                # Not hydrated here (a fresh clone) is not staleness: the registry file names the bytes.
                out[e.artifact] = (e.oid, "")
        return out

    def _changed_at(self, path: str) -> list[str]:
        return ([path] if path in self.fresh else []) + _below(self.changed, path)

    def resolve(self, path: str, kind: str) -> Dependency | None:
        """The dependency as it is now, or None when it is missing (only without `recorded`: the
        index is listed)."""
        if kind == ARTIFACT:
            oid, _problem = self.artifacts.get(path, (None, ""))
            return Dependency(path, ARTIFACT, oid) if oid else None
        indexed = self.index.dependency(path, kind)
        changed = self._changed_at(path)
        if not changed:
            return indexed
        files = dict(indexed.lines()) if indexed is not None else {}
        for p in changed:
            oid = self.fresh[p]
            if oid is None:
                files.pop(p, None)
            else:
                files[p] = oid
        if kind == FILE:
            return Dependency(path, FILE, files[path]) if path in files else None
        n = len(path) + 1
        return Dependency(path, DIR, files=tuple(sorted((p[n:], oid) for p, oid in files.items()))) if files else None

    def difference(self, d: Dependency) -> tuple[str, str] | None:
        """(BROKEN or STALE, the reason) when dependency `d` is not as recorded; None when it is."""
        if d.kind == ARTIFACT:
            oid, problem = self.artifacts.get(d.path, (None, ""))
            if oid is None:
                return BROKEN, f"{d.shown}: {problem or 'missing'}"
            if oid != d.oid:
                return STALE, f"{d.shown}: content changed"
            return (STALE, f"{d.shown}: {problem}") if problem else None
        changed, added, removed, left = self._files(d)
        if not left:
            return BROKEN, f"{d.shown}: missing"
        if not (changed or added or removed):
            return None
        return STALE, f"{d.shown}: content changed" if d.kind == FILE else f"{d.shown}: {_dir_change(changed, added, removed)}"

    def _files(self, d: Dependency) -> tuple[int, int, int, int]:
        """How the files of git-tracked dependency `d` differ from its record: (changed, added,
        removed, how many there are now)."""
        if self.recorded is not None:  # as recorded in the index: only files git diff listed can differ
            changed = removed = 0
            for p in self._changed_at(d.path):
                now = self.fresh[p]
                if now is None:
                    removed += 1
                elif now != self.indexed.get(p):
                    changed += 1
            return changed, 0, removed, self.recorded[d.path] - removed
        cur = self.resolve(d.path, d.kind)
        if cur == d:
            return 0, 0, 0, len(d.files) or 1
        old, new = _files_of(d), _files_of(cur) if cur is not None else {}
        changed = sum(1 for p in old.keys() & new.keys() if old[p] != new[p])
        return changed, len(new.keys() - old.keys()), len(old.keys() - new.keys()), len(new)


def _files_of(d: Dependency) -> dict[str, str]:
    return dict(d.files) if d.kind == DIR else {d.path: d.oid}


def _dir_change(changed: int, added: int, removed: int) -> str:
    parts = [(n, what) for n, what in ((changed, "changed"), (added, "added"), (removed, "removed")) if n]
    said = [f"{n} {what}" for n, what in parts]
    said[0] = f"{parts[0][0]} file{'' if parts[0][0] == 1 else 's'} {parts[0][1]}"
    return ", ".join(said)


# -- git's index, as recorded ----------------------------------------------------------------------
#
# Listing git's index (`ls-files -s`, 10,000 lines to parse) and reading models.yaml (600 KB of
# recorded files to decode and validate) were most of what `model status` spent beyond `status`.
# When every git-tracked dependency is in the index exactly as models.yaml records it (the usual
# state: nothing staged since registering), a run over all models remembers that fact with the stat
# keys of both files, together with the git-tracked paths and a summary of models.yaml (names,
# entry points, dependencies with their oids and file counts, not the files). While neither file
# changes (the stat cache's rules: same inode, size and mtime, not racy), the summary stands in for
# models.yaml, `git diff` on the remembered paths starts first, and only the files it lists are
# compared: with their blob ids in the index, which are the recorded ones.

# The name carries a version: bump it when what is remembered changes, and when modelfile comes to
# refuse something it accepted (a summary remembered from such a file must not outlive the rule).
_INDEX_AS_RECORDED = "model status 1: git's index lists what models.yaml records"


def _index_key(project: Project) -> StatKey | None:
    """The stat key of git's index (the one git uses: `git.clean_env` drops GIT_INDEX_FILE)."""
    if project.git_dir is None:
        return None
    try:
        return stat_key(os.lstat(os.path.join(project.git_dir, "index")))
    except OSError:
        return None


def _summary(models: Models) -> dict[str, Any]:
    def dep(d: Dependency) -> list[Any]:
        return [d.path, d.kind, d.oid, len(d.files) if d.kind == DIR else 1]

    return {
        name: [m.entry, dep(m.model) if m.model else None, [dep(d) for d in m.data], [dep(d) for d in m.code]]
        for name, m in models.models.items()
    }


def _from_summary(summary: Any) -> tuple[Models, dict[str, int]] | None:
    """The models (dependencies without their files) and {git-tracked path: files recorded} of a
    remembered summary; None when it is not one (then models.yaml is read)."""
    try:
        out, counts = Models(), {}
        for name, (entry, model, data, code) in summary.items():
            deps = {}
            for path, kind, oid, count in [model, *data, *code] if model else [*data, *code]:
                deps[path] = Dependency(path, kind, oid)
                if kind != ARTIFACT:
                    counts[path] = count
            out.models[name] = Model(name, entry, deps[model[0]] if model else None, tuple(deps[d[0]] for d in data), tuple(deps[d[0]] for d in code))
        return out, counts
    except (AttributeError, TypeError, ValueError, KeyError, IndexError):
        return None


def _kind_of(project: Project, path: str, index: dict[str, str]) -> str:
    if project.tree.lstat(path + REGISTRY_SUFFIX) is not None:
        return ARTIFACT
    if path in index:
        return FILE
    if any(p.startswith(path + "/") for p in index):
        return DIR
    raise FilerError(f"{path} is neither a gitfiler artifact nor tracked by git; 'git filer add' or 'git add' it first")


# -- use cases ---------------------------------------------------------------------------------------


def register(project: Project, name: str, *, entry: str, model: str | None, data: list[str], code: list[str]) -> Model:
    """Record (or re-record) a model with the current oids of its model artifact and dependencies."""
    from ..release import check_name

    check_name(name, "model name")
    if not project.has_git:
        raise FilerError("models need a git repository")
    path, sep, symbol = entry.rpartition(":")
    entry = check_entry(f"{_rel(project, path)}:{symbol}" if sep and path else entry)
    if project.tree.lstat(entry.rpartition(":")[0]) is None:
        raise FilerError(f"entry file {entry.rpartition(':')[0]} does not exist")
    registry = load(project)  # a broken file is refused before anything is computed
    wanted = {"model": [_rel(project, model)] if model else [], "data": [_rel(project, p) for p in data], "code": [_rel(project, p) for p in code]}
    every = [p for ps in wanted.values() for p in ps]
    index = git.index_blob_ids(project.root, every) if every else {}
    kinds = {p: _kind_of(project, p, index) for p in every}
    for p in wanted["code"]:
        if kinds[p] == ARTIFACT:
            raise FilerError(f"{p} is a gitfiler artifact; code dependencies are git-tracked paths, give it with --data")
    now = _Now(project, [p for p in every if kinds[p] != ARTIFACT], [p for p in every if kinds[p] == ARTIFACT])
    resolved: dict[str, list[Dependency]] = {}
    for part, paths in wanted.items():
        resolved[part] = []
        for p in paths:
            dep = now.resolve(p, kinds[p])
            problem = now.artifacts.get(p, (None, ""))[1] if kinds[p] == ARTIFACT else ""
            if dep is None or problem:
                raise FilerError(f"{p}: {problem or 'deleted in the work tree; restore it or stop depending on it'}")
            resolved[part].append(dep)
    result = Model(name, entry, resolved["model"][0] if resolved["model"] else None, tuple(sorted(resolved["data"], key=lambda d: d.path)), tuple(sorted(resolved["code"], key=lambda d: d.path)))
    try:
        check_overlap(result.dependencies(), f"model {name}")
    except RegistryError as err:
        raise FilerError(str(err)) from None  # a mistake on the command line, not a malformed file
    registry.models[name] = result
    data_bytes = dumps(registry)
    if len(data_bytes) > MAX_BYTES:
        raise FilerError(f"{PATH} would exceed {MAX_BYTES} bytes (too many files recorded); depend on fewer or narrower directories")
    if project.tree.read_capped(PATH, MAX_BYTES, "model registry") != data_bytes:
        project.tree.write_atomic(PATH, data_bytes)
    git.add(project.root, [PATH])
    return result


def _rel(project: Project, path: str) -> str:
    rel = project.relpath(path).rstrip("/")
    if rel.startswith("../") or rel in ("..", "."):
        raise FilerError(f"{path} is outside the repository {project.root}")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise FilerError(f"{path!r} is not valid UTF-8; rename it") from None
    return rel


class StatusStart:
    """The first steps of `status`, which a caller may take before its own work (the fast path
    takes them before reading the config): the stat keys of git's index and models.yaml, what is
    remembered for them, and git's look at the work tree already running on the paths remembered."""

    def __init__(self, project: Project) -> None:
        self.looked_ns = time.time_ns()  # before the index and models.yaml are looked at
        index_key, models_st = _index_key(project), project.tree.lstat(PATH)
        self.keys = [index_key, stat_key(models_st)] if index_key and models_st else None
        value = project.state.derived_get(_INDEX_AS_RECORDED, self.keys) if self.keys else None
        value = value if isinstance(value, dict) else {}
        paths = value.get("paths")
        remembered = _from_summary(value.get("models")) if isinstance(paths, list) and all(isinstance(p, str) for p in paths) else None
        self.models: Models | None = remembered[0] if remembered else None
        self.counts: dict[str, int] | None = remembered[1] if remembered else None
        self.look = _Side(lambda: _look_at_work_tree(project, paths, indexed=True)) if remembered and paths else None

    def stop(self) -> None:
        if self.look is not None:
            self.look.join()


def status(project: Project, names: list[str], *, started: StatusStart | None = None) -> list[ModelStatus]:
    started = started or StatusStart(project)
    keys = started.keys
    try:
        # The remembered summary, or models.yaml read and validated.
        registry, models_key = (started.models, keys[1] if keys else None) if started.models is not None else _load(project)
        unknown = sorted(set(names) - registry.models.keys())
        if unknown:
            raise FilerError(f"no model named {', '.join(unknown)}; see 'git filer model list'")
    except BaseException:
        started.stop()
        raise
    models = [registry.models[n] for n in sorted(set(names) or registry.models)]
    deps = [d for m in models for d in m.dependencies()]
    git_deps = [d for d in deps if d.kind != ARTIFACT]
    git_paths = sorted({d.path for d in git_deps})
    now = _Now(project, git_paths, sorted({d.path for d in deps if d.kind == ARTIFACT}), recorded=started.counts, look=started.look)
    out = []
    for m in models:
        found = [x for d in m.dependencies() if (x := now.difference(d))]
        broken = [why for state, why in found if state == BROKEN]
        stale = [why for state, why in found if state == STALE]
        out.append(ModelStatus(m.name, BROKEN if broken else STALE if stale else READY, broken + stale))
    # Remember "the index is as recorded" after a run over every model that found it so, while the
    # index and models.yaml are still what it looked at.
    if (
        started.models is None and keys and models_key == keys[1] and len(models) == len(registry.models) and _index_key(project) == keys[0]
        and all(now.index.dependency(d.path, d.kind) == d for d in git_deps)
    ):
        project.state.derived_store(_INDEX_AS_RECORDED, keys, {"paths": git_paths, "models": _summary(registry)}, started.looked_ns)
    return out


def failure(rows: list[ModelStatus]) -> FilerError | None:
    """Exit non-zero (1) when any model is not READY, so CI can gate on it."""
    bad = [r for r in rows if r.state != READY]
    if not bad:
        return None
    return FilerError(f"{len(bad)} model(s) not ready: " + ", ".join(f"{r.name} {r.state}" for r in bad))


def model_digest(project: Project, name: str) -> tuple[Model, str]:
    model = get(project, name)
    return model, digest(model)
