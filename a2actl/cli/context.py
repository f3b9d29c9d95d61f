"""The per-invocation context (``ctx.obj``): resolved settings, output format, verbosity.

Built once by the root callback; commands get it with ``invocation(ctx)``. Heavy modules (render,
transport, core) are imported lazily so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from a2actl.core.config import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from a2actl.core.sink import EventSink
    from a2actl.render.output import Output, View


#: Each command's overall deadline when ``--max-time`` is not given (seconds): a server that answers
#: one byte at a time (each read within ``--timeout``) must still end the command, with exit 5. One
#: request or a few: 60 s; several targets or many requests: 2-10 min; waits for a task, streams and
#: replays: longer. ``sandbox serve`` and ``demo`` run until stopped; ``exporter``'s bounds only its
#: start-up (reading ``--config``, ``--inventory`` and the TLS files), then it serves until stopped.
#: Documented in docs/exit-codes.md.
DEFAULT_MAX_TIME: dict[str, float] = {
    "card get": 60,
    "task get": 60,
    "task cancel": 60,
    "task list": 60,
    "caps validate": 120,
    "caps snapshot": 120,
    "caps diff": 120,
    "caps fingerprint": 120,
    "caps lint": 120,
    "caps verify": 120,
    "caps sign": 60,
    "push listen": 3600,
    "sessions list": 60,
    "sessions show": 60,
    "sessions kill": 120,
    "sessions leaks": 120,
    "dlq list": 600,
    "dlq show": 60,
    "dlq stats": 600,
    "dlq purge": 600,
    "dlq replay": 3600,
    "fleet probe": 3600,
    "fleet report": 60,
    "exporter": 60,
    "handshake probe": 600,
    "load run": 3600,
    "load report": 60,
    "send": 600,
    "smoke init": 600,
    "smoke run": 1800,
    "smoke validate": 60,
    "stream tail": 3600,
    "task subscribe": 3600,
}


#: The commands that write ``-o sarif`` (SARIF 2.1.0); any other command refuses it (exit 2).
SARIF_COMMANDS = frozenset({"caps lint"})


@dataclass
class Invocation:
    """Global options of one run. ``format`` is ``table``, ``json`` or ``jsonl``; ``out`` is the one
    ``Output`` of the run, built on first use (so ``--help`` never imports rich's tables)."""

    settings: Settings
    format: str = "table"
    verbose: int = 0
    debug: bool = False
    #: ``send --dry-run --show-secrets``: the one place a2actl prints secrets, when asked to.
    show_secrets: bool = False
    _out: Output | None = field(default=None, repr=False)
    #: The command being run, without the program name (``"card get"``): picks ``DEFAULT_MAX_TIME``.
    command: str = ""
    #: ``time.monotonic()`` when the invocation was built (the command's start): ``time_left``.
    started: float = field(default_factory=time.monotonic, repr=False)
    #: ``(option, path)`` of ``--token-file``/``--cacert``/``--cert``/``--key`` naming a file that is
    #: not a regular file (a FIFO, ``<(cmd)``): read by ``read_pending`` once the command, and so
    #: its deadline, is known (``invocation``).
    pending: tuple[tuple[str, str], ...] = ()
    #: Seconds of ``max_time`` already used: by ``read_pending`` and by every ``run`` so far. Each
    #: ``run`` gets only the rest (``budget``): a FIFO that delivered just before the deadline, or a
    #: command's first ``run`` (``sessions kill``'s plan, ``send``'s parts read off the loop), gave
    #: the next one another whole --max-time. Time outside ``run`` (a confirmation prompt) is not
    #: counted; ``sessions list --watch`` sets it before each refresh.
    spent: float = field(default=0.0, repr=False)

    @property
    def max_time(self) -> float | None:
        """``--max-time`` when given, else this command's default deadline (``DEFAULT_MAX_TIME``)."""
        if self.settings.max_time is not None:
            return self.settings.max_time
        return DEFAULT_MAX_TIME.get(self.command)

    def budget(self) -> float | None:
        """Seconds of ``max_time`` not yet ``spent`` (0 when it has run out), or ``None`` when the
        command has no deadline: what the next ``run``, or a core job given its own deadline
        (``send --stream``), may take."""
        limit = self.max_time
        return None if limit is None else max(0.0, limit - self.spent)

    def time_left(self) -> float | None:
        """Seconds of ``max_time`` left since the command started (``started``; 0 when it has run
        out), or ``None`` when the command has no deadline."""
        limit = self.max_time
        return None if limit is None else max(0.0, limit - (time.monotonic() - self.started))

    @property
    def out(self) -> Output:
        """The run's ``Output`` (table | json | jsonl), masking the run's known secrets unless
        ``show_secrets``; built on first use so ``--help`` never imports rich."""
        if self._out is None:
            from a2actl.render.output import Output

            fmt = "json" if self.format == "sarif" else self.format  # sarif: the command writes it
            self._out = Output(fmt, secrets=self.settings.secrets(), redact=not self.show_secrets)
        return self._out

    @property
    def sink(self) -> EventSink:
        """The verbose wire log (``-v``/``-vv``) or a sink that drops everything."""
        from a2actl.core.sink import NullSink
        from a2actl.render.verbose import VerboseSink

        return VerboseSink(self.out, self.verbose) if self.verbose else NullSink()

    def show(self, doc: Any, view: View) -> None:
        """Render one result (a ``-o json`` document, or an object with ``to_json()``): with ``table``
        through the view function ``view`` (a ``render/<domain>.py`` function), else as JSON / JSONL."""
        self.out.result(doc, view)

    def run(self, coro: Any, *, bounded: bool = True) -> Any:
        """Run a core coroutine under what is left of ``--max-time`` (``budget``; ``asyncio.TimeoutError``
        → ``TimeoutError_``, exit 5), and add the time it took to ``spent``: a command that calls
        ``run`` twice is bounded by one --max-time, not one each. Commands that end gracefully at
        ``--max-time`` themselves (``stream tail``) pass ``bounded=False``."""
        import asyncio

        from a2actl.core.deadline import within
        from a2actl.core.errors import TimeoutError_

        limit = self.max_time
        budget = self.budget()

        async def under_max_time() -> Any:
            from a2actl.transport.channel import quiet_closing_asyncgens

            asyncio.get_running_loop().set_exception_handler(quiet_closing_asyncgens)
            if budget is None or not bounded:
                return await coro
            try:
                return await within(coro, budget)
            except asyncio.TimeoutError as exc:
                given = self.settings.max_time is not None
                raise TimeoutError_(
                    f"gave up after --max-time {limit:g}s"
                    + ("" if given else f" (the default for '{self.command}')"),
                    hint="raise --max-time, or look for the slow phase with -vv",
                ) from exc

        from a2actl.cli.aiorun import run

        t0 = time.monotonic()
        try:
            return run(under_max_time())
        finally:
            self.spent += time.monotonic() - t0

    def read_pending(self) -> None:
        """Read the ``pending`` global files (``read_files``): a FIFO nobody writes blocked before any
        deadline. Sets ``settings.token`` (``--token-file``) and ``settings.tls_data`` (the others:
        ssl could only read them by path, and a FIFO reads once). Raises what ``read_files`` raises,
        and ``UsageError`` (exit 2) for an empty or bad token."""
        import dataclasses

        pending, self.pending = self.pending, ()
        if not pending:
            return
        got = self.read_files(pending)
        token: str | None = self.settings.token
        tls: list[tuple[str, bytes]] = []
        for (option, path), data in zip(pending, got, strict=True):
            if option == "--token-file":
                token = _token_from(path, data)
            else:
                tls.append((path, data))
        self.settings = dataclasses.replace(self.settings, token=token, tls_data=tuple(tls))

    def read_files(self, files: Sequence[tuple[str, str]], limit: int | None = None) -> list[bytes]:
        """The content of each ``(option, path)`` of ``files`` (in order; path ``-``: standard
        input), each path read once in a daemon thread (``core.offloop``) for what is left of
        ``max_time``, before the command's coroutine runs: for files that may not be regular (a
        FIFO, ``<(cmd)``), which block in ``open`` until a writer comes. Together: two FIFOs fed in
        any order do not wait for each other; a path named twice (``--cert P --key P``, one PEM
        holding both) is read once, since a FIFO reads once. The wait counts against ``max_time`` (``spent``: ``run`` gives the
        command only the rest). At most ``limit`` bytes a file (default ``MAX_GLOBAL_FILE_BYTES``).

        Raises ``TimeoutError_`` (exit 5) naming the files not read yet when the deadline passes,
        ``UsageError`` (exit 2) for a file that cannot be read (``-`` with standard input closed
        included) or is over ``limit`` (``"OPTION PATH: over the 64 MiB limit (67,108,864 bytes)"``);
        ``KeyboardInterrupt`` on Ctrl-C/SIGTERM (exit 130)."""
        import asyncio
        import sys

        from a2actl.cli.aiorun import run
        from a2actl.core.deadline import within
        from a2actl.core.errors import TimeoutError_, UsageError
        from a2actl.core.offloop import off_the_loop, over_limit, read_upto

        most = MAX_GLOBAL_FILE_BYTES if limit is None else limit
        first = {p: o for o, p in reversed(files)}  # each path under the first option naming it
        arrived: set[str] = set()

        def reader(option: str, path: str) -> Any:
            def read() -> bytes:
                try:
                    if path == "-":
                        if sys.stdin is None:  # `<&-`: Python's sys.stdin is None
                            raise UsageError(f"cannot read {option} -: standard input is closed")
                        data = read_upto(sys.stdin.buffer, most + 1)
                    else:
                        with open(path, "rb") as fh:  # bounded: /dev/zero never ends
                            data = read_upto(fh, most + 1)
                except OSError as exc:
                    raise UsageError(f"cannot read {option} {path}: {exc.strerror or exc}") from exc
                if len(data) > most:  # as every capped read says it (core.offloop.read_file_capped)
                    raise UsageError(over_limit(f"{option} {path}", most))
                return data

            async def read_one() -> bytes:
                data = await off_the_loop(read, "a2actl-input-file")
                arrived.add(path)
                return data

            return read_one()

        async def read_all() -> list[bytes]:
            paths = list(first)
            got = await asyncio.gather(*(reader(first[p], p) for p in paths))
            by_path = dict(zip(paths, got, strict=True))
            return [by_path[p] for _, p in files]

        if not files:
            return []
        left = self.time_left()
        t0 = time.monotonic()
        try:
            got: list[bytes] = run(read_all() if left is None else within(read_all(), left))
        except asyncio.TimeoutError:  # before any OSError handler: on 3.11+ it is one
            given = self.settings.max_time is not None
            waiting = [(o, p) for o, p in files if p not in arrived] or list(files)
            raise TimeoutError_(
                f"gave up after --max-time {self.max_time:g}s"
                + ("" if given else f" (the default for '{self.command}')")
                + f": {', '.join(f'{o} {p}' for o, p in waiting)} not read yet",
                hint="a FIFO or <(cmd) that never delivers? give the file itself",
            ) from None
        self.spent += time.monotonic() - t0
        return got


#: The most bytes read from a ``--token-file``/``--cacert``/``--cert``/``--key`` that is not a
#: regular file (a FIFO, a device: ``/dev/zero`` never ends). A CA bundle of every public root is
#: about 250 KB.
MAX_GLOBAL_FILE_BYTES = 16 * 1024 * 1024


def _token_from(path: str, data: bytes) -> str:
    """The bearer token in ``--token-file`` ``path``'s content ``data``, checked as a regular file's
    (``a2actl.cli.app.checked_token_text``) and registered as a secret (an ``Output`` may already
    exist). Raises ``UsageError`` (exit 2)."""
    from a2actl.cli.app import checked_token_text
    from a2actl.core.redact import register_secret

    token = checked_token_text(data, path)
    register_secret(token)
    return token


def invocation(ctx: typer.Context) -> Invocation:
    """The ``Invocation`` built by the root callback (a default one when called without it)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Invocation):
        root.obj = Invocation(Settings())
    if not root.obj.command:
        root.obj.command = " ".join(ctx.command_path.split()[1:])
    if root.obj.format == "sarif" and root.obj.command not in SARIF_COMMANDS:
        from a2actl.core.errors import UsageError

        root.obj.format = "table"
        raise UsageError(
            f"-o sarif is only for {', '.join(sorted(SARIF_COMMANDS))}; '{root.obj.command}' writes table, json or jsonl"
        )
    if root.obj.pending:
        root.obj.read_pending()
    return root.obj
