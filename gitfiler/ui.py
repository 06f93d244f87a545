"""Rendering helpers for the CLI: progress bars (stderr, TTY only) and human sizes."""

from __future__ import annotations

import sys
import threading
from typing import Any


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class RichSink:
    """A transfer progress bar; a no-op unless stderr is a terminal."""

    MIN_BYTES = 8 * 1024 * 1024  # below this a transfer is over before a bar helps

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._lock = threading.Lock()

    def start(self, label: str, total_objects: int, total_bytes: int) -> None:
        if not self.enabled or (total_bytes < self.MIN_BYTES and total_objects < 200):
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

        self._progress = Progress(
            TextColumn(f"{label} {total_objects} object(s)"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress.advance(self._task, nbytes)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
