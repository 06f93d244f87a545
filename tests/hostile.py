"""Builders of hostile repositories for tests/test_hostile.py, and the guarded runner.

A hostile repository is built the way an attacker would: by hand, with plain git and
file writes, never through gitfiler (so a fix in gitfiler cannot change what is
built). Registry files, manifests and objects are written byte by byte, objects go
straight into a local-directory filer remote, and the commits are pushed to a bare
repository the victim clones.

Everything hostile aims at one **sentinel** directory outside every repository. The
suite snapshots it (paths, modes, sizes, mtimes, SHA-256 digests, symlink targets)
before and after each test; any difference means gitfiler read-modified-wrote, created
or deleted something outside the work tree.

Every process runs under `run_capped`: an address-space cap (a YAML alias bomb must
fail fast, not page the machine out), a file-size cap (a remote object linked to
/dev/zero must not fill the disk) and a wall-clock timeout, and its output is checked
for the signs of a crash (exit 70, a Python traceback, "internal error").
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import resource
import signal
import stat as statmod
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN_DIR = os.path.dirname(sys.executable)
MEMORY_CAP = 2 << 30  # address space per process: far above what gitfiler needs, far below an alias bomb
FILE_CAP = 64 << 20  # largest file any process may write: every file in this suite is tiny
TIMEOUT_S = 60
CRASH_SIGNS = ("Traceback (most recent call last)", "internal error", "MemoryError")
EXIT_BUG = 70

# -- the sentinel ----------------------------------------------------------------------------

# Bytes an attacker can be assumed to know (a well-known file): some hostile artifacts use them,
# so that a gitfiler that follows a link sees "unchanged, ours" and acts on the outside file.
KNOWN = b"well-known bytes that the attacker can predict\n"
SENTINEL_SUB = {"inner.txt": b"inner\n", "known.bin": KNOWN, "deeper/leaf.txt": b"leaf\n"}
IGNORE_TEXT = b"/good.bin\n/other\n"  # what a symlinked .gitignore shows
HEX_NAME = "c0ffee" + "0" * 56  # named like an object file (62 hex digits), in sentinel/hexdir
FAKE_OBJECT = "aa/" + "b" * 62  # below sentinel/objects/sha256: looks like a cache object to gc
OLD = time.time() - 10 * 24 * 3600  # older than any gc grace period


def make_sentinel(path: Path, *, cfg_remote: Path) -> None:
    """A directory with a few files, subdirectories and a symlink, which no test may change."""
    path.mkdir()
    files = {
        "file.txt": b"sentinel: gitfiler must never touch this\n",
        "known.bin": KNOWN,
        "ignore.txt": IGNORE_TEXT,
        **{f"sub/{k}": v for k, v in SENTINEL_SUB.items()},
        # A config a symlinked .gitfiler would expose: valid, with hostile local settings.
        "cfg/config.yaml": (
            f"version: 1\ndefault_remote: local\ncache_dir: {path}\ncheckout: symlink\n"
            f"remotes:\n  local:\n    url: {cfg_remote}\n"
        ).encode(),
        # A valid registry file a symlinked `y.filer` exposes.
        "reg.filer": registry_text("y.bin", oid_of(KNOWN), len(KNOWN)).encode(),
        f"hexdir/{HEX_NAME}": b"not an object\n",
        f"objects/sha256/{FAKE_OBJECT}": b"not an object either\n",
    }
    for rel, data in files.items():
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    os.utime(path / "objects/sha256" / FAKE_OBJECT, (OLD, OLD))
    os.symlink("file.txt", path / "link")


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below `root` (root included), never following a link."""

    def describe(p: str) -> tuple[Any, ...]:
        st = os.lstat(p)
        if statmod.S_ISLNK(st.st_mode):
            return ("link", os.readlink(p))
        if statmod.S_ISDIR(st.st_mode):
            return ("dir", st.st_mode, st.st_mtime_ns)
        if statmod.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            return ("file", st.st_mode, st.st_size, st.st_mtime_ns, digest)
        return ("other", st.st_mode)

    out = {".": describe(str(root))}
    for dirpath, dirs, files in os.walk(root):  # os.walk never descends into a linked directory
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = describe(p)
    return out


def difference(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> str:
    gone = sorted(set(before) - set(after))
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    parts = [f"{what}: {', '.join(names[:12])}" for what, names in (("deleted", gone), ("created", new), ("changed", changed)) if names]
    return "; ".join(parts)


# -- running processes under caps -----------------------------------------------------------


@dataclass
class Proc:
    args: list[str]
    cwd: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines_naming(self, name: str) -> list[str]:
        return [line for line in self.output.splitlines() if name in line]

    def __str__(self) -> str:
        return f"$ {' '.join(self.args)}  (in {self.cwd}) -> exit {self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


def _caps() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_CAP, FILE_CAP))


def run_capped(cmd: list[str], cwd: Path, env: dict[str, str], *, input: str | None = None, timeout: float = TIMEOUT_S) -> Proc:
    """Run `cmd` (and everything it starts) under the memory and file-size caps; raise on a crash."""
    p = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="backslashreplace",
        preexec_fn=_caps, start_new_session=True,
    )
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the group this call started: the command and its children
        out, err = p.communicate()
        raise AssertionError(f"still running after {timeout:.0f} s, killed:\n{Proc(cmd, str(cwd), -9, out, err)}") from None
    proc = Proc(cmd, str(cwd), p.returncode, out, err)
    check_no_crash(proc)
    return proc


def check_no_crash(proc: Proc) -> None:
    """A hostile input is an expected failure: never a bug exit, a traceback or a kill."""
    if proc.returncode == EXIT_BUG:
        raise AssertionError(f"internal error (exit {EXIT_BUG}):\n{proc}")
    if proc.returncode < 0:
        raise AssertionError(f"killed by signal {-proc.returncode} (memory or file-size cap?):\n{proc}")
    for sign in CRASH_SIGNS:
        if sign in proc.output:
            raise AssertionError(f"output shows a crash ({sign!r}):\n{proc}")


def pinned_env(base: Path) -> dict[str, str]:
    """The environment of tests/conftest.py's `pinned_env`, as a dict usable outside a test
    (module-scoped builders run before per-test fixtures)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITFILER_", "XDG_")) and k != "AWS_PROFILE"}
    blocker = base / "home-blocker"
    blocker.write_text("tests must not write to $HOME\n")
    env.update(
        HOME=str(blocker / "home"),
        GITFILER_HOME=str(base / "gitfiler-home"),
        PATH=BIN_DIR + os.pathsep + os.environ.get("PATH", ""),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Test", GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test", GIT_COMMITTER_EMAIL="test@example.com",
        GIT_TERMINAL_PROMPT="0",
        GITFILER_S3_MAX_ATTEMPTS="2",
    )
    return env


# -- the formats, written by hand ------------------------------------------------------------------


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON escapes are valid YAML escapes), for any path."""
    return json.dumps(value)


def registry_text(path: str, oid: str, size: int, *, kind: str = "file", files: int | None = None, meta: str = "") -> str:
    lines = ["version: 1", f"path: {quoted(path)}", f"kind: {kind}", f"oid: {oid}", f"size: {size}"]
    if files is not None:
        lines.append(f"files: {files}")
    return "\n".join(lines) + "\n" + meta


def manifest_bytes(entries: list[dict[str, Any]]) -> bytes:
    """Canonical manifest JSON from raw entries (path, oid, size, exec), in the given order."""
    doc = {"entries": entries, "version": 1}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_of(files: dict[str, bytes]) -> bytes:
    return manifest_bytes([{"exec": False, "oid": oid_of(d), "path": p, "size": len(d)} for p, d in sorted(files.items())])


def alias_bomb(levels: int = 9) -> str:
    """The billion laughs: 10**levels strings from a few hundred bytes."""
    lines = ["meta:", '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


# -- building a hostile repository -------------------------------------------------------------------


@dataclass
class Published:
    """A hostile repository as the victim meets it."""

    name: str
    bare: Path  # the git remote to clone
    remote: Path  # the local-directory filer remote
    good: dict[str, bytes] = field(default_factory=dict)  # artifacts that must still hydrate
    info: dict[str, Any] = field(default_factory=dict)  # builder-specific facts for the tests


class Publisher:
    """Builds a repository by hand, as an attacker with write access to a git remote and a
    filer remote would: commits anything git accepts, plants anything in the filer remote."""

    def __init__(self, base: Path, name: str, env: dict[str, str], *, remote: Path | None = None) -> None:
        self.env = env
        self.dir = base / "published" / name
        self.work = self.dir / "publish"
        self.bare = self.dir / "origin.git"
        self.remote = remote or self.dir / "filer-remote"
        self.dir.mkdir(parents=True)
        (self.remote / "objects" / "sha256").mkdir(parents=True, exist_ok=True)
        self._git(self.dir, "init", "-q", "-b", "main", str(self.work))
        self._git(self.dir, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self.published = Published(name, self.bare, self.remote)
        self.on_publish: list[Callable[[], None]] = []

    def _git(self, cwd: Path, *args: str) -> Proc:
        proc = run_capped(["git", "-c", "gc.auto=0", "-c", "core.hooksPath=/dev/null", *args], cwd, self.env)
        if proc.returncode != 0:
            raise AssertionError(f"building the hostile repository failed:\n{proc}")
        return proc

    def git(self, *args: str) -> Proc:
        return self._git(self.work, *args)

    # -- files ------------------------------------------------------------------------------

    def write(self, rel: str, data: bytes | str) -> None:
        p = self.work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink():
            p.unlink()
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    def symlink(self, rel: str, target: str | Path) -> None:
        p = self.work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink() or p.is_file():
            p.unlink()
        os.symlink(str(target), p)

    def delete(self, rel: str) -> None:
        os.unlink(self.work / rel)

    def ignore(self, artifact: str) -> None:
        """The `/name` line gitfiler would add beside the artifact (skipped if the .gitignore is a link)."""
        directory, _, name = artifact.rpartition("/")
        gi = self.work / (f"{directory}/.gitignore" if directory else ".gitignore")
        if gi.is_symlink() or not _inside(gi.parent, self.work):
            return  # never write through a link the attacker planted: the sentinel must stay as built
        gi.parent.mkdir(parents=True, exist_ok=True)
        old = gi.read_bytes() if gi.exists() else b""
        gi.write_bytes(old + f"/{name}\n".encode())

    def config(self, extra: str = "") -> None:
        self.write(".gitfiler/config.yaml", f"version: 1\ndefault_remote: local\n{extra}remotes:\n  local:\n    url: {self.remote}\n")

    # -- objects and registry files -------------------------------------------------------------

    def object_path(self, oid: str) -> Path:
        h = oid.removeprefix("sha256:")
        return self.remote / "objects" / "sha256" / h[:2] / h[2:]

    def put_object(self, data: bytes) -> str:
        oid = oid_of(data)
        p = self.object_path(oid)
        if p.parent.is_symlink():
            raise AssertionError(f"builder bug: {p.parent} is a planted link; add objects before hostile_objects()")
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists():
            p.write_bytes(data)
            p.chmod(0o444)
        return oid

    def file_artifact(self, artifact: str, data: bytes, *, registry: str | None = None, good: bool = True, meta: str = "") -> str:
        """An ordinary file artifact: object in the remote, registry file beside it, ignore line."""
        oid = self.put_object(data)
        reg = registry or artifact + ".filer"
        rel_path = _relative_to_registry(reg, artifact)
        self.write(reg, registry_text(rel_path, oid, len(data), meta=meta))
        self.ignore(artifact)
        if good:
            self.published.good[artifact] = data
        return oid

    def dir_artifact(self, artifact: str, files: dict[str, bytes], *, registry: str | None = None, good: bool = True) -> str:
        for data in files.values():
            self.put_object(data)
        oid = self.put_object(manifest_of(files))
        reg = registry or artifact + ".filer"
        rel_path = _relative_to_registry(reg, artifact)
        self.write(reg, registry_text(rel_path, oid, sum(map(len, files.values())), kind="dir", files=len(files)))
        self.ignore(artifact)
        if good:
            for name, data in files.items():
                self.published.good[f"{artifact}/{name}"] = data
        return oid

    def hostile_dir(self, registry: str, path: str, entries: list[dict[str, Any]], *, files: dict[str, bytes] | None = None) -> str:
        """A directory artifact whose manifest holds `entries` verbatim (traversal, wrong sizes...)."""
        for data in (files or {}).values():
            self.put_object(data)
        oid = self.put_object(manifest_bytes(entries))
        size = sum(e["size"] for e in entries if isinstance(e.get("size"), int))
        self.write(registry, registry_text(path, oid, size, kind="dir", files=len(entries)))
        return oid

    # -- git ------------------------------------------------------------------------------

    def commit(self, message: str) -> None:
        self.git("add", "-A", "-f", ".")
        self.git("commit", "-q", "--no-verify", "-m", message)

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def publish(self) -> Published:
        self.git("push", "-q", str(self.bare), "--all")
        for plant in self.on_publish:
            plant()
        return self.published


def _inside(path: Path, root: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def _relative_to_registry(registry: str, artifact: str) -> str:
    directory = registry.rpartition("/")[0]
    return artifact[len(directory) + 1:] if directory and artifact.startswith(directory + "/") else artifact


def pickle_bytes(value: Any) -> bytes:
    return pickle.dumps(value, protocol=4)


# -- hazards: each adds one family of hostile content to a publisher ------------------------------------


def good_artifacts(p: Publisher) -> None:
    """What must keep working whatever else the repository holds."""
    p.file_artifact("good.bin", b"good bytes\n")
    p.dir_artifact("gooddir", {"a.txt": b"a\n", "b/c.txt": b"c\n"})
    p.file_artifact("models/good.pkl", pickle_bytes({"answer": 42}), meta="meta:\n  serializer: pickle\n")


def symlinked_parents(p: Publisher, sentinel: Path) -> None:
    """`evil -> sentinel`, and artifacts below `evil/`: writing or deleting them means writing
    or deleting in the sentinel."""
    p.symlink("evil", sentinel)
    p.file_artifact("evil/planted.bin", b"planted\n", registry="planted.bin.filer", good=False)
    p.file_artifact("evil/known.bin", b"not what the sentinel holds\n", registry="known.bin.filer", good=False)
    # Exactly the sentinel's sub/ contents: "unchanged and ours" to a gitfiler that follows `evil`,
    # so `remove` would delete the outside tree.
    p.dir_artifact("evil/sub", dict(SENTINEL_SUB), registry="evsub.filer", good=False)
    # A manifest that does not list cfg/config.yaml: a forced pull that follows `evil` removes it.
    p.dir_artifact("evil/cfg", {"other.txt": b"other\n"}, registry="evcfg.filer", good=False)


def link_beside_dir_artifact(p: Publisher, sentinel: Path, name: str = "evil2") -> None:
    """The issue's first case: a committed symlink next to a directory artifact of the same name."""
    p.symlink(name, sentinel / "sub")
    p.dir_artifact(name, {"inner.txt": b"changed\n", "new.txt": b"new\n"}, good=False)


def symlinked_ignores(p: Publisher, sentinel: Path, *, root: bool = True) -> None:
    """`.gitignore` files that are links to outside files (the root one holds `/good.bin`)."""
    if root:
        p.symlink(".gitignore", sentinel / "ignore.txt")
    p.symlink("sub/.gitignore", sentinel / "sub" / "inner.txt")
    p.write("sub/keep.txt", "tracked\n")


def symlinked_registries(p: Publisher, sentinel: Path) -> None:
    """Registry files that are links: to an outside file, to an outside valid registry file, to a device."""
    p.put_object(b"x bytes\n")
    p.put_object(KNOWN)
    p.symlink("x.filer", sentinel / "file.txt")
    p.symlink("y.filer", sentinel / "reg.filer")
    p.symlink("z.filer", "/dev/zero")


def symlinked_artifacts(p: Publisher, sentinel: Path) -> None:
    """Committed links at artifact paths: m.bin's target holds exactly the registered bytes, n.bin's does not."""
    p.put_object(KNOWN)
    p.write("m.bin.filer", registry_text("m.bin", oid_of(KNOWN), len(KNOWN)))
    p.symlink("m.bin", sentinel / "known.bin")
    p.file_artifact("n.bin", b"n bytes\n", good=False)
    p.symlink("n.bin", sentinel / "file.txt")


TRAVERSALS = {
    "t-dotdot.filer": "../escape-dotdot",
    "t-mid.filer": "a/../../escape-mid",
    "t-git.filer": ".git/hooks/post-checkout",
    "t-gitcase.filer": ".GIT/hooks/post-merge",
    "t-backslash.filer": "..\\escape-backslash",
    "t-nul.filer": "escape\x00nul",
    "t-dot.filer": "./escape-dot",
    "t-empty.filer": "",
}
MANIFEST_TRAVERSALS = {
    "m-dotdot.filer": "../../escape-manifest",
    "m-git.filer": "../.git/hooks/post-commit",
    "m-inner-git.filer": ".git/hooks/post-commit",
    "m-mid.filer": "a/../../../escape-manifest-mid",
    "m-backslash.filer": "..\\..\\escape-manifest-bs",
    "m-nul.filer": "x\x00y",
}


def traversal(p: Publisher, sentinel: Path) -> dict[str, str]:
    """Traversal in every field a repository controls; returns registry file -> why it is bad."""
    payload = f"#!/bin/sh\necho pwned > {sentinel}/pwned\n".encode()
    oid = p.put_object(payload)
    bad: dict[str, str] = {}
    for reg, path in {**TRAVERSALS, "t-abs.filer": f"{sentinel}/planted-abs"}.items():
        p.write(reg, registry_text(path, oid, len(payload)))
        bad[reg] = path
    p.write("t-oid.filer", registry_text("oid-escape.bin", "sha256:../../../../" + "a" * 48, 1))
    bad["t-oid.filer"] = "oid"
    p.write("t-kind.filer", registry_text("kind-escape", oid, len(payload), kind="../dir"))
    bad["t-kind.filer"] = "kind"
    for reg, path in {**MANIFEST_TRAVERSALS, "m-abs.filer": f"{sentinel}/planted-manifest"}.items():
        p.hostile_dir(reg, reg.removesuffix(".filer") + "-dir", [{"exec": True, "oid": oid, "path": path, "size": len(payload)}])
        bad[reg] = path
    return bad


def duplicates(p: Publisher) -> None:
    """Two registry files claiming one path; a file artifact inside a directory artifact."""
    p.file_artifact("shared.bin", b"claim one\n", registry="one.filer", good=False)
    p.file_artifact("shared.bin", b"claim two\n", good=False)
    p.dir_artifact("nest", {"inner.bin": b"from the directory\n", "other.txt": b"other\n"}, good=False)
    p.file_artifact("nest/inner.bin", b"from the file artifact\n", good=False)


def malformed(p: Publisher) -> None:
    """Registry files whose YAML is hostile: an alias bomb, > 1 MiB, duplicate keys."""
    for base in ("", "models/"):
        ext = ".pkl" if base else ".bin"
        data = pickle_bytes(f"{base}payload") if base else b"payload\n"
        oid = p.put_object(data)
        head = registry_text(("bomb" + ext), oid, len(data))
        p.write(f"{base}bomb{ext}.filer", head + alias_bomb())
        # Valid for its first MiB; what lies beyond the cap must be refused, not ignored.
        pad = "  pad: " + "a" * (1 << 20) + "\n"
        p.write(f"{base}huge{ext}.filer", registry_text("huge" + ext, oid, len(data)) + "meta:\n" + pad + "  more: 1\n")
        # The second oid wins with a plain YAML loader; two readers could disagree.
        other = p.put_object(data + b"other")
        p.write(f"{base}dupkey{ext}.filer", registry_text("dupkey" + ext, oid, len(data)) + f"oid: {other}\n")


def hostile_objects(p: Publisher, sentinel: Path) -> None:
    """A filer remote whose objects lie: links to /dev/zero and to an outside file, more bytes
    than declared, and a shard directory that is a link out of the remote."""
    zero = os.urandom(3000)
    p.file_artifact("zero.bin", zero, good=False)
    zpath = p.object_path(oid_of(zero))
    zpath.unlink()
    os.symlink("/dev/zero", zpath)

    outside = (sentinel / "file.txt").read_bytes()
    p.file_artifact("leak.bin", outside, good=False)
    lpath = p.object_path(oid_of(outside))
    lpath.unlink()
    os.symlink(sentinel / "file.txt", lpath)

    big = b"B" * 64
    oid = p.put_object(big)
    p.write("big.bin.filer", registry_text("big.bin", oid, 10))  # the object is 64 bytes, the registry says 10
    p.ignore("big.bin")
    p.hostile_dir("bigdir.filer", "bigdir", [{"exec": False, "oid": oid, "path": "x", "size": 5}])
    p.ignore("bigdir")

    # A shard directory of the remote that is a link into the sentinel (which holds a file named
    # like an object): a push of an object in that shard, or a gc that lists it, goes outside.
    # Planted last, once every other object is in place.
    def plant_shard() -> None:
        taken = {q.name for q in (p.remote / "objects" / "sha256").iterdir()}
        i = 0
        while (shard := hashlib.sha256(b"new artifact %d\n" % i).hexdigest()[:2]) in taken:
            i += 1
        os.symlink(sentinel / "hexdir", p.remote / "objects" / "sha256" / shard)
        p.published.info["new_artifact"] = b"new artifact %d\n" % i

    p.on_publish.append(plant_shard)


def odd_names(p: Publisher) -> list[str]:
    """Artifact names a terminal would interpret: an escape sequence, a newline, a carriage return."""
    names = ["esc-\x1b]0;pwned\x07-\x1b[31mred.bin", "nl-\nfake-line.bin", "cr-\rover.bin"]
    for name in names:
        p.file_artifact(name, name.encode("utf-8", "surrogateescape") + b"\n", registry=f"odd{names.index(name)}.filer")
    return names


def turns_into_link(p: Publisher, sentinel: Path, *, branch_c: bool = True) -> None:
    """main: a directory artifact `d` (the sentinel's sub/ contents, byte for byte) and a file
    artifact `f.bin`. Branch b: both registry files gone, `d` and `f.bin` committed symlinks into
    the sentinel. Branch c: `d.filer` changed and `d` a committed symlink. Commits main itself."""
    p.dir_artifact("d", dict(SENTINEL_SUB), good=False)
    p.file_artifact("f.bin", KNOWN, good=False)
    p.commit("main: d and f.bin are artifacts")
    p.branch("b")
    p.delete("d.filer")
    p.delete("f.bin.filer")
    p.symlink("d", sentinel / "sub")
    p.symlink("f.bin", sentinel / "known.bin")
    p.commit("b: d and f.bin are links")
    if branch_c:
        p.branch("c", "main")
        p.dir_artifact("d", {"inner.txt": b"changed\n"}, good=False)
        p.symlink("d", sentinel / "sub")
        p.commit("c: d changed and is a link")
    p.git("checkout", "-q", "main")


# -- the sandbox a test module works in ---------------------------------------------------------------

LOAD_SCRIPT = """
import sys
from gitfiler import Filer
from gitfiler.errors import FilerError
try:
    value = Filer(sys.argv[1]).load(sys.argv[2])
except FilerError as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(err.exit_code)
print(repr(value))
"""


class Sandbox:
    """One module's world: pinned environment, the sentinel, hostile repositories, victims."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.env = pinned_env(base)
        self.sentinel = base / "sentinel"
        self.cfg_remote = base / "cfg-remote"  # the remote the sentinel's config names
        make_sentinel(self.sentinel, cfg_remote=self.cfg_remote)
        self.moats: list[Path] = []  # each victim's parent: must hold nothing but the victim
        self._count = 0

    def run(self, cmd: list[str], cwd: Path, **kw: Any) -> Proc:
        return run_capped(cmd, cwd, self.env, **kw)

    def filer(self, cwd: Path, *args: str, **kw: Any) -> Proc:
        return self.run(["git", "filer", *args], cwd, **kw)

    def git(self, cwd: Path, *args: str, **kw: Any) -> Proc:
        return self.run(["git", "-c", "gc.auto=0", *args], cwd, **kw)

    def load(self, cwd: Path, directory: str, name: str) -> Proc:
        """`Filer(directory).load(name)` in a capped subprocess."""
        return self.run([sys.executable, "-c", LOAD_SCRIPT, directory, name], cwd)

    def publisher(self, name: str, **kw: Any) -> Publisher:
        return Publisher(self.base, name, self.env, **kw)

    def clone(self, pub: Published, *args: str) -> tuple[Proc, Path]:
        """`git filer clone` of a hostile repository into a fresh directory (hooks installed)."""
        self._count += 1
        moat = self.base / "victims" / f"{pub.name}-{self._count}"
        moat.mkdir(parents=True)
        self.moats.append(moat)
        dest = moat / "work"
        proc = self.filer(moat, "clone", str(pub.bare), str(dest), *args)
        if not (dest / ".git").is_dir():
            raise AssertionError(f"git filer clone did not even clone:\n{proc}")
        return proc, dest

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        return snapshot(self.sentinel)

    def rebuild_sentinel(self) -> None:
        """After a test damaged it, so the next test starts from the same sentinel."""
        import shutil

        shutil.rmtree(self.sentinel)
        make_sentinel(self.sentinel, cfg_remote=self.cfg_remote)

    def escaped(self) -> list[str]:
        """Anything a victim's gitfiler created beside the victim's work tree."""
        return [str(m / n) for m in self.moats for n in os.listdir(m) if n != "work"]
