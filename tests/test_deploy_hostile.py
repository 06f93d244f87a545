"""Hostile remotes against `git-filer deploy` (issue 10, design invariant 7).

A local-directory remote is built BY HAND here, the way an attacker with write access to it
would build it: objects written straight into `<remote>/objects/sha256/..` with hashlib,
release pointers `<remote>/releases/<name>` written as plain files, release and directory
manifests as raw JSON. Nothing hostile goes through gitfiler, so a fix in gitfiler cannot
change what is built.

Three assertions hold for every test:

- (autouse fixture) a sentinel directory outside the remote, the target and the cache is
  identical before and after (paths, modes, sizes, mtimes, digests, link targets);
- (`hostile.run_capped`) every process ran under a 2 GiB address-space cap, a 64 MiB
  file-size cap and a timeout, and none crashed (exit 70, a traceback, a kill);
- (`refused`) a hostile release is refused with the README's exit code (4 malformed or
  unsafe, 6 corrupt bytes, 7 missing objects) on one `error:` line, and the target is as it
  was: no new `releases/<name>`, `current` unchanged, the live release intact
  (`deploy verify --deep` passes).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hostile
from hostile import KNOWN, Proc, oid_of

EXIT_UNSAFE = 4  # a manifest or path is malformed or unsafe
EXIT_REMOTE = 5
EXIT_CORRUPT = 6
EXIT_MISSING = 7
GIT_FILER = os.path.join(hostile.BIN_DIR, "git-filer")
CREATED = "2026-11-29T05:00:00Z"
GOOD = "good-1"

# The good release, byte for byte the same in every remote (so its oids are known up front
# and the sentinel can hold copies of its pointer and manifests).
MODEL = b"weights " * 512
TOKENIZER = {"vocab.txt": b"a b c\n", "sub/merges.txt": b"x y\n"}


def component(name: str, path: str, kind: str, oid: str, size: Any, files: Any = None, **over: Any) -> dict[str, Any]:
    doc = {"name": name, "type": None, "version": None, "path": path, "kind": kind, "oid": oid, "size": size, "files": files}
    doc.update(over)
    return doc


def release_bytes(name: str, components: list[dict[str, Any]], over: dict[str, Any] | None = None) -> bytes:
    doc: dict[str, Any] = {
        "schema": "gitfiler-release", "version": 1, "name": name, "created": CREATED, "commit": None,
        "components": sorted(components, key=lambda c: str(c.get("name"))),
    }
    doc.update(over or {})
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def good_components() -> list[dict[str, Any]]:
    tok_manifest = hostile.manifest_of(TOKENIZER)
    return [
        component("model", "models/m.bin", "file", oid_of(MODEL), len(MODEL)),
        component("tok", "tokenizer", "dir", oid_of(tok_manifest), sum(map(len, TOKENIZER.values())), len(TOKENIZER)),
    ]


GOOD_MANIFEST = release_bytes(GOOD, good_components())


# -- the world: a sentinel outside everything ----------------------------------------------------


@dataclass
class World:
    base: Path
    env: dict[str, str]
    sentinel: Path

    def run(self, *args: str, cwd: Path | None = None) -> Proc:
        return hostile.run_capped([GIT_FILER, *args], cwd or self.base, self.env)

    @property
    def repo(self) -> Path:
        """A git repository to run `release list -r URL` in (it wants one)."""
        repo = self.base / "repo"
        if not repo.exists():
            repo.mkdir()
            proc = hostile.run_capped(["git", "init", "-q"], repo, self.env)
            assert proc.returncode == 0, str(proc)
        return repo

    def rebuild(self) -> None:
        import shutil

        shutil.rmtree(self.sentinel)
        make_sentinel(self.sentinel, self.base)


def make_sentinel(path: Path, base: Path) -> None:
    """tests/hostile.py's sentinel, plus copies of the good release's records: a remote that
    links to them hands gitfiler valid, verifiable bytes, so only refusing the link keeps
    gitfiler from reading outside the remote."""
    hostile.make_sentinel(path, cfg_remote=base / "cfg-remote")
    (path / "pointers").mkdir()
    (path / "pointers" / GOOD).write_text(f"{oid_of(GOOD_MANIFEST)}\n")
    (path / "release.json").write_bytes(GOOD_MANIFEST)
    (path / "tok-manifest.json").write_bytes(hostile.manifest_of(TOKENIZER))
    (path / "model.bin").write_bytes(MODEL)
    # A shard of a store, named like a cache's, holding a file named like an object.
    shard = path / "store" / "objects" / "sha256" / "ab"
    shard.mkdir(parents=True)
    (shard / ("c" * 62)).write_bytes(b"precious, not an object\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("deploy-hostile")
    sentinel = base / "sentinel"
    make_sentinel(sentinel, base)
    return World(base, hostile.pinned_env(base), sentinel)


@pytest.fixture(autouse=True)
def sentinel_unchanged(world: World):
    before = hostile.snapshot(world.sentinel)
    yield
    after = hostile.snapshot(world.sentinel)
    if after != before:
        diff = hostile.difference(before, after)
        world.rebuild()
        pytest.fail(f"the sentinel directory outside the remote and the target changed: {diff}")


# -- a remote, by hand -----------------------------------------------------------------------------------


class Remote:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "objects" / "sha256").mkdir(parents=True)
        (root / "releases").mkdir()

    def obj_path(self, oid: str) -> Path:
        hexd = oid.split(":", 1)[1]
        return self.root / "objects" / "sha256" / hexd[:2] / hexd[2:]

    def put_as(self, oid: str, data: bytes) -> str:
        p = self.obj_path(oid)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return oid

    def put(self, data: bytes) -> str:
        return self.put_as(oid_of(data), data)

    def link_object(self, oid: str, to: str | Path) -> str:
        p = self.obj_path(oid)
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(to, p)
        return oid

    def point(self, name: str, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else f"{text}\n".encode()
        (self.root / "releases" / name).write_bytes(data)

    def file(self, name: str, path: str, data: bytes, **over: Any) -> dict[str, Any]:
        return component(name, path, "file", self.put(data), len(data), **over)

    def dir(self, name: str, path: str, files: dict[str, bytes], **over: Any) -> dict[str, Any]:
        for data in files.values():
            self.put(data)
        return self.dir_raw(name, path, hostile.manifest_of(files), files=len(files), size=sum(map(len, files.values())), **over)

    def dir_raw(self, name: str, path: str, manifest: bytes, *, files: int, size: int, **over: Any) -> dict[str, Any]:
        return component(name, path, "dir", self.put(manifest), size, files, **over)

    def release(self, name: str, components: list[dict[str, Any]], *, pointer: str | None = None, over: dict[str, Any] | None = None) -> str:
        return self.release_raw(pointer or name, release_bytes(name, components, over))

    def release_raw(self, pointer: str, data: bytes) -> str:
        oid = self.put(data)
        self.point(pointer, oid)
        return oid

    def good(self) -> str:
        for data in (MODEL, hostile.manifest_of(TOKENIZER), *TOKENIZER.values()):
            self.put(data)
        return self.release_raw(GOOD, GOOD_MANIFEST)


@dataclass
class Host:
    world: World
    remote: Remote
    target: Path

    def deploy(self, name: str, *extra: str, remote: Path | None = None) -> Proc:
        return self.world.run("deploy", name, "--from", str(remote or self.remote.root), "--target", str(self.target), *extra)

    def sub(self, verb: str, *extra: str) -> Proc:
        return self.world.run("deploy", verb, "--target", str(self.target), *extra)

    def live(self) -> str | None:
        try:
            return os.readlink(self.target / "current")
        except FileNotFoundError:
            return None
        except OSError:
            return "(not a link)"

    def state(self) -> dict[str, tuple[Any, ...]]:
        """What a refused deploy must leave as it was: everything in the target but the cache,
        the lock and what a failed deploy may leave half-built in staging."""
        if not self.target.exists():
            return {}
        snap = hostile.snapshot(self.target)
        skip = (".filer-deploy/cache", ".filer-deploy/staging", ".filer-deploy/lock")
        layout = (".", ".filer-deploy", ".filer-deploy/records", "releases")  # may be created empty: compare what they hold
        return {k: v for k, v in snap.items() if k not in layout and not k.startswith(skip)}


@pytest.fixture
def host(world: World, tmp_path: Path) -> Host:
    return Host(world, Remote(tmp_path / "remote"), tmp_path / "srv")


@pytest.fixture
def live_host(host: Host) -> Host:
    """A target where the good release is deployed and live."""
    host.remote.good()
    proc = host.deploy(GOOD)
    assert proc.returncode == 0, str(proc)
    assert host.live() == f"releases/{GOOD}"
    return host


@pytest.fixture(scope="module")
def shared_target(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One target with the good release live, for the many cases that must leave it as it is."""
    base = tmp_path_factory.mktemp("shared")
    h = Host(world, Remote(base / "remote"), base / "srv")
    h.remote.good()
    proc = h.deploy(GOOD)
    assert proc.returncode == 0, str(proc)
    return h.target


@pytest.fixture
def shared_host(world: World, tmp_path: Path, shared_target: Path) -> Host:
    """A fresh hostile remote (holding the good release too) aimed at the shared live target."""
    h = Host(world, Remote(tmp_path / "remote"), shared_target)
    h.remote.good()
    assert h.live() == f"releases/{GOOD}", "an earlier case changed the shared target"
    return h


def error_lines(proc: Proc) -> list[str]:
    """The one line saying what is wrong: ours (`error: `), or click's for a usage error (`Error: `, exit 2)."""
    return [line for line in proc.stderr.splitlines() if line.startswith(("error: ", "Error: "))]


def refused(host: Host, proc: Proc, code: int | tuple[int, ...], before: dict[str, tuple[Any, ...]], *, named: str | None = None) -> None:
    """`proc` failed with `code`, said so on one `error:` line, and left the target as it was."""
    codes = (code,) if isinstance(code, int) else code
    assert proc.returncode in codes, f"expected exit {codes}:\n{proc}"
    lines = error_lines(proc)
    assert len(lines) == 1, f"expected one error line:\n{proc}"
    if named is not None:
        assert named in lines[0], f"the error does not name {named!r}:\n{proc}"
    after = host.state()
    assert after == before, f"the target changed: {hostile.difference(before, after)}\n{proc}"
    live = host.live()
    name = live.partition("/")[2] if live is not None and live.startswith("releases/") else ""
    if name and "/" not in name and ".." not in name:
        check = host.sub("verify", "--deep")
        assert check.returncode == 0, f"the live release {name} is damaged after a refused deploy:\n{check}"


def deploy_refused(host: Host, name: str, code: int | tuple[int, ...], *, named: str | None = None, extra: tuple[str, ...] = ()) -> Proc:
    before = host.state()
    live = host.live()
    proc = host.deploy(name, *extra)
    refused(host, proc, code, before, named=named)
    assert host.live() == live
    assert not (host.target / "releases" / name).exists() or name == GOOD
    return proc


# -- the good release deploys (the baseline every hostile case is compared to) --------------------------


def test_the_hand_built_good_release_deploys_and_verifies(live_host: Host):
    assert (live_host.target / "current/models/m.bin").read_bytes() == MODEL
    assert (live_host.target / "current/tokenizer/sub/merges.txt").read_bytes() == b"x y\n"
    assert live_host.sub("verify", "--deep").returncode == 0


# -- hostile release manifests --------------------------------------------------------------------------

Build = Callable[[Remote], Any]


def _with_component(**over: Any) -> Build:
    """The evil release: the good components plus one file component with `over` applied."""

    def build(r: Remote) -> None:
        extra = r.file("extra", "extra/x.bin", b"extra bytes\n")
        extra.update(over)
        r.release("evil", [*good_components(), extra])

    return build


def _top(**over: Any) -> Build:
    return lambda r: r.release("evil", [r.file("extra", "extra/x.bin", b"extra\n")], over=over)


def _raw(data: bytes) -> Build:
    return lambda r: r.release_raw("evil", data)


def _dup_names(r: Remote) -> None:
    r.release("evil", [r.file("x", "a/one", b"1"), r.file("x", "a/two", b"2")])


def _dup_paths(r: Remote) -> None:
    r.release("evil", [r.file("x", "a/one", b"1"), r.file("y", "a/one", b"2")])


def _path_inside(r: Remote) -> None:
    r.release("evil", [r.dir("x", "a", {"b/c": b"1"}), r.file("y", "a/b/c", b"2")])


def _file_inside_file(r: Remote) -> None:
    r.release("evil", [r.file("x", "a", b"1"), r.file("y", "a/b", b"2")])


def _extra_component_key(r: Remote) -> None:
    c = r.file("x", "a", b"1")
    c["mode"] = "4755"
    r.release("evil", [c])


def _missing_component_key(r: Remote) -> None:
    c = r.file("x", "a", b"1")
    del c["files"]
    r.release("evil", [c])


def _name_mismatch(r: Remote) -> None:
    r.release("other", [r.file("x", "a", b"1")], pointer="evil")


def _name_mismatch_live(r: Remote) -> None:
    # The pointer `evil` names a manifest calling itself `good-1`, the live release's name.
    r.release(GOOD, [r.file("model", "models/m.bin", b"evil weights")], pointer="evil")


def _nested(r: Remote) -> None:
    r.release_raw("evil", b"[" * 200_000 + b"]" * 200_000)


def _nested_in_component(r: Remote) -> None:
    head = release_bytes("evil", [component("x", "a", "file", oid_of(b"1"), 1)])
    r.release_raw("evil", head.replace(b'"type":null', b'"type":' + b"[" * 100_000 + b"]" * 100_000))


def _huge_int(r: Remote) -> None:
    c = r.file("x", "a", b"1")
    r.release_raw("evil", release_bytes("evil", [c]).replace(b'"size":1', b'"size":' + b"9" * 5000))


def _nan_size(r: Remote) -> None:
    c = r.file("x", "a", b"1")
    r.release_raw("evil", release_bytes("evil", [c]).replace(b'"size":1', b'"size":NaN'))


def _duplicate_json_key(r: Remote) -> None:
    # Two parsers may disagree on which `path` wins; a strict reader refuses the ambiguity or
    # at least keeps the last (still checked) one: either way nothing escapes.
    c = r.file("x", "a", b"1")
    r.release_raw("evil", release_bytes("evil", [c]).replace(b'"path":"a"', b'"path":"a","path":"../a"'))


def _points_at_a_directory_manifest(r: Remote) -> None:
    r.good()
    r.point("evil", oid_of(hostile.manifest_of(TOKENIZER)))


def _points_at_a_file(r: Remote) -> None:
    r.point("evil", r.put(b"just some bytes\n"))


MANIFEST_CASES: dict[str, tuple[Build, int]] = {
    # component paths that leave the release directory
    "path-dotdot": (_with_component(path="../x"), EXIT_UNSAFE),
    "path-absolute": (_with_component(path="/tmp/x"), EXIT_UNSAFE),
    "path-inner-dotdot": (_with_component(path="a/../../b"), EXIT_UNSAFE),
    "path-git-hooks": (_with_component(path=".git/hooks/post-checkout"), EXIT_UNSAFE),
    "path-GIT-upper": (_with_component(path="x/.GIT/config"), EXIT_UNSAFE),
    "path-backslash": (_with_component(path="a\\..\\..\\b"), EXIT_UNSAFE),
    "path-drive": (_with_component(path="C:/x"), EXIT_UNSAFE),
    "path-dot": (_with_component(path="./x"), EXIT_UNSAFE),
    "path-double-slash": (_with_component(path="a//b"), EXIT_UNSAFE),
    "path-trailing-slash": (_with_component(path="a/"), EXIT_UNSAFE),
    "path-empty": (_with_component(path=""), EXIT_UNSAFE),
    "path-nul": (_with_component(path="a\x00b"), EXIT_UNSAFE),
    "path-not-string": (_with_component(path=["a"]), EXIT_UNSAFE),
    # component names (they become <target>/<name> links)
    "name-dotdot": (_with_component(name=".."), EXIT_UNSAFE),
    "name-slash": (_with_component(name="a/b"), EXIT_UNSAFE),
    "name-hidden": (_with_component(name=".filer-deploy"), EXIT_UNSAFE),
    "name-long": (_with_component(name="x" * 300), EXIT_UNSAFE),
    # oids and sizes
    "oid-bad-hex": (_with_component(oid="sha256:" + "g" * 64), EXIT_UNSAFE),
    "oid-upper": (_with_component(oid="sha256:" + "A" * 64), EXIT_UNSAFE),
    "oid-short": (_with_component(oid="sha256:abc"), EXIT_UNSAFE),
    "oid-traversal": (_with_component(oid="sha256:../../../../etc/passwd"), EXIT_UNSAFE),
    "oid-other-algo": (_with_component(oid="sha1:" + "a" * 40), EXIT_UNSAFE),
    "size-negative": (_with_component(size=-1), EXIT_UNSAFE),
    "size-float": (_with_component(size=1.5), EXIT_UNSAFE),
    "size-bool": (_with_component(size=True), EXIT_UNSAFE),
    "size-string": (_with_component(size="12"), EXIT_UNSAFE),
    "size-huge-int": (_huge_int, EXIT_UNSAFE),
    "size-nan": (_nan_size, EXIT_UNSAFE),
    "kind-link": (_with_component(kind="symlink"), EXIT_UNSAFE),
    "files-on-a-file": (_with_component(files=3), EXIT_UNSAFE),
    "type-newline": (_with_component(type="model\nerror: forged"), EXIT_UNSAFE),
    "version-huge": (_with_component(version="1" * 10_000), EXIT_UNSAFE),
    "unknown-component-key": (_extra_component_key, EXIT_UNSAFE),
    "missing-component-key": (_missing_component_key, EXIT_UNSAFE),
    "duplicate-names": (_dup_names, EXIT_UNSAFE),
    "duplicate-paths": (_dup_paths, EXIT_UNSAFE),
    "path-inside-dir-component": (_path_inside, EXIT_UNSAFE),
    "path-inside-file-component": (_file_inside_file, EXIT_UNSAFE),
    # the whole manifest
    "unknown-top-key": (_top(hooks={"post-deploy": "rm -rf /"}), EXIT_UNSAFE),
    "schema-wrong": (_top(schema="gitfiler-release-2"), EXIT_UNSAFE),
    "version-2": (_top(version=2), EXIT_UNSAFE),
    "version-true": (_top(version=True), EXIT_UNSAFE),
    "version-string": (_top(version="1"), EXIT_UNSAFE),
    "components-empty": (_top(components=[]), EXIT_UNSAFE),
    "components-object": (_top(components={"x": 1}), EXIT_UNSAFE),
    "created-bad": (_top(created="yesterday"), EXIT_UNSAFE),
    "commit-bad": (_top(commit="; rm -rf /"), EXIT_UNSAFE),
    "name-mismatch": (_name_mismatch, EXIT_UNSAFE),
    "name-mismatch-live-name": (_name_mismatch_live, EXIT_UNSAFE),
    "not-json": (_raw(b"\xff\xfe\x00not json at all"), EXIT_UNSAFE),
    "json-array": (_raw(b"[]"), EXIT_UNSAFE),
    "json-string": (_raw(b'"gitfiler-release"'), EXIT_UNSAFE),
    "empty": (_raw(b""), EXIT_UNSAFE),
    "pointer-to-a-directory-manifest": (_points_at_a_directory_manifest, EXIT_UNSAFE),
    "pointer-to-a-plain-file": (_points_at_a_file, EXIT_UNSAFE),
    "nested-deep": (_nested, EXIT_UNSAFE),
    "nested-in-component": (_nested_in_component, EXIT_UNSAFE),
    "duplicate-json-key": (_duplicate_json_key, EXIT_UNSAFE),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_hostile_release_manifest_is_refused_and_the_live_release_stays(shared_host: Host, case: str):
    build, code = MANIFEST_CASES[case]
    build(shared_host.remote)
    deploy_refused(shared_host, "evil", code)


def test_a_hostile_manifest_on_a_fresh_target_places_nothing(host: Host):
    _with_component(path="../escape")(host.remote)
    deploy_refused(host, "evil", EXIT_UNSAFE)
    assert not (host.target / "current").exists() and not (host.target.parent / "escape").exists()
    assert not os.path.exists(host.target / "releases" / "evil")


def test_a_release_manifest_over_the_size_cap_is_refused(live_host: Host):
    # Valid JSON (whitespace) just over release.MAX_RELEASE_BYTES: refused by size, never parsed.
    data = release_bytes("evil", [live_host.remote.file("x", "a", b"1")])
    live_host.remote.release_raw("evil", data[:-1] + b" " * (16 * 1024 * 1024) + b"}")
    deploy_refused(live_host, "evil", EXIT_UNSAFE)


# -- hostile directory manifests ---------------------------------------------------------------------------


def _dir_entries(r: Remote, entries: list[dict[str, Any]], *, files: int | None = None, size: int | None = None) -> None:
    blob = b"payload\n"
    r.put(blob)
    for e in entries:
        e.setdefault("oid", oid_of(blob))
        e.setdefault("size", len(blob))
        e.setdefault("exec", False)
    manifest = hostile.manifest_bytes(entries)
    n = len(entries) if files is None else files
    total = sum(e["size"] for e in entries if isinstance(e["size"], int)) if size is None else size
    r.release("evil", [*good_components(), r.dir_raw("data", "data", manifest, files=n, size=total)])


DIR_CASES: dict[str, tuple[Callable[[Remote], Any], int]] = {
    "entry-dotdot": (lambda r: _dir_entries(r, [{"path": "../../escape"}]), EXIT_UNSAFE),
    "entry-inner-dotdot": (lambda r: _dir_entries(r, [{"path": "a/../../../escape"}]), EXIT_UNSAFE),
    "entry-absolute": (lambda r: _dir_entries(r, [{"path": "/tmp/escape"}]), EXIT_UNSAFE),
    "entry-git": (lambda r: _dir_entries(r, [{"path": "x/.git/hooks/pre-commit"}]), EXIT_UNSAFE),
    "entry-backslash": (lambda r: _dir_entries(r, [{"path": "..\\..\\escape"}]), EXIT_UNSAFE),
    "entry-nul": (lambda r: _dir_entries(r, [{"path": "a\x00b"}]), EXIT_UNSAFE),
    "entry-twice": (lambda r: _dir_entries(r, [{"path": "a"}, {"path": "a"}]), EXIT_UNSAFE),
    "file-and-below": (lambda r: _dir_entries(r, [{"path": "a"}, {"path": "a/b"}]), EXIT_UNSAFE),
    "bad-oid": (lambda r: _dir_entries(r, [{"path": "a", "oid": "sha256:nope"}]), EXIT_UNSAFE),
    "negative-size": (lambda r: _dir_entries(r, [{"path": "a", "size": -5}], size=0), EXIT_UNSAFE),
    "exec-string": (lambda r: _dir_entries(r, [{"path": "a", "exec": "yes"}]), EXIT_UNSAFE),
    "extra-key": (lambda r: _dir_entries(r, [{"path": "a", "mode": 0o4755}]), EXIT_UNSAFE),
    "not-json": (lambda r: r.release("evil", [r.dir_raw("data", "data", b"\x00\x01 not json", files=1, size=1)]), EXIT_UNSAFE),
    "nested": (lambda r: r.release("evil", [r.dir_raw("data", "data", b"[" * 100_000, files=1, size=1)]), EXIT_UNSAFE),
    "wrong-version": (lambda r: r.release("evil", [r.dir_raw("data", "data", b'{"entries":[],"version":9}', files=0, size=0)]), EXIT_UNSAFE),
}


@pytest.mark.parametrize("case", sorted(DIR_CASES))
def test_a_hostile_directory_manifest_is_refused_and_the_live_release_stays(shared_host: Host, case: str):
    build, code = DIR_CASES[case]
    build(shared_host.remote)
    deploy_refused(shared_host, "evil", code, named="data")
    assert not (shared_host.target.parent / "escape").exists()


def test_a_directory_manifest_listing_more_files_than_declared_is_refused(live_host: Host):
    # The release declares 1 file of 8 bytes; the manifest expands to 500 files.
    _dir_entries(live_host.remote, [{"path": f"f{i:04d}"} for i in range(500)], files=1, size=8)
    deploy_refused(live_host, "evil", (EXIT_UNSAFE, EXIT_CORRUPT), named="data")


def test_a_directory_manifest_holding_more_bytes_than_declared_is_refused(live_host: Host):
    big = b"B" * (4 << 20)
    live_host.remote.put(big)
    _dir_entries(live_host.remote, [{"path": "big.bin", "oid": oid_of(big), "size": len(big)}], files=1, size=1)
    deploy_refused(live_host, "evil", (EXIT_UNSAFE, EXIT_CORRUPT), named="data")


def test_a_directory_manifest_of_five_thousand_entries_is_handled_within_the_caps(live_host: Host):
    # Declared honestly (files=5000, size 0): gitfiler may place them or refuse the count,
    # but within the memory cap and the timeout, and never outside the target.
    empty = b""
    live_host.remote.put(empty)
    entries = [{"path": f"d{i // 1000:03d}/f{i % 1000:03d}", "oid": oid_of(empty), "size": 0, "exec": False} for i in range(5_000)]
    manifest = hostile.manifest_bytes(entries)
    live_host.remote.release("evil", [live_host.remote.dir_raw("data", "data", manifest, files=len(entries), size=0)])
    proc = live_host.deploy("evil")
    assert proc.returncode in (0, EXIT_UNSAFE), str(proc)


@pytest.mark.parametrize("where", ["component", "directory"])
@pytest.mark.parametrize("shape", ["long-segment", "deep"])
def test_a_path_the_filesystem_cannot_hold_is_refused_cleanly(live_host: Host, where: str, shape: str):
    path = "x" * 300 if shape == "long-segment" else "/".join(["d"] * 3000)
    r = live_host.remote
    if where == "component":
        r.release("evil", [*good_components(), r.file("long", path, b"long\n")])
    else:
        r.release("evil", [*good_components(), r.dir("long", "long", {path: b"long\n"})])
    deploy_refused(live_host, "evil", EXIT_UNSAFE)  # paths.check_relative caps a segment at 255 bytes and a path at 4096


def test_two_components_whose_files_collide_after_expansion_are_refused(live_host: Host):
    # `a` is a directory whose manifest holds `b/c`; `y` is a file at `a/b/c`: same place.
    r = live_host.remote
    r.release("evil", [r.dir("x", "a", {"b/c": b"from the dir\n"}), r.file("y", "a/b/c", b"from the file\n")])
    deploy_refused(live_host, "evil", EXIT_UNSAFE)


# -- links and special files planted in the remote ---------------------------------------------------------


def test_a_pointer_that_is_a_link_to_a_valid_pointer_outside_is_not_followed(world: World, host: Host):
    r = host.remote
    r.good()
    (r.root / "releases" / GOOD).unlink()
    os.symlink(world.sentinel / "pointers" / GOOD, r.root / "releases" / GOOD)
    deploy_refused(host, GOOD, (EXIT_UNSAFE, EXIT_REMOTE, EXIT_CORRUPT), named="releases")
    assert host.live() is None


def test_a_pointer_linked_to_dev_zero_is_refused(host: Host):
    os.symlink("/dev/zero", host.remote.root / "releases" / "evil")
    deploy_refused(host, "evil", (EXIT_UNSAFE, EXIT_REMOTE, EXIT_CORRUPT), named="releases")


def test_a_pointer_that_is_a_fifo_does_not_hang(host: Host):
    os.mkfifo(host.remote.root / "releases" / "evil")
    deploy_refused(host, "evil", (EXIT_UNSAFE, EXIT_REMOTE, EXIT_CORRUPT), named="releases")


def test_a_pointer_that_is_a_directory_is_refused(host: Host):
    (host.remote.root / "releases" / "evil").mkdir()
    deploy_refused(host, "evil", (EXIT_UNSAFE, EXIT_REMOTE, EXIT_CORRUPT), named="releases")


def test_a_releases_directory_linked_outside_is_not_followed(world: World, host: Host):
    host.remote.good()
    os.rename(host.remote.root / "releases", host.remote.root / "releases.real")
    os.symlink(world.sentinel / "pointers", host.remote.root / "releases")
    deploy_refused(host, GOOD, (EXIT_UNSAFE, EXIT_REMOTE), named="releases")
    assert host.live() is None


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"sha256:" + b"0" * 63 + b"\n",
        b"sha256:" + b"A" * 64 + b"\n",
        b"../../sentinel/release.json\n",
        b"sha256:" + b"0" * 64 + b"\nsha256:" + b"1" * 64 + b"\n",
        b"sha256:" + b"0" * 64 + b" " * 200 + b"\n",
        b"\xff\xfe",
        b"sha256:" + b"0" * 64 + b"\x00",
    ],
    ids=["empty", "short", "upper", "path", "two-lines", "too-long", "binary", "nul"],
)
def test_a_malformed_pointer_is_refused(host: Host, text: bytes):
    host.remote.point("evil", text)
    deploy_refused(host, "evil", EXIT_UNSAFE, named="evil")


def test_a_pointer_to_a_missing_manifest_is_exit_7(live_host: Host):
    live_host.remote.point("evil", "sha256:" + "0" * 64)
    deploy_refused(live_host, "evil", EXIT_MISSING)


def test_a_release_manifest_object_linked_to_a_valid_manifest_outside_is_not_followed(world: World, host: Host):
    r = host.remote
    r.good()
    r.obj_path(oid_of(GOOD_MANIFEST)).unlink()
    r.link_object(oid_of(GOOD_MANIFEST), world.sentinel / "release.json")
    deploy_refused(host, GOOD, (EXIT_CORRUPT, EXIT_UNSAFE))
    assert host.live() is None


def test_a_directory_manifest_object_linked_outside_is_not_followed(world: World, host: Host):
    r = host.remote
    r.good()
    moid = oid_of(hostile.manifest_of(TOKENIZER))
    r.obj_path(moid).unlink()
    r.link_object(moid, world.sentinel / "tok-manifest.json")
    deploy_refused(host, GOOD, (EXIT_CORRUPT, EXIT_UNSAFE), named="tokenizer")
    assert host.live() is None


def test_an_object_linked_to_a_sentinel_file_with_the_right_bytes_is_not_followed(world: World, live_host: Host):
    r = live_host.remote
    # The sentinel's known.bin holds bytes the attacker knows: the link "verifies" if followed.
    r.link_object(oid_of(KNOWN), world.sentinel / "known.bin")
    r.release("evil", [*good_components(), component("k", "k.bin", "file", oid_of(KNOWN), len(KNOWN))])
    deploy_refused(live_host, "evil", (EXIT_CORRUPT, EXIT_UNSAFE))


@pytest.mark.parametrize("size", [0, 1 << 40])
def test_an_object_linked_to_dev_zero_is_refused_without_reading_it(live_host: Host, size: int):
    r = live_host.remote
    oid = "sha256:" + "5" * 64
    r.link_object(oid, "/dev/zero")
    r.release("evil", [*good_components(), component("z", "z.bin", "file", oid, size)])
    deploy_refused(live_host, "evil", (EXIT_CORRUPT, EXIT_UNSAFE))


def test_an_object_that_is_a_fifo_does_not_hang(live_host: Host):
    r = live_host.remote
    oid = "sha256:" + "6" * 64
    r.obj_path(oid).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(r.obj_path(oid))
    r.release("evil", [*good_components(), component("z", "z.bin", "file", oid, 10)])
    deploy_refused(live_host, "evil", (EXIT_CORRUPT, EXIT_UNSAFE))


def test_a_shard_directory_linked_outside_is_not_followed(world: World, live_host: Host):
    r = live_host.remote
    oid = "sha256:ab" + "c" * 62  # sentinel/store/objects/sha256/ab/ccc... exists (not these bytes)
    os.symlink(world.sentinel / "store/objects/sha256/ab", r.root / "objects/sha256/ab")
    r.release("evil", [*good_components(), component("z", "z.bin", "file", oid, 24)])
    deploy_refused(live_host, "evil", (EXIT_CORRUPT, EXIT_UNSAFE))


def test_a_corrupt_object_is_exit_6_and_nothing_is_placed(live_host: Host):
    r = live_host.remote
    claimed = b"the bytes the release promises\n"
    r.put_as(oid_of(claimed), b"the bytes the attacker serves!\n")  # same length
    r.release("evil", [*good_components(), component("c", "c.bin", "file", oid_of(claimed), len(claimed))])
    proc = deploy_refused(live_host, "evil", EXIT_CORRUPT)
    assert not list((live_host.target / ".filer-deploy" / "staging").iterdir()), "a corrupt object was left staged"
    assert "c.bin" not in proc.stdout


def test_a_corrupt_directory_member_is_exit_6(live_host: Host):
    r = live_host.remote
    files = {"a.txt": b"honest\n", "b.txt": b"honest too\n"}
    comp = r.dir("d", "d", files)
    r.put_as(oid_of(files["b.txt"]), b"evil bytes!\n")
    r.release("evil", [*good_components(), comp])
    deploy_refused(live_host, "evil", EXIT_CORRUPT)


def test_an_object_larger_than_declared_is_refused(live_host: Host):
    r = live_host.remote
    data = b"L" * (1 << 20)
    oid = r.put(data)
    r.release("evil", [*good_components(), component("big", "big.bin", "file", oid, 10)])
    deploy_refused(live_host, "evil", EXIT_CORRUPT)


def test_an_object_shorter_than_declared_is_refused(live_host: Host):
    r = live_host.remote
    data = b"short\n"
    oid = r.put(data)
    r.release("evil", [*good_components(), component("s", "s.bin", "file", oid, 1000)])
    deploy_refused(live_host, "evil", (EXIT_CORRUPT, EXIT_UNSAFE))


def test_a_missing_object_is_exit_7_and_nothing_is_placed(live_host: Host):
    r = live_host.remote
    r.release("evil", [*good_components(), component("m", "m.bin", "file", "sha256:" + "7" * 64, 5)])
    deploy_refused(live_host, "evil", EXIT_MISSING)


def test_a_missing_directory_manifest_is_exit_7(live_host: Host):
    r = live_host.remote
    r.release("evil", [*good_components(), component("d", "d", "dir", "sha256:" + "8" * 64, 5, 1)])
    deploy_refused(live_host, "evil", EXIT_MISSING)


def test_the_objects_directory_linked_outside_is_not_followed(world: World, tmp_path: Path):
    # The whole objects/ directory of the remote is a link to a store outside.
    root = tmp_path / "remote"
    r = Remote(root)
    r.good()
    os.rename(root / "objects", tmp_path / "objects.real")
    os.symlink(world.sentinel / "store" / "objects", root / "objects")
    h = Host(world, r, tmp_path / "srv")
    deploy_refused(h, GOOD, (EXIT_UNSAFE, EXIT_MISSING, EXIT_CORRUPT))


# -- hostile release names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "..", "x..y", "a b", "x" * 200, "évil", "-"])
def test_a_hostile_release_name_on_the_command_line_is_refused(world: World, host: Host, name: str):
    host.remote.good()
    # An attacker who also controls the pointer file's name (a nested directory for `a/b`):
    p = host.remote.root / "releases" / name
    if "/" not in name and name not in ("..",) and len(name) < 128:
        p.write_text(f"{oid_of(GOOD_MANIFEST)}\n")
    proc = host.deploy(name) if name != "-" else world.run("deploy", "--from", str(host.remote.root), "--target", str(host.target), "--", name)
    assert proc.returncode in (EXIT_UNSAFE, 2), str(proc)
    assert not host.target.exists() or not any((host.target / "releases").iterdir())
    assert not (host.target.parent / "x").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "x" * 200])
@pytest.mark.parametrize("verb", ["switch", "verify"])
def test_a_hostile_release_name_is_refused_by_switch_and_verify(live_host: Host, verb: str, name: str):
    before = live_host.state()
    proc = live_host.sub(verb, name) if verb == "switch" else live_host.sub(verb, "--release", name)
    refused(live_host, proc, (EXIT_UNSAFE, 2), before)  # 2: the command line names it (a usage error)
    assert live_host.live() == f"releases/{GOOD}"


def test_release_list_ignores_pointers_with_hostile_names(world: World, host: Host):
    r = host.remote
    r.good()
    for bad in (".hidden", "a b", "x..y", "-rf", "x" * 200, "tab\tname"):
        (r.root / "releases" / bad).write_text(f"{oid_of(GOOD_MANIFEST)}\n")
    os.symlink(world.sentinel / "pointers" / GOOD, r.root / "releases" / "linked")
    proc = world.run("release", "list", "-r", str(r.root), "--json", cwd=world.repo)
    assert proc.returncode == 0, str(proc)
    names = [row["name"] if "name" in row else row["release"]["name"] for row in json.loads(proc.stdout)]
    assert names == [GOOD], str(proc)


def test_release_list_with_one_hostile_manifest_fails_cleanly_or_skips_it(world: World, host: Host):
    r = host.remote
    r.good()
    r.release("evil", [r.file("x", "../x", b"1")])
    proc = world.run("release", "list", "-r", str(r.root), "--json", cwd=world.repo)
    if proc.returncode == 0:
        assert [row["name"] for row in json.loads(proc.stdout)] == [GOOD]
    else:
        assert proc.returncode == EXIT_UNSAFE and len(error_lines(proc)) == 1 and "evil" in proc.stderr, str(proc)


# -- hostile text that reaches the terminal --------------------------------------------------------------


def test_control_characters_in_versions_never_reach_the_terminal(live_host: Host):
    r = live_host.remote
    comps = [r.file("model", "m.bin", b"m\n")]
    comps[0].update(type="\x1b]0;pwned\x07", version="1.0\r\x1b[2Jerror: forged")
    r.release("ctl", comps)
    proc = live_host.deploy("ctl")
    assert proc.returncode in (0, EXIT_UNSAFE), str(proc)
    for verb in ("status", "verify"):
        out = live_host.sub(verb)
        assert "\x1b" not in out.output and "\r" not in out.output, repr(out.output)
    listing = live_host.world.run("release", "list", "-r", str(r.root), cwd=live_host.world.repo)
    assert "\x1b" not in listing.output and "\r" not in listing.output, repr(listing.output)


# -- hostile targets -------------------------------------------------------------------------------------------


def test_current_as_a_real_directory_is_refused_and_left_alone(host: Host):
    host.remote.good()
    (host.target / "current").mkdir(parents=True)
    (host.target / "current" / "mine.txt").write_text("the user's\n")
    deploy_refused(host, GOOD, EXIT_UNSAFE, named="current")
    assert (host.target / "current" / "mine.txt").read_text() == "the user's\n"


@pytest.mark.parametrize("link", ["sentinel", "releases/../../sentinel", "releases/good-1/../../../sentinel"])
def test_current_linked_outside_is_refused(world: World, host: Host, link: str):
    host.remote.good()
    host.target.mkdir()
    to = str(world.sentinel) if link == "sentinel" else link
    os.symlink(to, host.target / "current")
    deploy_refused(host, GOOD, EXIT_UNSAFE, named="current")
    assert os.readlink(host.target / "current") == to
    for verb in ("rollback", "prune"):
        proc = host.sub(verb)
        assert proc.returncode != 0 and len(error_lines(proc)) == 1, str(proc)


def test_releases_linked_outside_is_refused(world: World, host: Host):
    host.remote.good()
    host.target.mkdir()
    os.symlink(world.sentinel / "sub", host.target / "releases")
    deploy_refused(host, GOOD, EXIT_UNSAFE, named="releases")


@pytest.mark.parametrize("sub", ["records", "staging"])
def test_meta_subdirectories_linked_outside_are_refused(world: World, host: Host, sub: str):
    host.remote.good()
    (host.target / ".filer-deploy").mkdir(parents=True)
    os.symlink(world.sentinel / "sub", host.target / ".filer-deploy" / sub)
    proc = host.deploy(GOOD)
    assert proc.returncode == EXIT_UNSAFE and len(error_lines(proc)) == 1, str(proc)
    assert host.live() is None


def test_the_meta_directory_linked_outside_is_refused_before_anything_is_written(world: World, host: Host):
    host.remote.good()
    host.target.mkdir()
    os.symlink(world.sentinel / "sub", host.target / ".filer-deploy")
    proc = host.deploy(GOOD)
    assert proc.returncode == EXIT_UNSAFE and len(error_lines(proc)) == 1, str(proc)
    assert host.live() is None
    assert sorted(os.listdir(world.sentinel / "sub")) == ["deeper", "inner.txt", "known.bin"]


def test_a_lock_file_linked_outside_is_not_truncated(world: World, host: Host):
    host.remote.good()
    (host.target / ".filer-deploy").mkdir(parents=True)
    os.symlink(world.sentinel / "file.txt", host.target / ".filer-deploy" / "lock")
    proc = host.deploy(GOOD)
    assert proc.returncode != 0 and len(error_lines(proc)) == 1, str(proc)


def test_staging_leftovers_with_links_outside_are_removed_without_following_them(world: World, live_host: Host):
    staging = live_host.target / ".filer-deploy" / "staging"
    os.symlink(world.sentinel / "sub", staging / "linked-dir")
    os.symlink(world.sentinel / "file.txt", staging / "linked-file")
    (staging / "half" / "deep").mkdir(parents=True)
    os.symlink(world.sentinel / "sub", staging / "half" / "deep" / "link")
    os.chmod(staging / "half" / "deep", 0o555)
    os.chmod(staging / "half", 0o555)
    r = live_host.remote
    r.release("next", [r.file("x", "x.bin", b"next\n")])
    proc = live_host.deploy("next")
    assert proc.returncode == 0, str(proc)
    assert sorted(os.listdir(staging)) == []


def test_a_component_named_like_the_target_layout_does_not_go_live_through_link_components(live_host: Host):
    # `--link-components` makes TARGET/<component> links; a component called `current` or
    # `releases` must not replace them, and a release that cannot be linked must not go live.
    r = live_host.remote
    r.release("evil", [r.file("current", "x.bin", b"x\n")])
    before = live_host.live()
    proc = live_host.deploy("evil", "--link-components")
    assert proc.returncode in (0, EXIT_UNSAFE, 8), str(proc)
    assert os.readlink(live_host.target / "current").startswith("releases/")
    if proc.returncode != 0:
        assert live_host.live() == before, f"a refused deploy left 'evil' live:\n{proc}"


# -- tampered deploy records (in the user's own target, parsed strictly anyway) --------------------------


def _two_releases(host: Host) -> None:
    r = host.remote
    r.release("second", [r.file("x", "x.bin", b"second\n")])
    proc = host.deploy("second")
    assert proc.returncode == 0, str(proc)


def _record(host: Host, name: str) -> Path:
    return host.target / ".filer-deploy" / "records" / f"{name}.json"


def _edit_record(host: Host, name: str, edit: Callable[[dict[str, Any]], None]) -> None:
    p = _record(host, name)
    doc = json.loads(p.read_bytes())
    edit(doc)
    p.write_text(json.dumps(doc))


RECORD_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "file-path-dotdot": lambda d: d["files"].append(["../../../sentinel/file.txt", "sha256:" + "0" * 64, 1, False]),
    "file-path-absolute": lambda d: d["files"].append(["/etc/passwd", "sha256:" + "0" * 64, 1, False]),
    "file-path-not-string": lambda d: d["files"].append([7, "sha256:" + "0" * 64, 1, False]),
    "release-name-traversal": lambda d: d.update(release="../x"),
    "release-name-other": lambda d: d.update(release="second"),
    "bad-oid": lambda d: d.update(release_oid="sha256:zz"),
    "extra-key": lambda d: d.update(hook="rm -rf /"),
    "files-not-list": lambda d: d.update(files="x"),
    "deployed-string": lambda d: d.update(deployed="yesterday"),
}


@pytest.mark.parametrize("case", sorted(RECORD_EDITS))
def test_a_tampered_record_of_the_previous_release_is_refused_by_rollback_and_prune(live_host: Host, case: str):
    _two_releases(live_host)  # live: second; previous: good-1
    _edit_record(live_host, GOOD, RECORD_EDITS[case])
    for args in (("rollback",), ("prune", "--keep", "1"), ("verify", "--release", GOOD), ("status",)):
        proc = live_host.sub(*args)
        assert proc.returncode == EXIT_UNSAFE and len(error_lines(proc)) == 1, str(proc)
        assert live_host.live() == "releases/second"
    assert (live_host.target / "releases" / GOOD / "models/m.bin").read_bytes() == MODEL


def test_a_record_with_deeply_nested_json_is_refused(live_host: Host):
    _record(live_host, GOOD).write_bytes(b"[" * 200_000)
    proc = live_host.sub("status")
    assert proc.returncode == EXIT_UNSAFE and len(error_lines(proc)) == 1, str(proc)


def test_a_record_linked_outside_is_not_followed(world: World, live_host: Host):
    _two_releases(live_host)
    p = _record(live_host, GOOD)
    p.unlink()
    os.symlink(world.sentinel / "file.txt", p)
    for args in (("status",), ("rollback",), ("prune", "--keep", "1")):
        proc = live_host.sub(*args)
        assert proc.returncode != 0 and len(error_lines(proc)) == 1, str(proc)


@pytest.mark.parametrize("verb", [("status",), ("verify",)])  # prune reads it as status does
def test_a_kept_release_manifest_linked_to_dev_zero_is_refused(live_host: Host, verb: tuple[str, ...]):
    p = live_host.target / ".filer-deploy" / "records" / f"{GOOD}.release.json"
    p.unlink()
    os.symlink("/dev/zero", p)
    proc = live_host.sub(*verb)
    assert proc.returncode != 0 and len(error_lines(proc)) == 1, str(proc)


def test_prune_never_deletes_through_a_linked_cache_shard(world: World, live_host: Host):
    _two_releases(live_host)
    shard = live_host.target / ".filer-deploy" / "cache" / "objects" / "sha256" / "ab"
    os.symlink(world.sentinel / "store/objects/sha256/ab", shard)
    proc = live_host.sub("prune", "--keep", "1")
    assert proc.returncode in (0, EXIT_UNSAFE), str(proc)
    assert (world.sentinel / "store/objects/sha256/ab" / ("c" * 62)).exists()


def test_a_release_directory_swapped_for_a_link_is_not_removed_through_it(world: World, live_host: Host):
    _two_releases(live_host)
    r = live_host.remote
    r.release("third", [r.file("x", "x.bin", b"third\n")])
    assert live_host.deploy("third").returncode == 0  # live: third; previous: second; oldest: good-1
    rel = live_host.target / "releases" / GOOD
    os.chmod(rel, 0o755)
    for dirpath, _dirs, _files in os.walk(rel):
        os.chmod(dirpath, 0o755)
    import shutil

    shutil.rmtree(rel)
    os.symlink(world.sentinel / "sub", rel)
    proc = live_host.sub("prune", "--keep", "1")
    assert proc.returncode in (0, EXIT_UNSAFE), str(proc)
    proc = live_host.sub("switch", GOOD)
    assert proc.returncode != 0 and live_host.live() == "releases/third", str(proc)


# -- a remote release reusing a live name -----------------------------------------------------------------


def test_a_different_release_under_the_live_name_is_refused_exit_8(world: World, live_host: Host, tmp_path: Path):
    other = Remote(tmp_path / "other-remote")
    other.release(GOOD, [other.file("model", "models/m.bin", b"evil weights\n")])
    before = live_host.state()
    proc = live_host.deploy(GOOD, remote=other.root)
    assert proc.returncode == 8 and len(error_lines(proc)) == 1, str(proc)
    assert live_host.state() == before
    proc = live_host.deploy(GOOD, "--force", remote=other.root)
    assert proc.returncode == 8, str(proc)  # never replaced while live
    assert live_host.sub("verify", "--deep").returncode == 0


def test_executable_and_odd_modes_never_give_setuid_or_writable_files(live_host: Host):
    r = live_host.remote
    blob = b"#!/bin/sh\necho hi\n"
    r.put(blob)
    manifest = hostile.manifest_bytes([{"path": "bin/run", "oid": oid_of(blob), "size": len(blob), "exec": True}])
    r.release("modes", [r.dir_raw("tools", "tools", manifest, files=1, size=len(blob))])
    assert live_host.deploy("modes").returncode == 0
    st = os.lstat(live_host.target / "releases/modes/tools/bin/run")
    assert stat.S_IMODE(st.st_mode) & 0o7222 == 0
