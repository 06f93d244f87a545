"""Every `GITFILER_*` environment variable: its name, how it is parsed, its default, and what it means.

Nothing else in gitfiler reads one. `VARIABLES` is the table docs/configuration.md lists
(tests/unit/test_env.py keeps the two equal), and the hook shims' shell test for
`GITFILER_NO_HOOKS` is generated from `TRUE_WORDS` (gitfiler/hooks/shims.py), so a value
means the same to a shim, to a hook and to the command line.

Yes/no values have one truth table, case-insensitive: unset or empty is the default;
`1`, `true`, `yes`, `on` are yes; `0`, `false`, `no`, `off` are no; anything else is a
ConfigError naming the variable and the accepted values (never a silent guess: a typo in
`GITFILER_NO_HOOKS` must not decide whether the pre-push gate runs).

This module is imported on the hooks' fast path, before anything says there is work: it
imports `os` and gitfiler's errors only (not even `typing`: a NamedTuple here cost a no-op hook 3 ms).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import ConfigError

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class Var:
    """One variable: `kind` is how its value is read and `default` what applies when it is
    unset, both as the docs say them; `meaning` is its line in the docs."""

    __slots__ = ("name", "kind", "default", "meaning", "choices")

    def __init__(self, name: str, kind: str, default: str, meaning: str, choices: tuple[str, ...] = ()) -> None:
        self.name = name
        self.kind = kind  # "yes/no", "number", "seconds", "path", "text" or "name"
        self.default = default
        self.meaning = meaning
        self.choices = choices  # a "name" that must be one of these; () for any

    def __repr__(self) -> str:
        return f"Var({self.name!r})"

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The value as set, or None when unset or empty (empty means unset, as in the shell)."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value or None


NO_HOOKS = Var("GITFILER_NO_HOOKS", "yes/no", "no", "every gitfiler hook returns at once (chained hooks still run); no gitfiler command installs hooks")
VERBOSE = Var("GITFILER_VERBOSE", "yes/no", "no", "print the traceback of an unexpected error (in hooks, where `-v` cannot be passed; the CLI too)")
AUTOPUSH = Var("GITFILER_AUTOPUSH", "yes/no", "config `autopush`", "post-commit uploads the new commit's artifacts, overriding the config's `autopush`")
AUTOPULL = Var("GITFILER_AUTOPULL", "yes/no", "config `autopull`", "checkout, merge and rebase hydrate artifacts, overriding the config's `autopull`")
JOBS = Var("GITFILER_JOBS", "number", "config `jobs`, else 16 for S3 and 1 for a local directory", "parallel transfers (`-j` wins)")
# The choices are links.STRATEGIES, spelled out because this module imports nothing of gitfiler's
# but its errors (tests/unit/test_env.py keeps the two equal).
CHECKOUT = Var(
    "GITFILER_CHECKOUT", "name", "config `checkout`, else `auto`", "checkout strategy, overriding the config: auto, reflink, copy, hardlink, symlink",
    choices=("auto", "reflink", "copy", "hardlink", "symlink"),
)
CACHE_DIR = Var("GITFILER_CACHE_DIR", "path", "`.git/filer` (shared by worktrees)", "use this directory as the object cache (e.g. a host-wide shared cache; `--cache` wins)")
REMOTE = Var(
    "GITFILER_REMOTE", "text", "config `default_remote`",
    "remote name or URL to use instead of the default (`-r` wins); for `deploy --from-env`, the URL releases come from",
)
RELEASE = Var("GITFILER_RELEASE", "name", "none", "the release `git-filer deploy --from-env` and `Filer.from_env()` put live")
TARGET = Var("GITFILER_TARGET", "path", "none", "the directory `deploy --from-env` and `Filer.from_env()` deploy into (`releases/`, `current`)")
DATA_HOME = Var("GITFILER_HOME", "path", "`$XDG_DATA_HOME/gitfiler`, else `~/.local/share/gitfiler`", "where `init` creates default local remotes")
RETRY_BUDGET = Var(
    "GITFILER_RETRY_BUDGET", "seconds", "120",
    "seconds a transfer keeps retrying throttled, failing or dropped requests after the last progress; other objects keep moving meanwhile",
)
S3_ENDPOINT_URL = Var("GITFILER_S3_ENDPOINT_URL", "text", "the remote's `endpoint_url`", "endpoint override for S3 remotes")
S3_MAX_ATTEMPTS = Var("GITFILER_S3_MAX_ATTEMPTS", "number", "the remote's `max_attempts`, else 5", "boto3 retry attempts per S3 request")

VARIABLES: tuple[Var, ...] = (
    CACHE_DIR, REMOTE, RELEASE, TARGET, JOBS, CHECKOUT, DATA_HOME, AUTOPUSH, AUTOPULL, NO_HOOKS, VERBOSE, RETRY_BUDGET, S3_ENDPOINT_URL, S3_MAX_ATTEMPTS,
)

DEFAULT_RETRY_BUDGET_S = 120.0


# -- parsing, one rule per kind -----------------------------------------------------------------


def flag(var: Var, environ: Mapping[str, str] | None = None) -> bool | None:
    """A yes/no variable: True, False, or None when unset or empty (the caller's default applies)."""
    value = var.raw(environ)
    if value is None:
        return None
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(
        f"{var.name}={value!r} is not a yes/no value; use one of {', '.join(TRUE_WORDS)} (yes) or {', '.join(FALSE_WORDS)} (no), or unset it"
    )


def number(var: Var, environ: Mapping[str, str] | None = None, *, minimum: int = 1) -> int | None:
    value = var.raw(environ)
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        raise ConfigError(f"{var.name}={value!r} is not a whole number; give e.g. {var.name}=8, or unset it") from None
    if n < minimum:
        raise ConfigError(f"{var.name}={value!r} is below {minimum}; give a whole number of at least {minimum}, or unset it")
    return n


def seconds(var: Var, environ: Mapping[str, str] | None = None) -> float | None:
    value = var.raw(environ)
    if value is None or not value.strip():
        return None
    try:
        s = float(value.strip())
    except ValueError:
        raise ConfigError(f"{var.name}={value!r} is not a number of seconds; unset it or give e.g. 120") from None
    if not s >= 0:  # also refuses nan
        raise ConfigError(f"{var.name}={value!r} is negative; give a number of seconds, e.g. 120")
    return s


def choice(var: Var, choices: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str | None:
    value = var.raw(environ)
    if value is None:
        return None
    if value not in choices:
        raise ConfigError(f"{var.name}={value!r} is not one of {', '.join(choices)}")
    return value


def whole_number(what: str, value: object, *, minimum: int = 1) -> int:
    """A whole number from a setting that is not an environment variable (a config file's value),
    refused with a ConfigError naming `what`, never a raw ValueError."""
    n: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:
            pass
    if n is None or n < minimum:
        raise ConfigError(f"{what}: {value!r} is not a whole number of at least {minimum}")
    return n


def check(var: Var, environ: Mapping[str, str] | None = None) -> None:
    """Raise the ConfigError its reader would raise for `var`'s value; paths and free text accept anything."""
    if var.kind == "yes/no":
        flag(var, environ)
    elif var.kind == "number":
        number(var, environ)
    elif var.kind == "seconds":
        seconds(var, environ)
    elif var.choices:
        choice(var, var.choices, environ)


def problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with each set variable of `VARIABLES`, one message each, in table order."""
    found = []
    for var in VARIABLES:
        try:
            check(var, environ)
        except ConfigError as err:
            found.append(str(err))
    return found


def validate_all(environ: Mapping[str, str] | None = None, *, skip: bool = False) -> None:
    """Check every variable at once, so a user fixes them all in one go rather than one per run.

    One bad variable raises its own reader's message; several raise one ConfigError naming them
    all on one line. Not for the hooks' fast path: a hook reads only what it needs. `skip`: the
    caller reports bad variables itself, among its other findings (`doctor`, `deploy --from-env`).
    """
    if skip:
        return
    found = problems(environ)
    if len(found) == 1:
        raise ConfigError(found[0])
    if found:
        # Each reader's message is "what is wrong; how to fix it": keep the first half of each
        # and say the fix once, so the line stays readable.
        listed = "; ".join(message.split("; ")[0] for message in found)
        words = ", ".join(TRUE_WORDS) + " / " + ", ".join(FALSE_WORDS)
        yes_no = f"; yes/no values are {words}" if any("is not a yes/no value" in m for m in found) else ""
        raise ConfigError(f"{len(found)} GITFILER_* variables are invalid: {listed} (fix or unset them{yes_no})")


# -- the variables, as their readers want them ----------------------------------------------------


def no_hooks() -> bool:
    return flag(NO_HOOKS) is True


def verbose(*, strict: bool = True) -> bool:
    """`strict=False` where a bad value must not stop the reporting of another error."""
    try:
        return flag(VERBOSE) is True
    except ConfigError:
        if strict:
            raise
        return False


def autopush() -> bool | None:
    return flag(AUTOPUSH)


def autopull() -> bool | None:
    return flag(AUTOPULL)


def jobs() -> int | None:
    return number(JOBS)


def checkout(strategies: tuple[str, ...]) -> str | None:
    """The strategies are the config's to define (config.STRATEGIES); the variable's reading is here."""
    return choice(CHECKOUT, strategies)


def cache_dir() -> str | None:
    return CACHE_DIR.raw()


def remote() -> str | None:
    return REMOTE.raw()


def retry_budget() -> float:
    found = seconds(RETRY_BUDGET)
    return DEFAULT_RETRY_BUDGET_S if found is None else found


def s3_endpoint_url() -> str | None:
    return S3_ENDPOINT_URL.raw()


def s3_max_attempts() -> int | None:
    return number(S3_MAX_ATTEMPTS)


def data_home() -> str:
    """Where gitfiler keeps this user's own data (default local remotes): $GITFILER_HOME, else
    the XDG data directory. XDG_DATA_HOME is the desktop standard's, read here beside ours."""
    return DATA_HOME.raw() or os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share"), "gitfiler")


def doc_rows() -> list[str]:
    """The rows of docs/configuration.md's table of variables, in `VARIABLES` order."""
    return [f"| `{v.name}` | {v.kind} | {v.default} | {v.meaning} |" for v in VARIABLES]
