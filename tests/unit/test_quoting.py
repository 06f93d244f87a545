"""Names on a terminal (gitfiler.quoting): printed as `git -c core.quotePath=false` prints them,
never with a raw control character, and reversible back to the name's bytes."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gitfiler.quoting import escape_text, quote_path

from .support import UNIT

# What a terminal acts on: C0 controls, DEL, C1 controls; and lone surrogates, which are not text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Names as a path can hold them: any text, or any bytes as os.fsdecode carries them.
names = st.one_of(st.text(st.characters(blacklist_categories=["Cs"])), st.binary().map(os.fsdecode))
_NAMED = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _c_unquote(quoted: str) -> bytes:
    """git's reading of a C-quoted name: the bytes it stands for."""
    assert quoted.startswith('"') and quoted.endswith('"') and len(quoted) >= 2
    out = bytearray()
    body = quoted[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt in _NAMED:
                out.append(_NAMED[nxt])
                i += 2
            else:
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
        else:
            assert ch != '"', f"unescaped quote inside {quoted!r}"
            out += ch.encode("utf-8")
            i += 1
    return bytes(out)


@UNIT
@given(names)
@example("a\nb")
@example("\x1b[2J")
@example("\x85")
@example("é")
@example('"')
@example(os.fsdecode(b"\xff\xfe"))
def test_quote_path_never_prints_a_control_character(name: str) -> None:
    assert not _UNSAFE.search(quote_path(name))


@UNIT
@given(names)
def test_quote_path_decodes_back_to_the_names_bytes(name: str) -> None:
    out = quote_path(name)
    raw = os.fsencode(name)
    assert (_c_unquote(out) if out != name else out.encode("utf-8")) == raw


@UNIT
@given(st.text(st.characters(blacklist_categories=["Cs", "Cc"]).filter(lambda c: c not in '"\\')))
def test_quote_path_leaves_a_plain_name_alone(name: str) -> None:
    assert quote_path(name) == name


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("a b", "a b"),
        ("é/日本", "é/日本"),
        ("a\nb", '"a\\nb"'),
        ("tab\t", '"tab\\t"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("\x1b[31m", '"\\033[31m"'),
        ("\x7f", '"\\177"'),
        ("\x85", '"\\302\\205"'),
        (os.fsdecode(b"\xff"), '"\\377"'),
    ],
)
def test_quote_path_prints_as_git_does(name: str, printed: str) -> None:
    assert quote_path(name) == printed


@UNIT
@given(names)
def test_escape_text_never_prints_a_control_character(text: str) -> None:
    assert not _UNSAFE.search(escape_text(text))


@UNIT
@given(st.text(st.characters(blacklist_categories=["Cs", "Cc"])))
def test_escape_text_leaves_text_without_controls_alone(text: str) -> None:
    assert escape_text(text) == text


def test_escape_text_adds_no_quotes_and_keeps_quotes_and_backslashes() -> None:
    assert escape_text('bad "name\n" at C:\\x') == 'bad "name\\n" at C:\\x'
