"""The cheap first half of the pre-push gate: which commits are pushed, and which
registry files they add or change. Kept apart (importing only `git`) so a push
that touches no registry file decides that in one git call after startup."""

from __future__ import annotations

from .. import git
from ..errors import FilerError

SUFFIX = ".filer"


def parse_push_lines(text: str) -> list[tuple[str, str, str, str]]:
    """git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise FilerError(f"pre-push: unexpected input line {line!r}; expected '<local ref> <local sha> <remote ref> <remote sha>'")
        out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def pushed_commits(root: str, remote: str, lines: list[tuple[str, str, str, str]]) -> list[str]:
    """Commits the push sends: for an existing branch, what the remote's tip lacks;
    for a new one, what no ref of that git remote has. Deletions send nothing."""
    commits: dict[str, None] = {}
    for _lref, lsha, _rref, rsha in lines:
        if lsha == git.ZERO_SHA:
            continue
        if rsha != git.ZERO_SHA and git.object_exists(root, rsha):
            args = [lsha, "--not", rsha]
        else:
            args = [lsha, "--not", f"--remotes={remote}"]
        for c in git.rev_list(root, args):
            commits[c] = None
    return list(commits)


def pushed_changes(root: str, git_remote: str, stdin_text: str) -> tuple[list[str], list[git.Change]]:
    commits = pushed_commits(root, git_remote, parse_push_lines(stdin_text))
    return commits, git.changed_files(root, commits, SUFFIX)
