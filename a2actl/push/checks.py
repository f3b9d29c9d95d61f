"""``push listen``: the checks on every push-notification delivery and the account of a listen.

``PushChecker`` is the state machine (no I/O: the receiver in ``push/app.py`` feeds it one
``Delivery`` per webhook POST); ``PushSummary`` is the typed result. Pure: it never prints and imports
no web framework.

Rules, per delivery (A2A v1.0 §4.3.3 and §13.2, v0.3.0 §9; docs/push.md):

* **auth**: when the config carries a ``token``, ``X-A2A-Notification-Token`` must equal it; when it
  carries ``authentication {scheme, credentials}``, ``Authorization`` must be ``<scheme>
  <credentials>`` (the scheme compared case-insensitively, RFC 9110 §11.1). Compared in constant time.
  A delivery that fails is answered 401 and is not trusted: it moves neither the order check nor the
  final state. Rules ``missing-token``, ``wrong-token``, ``missing-authorization``,
  ``wrong-authorization``: failures (exit 7).
* **body**: JSON in UTF-8 without a byte order mark (RFC 8259 §8.1) whose shape is the family's
  push payload. 1.0: a ``StreamResponse`` (exactly one of
  ``task``, ``message``, ``statusUpdate``, ``artifactUpdate``); 0.3: the Task (``kind: "task"``; the
  0.3 stream events ``status-update``/``artifact-update`` are accepted too, a lenient reading:
  a2a-sdk 0.x's sender posted the Task itself, ``task.model_dump(mode='json', exclude_none=True)``).
  Then the minimum fields: a Task has a string ``id`` and a known ``status.state``; a status update a
  ``taskId`` and a known ``status.state``; an artifact update a ``taskId`` and an ``artifact`` object;
  a Message a ``messageId``. The classification is ``protocol.events.classify_event``'s. A body of the
  *other* family is ``version-mismatch`` (a 1.0 StreamResponse for a 0.3 registration: what a2a-sdk
  1.x sends whatever version the config was set with). A member name repeated in one object is
  ``duplicate-key``: read on when every repeat has one value, otherwise ambiguous (which value counts
  depends on the reader) and not read further. Rules ``not-json``, ``not-an-object``,
  ``not-a-push-payload``, ``version-mismatch``, ``missing-field``, ``duplicate-key``, ``oversize``, ``incomplete`` (the
  sender hung up before the end of the body, or it was still arriving when the listen ended), ``other-task`` (a
  delivery for another task than the one registered): failures (exit 7); answered 400.
* **duplicates**: delivery is at-least-once, so a trusted body equal (as JSON, key order ignored)
  to an earlier one is counted as a ``duplicate`` (every delivery whose record says ``duplicate:
  true``, an invalid one included: it is still counted invalid) and is not a failure; it is not
  audited again. Two distinct events with the same JSON (the same chunk appended twice, a status
  repeated without a timestamp) cannot be told from a re-delivery: the second counts as a duplicate.
* **order**: the lifecycle audit of ``protocol.lifecycle`` over the unique, valid deliveries: a state
  that goes back or changes after a terminal state (``illegal-transition``), an artifact chunk after
  its ``lastChunk`` or an ``append`` to an artifact never seen (a chunk delivered early or lost).
  Order is not promised by the spec, so these are warnings unless ``strict_order`` (exit 7).
* **latency**: receive time minus the event's own timestamp (``status.timestamp``; messages and
  artifact updates carry none), seconds; negative values mean the clocks disagree.
* **final state**: the last state of the task seen in a trusted delivery; the listen ends when it is
  terminal (completed, failed, canceled, rejected) or interrupted (input-required, auth-required: the
  agent waits for the client, and no push comes until the client answers; spec v1.0 §4.1.3), as
  ``stream tail`` ends there. A task that resumes (a later trusted delivery moves it out of the
  interrupted state) keeps the listen going.

Exit codes (docs/exit-codes.md, ``push_exit``): 7 any failure above (also when ``--max-time`` ended
the listen: a known failure says more than the clock), the agent answered a Message so there is
no task to push about, or the task ended in a ``--fail-on`` state (``failedOn``); 5 ``--max-time``
with no failure; 130 Ctrl-C (the summary is still written); 0 the task reached a terminal or
interrupted state and every delivery passed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from a2actl.core.exit_codes import ExitCode
from a2actl.core.pointer import pointer_token, to_pointer
from a2actl.core.redact import preview
from a2actl.core.stats import summarize
from a2actl.protocol.events import StreamEvent, classify_event
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import Family

#: Receives every delivery record (a JSON-ready dict with ``type: "delivery"``) as soon as it is known.
Emit = Callable[[dict[str, Any]], None]

#: Header the token travels in (v0.3.0 §9; still sent by both SDKs' 1.x senders).
TOKEN_HEADER = "x-a2a-notification-token"
#: Failure rules about credentials (answered 401).
AUTH_RULES = ("missing-token", "wrong-token", "missing-authorization", "wrong-authorization")
#: Order rules of the lifecycle audit kept for push (``event-after-end`` is not: pushes go on after
#: an interrupted state when the task resumes).
ORDER_RULES = ("illegal-transition", "append-after-last-chunk", "append-to-unknown-artifact")
#: Bodies larger than this many bytes are not read (``oversize``): 16 MiB, ``stream tail``'s bound.
MAX_BODY = 16 * 1024 * 1024
#: Bodies of deliveries whose credentials fail are read up to this many bytes (64 KiB: enough to
#: show what arrived), so unauthenticated senders cannot make the receiver buffer 16 MiB each.
MAX_UNTRUSTED_BODY = 64 * 1024
#: How many problems the summary lists (all are counted).
MAX_LISTED = 50
#: ``-o json`` keeps the full records of this many deliveries whose credentials matched: the first
#: half and the last half (``DeliveryLog``); ``-o jsonl`` and the table write every record at once.
KEPT_TRUSTED = 10_000
#: ``-o json`` keeps the full records of the first this many deliveries whose credentials failed
#: (forged or misconfigured senders: the rest are only counted, by rule).
KEPT_UNTRUSTED = 100


@dataclass(frozen=True)
class PushConfig:
    """What the agent was (or is to be) told: the webhook ``url``, the ``token`` it must echo in
    ``X-A2A-Notification-Token`` and optional ``authentication`` (``scheme`` + ``credentials``, sent
    back as ``Authorization: <scheme> <credentials>``). ``token`` and ``credentials`` are secrets:
    ``config_json`` writes them as ``***`` unless asked (``reveal=True``)."""

    url: str
    token: str | None
    scheme: str | None = None
    credentials: str | None = None

    def config_json(
        self, family: Family, task_id: str | None = None, *, reveal: bool = False
    ) -> dict[str, Any]:
        """The push config as the agent's version spells it: 1.0 flat ``TaskPushNotificationConfig``
        ``{taskId, url, token, authentication{scheme, credentials}}``; 0.x ``TaskPushNotificationConfig``
        ``{taskId, pushNotificationConfig{url, token, authentication{schemes[], credentials}}}`` (spec
        v1.0 §4.3.2, v0.3.0 §6.10). Secrets are ``***`` unless ``reveal``."""

        def secret(value: str | None) -> str | None:
            return value if reveal or value is None else "***"

        inner: dict[str, Any] = {"url": self.url}
        if self.token is not None:
            inner["token"] = secret(self.token)
        if self.scheme:
            if family is Family.V1_0:
                inner["authentication"] = {"scheme": self.scheme, "credentials": secret(self.credentials)}
            else:
                inner["authentication"] = {"schemes": [self.scheme], "credentials": secret(self.credentials)}
        if family is Family.V1_0:
            return {"taskId": task_id, **inner} if task_id is not None else inner
        out: dict[str, Any] = {"pushNotificationConfig": inner}
        if task_id is not None:
            out = {"taskId": task_id, **out}
        return out

    def secrets(self) -> list[str]:
        """The values never to print: the token and the credentials."""
        return [v for v in (self.token, self.credentials) if v]


def new_token() -> str:
    """A fresh webhook token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Delivery:
    """One webhook POST as received: ``headers`` (lower-case names → values), the raw ``body``
    (``None`` when it was over ``limit`` and not read), ``size`` the bytes received (what was read
    before reading stopped; 0 for a body refused on its ``Content-Length``, never the length
    announced: a forged header must not inflate the count), the request ``path``, the ``wall_ns``
    receive time (nanoseconds since the epoch) and ``complete`` (false: the sender closed the
    connection before the end of the body, or it was still arriving when the listen ended; ``body``
    is what came)."""

    headers: dict[str, str]
    body: bytes | None
    size: int
    path: str = "/"
    wall_ns: int = 0
    complete: bool = True
    #: The bound ``body`` was read under (bytes): ``MAX_BODY``, or ``MAX_UNTRUSTED_BODY`` when the
    #: credentials failed.
    limit: int = MAX_BODY
    #: The ``Content-Length`` (bytes) when it announced more than ``limit`` and the body was not
    #: read for it, else ``None``.
    announced: int | None = None


@dataclass(frozen=True)
class Verdict:
    """What the receiver answers: an HTTP ``status`` (204 accepted, 401 auth failed, 400 invalid)
    and the ``record`` emitted for the delivery."""

    status: int
    record: dict[str, Any]


#: Body rules that leave a delivery readable (counted for order, latency and the final state).
_READABLE_RULES = frozenset({"version-mismatch", "duplicate-key"})


def _problem(rule: str, message: str) -> dict[str, str]:
    return {"rule": rule, "message": message}


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(text: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 timestamp (``2026-11-22T02:45:07.365954Z``, any
    precision, ``Z`` or an offset; no offset is read as UTC); ``None`` when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    s = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _event_timestamp(ev: StreamEvent) -> float | None:
    status = ev.payload.get("status")
    return parse_timestamp(status.get("timestamp")) if isinstance(status, dict) else None


class _NotJson(ValueError):
    """A literal Python's reader takes but JSON has not (``NaN``, ``Infinity``, ``-Infinity``)."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON, RFC 8259 §6")


class _Repeats:
    """What ``_parse_json`` saw of member names repeated within one object: ``objects``, how many
    objects repeat a name; ``first``, the first few such objects (as decoded) with their repeated
    names; ``same``, whether every repeat so far has the value of the first occurrence."""

    __slots__ = ("first", "objects", "same")

    #: How many objects ``first`` keeps (the problem names up to this many).
    KEPT = 3

    def __init__(self) -> None:
        self.objects = 0
        self.first: list[tuple[dict[str, Any], list[str]]] = []
        self.same = True

    def note(self, obj: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
        """``obj`` was decoded from ``pairs``, which name some member more than once."""
        self.objects += 1
        seen: dict[str, Any] = {}
        names: list[str] = []
        for name, value in pairs:
            if name not in seen:
                seen[name] = value
                continue
            if name not in names:
                names.append(name)
            if self.same and not _same_json(seen[name], value):
                self.same = False
        if len(self.first) < self.KEPT:
            self.first.append((obj, names))


def _same_json(a: Any, b: Any) -> bool:
    """Whether two decoded JSON values are the same JSON: of one type (``1`` and ``1.0``, ``1`` and
    ``true`` are not), and equal (objects whatever their key order). Inside objects and arrays Python's
    equality is used, which takes a nested ``1`` for ``1.0`` or ``true``: a serialisation of each
    repeat would make a sender's many repeats cost seconds of the receiver's event loop."""
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except RecursionError:
        return False


def _parse_json(raw: bytes) -> tuple[Any, str | None, _Repeats | None]:
    """``(value, None, repeats)`` for a JSON text in UTF-8, else ``(None, why, None)``. UTF-8 only,
    no byte order mark (RFC 8259 §8.1: networked JSON MUST be UTF-8; ``json.loads`` on bytes would
    also take UTF-16/32); no ``NaN``/``Infinity`` (RFC 8259 §6: ``json.loads`` takes them, strict
    readers refuse the body). ``repeats``: ``None``, or what was seen of member names repeated in
    one object (``value`` then holds the last of each, as ``json.loads`` keeps; ``duplicate_problem``
    words it)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 at byte {exc.start}, RFC 8259 §8.1", None
    if text.startswith("\ufeff"):
        return None, "a byte order mark, RFC 8259 §8.1", None
    repeats = _Repeats()

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            repeats.note(obj, pairs)
        return obj

    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=members)
    except _NotJson as exc:
        return None, str(exc), None
    except RecursionError:
        return None, "nested too deeply to read", None
    except ValueError as exc:
        return None, str(exc).split("\n")[0][:120], None
    return value, None, repeats if repeats.objects else None


def _pointers(doc: Any, wanted: list[dict[str, Any]]) -> dict[int, str]:
    """``id(obj) → JSON pointer`` of the ``wanted`` objects found in ``doc``: one walk in document
    order, stopping when all are found (an object inside a value a later repeat replaced is not in
    ``doc``, and is not found)."""
    want = {id(o) for o in wanted}
    out: dict[int, str] = {}
    if isinstance(doc, dict) and id(doc) in want:
        out[id(doc)] = ""
    if not isinstance(doc, (dict, list)):
        return out

    def children(node: dict[str, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
        return iter(node.items()) if isinstance(node, dict) else enumerate(node)

    stack: list[tuple[Iterator[tuple[Any, Any]], tuple[Any, ...]]] = [(children(doc), ())]
    while stack and len(out) < len(want):
        items, path = stack[-1]
        for key, value in items:
            if isinstance(value, (dict, list)):
                sub = (*path, key)
                if isinstance(value, dict) and id(value) in want:
                    out[id(value)] = to_pointer(sub)
                stack.append((children(value), sub))
                break
        else:
            stack.pop()
    return out


def duplicate_problem(doc: Any, repeats: _Repeats) -> tuple[dict[str, str], bool]:
    """The ``duplicate-key`` problem of a body (decoded as ``doc``) whose objects repeat a member name
    (RFC 8259 §4: names SHOULD be unique, and readers disagree on which value counts: Python and
    JavaScript keep the last, others the first, strict ones refuse the body), naming up to three by
    JSON pointer; and whether every repeat has the same value (``True``: no reader can read it
    differently). Linear in the body: a sender's repeats cannot make it quadratic."""
    where = _pointers(doc, [o for o, _ in repeats.first])
    named = []
    for obj, names in repeats.first:
        base = where.get(id(obj))
        for name in names[:3]:
            named.append(
                f"{base}/{pointer_token(name)}" if base is not None else f"'{name}' (in a replaced value)"
            )
    more = repeats.objects - len(repeats.first)
    what = "the same value" if repeats.same else "different values: the body is ambiguous"
    message = f"a member name repeated in one object, with {what}: {', '.join(named[:3])}"
    if more > 0:
        message += f" (and in {more} more object{'s' if more > 1 else ''})"
    return _problem("duplicate-key", message), repeats.same


def check_body(obj: Any, family: Family) -> tuple[StreamEvent | None, list[dict[str, str]]]:
    """Classify a parsed push body for ``family`` and check its shape (module docstring, "body").
    Returns the event (``None`` when it is no push payload at all) and the problems found (empty: it
    is valid). Never raises."""
    if not isinstance(obj, dict):
        return None, [_problem("not-an-object", f"the body is a JSON {type(obj).__name__}, not an object")]
    ev = classify_event(obj)
    if ev.kind == "unknown":
        return None, [
            _problem(
                "not-a-push-payload",
                "neither a 1.0 StreamResponse (task | message | statusUpdate | artifactUpdate) nor a 0.3 "
                f"Task (kind: task); keys: {', '.join(sorted(map(str, obj))[:6])}",
            )
        ]
    body_family = Family.V0_3 if "kind" in obj else Family.V1_0
    want = Family.V1_0 if family is Family.V1_0 else Family.V0_3
    problems: list[dict[str, str]] = []
    if body_family is not want:
        problems.append(
            _problem(
                "version-mismatch",
                f"a {body_family.value} {ev.kind} body for a {want.value} registration (A2A {want.value} "
                + ("pushes a StreamResponse)" if want is Family.V1_0 else "pushes the Task, kind: task)"),
            )
        )
    elif body_family is Family.V1_0:
        members = [k for k in ("task", "message", "msg", "statusUpdate", "artifactUpdate") if k in obj]
        if len(members) != 1:
            problems.append(
                _problem("not-a-push-payload", f"a StreamResponse has exactly one member, this has {members}")
            )
        if not isinstance(obj.get(members[0]) if members else None, dict):
            problems.append(
                _problem("missing-field", f"{members[0] if members else 'member'} is not an object")
            )
    body = ev.payload
    if ev.kind == "task":
        if not isinstance(body.get("id"), str) or not body.get("id"):
            problems.append(_problem("missing-field", "a Task without an id"))
    elif ev.kind in ("status-update", "artifact-update"):
        if not isinstance(body.get("taskId"), str) or not body.get("taskId"):
            problems.append(_problem("missing-field", f"a {ev.kind} without a taskId"))
    if ev.kind in ("task", "status-update") and (ev.state is None or ev.state == "unknown"):
        problems.append(_problem("missing-field", f"a {ev.kind} without a known status.state"))
    if ev.kind == "artifact-update" and not isinstance(body.get("artifact"), dict):
        problems.append(_problem("missing-field", "an artifact-update without an artifact object"))
    if ev.kind == "message" and not body.get("messageId"):
        problems.append(_problem("missing-field", "a Message without a messageId"))
    return ev, problems


def push_exit(outcome: str, *, failures: int, order_failures: int, failed_on: str | None = None) -> ExitCode:
    """The exit code of a listen (docs/exit-codes.md, ``push listen``): 7 for any failed delivery
    (``failures``: auth or body; ``order_failures``: order problems under ``--strict-order``), the
    outcome ``no-task``, or a ``completed`` listen whose final state ``--fail-on`` names
    (``failed_on``: that state, else ``None``); 5 for ``max-time`` and 130 for ``interrupted``
    (Ctrl-C stopped the receiver) without failures; else 0."""
    if failures or order_failures or outcome == "no-task":
        return ExitCode.CHECK_FAILED
    if failed_on is not None and outcome == "completed":
        return ExitCode.CHECK_FAILED
    if outcome == "max-time":
        return ExitCode.TIMEOUT
    if outcome == "interrupted":
        return ExitCode.INTERRUPTED
    return ExitCode.OK


class DeliveryLog:
    """The delivery records ``-o json`` keeps for its one document, bounded: a flood of forged
    POSTs during a long listen must not grow memory without end. Kept in full: the first
    ``KEPT_UNTRUSTED`` deliveries whose credentials failed (``auth`` other than ``ok``), and of the
    others the first ``KEPT_TRUSTED // 2`` and the last ``KEPT_TRUSTED - KEPT_TRUSTED // 2``. Every
    other record is counted in ``left_out`` (by its ``auth``); the summary's counters cover every
    delivery either way. Iterates the kept records in delivery order (``n``); list-like enough for
    ``render.output.RecordWriter`` (``append``, ``len``, iteration)."""

    def __init__(self) -> None:
        self._head: list[dict[str, Any]] = []
        self._head_trusted = 0
        self._untrusted = 0
        self._keep_head = KEPT_TRUSTED // 2
        self._keep_untrusted = KEPT_UNTRUSTED
        self._tail: deque[dict[str, Any]] = deque(maxlen=KEPT_TRUSTED - self._keep_head)
        #: Records not kept: ``auth`` value → count.
        self.left_out: dict[str, int] = {}

    def _leave_out(self, rec: dict[str, Any]) -> None:
        auth = str(rec.get("auth"))
        self.left_out[auth] = self.left_out.get(auth, 0) + 1

    def append(self, rec: dict[str, Any]) -> None:
        """Keep ``rec`` (a delivery record), or count it as left out (class docstring)."""
        if rec.get("auth") != "ok":
            if self._untrusted < self._keep_untrusted:
                self._untrusted += 1
                self._head.append(rec)
            else:
                self._leave_out(rec)
        elif self._head_trusted < self._keep_head:
            self._head_trusted += 1
            self._head.append(rec)
        elif self._tail.maxlen:
            if len(self._tail) == self._tail.maxlen:
                self._leave_out(self._tail[0])  # dropped from the window of the last ones
            self._tail.append(rec)
        else:
            self._leave_out(rec)

    def __len__(self) -> int:
        return len(self._head) + len(self._tail)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(sorted([*self._head, *self._tail], key=lambda r: int(r.get("n") or 0)))

    def left_out_json(self) -> dict[str, Any] | None:
        """``{"count", "byAuth": {auth: count}}`` for the summary's ``recordsLeftOut``, or ``None``
        when every record was kept (the document keeps its ordinary shape)."""
        if not self.left_out:
            return None
        return {"count": sum(self.left_out.values()), "byAuth": dict(self.left_out)}


@dataclass(frozen=True)
class PushSummary:
    """The result of one listen (the ``summary`` record). Seconds and bytes; ``exit`` is the
    process's exit code (``push_exit``), ``exitCode`` in the JSON document."""

    outcome: str
    exit: ExitCode
    url: str | None
    task_id: str | None
    registration: dict[str, Any] | None
    deliveries: int
    unique: int
    duplicates: int
    auth_failures: int
    invalid: int
    out_of_order: int
    bytes: int
    duration: float
    first_delivery: float | None
    latency: dict[str, float | None]
    final_state: str | None
    problems: list[dict[str, Any]]
    #: The final state when ``--fail-on`` names it and the listen saw the task settle, else ``None``.
    failed_on: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``summary`` record (docs/push.md); with ``-o json`` the records go under ``records``."""
        return {
            "type": "summary",
            "outcome": self.outcome,
            "exitCode": int(self.exit),
            "url": self.url,
            "taskId": self.task_id,
            "registration": self.registration,
            "deliveries": self.deliveries,
            "unique": self.unique,
            "duplicates": self.duplicates,
            "authFailures": self.auth_failures,
            "invalid": self.invalid,
            "outOfOrder": self.out_of_order,
            "bytes": self.bytes,
            "duration": self.duration,
            "firstDelivery": self.first_delivery,
            "latency": self.latency,
            "finalState": self.final_state,
            "failedOn": self.failed_on,
            "problems": self.problems,
        }


@dataclass
class PushChecker:
    """The running account of one listen. ``deliver`` checks one ``Delivery`` and returns the
    ``Verdict``; ``done`` is true once a trusted delivery carried a terminal state of the task, or
    while the task is in an interrupted state; ``summary`` ends it. ``emit`` gets every delivery
    record. ``task_id``: the task the config was registered for (``None``: adopted from the first
    trusted delivery). ``fail_on``: canonical states that fail a listen ending in them
    (``--fail-on``). ``clock`` (seconds, monotonic) and ``wall_ns`` (nanoseconds since the epoch) are
    seams for tests."""

    config: PushConfig
    emit: Emit
    family: Family = Family.V1_0
    task_id: str | None = None
    strict_order: bool = False
    fail_on: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.perf_counter
    wall_ns: Callable[[], int] = time.time_ns
    t0: float = field(init=False)
    last: float | None = None
    count: int = 0
    unique: int = 0
    duplicates: int = 0
    auth_failures: int = 0
    invalid: int = 0
    out_of_order: int = 0
    total_bytes: int = 0
    first: float | None = None
    latencies: list[float] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    lifecycle: Lifecycle = field(init=False)
    _seen: set[str] = field(default_factory=set)
    #: A trusted delivery brought a terminal state (sticky: a later state change is an order problem).
    _ended: bool = False

    def __post_init__(self) -> None:
        self.t0 = self.clock()
        # push ends on terminal states, not on final: true; its payloads are audited as 1.0 whatever
        # their version, so their shape is not
        self.lifecycle = Lifecycle(Family.V1_0, wire_shape=False)

    @property
    def done(self) -> bool:
        """Whether the listen can end: a trusted delivery brought the task to a terminal state, or
        the task is now in an interrupted state (input-required, auth-required: the agent waits for
        the client and pushes nothing more until it answers). Turns false again when a later
        delivery resumes an interrupted task."""
        return self._ended or self.lifecycle.settled

    @property
    def final_state(self) -> str | None:
        """The last task state seen in a trusted, valid delivery (canonical name)."""
        return self.lifecycle.state

    def expect_task(self, task_id: str) -> None:
        """The task the config is for, once known (``--send`` learns it from the SendMessage answer)."""
        self.task_id = task_id

    def trusts(self, headers: dict[str, str]) -> bool:
        """Whether these request headers (lower-case names) carry the config's credentials: the
        receiver reads an untrusted body only up to ``MAX_UNTRUSTED_BODY``."""
        return not self._auth(headers)

    def _auth(self, headers: dict[str, str]) -> list[dict[str, str]]:
        cfg = self.config
        found: list[dict[str, str]] = []
        if cfg.token is not None:
            got = headers.get(TOKEN_HEADER)
            if got is None:
                found.append(_problem("missing-token", "no X-A2A-Notification-Token header"))
            elif not secrets.compare_digest(got.encode(), cfg.token.encode()):
                found.append(
                    _problem("wrong-token", "X-A2A-Notification-Token does not match the registered token")
                )
        if cfg.scheme:
            got = headers.get("authorization")
            if got is None:
                found.append(
                    _problem("missing-authorization", f"no Authorization header ({cfg.scheme} expected)")
                )
            else:
                scheme, _, cred = got.strip().partition(" ")
                if scheme.lower() != cfg.scheme.lower() or not secrets.compare_digest(
                    cred.strip().encode(), (cfg.credentials or "").encode()
                ):
                    found.append(
                        _problem(
                            "wrong-authorization",
                            f"Authorization does not match the registered {cfg.scheme} credentials",
                        )
                    )
        return found

    def deliver(self, d: Delivery) -> Verdict:
        """Check one delivery (module docstring), emit its record and return the answer to give."""
        now = self.clock()
        delta = now - (self.last if self.last is not None else self.t0)
        self.last = now
        if self.first is None:
            self.first = now - self.t0
        self.count += 1
        self.total_bytes += d.size
        problems = self._auth(d.headers)
        trusted = not problems
        if not trusted:
            self.auth_failures += 1
        ev: StreamEvent | None = None
        duplicate = False
        order: list[dict[str, str]] = []
        latency: float | None = None
        body_problems: list[dict[str, str]] = []
        ambiguous = False
        if d.body is None:
            small = "" if d.limit >= MAX_BODY else " (the credentials failed: only small bodies are read)"
            size = (
                f"a body of {d.announced} bytes announced (Content-Length)"
                if d.announced is not None
                else f"a body of over {d.size} bytes"
            )
            body_problems.append(_problem("oversize", f"{size}, over {d.limit}: not read{small}"))
        elif not d.complete:
            body_problems.append(
                _problem(
                    "incomplete",
                    f"the body stopped after {d.size} bytes: the sender hung up, or it was still "
                    "arriving when the listen ended",
                )
            )
        else:
            obj, why, repeats = _parse_json(d.body)
            if why is not None:
                body_problems.append(
                    _problem(
                        "not-json",
                        f"the body is not JSON ({why}): {preview(d.body, 60)!r}",
                    )
                )
            if not body_problems:
                ev, body_problems = check_body(obj, self.family)
                if repeats is not None:
                    # a failure (400) either way; one whose repeats differ (two statusUpdate members,
                    # two states) is not read further: which state it reports depends on the reader
                    repeat, same = duplicate_problem(obj, repeats)
                    body_problems.insert(0, repeat)
                    if not same:  # what it says is the last value's: not shown as the body's
                        ambiguous = True
                        ev, body_problems = None, [repeat]
                if ev is not None and trusted and not ambiguous:
                    try:
                        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
                    except (RecursionError, ValueError):
                        canonical = d.body
                    key = hashlib.sha256(canonical).hexdigest()
                    duplicate = key in self._seen
                    self._seen.add(key)
                    if duplicate:
                        self.duplicates += 1
        # readable: a body that failed only for its version, or for a member repeated with one value
        readable = not ambiguous and all(p["rule"] in _READABLE_RULES for p in body_problems)
        if ev is not None and ev.task_id and readable:
            if self.task_id is None and trusted:
                self.task_id = ev.task_id
            elif self.task_id is not None and ev.task_id != self.task_id:
                body_problems.append(
                    _problem(
                        "other-task", f"a delivery for task {ev.task_id}; the config is for {self.task_id}"
                    )
                )
        if body_problems:
            self.invalid += 1
        problems += body_problems
        # A body of the other family (or one repeating a member with the same value) is a failure,
        # but readable: it still counts for duplicates, order, latency and the final state (so the
        # listen ends when the task does).
        readable = readable and all(p["rule"] in _READABLE_RULES for p in body_problems)
        if ev is not None and trusted and readable:
            ts = _event_timestamp(ev)
            if ts is not None:
                latency = round(d.wall_ns / 1e9 - ts, 6)
            if not duplicate:
                self.unique += 1
                if latency is not None:
                    self.latencies.append(latency)
                order = self._audit(ev)
                if order:
                    self.out_of_order += 1
                self._ended = self._ended or self.lifecycle.terminal
        for check, found in (
            ("auth", problems[: len(problems) - len(body_problems)]),
            ("body", body_problems),
            ("order", order),
        ):
            for p in found:
                if len(self.problems) < MAX_LISTED:
                    self.problems.append({"delivery": self.count, "check": check, **p})
        wall = datetime.fromtimestamp(d.wall_ns / 1e9, timezone.utc).isoformat(timespec="milliseconds")
        record = {
            "type": "delivery",
            "n": self.count,
            "wall": wall.replace("+00:00", "Z"),
            "t": round(now - self.t0, 6),
            "delta": round(delta, 6),
            "path": d.path,
            "kind": ev.kind if ev is not None else None,
            "state": ev.state if ev is not None else None,
            "taskId": ev.task_id if ev is not None else None,
            "bytes": d.size,
            "contentType": d.headers.get("content-type"),
            "auth": "ok" if trusted else problems[0]["rule"],
            "valid": not body_problems,
            "duplicate": duplicate,
            "latency": latency,
            "problems": problems,
            "order": order,
        }
        self.emit(record)
        status = 401 if not trusted else 400 if body_problems else 204
        return Verdict(status, record)

    def _audit(self, ev: StreamEvent) -> list[dict[str, str]]:
        """The order rules for one unique, trusted, valid delivery."""
        lc = self.lifecycle
        if lc.ended and not lc.terminal:  # interrupted, then resumed: pushes go on
            lc.ended = False
        found = lc.observe(ev)
        return [v.to_json() for v in found if v.rule in ORDER_RULES]

    def summary(
        self, outcome: str, *, url: str | None = None, registration: dict[str, Any] | None = None
    ) -> PushSummary:
        """The summary of the listen ending now with ``outcome`` (``completed``: the task reached a
        terminal or interrupted state; ``max-time``; ``no-task``: the agent answered a Message;
        ``interrupted``: the receiver stopped first, on Ctrl-C)."""
        now = self.clock()
        lat = summarize(self.latencies)
        failures = self.auth_failures + self.invalid
        state = self.final_state
        failed_on = state if outcome == "completed" and state in self.fail_on else None
        return PushSummary(
            outcome=outcome,
            exit=push_exit(
                outcome,
                failures=failures,
                order_failures=self.out_of_order if self.strict_order else 0,
                failed_on=failed_on,
            ),
            url=url,
            task_id=self.task_id,
            registration=registration,
            deliveries=self.count,
            unique=self.unique,
            duplicates=self.duplicates,
            auth_failures=self.auth_failures,
            invalid=self.invalid,
            out_of_order=self.out_of_order,
            bytes=self.total_bytes,
            duration=round(now - self.t0, 6),
            first_delivery=round(self.first, 6) if self.first is not None else None,
            latency={"p50": lat["p50"], "p99": lat["p99"], "max": lat["max"]},
            final_state=state,
            problems=self.problems,
            failed_on=failed_on,
        )


__all__ = [
    "AUTH_RULES",
    "KEPT_TRUSTED",
    "KEPT_UNTRUSTED",
    "MAX_BODY",
    "MAX_UNTRUSTED_BODY",
    "Delivery",
    "DeliveryLog",
    "PushChecker",
    "PushConfig",
    "PushSummary",
    "Verdict",
    "check_body",
    "new_token",
    "parse_timestamp",
    "push_exit",
]
