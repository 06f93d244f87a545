"""The command line itself: help with an example everywhere, usage errors, version, one meaning per
flag, the man page, shell completion, and progress bars that agree with the summaries."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest
from rich.console import Console

from conftest import BIN_DIR, Repo, clone_of, have, run
from gitfiler.cli import cli
from gitfiler.ui import RichSink

ROOT = Path(__file__).resolve().parent.parent
MAN_PAGE = ROOT / "gitfiler/man/man1/git-filer.1"
MiB = 1024 * 1024


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


# -- one meaning per flag --------------------------------------------------------------------------


def all_options(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from all_options(cmd, (*prefix, name))
            continue
        for p in cmd.params:
            if isinstance(p, click.Option):
                yield " ".join((*prefix, name)), p


def test_remote_means_a_filer_remote_on_every_command():
    seen = []
    for where, opt in all_options():
        names = set(opt.opts) | set(opt.secondary_opts)
        if "--remote" in names or "-r" in names:
            seen.append(where)
            assert set(opt.opts) == {"-r", "--remote"} and not opt.is_flag, where
            assert opt.metavar in ("NAME|URL", "URL"), where  # init takes a URL only
            assert "filer remote" in (opt.help or "").lower(), where
    assert {"push", "pull", "clone", "status", "remove", "gc", "init"} <= set(seen)
    flags = {(where, o) for where, opt in all_options() for o in opt.opts}
    assert {("status", "--cloud"), ("status", "-c"), ("remove", "--from-remote"), ("gc", "--git-remote")} <= flags


def test_old_spellings_fail_loudly_or_warn(repo: Repo):
    repo.write("m.bin", b"m")
    repo.filer("add", "m.bin")
    # The old switches would now swallow the next word as a remote name: refused, naming the new spelling.
    proc = repo.filer("status", "--remote", "--json", check=False)
    assert proc.returncode == 2 and "'status --remote' is 'status --cloud'" in proc.stderr
    proc = repo.filer("status", "--remote", "m.bin", check=False)  # old: status of m.bin against the remote
    assert proc.returncode == 2 and "'status --remote' is 'status --cloud'" in proc.stderr
    proc = repo.filer("remove", "--remote", "m.bin", "other.bin", check=False)  # old: delete both from the remote
    assert proc.returncode == 2 and "--from-remote" in proc.stderr and (repo.path / "m.bin.filer").exists()
    proc = repo.filer("remove", "--remote", "m.bin", check=False)  # the same with one path, which -r swallows
    assert proc.returncode == 2 and "--from-remote" in proc.stderr and (repo.path / "m.bin.filer").exists()
    proc = repo.filer("gc", "--remote", "origin", "--yes", check=False)  # old: collect the filer remote
    assert proc.returncode == 2 and "gc --git-remote GIT_REMOTE" in proc.stderr
    # The old names of -r still work for one release, with a warning.
    proc = repo.filer("status", "--remote-name", "local", "--json", check=False)
    assert proc.returncode == 0 and "--remote-name is deprecated" in proc.stderr
    assert json.loads(proc.stdout)[0]["artifact"] == "m.bin"
    proc = repo.filer("gc", "--git-remote", "nowhere", "--filer-remote", "local", "--dry-run", check=False)
    assert "--filer-remote is deprecated" in proc.stderr


def test_status_against_a_remote_that_does_not_exist_is_a_config_error(repo: Repo):
    proc = repo.filer("status", "-r", "nosuchname", check=False)
    assert proc.returncode == 3 and "no remote named 'nosuchname'" in proc.stderr


def test_the_lazy_verbs_work_when_the_cli_module_is_run_directly(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "gitfiler.cli", "model", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "register" in proc.stdout, proc.stderr


# -- help -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", ["80", "60", "200"])
@pytest.mark.parametrize("words", [[], ["remote"]], ids=["git filer", "git filer remote"])
def test_help_summaries_are_not_cut_mid_sentence(tmp_path, words, columns):
    env = dict(os.environ, COLUMNS=columns)
    out = run(["git", "filer", *words, "-h"], tmp_path, env=env).stdout
    listing = out.split("Commands:\n", 1)[1]
    assert "..." not in listing, listing
    rows: dict[str, str] = {}
    for line in listing.splitlines():
        if re.match(r"  \S", line):  # a command's row; deeper lines continue its summary
            name, _, text = line.strip().partition(" ")
            rows[name] = text.strip()
        elif line.strip():
            rows[name] += " " + line.strip()
    group = cli.commands["remote"] if words else cli
    assert set(rows) == set(group.list_commands(click.Context(group)))  # type: ignore[attr-defined]
    for name, text in rows.items():
        assert text.endswith(".") or text.endswith(")."), (name, text)


def test_usage_errors_point_at_dash_h(repo: Repo):
    proc = repo.filer("pusj", check=False)
    assert proc.returncode == 2 and "Try 'git filer -h' for help." in proc.stderr and "--help" not in proc.stderr


def test_man_page_is_current():
    from gitfiler import __version__
    from gitfiler.ui import man_page

    assert MAN_PAGE.read_text() == man_page(cli, __version__), (
        "gitfiler/man/man1/git-filer.1 is out of date; regenerate it:\n  python -c 'import gitfiler as g, gitfiler.cli as c, gitfiler.ui as u; "
        "open(\"gitfiler/man/man1/git-filer.1\", \"w\").write(u.man_page(c.cli, g.__version__))'"
    )


def data_files() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]


def test_git_filer_help_finds_the_man_page_where_an_install_puts_it(tmp_path):
    """A prefix laid out as pip lays out a venv from our wheel (bin/ + the data-files mapping):
    man finds PREFIX/share/man from PREFIX/bin on PATH, and `git filer --help` shows the page."""
    if not (have("man") and have("git")):
        pytest.skip("man is not installed here")
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    os.symlink(os.path.join(BIN_DIR, "git-filer"), prefix / "bin/git-filer")
    for dest, sources in data_files().items():
        (prefix / dest).mkdir(parents=True, exist_ok=True)
        for src in sources:
            shutil.copy(ROOT / src, prefix / dest)
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH", "MANPAGER", "PAGER")}
    env["PATH"] = os.pathsep.join([str(prefix / "bin"), *(os.path.dirname(shutil.which(c) or "") for c in ("git", "man"))])
    env["MANWIDTH"] = "100"
    assert run(["man", "-w", "git-filer"], tmp_path, env=env).stdout.strip() == str(prefix / "share/man/man1/git-filer.1")
    proc = run(["git", "filer", "--help"], tmp_path, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "GIT-FILER(1)" in proc.stdout and "git filer push [OPTIONS] [PATHS]..." in proc.stdout and "EXIT CODES" in proc.stdout


def test_the_wheel_ships_the_man_page(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "gitfiler", src / "gitfiler", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0 and ("Could not find a version" in proc.stderr or "No matching distribution" in proc.stderr):
        pytest.skip("the build backend cannot be installed here (no package index)")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("gitfiler-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        page = next(n for n in names if n.endswith(".data/data/share/man/man1/git-filer.1"))
        assert z.read(page) == MAN_PAGE.read_bytes()


# -- shell completion -------------------------------------------------------------------------------


def complete(tmp_path, instruction: str, **env: str) -> str:
    return run(["git-filer"], tmp_path, env=dict(os.environ, _GIT_FILER_COMPLETE=instruction, **env)).stdout


def test_completion_scripts_are_generated_for_git_filer(tmp_path):
    bash = complete(tmp_path, "bash_source")
    assert "complete -o nosort -F _git_filer_completion git-filer" in bash and "_git_filer()" in bash
    assert "complete -o nosort -F _git_filer_completion git\n" not in bash  # never takes over `git` itself
    assert "compdef _git_filer_completion git-filer" in complete(tmp_path, "zsh_source")
    assert "--command git-filer" in complete(tmp_path, "fish_source")


def test_completion_requests_name_the_subcommands(tmp_path):
    assert complete(tmp_path, "bash_complete", COMP_WORDS="git-filer pu", COMP_CWORD="1").split() == ["plain,pull", "plain,push"]
    assert "plain,--cloud" in complete(tmp_path, "bash_complete", COMP_WORDS="git-filer status --cl", COMP_CWORD="2").split()


GIT_BASH_COMPLETION = Path("/usr/share/bash-completion/completions/git")


@pytest.mark.skipif(not (GIT_BASH_COMPLETION.exists() and have("bash")), reason="git's bash completion is not installed here")
def test_bash_completes_git_space_filer_through_gits_completion(tmp_path):
    script = (
        f"source {GIT_BASH_COMPLETION}\n"
        'eval "$(_GIT_FILER_COMPLETE=bash_source git-filer)"\n'
        'COMP_WORDS=(git filer pu); COMP_CWORD=2; COMP_LINE="git filer pu"; COMP_POINT=${#COMP_LINE}\n'
        '__git_wrap__git_main; echo "${COMPREPLY[*]}"\n'
    )
    assert run(["bash", "--norc", "--noprofile", "-c", script], tmp_path).stdout.split() == ["pull", "push"]


# -- fsck -------------------------------------------------------------------------------------------


def test_fsck_remove_corrupt_says_what_comes_next_not_to_rerun_itself(repo: Repo):
    repo.write("m.bin", b"model bytes")
    repo.filer("add", "m.bin")
    (obj,) = [p for p in (repo.cache / "objects").rglob("*") if p.is_file()]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"MODEL BYTES")
    proc = repo.filer("fsck", check=False)
    assert proc.returncode == 6 and "rerun with --remove-corrupt" in proc.stderr
    proc = repo.filer("fsck", "--remove-corrupt", check=False)
    assert not obj.exists()
    assert "--remove-corrupt" not in proc.stderr and "found and removed" in proc.stderr and "git filer pull" in proc.stderr
    assert repo.filer("fsck").returncode == 0


# -- progress: the bar and the summary count the same objects in the same units ----------------------


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=150, color_system=None), out


def test_the_bar_counts_in_binary_units_like_the_summary():
    console, out = terminal()
    sink = RichSink(enabled=True, console=console)
    sink.start("upload", 3, 10 * MiB)
    sink.advance(5 * MiB)
    sink._progress.refresh()
    sink.finish()
    shown = out.getvalue()
    assert "uploading 3 object(s)" in shown and "5.0 MiB / 10.0 MiB" in shown
    assert not re.search(r"\d M?B/s|\dMB| MB\b", shown), shown


def test_no_bar_without_a_terminal_or_for_small_transfers():
    assert not RichSink(enabled=True, console=Console(file=io.StringIO(), force_terminal=False)).enabled
    console, out = terminal()
    sink = RichSink(enabled=True, console=console)
    sink.start("upload", 2, 1024)
    assert sink.label == "" and out.getvalue() == ""


def test_the_bar_names_as_many_objects_as_the_summary(repo: Repo, tmp_path: Path):
    from gitfiler.commands.pull import pull
    from gitfiler.commands.push import push
    from gitfiler.project import Project

    repo.write("d/a.bin", os.urandom(5 * MiB))
    repo.write("d/b.bin", os.urandom(5 * MiB))
    repo.write("m.bin", os.urandom(MiB))
    repo.filer("add", "d", "m.bin")
    repo.commit_without_autopush("artifacts")
    sink = RichSink(enabled=True, console=terminal()[0])
    pushed = push(Project.find(str(repo.path)), [], sink=sink)
    assert pushed.transfer.objects == 4  # two files and a manifest in d, and m.bin
    assert sink.label == f"uploading {pushed.transfer.objects} object(s)"
    clone = clone_of(repo, tmp_path)
    sink = RichSink(enabled=True, console=terminal()[0])
    pulled = pull(Project.find(str(clone)), [], sink=sink)
    assert pulled.transfer.objects == 4
    assert sink.label == f"downloading {pulled.transfer.objects} object(s)"
    # The CLI's summary line reports that same count.
    assert "pulled 4 object(s)" in run(["git", "filer", "pull"], clone_of(repo, tmp_path, "clone2")).stderr


def test_lazy_verbs_are_exactly_what_their_modules_register():
    import importlib

    from gitfiler.cli import LAZY_VERBS

    before = set(cli.commands)  # type: ignore[attr-defined]
    for module in set(LAZY_VERBS.values()):
        importlib.import_module(f"gitfiler.{module}")
    added = set(cli.commands) - before  # type: ignore[attr-defined]
    assert added <= set(LAZY_VERBS) and set(LAZY_VERBS) <= set(cli.commands)  # type: ignore[attr-defined]


def test_everyday_commands_do_not_import_the_lazy_verbs(repo: Repo):
    code = (
        "import sys; from gitfiler.cli import main; main(['ls']); "
        "assert not [m for m in sys.modules if m.startswith(('gitfiler.cli_', 'gitfiler.commands.deploy'))], sorted(sys.modules)"
    )
    run([sys.executable, "-c", code], repo.path)
