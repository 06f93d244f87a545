"""`git filer demo`: the main journey end to end on a throwaway repository and a local remote."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

from ..env import VARIABLES, VERBOSE
from ..errors import FilerError


def _isolated_env() -> dict[str, str]:
    """The environment of every step: the user's, minus what would reach outside the demo's directory.

    A `GITFILER_REMOTE` or `GITFILER_CACHE_DIR` meant for real work would send the demo's random
    bytes to a team remote or a shared cache, which removing the directory cannot undo; global
    and system git config (a `core.hooksPath`, commit signing) could send the hooks elsewhere or
    fail a step for reasons that have nothing to do with gitfiler.
    """
    dropped = {var.name for var in VARIABLES if var is not VERBOSE}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="demo", GIT_AUTHOR_EMAIL="demo@example.com",
               GIT_COMMITTER_NAME="demo", GIT_COMMITTER_EMAIL="demo@example.com")
    return env


def run_demo(directory: str | None, say: Callable[[str], None], *, keep: bool = False) -> None:
    """Run the journey in `directory` (default: a new temp dir), then remove what the demo created
    unless `keep`. A directory that existed before is never removed; nor is one a step failed in,
    so the failure can be looked at."""
    created: str | None  # the outermost directory the demo made, removed at the end
    if directory is None:
        base = created = tempfile.mkdtemp(prefix="gitfiler-demo-")
    else:
        base = os.path.abspath(directory)
        created = _outermost_missing(base)
        os.makedirs(base, exist_ok=True)
    try:
        _journey(base, say)
    except BaseException:
        say(f"# the demo's files are left in {base}")
        raise
    if keep or created is None:
        why = "" if keep else " (it existed before the demo, so it is not removed)"
        say(f"# the demo's repositories are in {base}{why}")
        return
    shutil.rmtree(created)
    say(f"# removed {created} (git filer demo --keep keeps it)")


def _outermost_missing(path: str) -> str | None:
    """The first directory on the way down to `path` that does not exist yet (None if `path` exists):
    what `makedirs(path)` is about to create, so that removing it leaves the disk as it was."""
    missing = None
    while not os.path.lexists(path):
        missing = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _journey(base: str, say: Callable[[str], None]) -> None:
    env = _isolated_env()
    filer = [sys.executable, "-m", "gitfiler"]

    def sh(cmd: list[str], cwd: str, shown: str | None = None) -> str:
        say(f"$ {shown or ' '.join(shlex.quote(c) for c in cmd)}")
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        out = (proc.stdout + proc.stderr).strip()
        if out:
            say("  " + out.replace("\n", "\n  "))
        if proc.returncode != 0:
            raise FilerError(f"demo step failed (exit {proc.returncode}): {shown or ' '.join(cmd)}")
        return proc.stdout

    work, origin, clone, remote = (os.path.join(base, n) for n in ("work", "origin.git", "clone", "filer-remote"))
    say(f"# demo in {base}")
    sh(["git", "init", "-q", "--bare", "-b", "main", origin], base)
    sh(["git", "init", "-q", "-b", "main", work], base)
    sh([*filer, "init", "--remote", remote], work, f"git filer init --remote {remote}")
    os.makedirs(os.path.join(work, "models"))
    model = os.path.join(work, "models", "model.bin")
    with open(model, "wb") as f:
        f.write(os.urandom(8 * 1024 * 1024))
    say("# wrote models/model.bin (8 MiB of random weights)")
    sh([*filer, "add", "models/model.bin", "-m", "framework=demo"], work, "git filer add models/model.bin -m framework=demo")
    sh(["git", "commit", "-q", "-m", "model v1"], work)
    sh([*filer, "push"], work, "git filer push   # the post-commit hook already uploaded; push asks the remote again")
    sh([*filer, "status"], work, "git filer status")
    sh(["git", "push", "-q", origin, "main"], work)
    sh(["git", "clone", "-q", origin, clone], base)
    sh([*filer, "pull"], clone, "git filer pull   # in the clone")
    with open(os.path.join(clone, "models", "model.bin"), "rb") as a, open(model, "rb") as b:
        same = hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    if not same:
        raise FilerError("demo: the hydrated model differs from the original")
    sh([*filer, "ls"], clone, "git filer ls")
    say("# the clone holds the same bytes, verified by SHA-256. Done.")
