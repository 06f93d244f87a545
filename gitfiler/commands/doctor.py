"""`doctor`: the effective setup of this clone and what is wrong with it, each problem with its fix.

It changes nothing: no config is edited, no hook installed, no remote directory created. It runs
where other commands refuse to (outside a repository, with a config that does not parse), because
that is when it is needed: what it cannot read is a problem in the report, not an exception.
A remote gets a short time budget, so a dead endpoint costs seconds, not the retry budget.
No secret is ever read into the report: for S3 only the name of boto3's credential source
and the profile are.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .. import env, git
from ..config import COMMITTED, DEFAULT, ENVIRONMENT, PER_CLONE, TRACKED, Config, RemoteConfig, jobs_for_kind
from ..errors import ConfigError, FilerError, HookError, RemoteError, most_serious
from ..hooks import install, triggers
from ..hooks.shims import ASIDE
from ..project import Project

OK, WARN, PROBLEM = "ok", "warn", "problem"
# A remote that has not answered by then is reported as unreachable: doctor must never hang.
REMOTE_TIMEOUT_S = 10.0
REMOTE_ATTEMPTS = 1  # boto3 attempts per request (GITFILER_S3_MAX_ATTEMPTS still wins)
# What boto3's credential chain calls its sources (`Credentials.method`), said for a person.
CREDENTIAL_SOURCES = {
    "env": "the environment (AWS_ACCESS_KEY_ID)",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "iam-role": "the instance's IAM role (EC2 metadata)",
    "container-role": "the container's IAM role",
    "assume-role": "an assumed role (~/.aws/config)",
    "assume-role-with-web-identity": "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "sso": "AWS SSO (aws sso login)",
    "custom-process": "a credential_process (~/.aws/config)",
}
T = TypeVar("T")


@dataclass
class Check:
    """One finding. A problem carries the error class whose exit code it means and a one-line fix."""

    name: str
    status: str  # OK, WARN or PROBLEM
    detail: str
    fix: str = ""
    source: str | None = None  # for a setting: COMMITTED, PER_CLONE, ENVIRONMENT, DEFAULT, or "ignored"
    error: type[FilerError] | None = None  # for a problem: what it would fail a command with
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable facts (value, path, sizes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.data)
        out.update(name=self.name, status=self.status, detail=self.detail, fix=self.fix or None)
        if self.source is not None:
            out["source"] = self.source
        if self.status == PROBLEM:
            out["exit_code"] = self.exit_code
        return out

    @property
    def exit_code(self) -> int:
        return (self.error or FilerError).exit_code


@dataclass
class Section:
    name: str
    checks: list[Check] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Check:
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check


@dataclass
class DoctorReport:
    root: str  # the repository (or directory) examined
    sections: list[Section] = field(default_factory=list)

    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.checks]

    def problems(self) -> list[Check]:
        return [c for c in self.checks() if c.status == PROBLEM]

    def to_json(self) -> dict[str, Any]:
        problems = self.problems()
        return {
            "root": self.root,
            "ok": not problems,
            "problems": len(problems),
            "exit_code": failure.exit_code if (failure := self.failure()) else 0,
            "sections": {s.name: [c.to_json() for c in s.checks] for s in self.sections},
        }

    def failure(self) -> FilerError | None:
        """The error the run ends with: the most serious problem's kind (errors.most_serious),
        so a broken config exits 3, an unreachable remote 5 and hooks alone 10."""
        problems = self.problems()
        if not problems:
            return None
        code = most_serious([c.exit_code for c in problems])
        worst = next((c for c in problems if c.exit_code == code), problems[0])
        return (worst.error or FilerError)(f"{len(problems)} problem(s) found; each is listed with its fix")


# -- the use case ----------------------------------------------------------------------------------------


def doctor(start: str, *, version: str) -> DoctorReport:
    """Examine the setup seen from directory `start`; `version` is the running gitfiler's."""
    try:
        project: Project | None = Project.find(start, require_git=False)
    except FilerError as err:
        project = None
        found_error: FilerError | None = err
    else:
        found_error = None
    report = DoctorReport(project.root if project else os.path.abspath(start))
    here = Section("repository")
    report.sections.append(here)
    tools = _tools(version)
    report.sections.append(tools)
    if project is None:
        here.add("repository", PROBLEM, str(found_error), "run doctor inside your repository (or fix the error above)", error=type(found_error))
        return report
    set_up = _repository(project, here)
    settings = Section("configuration")
    report.sections.append(settings)
    cfg = _configuration(project, settings)
    report.sections.append(_environment())
    report.sections.append(_cache(project, cfg))
    hooks = _hooks(project, cfg, set_up)
    if hooks is not None:
        report.sections.append(hooks)
    if set_up and cfg is not None:
        report.sections.append(_remotes(project, cfg))
    return report


# -- sections --------------------------------------------------------------------------------------------


def _repository(project: Project, section: Section) -> bool:
    """Is this a gitfiler repository? Said either way; only an odd one is a warning."""
    where = {"path": project.root}
    if not project.has_git:
        if project.initialized:
            section.add("repository", OK, f"{project.root}: a directory of registry files without git (a deployment host)", data=where)
            return True
        section.add(
            "repository", WARN, f"{project.root} is not inside a git repository, and not set up for gitfiler",
            "cd into your repository, or run 'git init && git filer init' to start one", data=where,
        )
        return False
    if not project.initialized:
        section.add("repository", WARN, f"{project.root}: a git repository without gitfiler ({TRACKED} is missing)", "git filer init", data=where)
        return False
    section.add("repository", OK, f"{project.root}: gitfiler is set up", data=where)
    return True


def _tools(version: str) -> Section:
    section = Section("versions")
    section.add("gitfiler", OK, version, data={"value": version})
    section.add("python", OK, f"{sys.version.split()[0]} ({sys.executable})", data={"value": sys.version.split()[0], "path": sys.executable})
    try:
        proc = git.run(["--version"], os.path.abspath(os.sep), check=False)
        said = os.fsdecode(proc.stdout).strip().removeprefix("git version ")
        section.add("git", OK, said, data={"value": said})
    except FilerError as err:
        section.add("git", PROBLEM, str(err), "install git and put it on PATH")
    # The hook shims run `git-filer` from PATH: git's own PATH, as a commit or push sees it.
    found = shutil.which("git-filer")
    if found:
        section.add("git-filer", OK, f"on PATH: {found}", data={"path": found})
    else:
        section.add(
            "git-filer", PROBLEM, "git-filer is not on PATH, so the git hooks skip their work (pre-push refuses to push)",
            "put the directory holding git-filer on PATH in your shell profile (e.g. that of the virtualenv gitfiler is installed in)",
            error=HookError, data={"path": None},
        )
    return section


def _configuration(project: Project, section: Section) -> Config | None:
    """Every setting in effect and where it comes from; a config that cannot be read is a problem."""
    try:
        cfg = project.config
    except FilerError as err:
        detail, fix = _split(err, "fix the file it names (see docs/configuration.md), or restore it with git")
        section.add("config", PROBLEM, detail, fix, error=ConfigError)
        return None
    local = project.local_config_path
    section.add("files", OK, f"committed: {os.path.join(project.root, TRACKED)}; per-clone: {local or 'none (no git directory)'}",
                data={"committed": os.path.join(project.root, TRACKED), "per_clone": local})

    def setting(key: str, value: Any, source: str) -> None:
        section.add(key, OK, _show(value), source=source, data={"value": value})

    def from_env(key: str, read: Callable[[], T | None], fallback: Any) -> None:
        """A setting a GITFILER_* variable overrides; a bad value is the environment section's problem."""
        found = _quietly(read)
        if found is not None:
            setting(key, found, ENVIRONMENT)
        else:
            setting(key, fallback, cfg.source(key))

    remote_var = _quietly(env.remote)
    if remote_var:
        setting("default_remote", remote_var, ENVIRONMENT)
    else:
        setting("default_remote", cfg.default_remote, cfg.source("default_remote"))
    from_env("autopush", env.autopush, cfg.autopush)
    from_env("autopull", env.autopull, cfg.autopull)
    setting("large_file_threshold", cfg.large_file_threshold, cfg.source("large_file_threshold"))
    setting("large_file_check", cfg.large_file_check, cfg.source("large_file_check"))
    if _quietly(env.no_hooks):
        setting("hooks", False, ENVIRONMENT)
    else:
        setting("hooks", cfg.hooks, cfg.source("hooks"))
    jobs_var = _quietly(env.jobs)  # as config.default_jobs reads it, without raising on a bad value
    default_url = cfg.remotes[cfg.default_remote].url if cfg.default_remote in cfg.remotes else None
    setting("jobs", jobs_var or cfg.jobs or jobs_for_kind(default_url), ENVIRONMENT if jobs_var else cfg.source("jobs"))
    setting("checkout", cfg.checkout, cfg.source("checkout"))
    cache_var = _quietly(env.cache_dir)
    setting("cache_dir", cache_var or cfg.cache_dir, ENVIRONMENT if cache_var else cfg.source("cache_dir"))
    for key in cfg.ignored:
        hint = {"cache_dir": env.CACHE_DIR.name, "checkout": env.CHECKOUT.name}.get(key)
        section.add(
            f"{key} (committed)", WARN, f"{TRACKED} sets {key}, which a repository may not choose for your machine; ignored",
            f"remove it from {TRACKED}; set it in {local or 'the per-clone config'}" + (f" or with {hint}" if hint else ""),
            source="ignored",
        )
    return cfg


def _environment() -> Section:
    """Every GITFILER_* variable that is set, each read as the commands read it."""
    section = Section("environment")
    for var in env.VARIABLES:
        raw = var.raw()
        if raw is None:
            continue
        try:
            _parse(var)
        except ConfigError as err:
            section.add(var.name, PROBLEM, str(err), f"unset {var.name} or give it a valid value (see docs/configuration.md)", error=ConfigError, data={"value": raw})
            continue
        section.add(var.name, OK, raw, data={"value": raw})
    if not section.checks:
        section.add("GITFILER_*", OK, "none set")
    return section


def _cache(project: Project, cfg: Config | None) -> Section:
    section = Section("cache")
    try:
        path = project.cache_dir
    except FilerError:
        # The config names it, and the configuration section already reports why it cannot be read.
        section.add("location", WARN, "unknown until the configuration can be read", "fix the configuration (above)")
        return section
    default = project.filer_dir
    relocated = default is None or os.path.abspath(path) != os.path.abspath(default)
    if _quietly(env.cache_dir):
        source = ENVIRONMENT
    elif cfg is not None and cfg.cache_dir:
        source = cfg.source("cache_dir")
    else:
        source = DEFAULT
    where = f"{path} (relocated: may be shared with other clones, so gc needs --shared-cache-ok)" if relocated and source != DEFAULT else path
    section.add("location", OK, where, source=source, data={"path": path, "relocated": relocated})
    if not os.path.isdir(path):
        section.add("contents", OK, "empty (not created yet)", data={"objects": 0, "bytes": 0})
        return section
    try:
        objects, size = _store_size(project)
    except OSError as err:
        section.add("contents", PROBLEM, f"cannot read the cache: {err}", f"fix the permissions of {path}, or choose another cache with {env.CACHE_DIR.name}")
        return section
    facts = {"objects": objects, "bytes": size}
    if not os.access(path, os.W_OK | os.X_OK):
        section.add(
            "contents", PROBLEM, f"{objects} object(s) in a directory you cannot write to, so add and pull will fail",
            f"make {path} writable, or choose another cache with {env.CACHE_DIR.name}", data=facts,
        )
    else:
        section.add("contents", OK, f"{objects} object(s)", data=facts)
    return section


def _hooks(project: Project, cfg: Config | None, set_up: bool) -> Section | None:
    if not project.has_git or not set_up:
        return None
    section = Section("hooks")
    try:
        directory = install.hooks_dir(project.root)
    except FilerError as err:
        section.add("directory", PROBLEM, f"cannot find the git hooks directory: {err}", "check that git works in this repository", error=HookError)
        return section
    section.add("directory", OK, directory, data={"path": directory})
    effective = cfg or Config()
    off = [why for why, on in (
        (f"{env.NO_HOOKS.name} is set", _quietly(env.no_hooks)),
        (f"'hooks: false' in the {'per-clone' if effective.source('hooks') == PER_CLONE else 'committed'} config", not effective.hooks),
    ) if on]
    if install.framework_runs_ours(project):
        section.add("pre-commit framework", OK, f"{install.FRAMEWORK_CONFIG} runs gitfiler's hooks; the framework installs them ('pre-commit install')")
        return section
    wanted = install.wanted(effective)
    for name in triggers.HOOKS:  # read now, not listed here: the set of hooks grows
        path = install.shim_path(directory, name)
        chained = os.path.lexists(path + ASIDE)
        state = install.state(directory, name)
        facts: dict[str, Any] = {"state": state, "chained": name + ASIDE if chained else None, "path": path}
        runs_first = f"; runs your earlier hook, kept as {name}{ASIDE}, first" if chained else ""
        if name not in wanted:
            why = "large_file_check is false"
            if state in (install.CURRENT, install.OUTDATED):
                section.add(name, WARN, f"installed, but not wanted here ({why})", "git filer install (removes it)", data=facts)
            else:
                section.add(name, OK, f"not installed ({why})", data=facts)
            continue
        if state == install.CURRENT:
            section.add(name, OK, f"gitfiler's, current{runs_first}", data=facts)
        elif state == install.OUTDATED:
            section.add(name, PROBLEM, f"gitfiler's, but older than this gitfiler's{runs_first}", "git filer install --force", error=HookError, data=facts)
        elif off:
            section.add(
                name, WARN, ("not installed" if state == install.MISSING else "not gitfiler's") + f": hooks are off here ({' and '.join(off)})",
                "git filer install (if you want the hooks after all)", data=facts,
            )
        elif state == install.FOREIGN:
            section.add(
                name, PROBLEM, "a hook that is not gitfiler's is in place, so gitfiler's does not run",
                f"git filer install (keeps yours as {name}{ASIDE} and runs it first)", error=HookError, data=facts,
            )
        else:
            what = "the push gate is missing: git push does not check the filer remote" if name == "pre-push" else "not installed"
            section.add(name, PROBLEM, what, "git filer install", error=HookError, data=facts)
    return section


def _remotes(project: Project, cfg: Config) -> Section:
    section = Section("remotes")
    # The default in effect, checked as every command resolves it.
    try:
        chosen = project.remote_config()
        section.add("default", OK, f"{chosen.name}", source=ENVIRONMENT if _quietly(env.remote) else cfg.source("default_remote"), data={"value": chosen.name})
    except ConfigError as err:
        fix = "git filer remote default NAME" if cfg.remotes else "git filer remote add NAME URL --default"
        section.add("default", PROBLEM, str(err), fix, error=ConfigError)
    committed_default = cfg.value_from("default_remote", COMMITTED)
    committed_names = {key.partition(".")[2] for key, set_by in cfg.origins.items() if key.startswith("remotes.") and any(s == COMMITTED for s, _ in set_by)}
    if committed_default and committed_default not in committed_names:
        only_here = committed_default in cfg.remotes
        section.add(
            "committed default", PROBLEM,
            f"{TRACKED} makes '{committed_default}' the default, but "
            + ("only this clone's per-clone config defines it: other clones cannot use it" if only_here else "defines no remote of that name"),
            (f"commit it with 'git filer remote add {committed_default} {cfg.remotes[committed_default].url}' (without --local), "
             "or name a committed remote with 'git filer remote default NAME'" if only_here else
             "git filer remote default NAME, naming a remote from 'git filer remote list'"),
            error=ConfigError,
        )
    if not cfg.remotes:
        section.add("remotes", WARN, "none configured", "git filer remote add NAME URL --default")
    for _name, rc in sorted(cfg.remotes.items()):
        section.checks.extend(_remote(rc, cfg))
    return section


def _remote(rc: RemoteConfig, cfg: Config) -> list[Check]:
    from ..remotes import open_remote, parse_url

    label = f"remote '{rc.name}'"
    sources = [s for s, _ in cfg.origins.get(f"remotes.{rc.name}", [])]
    source = sources[-1] if sources else DEFAULT
    said = " (the per-clone one, over the committed one of that name)" if sources == [COMMITTED, PER_CLONE] else ""
    facts: dict[str, Any] = {"url": rc.url, "reachable": False}
    try:
        scheme, location = parse_url(rc.url)
    except ConfigError as err:
        return [Check(label, PROBLEM, str(err), f"git filer remote add {rc.name} URL --force", source=source, error=ConfigError, data=facts)]
    out = []
    if scheme == "s3":
        out.append(_credentials(rc))
    try:
        remote = open_remote(replace(rc, max_attempts=REMOTE_ATTEMPTS), jobs=1)
        _within(REMOTE_TIMEOUT_S, remote.check_access)
    except TimeoutError:
        out.insert(0, Check(
            label, PROBLEM, f"{rc.url}: no answer within {REMOTE_TIMEOUT_S:.0f} s",
            "check the URL, the endpoint and your network (and a VPN or proxy)", source=source, error=RemoteError, data=facts,
        ))
        return out
    except FilerError as err:
        detail, fix = _split(err, "check the URL and your access to it")
        if detail.startswith(f"remote '{rc.name}'"):
            detail = detail.partition(": ")[2] or detail  # the check's name says which remote
        if scheme == "local" and not os.path.isdir(location):
            fix = (
                f"restore {location}, or start an empty remote there with 'git filer remote add {rc.name} {location} --force' "
                "and push again from a clone that has the objects"
            )
        out.insert(0, Check(label, PROBLEM, detail, fix, source=source, error=ConfigError if isinstance(err, ConfigError) else RemoteError, data=facts))
        return out
    facts["reachable"] = True
    if scheme == "local" and not os.path.isdir(location):
        out.insert(0, Check(label, WARN, f"{rc.url}{said}: does not exist yet; the first push creates it", "", source=source, data=facts))
    else:
        out.insert(0, Check(label, OK, f"{rc.url}{said}: reachable", source=source, data=facts))
    return out


def _credentials(rc: RemoteConfig) -> Check:
    """Where boto3 finds credentials for this remote: the source's name and the profile, never a key."""
    name = f"remote '{rc.name}' credentials"

    def look() -> tuple[str | None, str | None]:
        import boto3

        session = boto3.session.Session(profile_name=rc.profile, region_name=rc.region)
        found = session.get_credentials()
        return (found.method if found is not None else None), session.profile_name

    try:
        method, profile = _within(REMOTE_TIMEOUT_S, look)
    except TimeoutError:
        return Check(name, PROBLEM, f"looking for AWS credentials took over {REMOTE_TIMEOUT_S:.0f} s", "set AWS_PROFILE, or check the instance metadata service", error=RemoteError)
    except Exception as err:  # noqa: BLE001 - botocore's errors (a missing profile, a bad config file) name the problem; their text carries no secret
        return Check(name, PROBLEM, f"{type(err).__name__}: {err}", f"fix 'profile' with 'git filer remote add {rc.name} URL --profile NAME --force', or set AWS_PROFILE", error=RemoteError)
    facts = {"method": method, "profile": profile}
    if method is None:
        return Check(name, PROBLEM, "no AWS credentials found", "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", error=RemoteError, data=facts)
    said = CREDENTIAL_SOURCES.get(method, method)
    return Check(name, OK, f"from {said}, profile '{profile}'", data=facts)


# -- helpers ----------------------------------------------------------------------------------------------


def _parse(var: env.Var) -> object:
    """Read a variable by its kind, as its reader does, to find a value the commands would refuse."""
    if var.kind == "yes/no":
        return env.flag(var)
    if var.kind == "number":
        return env.number(var)
    if var.kind == "seconds":
        return env.seconds(var)
    if var is env.CHECKOUT:
        from ..links import STRATEGIES

        return env.checkout(STRATEGIES)
    return var.raw()


def _split(err: FilerError, fallback: str) -> tuple[str, str]:
    """(what is wrong, the fix) from an error message, which says its fix after the first '; '."""
    detail, _, fix = str(err).partition("; ")
    return detail, fix or fallback


def _quietly(read: Callable[[], T]) -> T | None:
    """A variable's value, or None when it is unset or bad (the environment section reports it)."""
    try:
        return read()
    except ConfigError:
        return None


def _within(seconds: float, fn: Callable[[], T]) -> T:
    """`fn()`, or TimeoutError after `seconds`. A daemon thread: one that never returns does not
    hold the process open, so a hanging endpoint cannot hang doctor."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the caller as is
            box["error"] = err

    thread = threading.Thread(target=work, name="gitfiler-doctor-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _store_size(project: Project) -> tuple[int, int]:
    """(objects, bytes) in the cache, counted as fsck counts them (no re-hashing)."""
    count = size = 0
    for oid in project.store.iter_oids():
        try:
            size += project.store.size(oid)
        except OSError:
            continue  # removed meanwhile (a gc in another clone sharing the cache)
        count += 1
    return count, size


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)
