"""The per-directory `.gitignore` lines that keep tracked artifacts out of git, and the
rules that keep files out of a directory artifact (git's ignore rules and `.filerignore`).

Each artifact is ignored by one anchored line (`/name`) in the `.gitignore` beside it,
read and written through the work tree's link-safe access."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .treefs import TreeFS

MAX_IGNORE_BYTES = 16 << 20


def ignore_line(name: str) -> str:
    # A line cannot hold a newline (and git drops a CR before one): '?' stands for either.
    escaped = "".join("\\" + c if c in "*?[\\" else "?" if c in "\r\n" else c for c in name)
    if escaped[:1] in ("#", "!"):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def ignore_file_for(artifact: str) -> tuple[str, str]:
    """(repo path of the .gitignore beside `artifact`, the line that ignores it there)."""
    directory, _, name = artifact.rpartition("/")
    return (f"{directory}/.gitignore" if directory else ".gitignore"), ignore_line(name)


def ensure_ignored(tree: TreeFS, artifact: str) -> str:
    """Add `/name` to the .gitignore beside the artifact; returns that .gitignore's repo path.
    A .gitignore that is a link is refused: writing through it would change a file elsewhere
    and stage its content in the user's next commit."""
    rel, line = ignore_file_for(artifact)
    data = tree.read_capped(rel, MAX_IGNORE_BYTES, ".gitignore")
    text = data.decode("utf-8", "surrogateescape") if data is not None else ""
    if line not in text.splitlines():
        if text and not text.endswith("\n"):
            text += "\n"
        tree.write_atomic(rel, (text + line + "\n").encode("utf-8", "surrogateescape"))
    return rel


def unignore(tree: TreeFS, artifact: str) -> str | None:
    """Drop the line that ignores `artifact`; returns that .gitignore's repo path if it changed."""
    rel, line = ignore_file_for(artifact)
    data = tree.read_capped(rel, MAX_IGNORE_BYTES, ".gitignore")
    if data is None:
        return None
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    kept = [x for x in lines if x != line]
    if kept == lines:
        return None
    tree.write_atomic(rel, ("\n".join(kept) + "\n").encode("utf-8", "surrogateescape") if kept else b"")
    return rel


ATTRIBUTES = ".gitattributes"
# git's built-in union merge keeps both sides' lines: two branches that each add an artifact
# to one directory each add a line to the same .gitignore, and that must not conflict.
UNION_MERGE_LINE = ".gitignore merge=union"
_UNION_MERGE_NOTE = "# gitfiler: .gitignore files that two branches both extend merge without conflicts"


def ensure_union_merge(tree: TreeFS) -> str | None:
    """Make `.gitignore` files merge as a union (top-level .gitattributes); returns that
    file's repo path when it changed. A user's own line for .gitignore is left alone."""
    data = tree.read_capped(ATTRIBUTES, MAX_IGNORE_BYTES, ATTRIBUTES)
    text = data.decode("utf-8", "surrogateescape") if data is not None else ""
    if any(line.split()[:1] == [".gitignore"] for line in text.splitlines()):
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    tree.write_atomic(ATTRIBUTES, (text + _UNION_MERGE_NOTE + "\n" + UNION_MERGE_LINE + "\n").encode("utf-8", "surrogateescape"))
    return ATTRIBUTES


# -- what a directory artifact leaves out -------------------------------------------------

FILERIGNORE = ".filerignore"
MAX_FILERIGNORE_BYTES = 1 << 20

if TYPE_CHECKING:
    import pathspec


def _ancestors(artifact: str) -> list[str]:
    """"" (the root), then each directory above `artifact`, then `artifact` itself."""
    parts = artifact.split("/")
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


def unignore_patterns(artifact: str) -> list[str]:
    """Command-line patterns that un-ignore `artifact` and every directory above it, so that
    git looks inside it and only the rules about what lies inside count: gitfiler's own
    `/name` line (and a user's `data/`) ignore the directory as a whole, not its files."""
    return ["!" + ignore_line(d) for d in _ancestors(artifact)[1:]]


def rule_files(artifact: str) -> list[str]:
    """The ignore files outside `artifact` that decide what it leaves out (the ones inside
    it are files of the directory itself): .gitignore and .filerignore at the root and in
    each directory above it."""
    out = []
    for d in _ancestors(artifact)[:-1]:
        for name in (".gitignore", FILERIGNORE):
            out.append(f"{d}/{name}" if d else name)
    return out


def filer_ignored(tree: TreeFS, artifact: str, files: Iterable[str]) -> set[str]:
    """Which of `files` (relative to the directory `artifact`) a `.filerignore` lists.

    `.filerignore` files use gitignore syntax and are read at the root, in each directory
    above the artifact and in the artifact itself; a deeper one overrides a shallower one.
    They are read through `tree`: a link is refused, never followed, and size is capped."""
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    for d in _ancestors(artifact):
        rel = f"{d}/{FILERIGNORE}" if d else FILERIGNORE
        data = tree.read_capped(rel, MAX_FILERIGNORE_BYTES, FILERIGNORE)
        if data:
            import pathspec  # only when there are rules: `status` starts without it

            lines = data.decode("utf-8", "surrogateescape").splitlines()
            # Paths below the artifact as seen from this .filerignore's directory.
            below = artifact[len(d) + 1 :] if d else artifact
            specs.append((below + "/" if below else "", pathspec.GitIgnoreSpec.from_lines(lines)))
    if not specs:
        return set()
    out = set()
    for f in files:
        ignored = False
        for base, spec in specs:
            verdict = spec.check_file(base + f).include
            if verdict is not None:
                ignored = verdict
        if ignored:
            out.add(f)
    return out
