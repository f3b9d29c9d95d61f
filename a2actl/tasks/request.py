"""What ``send`` sends: the options, the message parts read from the command line, ``--fail-on``
states, and the ``--dry-run`` view of the request (with an equivalent curl command, or grpcurl over
gRPC)."""

from __future__ import annotations

import json
import mimetypes
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from a2actl.core.errors import UsageError
from a2actl.core.offloop import read_capped, read_file_capped
from a2actl.protocol.events import PartSpec
from a2actl.protocol.versions import canonical_state, join_url
from a2actl.tasks.results import SendDryRun

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.core.config import Settings
    from a2actl.transport.grpc import GrpcClient

#: States ``--fail-on`` accepts (a task ending in one of them → exit 7; A2A spec §4.1.3 TaskState).
FAIL_STATES = ("failed", "rejected", "canceled", "input-required", "auth-required")


@dataclass
class SendOptions:
    """What ``send`` sends. ``parts`` in order; ``fail_on`` canonical state names; ``message_id`` the
    idempotency key (a new UUID when ``None``); ``no_wait``: 1.0 ``returnImmediately`` / 0.3
    ``blocking: false``."""

    parts: list[PartSpec]
    context_id: str | None = None
    task_id: str | None = None
    stream: bool = False
    no_wait: bool = False
    fail_on: set[str] = field(default_factory=set)
    dry_run: bool = False
    message_id: str | None = None
    show_secrets: bool = False
    #: With ``stream``: the deadline in seconds (``--max-time`` or the command's default), the card
    #: discovery included; it ends the stream with a ``max-time`` summary (exit 5). ``None``: none.
    max_time: float | None = None
    #: Blocking: the seconds of ``--max-time`` left when the send starts (``None``: no deadline). The
    #: GetTask polling of an agent that answered an active state stops before it, naming the task
    #: (``TimeoutError_`` with ``details.taskId``), where the deadline itself named nothing.
    poll_budget: float | None = None


def parse_fail_on(values: list[str]) -> set[str]:
    """``["failed,rejected", "canceled"]`` → canonical names. Raises ``UsageError`` (exit 2) for a
    state outside ``FAIL_STATES``."""
    out: set[str] = set()
    for v in values:
        for name in (x.strip() for x in v.split(",") if x.strip()):
            canon = canonical_state(name)
            if canon not in FAIL_STATES:
                raise UsageError(f"--fail-on {name!r}: use {', '.join(FAIL_STATES)}")
            out.add(canon)
    return out


def build_parts(
    text: str | None,
    data: list[str],
    files: list[str],
    stdin: IO[str] | None = None,
    *,
    text_name: str = "TEXT",
) -> list[PartSpec]:
    """Parts from the command line: TEXT (``-`` reads ``stdin``, default ``sys.stdin``: ``read_stdin``),
    ``--data @file.json`` or inline JSON, ``--file PATH`` (bytes, media type guessed from the name).
    Raises ``UsageError`` (exit 2) for an unreadable file, a file or stdin over
    ``core.config.MAX_INPUT_BYTES`` (64 MiB: no more is read), data that is not JSON, TEXT or stdin that
    is not UTF-8 (bytes Python kept as lone surrogates: sent, they would be ``\\udcXX`` escapes, not
    the text), a closed or empty stdin (zero bytes; whitespace is sent as it is), or nothing to send.
    ``text_name``: how the messages about ``-`` name the text (``send``'s ``TEXT``, ``load run``'s
    ``--text``)."""
    parts: list[PartSpec] = []
    if text is not None:
        where = "TEXT"
        if text == "-":
            text, where = read_stdin(stdin, text_name), "stdin"
            if not text:  # `a2actl send URL - </dev/null`, or a command that printed nothing
                raise UsageError(
                    f"stdin was empty: {text_name} '-' has nothing to send",
                    hint=f"pipe the text in, or give it as {text_name}",
                )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # bytes that are not UTF-8, kept by Python as lone surrogates
            raise UsageError(
                f"{where} is not valid UTF-8 (character {exc.start}): a terminal or shell in another encoding?"
            ) from exc
        parts.append(PartSpec("text", text=text))
    for d in data:
        raw = d
        if d.startswith("@"):
            try:
                raw = read_file_capped(d[1:], f"--data {d}").decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(f"--data {d}: not UTF-8 text (byte {exc.start})") from exc
        # a file is named whole; inline JSON is quoted up to 40 characters
        shown = d if d.startswith("@") else d[:40] + ("…" if len(d) > 40 else "")
        try:
            parts.append(PartSpec("data", data=json.loads(raw)))
        except ValueError as exc:
            raise UsageError(f"--data {shown!r} is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise UsageError(f"--data {shown!r}: JSON nested too deeply to read") from exc
    for f in files:
        p = Path(f)
        content = read_file_capped(f, f"--file {f}")
        parts.append(
            PartSpec(
                "file",
                raw=content,
                media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                filename=p.name,
            )
        )
    if not parts:
        raise UsageError("nothing to send: give TEXT, '-' for stdin, --data or --file")
    return parts


def read_stdin(stdin: IO[str] | None = None, text_name: str = "TEXT") -> str:
    """All of ``stdin`` (default ``sys.stdin``) as text: its bytes (``.buffer``) decoded as UTF-8 here,
    so the locale's decoder never decides (a UTF-8 locale's strict one raised ``UnicodeDecodeError``,
    exit 1 "unexpected"); a stream without ``.buffer`` (``io.StringIO``) is read as text. Raises
    ``UsageError`` (exit 2) when stdin is closed (``<&-``: Python's ``sys.stdin`` is ``None``), cannot
    be read, holds over ``core.config.MAX_INPUT_BYTES`` (64 MiB: no more is read; ``yes | a2actl
    send URL -`` never ends), or is not UTF-8; the messages name the text ``text_name``."""
    import sys

    stream = stdin if stdin is not None else sys.stdin
    if stream is None:
        raise UsageError(
            f"{text_name} '-' reads standard input, which is closed",
            hint=f"pipe the text in, or give it as {text_name}",
        )
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            return stream.read()
        raw = read_capped(buffer, f"{text_name} '-' (stdin)")
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"stdin is not valid UTF-8 (byte {exc.start}): a terminal or shell in another encoding?"
        ) from exc
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        raise UsageError(f"cannot read stdin: {getattr(exc, 'strerror', None) or exc}") from exc


def secret_placeholder(name: str, value: str) -> str:
    """What ``--dry-run`` shows instead of a sensitive header's value: an environment variable to set
    (``Authorization: Bearer $A2ACTL_TOKEN``, ``X-Api-Key: $A2ACTL_HEADER_X_API_KEY``); the scheme of
    ``Basic``/``Token``/``Digest`` values is kept."""
    import re

    scheme, _, rest = value.partition(" ")
    if name.lower() == "authorization" and rest and scheme.lower() == "bearer":
        return f"{scheme} $A2ACTL_TOKEN"
    var = "A2ACTL_HEADER_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    if rest and scheme.lower() in ("basic", "token", "digest"):
        return f"{scheme} ${var}"
    return f"${var}"


def curl_command(
    method: str, url: str, headers: dict[str, str], body: Any, settings: Settings | None = None
) -> str:
    """An equivalent curl command (``-N`` for an SSE request; for an ``https://`` URL the TLS options
    of ``settings``: ``-k``, ``--cacert``, ``--cert``, ``--key``, as ``grpcurl_command`` has them).
    Header values holding a ``$A2ACTL_…`` placeholder are double-quoted so the shell expands them;
    everything else is single-quoted."""
    args = ["curl", "-sS"] + (["-N"] if headers.get("Accept") == "text/event-stream" else [])
    if settings is not None and url.lower().startswith("https:"):
        args += ["-k"] if settings.insecure else []
        for flag, path in (("--cacert", settings.cacert), ("--cert", settings.cert), ("--key", settings.key)):
            args += [flag, path] if path else []
    args += ["-X", method]
    cmd = " ".join(shlex.quote(a) for a in args)
    for k, v in headers.items():
        if "$A2ACTL_" in v:
            cmd += ' -H "' + f"{k}: {v}".replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
        else:
            cmd += " -H " + shlex.quote(f"{k}: {v}")
    if body is not None:
        cmd += " -H 'Content-Type: application/json' --data " + shlex.quote(
            json.dumps(body, ensure_ascii=False)
        )
    return cmd + " " + shlex.quote(url)


def _quoted_header(flag: str, name: str, value: str) -> str:
    """`` -H 'name: value'``; double-quoted when the value holds a ``$A2ACTL_…`` placeholder so the
    shell expands it."""
    if "$A2ACTL_" in value:
        return (
            f' {flag} "'
            + f"{name}: {value}".replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
            + '"'
        )
    return f" {flag} " + shlex.quote(f"{name}: {value}")


def grpcurl_command(
    target: str, method: str, metadata: dict[str, str], body: Any, *, tls: bool, settings: Settings
) -> str:
    """An equivalent ``grpcurl`` command (github.com/fullstorydev/grpcurl): ``-plaintext`` or the TLS
    files (``-cacert``/``-cert``/``-key``), ``-H`` per metadata entry, ``-d`` the request as JSON,
    then the target and ``service/method``. grpcurl needs the schema: from the server's reflection,
    or add ``-import-path DIR -proto a2a.proto`` (``docs/grpc.md``)."""
    cmd = "grpcurl"
    if not tls:
        cmd += " -plaintext"
    for flag, path in (("-cacert", settings.cacert), ("-cert", settings.cert), ("-key", settings.key)):
        if tls and path:
            cmd += f" {flag} " + shlex.quote(path)
    for k, v in metadata.items():
        cmd += _quoted_header("-H", k, v)
    cmd += " -d " + shlex.quote(json.dumps(body, ensure_ascii=False))
    return cmd + " " + shlex.quote(target) + " " + shlex.quote(method.lstrip("/"))


def _grpc_dry_run(
    client: GrpcClient, operation: str, params: dict[str, Any], settings: Settings, show_secrets: bool
) -> SendDryRun:
    """``dry_run`` for a gRPC interface: the metadata (``traceparent`` left out: it is new per call),
    the request message as ProtoJSON (as sent: for 0.3 the 0.3 proto's form) and a ``grpcurl``
    command."""
    from a2actl.core.redact import header_secrets
    from a2actl.transport.grpc import metadata_for

    pairs, _notes = metadata_for(settings, version="0.3" if client.v03 else "1.0")
    metadata: dict[str, str] = {}
    for k, v in pairs:
        if k == "traceparent":
            continue
        secret = k == "authorization" or bool(header_secrets([(k, v)]))
        metadata[k] = v if show_secrets or not secret else secret_placeholder(k, v)
    method = client.method_name(operation)
    body = client.wire_json(operation, params)  # the message as sent (0.3: the 0.3 proto's JSON)
    return SendDryRun(
        method=method,
        url=client.endpoint.target,
        headers=metadata,
        body=body,
        curl="",
        secrets_shown=show_secrets,
        negotiation=client.selection.to_json(),
        grpcurl=grpcurl_command(
            client.endpoint.target, method, metadata, body, tls=client.endpoint.tls, settings=settings
        ),
    )


def dry_run(
    client: AgentClient,
    operation: str,
    params: dict[str, Any],
    settings: Settings,
    show_secrets: bool = False,
) -> SendDryRun:
    """The exact request ``operation`` would send on ``client`` (JSON-RPC: a POST of the envelope;
    HTTP+JSON: the binding's verb and path; gRPC: the metadata and message) and an equivalent curl
    (gRPC: grpcurl) command. Secrets (the token, sensitive ``-H`` values) are shown as ``$A2ACTL_…``
    placeholders unless ``show_secrets``. Raises ``UsageError`` (exit 2) for a body the send would
    refuse to write (``NaN``/``Infinity``: ``protocol.jsondoc.dumps_body``)."""
    from a2actl.core.redact import header_secrets
    from a2actl.protocol.jsondoc import dumps_body
    from a2actl.protocol.jsonrpc import build_request
    from a2actl.protocol.versions import BINDING_HTTP_JSON
    from a2actl.transport.a2a import A2AClient

    if not isinstance(client, A2AClient):
        return _grpc_dry_run(client, operation, params, settings, show_secrets)

    headers = client.headers(streaming=operation == "SendStreamingMessage")
    for k, v in settings.headers:
        headers[k] = v if show_secrets or not header_secrets([(k, v)]) else secret_placeholder(k, v)
    if settings.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {settings.token if show_secrets else '$A2ACTL_TOKEN'}"
    if client.binding == BINDING_HTTP_JSON:
        verb, path = client.wire.rest[operation]
        url = join_url(client.url, path)
        body: Any = params
        method = f"{verb} {path}"
    else:
        verb, url, method = "POST", client.url, client.wire.methods[operation]
        body = build_request(method, params, "a2actl-dry-run")
    dumps_body(body, url)  # what the send would refuse (NaN), the dry run refuses: exit 2
    return SendDryRun(
        method=method,
        url=url,
        headers=headers,
        body=body,
        curl=curl_command(verb, url, headers, body, settings),
        secrets_shown=show_secrets,
        negotiation=client.selection.to_json(),
    )
