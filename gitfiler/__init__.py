"""gitfiler: keep large artifacts out of git while git decides which bytes belong to each commit."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Filer", "FilerError", "__version__"]


def __getattr__(name: str) -> object:
    # Imported lazily: the git hooks and CLI start fast because `import gitfiler` costs nothing.
    if name == "Filer":
        from .api import Filer

        return Filer
    if name == "FilerError":
        from .errors import FilerError

        return FilerError
    raise AttributeError(name)
