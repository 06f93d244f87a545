"""The closure of an entry: which objects it needs, in which order, at which paths."""

from __future__ import annotations

import pytest

from gitfiler import closure, manifest
from gitfiler.errors import IntegrityError, RegistryError
from gitfiler.objects import ObjectStore
from gitfiler.registry import Entry


@pytest.fixture
def store(tmp_path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "cache"))


def _dir_entry(store: ObjectStore, files: dict[str, bytes], registry: str = "data/d.filer") -> Entry:
    items = []
    for path, data in files.items():
        w = store.write_bytes(data)
        items.append(manifest.ManifestEntry(path, w.oid, len(data), exec=path.endswith(".sh")))
    m = store.write_bytes(manifest.encode(items))
    return Entry(registry=registry, path=registry.rpartition("/")[2].removesuffix(".filer"), kind="dir", oid=m.oid, size=sum(map(len, files.values())), files=len(files))


def test_a_file_artifact_is_a_one_object_closure(store):
    e = Entry(registry="m/w.pt.filer", path="w.pt", kind="file", oid="sha256:" + "a" * 64, size=5)
    c = closure.of(store, e)  # needs nothing from the cache
    assert c.oids() == [e.oid]
    assert c.manifest is None
    assert c.sizes() == {e.oid: 5}
    assert c.paths() == {"m/w.pt": e.oid}


def test_a_directory_closure_lists_files_first_and_the_manifest_last(store):
    e = _dir_entry(store, {"a.bin": b"aa", "sub/b.sh": b"bbb"})
    c = closure.of(store, e)
    assert c.oids()[-1] == e.oid
    assert len(c.oids()) == 3
    assert c.paths() == {"data/d/a.bin": c.files[0].oid, "data/d/sub/b.sh": c.files[1].oid}
    assert [i.executable for i in c.files] == [False, True]
    assert c.sizes()[e.oid] == store.size(e.oid)


def test_files_with_equal_content_appear_once_in_oids(store):
    e = _dir_entry(store, {"a": b"same", "b": b"same"})
    c = closure.of(store, e)
    assert len(c.file_oids()) == 1
    assert len(c.paths()) == 2


def test_a_missing_manifest_is_manifest_unavailable_with_exit_code_7(store):
    e = Entry(registry="d.filer", path="d", kind="dir", oid="sha256:" + "b" * 64, size=0)
    with pytest.raises(closure.ManifestUnavailable) as info:
        closure.of(store, e)
    assert info.value.exit_code == 7
    assert closure.oids_or_self(store, e) == [e.oid]


def test_a_manifest_that_does_not_decode_is_a_registry_error(store):
    bad = store.write_bytes(b"not json")
    e = Entry(registry="d.filer", path="d", kind="dir", oid=bad.oid, size=0)
    with pytest.raises(RegistryError):
        closure.of(store, e)


def test_a_corrupt_cached_manifest_is_an_integrity_error(store):
    e = _dir_entry(store, {"a": b"x"})
    path = store.path(e.oid)
    import os

    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")  # same size, different bytes
    with pytest.raises(IntegrityError):
        closure.of(store, e)


def test_resolve_keeps_entries_with_one_name_and_different_content_apart(store):
    one = _dir_entry(store, {"a": b"1"})
    two = _dir_entry(store, {"a": b"2"})  # same registry name, as in two worktrees
    found = closure.resolve(store, [one, two])
    assert found.get(one).oids() != found.get(two).oids()


def test_resolve_without_a_remote_reports_the_missing_manifest(store):
    e = Entry(registry="d.filer", path="d", kind="dir", oid="sha256:" + "c" * 64, size=0)
    found = closure.resolve(store, [e])
    assert found.get(e) is None
    assert isinstance(found.problem(e), closure.ManifestUnavailable)
    assert found.transfer is None
