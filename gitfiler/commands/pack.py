"""`pack MODEL [--code DIR] -o OUT`: the serving archive (`gitfiler.pack` builds and checks it);
`unpack ARCHIVE DEST [--verify]`: extract one safely (`gitfiler.tarsafe`).

MODEL is a directory, a single file, or a model tarball (told by its content) whose members go
to the archive's root. With `--ref REV` the paths name what the commit holds (gitfiler
artifacts, fetched into the cache if need be, and git-tracked files), nothing checked out.
With `--add` the archive is tracked like any artifact: meta `type: package`, and the oid of each
input (a directory's is the digest of its manifest, as `add` would record it).

Every check runs before the output is touched; the archive is written to a temp file beside it,
read back, and only then renamed over it.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from typing import IO, Any

from .. import git, history, registry, tarsafe
from .. import pack as packing
from ..closure import Item
from ..errors import FilerError, UnsafePathError
from ..fsutil import temp_name_beside
from ..ignorefile import ensure_ignored
from ..objects import hash_file
from ..paths import is_within
from ..project import Project
from ..registry import Entry
from ..sync import fetch_files
from ..transfer import ProgressSink
from ..workspace import current

MAX_GIT_FILE_BYTES = 64 << 20  # a git-tracked file read at a commit is held in memory; code files are small


@dataclass
class InputInfo:
    path: str  # as the user named it
    oid: str  # a file's oid, or a directory's manifest digest
    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PackResult:
    output: str
    compression: str
    level: int | None
    files: int
    input_bytes: int
    archive_bytes: int
    sha256: str
    inputs: dict[str, InputInfo] = field(default_factory=dict)
    commit: str | None = None
    registry: str | None = None  # with --add
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Archive bytes over input bytes: 0.25 means the archive is a quarter of its inputs."""
        return self.archive_bytes / self.input_bytes if self.input_bytes else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output, "compression": self.compression, "level": self.level, "files": self.files,
            "input_bytes": self.input_bytes, "archive_bytes": self.archive_bytes, "ratio": round(self.ratio, 4), "sha256": self.sha256,
            "inputs": {k: v.to_json() for k, v in self.inputs.items()}, "commit": self.commit, "registry": self.registry,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class UnpackResult:
    archive: str
    dest: str
    files: int
    dirs: int
    bytes: int
    verified: bool
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def pack(
    project: Project | None, model: str, *, output: str, code: str | None = None, compression: str = "gzip", level: int | None = None,
    ref: str | None = None, add: bool = False, remote: str | None = None, jobs: int | None = None, sink: ProgressSink | None = None,
) -> PackResult:
    """Build the archive at `output`; `project` is needed only with `ref` or `add`."""
    started = time.perf_counter()
    level = packing.check_level(compression, level)
    packing.check_zstd(compression)
    if (ref or add) and project is None:
        raise FilerError("--ref and --add need a git repository with gitfiler; run pack inside one")
    out = os.path.abspath(output)
    if os.path.isdir(out):
        raise FilerError(f"-o {output} is a directory; name the archive file to write (e.g. {os.path.join(output, 'model.tar.gz')})")
    if add:
        assert project is not None
        _check_trackable(project, out, output)
    commit: str | None = None
    scratch: list[str] = []  # temp directories for unpacked model tarballs, beside the output
    made = packing.make_parents(os.path.dirname(out))  # removed again if the pack fails
    packed = False
    try:
        if ref is not None:
            assert project is not None
            commit, model_tree, code_tree = _at_commit(project, ref, model, code, out, scratch, remote=remote, jobs=jobs, sink=sink)
        else:
            for given in [model] + ([code] if code else []):
                if is_within(out, given) or os.path.abspath(given) == out:
                    raise UnsafePathError(f"-o {output} lies inside the input {given}; write the archive somewhere else")
            model_tree = _model_from_disk(model, out, scratch)
            code_tree = packing.scan(code, code) if code else None
        lay = packing.layout(model_tree, code_tree)
        total = sum(f.size for f in lay.files)
        seen = _in_work_tree(project, lay.files) if project is not None and ref is None else {}
        known = _stat_cached(project, seen) if project is not None else {}
        hashed: dict[str, str] | None = None  # zstd hashes while it writes; other compressions first
        if not packing.hashes_while_writing(compression):
            unknown = sum(f.size for f in lay.files if f.oid is None and f.path not in known)
            hashed = _stage(sink, "hashing", len(lay.files), unknown, lambda p: packing.digest_inputs(lay, p, known))

        def run(p: packing.Progress) -> packing.Written:
            return packing.write(out, lay, hashed, compression=compression, level=level, progress=p, known=known)

        written = _stage(sink, "packing", len(lay.files), total, run)
        oids = written.oids
        packed = True
        if project is not None and seen:
            # What was hashed is remembered as `add` remembers it, by the stat taken before reading.
            from ..state import stat_key

            project.state.stat_store([(rel, stat_key(st), oids[arc]) for rel, (arc, st) in seen.items() if arc not in known])
    finally:
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
        if not packed:
            packing.remove_made(made)
    result = PackResult(output, compression, level, len(lay.files), total, written.archive_bytes, written.sha256, commit=commit)
    result.inputs["model"] = _input_info(model, model_tree, oids)
    if code_tree is not None and code is not None:
        result.inputs["code"] = _input_info(code, code_tree.under(packing.CODE_DIR), oids, strip=packing.CODE_DIR + "/")
    if add:
        assert project is not None
        result.registry = _track(project, out, result, jobs)
    result.seconds = time.perf_counter() - started
    return result


def unpack(archive: str, dest: str, *, verify: bool = False, limits: tarsafe.Limits | None = None, sink: ProgressSink | None = None) -> UnpackResult:
    started = time.perf_counter()
    if not os.path.lexists(archive):
        raise FilerError(f"{archive}: no such file")
    size = os.path.getsize(archive)
    done = _stage(sink, "unpacking", 1, size, lambda p: packing.unpack(archive, dest, verify=verify, limits=limits, progress=p))
    return UnpackResult(archive, dest, done.files, done.dirs, done.bytes, done.verified, time.perf_counter() - started)


def _in_work_tree(project: Project, files: list[packing.Input]) -> dict[str, tuple[str, os.stat_result]]:
    """Repo-relative path -> (archive path, lstat) of the inputs read from the work tree."""
    by_rel: dict[str, tuple[str, os.stat_result]] = {}
    for f in files:
        if f.source is None or f.oid is not None or not is_within(f.source, project.root) or is_within(f.source, os.path.join(project.root, ".git")):
            continue
        try:
            st = os.lstat(f.source)
        except OSError:
            continue
        by_rel[project.relpath(f.source)] = (f.path, st)
    return by_rel


def _stat_cached(project: Project, by_rel: dict[str, tuple[str, os.stat_result]]) -> dict[str, str]:
    """Archive path -> oid of the work-tree inputs whose digest the stat cache vouches for
    (unchanged since gitfiler last hashed them, as `status` trusts it): packing a tracked model
    again reads it once, not twice. Nothing is hashed here."""
    from ..state import stat_key

    if not by_rel:
        return {}
    known = project.state.stat_lookup(by_rel)
    out: dict[str, str] = {}
    for rel, (arc, st) in by_rel.items():
        oid = project.state.trusted(known.get(rel), stat_key(st))
        if oid is not None:
            out[arc] = oid
    return out


def _stage(sink: ProgressSink | None, label: str, objects: int, total: int, work: Any) -> Any:
    if sink is None or total == 0:
        return work(None)
    sink.start(label, objects, total)
    try:
        return work(sink.advance)
    finally:
        sink.finish()


def _model_from_disk(model: str, out: str, scratch: list[str]) -> packing.Tree:
    """A directory or a single file as it is, or a model tarball's members."""
    try:
        st = os.lstat(model)
    except FileNotFoundError:
        raise FilerError(f"{model}: no such file or directory") from None
    if stat.S_ISREG(st.st_mode) and (tarsafe.is_tarball(model) or packing.named_like_tarball(model)):
        tree = _untar(model, model, out, scratch)
        tree.source_oid = hash_file(model)[0]  # the input's oid is the tarball's, as `add` would record it
        return tree
    tree = packing.scan(model, model)
    if not tree.files:
        raise FilerError(f"{model} holds no files; nothing to pack")
    return tree


def _untar(path: str, shown: str, out: str, scratch: list[str]) -> packing.Tree:
    where = temp_name_beside(out)
    os.makedirs(os.path.dirname(where), exist_ok=True)
    os.mkdir(where, 0o700)
    scratch.append(where)
    tree = packing.unpack_input(path, where, shown)
    if not tree.files:
        raise FilerError(f"{shown} holds no files; nothing to pack")
    return tree


def _input_info(given: str, tree: packing.Tree, oids: dict[str, str], strip: str = "") -> InputInfo:
    rows = [(f.path.removeprefix(strip), oids[f.path], f.size, f.executable) for f in tree.files]
    single = len(rows) == 1 and not tree.dirs and "/" not in rows[0][0] and not os.path.isdir(given)
    oid = tree.source_oid or (rows[0][1] if single else packing.input_oid(rows))
    return InputInfo(given, oid, len(rows), sum(r[2] for r in rows))


# -- at a commit -----------------------------------------------------------------------------------------


def _at_commit(
    project: Project, rev: str, model: str, code: str | None, out: str, scratch: list[str], *,
    remote: str | None, jobs: int | None, sink: ProgressSink | None,
) -> tuple[str, packing.Tree, packing.Tree | None]:
    commit, entries = history.entries_of(project, rev)
    rels = {"model": _repo_path(project, model)} | ({"code": _repo_path(project, code)} if code else {})
    chosen = [e for e in entries if any(_overlaps(e.artifact, r) for r in rels.values())]
    _transfer, items = fetch_files(project, chosen, remote=remote, jobs=project.jobs(jobs), sink=sink, nothing="nothing was written")
    trees: dict[str, packing.Tree] = {}
    for key, rel in rels.items():
        given = model if key == "model" else code or ""
        files = [i for i in items if i.path == rel or i.path.startswith(rel + "/")]
        blobs = _git_files(project, commit, rel, {e.registry for e in entries})
        if not files and not blobs:
            raise FilerError(f"{given} is not in {rev} ({commit[:12]}): neither a gitfiler artifact nor a git-tracked file there")
        single = len(files) + len(blobs) == 1 and (files[0].path if files else blobs[0][0]) == rel
        if key == "model" and single and files and tarsafe.is_tarball(project.store.path(files[0].oid)):
            project.store.check(files[0].oid)
            trees[key] = _untar(project.store.path(files[0].oid), f"{given} at {commit[:12]}", out, scratch)
            trees[key].source_oid = files[0].oid
            continue
        tree = packing.Tree()
        base = rel.rpartition("/")[2] if single else None
        for i in files:
            tree.files.append(_store_input(project, i, base or i.path[len(rel) + 1:], f"{i.path} at {commit[:12]}"))
        for path, mode, data in blobs:
            arc = base or path[len(rel) + 1:]
            tree.files.append(packing.Input(arc, len(data), mode == "100755", _bytes_opener(data), None, f"{path} at {commit[:12]}"))
        seen: dict[str, str] = {}
        for f in tree.files:
            if f.path in seen:
                raise FilerError(f"{given} at {commit[:12]}: {f.path} is both a gitfiler artifact and a git-tracked file; fix the repository")
            seen[f.path] = f.shown
        trees[key] = tree
    return commit, trees["model"], trees.get("code")


def _repo_path(project: Project, path: str) -> str:
    rel = project.relpath(path).rstrip("/")
    if rel == "." or rel.startswith("../"):
        raise FilerError(f"{path} is not inside the repository {project.root}; --ref reads paths of the repository")
    return rel


def _overlaps(artifact: str, rel: str) -> bool:
    return artifact == rel or artifact.startswith(rel + "/") or rel.startswith(artifact + "/")


def _store_input(project: Project, item: Item, arc: str, shown: str) -> packing.Input:
    store = project.store

    def opener() -> IO[bytes]:
        return store.open(item.oid)

    # The oid is known: the write hashes the bytes again while packing them, so a corrupt
    # cache object is caught there, before the archive is kept.
    return packing.Input(arc, item.size, item.executable, opener, item.oid, shown)


def _bytes_opener(data: bytes) -> Any:
    import io

    return lambda: io.BytesIO(data)


def _git_files(project: Project, commit: str, rel: str, registries: set[str]) -> list[tuple[str, str, bytes]]:
    """(path, mode, bytes) of the git-tracked regular files at or below `rel` in `commit`,
    registry files left out. A symlink or submodule there is refused, as on disk."""
    proc = git.run(["ls-tree", "-r", "-z", "--full-tree", commit, "--", rel], project.root, literal=True)
    found: list[tuple[str, str, str]] = []
    for record in proc.stdout.split(b"\0"):
        meta, tab, name = record.partition(b"\t")
        if not tab:
            continue
        mode, kind, oid = meta.decode().split(" ")
        path = os.fsdecode(name)
        if path != rel and not path.startswith(rel + "/"):
            continue
        if path in registries or registry.is_registry_file(path):
            continue
        if mode == "120000":
            raise UnsafePathError(f"{path} is a symlink at {commit[:12]}; gitfiler packs files and directories, never links")
        if kind != "blob":
            raise UnsafePathError(f"{path} is a {kind} (submodule) at {commit[:12]}; refusing to pack it")
        found.append((path, mode, oid))
    blobs = git.read_blobs(project.root, [o for _, _, o in found], max_size=MAX_GIT_FILE_BYTES)
    if blobs.too_large:
        raise FilerError(f"a git-tracked file below {rel} is larger than {MAX_GIT_FILE_BYTES} bytes; track it with gitfiler to pack it with --ref")
    return [(p, m, blobs[o]) for p, m, o in found]


# -- --add -----------------------------------------------------------------------------------------------


def _check_trackable(project: Project, out: str, output: str) -> None:
    """Refuse, before anything is packed, an output `--add` could not track (the part of
    commands/add.check_addable that applies to a file about to be written)."""
    if not is_within(os.path.dirname(out), project.root):
        raise FilerError(f"--add tracks the archive with gitfiler, so -o {output} must lie inside the repository {project.root}")
    rel = project.relpath(out)
    parts = rel.split("/")
    if ".git" in parts or parts[0] == ".gitfiler" or registry.is_registry_file(rel):
        raise FilerError(f"-o {output} is not a path gitfiler can track; write the archive elsewhere to --add it")
    for e in project.load_entries():
        if e.kind == "dir" and rel.startswith(e.artifact + "/"):
            raise FilerError(f"-o {output} is inside {e.artifact}, which gitfiler tracks as a directory; write the archive elsewhere to --add it")
    if project.has_git and git.ls_files(project.root, [rel], others=False, literal=True):
        raise FilerError(f"-o {output} is committed to git; run 'git rm --cached {rel}' first, then pack with --add again")


def _track(project: Project, out: str, result: PackResult, jobs: int | None) -> str:
    """Track the archive like `git filer add` would, with meta type=package and the input oids.
    This repeats the core of commands/add._add_one, which a command may not import (see the report)."""
    rel = project.relpath(out)
    meta: dict[str, Any] = {
        "type": "package",
        "package": {"compression": result.compression, "level": result.level, "files": result.files},
        "inputs": {k: {"path": v.path if result.commit else project.relpath(v.path), "oid": v.oid} for k, v in result.inputs.items()},
    }
    if result.commit:
        meta["package"]["commit"] = result.commit
    registry.check_type_version(None, None, meta)
    with project.state.batch():
        cur = current(project, rel, store=project.store, jobs=project.jobs(jobs))
        assert cur.oid is not None and cur.files is None
        reg = registry.registry_path_for(rel)
        registry.write(project.tree, Entry(registry=reg, path=rel.rpartition("/")[2], kind="file", oid=cur.oid, size=cur.size, meta=meta))
        project.state.hydrated_set([(rel, cur.oid)])
        ignore = ensure_ignored(project.tree, rel)
    if project.has_git:
        git.add(project.root, [reg, ignore])
    return reg
