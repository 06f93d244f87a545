"""The command line itself: help with an example everywhere, usage errors, version."""

from __future__ import annotations

import click
import pytest

from conftest import Repo, run
from gitfiler.cli import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, (*prefix, name))
    return out


@pytest.mark.parametrize("words", all_commands(cli), ids=lambda w: " ".join(w))
def test_every_command_has_help_with_an_example(tmp_path, words):
    proc = run(["git", "filer", *words, "--help"], tmp_path)
    assert "Example" in proc.stdout and "git filer" in proc.stdout


def test_version(tmp_path):
    assert run(["git", "filer", "--version"], tmp_path).stdout.startswith("git filer, version ")


def test_quiet_and_verbose_work_after_the_subcommand(repo: Repo):
    repo.write("m.bin", b"m")
    assert repo.filer("add", "-q", "m.bin").stdout == ""
    proc = repo.filer("add", "-v", "nope.bin", check=False)
    assert "Traceback" in proc.stderr and "no such file" in proc.stderr


def test_errors_have_no_traceback_without_verbose(repo: Repo):
    proc = repo.filer("add", "nope.bin", check=False)
    assert proc.stderr == "error: nope.bin: no such file or directory\n"
