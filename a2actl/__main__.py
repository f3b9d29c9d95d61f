"""``python -m a2actl`` (and, pointed at ``a2actl.__main__:main``, the ``a2actl`` console script).

``a2actl --version`` is answered here, before typer, rich or any command module is imported: it is
run by every CI step and support script, and the whole CLI costs ~150 ms more to import than Python
takes to start. The output is the same as the root ``--version`` option's (``a2actl.cli.app``).

An interrupt while the CLI is still being imported exits 130 with one line, as one during a command
does (``a2actl.cli.app.A2AGroup.invoke``). SIGTERM (``kill``, a container or CI runner stopping the
job) is handled as Ctrl-C (``_term_as_interrupt``): a replay commits what the agent acknowledged,
a fleet probe, push listen or load run writes its report, and the exit is 130.
"""

import os
import signal
import sys


def _term_as_interrupt() -> None:
    """Make SIGTERM do what SIGINT does: the handler sends this process a SIGINT, which Python (or
    the ``asyncio`` runner of a command, which cancels its task so ``finally`` blocks run) turns
    into the graceful stop of Ctrl-C. Only when SIGINT has Python's own handler: a job started in
    the background by a non-interactive shell ignores SIGINT, and a SIGTERM must still stop it, so
    SIGTERM keeps its default there (the process ends at once, as before)."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def forward(_signum: int, _frame: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    signal.signal(signal.SIGTERM, forward)


def main() -> None:
    """Run the CLI with ``sys.argv``; exits with the command's exit code (docs/exit-codes.md), 130
    on an interrupt during startup, 2 (with nothing done) when stdout is closed or not open for
    writing (``a2actl.stdio``: a closed stderr becomes ``/dev/null``)."""
    _term_as_interrupt()
    try:
        from a2actl.stdio import refuse_unusable_streams

        refuse_unusable_streams()
        if sys.argv[1:] == ["--version"]:
            from a2actl import __version__

            try:
                sys.stdout.write(f"a2actl {__version__}\n")
                sys.stdout.flush()
            except OSError as exc:  # > /dev/full: exit 2, one line (| head: quietly)
                from a2actl.stdio import stdout_failed

                stdout_failed(exc)
            return
        from a2actl.cli.app import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("a2actl: interrupted\n")
        raise SystemExit(130) from None
    cli_main()


if __name__ == "__main__":
    main()
