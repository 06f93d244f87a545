"""Project configuration: `.gitfiler/config.yaml` (tracked) overlaid by the
untracked `<git common dir>/filer/config.yaml` and environment variables.

No secrets are ever accepted in either file: credentials come from boto3's chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import env
from .errors import ConfigError, FilerError
from .links import STRATEGIES

CONFIG_VERSION = 1
TRACKED = ".gitfiler/config.yaml"
REMOTE_KEYS = {"url", "endpoint_url", "region", "profile", "max_attempts"}
TOP_KEYS = {
    "version", "default_remote", "checkout", "autopush", "autopull", "large_file_threshold", "remotes", "cache_dir", "jobs",
    "hooks", "large_file_check",
}
# Yes/no keys that are checked when read: they decide what gitfiler writes into .git/hooks.
BOOL_KEYS = ("hooks", "large_file_check")
# Settings that name a local path or change how files are placed on this machine. A repository
# is untrusted input (invariant 7), so these come only from the per-clone config, the
# environment or the command line; in the committed file they are ignored (as git-lfs
# ignores unsafe keys in .lfsconfig) and `ignored` says so.
LOCAL_ONLY_KEYS = ("cache_dir", "checkout")
# Where a setting's value comes from (`Config.source`), as `git filer doctor` names it. The command
# line wins over all of these for one run; the default applies when nothing set the key.
COMMITTED, PER_CLONE, ENVIRONMENT, DEFAULT = "committed", "per-clone", "environment", "default"
_SECRET_WORDS = ("secret", "password", "token", "access_key", "credential")


def is_location(value: str) -> bool:
    """Whether `-r`/`--from` VALUE is a URL or a directory (used as given) rather than a configured remote's name."""
    return "://" in value or value.startswith(("/", ".", "~"))


@dataclass
class RemoteConfig:
    name: str
    url: str
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    max_attempts: int | None = None
    committed: bool = False  # named by the repository's committed config, not by this user

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"url": self.url}
        for key in ("endpoint_url", "region", "profile", "max_attempts"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        return doc


@dataclass
class Config:
    default_remote: str | None = None
    checkout: str = "auto"
    autopush: bool = True
    autopull: bool | list[str] = True
    large_file_threshold: int = 10 * 1024 * 1024
    cache_dir: str | None = None
    jobs: int | None = None
    hooks: bool = True  # gitfiler's commands install missing hooks in this clone (hooks/install.ensure)
    large_file_check: bool = True  # the hooks include pre-commit, refusing files over large_file_threshold
    remotes: dict[str, RemoteConfig] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # committed keys not honoured (LOCAL_ONLY_KEYS)
    # Provenance: key (top-level, or "remotes.NAME") -> each (source, value) that set it, in the
    # order applied; the last is in effect. Kept whole so a check can ask what the committed file
    # said even where the per-clone file overrides it (a committed default must name a committed remote).
    origins: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def source(self, key: str) -> str:
        """Where the value in effect for `key` comes from: COMMITTED, PER_CLONE, ENVIRONMENT or DEFAULT."""
        set_by = self.origins.get(key)
        return set_by[-1][0] if set_by else DEFAULT

    def value_from(self, key: str, source: str) -> Any:
        """What `source` set `key` to (None when it did not set it)."""
        return next((value for where, value in reversed(self.origins.get(key, [])) if where == source), None)


DEFAULT_JOBS = 16
# Transfers with a local-directory remote run on one thread unless told otherwise: on one disk,
# more threads only contend in the kernel (bench/bench_jobs.py measures it: pushing or pulling
# thousands of small objects took longer with every thread added). A NAS with latency to hide
# is the exception: set `jobs` for it.
LOCAL_REMOTE_JOBS = 1


def default_jobs(configured: int | None = None) -> int:
    return env.jobs() or configured or DEFAULT_JOBS


def transfer_jobs(url: str | None, configured: int | None = None) -> int:
    """Parallel transfers with the remote at `url` when -j does not say: $GITFILER_JOBS, else
    the config's `jobs`, else what suits the kind of remote (None: not known, the general default)."""
    return env.jobs() or configured or jobs_for_kind(url)


def jobs_for_kind(url: str | None) -> int:
    return DEFAULT_JOBS if url is None or url.startswith("s3://") else LOCAL_REMOTE_JOBS


def parse_size(text: str) -> int:
    """Bytes from '500k', '10M', '1.5G', '2T' or a plain number (binary units; 'B', 'iB' allowed)."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1] if t and t[-1] in "kmgt" else ""
    try:
        value = int(float(t[: len(t) - len(unit)]) * units[unit])
    except (ValueError, OverflowError):
        value = -1
    if value < 0:
        raise FilerError(f"{text!r} is not a size; use e.g. 500k, 10M or 1G")
    return value


def validate_doc(doc: Any, where: str) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a YAML mapping")
    _refuse_secrets(doc, where)
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    version = doc.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ConfigError(f"{where}: unsupported config version {version!r}; upgrade gitfiler")
    if "checkout" in doc and doc["checkout"] not in STRATEGIES:
        raise ConfigError(f"{where}: 'checkout' must be one of {', '.join(STRATEGIES)}")
    for key in (*BOOL_KEYS, "autopush"):
        if key in doc and not isinstance(doc[key], bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, not {doc[key]!r}")
    if "autopull" in doc and not (isinstance(doc["autopull"], bool) or (isinstance(doc["autopull"], list) and all(isinstance(p, str) for p in doc["autopull"]))):
        raise ConfigError(f"{where}: 'autopull' must be true, false or a list of paths, not {doc['autopull']!r}")
    # Numbers are checked (and normalised) when the file is read, so a bad one is named here
    # rather than failing later, deep in a transfer, as a raw ValueError.
    for key, minimum in (("jobs", 1), ("large_file_threshold", 0)):
        if key in doc:
            doc[key] = env.whole_number(f"{where}: '{key}'", doc[key], minimum=minimum)
    for key in ("default_remote", "cache_dir"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigError(f"{where}: '{key}' must be text, not {doc[key]!r}")
    remotes = doc.get("remotes") or {}
    if not isinstance(remotes, dict):
        raise ConfigError(f"{where}: 'remotes' must be a mapping of name to settings")
    for name, settings in remotes.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: remote names must be text, not {name!r}")
        if not isinstance(settings, dict) or not isinstance(settings.get("url"), str):
            raise ConfigError(f"{where}: remote {name!r} needs a 'url'")
        bad = set(settings) - REMOTE_KEYS
        if bad:
            raise ConfigError(f"{where}: remote {name!r} has unknown keys {sorted(bad)}")
        for key in ("endpoint_url", "region", "profile"):
            if settings.get(key) is not None and not isinstance(settings[key], str):
                raise ConfigError(f"{where}: remote {name!r}: '{key}' must be text, not {settings[key]!r}")
        if settings.get("max_attempts") is not None:
            settings["max_attempts"] = env.whole_number(f"{where}: remote {name!r}: 'max_attempts'", settings["max_attempts"])
    return doc


def _refuse_secrets(node: Any, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and any(w in key.lower() for w in _SECRET_WORDS):
                raise ConfigError(
                    f"{where}: key {key!r} looks like a credential; gitfiler never stores secrets, use AWS_PROFILE or the environment"
                )
            _refuse_secrets(value, where)


def merge(tracked: dict[str, Any], local: dict[str, Any]) -> Config:
    """The config in effect: the committed file, then the per-clone file over it, then
    GITFILER_CHECKOUT; `cfg.origins` records which of them set each key."""
    cfg = Config()
    for doc, committed in ((tracked, True), (local, False)):
        source = COMMITTED if committed else PER_CLONE
        for key in ("default_remote", "checkout", "autopush", "autopull", "large_file_threshold", "cache_dir", "jobs", *BOOL_KEYS):
            if key not in doc:
                continue
            if committed and key in LOCAL_ONLY_KEYS:
                cfg.ignored.append(key)
                continue
            setattr(cfg, key, doc[key])
            cfg.origins.setdefault(key, []).append((source, doc[key]))
        for name, settings in (doc.get("remotes") or {}).items():
            cfg.remotes[name] = RemoteConfig(name=name, committed=committed, **settings)
            cfg.origins.setdefault(f"remotes.{name}", []).append((source, cfg.remotes[name]))
    strategy = env.checkout(STRATEGIES)
    if strategy:
        cfg.checkout = strategy
        cfg.origins.setdefault("checkout", []).append((ENVIRONMENT, strategy))
    return cfg


def dump_doc(doc: dict[str, Any]) -> bytes:
    import yaml

    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False).encode()
