"""The `git-filer` console script. Hooks are dispatched before click is imported,
so a hook with nothing to do starts in the time of a bare Python."""

from __future__ import annotations

import sys


def _terminate_like_interrupt() -> None:
    """SIGTERM (a CI job cancelled, `docker stop`, a service manager) unwinds like Ctrl-C, so
    every write in progress removes its temp file and the process's temp area goes with it."""
    import signal

    def raise_interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, raise_interrupt)
    except (ValueError, OSError):  # not the main thread, or a platform without SIGTERM
        pass


def main(argv: list[str] | None = None) -> int:
    _terminate_like_interrupt()
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "hook" and not any(a in ("-h", "--help") for a in args[1:2]):
        from .hooks.entry import main as hook_main

        return hook_main(args[1:])
    from . import quickstatus

    if quickstatus.handles(args):
        return quickstatus.run(args)
    from .cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
