"""The Amazon SQS store (``docs/dlq.md``, "Amazon SQS"), through aiobotocore (the extra ``a2actl[sqs]``).

Source: ``sqs://REGION/QUEUE_NAME`` (``sqs://REGION/ACCOUNT/QUEUE_NAME`` for another account's queue)
or the queue URL ``https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE_NAME``; query parameters
``visibility=SECONDS`` (how long a read holds a message, default 120, 1-43200) and ``wait=SECONDS``
(long-poll time of each ``ReceiveMessage``, default 1, 0-20). Credentials come from the standard AWS
chain only (environment, profile, SSO, container or instance role), never from argv;
``endpoint_url`` (``--endpoint-url``, or botocore's own ``AWS_ENDPOINT_URL_SQS``) points the client at
an emulator or a VPC endpoint.

SQS cannot list without receiving: every read (``list``, ``show``, ``stats``, ``replay``) takes the
messages with ``ReceiveMessage`` under the ``visibility`` timeout, keeps them invisible while it runs
(extending the timeout every ``visibility / 3`` seconds) so none is read twice, and at the end gives
back what it did not delete (``ChangeMessageVisibility`` 0). Each read raises every message's
``ApproximateReceiveCount`` by one; a reader killed with ``kill -9`` leaves its messages invisible until
the timeout runs out, then they are back: nothing is lost.

An entry: the message body is our entry JSON (``a2actl.dlq.store.entry``), a bare JSON-RPC request
(``{"jsonrpc", "method", "params"}``) or an HTTP+JSON ``SendMessage`` body (``{"message": …}``); its id
is the SQS ``MessageId``; ``attempts`` is ``ApproximateReceiveCount`` less this read; ``enqueuedAt``
is ``SentTimestamp``; ``lastError`` comes from the message attribute ``a2a.error`` (a JSON object like
``lastError``, or a plain message), else the body's, else "received N times" (the redrive policy's
``maxReceiveCount`` moved it); ``target.url`` from the body or the attribute ``a2a.target``. The SQS
fields are under ``sqs`` (``dlq show``).

Removal is ``DeleteMessage`` with the receipt handle of this read (idempotent: a message that is
gone is reported as not removed). SQS messages cannot be changed, so a replay that fails keeps the
message as it is (its receive count records the attempt; the replay's error is in its output).

aiobotocore is imported on first use, so importing this module stays cheap (``--help``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    ProtocolViolation,
    UnreachableError,
    UsageError,
)
from a2actl.core.exit_codes import ExitCode
from a2actl.core.units import format_timestamp
from a2actl.dlq.store.entry import TRANSIENT, Entry, Invalid, OnInvalid, check
from a2actl.dlq.store.extras import require_modules
from a2actl.dlq.store.ticker import stop_task, ticks

if TYPE_CHECKING:
    from a2actl.dlq.store.lock import FileLock

#: ``https://sqs.REGION.amazonaws.com[.cn]/ACCOUNT/NAME`` or the legacy ``https://REGION.queue.amazonaws.com/…``.
QUEUE_URL = re.compile(
    r"^https://(?:sqs\.(?P<r1>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|(?P<r2>[a-z0-9-]+)\.queue\.amazonaws\.com)"
    r"/(?P<account>\d{12})/(?P<name>[A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?$"
)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}(?:\.fifo)?$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")

#: Error codes that mean the credentials are missing, wrong or not allowed (exit 4).
_AUTH_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "InvalidSecurity",
}
_NO_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_CREDENTIALS_HINT = (
    "SQS takes credentials from the standard AWS chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, SSO, a container or instance role (never from the command line)"
)


def is_sqs_source(src: str) -> bool:
    """``sqs://…`` or an AWS SQS queue URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``)."""
    return src.startswith("sqs://") or QUEUE_URL.match(src.split("?", 1)[0]) is not None


@dataclass(frozen=True)
class QueueRef:
    """A parsed source: ``region``, ``name``, ``account`` (``None``: the caller's), ``queue_url``
    (known when SRC was the URL), ``visibility`` and ``wait`` in seconds."""

    region: str
    name: str
    account: str | None
    queue_url: str | None
    visibility: int
    wait: int

    @property
    def fifo(self) -> bool:
        """A FIFO queue (its name ends in ``.fifo``)."""
        return self.name.endswith(".fifo")


def parse_source(src: str) -> QueueRef:
    """Parse an SQS SRC (module docstring). Raises ``UsageError`` (exit 2) naming what is wrong."""
    base, _, query = src.partition("?")
    q = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(q) - {"visibility", "wait"})
    if unknown:
        raise UsageError(
            f"{src}: unknown parameter {unknown[0]!r}", hint="sqs://REGION/NAME?visibility=120&wait=1"
        )

    def seconds(key: str, default: int, low: int, high: int) -> int:
        raw = q.get(key, [str(default)])[0]
        try:
            v = int(raw)
        except ValueError:
            v = -1
        if not low <= v <= high:
            raise UsageError(f"{src}: {key}={raw!r}: give whole seconds from {low} to {high}")
        return v

    visibility = seconds("visibility", 120, 1, 43200)
    wait = seconds("wait", 1, 0, 20)
    m = QUEUE_URL.match(base)
    if m:
        return QueueRef(m["r1"] or m["r2"], m["name"], m["account"], base.rstrip("/"), visibility, wait)
    if not base.startswith("sqs://"):
        raise UsageError(f"{src}: not an SQS source", hint="sqs://REGION/QUEUE_NAME or the queue URL")
    parts = urlsplit(base)
    region = parts.netloc
    path = [p for p in parts.path.split("/") if p]
    if not _REGION.match(region) or len(path) not in (1, 2):
        raise UsageError(
            f"{src}: give sqs://REGION/QUEUE_NAME (e.g. sqs://eu-west-1/orders-dlq)",
            hint="or sqs://REGION/ACCOUNT/QUEUE_NAME, or the queue URL https://sqs.REGION.amazonaws.com/ACCOUNT/NAME",
        )
    account = path[0] if len(path) == 2 else None
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise UsageError(f"{src}: {account!r} is not a 12-digit AWS account id")
    if not _NAME.match(path[-1]):
        raise UsageError(
            f"{src}: {path[-1]!r} is not an SQS queue name (1-80 of A-Z a-z 0-9 - _, FIFO names end in .fifo)"
        )
    return QueueRef(region, path[-1], account, None, visibility, wait)


# -- the entry of a message -----------------------------------------------------------------------


def _attr(msg: dict[str, Any], name: str) -> str | None:
    a = (msg.get("MessageAttributes") or {}).get(name)
    v = a.get("StringValue") if isinstance(a, dict) else None
    return v if isinstance(v, str) else None


def _int_attr(attrs: dict[str, Any], name: str) -> int | None:
    try:
        return int(attrs[name])
    except (KeyError, TypeError, ValueError):
        return None


def decode_message(msg: dict[str, Any]) -> tuple[Entry | None, str | None]:
    """The entry of one ``ReceiveMessage`` message (module docstring): ``(entry, None)`` when valid,
    ``(entry or None, why)`` when not. ``msg``: botocore's message dict (``MessageId``, ``Body``,
    ``Attributes`` with ``ApproximateReceiveCount``/``SentTimestamp`` as strings,
    ``MessageAttributes``)."""
    mid = str(msg.get("MessageId") or "")
    attrs = msg.get("Attributes") or {}
    try:
        body = json.loads(msg.get("Body") or "")
    except (ValueError, RecursionError):
        return None, "the message body is not JSON"
    if not isinstance(body, dict):
        return None, f"the message body is a JSON {type(body).__name__}, not an object"
    if "request" in body:  # our entry format
        entry: Entry = dict(body)
    elif isinstance(body.get("method"), str) and "params" in body:  # a bare JSON-RPC request
        entry = {"request": {"method": body["method"], "params": body["params"]}}
    elif isinstance(body.get("message"), dict):  # an HTTP+JSON SendMessage body
        entry = {"request": {"method": "SendMessage", "params": body}}
    else:
        return None, "the message body is neither an a2actl entry nor an A2A request"
    received = _int_attr(attrs, "ApproximateReceiveCount")
    sent = _int_attr(attrs, "SentTimestamp")
    if "id" in entry and entry["id"] != mid:
        entry["entryId"] = entry["id"]  # the producer's id; the SQS MessageId is what removes it
    entry["id"] = mid
    target = entry.get("target")
    url = _attr(msg, "a2a.target")
    if not isinstance(target, dict):
        entry["target"] = {"url": url or ""}
    elif url and not target.get("url"):
        entry["target"] = {**target, "url": url}
    if sent is not None:
        entry["enqueuedAt"] = format_timestamp(sent / 1000)
    elif "enqueuedAt" not in entry:
        entry["enqueuedAt"] = format_timestamp(0)
    if received is not None:
        entry["attempts"] = max(received - 1, 0)  # this read is not an attempt
    else:
        entry.setdefault("attempts", 0)
    err = _attr(msg, "a2a.error")
    if err is not None:
        try:
            parsed = json.loads(err)
        except (ValueError, RecursionError):
            parsed = None
        entry["lastError"] = (
            parsed if isinstance(parsed, dict) else {"code": None, "message": err, "class": TRANSIENT}
        )
    elif entry.get("lastError") is None and received is not None:
        entry["lastError"] = {
            "code": None,
            "message": f"received {max(received - 1, 0)} time(s) without being deleted",
            "class": TRANSIENT,
        }
    else:
        entry.setdefault("lastError", None)
    source_arn = attrs.get("DeadLetterQueueSourceArn")
    if isinstance(source_arn, str) and not entry.get("source"):
        entry["source"] = source_arn.rsplit(":", 1)[-1]
    entry.setdefault("traceId", None)
    entry.setdefault("source", None)
    entry["sqs"] = {
        "messageId": mid,
        "receiveCount": received,
        "sentTimestamp": sent,
        "firstReceiveTimestamp": _int_attr(attrs, "ApproximateFirstReceiveTimestamp"),
        "messageGroupId": attrs.get("MessageGroupId"),
        "sequenceNumber": attrs.get("SequenceNumber"),
        "deadLetterQueueSourceArn": source_arn,
        "messageAttributes": {
            k: v.get("StringValue", v.get("DataType"))
            for k, v in (msg.get("MessageAttributes") or {}).items()
            if isinstance(v, dict)
        },
    }
    return entry, check(entry)


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- the store ------------------------------------------------------------------------------------


def _check_endpoint(endpoint_url: str) -> None:
    """Raise ``UsageError`` (exit 2) unless ``endpoint_url`` is an ``http(s)://HOST[:PORT][/PATH]``
    URL botocore can use (``http://`` alone or ``http://[::1`` made botocore raise ``ValueError``,
    reported as an unexpected error, exit 1)."""
    if not endpoint_url.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint-url {endpoint_url!r}: give an http(s):// URL")
    try:
        parts = urlsplit(endpoint_url)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise UsageError(f"--endpoint-url {endpoint_url!r}: not a valid URL ({exc})") from exc
    if not host:
        raise UsageError(f"--endpoint-url {endpoint_url!r}: no host", hint="e.g. http://127.0.0.1:4566")


@dataclass
class _Held:
    receipt: str
    since: float  # monotonic seconds of the last receive or extension


class SqsBackend:
    """An SQS queue (see the module docstring); satisfies ``Backend``. ``src``: an SQS SRC;
    ``endpoint_url``: another endpoint than AWS's (an emulator, a VPC endpoint)."""

    kind = "sqs"
    #: Messages per ``ReceiveMessage`` (SQS's maximum).
    page = 10
    #: ``ChangeMessageVisibilityBatch`` calls at once (extending or giving back many held messages).
    parallel = 8

    def __init__(self, src: str, endpoint_url: str | None = None) -> None:
        """Parse ``src`` (no connection yet). Raises ``UsageError`` (exit 2) for a bad SRC or
        ``endpoint_url``, and without the ``a2actl[sqs]`` extra (aiobotocore and botocore)."""
        self.ref = parse_source(src)
        require_modules(("aiobotocore", "botocore"), "SQS sources need aiobotocore", "sqs")
        if endpoint_url is not None:
            _check_endpoint(endpoint_url)
        self.endpoint_url = endpoint_url
        acct = f"{self.ref.account}/" if self.ref.account else ""
        self.url = f"sqs://{self.ref.region}/{acct}{self.ref.name}"
        self.visibility = self.ref.visibility
        self.wait = self.ref.wait
        self.queue_url: str | None = self.ref.queue_url
        self._resolved = False
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self.held: dict[str, _Held] = {}  # received, not deleted or given back: invisible to others
        self.seen: set[str] = set()  # received in this run (a message is handed out once)
        self.buffer: deque[dict[str, Any]] = deque()  # received by a search, not yet handed out
        self.pending: set[str] = set()  # handed to a replay, not yet removed or finished
        #: Awaited when a FIFO replay waits for removals (the replayer commits its acknowledged
        #: batch): SQS hands out no later message of a group while an earlier one is held.
        self.on_blocked: Callable[[], Awaitable[None]] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def fifo(self) -> bool:
        """A FIFO queue: a replay delivers one message at a time, in the queue's group order."""
        return self.ref.fifo

    # -- the client ------------------------------------------------------------------------------

    async def client(self) -> Any:
        """The aiobotocore SQS client (created on first use). Raises ``UsageError`` (exit 2) without
        the ``a2actl[sqs]`` extra."""
        if self._client is None:
            try:
                from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
                from aiobotocore.session import get_session  # type: ignore[import-untyped]
            except ImportError as exc:
                raise UsageError("SQS sources need aiobotocore", hint="pip install 'a2actl[sqs]'") from exc
            cfg = AioConfig(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=self.wait + 15,
            )
            self._client = await self._stack.enter_async_context(
                get_session().create_client(
                    "sqs", region_name=self.ref.region, endpoint_url=self.endpoint_url, config=cfg
                )
            )
        return self._client

    def _error(self, exc: BaseException) -> A2ACtlError:
        """A botocore error as an ``A2ACtlError``: no queue ``UsageError`` (2), unreachable
        ``UnreachableError`` (3), credentials ``AuthError`` (4), any other error reply
        ``ProtocolViolation`` (6). Messages name the queue, never a credential."""
        from botocore import exceptions as bexc  # type: ignore[import-untyped]

        where = f"SQS {self.url}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        if isinstance(exc, bexc.ClientError):
            err = exc.response.get("Error", {})
            code, text = str(err.get("Code", "")), _one_line(str(err.get("Message", "")))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code.isdigit() or text.startswith("<"):  # not an SQS error document (an HTML page)
                code, text = f"HTTP {status or code}", f"{exc.operation_name} is not answered here"
            if code in _NO_QUEUE:
                return UsageError(
                    f"no SQS queue {self.ref.name!r} in {self.ref.region}"
                    + (f" at {self.endpoint_url}" if self.endpoint_url else ""),
                    hint="check the region, the name and the account (sqs://REGION/ACCOUNT/NAME)",
                )
            if code in _AUTH_CODES:
                return AuthError(f"{where}: {code}: {text}", hint=_CREDENTIALS_HINT)
            return ProtocolViolation(f"{where}: {code}: {text}")
        if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
            return AuthError(f"{where}: no AWS credentials found", hint=_CREDENTIALS_HINT)
        if isinstance(exc, bexc.CredentialRetrievalError):
            return AuthError(f"{where}: {exc}", hint=_CREDENTIALS_HINT)
        if isinstance(exc, bexc.ProfileNotFound):
            return UsageError(f"{where}: {exc}")
        if isinstance(exc, (bexc.ReadTimeoutError, bexc.ConnectTimeoutError)):
            return UnreachableError(f"{where}: timed out ({exc})")
        return UnreachableError(f"cannot reach {where}: {exc}")

    async def _call(self, op: str, **kw: Any) -> dict[str, Any]:
        """One SQS API call (``op``: the botocore method name) with errors mapped by ``_error``."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        client = await self.client()
        try:
            out: dict[str, Any] = await getattr(client, op)(**kw)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc) from exc
        return out

    async def resolve(self) -> str:
        """The queue URL (``GetQueueUrl`` unless SRC was the URL and no endpoint is given)."""
        if not self._resolved:
            if self.queue_url is not None and not self.endpoint_url:
                self._resolved = True
                return self.queue_url
            kw: dict[str, Any] = {"QueueName": self.ref.name}
            if self.ref.account:
                kw["QueueOwnerAWSAccountId"] = self.ref.account
            self.queue_url = str((await self._call("get_queue_url", **kw))["QueueUrl"])
            self._resolved = True
        assert self.queue_url is not None
        return self.queue_url

    async def attributes(self, *names: str) -> dict[str, str]:
        """``GetQueueAttributes`` for ``names``."""
        out = await self._call(
            "get_queue_attributes", QueueUrl=await self.resolve(), AttributeNames=list(names)
        )
        return dict(out.get("Attributes") or {})

    async def broker_depth(self) -> dict[str, int]:
        """What SQS counts: ``{"messages": ApproximateNumberOfMessages, "notVisible":
        ApproximateNumberOfMessagesNotVisible, "delayed": ApproximateNumberOfMessagesDelayed}``
        (approximate, eventually consistent; no message is received)."""
        a = await self.attributes(
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return {
            "messages": int(a.get("ApproximateNumberOfMessages", 0)),
            "notVisible": int(a.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(a.get("ApproximateNumberOfMessagesDelayed", 0)),
        }

    # -- Backend ---------------------------------------------------------------------------------

    async def close(self) -> None:
        """Give back every message still held (``ChangeMessageVisibility`` 0: visible again, in
        order for FIFO), stop the extender and close the client. Best effort: a message that cannot
        be given back is visible again when its timeout runs out."""
        await stop_task(self._heartbeat, self._stop)
        self._heartbeat = None
        if self._client is not None and self.held:
            with contextlib.suppress(Exception):
                await self._visibility(list(self.held), 0)
            self.held.clear()
        await self._stack.aclose()
        self._client = None

    async def missing(self) -> str | None:
        """``None`` when the queue exists. SQS queues are made by their owners, not by the first dead
        letter, so a missing one is ``UsageError`` (exit 2); unreachable ``UnreachableError`` (3);
        no or bad credentials ``AuthError`` (4)."""
        await self.resolve()
        return None

    def check_writable(self) -> None:
        """Producers do not dead-letter into SQS through a2actl (SQS's redrive policy does):
        ``UsageError`` (exit 2)."""
        raise UsageError(
            "a2actl dead-letters into file:// or redis:// stores; an SQS DLQ is filled by its source "
            "queue's redrive policy (maxReceiveCount)"
        )

    def replay_lock(self, src: str) -> FileLock:
        """A ``flock`` in ``$XDG_STATE_HOME/a2actl/locks`` (replays from this machine; SQS has no lock
        primitive). Across machines each message's visibility timeout is its lock: a message one
        replay holds is not handed to another (``docs/dlq.md``)."""
        from a2actl.dlq.store.lock import FileLock, state_lock_path

        return FileLock(state_lock_path(self.journal_key), src)

    @property
    def journal_key(self) -> str:
        """``sqs://REGION/[ACCOUNT/]NAME``, with the endpoint when one is given."""
        return self.url + (f"?endpoint={self.endpoint_url}" if self.endpoint_url else "")

    async def append(self, entry: Entry) -> str:
        """``SendMessage`` of the entry JSON (tests and tools; producers use the redrive policy).
        FIFO queues get the entry's ``source`` (or ``a2actl``) as group and its id as deduplication
        id. Returns the SQS ``MessageId``."""
        body = {k: v for k, v in entry.items() if k != "sqs"}
        kw: dict[str, Any] = {"QueueUrl": await self.resolve(), "MessageBody": json.dumps(body)}
        if self.fifo:
            kw["MessageGroupId"] = str(entry.get("source") or "a2actl")
            kw["MessageDeduplicationId"] = str(entry.get("id") or time.time_ns())[:128]
        return str((await self._call("send_message", **kw))["MessageId"])

    async def _receive(self) -> list[dict[str, Any]]:
        """One ``ReceiveMessage`` (up to ``page``, held for ``visibility`` s); records what it holds."""
        out = await self._call(
            "receive_message",
            QueueUrl=await self.resolve(),
            MaxNumberOfMessages=self.page,
            VisibilityTimeout=self.visibility,
            WaitTimeSeconds=self.wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        now = time.monotonic()
        msgs = list(out.get("Messages") or [])
        for m in msgs:
            self.held[str(m["MessageId"])] = _Held(str(m["ReceiptHandle"]), now)
        if msgs and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._extend())
        return msgs

    async def _fresh(self) -> list[dict[str, Any]] | None:
        """The next messages not yet handed out in this run (``None``: the queue has no more)."""
        while True:
            msgs = await self._receive()
            if not msgs:
                return None
            fresh = [m for m in msgs if str(m["MessageId"]) not in self.seen]
            self.seen.update(str(m["MessageId"]) for m in fresh)
            if fresh:
                return fresh

    async def _extend(self) -> None:
        """Every ``visibility / 3`` s, extend the timeout of held messages received that long ago
        (``ChangeMessageVisibilityBatch``), so a long listing or a slow delivery keeps them."""
        step = max(self.visibility / 3, 0.2)
        async for _ in ticks(self._stop, step):
            due = [mid for mid, h in list(self.held.items()) if time.monotonic() - h.since >= step]
            with contextlib.suppress(Exception):  # best effort: a lapsed message is simply read again
                await self._visibility(due, self.visibility)

    async def _visibility(self, mids: list[str], seconds: int) -> None:
        """``ChangeMessageVisibilityBatch`` of held messages, 10 a call, ``parallel`` calls at once."""
        url = await self.resolve()
        now = time.monotonic()
        chunks = [
            [(mid, self.held[mid]) for mid in mids[i : i + 10] if mid in self.held]
            for i in range(0, len(mids), 10)
        ]
        for i in range(0, len(chunks), self.parallel):
            await asyncio.gather(
                *(self._change(url, c, seconds, now) for c in chunks[i : i + self.parallel] if c)
            )

    async def _change(self, url: str, chunk: list[tuple[str, _Held]], seconds: int, now: float) -> None:
        await self._call(
            "change_message_visibility_batch",
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": h.receipt, "VisibilityTimeout": seconds}
                for n, (_, h) in enumerate(chunk)
            ],
        )
        for _, h in chunk:
            h.since = now

    def _decoded(self, msgs: list[dict[str, Any]], on_invalid: OnInvalid | None) -> list[Entry]:
        out = []
        for m in msgs:
            entry, why = decode_message(m)
            if why is None and entry is not None:
                out.append(entry)
            elif on_invalid is not None:
                mid = str(m["MessageId"])
                on_invalid(Invalid(mid, f"message {mid}", why or "invalid"))
        return out

    async def iter_entries(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """Every valid message, in the order SQS hands them out (a FIFO queue: group order), each
        once; held until ``close``. Invalid ones go to ``on_invalid`` (``where``: ``message ID``).
        A FIFO queue hands out no later message of a group while earlier ones are held, so a listing
        shows at most one ``ReceiveMessage`` page (10) per message group."""
        while True:
            while self.buffer:
                for e in self._decoded([self.buffer.popleft()], on_invalid):
                    yield e
            msgs = await self._fresh()
            if msgs is None:
                return
            for e in self._decoded(msgs, on_invalid):
                yield e

    async def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """``iter_entries`` for a replay. On a FIFO queue, when SQS has nothing more to hand out while
        messages of this replay are still being delivered or wait for removal, it asks the replayer to
        commit (``on_blocked``) and waits for them (their groups are blocked until they are deleted),
        for at most ``visibility`` seconds without progress."""
        while True:
            async for e in self.iter_entries(on_invalid):
                self.pending.add(str(e["id"]))
                yield e
            if not (self.fifo and self.pending):
                return
            before, since = len(self.pending), time.monotonic()
            while self.pending and len(self.pending) >= before:
                if time.monotonic() - since > self.visibility:
                    return
                if self.on_blocked is not None:
                    await self.on_blocked()
                if len(self.pending) < before:
                    break
                await asyncio.sleep(0.05)
            if not self.pending and not await self._has_visible():
                return

    async def _has_visible(self) -> bool:
        return (await self.broker_depth())["messages"] > 0

    async def _find(self, wanted: set[str]) -> None:
        """Receive (and hold) until every id in ``wanted`` is held or the queue has no more; what is
        received waits in ``buffer`` to be handed out later in this run."""
        while wanted - self.held.keys():
            msgs = await self._fresh()
            if msgs is None:
                return
            self.buffer.extend(msgs)

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The message with this ``MessageId``, valid or not (a message that is not an entry comes back
        as ``{"id", "body", "attributes", "messageAttributes"}``); ``None`` when the queue has none.
        Receives (and holds) messages until it is found."""
        await self._find({entry_id})
        for m in self.buffer:
            if str(m["MessageId"]) == entry_id:
                entry, _ = decode_message(m)
                if entry is not None:
                    return entry
                return {
                    "id": entry_id,
                    "body": m.get("Body"),
                    "attributes": m.get("Attributes") or {},
                    "messageAttributes": m.get("MessageAttributes") or {},
                }
        return None

    async def remove(self, entry_id: str) -> bool:
        """Delete one message (``remove_many``)."""
        return bool(await self.remove_many([entry_id]))

    async def remove_many(self, entry_ids: list[str]) -> int:
        """``DeleteMessageBatch`` (10 a call) with the receipt handles of this run; ids not held yet
        are searched for first (``_find``: a replay resuming the removals of a killed one). Returns
        how many were deleted; an id the queue no longer has counts as not removed.

        A deletion SQS refuses (``Failed``, e.g. ``ReceiptHandleIsInvalid``: the handle expired, or
        the message was received again elsewhere) is tried once more with a fresh receipt handle
        (the message is received again); refused again, it raises ``ProtocolViolation`` (exit 6)
        naming the code, so the replay journal keeps the id ``delivered`` and the next run removes
        it without delivering it again. (It used to count as not removed, the journal said
        ``removed``, and the message was delivered again by the next replay.)"""
        done, failed = await self._delete_held(entry_ids)
        if failed:
            # stale handles (``_delete`` dropped them): receive those messages again for fresh ones,
            # unless the replay's own receive, polling meanwhile, already has. They stay ``seen``:
            # forgotten, that receive handed them out again (delivered twice in one run)
            again, refused = await self._delete_held(list(failed))
            done |= again
            # not received again (still invisible: held elsewhere, or our lapsed hold) is not gone
            failed = {**{m: w for m, w in failed.items() if m not in again}, **refused}
        deleted = len(done)
        if failed:
            first = next(iter(failed.values()))
            raise ProtocolViolation(
                f"SQS {self.url}: could not delete {len(failed)} acknowledged message(s): {first}",
                hint="rerun the replay: the journal has them as delivered, so they are removed, not sent again",
            )
        gone = set(entry_ids)
        self.pending.difference_update(gone)
        self.buffer = deque(m for m in self.buffer if str(m["MessageId"]) not in gone)
        return deleted

    async def _delete_held(self, entry_ids: list[str]) -> tuple[set[str], dict[str, str]]:
        """Delete ``entry_ids`` with the receipt handles held (receiving those not held first):
        ``(ids deleted, {id: "CODE: message"} refused by SQS)``; ids not found are in neither."""
        missing = {i for i in entry_ids if i not in self.held}
        if missing:
            await self._find(missing)
        ids = [i for i in dict.fromkeys(entry_ids) if i in self.held]
        url = await self.resolve() if ids else ""
        chunks = [ids[i : i + 10] for i in range(0, len(ids), 10)]
        deleted: set[str] = set()
        failed: dict[str, str] = {}
        for i in range(0, len(chunks), self.parallel):
            for ok, f in await asyncio.gather(*(self._delete(url, c) for c in chunks[i : i + self.parallel])):
                deleted |= ok
                failed.update(f)
        return deleted, failed

    async def _delete(self, url: str, chunk: list[str]) -> tuple[set[str], dict[str, str]]:
        """One ``DeleteMessageBatch`` of held messages: ``(ids SQS deleted, {id: "CODE: message"}
        of those it refused})``."""
        sent = [self.held[mid] for mid in chunk]
        out = await self._call(
            "delete_message_batch",
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": h.receipt} for n, h in enumerate(sent)],
        )
        ok = {int(x["Id"]) for x in out.get("Successful") or []}
        for n, mid in enumerate(chunk):
            if n in ok:
                self.held.pop(mid, None)
        failed = {}
        for x in out.get("Failed") or []:
            try:
                n = int(x["Id"])
                mid = chunk[n]
            except (KeyError, ValueError, IndexError):
                continue
            failed[mid] = f"{x.get('Code')}: {_one_line(str(x.get('Message') or ''))}"
            if self.held.get(mid) is sent[n]:  # the refused handle; one received meanwhile is kept
                del self.held[mid]
        return {chunk[n] for n in ok if n < len(chunk)}, failed

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """A failed replay: SQS messages cannot be changed, so the message stays as it is, held until
        the run ends (its receive count records the attempt; the error is in the replay's output)."""
        self.pending.discard(entry_id)

    # -- --to-broker: the native redrive ---------------------------------------------------------

    async def to_broker(self, emit: Callable[[dict[str, Any]], None], rate: float | None = None) -> Redrive:
        """``StartMessageMoveTask`` from this DLQ back to the source queues its messages came from
        (SQS's own redrive; ``rate``: ``MaxNumberOfMessagesPerSecond``, at most 500), then poll
        ``ListMessageMoveTasks`` every ``poll`` seconds, ``emit`` a ``progress`` record on each
        change, until the task is ``COMPLETED``, ``FAILED`` or ``CANCELLED``. Raises what ``_call``
        raises (an emulator without the API: ``ProtocolViolation``, exit 6)."""
        arn = (await self.attributes("QueueArn"))["QueueArn"]
        kw: dict[str, Any] = {"SourceArn": arn}
        if rate is not None:
            kw["MaxNumberOfMessagesPerSecond"] = max(1, min(500, int(rate)))
        started = time.perf_counter()
        try:
            handle = str((await self._call("start_message_move_task", **kw)).get("TaskHandle", ""))
        except ProtocolViolation as exc:
            exc.hint = exc.hint or (
                "the native redrive needs AWS SQS (or an emulator with StartMessageMoveTask; moto has "
                "none) and messages moved here by a redrive policy; replay without --to-broker instead"
            )
            raise
        last: tuple[Any, ...] = ()
        while True:
            out = await self._call("list_message_move_tasks", SourceArn=arn, MaxResults=1)
            tasks = out.get("Results") or []
            task = tasks[0] if tasks else {}
            state = (
                task.get("Status"),
                task.get("ApproximateNumberOfMessagesMoved"),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
            if state != last:
                last = state
                emit(
                    {
                        "type": "progress",
                        "status": state[0],
                        "moved": state[1],
                        "toMove": state[2],
                        "message": f"message move task {state[0]}: {state[1] or 0} of "
                        f"{state[2] if state[2] is not None else '?'} moved",
                    }
                )
            if state[0] in ("COMPLETED", "FAILED", "CANCELLED") or not tasks:
                return Redrive(
                    source=self.url,
                    arn=arn,
                    task_handle=handle,
                    status=str(state[0] or "UNKNOWN"),
                    moved=int(state[1] or 0),
                    to_move=state[2],
                    failure=task.get("FailureReason"),
                    duration=time.perf_counter() - started,
                )
            await asyncio.sleep(self.poll)

    #: Seconds between ``ListMessageMoveTasks`` polls.
    poll = 1.0


@dataclass
class Redrive:
    """``dlq replay --to-broker`` on SQS: the message move task's end. ``duration`` in seconds."""

    source: str
    arn: str
    task_handle: str
    status: str
    moved: int
    to_move: int | None
    failure: str | None
    duration: float

    @property
    def exit(self) -> ExitCode:
        """0 when the task completed; 7 when it failed or was cancelled (docs/exit-codes.md)."""
        return ExitCode.OK if self.status == "COMPLETED" else ExitCode.CHECK_FAILED

    def to_json(self) -> dict[str, Any]:
        """``{"type": "summary", "mode": "to-broker", "source", "sourceArn", "taskHandle", "status",
        "moved", "toMove", "failureReason", "duration", "exitCode"}``."""
        return {
            "type": "summary",
            "mode": "to-broker",
            "source": self.source,
            "sourceArn": self.arn,
            "taskHandle": self.task_handle,
            "status": self.status,
            "moved": self.moved,
            "toMove": self.to_move,
            "failureReason": self.failure,
            "duration": round(self.duration, 6),
            "exitCode": int(self.exit),
        }
