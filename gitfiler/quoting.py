"""Paths and repository-supplied text made safe to print on a terminal.

A name may hold a newline (one artifact would read as two lines) or an escape
sequence (a hostile repository could rewrite the screen). Names are printed the
way `git -c core.quotePath=false` prints them: unchanged when plain, otherwise
C-quoted in double quotes, with non-ASCII text kept readable. `--json` output
keeps raw strings; these helpers are for human-readable lines only.
"""

from __future__ import annotations

_NAMED = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _octal(data: bytes) -> str:
    return "".join(f"\\{b:03o}" for b in data)


def _escape_char(ch: str) -> str | None:
    """The escape for a character a terminal must not receive raw, or None to print it as is.

    Beyond what git escapes (C0 controls, DEL, '"', '\\'), C1 controls are
    escaped too, since some terminals act on them, and so are the undecodable
    bytes that `os.fsdecode` carries as lone surrogates (printed as the bytes).
    """
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F:
        return _octal(ch.encode("utf-8"))
    if 0xDC80 <= o <= 0xDCFF:
        return _octal(bytes([o - 0xDC00]))
    if 0xD800 <= o <= 0xDFFF:
        return _octal(ch.encode("utf-8", "surrogatepass"))
    return None


def quote_path(path: str) -> str:
    """`path` as git prints it with core.quotePath=false: as is when it needs no escape, else C-quoted."""
    if path.isascii() and path.isprintable() and '"' not in path and "\\" not in path:
        return path  # the usual name, decided in C: status prints one per artifact
    parts: list[str] = []
    quoted = False
    for ch in path:
        esc = _escape_char(ch)
        if esc is None:
            parts.append(ch)
        else:
            parts.append(esc)
            quoted = True
    return f'"{"".join(parts)}"' if quoted else path


def escape_text(text: str) -> str:
    """`text` (a message that may embed names) with control characters escaped, no quotes added."""
    out: list[str] = []
    for ch in text:
        esc = None if ch in ('"', "\\") else _escape_char(ch)
        out.append(ch if esc is None else esc)
    return "".join(out)
