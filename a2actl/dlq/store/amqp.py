"""RabbitMQ dead-letter queues as a store (``docs/dlq.md``, "RabbitMQ"), through aio-pika.

Source: ``amqp://USER@HOST:5672/VHOST?queue=NAME`` (``amqps://`` for TLS, port 5671 by default,
with the global ``--cacert``/``--cert``/``--key``/``--insecure``). The password is never on the
command line: ``password-env=NAME`` (an environment variable), ``password-file=PATH``, else
``$A2ACTL_AMQP_PASSWORD``; a URL with a password in it is refused (exit 2). Without a user name the
broker's default ``guest`` is used. Other query parameters: ``to=URL`` (the agent for bare bodies
without a target header), ``work=NAME`` (producers only: the work queue, default ``NAME.work``).

Reading never loses or reorders a message: ``list``, ``show`` and ``stats`` consume the queue with
manual acknowledgement and a bounded prefetch (``AmqpBackend._messages``; the effect of
``rabbitmqadmin get ackmode=ack_requeue_true``, without a round trip per message) up to the count
the queue had when the read started, and then close their channel, which returns every unacknowledged message to its
place (RabbitMQ requeues in the original order). A listing therefore holds the messages it has read
until it ends. A replay holds what it reads the same way and acknowledges a message only after the
agent acknowledged it (or, with ``--to-broker``, after the broker confirmed its republication); a
killed replay's connection drops and the broker requeues everything it held.

The entry of a message (``entry_of``): a body in a2actl's entry format (what the sandbox worker
dead-letters) is taken as it is; a bare JSON-RPC request (``{"jsonrpc", "method", "params"}``) or an
HTTP+JSON ``SendMessageRequest`` body (``{"message": …}``) from any producer becomes ``request``,
with the target from the ``x-a2a-target`` header (``x-a2a-protocol-binding``,
``x-a2a-protocol-version``, ``x-a2a-tenant``) or ``to=``. The ``x-death`` header the broker adds
when it dead-letters gives ``attempts`` (its largest ``count``), ``lastError`` (``reason``:
``rejected`` / ``expired`` / ``maxlen`` / ``delivery_limit``, or the producer's ``x-a2a-error``,
``x-a2a-error-code``, ``x-a2a-error-class`` headers), ``enqueuedAt`` (its ``time``) and ``source``
(the queue it died in); the full ``x-death`` and ``x-first-death-*`` go to the entry's ``amqp``
member (``dlq show``). The id is the message's ``message_id`` property, else the body's ``id``, else
``amqp-`` and a hash of the body and its first death.

RabbitMQ messages cannot be changed in place: an entry a replay could not deliver stays as it was,
``x-death`` intact, and goes back to its place when the replay ends; its new attempts and error are
in the replay's results, not in the queue.

aio-pika is imported inside this module's functions only (``--help`` stays cheap); the module is
imported by ``a2actl.dlq.store.backends`` and ``local`` only when a source is ``amqp(s)://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from a2actl.core.errors import AuthError, ProtocolViolation, UnreachableError, UsageError
from a2actl.core.units import format_timestamp
from a2actl.dlq.store.entry import PERMANENT, TRANSIENT, Entry, Invalid, OnInvalid, check, now_iso
from a2actl.dlq.store.extras import require_modules
from a2actl.dlq.store.lock import POLL, LeaseLost, Notice, SourceLocked

if TYPE_CHECKING:
    from a2actl.core.config import Settings

T = TypeVar("T")

#: The environment variable with the password when the URL names none.
ENV_PASSWORD = "A2ACTL_AMQP_PASSWORD"
#: Headers a producer may set (``docs/dlq.md``, "RabbitMQ").
H_TARGET, H_BINDING, H_VERSION, H_TENANT, H_METHOD = (
    "x-a2a-target",
    "x-a2a-protocol-binding",
    "x-a2a-protocol-version",
    "x-a2a-tenant",
    "x-a2a-method",
)
H_ERROR, H_ERROR_CODE, H_ERROR_CLASS = "x-a2a-error", "x-a2a-error-code", "x-a2a-error-class"
#: Dead-letter reasons that say the message may go through later (the rest are permanent).
_TRANSIENT_REASONS = ("expired", "maxlen", "rejected")
_OURS = ("queue", "password-env", "password-file", "to", "work")
#: The most a ``password-file=`` is read of (bytes): a password, not a document.
_PASSWORD_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class AmqpSource:
    """A parsed ``amqp(s)://`` source. ``url`` is the source as given (it carries no password)."""

    url: str
    tls: bool
    host: str
    port: int
    vhost: str
    user: str | None
    queue: str
    password_env: str | None
    password_file: str | None
    to: str | None
    work: str

    def password(self) -> str | None:
        """From ``password-file=``, ``password-env=`` or ``$A2ACTL_AMQP_PASSWORD`` (``None``: none
        given). Raises ``UsageError`` (exit 2) for an unreadable or empty file, an unset variable."""
        from a2actl.core.redact import register_secret

        value: str | None = None
        if self.password_file is not None:
            from a2actl.core.offloop import read_file_capped

            path = Path(self.password_file).expanduser()
            # at most 64 KiB: /dev/zero or <(yes) would grow until memory ran out
            raw = read_file_capped(str(path), f"{self.url}: password-file {path}", _PASSWORD_FILE_BYTES)
            try:
                value = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise UsageError(f"{self.url}: password-file {path} is not UTF-8 text") from exc
            if not value:
                raise UsageError(f"{self.url}: password-file {path} is empty")
        elif self.password_env is not None:
            value = os.environ.get(self.password_env, "").strip()
            if not value:
                raise UsageError(
                    f"{self.url}: password-env {self.password_env}: that environment variable is not set or empty"
                )
        else:
            value = os.environ.get(ENV_PASSWORD, "").strip() or None
        register_secret(value)
        return value


def parse_source(url: str) -> AmqpSource:
    """Parse ``amqp(s)://[USER@]HOST[:PORT]/[VHOST]?queue=NAME[&password-env=NAME|&password-file=PATH]
    [&to=URL][&work=NAME]``. The vhost is the percent-decoded path (``/`` when empty; ``%2F`` is
    ``/``). Raises ``UsageError`` (exit 2) without ``queue=``, with a password in the URL (it is
    never echoed), for a bad port or both password options."""
    from a2actl.core.redact import register_secret

    try:
        parts = urlsplit(url)
        port_given = parts.port
    except ValueError as exc:
        raise UsageError(f"{_shown(url)}: not a valid amqp:// URL ({exc})") from exc
    if parts.password is not None:
        register_secret(parts.password)  # masked wherever it might still show up
        raise UsageError(
            f"{_shown(url)}: do not put the password in the URL (the command line is readable by other users)",
            hint=f"give it in an environment variable (password-env=NAME in the URL, or {ENV_PASSWORD}) "
            "or a file (password-file=PATH)",
        )
    q = parse_qs(parts.query, keep_blank_values=True)
    queue = q.get("queue", [""])[0]
    if not queue:
        raise UsageError(
            f"{url}: name the dead-letter queue, e.g. amqp://guest@localhost:5672/%2F?queue=a2a.dlq"
        )
    if "password-env" in q and "password-file" in q:
        raise UsageError(f"{url}: give password-env= or password-file=, not both")
    unknown = sorted(k for k in q if k not in _OURS)
    if unknown:
        raise UsageError(
            f"{url}: unknown parameter(s) {', '.join(unknown)}", hint="known: " + ", ".join(_OURS)
        )
    if not parts.hostname:
        raise UsageError(f"{url}: no host")
    tls = parts.scheme == "amqps"
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return AmqpSource(
        url=url,
        tls=tls,
        host=parts.hostname,
        port=port_given or (5671 if tls else 5672),
        vhost=unquote(path) or "/",
        user=unquote(parts.username) if parts.username else None,
        queue=queue,
        password_env=q["password-env"][0] if "password-env" in q else None,
        password_file=q["password-file"][0] if "password-file" in q else None,
        to=q["to"][0] if q.get("to", [""])[0] else None,
        work=q["work"][0] if q.get("work", [""])[0] else queue + ".work",
    )


def _shown(url: str) -> str:
    """``url`` with any userinfo masked (for the messages of a refused URL)."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)
    if "@" in host[0]:
        host[0] = "***@" + host[0].rsplit("@", 1)[1]
    return scheme + sep + "/".join(host)


# -- the entry of a message ------------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    """A header value as JSON (AMQP timestamps as RFC 3339, bytes as text)."""
    if isinstance(v, datetime):
        return format_timestamp((v if v.tzinfo else v.replace(tzinfo=timezone.utc)).timestamp())
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _text(v: Any) -> str | None:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return v if isinstance(v, str) and v else None


def _name(v: Any) -> str | None:
    """A header's text, keeping ``""`` (the default exchange's name)."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return v if isinstance(v, str) else None


def death_of(headers: dict[str, Any]) -> dict[str, Any]:
    """The ``amqp`` member of an entry: ``{"xDeath": [...], "firstDeath": {"queue", "reason",
    "exchange"}}`` from the headers RabbitMQ sets when it dead-letters (``x-death``, newest first;
    ``x-first-death-*``). Empty members are left out."""
    out: dict[str, Any] = {}
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths:
        out["xDeath"] = _jsonable(deaths)
    first = {
        k: _name(headers.get(f"x-first-death-{k}"))
        for k in ("queue", "reason", "exchange")
        if f"x-first-death-{k}" in headers
    }
    if first:
        out["firstDeath"] = first
    return out


def _request_of(body: Any, headers: dict[str, Any]) -> dict[str, Any] | None:
    """``{"method", "params"}`` of a bare JSON-RPC request or an HTTP+JSON ``SendMessageRequest``."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("method"), str) and "jsonrpc" in body:
        return {"method": body["method"], "params": body.get("params")}
    if isinstance(body.get("message"), dict):
        return {"method": _text(headers.get(H_METHOD)) or "SendMessage", "params": body}
    return None


def entry_of(
    body: bytes,
    headers: dict[str, Any] | None,
    message_id: str | None = None,
    timestamp: datetime | None = None,
    to: str | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The entry of one dead-lettered message (see the module docstring): ``(entry, None)`` when
    it is valid, ``(record, why)`` when not (``record`` holds what could be read: the body as text
    when it is not JSON). ``to``: the target for bare bodies without an ``x-a2a-target`` header."""
    headers = headers or {}
    amqp = death_of(headers)
    raw_deaths = headers.get("x-death")
    deaths: list[Any] = raw_deaths if isinstance(raw_deaths, list) else []
    newest = deaths[0] if deaths and isinstance(deaths[0], dict) else {}
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    digest = hashlib.sha256(
        bytes(body) + json.dumps(_jsonable(deaths[-1:] if deaths else []), sort_keys=True).encode()
    ).hexdigest()[:16]
    eid = message_id or (doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None)
    eid = eid or "amqp-" + digest
    if isinstance(doc, dict) and isinstance(doc.get("request"), dict) and "target" in doc:
        entry = dict(doc)  # a2actl's own entry format
        entry["id"] = eid
    else:
        request = _request_of(doc, headers)
        if request is None:
            why = (
                "the body is not JSON"
                if doc is None
                else "the body is not an A2A request or a dead-letter entry"
            )
            rec: dict[str, Any] = {
                "id": eid,
                "body": doc if doc is not None else body.decode("utf-8", "replace"),
            }
            if amqp:
                rec["amqp"] = amqp
            return rec, why
        url = _text(headers.get(H_TARGET)) or to or ""
        binding = _text(headers.get(H_BINDING)) or "JSONRPC"
        target: dict[str, Any] = {"url": url, "protocolBinding": binding}
        if _text(headers.get(H_VERSION)):
            target["protocolVersion"] = _text(headers.get(H_VERSION))
        if _text(headers.get(H_TENANT)):
            target["tenant"] = _text(headers.get(H_TENANT))
        counts = [d.get("count") for d in deaths if isinstance(d, dict)]
        attempts = max((c for c in counts if isinstance(c, int)), default=0)
        reason = _text(newest.get("reason"))
        message = _text(headers.get(H_ERROR))
        error: dict[str, Any] | None = None
        if reason or message:
            klass = _text(headers.get(H_ERROR_CLASS))
            if klass not in (TRANSIENT, PERMANENT):
                klass = TRANSIENT if reason in _TRANSIENT_REASONS or reason is None else PERMANENT
            code = headers.get(H_ERROR_CODE)
            if isinstance(code, (bytes, bytearray)):
                code = bytes(code).decode("utf-8", "replace")
            if not isinstance(code, (int, str)) or isinstance(code, bool):
                code = reason
            queue = _text(newest.get("queue"))
            message = message or f"dead-lettered by RabbitMQ: {reason}" + (
                f" in queue {queue}" if queue else ""
            )
            error = {"code": code, "message": message, "class": klass}
        when = newest.get("time") if isinstance(newest.get("time"), datetime) else timestamp
        entry = {
            "id": eid,
            "request": request,
            "target": target,
            "enqueuedAt": _jsonable(when) if isinstance(when, datetime) else now_iso(),
            "attempts": attempts,
            "lastError": error,
            "traceId": _text(headers.get("traceparent")),
            "source": _text(newest.get("queue")),
        }
    if amqp:
        entry["amqp"] = amqp
    return entry, check(entry)


def origin_of(headers: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(exchange, routing key)`` a message was published to before it died: the newest ``x-death``
    record's ``exchange`` and first ``routing-keys`` (``None`` without one)."""
    deaths = (headers or {}).get("x-death")
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return None
    d = deaths[0]
    keys = d.get("routing-keys")
    key = _text(keys[0]) if isinstance(keys, list) and keys else None
    exchange = _text(d.get("exchange")) or ""
    if key is None:
        return None
    return exchange, key


# -- the store --------------------------------------------------------------------------------


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, also when an event loop runs in this
    thread (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@dataclass
class _Segment:
    """One consumer's part of a read: its channel, its buffer, how many of its messages are held
    (delivered to the reader and not acknowledged), the delivery tags of the first and last it
    handed out and those acknowledged since (``_close_all`` gives back the rest in order)."""

    ch: Any = None
    buf: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    held: int = 0
    first: int = 0
    last: int = 0
    acked: set[int] = field(default_factory=set)

    def took(self, msg: Any) -> None:
        """Count ``msg`` as handed out and held."""
        self.held += 1
        tag = int(msg.delivery_tag or 0)
        self.first = self.first or tag
        self.last = max(self.last, tag)


class AmqpBackend:
    """A RabbitMQ dead-letter queue (see the module docstring); satisfies ``Backend``. Errors:
    ``UnreachableError`` (exit 3) when the broker cannot be reached, ``AuthError`` (exit 4) when it
    refuses the credentials or the vhost, ``ProtocolViolation`` (exit 6) for other broker errors."""

    kind = "amqp"
    #: Messages the broker may send one consumer of a read ahead of what the read has taken (the
    #: bounded prefetch; a new consumer takes over after that many deliveries).
    ahead = 256
    #: Seconds without a delivery after which a read asks the broker whether the queue is empty.
    idle = 0.5

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        """Parse ``url`` (``parse_source``; ``UsageError`` exit 2, also without the ``a2actl[amqp]``
        extra, aio-pika) and read the password (a
        ``password-file=`` that is not a regular file, such as a FIFO or ``<(cmd)``: on the first
        connection, ``_read_password``); no connection yet."""
        from a2actl.core.config import Settings as _Settings
        from a2actl.core.offloop import is_regular

        self.src = parse_source(url)
        require_modules(("aio_pika", "aiormq"), "AMQP sources need aio-pika", "amqp")
        self.url = url
        self.settings = settings or _Settings()
        pw_file = self.src.password_file
        #: A ``password-file=`` FIFO or ``<(cmd)`` not read yet: it blocks in ``open`` until a writer
        #: comes, so it is read off the event loop (``_read_password``), where the command's
        #: ``--max-time`` and Ctrl-C/SIGTERM can end the wait.
        self._password_pending = pw_file is not None and not is_regular(str(Path(pw_file).expanduser()))
        self._password_lock: asyncio.Lock | None = None
        self._password = None if self._password_pending else self.src.password()
        self._conn: Any = None
        #: The replay's segments and what it holds: id -> [(message, its segment)] until acknowledged.
        self._replay_chs: list[_Segment] = []
        self.held: dict[str, list[tuple[Any, _Segment]]] = {}
        self._publish_ch: Any = None
        #: One opener of the publish channel at a time (``_publish_channel``); made in the loop.
        self._publish_lock: asyncio.Lock | None = None
        self.lost: str | None = None
        #: Told once per run, in one line, when the queue is a quorum queue (``_notice_quorum``);
        #: ``a2actl.dlq.jobs.open_source`` sets it to the command's warning printer.
        self.warn: Callable[[str], None] | None = None
        self._quorum_told = False

    # -- connection --

    async def _connection(self) -> Any:
        """The connection, opened on first use. Raises ``UnreachableError`` (exit 3), ``AuthError``
        (exit 4)."""
        if self._conn is not None and not self._conn.is_closed:
            return self._conn
        await self._read_password()
        import logging

        import aio_pika
        import aiormq.exceptions as aexc
        from pamqp.exceptions import AMQPInternalError

        # aiormq logs a lost connection with its traceback (through logging's last-resort handler
        # on stderr); a2actl reports it as one line instead (UnreachableError / LeaseLost)
        for name in ("aiormq", "aio_pika"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

        kwargs: dict[str, Any] = {
            "host": self.src.host,
            "port": self.src.port,
            "virtualhost": self.src.vhost,
            "timeout": self.settings.connect_timeout,
            "client_properties": {"connection_name": "a2actl dlq"},
        }
        if self.src.user is not None:
            kwargs["login"] = self.src.user
        if self._password is not None:
            kwargs["password"] = self._password
        if self.src.tls:
            from a2actl.core.tlsfiles import build_ssl_context

            kwargs["ssl"] = True
            # the context every TLS client of a2actl uses (``https://`` too): --cacert, --cert/--key,
            # --insecure mean the same, and a file that cannot be loaded is exit 2, as for https
            kwargs["ssl_context"] = build_ssl_context(self.settings)
        where = f"RabbitMQ at {self.src.host}:{self.src.port} (vhost {self.src.vhost!r})"
        try:
            self._conn = await aio_pika.connect(**kwargs)
        except (aexc.AuthenticationError, aexc.ProbableAuthenticationError) as exc:
            raise AuthError(
                f"{where} refused the credentials of user {self.src.user or 'guest'!r}",
                hint=f"the password comes from password-env=, password-file= or {ENV_PASSWORD}",
            ) from exc
        except (aexc.ConnectionNotAllowed, aexc.InvalidFrameError, AMQPInternalError) as exc:
            # RabbitMQ closes the connection instead of Connection.OpenOk for an unknown vhost or
            # one the user may not use (aiormq 7: InvalidFrameError "got Connection.Close"; aiormq
            # 6, the last for Python 3.10: pamqp's AMQPInternalError holding the Connection.Close)
            if not isinstance(exc, aexc.ConnectionNotAllowed) and "Connection.Close" not in str(exc):
                raise ProtocolViolation(f"{where}: {_why(exc)}") from exc
            raise AuthError(
                f"{where}: access refused (does the vhost exist, and may the user use it?)"
            ) from exc
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise UnreachableError(
                f"cannot reach {where}: no answer within {self.settings.connect_timeout:g}s"
            ) from exc
        except (OSError, aexc.AMQPConnectionError) as exc:
            tls = _tls_error(exc)
            if tls is not None:  # in the words https:// uses, with its hint (--cacert, --insecure)
                from a2actl.core.tlsfiles import tls_failed

                if isinstance(tls, ssl.SSLCertVerificationError):
                    raise tls_failed(where, tls.verify_message or tls, verify=True) from exc
                raise tls_failed(where, tls, verify=False, scheme="amqps") from exc
            raise UnreachableError(f"cannot reach {where}: {_why(exc)}") from exc
        except aexc.AMQPError as exc:
            raise ProtocolViolation(f"{where}: {_why(exc)}") from exc
        self._conn.close_callbacks.add(self._on_close)
        return self._conn

    async def _read_password(self) -> None:
        """Read a pending ``password-file=`` (a FIFO, ``<(cmd)``) once, in a daemon thread
        (``core.offloop.off_the_loop``): a writer that never comes blocked the event loop in
        ``open``, past ``--max-time`` and SIGTERM; now the command's deadline (exit 5) or Ctrl-C
        (exit 130) ends the wait. Raises what ``AmqpSource.password`` raises (``UsageError``, exit 2)."""
        if not self._password_pending:
            return
        if self._password_lock is None:
            self._password_lock = asyncio.Lock()
        async with self._password_lock:  # one read: a FIFO delivers once
            if self._password_pending:
                from a2actl.core.offloop import off_the_loop

                self._password = await off_the_loop(self.src.password, "a2actl-password-file")
                self._password_pending = False

    def _on_close(self, _conn: Any, exc: BaseException | None = None) -> None:
        if exc is not None and self.lost is None:
            self.lost = _why(exc)

    async def _call(self, what: str, aw: Awaitable[T]) -> T:
        """Await one broker operation, for at most the read timeout (``--timeout``); connection loss
        or no answer is ``UnreachableError`` (exit 3), a channel error ``ProtocolViolation`` (exit 6).

        A broker that stops answering mid-read (the TCP connection open, nothing coming back) held
        ``dlq list`` for 3.5 minutes, until aiormq's heartbeat closed the connection, and then the
        ``CancelledError`` aiormq hands to pending calls escaped as a traceback."""
        import aiormq.exceptions as aexc

        try:
            return await asyncio.wait_for(aw, self.settings.read_timeout)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise UnreachableError(
                f"RabbitMQ {self.url} did not answer ({what}) within {self.settings.read_timeout:g}s",
                hint="a slower broker: raise --timeout",
            ) from exc
        except asyncio.CancelledError as exc:
            if _cancelling():
                raise  # this command is being stopped (Ctrl-C, --max-time)
            raise UnreachableError(f"lost RabbitMQ {self.url} ({what}): the connection closed") from exc
        except aexc.ChannelAccessRefused as exc:
            raise AuthError(f"RabbitMQ {self.url}: {what}: access refused ({_why(exc)})") from exc
        except (aexc.AMQPConnectionError, ConnectionError, aexc.ChannelInvalidStateError) as exc:
            # ChannelInvalidStateError: the channel closed under the call (the connection was lost)
            raise UnreachableError(f"lost RabbitMQ {self.url} ({what}): {_why(exc)}") from exc
        except aexc.AMQPError as exc:
            raise ProtocolViolation(f"RabbitMQ {self.url}: {what}: {_why(exc)}") from exc

    async def close(self) -> None:
        """Close the connection: every message still held returns to its place in the queue."""
        self.held.clear()
        await self._close_all(self._replay_chs)
        if self._conn is not None:
            await _quietly(self._conn.close(), CLEANUP)
        self._conn = self._publish_ch = None
        self._replay_chs = []

    async def _depth(self) -> int | None:
        """The queue's ready-message count (passive declare), ``None`` when the queue does not exist."""
        import aiormq.exceptions as aexc

        conn = await self._connection()
        ch = await self._call("open a channel", conn.channel())
        try:
            q = await ch.declare_queue(self.src.queue, passive=True)
        except aexc.ChannelNotFoundEntity:
            return None
        except aexc.AMQPError as exc:
            raise ProtocolViolation(f"RabbitMQ {self.url}: declare {self.src.queue!r}: {_why(exc)}") from exc
        finally:
            with contextlib.suppress(Exception):
                await ch.close()
        return int(q.declaration_result.message_count or 0)

    async def broker_depth(self) -> dict[str, int]:
        """``{"messages": N}``: the ready messages the broker counts (``queue.declare`` passive; 0
        for a missing queue). Messages held by a consumer right now are not counted."""
        return {"messages": await self._depth() or 0}

    async def missing(self) -> str | None:
        """A warning when the queue does not exist (it then reads as empty), else ``None``. Raises
        ``UnreachableError`` (exit 3) or ``AuthError`` (exit 4)."""
        if await self._depth() is not None:
            return None
        return (
            f"RabbitMQ queue {self.src.queue!r} does not exist in vhost {self.src.vhost!r}: "
            "nothing dead-lettered there yet (or a wrong name)"
        )

    @property
    def journal_key(self) -> str:
        """The source URL (it carries no password)."""
        return self.url

    # -- reading --

    async def _messages(self, channels: list[_Segment]) -> AsyncIterator[tuple[Any, _Segment]]:
        """The queue's messages in order, consumed with manual acknowledgement, at most as many as
        it had when this started (what is dead-lettered meanwhile waits for the next read). Each
        message comes with its ``_Segment`` (``held`` counts it until it is acknowledged).

        The prefetch is bounded and per consumer (``basic.qos`` with ``global`` false: quorum
        queues refuse a consumer on a channel with a global limit, ``NOT_IMPLEMENTED``): each
        consumer may be sent ``ahead`` messages; after that many deliveries it is cancelled, what
        it was sent is yielded, and a new consumer on the same channel goes on from there (its
        unacknowledged messages stay held on the channel). The client therefore buffers at most
        about ``ahead`` messages however long the queue. ``channels`` gets each consumer's
        ``_Segment``, in order; ``_close_all`` gives back every message still held, in order."""
        budget = await self._depth()
        if not budget:
            return
        conn = await self._connection()
        ch = await self._call("open a channel", conn.channel())
        channels.append(_Segment(ch))  # closed by _close_all even if no consumer starts
        queue = await self._call("get the queue", ch.get_queue(self.src.queue, ensure=False))
        await self._call("basic.qos", ch.set_qos(prefetch_count=min(self.ahead, 65535), global_=False))
        n = 0
        while n < budget:
            seg = _Segment(ch)
            channels.append(seg)
            tag = await self._call("basic.consume", queue.consume(seg.buf.put, no_ack=False))
            sent = 0
            try:
                while n < budget and sent < self.ahead:
                    try:
                        msg = await asyncio.wait_for(seg.buf.get(), self.idle)
                    except (TimeoutError, asyncio.TimeoutError):
                        if await self._depth():  # still there: the broker is slow, keep waiting
                            continue
                        return  # taken by another consumer, expired, purged
                    n += 1
                    sent += 1
                    seg.took(msg)
                    self._notice_quorum(msg)
                    yield msg, seg
            finally:
                await _quietly(queue.cancel(tag), CLEANUP)
            # what the broker sent before the cancel took effect, in order, before the next consumer's
            while n < budget and not seg.buf.empty():
                msg = seg.buf.get_nowait()
                n += 1
                seg.took(msg)
                yield msg, seg

    def _notice_quorum(self, msg: Any) -> None:
        """Warn once when a message carries ``x-delivery-count`` (RabbitMQ sets it on quorum queues
        only): every message a read returns counts as one more delivery there, and a quorum queue
        with a delivery limit (``x-delivery-limit``; RabbitMQ 4 sets 20 by default) drops or
        dead-letters a message once its count passes it, so repeated listings can remove messages
        (measured on RabbitMQ 3.10: limit 3, the fourth read found the queue empty)."""
        if self._quorum_told or self.warn is None:
            return
        count = (msg.headers or {}).get("x-delivery-count")
        if isinstance(count, int) and not isinstance(count, bool):
            self._quorum_told = True
            self.warn(
                f"{self.src.queue!r} is a quorum queue: every read counts as a delivery of the messages "
                f"it returns (x-delivery-count is {count} on the first), so a delivery limit "
                "(x-delivery-limit) drops or dead-letters them after that many reads, and a large read "
                "may come back in another order (docs/dlq.md, 'Quorum queues as the DLQ')"
            )

    @staticmethod
    async def _close_all(segments: list[_Segment]) -> None:
        """Give back what a read still holds, in order, and close its channels.

        Closing a channel alone returns its unacknowledged messages; a classic queue puts each back
        at its place, but a quorum queue requeues them consumer by consumer in no set order (a
        listing of 10 across 3 consumers came back as 8, 9, 0, ...). So first, segment after
        segment, ``basic.nack`` (``multiple``, ``requeue``) up to the last tag it still holds: a
        quorum queue hands returned messages out again first, in the order they were returned.
        What the broker sent past the read's end is returned by the close, after them. This keeps
        small reads in order on a quorum queue (RabbitMQ 3.10), not large ones: it requeues one
        return of a few dozen messages or more in no set order either (measured: a nack of 20,000
        came back scrambled), so a large read of a quorum queue can reorder it (docs/dlq.md)."""
        closed: set[int] = set()
        for seg in segments:
            tag = seg.last
            while tag >= seg.first and tag in seg.acked:
                tag -= 1
            if seg.first and tag >= seg.first and id(seg.ch) not in closed:
                await _quietly(_nack_upto(seg.ch, tag), CLEANUP)
        for seg in segments:
            if id(seg.ch) not in closed:
                closed.add(id(seg.ch))
                await _quietly(seg.ch.close(), CLEANUP)
        segments.clear()

    def _decode(self, msg: Any) -> tuple[dict[str, Any] | None, str | None]:
        ts = msg.timestamp if isinstance(msg.timestamp, datetime) else None
        return entry_of(bytes(msg.body), dict(msg.headers or {}), msg.message_id or None, ts, self.src.to)

    async def iter_entries(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """Every valid entry in queue order; invalid ones go to ``on_invalid`` (``where``: ``message
        N``). The messages are held (unacknowledged) until the iteration ends, then return to their
        places."""
        channels: list[_Segment] = []
        try:
            n = 0
            async for msg, _ in self._messages(channels):
                n += 1
                entry, why = self._decode(msg)
                if why is None and entry is not None:
                    yield entry
                elif on_invalid is not None:
                    ref = entry.get("id") if entry else None
                    on_invalid(Invalid(ref, f"message {n}", why or "invalid"))
        finally:
            await self._close_all(channels)  # requeues every message read, in order

    async def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """What a replay takes: every valid entry (as ``iter_entries``), read on the replay's own
        channels and held there until ``remove_many`` acknowledges it or the replay ends (then it
        returns to its place)."""
        n = 0
        async for msg, seg in self._messages(self._replay_chs):
            n += 1
            entry, why = self._decode(msg)
            if why is None and entry is not None:
                self.held.setdefault(str(entry["id"]), []).append((msg, seg))
                yield entry
            elif on_invalid is not None:
                ref = entry.get("id") if entry else None
                on_invalid(Invalid(ref, f"message {n}", why or "invalid"))

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The message with this id as an entry (with its ``amqp`` member: ``x-death`` and
        ``x-first-death-*``), valid or not; ``None`` when no message in the queue has it."""
        channels: list[_Segment] = []
        try:
            async for msg, _ in self._messages(channels):
                entry, _ = self._decode(msg)
                if entry is not None and entry.get("id") == entry_id:
                    amqp = entry.setdefault("amqp", {})
                    amqp.update(
                        {
                            "messageId": msg.message_id,
                            "exchange": msg.exchange,
                            "routingKey": msg.routing_key,
                            "redelivered": bool(msg.redelivered),
                            "headers": _jsonable(
                                {k: v for k, v in (msg.headers or {}).items() if not k.startswith("x-death")}
                            ),
                        }
                    )
                    return entry
        finally:
            await self._close_all(channels)
        return None

    # -- removal --

    async def remove(self, entry_id: str) -> bool:
        """Acknowledge (remove) the message with this id; ``False`` when none has it."""
        return bool(await self.remove_many([entry_id]))

    async def remove_many(self, entry_ids: list[str]) -> int:
        """Acknowledge one message per id: those the replay holds at once, the others by reading
        the queue (what is not removed returns to its place). Returns how many were found, once
        the broker has settled their acknowledgements (``_settled``): an ack the broker never
        processed (the connection dropped after it was written) raises ``UnreachableError`` (exit 3)
        instead of counting as removed, so the replay journal keeps the id ``delivered`` and the next
        run removes it without delivering it again."""
        done = 0
        rest: list[str] = []
        acks = []
        acked_on: dict[int, Any] = {}
        for eid in entry_ids:
            msgs = self.held.get(eid)
            if msgs:
                msg, seg = msgs.pop(0)
                if not msgs:
                    del self.held[eid]
                acks.append(msg.ack())
                seg.held -= 1
                seg.acked.add(int(msg.delivery_tag or 0))
                acked_on[id(seg.ch)] = seg.ch
                done += 1
            else:
                rest.append(eid)
        if acks:  # written together (one await per ack cost a loop round trip each)
            await self._call("basic.ack", asyncio.gather(*acks))
            await self._settled(list(acked_on.values()))
        if rest:
            wanted: dict[str, int] = {}
            for eid in rest:
                wanted[eid] = wanted.get(eid, 0) + 1
            channels: list[_Segment] = []
            try:
                found = 0
                async for msg, seg in self._messages(channels):
                    entry, _ = self._decode(msg)
                    got = entry.get("id") if entry else None
                    if isinstance(got, str) and wanted.get(got):
                        await self._call("basic.ack", msg.ack())
                        seg.acked.add(int(msg.delivery_tag or 0))
                        wanted[got] -= 1
                        found += 1
                        if not any(wanted.values()):
                            break
                if found:
                    await self._settled([channels[0].ch])
                done += found
            finally:
                await self._close_all(channels)
        return done

    async def _settled(self, channels: list[Any]) -> None:
        """Wait until the broker has processed the acknowledgements written on ``channels``.

        ``basic.ack`` has no reply in AMQP 0-9-1: an ack written just before the connection drops
        may never reach the broker, which then requeues the message. A synchronous method on the
        same channel (``basic.qos`` with the read's own per-consumer value, which changes nothing)
        is answered only after the broker has handled every frame sent before it on that channel,
        the acks included. Raises ``UnreachableError`` (exit 3) when the answer does not come within
        the read timeout or the connection is lost."""
        for ch in channels:
            await self._call(
                "confirm the acknowledgements",
                ch.set_qos(prefetch_count=min(self.ahead, 65535), global_=False),
            )

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """A replay could not deliver it: the message stays unchanged (``x-death`` intact) and
        returns to its place when the replay ends (RabbitMQ messages cannot be rewritten)."""
        self.held.pop(entry_id, None)  # still unacknowledged on the replay channel until it closes

    # -- --to-broker --

    async def _publish_channel(self, opening: Callable[[Any], Any] | None = None) -> Any:
        """The confirmed publish channel, opened once: concurrent deliveries (``--max-in-flight``)
        each saw no channel and each opened one, so a replay published on several channels (the
        earlier ones left open) and the order of what went back to the queue was the channels'
        race. ``opening`` wraps the open (``_call`` for a producer's error mapping)."""
        if self._publish_lock is None:
            self._publish_lock = asyncio.Lock()
        async with self._publish_lock:
            if self._publish_ch is None or self._publish_ch.is_closed:
                conn = await self._connection()
                open_ch = conn.channel(publisher_confirms=True, on_return_raises=True)
                self._publish_ch = await (opening(open_ch) if opening is not None else open_ch)
            return self._publish_ch

    async def republish(self, entry: Entry) -> dict[str, Any] | None:
        """Publish the held message of ``entry`` again to the exchange and routing key it died from
        (newest ``x-death`` record), body and headers unchanged (``x-death`` kept, so the broker
        counts further deaths), and wait for the broker's confirm. ``None`` when confirmed (the
        replay then acknowledges the dead letter), else a ``lastError`` dict (``permanent`` without
        an origin or when the broker cannot route it; ``transient`` for a nack or a lost
        connection)."""
        import aio_pika
        import aiormq.exceptions as aexc

        msgs = self.held.get(str(entry["id"]))
        if not msgs:
            return {
                "code": None,
                "message": "the message is no longer held by this replay",
                "class": TRANSIENT,
            }
        msg = msgs[0][0]
        origin = origin_of(dict(msg.headers or {}))
        if origin is None:
            return {
                "code": None,
                "message": "no x-death header with an exchange and routing key to republish to",
                "class": PERMANENT,
            }
        exchange, key = origin
        try:
            ch = await self._publish_channel()
            ex = ch.default_exchange if exchange == "" else await ch.get_exchange(exchange, ensure=False)
            copy = aio_pika.Message(
                bytes(msg.body),
                headers=dict(msg.headers or {}),
                content_type=msg.content_type,
                content_encoding=msg.content_encoding,
                delivery_mode=msg.delivery_mode,
                priority=msg.priority,
                correlation_id=msg.correlation_id,
                reply_to=msg.reply_to,
                message_id=msg.message_id,
                timestamp=msg.timestamp,
                type=msg.type,
                app_id=msg.app_id,
            )
            await ex.publish(copy, key, mandatory=True, timeout=self.settings.read_timeout)
        except aio_pika.exceptions.PublishError as exc:
            return {
                "code": "unroutable",
                "message": f"exchange {exchange!r} cannot route {key!r} ({_why(exc)})",
                "class": PERMANENT,
            }
        except aexc.ChannelNotFoundEntity as exc:
            self._publish_ch = None
            return {"code": "not_found", "message": f"exchange {exchange!r}: {_why(exc)}", "class": PERMANENT}
        except aexc.DeliveryError as exc:
            return {"code": "nack", "message": f"the broker did not confirm: {_why(exc)}", "class": TRANSIENT}
        except (aexc.AMQPError, ConnectionError, TimeoutError, asyncio.TimeoutError) as exc:
            self._publish_ch = None
            return {"code": None, "message": f"republish failed: {_why(exc)}", "class": TRANSIENT}
        return None

    # -- producers --

    def check_writable(self) -> None:
        """For producers at start (synchronous): the broker answers and the dead-letter topology can
        be declared (``declare_topology``). Raises ``UnreachableError`` (exit 3), ``AuthError`` (exit
        4), ``UsageError`` (exit 2) when a queue exists with other arguments."""

        async def probe() -> None:
            try:
                await self.declare_topology()
            finally:
                await self.close()

        _run_sync(probe)

    async def declare_topology(self) -> None:
        """Declare the dead-letter queue ``queue`` and the work queue ``work`` (durable) whose
        dead-letter exchange is the default exchange with ``queue`` as its routing key: what a
        consumer of ``work`` rejects lands in ``queue`` with ``x-death``. Raises ``UsageError`` (exit
        2) when a queue already exists with other arguments."""
        import aiormq.exceptions as aexc

        conn = await self._connection()
        ch = await self._call("open a channel", conn.channel())
        try:
            await ch.declare_queue(self.src.queue, durable=True)
            await ch.declare_queue(
                self.src.work,
                durable=True,
                arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.src.queue},
            )
        except aexc.ChannelPreconditionFailed as exc:
            raise UsageError(
                f"cannot dead-letter into {self.url}: a queue exists with other settings ({_why(exc)})",
                hint=f"give {self.src.work!r} x-dead-letter-exchange '' and x-dead-letter-routing-key "
                f"{self.src.queue!r}, or name another work= queue",
            ) from exc
        except aexc.AMQPError as exc:
            raise ProtocolViolation(f"RabbitMQ {self.url}: {_why(exc)}") from exc
        finally:
            with contextlib.suppress(Exception):
                await ch.close()

    async def append(self, entry: Entry) -> str:
        """Publish ``entry`` (a2actl's format; ``message_id`` its id, persistent, confirmed) to the
        work queue. Its consumer (``consume_work``) dead-letters it by rejecting it, so it reaches the
        dead-letter queue through RabbitMQ with ``x-death``. Returns the id."""
        import aio_pika

        ch = await self._publish_channel(lambda opening: self._call("open a channel", opening))
        eid = str(entry["id"])
        msg = aio_pika.Message(
            json.dumps(entry, separators=(",", ":")).encode(),
            content_type="application/json",
            message_id=eid,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=datetime.now(timezone.utc),
            headers={H_ERROR: (entry.get("lastError") or {}).get("message") or ""},
        )
        await self._call("publish", ch.default_exchange.publish(msg, self.src.work))
        return eid

    async def consume_work(self, process: Callable[[Entry], Awaitable[bool]], prefetch: int = 16) -> Any:
        """Consume the work queue: each message's entry goes to ``process``; ``True`` acknowledges
        it, ``False`` (or an error) rejects it without requeue, so RabbitMQ dead-letters it into the
        dead-letter queue with ``x-death``. Returns the channel (closing it stops consuming)."""
        conn = await self._connection()
        ch = await self._call("open a channel", conn.channel())
        await ch.set_qos(prefetch_count=prefetch)
        queue = await ch.get_queue(self.src.work, ensure=False)

        async def on_message(msg: Any) -> None:
            entry, _ = self._decode(msg)
            ok = False
            if entry is not None and isinstance(entry.get("request"), dict):
                try:
                    ok = await process(entry)
                except Exception:  # noqa: BLE001 - a failed processing is a rejection
                    ok = False
            if ok:
                await msg.ack()
            else:
                await msg.reject(requeue=False)

        await queue.consume(on_message)
        return ch

    # -- the replay lock --

    def replay_lock(self, src: str) -> AmqpLock:
        """An exclusive queue ``QUEUE.replay-lock`` on the broker (see ``AmqpLock``)."""
        return AmqpLock(self, src)


class AmqpLock:
    """One replay per queue across hosts: an exclusive, auto-delete queue ``QUEUE.replay-lock``,
    which RabbitMQ lets one connection declare at a time (another gets ``RESOURCE_LOCKED``) and
    deletes when that connection closes, so a killed replay leaves no stale lock. A lost connection
    is ``LeaseLost`` (exit 1) before the next delivery; its held messages are requeued by the broker."""

    def __init__(self, backend: AmqpBackend, src: str) -> None:
        self.backend = backend
        self.src = src
        self.name = backend.src.queue + ".replay-lock"
        self.ch: Any = None

    async def _try(self) -> bool:
        import aiormq.exceptions as aexc

        conn = await self.backend._connection()
        ch = await self.backend._call("open a channel", conn.channel())
        try:
            await ch.declare_queue(self.name, exclusive=True, auto_delete=True)
        except aexc.ChannelLockedResource:
            with contextlib.suppress(Exception):
                await ch.close()
            return False
        except aexc.AMQPError as exc:
            raise ProtocolViolation(
                f"RabbitMQ {self.src}: cannot take the replay lock {self.name}: {_why(exc)}"
            ) from exc
        self.ch = ch
        return True

    async def acquire(self, wait: bool, notice: Notice | None = None) -> None:
        """Declare the lock queue; with ``wait`` poll until it is free. Raises ``SourceLocked`` (exit
        1) when another connection holds it and not ``wait``."""
        if await self._try():
            return
        if not wait:
            raise SourceLocked(
                f"another replay of {self.src} is running (it holds the exclusive queue {self.name!r})",
                hint="wait for it, or add --wait-lock to start when it ends",
            )
        if notice is not None:
            notice(f"waiting for the replay of {self.src} holding the exclusive queue {self.name!r}")
        while not await self._try():
            await asyncio.sleep(POLL)

    def check(self) -> None:
        """Raise ``LeaseLost`` (exit 1) when the connection holding the lock was lost."""
        conn = self.backend._conn
        if self.backend.lost is not None or conn is None or conn.is_closed:
            raise LeaseLost(
                f"lost the connection to RabbitMQ holding the replay lock of {self.src} "
                f"({self.backend.lost or 'closed'}); stopped before delivering more",
                hint="rerun: acknowledged entries are journalled, held messages are back in the queue",
            )

    async def release(self) -> None:
        """Delete the lock queue (idempotent; the broker deletes it anyway with the connection)."""
        if self.ch is not None:
            with contextlib.suppress(Exception):
                await self.ch.queue_delete(self.name)
            with contextlib.suppress(Exception):
                await self.ch.close()
            self.ch = None


async def _nack_upto(ch: Any, tag: int) -> None:
    """``basic.nack`` (``multiple``, ``requeue``) of every message held on ``ch`` up to ``tag``."""
    raw = await ch.get_underlay_channel()
    await raw.basic_nack(delivery_tag=tag, multiple=True, requeue=True)


def _cancelling() -> bool:
    """Whether the current task is being cancelled (not merely handed aiormq's ``CancelledError``
    for a closed connection)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling is not None else False


async def _quietly(aw: Awaitable[Any], timeout: float) -> None:
    """Clean-up on a connection that may be gone or silent: wait at most ``timeout`` seconds,
    ignore its errors (also aiormq's ``CancelledError`` of a closed connection, not this task's)."""
    try:
        await asyncio.wait_for(aw, timeout)
    except asyncio.CancelledError:
        if _cancelling():
            raise
    except Exception:  # noqa: BLE001, S110 - best effort: the broker requeues what a lost channel held
        pass


#: Seconds each clean-up step (cancel a consumer, nack, close a channel or the connection) may take.
CLEANUP = 5.0


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` ``exc`` is or was raised from (aiormq may wrap it), else ``None``."""
    seen: BaseException | None = exc
    for _ in range(8):  # a cycle of causes cannot hold us
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _why(exc: BaseException) -> str:
    """A one-line reason for an aio-pika/aiormq exception (their ``str`` can be a tuple's repr)."""
    args = getattr(exc, "args", ())
    parts = [str(a) for a in args if a not in (None, "")]
    text = "; ".join(parts) if parts else type(exc).__name__
    return " ".join(text.split())[:300]
