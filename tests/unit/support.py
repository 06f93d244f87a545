"""What the unit tests share: one hypothesis budget, and equality that tells 1 from True."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches in ./.hypothesis even without an example database: not in the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), f"gitfiler-hypothesis-{os.getuid()}"))

# About 200 examples a property keeps the whole unit suite well under 30 s on a shared machine.
UNIT = settings(
    max_examples=200, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def typed(value: Any) -> Any:
    """`value` with the type of every part made explicit, so that `1 == True == 1.0` no longer holds
    and a YAML reading that turns "1" into 1 or "yes" into True shows as a difference."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: typed(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare}
        return (type(value).__name__, fields)
    if isinstance(value, dict):
        return ("dict", sorted(((typed(k), typed(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def is_safe_path(path: str) -> bool:
    """Whether gitfiler accepts `path` as a relative path inside its tree."""
    from gitfiler.errors import UnsafePathError
    from gitfiler.paths import check_relative

    try:
        check_relative(path)
    except UnsafePathError:
        return False
    return True
