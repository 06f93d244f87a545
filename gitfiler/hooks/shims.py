"""The hook shims: tiny POSIX sh scripts that `install` writes, generated here.

A shim recognises itself by its id line. It runs a chained hook (one that was there
before gitfiler, kept as `<hook>.pre-gitfiler`) first, then decides with plain git
whether there is anything to do, and only then starts `git-filer hook NAME`.

Nothing in a shim is written by hand: its "anything to do?" test is rendered from
`triggers` (the same data the Python entry evaluates), and its `GITFILER_NO_HOOKS` test
from `env`'s truth table, so a value means the same to the shim and to gitfiler.
The reference copies in the repository's top-level `hooks/` folder are kept equal to
`shim()` by a test; regenerate them with `python -m gitfiler.hooks.shims hooks/`.
"""

from __future__ import annotations

import os
import re
import sys

from .. import env
from ..config import TRACKED, Config
from . import triggers

ID_LINE = "# gitfiler-hook-shim v1"
ASIDE = ".pre-gitfiler"

# gitfiler's own git calls run without these (git.clean_env); the shim's git calls set them off,
# so '*.filer' selects the same files for both whatever the user exported.
PATHSPEC_VARS = ("GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS")

_BARE = re.compile(r"[A-Za-z0-9_./=:^-]+")


def _shell_fields() -> dict[str, str]:
    return {"arg1": "$1", "arg2": "$2", "arg3": "$3", "lsha": "$lsha", "rsha": "$rsha", "registry_files": triggers.registry_files()}


def _word(template: str) -> str:
    text = template.format_map(_shell_fields())
    return text if _BARE.fullmatch(text) else f'"{text}"'


def _command(words: tuple[str, ...] | list[str]) -> str:
    return " ".join(_word(w) for w in words)


def _test(t: triggers.ArgTest) -> str:
    return f"[ {_word(t.a)} {'=' if t.equal else '!='} {_word(t.b)} ]"


def _case_insensitive(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def _no_hooks_test() -> str:
    """The shell form of `env.no_hooks()`: only a yes-word turns hooks off. A no-word and an
    unset variable leave them on; anything else goes on to gitfiler, which names the mistake."""
    words = "|".join(_case_insensitive(w) for w in env.TRUE_WORDS)
    return f"""case "${{{env.NO_HOOKS.name}:-}}" in
    {words})
        if [ -x "$0{ASIDE}" ]; then exec "$0{ASIDE}" "$@"; fi
        exit 0 ;;
esac
"""


def _filer_git() -> str:
    resets = " ".join(f"{v}=0" for v in PATHSPEC_VARS)
    return f"""filer_git() {{
    {resets} git "$@"
}}
"""


def _push_helper() -> str:
    """`triggers.idle` for pre-push, in shell: the same rules, rendered from the same words."""
    deleted = triggers.PUSH_DELETED
    pattern = _word("{registry_files}")
    return f"""nothing_to_push() {{
    while read -r lref lsha rref rsha; do
        {_test(deleted)} && continue
        if [ "$rsha" != {triggers.ZERO} ] && filer_git {_command(triggers.PUSH_REMOTE_HAS)} 2>/dev/null; then
            touched=$(filer_git {_command(triggers.PUSH_TOUCHES)} {_command(triggers.PUSH_RANGE_KNOWN)} -- {pattern}) || return 1
        else
            touched=$(filer_git {_command(triggers.PUSH_TOUCHES)} {_command(triggers.PUSH_RANGE_NEW)} -- {pattern}) || return 1
        fi
        [ -z "$touched" ] || return 1
    done
    return 0
}}
"""


def _size_helper() -> str:
    """`triggers.idle` for pre-commit, in shell. The limit is read from the two config files
    only where they state it plainly (`large_file_threshold: 5242880` on a line of its own, the
    per-clone file winning); any other mention of it is left to gitfiler, which reads YAML."""
    key = "large_file_threshold"
    return f"""filer_limit() {{
    limit={Config().large_file_threshold}
    for f in {TRACKED} "$(filer_git rev-parse --git-common-dir)/filer/config.yaml"; do
        [ -f "$f" ] || continue
        grep -q {key} "$f" || continue
        limit=$(sed -n 's/^{key}: *\\([0-9][0-9]*\\) *$/\\1/p' "$f")
        case "$limit" in ''|*[!0-9]*) return 1 ;; esac
    done
    echo "$limit"
}}
nothing_large_staged() {{
    [ -e {TRACKED} ] || return 0
    limit=$(filer_limit) || return 1
    ! filer_git {_command(triggers.STAGED)} | cut -d' ' -f4 | filer_git {_command(triggers.STAGED_SIZES)} |
        awk -v limit="$limit" '$1 + 0 > limit + 0 {{ found = 1 }} END {{ exit !found }}'
}}
"""


def nothing_to_do(name: str) -> str:
    """The shell condition that is true when hook `name` has nothing to do."""
    t = triggers.TRIGGERS[name]
    if t.sizes:
        return "nothing_large_staged"
    if t.per_ref:
        return 'nothing_to_push "$1" < "$input"'
    off = ["filer_off"] if t.off_by else []
    return " || ".join([*off, *(_test(x) for x in t.idle_if), f"filer_git {_command(t.unchanged)} 2>/dev/null"])


def _off_helper(var: env.Var) -> str:
    """`triggers.idle_by_args`'s variable test, in shell: a no-word in `var` (any case, as
    `env.flag` reads it) turns the hook's work off; anything else decides nothing here."""
    words = "|".join(_case_insensitive(w) for w in env.FALSE_WORDS)
    return f"""filer_off() {{
    case "${{{var.name}:-}}" in
        {words}) return 0 ;;
    esac
    return 1
}}
"""


def shim(name: str) -> str:
    t = triggers.TRIGGERS[name]
    # Without git-filer, a repository that is not gitfiler's (one whose hooks came from the
    # template `install --global` sets) is left alone; in one that is, only the gate refuses.
    quiet_exit = "0" if t.stdin else '"$status"'  # the stdin shims have run the chained hook with `|| exit`
    missing = f"[ -e {TRACKED} ] || exit {quiet_exit}\n    " + (
        'echo "gitfiler: git-filer is not on PATH; refusing to push unchecked artifacts (install gitfiler, or run \'git filer uninstall\')" >&2\n    exit 1'
        if name == "pre-push"
        else f'echo "gitfiler: git-filer is not on PATH; skipping {name} (install gitfiler, or run \'git filer uninstall\')" >&2\n    exit 0'
    )
    skip = nothing_to_do(name)
    if t.stdin:
        body = f"""input=$(mktemp) || exit 1
trap 'rm -f "$input"' EXIT
cat > "$input"
if [ -x "$0{ASIDE}" ]; then
    "$0{ASIDE}" "$@" < "$input" || exit $?
fi
if {skip}; then
    exit 0
fi
if ! command -v git-filer >/dev/null 2>&1; then
    {missing}
fi
git-filer hook {name} "$@" < "$input"
"""
    else:
        body = f"""status=0
if [ -x "$0{ASIDE}" ]; then
    "$0{ASIDE}" "$@" || status=$?
fi
if {skip}; then
    exit "$status"
fi
if ! command -v git-filer >/dev/null 2>&1; then
    {missing}
fi
git-filer hook {name} "$@" || exit $?
exit "$status"
"""
    helper = _push_helper() if t.per_ref else _size_helper() if t.sizes else ""
    if t.off_by is not None:
        helper += _off_helper(t.off_by)
    return f"""#!/bin/sh
{ID_LINE}
# {name}: installed by `git filer install`, removed by `git filer uninstall`.
# A hook that was here before is kept as {name}{ASIDE} and runs first.
# Generated by gitfiler/hooks/shims.py from gitfiler/hooks/triggers.py, gitfiler/env.py and gitfiler/config.py; do not edit.
{_no_hooks_test()}{_filer_git()}{helper}{body}"""


def write_reference_copies(directory: str) -> list[str]:
    """Write every shim into `directory` (the repository's `hooks/` folder)."""
    written = []
    for name in triggers.HOOKS:
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(shim(name))
        os.chmod(path, 0o755)
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    for written_path in write_reference_copies(sys.argv[1] if len(sys.argv) > 1 else "hooks"):
        sys.stderr.write(f"wrote {written_path}\n")
