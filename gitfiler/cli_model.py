"""The model verbs of the command line (filled in by issue 11): parse, call a use case, render. Imported by `cli` to register them on its group."""

from __future__ import annotations
