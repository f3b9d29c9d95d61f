"""Root of the CLI: global options, the error boundary and the command groups.

(Over 400 lines on purpose: the root group, the global options and the error boundary belong
together, and the lazy command table is what keeps ``--help`` from importing any command.)

Global options are declared once here and accepted anywhere on the command line
(``a2actl -o json card get URL`` and ``a2actl card get URL -o json`` are the same): the root group
moves them in front of the subcommand before parsing.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

#: typer 0.29 vendors click as ``typer._click``: its exceptions are the ones raised here.
from typer._click import exceptions as _click_exceptions
from typer.core import TyperGroup
from typer.models import DefaultPlaceholder

from a2actl import __version__
from a2actl.cli.context import Invocation, invocation
from a2actl.core.config import ENV_DEBUG, ENV_OUTPUT, ENV_TOKEN, Settings, env_flag
from a2actl.core.errors import A2ACtlError, StdoutUnwritable, UsageError
from a2actl.core.exit_codes import ExitCode


class OutputFormat(str, Enum):
    """``-o``: human tables, one JSON document, or JSON Lines (docs/output-formats.md); ``sarif``
    (SARIF 2.1.0) only for ``caps lint``, any other command refuses it with exit 2."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"


class A2AVersion(str, Enum):
    """``--a2a-version``: negotiate from the card (``auto``) or force a wire version."""

    auto = "auto"
    v0_3 = "0.3"
    v1_0 = "1.0"


class Binding(str, Enum):
    """``--binding``: the card's preference (``auto``) or one protocolBinding."""

    auto = "auto"
    jsonrpc = "JSONRPC"
    http_json = "HTTP+JSON"
    grpc = "GRPC"


#: The subcommands, built on first use: name → (module, attribute, short help). Typer turns each
#: command's annotations into click objects when the tree is built (~1 ms a command), and
#: ``--help``/``--version`` need only the names and short help, so nothing is built for them.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "caps": (
        "a2actl.cli.caps",
        "app",
        "Capability schemas: validate, snapshot, diff, fingerprint; signed cards: verify, sign; security lint.",
    ),
    "card": ("a2actl.cli.card", "app", "Agent cards: fetch, show."),
    "dlq": ("a2actl.cli.dlq", "app", "Dead letters: list, show, stats, replay, purge."),
    "demo": ("a2actl.cli.demo", "demo", "Start the sandbox agent and show a real probe of it."),
    "exporter": (
        "a2actl.cli.exporter",
        "app",
        "Prometheus exporter: /probe?target=URL like blackbox_exporter, /metrics for an inventory.",
    ),
    "fleet": ("a2actl.cli.fleet", "app", "Fleets: probe thousands of agents, a funnel report, merge shards."),
    "handshake": ("a2actl.cli.handshake", "app", "Handshake timing: discovery + negotiation + first RPC."),
    "load": ("a2actl.cli.load", "app", "Load tests: open or closed load, A2A scenarios, thresholds."),
    "push": ("a2actl.cli.push", "app", "Push notifications: a webhook receiver that checks deliveries."),
    "sandbox": ("a2actl.cli.sandbox", "app", "The embedded reference A2A agent (a2a-sdk), with fault knobs."),
    "sessions": ("a2actl.cli.sessions", "app", "Sessions: list, show, kill, and find leaks."),
    "send": ("a2actl.cli.tasks", "send", "Send a message (text, data, file parts) and show the task."),
    "smoke": (
        "a2actl.cli.smoke",
        "app",
        "CI smoke tests: run a suite (JUnit out), init one from an agent, validate one.",
    ),
    "stream": (
        "a2actl.cli.stream",
        "app",
        "Streams: follow SSE and WebSocket streams with timing, heartbeats and an audit.",
    ),
    "task": ("a2actl.cli.tasks", "task_app", "Tasks: get, list, cancel, subscribe."),
}


def _echo_to_stdout(text: str, color: bool | None = None) -> None:
    """``text`` and a newline on stdout (``--help``, ``--version``). A stdout that cannot take it (a
    full disk, ``> /dev/full``) is one line on stderr and exit 2 (``a2actl.stdio.stdout_failed``:
    it was a traceback, or exit 1 "unexpected OSError"); a reader gone away (``| head``) is not an
    error: the caller goes on to exit 0."""
    try:
        typer.echo(text, color=color)
    except OSError as exc:
        from a2actl.stdio import stdout_failed

        stdout_failed(exc)


def _show_help(ctx: Any, _param: Any, value: bool) -> None:
    """The ``-h``/``--help`` callback of every command: click's ``show_help``, printing through
    ``_echo_to_stdout`` (exit 2 for a stdout that cannot be written)."""
    if value and not ctx.resilient_parsing:
        _echo_to_stdout(ctx.get_help(), color=ctx.color)
        ctx.exit()


class _HelpToStdout:
    """Mixin for every command and group of the CLI: its help option prints with ``_show_help``."""

    def get_help_option(self, ctx: Any) -> Any:
        """Click's help option, its callback ``_show_help``."""
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.callback = _show_help
        return option


class _Group(_HelpToStdout, TyperGroup):
    """A subcommand group (``card``, ``task``, …): ``_HelpToStdout``."""


class _Command(_HelpToStdout, typer.core.TyperCommand):
    """A subcommand (``card get``, ``send``, …): ``_HelpToStdout``."""


def _use_help_classes(obj: typer.Typer) -> None:
    """Build ``obj``'s groups as ``_Group`` and its commands as ``_Command`` (those that name no class
    of their own: typer's default), through its sub-apps."""

    def plain(cls: Any, default: type) -> bool:
        return cls is None or cls is default or isinstance(cls, DefaultPlaceholder)

    if plain(obj.info.cls, TyperGroup):
        obj.info.cls = _Group
    for command in obj.registered_commands:
        if plain(command.cls, typer.core.TyperCommand):
            command.cls = _Command
    for group in obj.registered_groups:
        if group.typer_instance is not None:
            _use_help_classes(group.typer_instance)
        if plain(group.cls, TyperGroup):
            group.cls = _Group


def _build_command(name: str) -> Any:
    import importlib

    module, attr, _ = LAZY_COMMANDS[name]
    obj = getattr(importlib.import_module(module), attr)
    is_group = isinstance(obj, typer.Typer)
    if not is_group:  # a plain command function
        single = typer.Typer()
        single.command(name, cls=_Command)(obj)
        obj = single
    _use_help_classes(obj)
    obj.rich_markup_mode = None  # plain help, like the root's
    obj._add_completion = False  # completion options belong to the root only
    # get_group keeps a one-command group (`card get`) a group; get_command would collapse it.
    cmd = typer.main.get_group(obj) if is_group else typer.main.get_command(obj)
    cmd.name = name
    return cmd


def _completion_to_stdout(callback: Any) -> Any:
    """typer's ``--show-completion`` callback ``callback``, its script printed as ``--help`` is
    (``_echo_to_stdout``): a stdout that cannot take it (``> /dev/full``) is one line on stderr and
    exit 2 (it was typer's traceback, exit 1); a reader gone away (``| head``) ends quietly, exit 0.
    The callback writes nothing but the script to stdout, so its ``OSError`` is stdout's."""

    def show(ctx: Any, param: Any, value: Any) -> Any:
        try:
            return callback(ctx, param, value)
        except OSError as exc:
            from a2actl.stdio import stdout_failed

            stdout_failed(exc)  # exit 2, or returns for a broken pipe
            raise SystemExit(0) from None

    show.a2actl_stdout = True  # type: ignore[attr-defined]
    return show


class A2AGroup(_HelpToStdout, TyperGroup):
    """Root group: hoists global options, builds subcommands lazily and converts errors to one line
    plus an exit code; its help, as every command's, is ``_show_help``'s, and so is the
    ``--show-completion`` script's writing (``_completion_to_stdout``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        """Click's parameters, ``--show-completion``'s callback wrapped by ``_completion_to_stdout``."""
        params: list[Any] = super().get_params(ctx)
        for param in params:
            callback = param.callback
            if param.name == "show_completion" and callback is not None:
                if not getattr(callback, "a2actl_stdout", False):
                    param.callback = _completion_to_stdout(callback)
        return params

    def list_commands(self, ctx: Any) -> list[str]:
        """Every subcommand name, built or not, sorted."""
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The subcommand ``cmd_name``, built on first use (``None`` when there is none)."""
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self.commands[cmd_name] = _build_command(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Click's resolution, with "Did you mean …?" for a mistyped subcommand."""
        try:
            return super().resolve_command(ctx, args)
        except _click_exceptions.UsageError as exc:
            import difflib

            name = args[0] if args else ""
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.6)
            if close and "No such command" in str(exc.message):
                exc.message = f"No such command {name!r}. Did you mean {' or '.join(repr(c) for c in close)}?"
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The "Commands" section of ``--help`` from the short help in ``LAZY_COMMANDS``, so
        nothing is built to print it."""
        rows = [
            (
                name,
                self.commands[name].get_short_help_str(80)
                if name in self.commands
                else LAZY_COMMANDS[name][2],
            )
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Register URL credentials for redaction, then parse with the global options hoisted."""
        if any("://" in a for a in args):
            from a2actl.core.redact import register_url

            for a in args:  # every URL argument's userinfo and credential query values: never printed
                if "://" in a:
                    register_url(a)
        hoisted = _hoist_globals(self, args)
        line = list(hoisted)  # Click's parser consumes the list it is given
        try:
            return super().parse_args(ctx, hoisted)
        except _click_exceptions.UsageError as exc:  # the root's own options (-o json --bogus …)
            _usage_document(ctx, exc, line)
            raise

    def invoke(self, ctx: Any) -> Any:
        """The error boundary: an ``A2ACtlError`` is one line (and the JSON error object with
        ``-o json``) plus its exit code; Ctrl-C is 130; a closed pipe ends quietly; a standard output
        that cannot be written (a full disk) is exit 2, reported on stderr only (standard output is
        pointed at ``/dev/null`` first); anything else is exit 1 with a hint to rerun with ``--debug``."""
        try:
            return super().invoke(ctx)
        except StdoutUnwritable as err:
            _stdout_to_devnull()  # the report, and the exit's flush, must not fail on it again
            _report(ctx, err)
            raise typer.Exit(int(err.exit_code)) from None
        except A2ACtlError as err:
            _report(ctx, err)
            raise typer.Exit(int(err.exit_code)) from None
        except _click_exceptions.UsageError as exc:  # the subcommand's line: unknown option, bad value, …
            _usage_document(ctx, exc)
            raise
        except (_click_exceptions.ClickException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("a2actl: interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            _stdout_to_devnull()
            raise typer.Exit(0) from None
        except Exception as exc:  # noqa: BLE001 - the boundary: one line unless --debug
            if _debug(ctx):
                raise
            _report(
                ctx,
                A2ACtlError(
                    f"unexpected {type(exc).__name__}: {exc}", hint="rerun with --debug for a traceback"
                ),
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None


def _debug(ctx: Any) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or env_flag(ENV_DEBUG)


def _report(ctx: Any, err: A2ACtlError) -> None:
    """``err`` on stderr (one line) and, with ``-o json``/``jsonl``, its error object on stdout. A
    stdout that cannot take the object (a full disk) is pointed at ``/dev/null`` and said in one
    more line: the exit code stays ``err``'s, whose line is already on stderr."""
    obj = ctx.find_root().obj
    output = obj.format if isinstance(obj, Invocation) else os.environ.get(ENV_OUTPUT, "table")
    from a2actl.render.output import Output

    secrets = obj.settings.secrets() if isinstance(obj, Invocation) else []
    out = Output(output if output in ("table", "json", "jsonl") else "table", secrets=secrets)
    if isinstance(obj, Invocation) and obj._out is not None:
        out.writer = obj._out.writer  # -o json: the records the command kept so far go with the error
    try:
        out.error(err.to_json())
    except StdoutUnwritable as failed:
        _stdout_to_devnull()
        sys.stderr.write(f"a2actl: {failed.message}\n")


def _usage_document(ctx: Any, exc: Any, args: list[str] | None = None) -> None:
    """A usage error Click found while parsing the command line (an unknown option or command, a
    missing argument, a value out of range or not a choice): with ``-o json``/``jsonl``, its error
    object on stdout (``{"error": {"code": "usage", "message", "exitCode": 2}}``), as every other
    failure writes one, so ``| jq`` always gets a document. Click still prints its usage text on
    stderr and exits 2. ``args``: the root's command line, when the root's own parse failed and
    ``-o`` is not known yet."""
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, Invocation):
        fmt: Any = obj.format
    else:
        fmt = root.params.get("output")
        if fmt is None and args is not None:
            fmt = _output_in(args)
        if fmt is None:
            fmt = os.environ.get(ENV_OUTPUT, "table")
    fmt = getattr(fmt, "value", fmt)
    if fmt not in ("json", "jsonl"):
        return
    from a2actl.render.output import Output

    message = exc.format_message()
    if isinstance(exc, _click_exceptions.NoArgsIsHelpError):  # a group without its command: the help
        message = f"missing command (see '{exc.ctx.command_path} -h')"
    try:
        Output(str(fmt)).data(UsageError(message).to_json())
    except StdoutUnwritable:
        _stdout_to_devnull()


def _output_in(args: list[str]) -> str | None:
    """The last ``-o``/``--output`` value of a command line (``None`` without one); stops at ``--``."""
    found: str | None = None
    for i, a in enumerate(args):
        if a == "--":
            break
        if a in ("-o", "--output") and i + 1 < len(args):
            found = args[i + 1]
        elif a.startswith("--output="):
            found = a.split("=", 1)[1]
        elif a.startswith("-o") and len(a) > 2:
            found = a[2:]
    return found


def _stdout_to_devnull() -> None:
    """Point standard output's descriptor at ``/dev/null``: what is still buffered, the error object
    of ``-o json`` and the flush at exit then go nowhere instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


#: Subcommands with an option of the same name as a root option: after the subcommand, the name is
#: the subcommand's (``caps sign --key`` is the signing key, not the mTLS client key ``--key``).
_OWN_OPTIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("caps", "sign"): ("--key",),
    ("caps", "verify"): ("--key",),
}


def _hoist_globals(group: TyperGroup, args: list[str]) -> list[str]:
    """Move the root's own options found after the subcommand to the front, so global options work
    in any position. Stops at ``--``."""
    takes_value: dict[str, bool] = {}
    for p in group.params:
        if isinstance(p, typer.core.TyperOption):
            for name in p.opts:
                takes_value[name] = not (p.is_flag or p.count)
    for pair in zip(args, args[1:], strict=False):
        for own in _OWN_OPTIONS.get(pair, ()):
            takes_value.pop(own, None)  # the subcommand's own option of the same name wins after it
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        name = a.split("=", 1)[0] if a.startswith("--") else a
        if name in takes_value:
            front.append(a)
            if takes_value[name] and "=" not in a and i + 1 < len(args):
                front.append(args[i + 1])
                i += 1
        elif a.startswith("-v") and set(a[1:]) == {"v"}:
            front.append(a)
        elif len(a) > 2 and a[:2] in ("-o", "-H") and a[:2] in takes_value:
            front.append(a)  # -ojson / -H'X: y'
        else:
            rest.append(a)
        i += 1
    return front + rest


def _version(value: bool) -> None:
    if value:
        _echo_to_stdout(f"a2actl {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=A2AGroup,
    name="a2actl",
    help="Debug and test A2A (Agent2Agent) deployments: handshake timing, agent cards and capability "
    "schemas, messages, tasks and streams, a sandbox agent.\n\n"
    "Examples:\n\n"
    "  a2actl demo\n\n"
    "  a2actl handshake probe http://localhost:9999 -n 50 -c 4 --budget 5s\n\n"
    "  a2actl caps diff http://localhost:9999 --expect expected-caps.json\n\n"
    "  a2actl stream tail http://localhost:9999 --send hi --heartbeat 10s\n\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 unreachable, 4 auth, 5 timeout, 6 protocol violation, "
    "7 check failed, 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _checked_token(token: str, source: str) -> str:
    """``token`` (from ``source``: ``--token-file PATH``, ``--token-env NAME`` or ``A2ACTL_TOKEN``)
    checked by ``a2actl.core.headers.checked_token``: one leading ``Bearer`` word dropped, with a
    note on stderr naming ``source`` (never the token); a token no header can carry (a line break
    inside, a control or non-ASCII character) is a usage error (exit 2) naming the source, never the
    value."""
    from a2actl.core.headers import checked_token

    token, note = checked_token(token, source)
    if note:
        sys.stderr.write(f"a2actl: note: {note}\n")
    return token


def checked_token_text(data: bytes, token_file: str | Path) -> str:
    """The token in ``--token-file`` ``token_file``'s content ``data``: UTF-8 (one leading byte order
    mark dropped: Notepad and PowerShell 5 write one), stripped, checked (``_checked_token``). Raises
    ``UsageError`` (exit 2) for text that is not UTF-8, empty, or no header can carry; the message
    never quotes the content."""
    try:
        token = data.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--token-file {token_file} is not UTF-8 text: {exc.reason}") from exc
    if not token:
        raise UsageError(f"--token-file {token_file} is empty")
    return _checked_token(token, f"--token-file {token_file}")


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file, or cannot be looked at (its read then says why): anything
    else (a FIFO, ``<(cmd)``, a device) is read later under the deadline (``Invocation.pending``).
    ``core.offloop.is_regular``, imported only when a file option is given."""
    from a2actl.core.offloop import is_regular

    return is_regular(str(path))


def _read_token(token_file: Path | None, token_env: str | None) -> str | None:
    """The bearer token from ``--token-file`` (a regular file: at most ``MAX_GLOBAL_FILE_BYTES`` read,
    as from a FIFO), ``--token-env`` or ``A2ACTL_TOKEN``, checked (``_checked_token``: one leading
    ``Bearer `` scheme word dropped). Raises ``UsageError`` (exit 2) for a file that cannot be read
    or is over the limit, and what ``_checked_token`` raises."""
    if token_file is not None:
        from a2actl.cli.context import MAX_GLOBAL_FILE_BYTES
        from a2actl.core.offloop import over_limit, read_upto

        try:
            with token_file.open("rb") as fh:  # bounded, as a FIFO's read: a file named by mistake
                data = read_upto(fh, MAX_GLOBAL_FILE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read --token-file {token_file}: {exc.strerror or exc}") from exc
        if len(data) > MAX_GLOBAL_FILE_BYTES:
            raise UsageError(over_limit(f"--token-file {token_file}", MAX_GLOBAL_FILE_BYTES))
        return checked_token_text(data, token_file)
    if token_env is not None:
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise UsageError(f"--token-env {token_env}: that environment variable is not set or empty")
        return _checked_token(token, f"--token-env {token_env}")
    token = os.environ.get(ENV_TOKEN, "").strip()
    return _checked_token(token, ENV_TOKEN) if token else None


def _parse_headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    """``-H 'Name: value'`` pairs, checked here (exit 2) so no transport meets a value it cannot send:
    the rule of ``a2actl.core.headers.header_problem`` (an RFC 9110 token name the client does not
    own, a printable ASCII value: httpx, aiohttp and gRPC metadata all refuse line breaks and control
    characters; non-ASCII would be sent differently by each). The error never echoes a value (it may
    be a secret)."""
    from a2actl.core.headers import header_problem, is_field_name

    out = []
    for v in values:
        name, sep, value = v.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not is_field_name(name):
            shown = f" {name[:40]!r}" if sep else " (no ':')"
            raise UsageError(f"bad --header name{shown}", hint="use -H 'Name: value'")
        problem = header_problem(name, value)
        if problem:
            raise UsageError(f"bad --header {name}: {problem[0]}", hint=problem[1])
        out.append((name, value))
    if out:
        from a2actl.core.redact import header_secrets

        sensitive = sorted({n for n, v in out if header_secrets([(n, v)])})
        if sensitive:  # once per run: argv is readable by other users (ps, /proc, shell history)
            sys.stderr.write(
                f"a2actl: warning: -H {', '.join(sensitive)} puts a secret on the command line, "
                "where other users can read it (ps, /proc, shell history); use A2ACTL_TOKEN, "
                "--token-env NAME or --token-file PATH\n"
            )
    return tuple(out)


def _seconds(option: str, value: str | None) -> float | None:
    """A global duration option (``--connect-timeout``, ``--timeout``, ``--max-time``): seconds, > 0."""
    from a2actl.cli.params import duration

    return duration(value, option, positive=True)


@app.callback()
def root(
    ctx: typer.Context,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "-o",
            "--output",
            envvar=ENV_OUTPUT,
            help="table for people; json (one document) or jsonl (one object per line) for scripts.",
        ),
    ] = OutputFormat.table,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "-H",
            "--header",
            metavar="'NAME: VALUE'",
            help="Extra request header, repeatable. Replaces a2actl's own of that name: "
            "'A2A-Version: 0.3' is sent as given (the methods still follow --a2a-version), "
            "'Authorization' wins over the token.",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            metavar="PATH",
            help="Read the bearer token from a file. Default: the A2ACTL_TOKEN environment variable.",
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env", metavar="NAME", help="Read the bearer token from this environment variable."
        ),
    ] = None,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", metavar="FILE", help="CA bundle to verify the agent's TLS certificate."),
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", metavar="FILE", help="Client certificate (PEM) for mTLS.")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", metavar="FILE", help="Client private key (PEM) for mTLS.")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Do not verify TLS certificates (warns).")
    ] = False,
    connect_timeout: Annotated[
        str, typer.Option("--connect-timeout", metavar="DURATION", help="TCP/TLS connect timeout, e.g. 10s.")
    ] = "10s",
    timeout: Annotated[
        str, typer.Option("--timeout", metavar="DURATION", help="Timeout per read, e.g. 30s.")
    ] = "30s",
    max_time: Annotated[
        str | None,
        typer.Option(
            "--max-time",
            metavar="DURATION",
            help="Bound on the whole operation, e.g. 60s. Each command has a default (docs/exit-codes.md: 60s for one request, longer for probes, sends, streams and replays).",
        ),
    ] = None,
    location: Annotated[
        bool,
        typer.Option(
            "-L",
            "--location",
            help=(
                "Follow HTTP redirects (as curl -L); without it a 3xx is reported, never read as the"
                " answer. A redirect to another origin gets neither the token nor any secret -H header."
            ),
        ),
    ] = False,
    a2a_version: Annotated[
        A2AVersion, typer.Option("--a2a-version", help="Protocol version to speak; auto picks from the card.")
    ] = A2AVersion.auto,
    binding: Annotated[
        Binding, typer.Option("--binding", help="Protocol binding; auto picks from the card.")
    ] = Binding.auto,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            help="-v wire headers, -vv bodies and timings (stderr; secrets redacted).",
        ),
    ] = 0,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks (never with local variables). [env var: A2ACTL_DEBUG]"),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options; they may appear before or after the command."""
    inv = Invocation(Settings(), format=output.value, verbose=verbose, debug=debug or env_flag(ENV_DEBUG))
    ctx.obj = inv  # set early so errors below render in the chosen format
    # a FIFO or <(cmd) is read once the command's deadline is known (invocation): it blocked here,
    # before any --max-time
    named = (("--token-file", token_file), ("--cacert", cacert), ("--cert", cert), ("--key", key))
    inv.pending = tuple(
        (option, str(path)) for option, path in named if path is not None and not _regular(path)
    )
    token_later = token_file is not None and not _regular(token_file)
    inv.settings = Settings(
        headers=_parse_headers(header or []),
        token=None if token_later else _read_token(token_file, token_env),
        cacert=str(cacert) if cacert else None,
        cert=str(cert) if cert else None,
        key=str(key) if key else None,
        insecure=insecure,
        connect_timeout=_seconds("--connect-timeout", connect_timeout) or 10.0,
        read_timeout=_seconds("--timeout", timeout) or 30.0,
        max_time=_seconds("--max-time", max_time),
        follow_redirects=location,
        a2a_version=a2a_version.value,
        binding=binding.value,
    )
    if key and not cert:
        raise UsageError("--key needs --cert")
    if insecure:
        inv.out.warn("--insecure: TLS certificates are not verified")


def main() -> None:
    """Console-script entry point (also ``python -m a2actl``): the program is always ``a2actl``, so
    help, errors and the shell-completion variable ``_A2ACTL_COMPLETE`` are the same either way.
    A closed stdout is refused (exit 2, nothing done) and a closed stderr made ``/dev/null``
    first (``a2actl.stdio``): both crashed with a traceback once a line was written."""
    from a2actl.stdio import refuse_unusable_streams

    refuse_unusable_streams()
    app(prog_name="a2actl")


__all__ = ["app", "invocation", "main"]
