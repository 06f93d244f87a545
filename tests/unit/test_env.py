"""gitfiler/env.py: one truth table for yes/no values, one parser per kind, and the only reader
of `GITFILER_*` variables (checked over the source), documented in docs/configuration.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler import env
from gitfiler.errors import ConfigError

from .support import UNIT

ROOT = Path(__file__).resolve().parents[2]


def var(kind: str = "yes/no") -> env.Var:
    return env.Var("GITFILER_TEST", kind, "-", "a test variable")


# -- the truth table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "YES", "on", "On"])
def test_yes_words_are_true_in_any_case(value: str) -> None:
    assert env.flag(var(), {"GITFILER_TEST": value}) is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "No", "off", "OFF"])
def test_no_words_are_false_in_any_case(value: str) -> None:
    assert env.flag(var(), {"GITFILER_TEST": value}) is False


@pytest.mark.parametrize("environ", [{}, {"GITFILER_TEST": ""}])
def test_unset_or_empty_is_the_default(environ: dict[str, str]) -> None:
    assert env.flag(var(), environ) is None


@pytest.mark.parametrize("value", ["2", "maybe", "y", "n", " 1", "1 ", "t", "disable", "-1"])
def test_anything_else_is_an_error_naming_the_variable_and_the_accepted_values(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        env.flag(var(), {"GITFILER_TEST": value})
    message = str(caught.value)
    assert message.startswith(f"GITFILER_TEST={value!r} is not a yes/no value")
    for word in (*env.TRUE_WORDS, *env.FALSE_WORDS):
        assert word in message
    assert caught.value.exit_code == 3


@UNIT
@given(st.text(max_size=8))
def test_every_value_has_exactly_one_reading(value: str) -> None:
    try:
        got = env.flag(var(), {"GITFILER_TEST": value})
    except ConfigError:
        assert value and value.lower() not in env.TRUE_WORDS + env.FALSE_WORDS
        return
    assert got is (None if not value else value.lower() in env.TRUE_WORDS)


def test_no_hooks_false_means_hooks_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug this module exists for: the shim read GITFILER_NO_HOOKS=false as "off"."""
    for value, off in [("false", False), ("0", False), ("", False), ("1", True), ("yes", True)]:
        monkeypatch.setenv("GITFILER_NO_HOOKS", value)
        assert env.no_hooks() is off, value
    monkeypatch.delenv("GITFILER_NO_HOOKS")
    assert env.no_hooks() is False


def test_verbose_can_be_read_leniently_while_another_error_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITFILER_VERBOSE", "loud")
    assert env.verbose(strict=False) is False
    with pytest.raises(ConfigError, match="GITFILER_VERBOSE"):
        env.verbose()


# -- the other kinds --------------------------------------------------------------------------------


def test_numbers() -> None:
    v = var("number")
    assert env.number(v, {}) is None
    assert env.number(v, {"GITFILER_TEST": "8"}) == 8
    assert env.number(v, {"GITFILER_TEST": " 12 "}) == 12
    for bad in ("eight", "1.5", "0", "-3"):
        with pytest.raises(ConfigError, match="GITFILER_TEST="):
            env.number(v, {"GITFILER_TEST": bad})


def test_seconds() -> None:
    v = var("seconds")
    assert env.seconds(v, {}) is None
    assert env.seconds(v, {"GITFILER_TEST": "  "}) is None
    assert env.seconds(v, {"GITFILER_TEST": "0"}) == 0.0
    assert env.seconds(v, {"GITFILER_TEST": "2.5"}) == 2.5
    with pytest.raises(ConfigError, match="not a number of seconds"):
        env.seconds(v, {"GITFILER_TEST": "soon"})
    for bad in ("-1", "nan"):
        with pytest.raises(ConfigError, match="negative"):
            env.seconds(v, {"GITFILER_TEST": bad})


def test_choices() -> None:
    v = var("name")
    assert env.choice(v, ("a", "b"), {}) is None
    assert env.choice(v, ("a", "b"), {"GITFILER_TEST": "b"}) == "b"
    with pytest.raises(ConfigError, match="is not one of a, b"):
        env.choice(v, ("a", "b"), {"GITFILER_TEST": "c"})


def test_defaults_of_the_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in env.VARIABLES:
        monkeypatch.delenv(v.name, raising=False)
    assert env.retry_budget() == env.DEFAULT_RETRY_BUDGET_S
    assert (env.jobs(), env.cache_dir(), env.remote(), env.autopush(), env.autopull(), env.s3_max_attempts()) == (None,) * 6
    monkeypatch.setenv("GITFILER_HOME", "/srv/gf")
    assert env.data_home() == "/srv/gf"
    monkeypatch.delenv("GITFILER_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", "/xdg")
    assert env.data_home() == "/xdg/gitfiler"


# -- one owner ------------------------------------------------------------------------------------------


def test_every_variable_is_documented_from_the_table() -> None:
    doc = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    section = doc.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `GITFILER_")]
    assert rows == env.doc_rows(), "docs/configuration.md's variable table differs from gitfiler/env.py's VARIABLES; copy env.doc_rows() into it"


def test_names_are_unique_and_prefixed() -> None:
    names = [v.name for v in env.VARIABLES]
    assert len(names) == len(set(names)) and all(n.startswith("GITFILER_") for n in names)


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every read of a GITFILER_* variable through os.environ / os.getenv, and of
    every click option that reads one (`envvar=`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "envvar":
                    found.append((node.lineno, ast.unparse(kw.value)))
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get") and node.args:
                found.append((node.lineno, ast.unparse(node.args[0])))
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
            found.append((node.lineno, ast.unparse(node.slice)))
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops) and ast.unparse(node.comparators[0]) == "os.environ":
            found.append((node.lineno, ast.unparse(node.left)))
    return [(line, name) for line, name in found if "GITFILER_" in name or name.startswith("ENV_")]


def test_no_module_but_env_reads_a_gitfiler_variable() -> None:
    offenders = []
    for path in sorted((ROOT / "gitfiler").rglob("*.py")):
        if path.name == "env.py" and path.parent.name == "gitfiler":
            continue
        for line, name in _environment_reads(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: reads {name}")
    assert not offenders, "GITFILER_* variables are read only in gitfiler/env.py:\n" + "\n".join(offenders)


def test_the_reader_check_sees_each_way_of_reading() -> None:
    source = 'os.environ.get("GITFILER_X")\nos.getenv("GITFILER_Y")\nos.environ["GITFILER_Z"]\n"GITFILER_W" in os.environ\nclick.option("--a", envvar="GITFILER_V")\n'
    assert [n for _line, n in _environment_reads(ast.parse(source))] == ["'GITFILER_X'", "'GITFILER_Y'", "'GITFILER_Z'", "'GITFILER_W'", "'GITFILER_V'"]


# -- every variable at once ------------------------------------------------------------------------------


def test_all_invalid_variables_are_reported_in_one_message() -> None:
    bad = {"GITFILER_JOBS": "many", "GITFILER_S3_MAX_ATTEMPTS": "x", "GITFILER_AUTOPUSH": "maybe", "GITFILER_RETRY_BUDGET": "soon", "GITFILER_CHECKOUT": "teleport"}
    with pytest.raises(ConfigError) as caught:
        env.validate_all({**bad, "GITFILER_REMOTE": "anything", "GITFILER_VERBOSE": "1"})
    message = str(caught.value)
    assert "\n" not in message and message.startswith("5 GITFILER_* variables are invalid")
    for name, value in bad.items():
        assert f"{name}={value!r}" in message
    assert "GITFILER_REMOTE" not in message and "GITFILER_VERBOSE" not in message
    assert caught.value.exit_code == 3


def test_one_invalid_variable_keeps_its_readers_message() -> None:
    with pytest.raises(ConfigError) as caught:
        env.validate_all({"GITFILER_S3_MAX_ATTEMPTS": "x"})
    assert str(caught.value) == "GITFILER_S3_MAX_ATTEMPTS='x' is not a whole number; give e.g. GITFILER_S3_MAX_ATTEMPTS=8, or unset it"


def test_valid_unset_and_empty_variables_pass() -> None:
    env.validate_all({})
    env.validate_all({v.name: "" for v in env.VARIABLES})
    env.validate_all({"GITFILER_JOBS": "4", "GITFILER_NO_HOOKS": "off", "GITFILER_RETRY_BUDGET": "0.5", "GITFILER_CHECKOUT": "copy", "GITFILER_HOME": "/x"})
    env.validate_all({"GITFILER_JOBS": "many", "GITFILER_VERBOSE": "loud"}, skip=True)


def test_every_variable_is_checked_by_its_own_reader() -> None:
    """validate_all refuses exactly what each variable's reader would refuse."""
    for v in env.VARIABLES:
        for value in ("0", "yes", "many", "-1", "auto"):
            environ = {v.name: value}
            try:
                env.check(v, environ)
                expected_ok = True
            except ConfigError:
                expected_ok = False
            assert expected_ok == (env.problems(environ) == []), (v.name, value)


def test_the_checkout_choices_are_the_link_strategies() -> None:
    from gitfiler.links import STRATEGIES

    assert env.CHECKOUT.choices == STRATEGIES


def test_a_config_files_whole_number_is_a_config_error_not_a_value_error() -> None:
    assert env.whole_number("remote 's3': max_attempts", 3) == 3
    assert env.whole_number("remote 's3': max_attempts", " 7 ") == 7
    for bad in ("x", 0, True, 2.5, None, "1.5"):
        with pytest.raises(ConfigError, match="remote 's3': max_attempts: .* is not a whole number of at least 1"):
            env.whole_number("remote 's3': max_attempts", bad)


def test_the_cli_reports_two_bad_variables_on_one_line_and_exits_3(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    environ = dict(os.environ, GITFILER_JOBS="many", GITFILER_S3_MAX_ATTEMPTS="x")
    git_filer = os.path.join(os.path.dirname(sys.executable), "git-filer")
    proc = subprocess.run([git_filer, "status"], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "GITFILER_JOBS='many'" in lines[0] and "GITFILER_S3_MAX_ATTEMPTS='x'" in lines[0]
    assert "Traceback" not in proc.stderr
