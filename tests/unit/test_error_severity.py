"""Exit codes (README, Exit codes): each error kind has its code, and a bulk operation that met
several kinds of problem exits with the most serious one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler import errors
from gitfiler.errors import most_serious

from .support import UNIT

# Most serious first: data that is wrong, input that is hostile, then what stops the work.
SEVERITY = [6, 4, 9, 5, 7, 3, 8, 10]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.FilerError, 1),
        (errors.NotARepositoryError, 3),
        (errors.ConfigError, 3),
        (errors.RegistryError, 4),
        (errors.UnsafePathError, 4),
        (errors.RemoteError, 5),
        (errors.TransientRemoteError, 5),
        (errors.IntegrityError, 6),
        (errors.ObjectMissingError, 7),
        (errors.ConflictError, 8),
        (errors.DiskFullError, 9),
    ],
)
def test_each_error_kind_has_its_documented_exit_code(error: type[errors.FilerError], code: int) -> None:
    assert error.exit_code == code


def test_most_serious_is_1_when_there_is_nothing_known() -> None:
    assert most_serious([]) == 1
    assert most_serious([1, 1]) == 1
    assert most_serious([70, 130]) == 1


@pytest.mark.parametrize(("worse", "better"), [(a, b) for i, a in enumerate(SEVERITY) for b in SEVERITY[i + 1 :]])
def test_most_serious_prefers_the_more_serious_of_two_codes(worse: int, better: int) -> None:
    assert most_serious([better, worse]) == worse
    assert most_serious([worse, better]) == worse


@UNIT
@given(st.lists(st.sampled_from([*SEVERITY, 1, 2, 70]), max_size=10))
def test_most_serious_is_one_of_the_codes_and_ignores_their_order(codes: list[int]) -> None:
    got = most_serious(codes)
    assert got == most_serious(list(reversed(codes)))
    assert got in codes or got == 1
    assert all(SEVERITY.index(got) <= SEVERITY.index(c) for c in codes if c in SEVERITY) if got in SEVERITY else not set(codes) & set(SEVERITY)


def test_partial_failure_carries_its_items_and_exit_code() -> None:
    err = errors.PartialFailure("2 of 5 failed", [("a", "x"), ("b", "y")], exit_code=7)
    assert (str(err), err.failures, err.exit_code) == ("2 of 5 failed", [("a", "x"), ("b", "y")], 7)


def test_integrity_error_names_the_object_and_path() -> None:
    err = errors.IntegrityError("corrupt", oid="sha256:" + "a" * 64, path="/c/o")
    assert (err.oid, err.path, err.exit_code) == ("sha256:" + "a" * 64, "/c/o", 6)
