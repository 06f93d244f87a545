"""The hostile-repository drill (issue 7, design invariant 7).

Repositories and filer remotes built by hand to be hostile (tests/hostile.py) are run
through clone, pull, pull --force, checkout, branch switches with the hooks, add,
remove, gc, status, ls and `Filer.load`. Two assertions hold for every test without
the test saying so:

- (autouse fixture) a sentinel directory outside every repository is identical before
  and after (paths, modes, sizes, mtimes, SHA-256 digests, symlink targets), and nothing
  appears beside a victim's work tree;
- (the runner every process goes through, `hostile.run_capped`) each process, and every
  hook or git it starts, ran under a 2 GiB address-space cap and a 64 MiB file-size cap,
  and none crashed (exit 70, a traceback, "internal error"), was killed or timed out.

Each test also checks what the user sees: a non-zero exit with a line naming the
offending file (exit 4 for unsafe paths and malformed registry files, 6 for corrupt
objects, as the README's table says), and the repository's other artifacts hydrated.
"""

from __future__ import annotations

import os
import re
import stat as statmod
from pathlib import Path

import pytest

import hostile
from hostile import KNOWN, SENTINEL_SUB, Proc, Published, Sandbox

EXIT_UNSAFE = 4  # a registry file or manifest is malformed or unsafe
EXIT_CORRUPT = 6


# -- the global assertions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(autouse=True)
def nothing_outside_changes(sandbox: Sandbox):
    """The drill's assertion: the sentinel is byte-for-byte, mtime-for-mtime as it was, and no
    victim's gitfiler created anything beside its work tree."""
    before = sandbox.snapshot()
    escaped_before = set(sandbox.escaped())
    yield
    after = sandbox.snapshot()
    escaped = sorted(set(sandbox.escaped()) - escaped_before)
    if after != before:
        diff = hostile.difference(before, after)
        sandbox.rebuild_sentinel()
        pytest.fail(f"the sentinel directory outside the repository changed: {diff}")
    if escaped:
        pytest.fail(f"created outside the victim's work tree: {', '.join(escaped)}")


# -- helpers for what the user sees ----------------------------------------------------------------


Name = str | tuple[str, ...]  # a path, or alternatives (a registry file or the artifact it describes)


def named_line(line: str, name: Name) -> bool:
    """`line` names `name` (or one of its alternatives) as a path of its own or a path below it,
    not as the tail of a longer name: `.gitignore` is not named by `sub/.gitignore`."""
    return any(
        re.search(r"(?<![\w./-])" + re.escape(n) + r"(?![\w.-])", line) is not None
        for n in ((name,) if isinstance(name, str) else name)
    )


def named(proc: Proc, name: Name) -> list[str]:
    return [line for line in proc.output.splitlines() if named_line(line, name)]


def assert_refused(proc: Proc, code: int | tuple[int, ...], *names: Name, why: str | None = None) -> None:
    """Exit `code`, and for each offending file a line naming it (saying `why`, if given)."""
    codes = code if isinstance(code, tuple) else (code,)
    assert proc.returncode in codes, f"expected exit {code}:\n{proc}"
    for name in names:
        lines = named(proc, name)
        assert lines, f"no output line names {name!r}:\n{proc}"
        if why is not None:
            assert any(why in line.lower() for line in lines), f"no line naming {name!r} says {why!r}:\n{proc}"


def assert_hydrated(work: Path, pub: Published) -> None:
    """The repository's good artifacts are in the work tree, as regular files with their bytes."""
    for rel, data in pub.good.items():
        p = work / rel
        assert p.is_file() and not p.is_symlink(), f"{rel} was not hydrated as a regular file"
        assert p.read_bytes() == data, f"{rel} holds the wrong bytes"


def assert_hooks_clean(work: Path) -> None:
    hooks = work / ".git" / "hooks"
    for p in hooks.iterdir():
        if p.is_file():
            assert b"pwned" not in p.read_bytes(), f"a registry file or manifest wrote {p}"


def is_link(p: Path) -> bool:
    return statmod.S_ISLNK(os.lstat(p).st_mode)


# -- symlinked parents: `evil -> sentinel`, artifacts below evil/ --------------------------------------


@pytest.fixture(scope="module")
def parents(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("parents")
    p.config()
    hostile.good_artifacts(p)
    hostile.symlinked_parents(p, sandbox.sentinel)
    p.commit("artifacts below a symlinked parent")
    return p.publish()


PARENT_CASES = (
    ("planted.bin.filer", "evil/planted.bin"), ("known.bin.filer", "evil/known.bin"),
    ("evsub.filer", "evil/sub"), ("evcfg.filer", "evil/cfg"),
)


def test_clone_refuses_artifacts_below_a_symlinked_parent_and_hydrates_the_rest(sandbox, parents):
    proc, work = sandbox.clone(parents)
    assert_refused(proc, EXIT_UNSAFE, *PARENT_CASES, why="symlink")
    assert_hydrated(work, parents)


def test_pull_force_never_writes_or_deletes_below_a_symlinked_parent(sandbox, parents):
    _, work = sandbox.clone(parents)
    proc = sandbox.filer(work, "pull", "--force")
    assert_refused(proc, EXIT_UNSAFE, *PARENT_CASES, why="symlink")
    assert_hydrated(work, parents)


def test_checkout_force_never_writes_or_deletes_below_a_symlinked_parent(sandbox, parents):
    _, work = sandbox.clone(parents)
    proc = sandbox.filer(work, "checkout", "--force")
    assert_refused(proc, EXIT_UNSAFE, *PARENT_CASES[2:], why="symlink")


def test_remove_never_deletes_a_directory_below_a_symlinked_parent(sandbox, parents):
    # The manifest of evil/sub matches the outside directory file for file.
    _, work = sandbox.clone(parents)
    proc = sandbox.filer(work, "remove", "evil/sub")
    assert proc.returncode == EXIT_UNSAFE and "symlink" in proc.stderr.lower(), str(proc)


def test_status_refuses_to_look_through_a_symlinked_parent(sandbox, parents):
    _, work = sandbox.clone(parents)
    proc = sandbox.filer(work, "status")
    assert proc.returncode == EXIT_UNSAFE and "symlink" in proc.stderr.lower(), str(proc)
    assert sandbox.filer(work, "ls").returncode == 0


def test_add_below_a_symlinked_parent_is_refused(sandbox, parents):
    _, work = sandbox.clone(parents)
    proc = sandbox.filer(work, "add", "evil/file.txt")
    assert proc.returncode != 0 and "evil/file.txt" in proc.stderr, str(proc)


# -- a committed symlink next to a directory artifact of the same name (the first case) -----------


@pytest.fixture(scope="module")
def link_beside_dir(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("linkdir")
    p.config()
    hostile.good_artifacts(p)
    hostile.link_beside_dir_artifact(p, sandbox.sentinel, "evil")
    p.commit("evil is a link and a directory artifact")
    return p.publish()


EVIL = ("evil.filer", "evil")


def test_pull_force_never_empties_the_directory_a_committed_link_points_to(sandbox, link_beside_dir):
    proc, work = sandbox.clone(link_beside_dir)
    forced = sandbox.filer(work, "pull", "--force")
    assert_refused(proc, EXIT_UNSAFE, EVIL, why="symlink")
    assert_refused(forced, EXIT_UNSAFE, EVIL, why="symlink")
    assert_hydrated(work, link_beside_dir)
    assert is_link(work / "evil")


def test_checkout_force_never_empties_the_directory_a_committed_link_points_to(sandbox, link_beside_dir):
    _, work = sandbox.clone(link_beside_dir)
    proc = sandbox.filer(work, "checkout", "--force")
    assert_refused(proc, EXIT_UNSAFE, EVIL, why="symlink")


def test_remove_of_a_directory_artifact_that_is_a_link_leaves_its_target(sandbox, link_beside_dir):
    _, work = sandbox.clone(link_beside_dir)
    proc = sandbox.filer(work, "remove", "evil")
    # Refused, or tracking stopped without following the link: never "done" with the registry file left.
    assert proc.returncode != 0 or not (work / "evil.filer").exists(), str(proc)


# -- artifacts that turn into links between commits, with the hooks installed ---------------------------


@pytest.fixture(scope="module")
def turns(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("turns")
    p.config()
    hostile.good_artifacts(p)
    hostile.turns_into_link(p, sandbox.sentinel)
    return p.publish()


def test_switch_to_a_branch_where_a_directory_artifact_is_a_link_deletes_nothing_through_it(sandbox, turns):
    proc, work = sandbox.clone(turns, "--no-hooks")
    install = sandbox.filer(work, "install")
    assert proc.returncode == 0 and install.returncode == 0, f"{proc}\n{install}"
    assert (work / "d" / "known.bin").read_bytes() == KNOWN  # hydrated: the hook now has something to retire
    switch = sandbox.git(work, "checkout", "-q", "b")
    assert switch.returncode == 0, str(switch)


def test_switch_to_a_changed_directory_artifact_behind_a_link_deletes_nothing_through_it(sandbox, turns):
    _, work = sandbox.clone(turns)
    switch = sandbox.git(work, "checkout", "-q", "c")
    forced = sandbox.filer(work, "pull", "--force")
    assert switch.returncode == 0, str(switch)
    assert any(named_line(line, ("d.filer", "d")) and "symlink" in line.lower() for line in switch.stderr.splitlines()), str(switch)
    assert_refused(forced, EXIT_UNSAFE, ("d.filer", "d"), why="symlink")


def test_switching_back_from_the_link_branch_hydrates_the_artifacts_again(sandbox, turns):
    _, work = sandbox.clone(turns)
    sandbox.git(work, "checkout", "-q", "b")
    back = sandbox.git(work, "checkout", "-q", "main")
    assert back.returncode == 0, str(back)
    for rel, data in SENTINEL_SUB.items():
        assert (work / "d" / rel).read_bytes() == data
    assert not is_link(work / "f.bin") and (work / "f.bin").read_bytes() == KNOWN


# -- symlinked registry files and artifacts ------------------------------------------------------------


@pytest.fixture(scope="module")
def links(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("links")
    p.config()
    hostile.good_artifacts(p)
    hostile.symlinked_registries(p, sandbox.sentinel)
    hostile.symlinked_artifacts(p, sandbox.sentinel)
    p.commit("links where registry files and artifacts belong")
    return p.publish()


def test_pull_refuses_symlinked_registry_files_and_hydrates_the_rest(sandbox, links):
    proc, work = sandbox.clone(links)
    assert_refused(proc, EXIT_UNSAFE, "x.filer", "y.filer", "z.filer", why="symlink")
    assert_hydrated(work, links)
    assert not (work / "y.bin").exists()


def test_pull_names_committed_links_at_artifact_paths_and_leaves_them(sandbox, links):
    # Refused as unsafe or kept as modified: either way listed, neither followed nor replaced without --force.
    proc, work = sandbox.clone(links)
    assert_refused(proc, (EXIT_UNSAFE, 8), "m.bin", "n.bin")
    assert is_link(work / "m.bin") and is_link(work / "n.bin")


def test_pull_force_never_writes_through_a_committed_link_at_an_artifact_path(sandbox, links):
    _, work = sandbox.clone(links)
    proc = sandbox.filer(work, "pull", "--force")
    assert proc.returncode != 0, str(proc)
    for rel in ("m.bin", "n.bin"):
        assert is_link(work / rel) or (work / rel).read_bytes() != (sandbox.sentinel / "file.txt").read_bytes()


# -- symlinked .gitignore files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ignores(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("ignores")
    p.config()
    hostile.good_artifacts(p)
    hostile.symlinked_ignores(p, sandbox.sentinel)
    p.commit(".gitignore files are links")
    return p.publish()


def _staged_mode(sandbox: Sandbox, work: Path, rel: str) -> str:
    return sandbox.git(work, "ls-files", "-s", "--", rel).stdout.split(" ")[0]


def test_add_refuses_to_write_through_a_symlinked_gitignore(sandbox, ignores):
    _, work = sandbox.clone(ignores)
    (work / "new.bin").write_bytes(b"new\n")
    proc = sandbox.filer(work, "add", "new.bin")
    assert_refused(proc, EXIT_UNSAFE, ".gitignore", why="symlink")
    assert is_link(work / ".gitignore") and _staged_mode(sandbox, work, ".gitignore") == "120000"


def test_add_refuses_to_write_through_a_symlinked_gitignore_in_a_subdirectory(sandbox, ignores):
    _, work = sandbox.clone(ignores)
    (work / "sub" / "new.bin").write_bytes(b"new\n")
    proc = sandbox.filer(work, "add", "sub/new.bin")
    assert_refused(proc, EXIT_UNSAFE, "sub/.gitignore", why="symlink")
    assert is_link(work / "sub" / ".gitignore") and _staged_mode(sandbox, work, "sub/.gitignore") == "120000"


def test_remove_refuses_to_rewrite_a_symlinked_gitignore(sandbox, ignores):
    # The link's target holds `/good.bin`: removing the artifact would rewrite it.
    _, work = sandbox.clone(ignores)
    proc = sandbox.filer(work, "remove", "good.bin")
    assert_refused(proc, EXIT_UNSAFE, ".gitignore", why="symlink")
    assert is_link(work / ".gitignore") and _staged_mode(sandbox, work, ".gitignore") == "120000"


# -- symlinked .gitfiler directory and .gitfiler/config.yaml -------------------------------------------------


@pytest.fixture(scope="module")
def config_links(sandbox: Sandbox) -> dict[str, Published]:
    out = {}
    for name, link, target in (
        ("cfgdir", ".gitfiler", sandbox.sentinel / "cfg"),
        ("cfgfile", ".gitfiler/config.yaml", sandbox.sentinel / "cfg" / "config.yaml"),
    ):
        p = sandbox.publisher(name, remote=sandbox.cfg_remote)
        hostile.good_artifacts(p)
        p.symlink(link, target)
        p.commit(f"{link} is a link")
        out[name] = p.publish()
    return out


@pytest.mark.parametrize("which", ["cfgdir", "cfgfile"])
def test_a_symlinked_tracked_config_is_refused_by_every_command(sandbox, config_links, which):
    proc, work = sandbox.clone(config_links[which])
    procs = [proc] + [
        sandbox.filer(work, *args) for args in (["pull"], ["status"], ["remote", "add", "team", str(sandbox.base / "elsewhere")], ["init"])
    ]
    for p in procs:
        assert p.returncode in (3, EXIT_UNSAFE), str(p)
        assert ".gitfiler" in p.stderr and "symlink" in p.stderr.lower(), str(p)


# -- local-path settings in the tracked config --------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("settings")
    p.config(f"cache_dir: {sandbox.sentinel}\ncheckout: symlink\n")
    hostile.good_artifacts(p)
    p.commit("the repository chooses the cache and the checkout strategy")
    return p.publish()


def _ignored_or_refused(proc: Proc, work: Path, pub: Published) -> None:
    """A repository-set local setting is either ignored (hydrated normally, into the clone's own
    cache, as regular files) or refused as a configuration error naming it."""
    if proc.returncode == 0:
        assert_hydrated(work, pub)
        cache = work / ".git" / "filer" / "objects" / "sha256"
        oid = hostile.oid_of(pub.good["good.bin"]).removeprefix("sha256:")
        assert (cache / oid[:2] / oid[2:]).is_file(), "the object is not in the clone's own cache"
    else:
        assert proc.returncode == 3 and "cache_dir" in proc.stderr, str(proc)


def test_a_tracked_cache_dir_and_checkout_strategy_are_not_taken_from_the_repository(sandbox, settings):
    proc, work = sandbox.clone(settings)
    _ignored_or_refused(proc, work, settings)
    _ignored_or_refused(sandbox.filer(work, "checkout", "--force"), work, settings)  # no symlinks into a chosen cache


def test_gc_never_collects_a_cache_the_repository_chose(sandbox, settings):
    _, work = sandbox.clone(settings)
    sandbox.filer(work, "gc", "--grace", "0")
    sandbox.filer(work, "gc", "--grace", "0", "--shared-cache-ok")


# -- traversal in every field -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def traversal(sandbox: Sandbox) -> tuple[Published, dict[str, str]]:
    p = sandbox.publisher("traversal")
    p.config()
    hostile.good_artifacts(p)
    bad = hostile.traversal(p, sandbox.sentinel)
    p.commit("traversal everywhere")
    return p.publish(), bad


def test_clone_refuses_every_traversal_by_name_and_hydrates_the_rest(sandbox, traversal):
    pub, bad = traversal
    proc, work = sandbox.clone(pub)
    assert_refused(proc, EXIT_UNSAFE, *bad)
    assert_hydrated(work, pub)
    assert_hooks_clean(work)


def test_pull_and_checkout_force_refuse_every_traversal(sandbox, traversal):
    pub, bad = traversal
    _, work = sandbox.clone(pub)
    forced = sandbox.filer(work, "pull", "--force")
    checkout = sandbox.filer(work, "checkout", "--force")
    sandbox.git(work, "commit", "-q", "--allow-empty", "-m", "runs post-commit")  # a planted hook would run here
    assert_refused(forced, EXIT_UNSAFE, *bad)
    assert_refused(checkout, EXIT_UNSAFE, *bad)
    assert_hooks_clean(work)


def test_status_ls_and_gc_name_a_traversal_and_crash_on_none(sandbox, traversal):
    pub, bad = traversal
    _, work = sandbox.clone(pub)
    for args in (["status"], ["ls"]):
        proc = sandbox.filer(work, *args)
        assert_refused(proc, EXIT_UNSAFE, tuple(bad))  # at least one of them, by name
    sandbox.filer(work, "gc", "--dry-run")


# -- duplicate and nested artifact paths -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dups(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("dups")
    p.config()
    hostile.good_artifacts(p)
    hostile.duplicates(p)
    p.commit("two claims on one path")
    return p.publish()


def _one_line_names_both(proc: Proc, a: str, b: str) -> None:
    assert any(named_line(line, a) and named_line(line, b) for line in proc.output.splitlines()), f"no line names both {a} and {b}:\n{proc}"


def test_two_registry_files_claiming_one_path_is_an_error_naming_both(sandbox, dups):
    proc, work = sandbox.clone(dups)
    after_clone = (work / "shared.bin").exists()
    again = sandbox.filer(work, "pull")
    assert proc.returncode == EXIT_UNSAFE, str(proc)
    _one_line_names_both(proc, "one.filer", "shared.bin.filer")
    assert not after_clone and not (work / "shared.bin").exists(), "one of two claims on shared.bin was hydrated"
    assert again.returncode == EXIT_UNSAFE, str(again)
    assert_hydrated(work, dups)


def test_an_artifact_inside_a_directory_artifact_is_an_error_naming_both(sandbox, dups):
    proc, work = sandbox.clone(dups)
    assert proc.returncode == EXIT_UNSAFE, str(proc)
    _one_line_names_both(proc, "nest.filer", "nest/inner.bin.filer")
    assert_hydrated(work, dups)


# -- hostile YAML: an alias bomb, > 1 MiB, duplicate keys -----------------------------------------------------


@pytest.fixture(scope="module")
def yaml_bombs(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("malformed")
    p.config()
    hostile.good_artifacts(p)
    hostile.malformed(p)
    p.commit("hostile YAML")
    return p.publish()


MALFORMED = {
    "bomb.bin.filer": "alias", "models/bomb.pkl.filer": "alias",
    "dupkey.bin.filer": "duplicate", "models/dupkey.pkl.filer": "duplicate",
    "huge.bin.filer": None, "models/huge.pkl.filer": None,
}


def test_clone_refuses_hostile_yaml_by_name_within_the_memory_cap_and_hydrates_the_rest(sandbox, yaml_bombs):
    proc, work = sandbox.clone(yaml_bombs)
    for reg, why in MALFORMED.items():
        assert_refused(proc, EXIT_UNSAFE, reg, why=why)
    assert_hydrated(work, yaml_bombs)
    for name in ("bomb.bin", "huge.bin", "dupkey.bin"):
        assert not (work / name).exists()


def test_ls_and_status_refuse_an_alias_bomb_within_the_memory_cap(sandbox, yaml_bombs):
    _, work = sandbox.clone(yaml_bombs)
    for args in (["ls"], ["ls", "--json"], ["status"], ["status", "--json"]):
        assert_refused(sandbox.filer(work, *args), EXIT_UNSAFE, "bomb.bin.filer", why="alias")


def test_filer_load_reads_a_good_artifact_beside_hostile_registry_files(sandbox, yaml_bombs):
    _, work = sandbox.clone(yaml_bombs)
    proc = sandbox.load(work, "models", "good")
    assert proc.returncode == 0 and proc.stdout.strip() == "{'answer': 42}", str(proc)


@pytest.mark.parametrize("name", ["bomb", "huge", "dupkey"])
def test_filer_load_of_a_hostile_registry_file_raises_a_typed_error(sandbox, yaml_bombs, name):
    _, work = sandbox.clone(yaml_bombs)
    proc = sandbox.load(work, "models", name)
    assert proc.returncode == EXIT_UNSAFE and f"{name}.pkl.filer" in proc.stderr, str(proc)


# -- a hostile filer remote --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def liar(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("liar")
    p.config()
    hostile.good_artifacts(p)
    hostile.hostile_objects(p, sandbox.sentinel)
    p.commit("a remote whose objects lie")
    return p.publish()


def _no_big_files(work: Path, limit: int = 1 << 20) -> None:
    for dirpath, _dirs, files in os.walk(work):
        for name in files:
            p = os.path.join(dirpath, name)
            assert os.lstat(p).st_size <= limit, f"{p} grew to {os.lstat(p).st_size} bytes from a 3,000-byte object"


def test_an_object_linked_to_dev_zero_is_refused_at_its_declared_size(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    proc = sandbox.filer(work, "pull", "zero.bin")
    assert_refused(proc, EXIT_CORRUPT, "zero.bin")
    assert not (work / "zero.bin").exists()
    _no_big_files(work)


def test_an_object_linked_to_an_outside_file_is_never_read(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    proc = sandbox.filer(work, "pull", "leak.bin")
    assert_refused(proc, (5, EXIT_CORRUPT, 7), "leak.bin")
    assert not (work / "leak.bin").exists()
    oid = hostile.oid_of((sandbox.sentinel / "file.txt").read_bytes()).removeprefix("sha256:")
    assert not (work / ".git" / "filer" / "objects" / "sha256" / oid[:2] / oid[2:]).exists()


def test_an_object_larger_than_its_registry_declares_is_corrupt(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    proc = sandbox.filer(work, "pull", "big.bin")
    assert_refused(proc, EXIT_CORRUPT, "big.bin")
    assert not (work / "big.bin").exists()


def test_an_object_larger_than_its_manifest_declares_is_corrupt(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    proc = sandbox.filer(work, "pull", "bigdir")
    assert_refused(proc, EXIT_CORRUPT, "bigdir")
    assert not (work / "bigdir" / "x").exists()


def test_a_full_pull_from_a_lying_remote_hydrates_the_honest_artifacts(sandbox, liar):
    proc, work = sandbox.clone(liar)
    assert proc.returncode != 0, str(proc)
    for name in ("zero.bin", "leak.bin", "big.bin", "bigdir"):
        assert named(proc, name), f"{name} is not reported:\n{proc}"
    assert_hydrated(work, liar)
    _no_big_files(work)


def test_push_never_writes_through_a_linked_shard_of_the_remote(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    (work / "new.bin").write_bytes(liar.info["new_artifact"])
    sandbox.filer(work, "add", "new.bin")
    proc = sandbox.filer(work, "push", "new.bin")
    assert proc.returncode != 0 and "symlink" in proc.stderr.lower(), str(proc)


def test_gc_of_the_remote_never_deletes_through_a_linked_shard(sandbox, liar):
    _, work = sandbox.clone(liar, "-I", "good.bin")
    sandbox.filer(work, "gc", "--git-remote", "origin", "--dry-run")
    sandbox.filer(work, "gc", "--git-remote", "origin", "--yes")


# -- names a terminal would interpret -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd(sandbox: Sandbox) -> tuple[Published, list[str]]:
    p = sandbox.publisher("odd")
    p.config()
    names = hostile.odd_names(p)
    p.commit("odd names")
    return p.publish(), names


def test_ls_and_status_escape_control_characters_in_names(sandbox, odd):
    pub, names = odd
    proc, work = sandbox.clone(pub)
    assert proc.returncode == 0, str(proc)
    for args in (["ls"], ["status", "-v"]):
        out = sandbox.filer(work, *args)
        assert out.returncode == 0, str(out)
        for char in ("\x1b", "\x07", "\r"):
            assert char not in out.output, f"{args} prints {char!r} raw:\n{out}"
        assert not any(line.startswith("fake-line.bin") for line in out.output.splitlines()), f"{args} prints a raw newline:\n{out}"


# -- every hazard at once, through every command ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sink(sandbox: Sandbox) -> Published:
    p = sandbox.publisher("sink")
    p.config(f"cache_dir: {sandbox.sentinel}\ncheckout: symlink\n")
    hostile.good_artifacts(p)
    hostile.symlinked_parents(p, sandbox.sentinel)
    hostile.link_beside_dir_artifact(p, sandbox.sentinel, "evil2")
    hostile.symlinked_ignores(p, sandbox.sentinel, root=False)
    hostile.symlinked_registries(p, sandbox.sentinel)
    hostile.symlinked_artifacts(p, sandbox.sentinel)
    hostile.traversal(p, sandbox.sentinel)
    hostile.duplicates(p)
    hostile.malformed(p)
    hostile.hostile_objects(p, sandbox.sentinel)
    hostile.turns_into_link(p, sandbox.sentinel, branch_c=False)
    return p.publish()


def test_every_hazard_at_once_through_clone_pull_and_checkout(sandbox, sink):
    proc, work = sandbox.clone(sink)
    procs = [proc] + [sandbox.filer(work, *args) for args in (["pull"], ["pull", "--force"], ["checkout"], ["checkout", "--force"])]
    for p in procs:
        assert p.returncode != 0, str(p)
    assert_hydrated(work, sink)
    assert_hooks_clean(work)


def test_every_hazard_at_once_through_status_ls_add_remove_and_gc(sandbox, sink):
    _, work = sandbox.clone(sink)
    (work / "sub" / "new.bin").write_bytes(b"new\n")
    for args in (
        ["status"], ["status", "--json"], ["ls"], ["ls", "--json"], ["add", "sub/new.bin"], ["add", "evil/file.txt"],
        ["remove", "evil/sub"], ["remove", "evil2"], ["remove", "good.bin"], ["fsck"], ["validate"],
        ["gc", "--grace", "0"], ["gc", "--grace", "0", "--shared-cache-ok"], ["gc", "--git-remote", "origin", "--yes"],
    ):
        sandbox.filer(work, *args)


def test_every_hazard_at_once_through_filer_load(sandbox, sink):
    _, work = sandbox.clone(sink)
    proc = sandbox.load(work, "models", "good")
    assert proc.returncode == 0 and proc.stdout.strip() == "{'answer': 42}", str(proc)
    for name in ("bomb", "huge", "dupkey"):
        assert sandbox.load(work, "models", name).returncode == EXIT_UNSAFE


def test_every_hazard_at_once_through_branch_switches_with_the_hooks(sandbox, sink):
    _, work = sandbox.clone(sink)
    for branch in ("b", "main", "b"):
        switch = sandbox.git(work, "checkout", "-q", branch)
        assert switch.returncode == 0, str(switch)
    sandbox.filer(work, "pull", "--force")


def test_the_sentinel_snapshot_sees_a_change(sandbox):
    """The drill's own check: a write, a delete or a touch in the sentinel is visible to the snapshot."""
    before = sandbox.snapshot()
    victim = sandbox.sentinel / "sub" / "deeper" / "leaf.txt"
    st = os.stat(victim)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert hostile.difference(before, sandbox.snapshot()) == "changed: sub/deeper/leaf.txt"
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sandbox.snapshot() == before
