"""`model`: register a model with the data and code it was built from; say whether each is
READY, STALE (with each reason) or BROKEN; its provenance digest (docs/models.md)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import git
from ..errors import FilerError, RegistryError
from ..modelfile import ARTIFACT, DIR, FILE, MAX_BYTES, PATH, Dependency, Model, Models, check_entry, check_overlap, digest, dumps, from_doc
from ..names import REGISTRY_SUFFIX
from ..project import Project
from ..registry import parse_yaml
from ..release import check_name
from ..state import stat_key
from ..workspace import current_many, only_files_absent

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
    st = project.tree.lstat(PATH)
    if st is None:
        return Models()
    key = stat_key(st)
    doc = project.state.parsed_get(PATH, key)
    if doc is None:
        data = project.tree.read_capped(PATH, MAX_BYTES, "model registry")
        if data is None:
            return Models()
        doc = parse_yaml(data, PATH)
        models = from_doc(doc)  # only a valid document is remembered
        project.state.parsed_store([(PATH, key, doc)])
        return models
    return from_doc(doc)


def listing(project: Project) -> list[Model]:
    return [m for _, m in sorted(load(project).models.items())]


def get(project: Project, name: str) -> Model:
    model = load(project).models.get(name)
    if model is None:
        raise FilerError(f"no model named {name!r}; see 'git filer model list'")
    return model


# -- what the work tree holds now ----------------------------------------------------------------


class _Now:
    """Current oids for many paths at once: one `ls-files -s`, one `diff --name-only` and one
    `hash-object --stdin-paths` (only for files git saw change) for all git-tracked paths; the
    registry file plus the stat cache for gitfiler artifacts."""

    def __init__(self, project: Project, git_paths: list[str], artifacts: list[str]) -> None:
        self.project = project
        # The two git processes are independent and mostly wait on lstat: they run side by side,
        # while this thread looks at the gitfiler artifacts (plain threads: importing
        # concurrent.futures alone cost ~5 ms here).
        index: dict[str, str] = {}
        dirty: set[str] = set()
        failed: list[BaseException] = []

        def side(job: Callable[[], None]) -> threading.Thread:
            def body() -> None:
                try:
                    job()
                except BaseException as err:  # re-raised in the caller's thread below
                    failed.append(err)

            t = threading.Thread(target=body, daemon=True)
            t.start()
            return t

        threads = [side(lambda: index.update(git.index_blob_ids(project.root, git_paths))), side(lambda: dirty.update(git.worktree_changed(project.root, git_paths)))] if git_paths else []
        try:
            self.artifacts = self._artifacts(artifacts)
        finally:
            for t in threads:
                t.join()
        if failed:
            raise failed[0]
        changed = dirty & index.keys()
        fresh = git.hash_paths(project.root, [p for p in sorted(changed) if project.tree.lstat(p) is not None])
        # A file deleted in the work tree (so not hashed) is gone.
        self.blobs = {p: oid for p, oid in index.items() if p not in changed} | fresh
        self.sorted = sorted(self.blobs)

    def _artifacts(self, artifacts: list[str]) -> dict[str, tuple[str | None, str]]:
        """{artifact: (registry oid or None, problem or "")} for those whose registry file exists."""
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

    def under(self, path: str) -> tuple[tuple[str, str], ...]:
        prefix = path + "/"
        keys = self.sorted[bisect.bisect_left(self.sorted, prefix) : bisect.bisect_left(self.sorted, path + "0")]  # '0' follows '/'
        n, blobs = len(prefix), self.blobs
        return tuple((k[n:], blobs[k]) for k in keys)

    def resolve(self, path: str, kind: str) -> Dependency | None:
        """The dependency as it is now, or None when it is missing."""
        if kind == ARTIFACT:
            oid, _problem = self.artifacts.get(path, (None, ""))
            return Dependency(path, ARTIFACT, oid) if oid else None
        if kind == FILE:
            return Dependency(path, FILE, self.blobs[path]) if path in self.blobs else None
        files = self.under(path)
        return Dependency(path, DIR, files=files) if files else None


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


def status(project: Project, names: list[str]) -> list[ModelStatus]:
    registry = load(project)
    unknown = sorted(set(names) - registry.models.keys())
    if unknown:
        raise FilerError(f"no model named {', '.join(unknown)}; see 'git filer model list'")
    models = [registry.models[n] for n in sorted(set(names) or registry.models)]
    deps = [d for m in models for d in m.dependencies()]
    now = _Now(project, sorted({d.path for d in deps if d.kind != ARTIFACT}), sorted({d.path for d in deps if d.kind == ARTIFACT}))
    out = []
    for m in models:
        broken, stale = [], []
        for d in m.dependencies():
            cur = now.resolve(d.path, d.kind)
            if cur is None:
                problem = now.artifacts.get(d.path, (None, ""))[1]
                broken.append(f"{d.shown}: {problem or 'missing'}")
            elif d.kind == DIR:
                if cur.files != d.files:
                    stale.append(f"{d.shown}: {_dir_change(dict(d.files), dict(cur.files))}")
            elif cur.oid != d.oid:
                stale.append(f"{d.shown}: content changed")
            elif d.kind == ARTIFACT and (problem := now.artifacts[d.path][1]):
                stale.append(f"{d.shown}: {problem}")
        state = BROKEN if broken else STALE if stale else READY
        out.append(ModelStatus(m.name, state, broken + stale))
    return out


def _dir_change(old: dict[str, str], new: dict[str, str]) -> str:
    changed = sum(1 for p in old.keys() & new.keys() if old[p] != new[p])
    parts = [(n, what) for n, what in ((changed, "changed"), (len(new.keys() - old.keys()), "added"), (len(old.keys() - new.keys()), "removed")) if n]
    said = [f"{n} {what}" for n, what in parts]
    said[0] = f"{parts[0][0]} file{'' if parts[0][0] == 1 else 's'} {parts[0][1]}"
    return ", ".join(said)


def failure(rows: list[ModelStatus]) -> FilerError | None:
    """Exit non-zero (1) when any model is not READY, so CI can gate on it."""
    bad = [r for r in rows if r.state != READY]
    if not bad:
        return None
    return FilerError(f"{len(bad)} model(s) not ready: " + ", ".join(f"{r.name} {r.state}" for r in bad))


def model_digest(project: Project, name: str) -> tuple[Model, str]:
    model = get(project, name)
    return model, digest(model)
