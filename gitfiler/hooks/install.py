"""Installing and removing the hook shims: by hand (`git filer install`), on their own when a
gitfiler command runs in a clone that lacks them (`ensure`, as git-lfs does), and for every
new repository of this user (`install_global`: a git template directory).

A hook that is not ours is never clobbered: it is moved aside to `<hook>.pre-gitfiler`
and the shim runs it first, keeping its exit status meaning; uninstall puts it back. The
pre-commit framework does the same the other way round (it keeps the hook it replaces as
`<hook>.legacy` and runs it first): a shim of ours found there is in its place, and is kept
up to date there. The hooks directory comes from `git rev-parse --git-path hooks`, so
`core.hooksPath` and linked worktrees are respected.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import configfile, env, git
from ..config import Config
from ..errors import ConfigError, FilerError, HookError
from ..fsutil import atomic_write_bytes
from ..paths import is_within
from ..project import Project
from .shims import ASIDE, ID_LINE, shim
from .triggers import HOOKS

LARGE_FILE_HOOK = "pre-commit"
FRAMEWORK_CONFIG = ".pre-commit-config.yaml"  # the pre-commit framework's, in the work tree
FRAMEWORK_IDS = "gitfiler-"  # the ids of gitfiler's hooks in its manifest, .pre-commit-hooks.yaml
FRAMEWORK_ASIDE = ".legacy"  # where the pre-commit framework keeps the hook it replaced, and runs it first
TEMPLATE = "git-template"  # below env.data_home(): the init.templateDir that `install --global` sets

# A hook's state (`state`): ours and as this gitfiler writes it, ours but older, someone else's, none.
CURRENT, OUTDATED, FOREIGN, MISSING = "current", "outdated", "foreign", "missing"


def is_ours(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return ID_LINE.encode() in f.read(512)
    except OSError:
        return False


@dataclass
class InstallResult:
    hooks_dir: str
    installed: list[str] = field(default_factory=list)  # written: new, or ours brought up to date
    chained: list[str] = field(default_factory=list)  # someone else's hook was there: kept as NAME.pre-gitfiler, run first
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # a chained hook put back in its place
    problems: list[str] = field(default_factory=list)  # what `ensure` could not do, instead of failing the command


@dataclass
class GlobalResult:
    """What `install --global` or `uninstall --global` did."""

    setting: str  # the git setting through which git finds the hooks: init.templateDir or core.hooksPath
    places: list[InstallResult] = field(default_factory=list)  # each directory shims were written to or removed from
    configured: bool = False  # this run set (install) or unset (uninstall) init.templateDir in the global git config
    template_dir: str = ""  # gitfiler's own template directory


# -- one directory of hooks ---------------------------------------------------------------------------


def shim_path(directory: str, name: str) -> str:
    """Where our shim for `name` is, or goes: NAME, or NAME.legacy when the pre-commit framework's
    hook stands at NAME and runs ours from there."""
    path = os.path.join(directory, name)
    if os.path.lexists(path) and not is_ours(path) and is_ours(path + FRAMEWORK_ASIDE):
        return path + FRAMEWORK_ASIDE
    return path


def _is_current(path: str, name: str) -> bool:
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError:
        return False
    return data == shim(name).encode() and os.access(path, os.X_OK)


def state(directory: str, name: str) -> str:
    path = shim_path(directory, name)
    if _is_current(path, name):
        return CURRENT
    if is_ours(path):
        return OUTDATED
    return FOREIGN if os.path.lexists(path) else MISSING


def _install_one(directory: str, name: str, force: bool, result: InstallResult) -> None:
    path = shim_path(directory, name)
    if os.path.lexists(path) and not is_ours(path):
        aside = path + ASIDE
        if os.path.lexists(aside):
            if not force:
                raise HookError(
                    f"{path} is not gitfiler's and {aside} already exists; merge them by hand, or rerun 'git filer install' with --force to keep {name} as the chained hook"
                )
            os.replace(aside, aside + ".old")
        os.replace(path, aside)
        result.chained.append(name)
    elif _is_current(path, name):
        result.unchanged.append(name)
        return
    atomic_write_bytes(path, shim(name).encode(), mode=0o755)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    result.installed.append(name)


def install_in(directory: str, names: Sequence[str] = HOOKS, *, force: bool = False) -> InstallResult:
    os.makedirs(directory, exist_ok=True)
    result = InstallResult(directory)
    for name in names:
        _install_one(directory, name, force, result)
    return result


def uninstall_in(directory: str, names: Sequence[str] = HOOKS) -> InstallResult:
    """Remove our shims (also one the pre-commit framework chains as NAME.legacy) and put back
    what each had chained."""
    result = InstallResult(directory)
    for name in names:
        path = os.path.join(directory, name)
        for where in (path, path + FRAMEWORK_ASIDE):
            if not is_ours(where):
                continue
            os.unlink(where)
            result.removed.append(name)
            if os.path.lexists(where + ASIDE):
                os.replace(where + ASIDE, where)
                result.restored.append(name)
    return result


# -- one repository -------------------------------------------------------------------------------------


def hooks_dir(root: str) -> str:
    return git.git_path(root, "hooks")


def wanted(config: Config) -> tuple[str, ...]:
    """The hooks gitfiler installs in a repository with this config."""
    return tuple(name for name in HOOKS if config.large_file_check or name != LARGE_FILE_HOOK)


def install(root: str, *, force: bool = False, names: Sequence[str] = HOOKS) -> InstallResult:
    return install_in(hooks_dir(root), names, force=force)


def uninstall(root: str, names: Sequence[str] = HOOKS) -> InstallResult:
    return uninstall_in(hooks_dir(root), names)


def install_here(project: Project, *, force: bool = False, large_file_check: bool | None = None) -> InstallResult:
    """`git filer install`: the hooks this clone's config asks for. An earlier `uninstall`'s
    `hooks: false` is lifted, and a `large_file_check` choice is kept in the per-clone config, so
    what gitfiler's commands keep installed (`ensure`) is what was asked for here."""
    if configfile.get_local(project).get("hooks") is False:
        configfile.set_local(project, "hooks", None)
    if large_file_check is not None:
        configfile.set_local(project, "large_file_check", large_file_check)
    names = wanted(project.config)
    result = install(project.root, force=force, names=names)
    dropped = uninstall(project.root, [n for n in HOOKS if n not in names])
    result.removed += dropped.removed
    result.restored += dropped.restored
    return result


def uninstall_here(project: Project) -> InstallResult:
    """`git filer uninstall`: remove the hooks and keep them out: `hooks: false` in the per-clone
    config stops gitfiler's commands from installing them again (`install` lifts it)."""
    result = uninstall(project.root)
    if project.has_git:
        configfile.set_local(project, "hooks", False)
    return result


def keep_out(project: Project) -> None:
    """`init --no-hooks`: no hooks in this clone, and gitfiler's commands do not add them
    later (`install` lifts it)."""
    configfile.set_local(project, "hooks", False)


def ensure(project: Project) -> InstallResult | None:
    """The one policy for hooks nobody asked for by name: add, pull, checkout, push and clone call
    this first (as git-lfs installs its hooks whenever one of its commands runs), so the push gate
    is there in a clone made with plain `git clone`.

    Installs only what is missing or older than this gitfiler's shims, chaining a hook that is
    not ours; hooks that are ours and current cost a `git rev-parse` and a read each. None when
    gitfiler keeps no hooks here: GITFILER_NO_HOOKS, `hooks: false` in the config (which
    `uninstall` writes), gitfiler's hooks run by the pre-commit framework, or not a gitfiler
    repository. Never fails the command: what could not be done is in `problems`, for the
    caller to say."""
    try:
        if env.no_hooks():
            return None
    except ConfigError as err:
        return InstallResult("", problems=[f"{err}; the git hooks were not checked"])
    if not project.has_git or not project.initialized:
        return None
    try:
        config = project.config
    except FilerError:
        return None  # the command itself reports a broken config
    if not config.hooks or framework_runs_ours(project):
        return None
    directory = ""
    try:
        directory = hooks_dir(project.root)
        names = wanted(config)
        todo = [name for name in names if state(directory, name) != CURRENT]
        result = InstallResult(directory, unchanged=[name for name in names if name not in todo])
        if not todo:
            return result
        if not _inside(directory, project):
            result.problems.append(
                f"the git hooks directory is {directory} (core.hooksPath), outside this repository, and lacks gitfiler's "
                f"{', '.join(todo)}; gitfiler writes there only when asked: run 'git filer install' (or 'git filer uninstall' to do without them)"
            )
            return result
        os.makedirs(directory, exist_ok=True)
        for name in todo:
            try:
                _install_one(directory, name, False, result)
            except (FilerError, OSError) as err:
                result.problems.append(f"could not install the {name} hook: {err}")
        return result
    except (FilerError, OSError) as err:
        return InstallResult(directory, problems=[f"could not install the git hooks: {err}"])


def framework_runs_ours(project: Project) -> bool:
    """Does the repository run gitfiler's hooks through the pre-commit framework (its
    .pre-commit-config.yaml names a `gitfiler-*` hook id)? Then the framework installs them, and
    shims of ours would run them a second time. Any other framework config is just another hook
    to chain."""
    from ..registry import MAX_REGISTRY_BYTES, parse_yaml

    try:
        data = project.tree.read_capped(FRAMEWORK_CONFIG, MAX_REGISTRY_BYTES, "pre-commit config")
        doc = parse_yaml(data, FRAMEWORK_CONFIG, ValueError) if data is not None else None
    except (FilerError, ValueError):
        return False  # unreadable: the framework will say so; it runs none of ours
    repos = doc.get("repos") if isinstance(doc, dict) else None
    for repo in repos if isinstance(repos, list) else []:
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and str(hook.get("id", "")).startswith(FRAMEWORK_IDS):
                return True
    return False


def _inside(directory: str, project: Project) -> bool:
    """Is this hooks directory the repository's own (in its git dir or work tree)?"""
    return any(is_within(directory, home) for home in (project.root, project.common_dir) if home)


# -- every repository of this user -----------------------------------------------------------------------


def template_dir() -> str:
    return os.path.join(env.data_home(), TEMPLATE)


def _anywhere() -> str:
    """A directory to run `git config --global` in (any will do; HOME may not exist)."""
    return os.path.abspath(os.sep)


def _setting(key: str, *, scope: str | None = None) -> tuple[str, str] | None:
    """(value, origin) of a git setting outside any repository (global and system files), or of
    one `scope` ("--global"); None when unset."""
    args = ["config", *([scope] if scope else []), "--show-origin", "--type=path", "--get", key]
    proc = git.run(args, _anywhere(), check=False)
    if proc.returncode == 1:
        return None
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise HookError(f"could not read {key} from the git config: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    origin, _, value = os.fsdecode(proc.stdout).removesuffix("\n").partition("\t")
    return value, origin.removeprefix("file:")


def _same(a: str, b: str) -> bool:
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(b)


def install_global(*, force: bool = False, large_file_check: bool = True) -> GlobalResult:
    """`git filer install --global`: gitfiler's hooks in every repository this user creates or
    clones from now on, through git's template directory (`init.templateDir`), which `git init`
    and `git clone` copy into each new `.git`; existing clones get theirs from `ensure`.

    A template or `core.hooksPath` the user already has is never replaced: without `force` this
    refuses and says why; with it, the shims are added to that directory, chaining what is there."""
    names = [name for name in HOOKS if large_file_check or name != LARGE_FILE_HOOK]
    ours = template_dir()
    hooks_path = _setting("core.hooksPath")
    if hooks_path is not None:
        where, origin = hooks_path
        if not os.path.isabs(os.path.expanduser(where)):
            raise HookError(
                f"core.hooksPath is {where} (set in {origin}), a directory inside each repository, so no one place holds every "
                "repository's hooks; gitfiler's commands add their hooks to each repository they run in (see docs/hooks.md)"
            )
        if not force:
            raise HookError(
                f"core.hooksPath is {where} (set in {origin}): git runs only the hooks there, in every repository, so a template "
                f"would never run and gitfiler will not change the setting; rerun with --force to add gitfiler's hooks to {where} "
                "(hooks already there are kept and run first)"
            )
        return GlobalResult("core.hooksPath", [install_in(os.path.expanduser(where), names, force=force)], template_dir=ours)
    template = _setting("init.templateDir")
    if template is not None and not _same(template[0], ours):
        where, origin = template
        if not force:
            raise HookError(
                f"init.templateDir is already {where} (set in {origin}) and gitfiler will not replace it; rerun with --force "
                f"to add gitfiler's hooks to {os.path.join(where, 'hooks')} (hooks already there are kept and run first)"
            )
        return GlobalResult("init.templateDir", [install_in(os.path.join(os.path.expanduser(where), "hooks"), names, force=force)], template_dir=ours)
    hooks = install_in(os.path.join(ours, "hooks"), names, force=force)
    dropped = uninstall_in(hooks.hooks_dir, [n for n in HOOKS if n not in names])
    hooks.removed += dropped.removed
    result = GlobalResult("init.templateDir", [hooks], template_dir=ours)
    if template is None:
        git.run(["config", "--global", "init.templateDir", ours], _anywhere())
        result.configured = True
    return result


def uninstall_global() -> GlobalResult:
    """`git filer uninstall --global`: undo `install --global`. Only gitfiler's shims are removed
    (what they chained is put back) and init.templateDir is unset only if it names gitfiler's
    template; clones made meanwhile keep their hooks until `git filer uninstall` there."""
    ours = template_dir()
    result = GlobalResult("init.templateDir", template_dir=ours)
    dirs = [os.path.join(ours, "hooks")]
    mine = _setting("init.templateDir", scope="--global")
    if mine is not None and _same(mine[0], ours):
        git.run(["config", "--global", "--unset", "init.templateDir"], _anywhere())
        result.configured = True
    template = _setting("init.templateDir")
    if template is not None and not _same(template[0], ours):
        dirs.append(os.path.join(os.path.expanduser(template[0]), "hooks"))
    hooks_path = _setting("core.hooksPath")
    if hooks_path is not None and os.path.isabs(os.path.expanduser(hooks_path[0])):
        dirs.append(os.path.expanduser(hooks_path[0]))
    for directory in dirs:
        if os.path.isdir(directory):
            result.places.append(uninstall_in(directory))
    for leftover in (os.path.join(ours, "hooks"), ours):
        try:
            os.rmdir(leftover)  # only when empty: anything else there is not ours to delete
        except OSError:
            pass
    return result
