"""`git filer demo` runs the whole journey and cleans up after itself (issue 9): the directory it
made is gone at the end unless `--keep`; a `--dir` that already existed is never removed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import filer


def demo_env(tmp: Path) -> dict[str, str]:
    """The user's environment, with the temp dir (where the demo makes its directory) under the test's control."""
    return dict(os.environ, TMPDIR=str(tmp))


def test_demo_removes_its_temp_dir(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = filer(tmp_path, "demo", env=demo_env(tmp)).stdout
    assert "Done." in out
    removed = re.search(r"^# removed (\S+) ", out, re.MULTILINE)
    assert removed, out
    assert Path(removed.group(1)).parent == tmp
    assert list(tmp.iterdir()) == []


def test_demo_keep_keeps_it_and_says_where(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = filer(tmp_path, "demo", "--keep", env=demo_env(tmp)).stdout
    kept = re.search(r"^# the demo's repositories are in (\S+)$", out, re.MULTILINE)
    assert kept, out
    base = Path(kept.group(1))
    assert base.parent == tmp
    assert (base / "clone" / "models" / "model.bin").stat().st_size == 8 * 1024 * 1024
    assert "removed" not in out


def test_demo_never_removes_a_dir_that_existed(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    out = filer(tmp_path, "demo", "--dir", str(mine)).stdout
    assert f"# the demo's repositories are in {mine} (it existed before the demo, so it is not removed)" in out
    assert (mine / "notes.txt").read_text() == "mine\n"
    assert (mine / "clone" / "models" / "model.bin").exists()


def test_demo_removes_a_dir_it_made_with_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "new" / "demo"
    out = filer(tmp_path, "demo", "--dir", str(target)).stdout
    assert f"# removed {tmp_path / 'new'} " in out
    assert list(tmp_path.iterdir()) == []


def test_demo_leaves_real_remotes_and_caches_alone(tmp_path: Path) -> None:
    """Variables meant for real work must not send the demo's bytes to a team remote or a shared cache."""
    cache, remote = tmp_path / "shared-cache", tmp_path / "team-remote"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(demo_env(tmp), GITFILER_CACHE_DIR=str(cache), GITFILER_REMOTE=str(remote), GITFILER_NO_HOOKS="1")
    out = filer(tmp_path, "demo", env=env).stdout
    assert "Done." in out
    assert not cache.exists() and not remote.exists()
    assert list(tmp.iterdir()) == []
