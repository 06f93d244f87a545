"""Registry paths written without YAML (the fast path of `registry.dumps`) read back exactly."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gitfiler.registry import _is_plain, _scalar

WORDS = ["data", "models/ranker.pt", "yes", "No", "TRUE", "off", "null", "Null", "_x", "a.b-c+d/e_f", "y", "n", "nan", "inf", "e1", "x:y"]


def test_each_plain_path_reads_back_as_itself() -> None:
    for word in WORDS:
        assert yaml.safe_load(f"path: {_scalar(word)}\n")["path"] == word, word


@given(st.text(alphabet="abyesnotruflYESNOTRUF_0123456789./+-:# ", min_size=1, max_size=12))
def test_any_path_the_fast_path_takes_reads_back_as_itself(word: str) -> None:
    if _is_plain(word):
        assert yaml.safe_load(f"path: {word}\n")["path"] == word
    assert yaml.safe_load(f"path: {_scalar(word)}\n")["path"] == word
