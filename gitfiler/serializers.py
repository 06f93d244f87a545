"""Serializers for `Filer.dump/load`: pickle (default), json, raw bytes, joblib and dill when
installed, and any a user registers (torch, safetensors, ...).

A serializer only ever sees bytes whose SHA-256 was checked against the
committed registry file. That guarantees *which* bytes are loaded, not that
they are safe: unpickling runs code, so load pickles only from repositories
and remotes you trust.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import FilerError


@dataclass(frozen=True)
class Serializer:
    name: str
    extension: str  # with the dot, e.g. ".pkl"
    dump: Callable[[Any, BinaryIO], None]
    load: Callable[[BinaryIO], Any]


_REGISTRY: dict[str, Serializer] = {}


def register_serializer(name: str, extension: str, dump: Callable[[Any, BinaryIO], None], load: Callable[[BinaryIO], Any], *, replace: bool = False) -> Serializer:
    """Make a serializer available to `dump(..., serializer=name)`; `load` finds it through the registry file's meta.

    Example::

        import torch
        register_serializer("torch", ".pt", lambda obj, f: torch.save(obj, f), lambda f: torch.load(f, weights_only=True))
    """
    if not extension.startswith("."):
        raise FilerError(f"serializer {name!r}: extension must start with '.', e.g. '.pt'")
    if name in _REGISTRY and not replace:
        raise FilerError(f"serializer {name!r} is already registered; pass replace=True to override it")
    ser = Serializer(name, extension, dump, load)
    _REGISTRY[name] = ser
    return ser


def get(name: str) -> Serializer:
    if name == "joblib" and name not in _REGISTRY:
        _register_joblib()
    if name == "dill" and name not in _REGISTRY:
        raise FilerError("serializer 'dill' needs the dill package: pip install 'gitfiler[dill]' (or pip install dill)")
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise FilerError(f"unknown serializer {name!r} (known: {known}); register it with gitfiler.serializers.register_serializer") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def _pickle_dump(obj: Any, f: BinaryIO) -> None:
    import pickle

    pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(f: BinaryIO) -> Any:
    import pickle

    return pickle.load(f)


def _json_dump(obj: Any, f: BinaryIO) -> None:
    import json

    f.write(json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8"))


def _json_load(f: BinaryIO) -> Any:
    import json

    return json.loads(f.read().decode("utf-8"))


def _bytes_dump(obj: Any, f: BinaryIO) -> None:
    if not isinstance(obj, (bytes, bytearray, memoryview)):
        raise FilerError(f"the 'bytes' serializer takes bytes, not {type(obj).__name__}")
    f.write(obj)


def _register_joblib() -> None:
    try:
        import joblib  # noqa: F401
    except ImportError:
        raise FilerError("serializer 'joblib' needs the joblib package: pip install joblib") from None

    def dump(obj: Any, f: BinaryIO) -> None:
        import joblib

        joblib.dump(obj, f)

    def load(f: BinaryIO) -> Any:
        import joblib

        return joblib.load(f)

    register_serializer("joblib", ".joblib", dump, load, replace=True)


def _dill_dump(obj: Any, f: BinaryIO) -> None:
    import dill  # type: ignore[import-untyped,unused-ignore]

    # recurse: a function takes the globals it uses along (a notebook's `offset = 10`), not a
    # reference to a __main__ that the loading process does not have.
    dill.dump(obj, f, protocol=dill.HIGHEST_PROTOCOL, recurse=True)


def _dill_load(f: BinaryIO) -> Any:
    import dill  # type: ignore[import-untyped,unused-ignore]

    return dill.load(f)


register_serializer("pickle", ".pkl", _pickle_dump, _pickle_load)
register_serializer("json", ".json", _json_dump, _json_load)
register_serializer("bytes", ".bin", _bytes_dump, lambda f: f.read())
# dill pickles what pickle cannot (lambdas, closures, functions of a notebook's __main__). Found
# without importing it: dill is imported by the first dump or load that uses it, not by gitfiler's.
if importlib.util.find_spec("dill") is not None:
    register_serializer("dill", ".dill", _dill_dump, _dill_load)


def load_bytes(ser: Serializer, data: bytes) -> Any:
    return ser.load(io.BytesIO(data))
