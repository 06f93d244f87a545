"""`versions.sort_key`: SemVer precedence, CalVer by numbers, natural order for the rest; a total order."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitfiler.versions import sort_key


def in_order(*versions: str) -> None:
    shuffled = list(versions)
    random.Random(0).shuffle(shuffled)
    assert sorted(shuffled, key=sort_key) == list(versions)
    for a, b in pairwise(versions):
        assert sort_key(a) < sort_key(b), (a, b)


def test_semver_org_precedence_examples():
    # https://semver.org/#spec-item-11
    in_order("1.0.0", "2.0.0", "2.1.0", "2.1.1")
    in_order("1.0.0-alpha", "1.0.0")
    in_order("1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0")


def test_semver_numbers_compare_by_value():
    in_order("1.2.0", "1.9.0", "1.10.0", "1.10.1", "10.0.0")
    in_order("0.9.9", "1.0.0-rc.1", "1.0.0", "1.0.1-0", "1.0.1")


def test_prerelease_identifiers_numeric_before_alphanumeric_and_ascii_order():
    in_order("1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-Alpha", "1.0.0-alpha", "1.0.0-alpha.0", "1.0.0-alpha-1")


def test_build_metadata_is_ignored_then_the_raw_string_breaks_the_tie():
    in_order("1.0.0-rc.1+build.9", "1.0.0", "1.0.0+build.1", "1.0.0+build.2", "1.0.1")
    in_order("1.2.3", "v1.2.3")
    in_order("01.2.3", "1.2.3")


def test_calver():
    in_order("2025.12.31", "2026.1.1", "2026.9.1", "2026.11", "2026.11.1", "2026.11.1.2", "2026.11.1.10", "2026.11.2")
    in_order("2026.09.01", "2026.9.1", "2026.10.01")


def test_a_bare_number_is_numeric():
    in_order("2", "3", "10", "10.1")


def test_other_text_sorts_after_numeric_versions_in_natural_order():
    in_order("0.1", "99999.0.0", "", "build-7", "build-10", "latest", "model-a9", "model-a10", "model-b", "release 2", "release 10")
    in_order("99.0", "1.0.0-rc 1", "1.0.0_final")  # not SemVer-shaped: text


def test_natural_order_is_case_insensitive_then_raw():
    in_order("Alpha", "alpha", "Beta", "beta")


def test_huge_digit_runs_do_not_raise():
    big = "9" * 10_000
    in_order(f"1.{big}.0", f"1.1{big}.0")
    in_order(f"x{big}", f"x1{big}")


@pytest.mark.parametrize("text", ["\x00", "１２３", "²", "ß", "v", "-", "+", ".", "1..2", "1.2.3-", "1.2.3+", "\udcff"])
def test_odd_text_gets_a_key(text: str):
    assert sort_key(text)[-1] == text
    assert sort_key(text) > sort_key("1.0.0")


versions = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.-+vrcalphbet", max_size=16),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", *[st.integers(0, 30)] * 3),
    st.builds(lambda y, m, d: f"{y}.{m}.{d}", st.integers(2020, 2030), st.integers(1, 12), st.integers(1, 31)),
)


@given(st.lists(versions, min_size=1, max_size=6))
def test_total_order_consistent_with_equality(vs: list[str]):
    keys = [sort_key(v) for v in vs]  # never raises
    for a, ka in zip(vs, keys, strict=True):
        assert sort_key(a) == ka  # deterministic
        for b, kb in zip(vs, keys, strict=True):
            assert (ka == kb) == (a == b)
            assert (ka < kb) + (ka > kb) + (ka == kb) == 1  # comparable, exactly one holds
    ordered = sorted(vs, key=sort_key)
    assert all(sort_key(x) <= sort_key(y) for x, y in pairwise(ordered))


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=2, max_size=8))
def test_release_versions_order_like_their_numbers(triples: list[tuple[int, int, int]]):
    texts = [".".join(map(str, t)) for t in triples]
    assert sorted(texts, key=sort_key) == [".".join(map(str, t)) for t in sorted(triples)]
