"""Every module of gitfiler has one place in a stack of layers, and imports only downwards (issue 8).

The table below is the design: edit it deliberately when a module is added or moves. A module in
no layer fails the test, so a new module is placed by a decision, not by accident. Imports inside
functions and under `if TYPE_CHECKING:` count too: a type-only import is still a dependency of
the design, and a lazy import is still an import.

Besides going downwards, two groups of use cases must stay independent of their siblings: a
command does not import another command, and a hook use case does not import another hook use
case. What they share belongs one layer down (the engine).

Pure `ast`: nothing of gitfiler is imported, so the test runs on a tree that does not even import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "gitfiler"

# Top to bottom, as docs/architecture.md draws them (keep the two in step). A pattern is a module
# name, or `name.*` for every module below `name` (not `name` itself). Names that do not exist yet
# match nothing: the table is the target layout.
LAYERS: list[tuple[str, list[str]]] = [
    ("entry and rendering", [
        "gitfiler",  # the package: `from gitfiler import Filer` is an entry point for Python callers
        "gitfiler.main", "gitfiler.__main__", "gitfiler.quickstatus", "gitfiler.cli", "gitfiler.cli_deploy", "gitfiler.cli_history", "gitfiler.cli_model", "gitfiler.cli_pack",
        "gitfiler.ui", "gitfiler.hooks.entry", "gitfiler.handler",
    ]),
    ("use cases", [
        "gitfiler.commands", "gitfiler.commands.*",
        "gitfiler.hooks.post_commit", "gitfiler.hooks.pre_push", "gitfiler.hooks.hydrate",
        "gitfiler.api",
    ]),
    ("engine", ["gitfiler.sync"]),
    ("project", [
        "gitfiler.project", "gitfiler.configfile", "gitfiler.releases", "gitfiler.history", "gitfiler.deployment", "gitfiler.workspace", "gitfiler.closure", "gitfiler.transfer",
        "gitfiler.remotes", "gitfiler.remotes.*",
        "gitfiler.hooks", "gitfiler.hooks.install", "gitfiler.hooks.shims", "gitfiler.hooks.triggers",
    ]),
    # "base", ranked as today's import graph already is: formats and config stand on storage,
    # storage on the leaves. Objects never learn about registry files or config.
    ("base: formats and config", [
        "gitfiler.config", "gitfiler.registry", "gitfiler.manifest", "gitfiler.release", "gitfiler.serializers", "gitfiler.ignorefile", "gitfiler.modelfile", "gitfiler.pack",
    ]),
    ("base: storage", ["gitfiler.tarsafe", "gitfiler.treefs", "gitfiler.objects", "gitfiler.fsutil", "gitfiler.state"]),
    ("base: leaves", ["gitfiler.chunks", "gitfiler.cutpoints", "gitfiler.git", "gitfiler.tempfiles", "gitfiler.links", "gitfiler.paths", "gitfiler.globs", "gitfiler.quoting", "gitfiler.versions"]),
    ("bottom", ["gitfiler.errors", "gitfiler.env", "gitfiler.names"]),
]

# Within each group, no module may import another module of the same group.
ISOLATED: list[tuple[str, list[str]]] = [
    ("commands", ["gitfiler.commands.*"]),
    ("hook use cases", ["gitfiler.hooks.post_commit", "gitfiler.hooks.pre_push", "gitfiler.hooks.hydrate"]),
]


@dataclass(frozen=True, order=True)
class Import:
    file: str  # as the message names it
    line: int
    importer: str  # module name
    imported: str  # module name: the submodule when `from pkg import name` names one, else pkg

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


# -- reading the tree ------------------------------------------------------------------------------------


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    return {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))}


def imports_of(source: str, module: str, is_package: bool, known: Iterable[str], filename: str = "<string>") -> list[Import]:
    """Every import of a gitfiler module in `source` (module `module`), wherever it sits: top level,
    functions, classes, `if TYPE_CHECKING:`, try/except. Relative imports are resolved."""
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, node: ast.stmt | ast.expr) -> None:
        if target == "gitfiler" or target.startswith("gitfiler."):
            found.append(Import(filename, node.lineno, module, target))

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 >= len(base_parts):
                    raise ValueError(f"{filename}:{node.lineno}: relative import goes above the top-level package")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                source_module = f"{base}.{node.module}" if node.module else base
            else:
                source_module = node.module or ""
            for alias in node.names:
                # `from pkg import name`: a submodule if one exists by that name, else an attribute of pkg.
                candidate = f"{source_module}.{alias.name}"
                add(candidate if candidate in known else source_module, node)
        elif isinstance(node, ast.Call) and _is_import_module_call(node) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if isinstance(name, str) and not name.startswith("."):
                add(name, node)
    found.sort(key=lambda imp: imp.line)  # ast.walk is breadth-first; report in source order (stable within a line)
    return found


def _is_import_module_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))


def all_imports(package_dir: Path = PACKAGE_DIR) -> tuple[dict[str, Path], list[Import]]:
    modules = find_modules(package_dir)
    edges: list[Import] = []
    for name, path in modules.items():
        rel = path.relative_to(package_dir.parent).as_posix()
        edges += imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules, rel)
    return modules, edges


# -- the rules ----------------------------------------------------------------------------------------------


def _matches(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return module.startswith(pattern[:-1])
    return module == pattern


def layer_of(module: str, layers: Sequence[tuple[str, list[str]]] = LAYERS) -> int | None:
    """Index of `module`'s layer (0 is the top), or None if the table does not place it."""
    hits = {i for i, (_, patterns) in enumerate(layers) for p in patterns if _matches(module, p)}
    if len(hits) > 1:
        names = ", ".join(repr(layers[i][0]) for i in sorted(hits))
        raise AssertionError(f"{module} is in more than one layer ({names}); fix the layer table")
    return hits.pop() if hits else None


def unplaced(modules: Iterable[str], layers: Sequence[tuple[str, list[str]]] = LAYERS) -> list[str]:
    return sorted(m for m in modules if layer_of(m, layers) is None)


def upward_imports(edges: Iterable[Import], layers: Sequence[tuple[str, list[str]]] = LAYERS) -> list[str]:
    problems = []
    for e in sorted(set(edges)):
        low, high = layer_of(e.importer, layers), layer_of(e.imported, layers)
        if low is not None and high is not None and high < low:
            problems.append(
                f"{e.where}: {e.importer} (layer '{layers[low][0]}') imports {e.imported} (layer '{layers[high][0]}', higher up); "
                "move what it needs down, or pass it in from above"
            )
    return problems


def missing_imports(edges: Iterable[Import], modules: Iterable[str]) -> list[str]:
    """Imports of gitfiler modules that do not exist: a move left a caller behind. A lazy import
    inside a function fails only when that function runs, which a test may never do."""
    known = set(modules)
    return [f"{e.where}: {e.importer} imports {e.imported}, which does not exist" for e in sorted(set(edges)) if e.imported not in known]


def sibling_imports(edges: Iterable[Import], groups: Sequence[tuple[str, list[str]]] = ISOLATED) -> list[str]:
    problems = []
    for e in sorted(set(edges)):
        for group, patterns in groups:
            if e.importer != e.imported and any(_matches(e.importer, p) for p in patterns) and any(_matches(e.imported, p) for p in patterns):
                problems.append(
                    f"{e.where}: {e.importer} imports {e.imported}, another of the {group}; "
                    "a use case must not call a sibling: move the shared part down into the engine"
                )
    return problems


# -- the tree as it is --------------------------------------------------------------------------------------

MODULES, EDGES = all_imports()


def test_every_module_is_placed_in_the_layer_table() -> None:
    missing = unplaced(MODULES)
    assert not missing, "modules in no layer; add each to LAYERS in tests/test_layers.py:\n" + "\n".join(
        f"  {m} ({MODULES[m].relative_to(PACKAGE_DIR.parent)})" for m in missing
    )


def test_every_import_names_a_module_that_exists() -> None:
    problems = missing_imports(EDGES, MODULES)
    assert not problems, "imports of modules that are not in gitfiler/ (moved or renamed?):\n" + "\n".join(problems)


def test_no_module_imports_a_higher_layer() -> None:
    problems = upward_imports(EDGES)
    assert not problems, "imports that go up the layers:\n" + "\n".join(problems)


def test_no_command_or_hook_use_case_imports_a_sibling() -> None:
    problems = sibling_imports(EDGES)
    assert not problems, "use cases that import a sibling:\n" + "\n".join(problems)


# -- the checker itself ---------------------------------------------------------------------------------------

TABLE = [("top", ["pkg.cli"]), ("middle", ["pkg.commands.*"]), ("bottom", ["pkg.errors", "pkg.util"])]
GROUPS = [("commands", ["pkg.commands.*"])]


def test_checker_flags_an_upward_import() -> None:
    problems = upward_imports([Import("pkg/errors.py", 3, "pkg.errors", "pkg.commands.push")], TABLE)
    assert problems == [
        "pkg/errors.py:3: pkg.errors (layer 'bottom') imports pkg.commands.push (layer 'middle', higher up); "
        "move what it needs down, or pass it in from above"
    ]


def test_checker_allows_downward_and_same_layer_imports() -> None:
    edges = [Import("x", 1, "pkg.cli", "pkg.commands.push"), Import("x", 2, "pkg.commands.push", "pkg.util"), Import("x", 3, "pkg.util", "pkg.errors")]
    assert upward_imports(edges, TABLE) == []


def test_checker_flags_a_sibling_import() -> None:
    problems = sibling_imports([Import("pkg/commands/clone.py", 9, "pkg.commands.clone", "pkg.commands.pull")], GROUPS)
    assert len(problems) == 1 and "pkg.commands.clone imports pkg.commands.pull, another of the commands" in problems[0]


def test_checker_flags_an_import_of_a_module_that_does_not_exist() -> None:
    edges = [Import("pkg/cli.py", 4, "pkg.cli", "pkg.gone"), Import("pkg/cli.py", 5, "pkg.cli", "pkg.util")]
    assert missing_imports(edges, ["pkg.cli", "pkg.util"]) == ["pkg/cli.py:4: pkg.cli imports pkg.gone, which does not exist"]


def test_checker_flags_an_unplaced_module_and_ignores_planned_ones() -> None:
    assert unplaced(["pkg.cli", "pkg.commands.push", "pkg.new_thing"], TABLE) == ["pkg.new_thing"]


def test_checker_refuses_a_module_in_two_layers() -> None:
    with pytest.raises(AssertionError, match="more than one layer"):
        layer_of("pkg.commands.x", [("a", ["pkg.commands.*"]), ("b", ["pkg.commands.x"])])


def test_a_package_pattern_does_not_match_the_package_itself() -> None:
    assert layer_of("pkg.commands", TABLE) is None
    assert layer_of("pkg.commands.push", TABLE) == 1


SOURCE = '''
import os
import gitfiler.git
from gitfiler import registry
from . import sibling, CONSTANT
from .sub import thing
from .. import errors

def lazy():
    from ..cli import main
    import importlib
    importlib.import_module("gitfiler.ui")

if TYPE_CHECKING:
    from ..project import Project
'''


def test_scanner_resolves_relative_lazy_and_type_only_imports() -> None:
    known = {"gitfiler", "gitfiler.git", "gitfiler.registry", "gitfiler.pkg", "gitfiler.pkg.sibling", "gitfiler.pkg.sub", "gitfiler.errors", "gitfiler.cli"}
    found = imports_of(SOURCE, "gitfiler.pkg.mod", False, known, "gitfiler/pkg/mod.py")
    assert [(i.imported, i.where) for i in found] == [
        ("gitfiler.git", "gitfiler/pkg/mod.py:3"),
        ("gitfiler.registry", "gitfiler/pkg/mod.py:4"),
        ("gitfiler.pkg.sibling", "gitfiler/pkg/mod.py:5"),
        ("gitfiler.pkg", "gitfiler/pkg/mod.py:5"),  # CONSTANT: an attribute of the package
        ("gitfiler.pkg.sub", "gitfiler/pkg/mod.py:6"),
        ("gitfiler.errors", "gitfiler/pkg/mod.py:7"),
        ("gitfiler.cli", "gitfiler/pkg/mod.py:10"),
        ("gitfiler.ui", "gitfiler/pkg/mod.py:12"),
        ("gitfiler.project", "gitfiler/pkg/mod.py:15"),
    ]


def test_scanner_resolves_relative_imports_of_a_package_init_from_the_package_itself() -> None:
    source = "from .local import LocalRemote\nfrom ..objects import ObjectStore\n"
    found = imports_of(source, "gitfiler.remotes", True, {"gitfiler.remotes.local", "gitfiler.objects"})
    assert [i.imported for i in found] == ["gitfiler.remotes.local", "gitfiler.objects"]


def test_scanner_sees_the_real_tree() -> None:
    # Guards against a scanner that silently finds nothing (and so passes every rule).
    assert "gitfiler.errors" in MODULES and "gitfiler.cli" in MODULES
    assert any(e.importer == "gitfiler.registry" and e.imported == "gitfiler.errors" for e in EDGES)
