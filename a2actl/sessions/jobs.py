"""``a2actl sessions``: list, show, kill sessions and find leaks, through the debug API
(``docs/debug-endpoints.md``) or, where a deployment has none, derived from standard A2A.

Sources:

* ``debug``: ``GET {origin}{prefix}`` answers (default prefix ``/debug/a2a``). a2actl first probes it
  *without* credentials: a deployment that answers is flagged loudly (anyone could kill sessions).
* ``a2a-listtasks`` (fallback, A2A 1.0): ``ListTasks`` grouped by ``contextId``; ``createdAt`` /
  ``lastActivityAt`` are the earliest / latest status timestamps of the context's tasks, and kill is
  ``CancelTask`` on each non-terminal task. A 0.3 endpoint without debug endpoints cannot list
  sessions (0.3 has no ListTasks), and a2actl says so.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from a2actl.core.errors import AuthError, HTTPStatusError, ProtocolViolation, UsageError
from a2actl.protocol.versions import Family, StateKind, canonical_state, state_kind

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

DEFAULT_PREFIX = "/debug/a2a"
OPEN_API_WARNING = (
    "the debug API at {url} answered WITHOUT credentials: anyone who can reach it can list "
    "and kill sessions; protect it with a bearer token (docs/debug-endpoints.md)"
)


@dataclasses.dataclass
class Filters:
    """Session filters; durations in seconds."""

    older_than: float | None = None
    idle_for: float | None = None
    state: str | None = None
    peer: str | None = None

    def query(self) -> dict[str, Any]:
        q: dict[str, Any] = {}
        if self.older_than is not None:
            q["olderThan"] = self.older_than
        if self.idle_for is not None:
            q["idleFor"] = self.idle_for
        if self.state:
            q["state"] = self.state
        if self.peer:
            q["peer"] = self.peer
        return q

    def keep(self, s: dict[str, Any]) -> bool:
        """The same filters applied client-side (the fallback source has no server filtering)."""
        if (
            self.state is None
            and s["state"] == "closed"
            or self.state is not None
            and s["state"] != self.state
        ):
            return False
        if self.older_than is not None and s["ageSeconds"] < self.older_than:
            return False
        if self.idle_for is not None and s["idleSeconds"] < self.idle_for:
            return False
        return self.peer is None or s.get("peer") == self.peer


def _origin(target: str) -> str:
    from a2actl.agent.target import parse_target

    t = parse_target(target)
    if not t.is_remote:
        raise UsageError("sessions need a live agent URL, not a card file")
    p = urlsplit(t.value)
    return urlunsplit((p.scheme, p.netloc, "", "", ""))


class Sessions:
    """An open connection to one agent's sessions (use as an async context manager)."""

    def __init__(
        self, target: str, settings: Settings, sink: EventSink | None, prefix: str = DEFAULT_PREFIX
    ) -> None:
        from a2actl.transport.http import HttpTransport

        self.target = target
        self.settings = settings
        self.sink = sink
        self.base = _origin(target) + "/" + prefix.strip("/")
        self.transport = HttpTransport(settings, sink)
        self.source = "debug"
        self.warnings: list[str] = []
        self.client: Any = None

    async def __aenter__(self) -> Sessions:
        await self._discover()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.client.aclose()

    async def _discover(self) -> None:
        from a2actl.transport.http import HttpTransport

        anonymous = dataclasses.replace(
            self.settings,
            token=None,
            headers=tuple(h for h in self.settings.headers if h[0].lower() != "authorization"),
        )
        async with HttpTransport(anonymous, self.sink) as anon:
            try:
                res = await anon.request("GET", self.base, headers={"Accept": "application/json"})
            except AuthError:
                return  # present and protected: what the contract asks for
        if res.status == 200:
            self.warnings.append(OPEN_API_WARNING.format(url=self.base))
            return
        if res.status in (404, 405):
            await self._fallback()
            return
        raise HTTPStatusError(
            f"{self.base} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
        )

    async def _fallback(self) -> None:
        from a2actl.agent.connect import connect

        self.client = await connect(self.target, self.settings, self.transport)
        if self.client.family is not Family.V1_0:
            speaks_v1 = any(i.family is Family.V1_0 for i in self.client.selection.candidates)
            forced = self.settings.a2a_version not in ("auto", "", None)
            hint = (
                "the card declares A2A 1.0: drop --a2a-version "
                f"{self.settings.a2a_version} (ListTasks is 1.0)"
                if speaks_v1 and forced
                else "mount the a2actl debug router (docs/debug-endpoints.md), or upgrade the agent to A2A 1.0"
            )
            raise UsageError(
                f"sessions cannot be listed: {self.base} has no debug endpoints and A2A "
                f"{self.client.family.value} (spoken {'as asked' if forced else 'as the card declares'})"
                " has no ListTasks",
                hint=hint,
            )
        self.source = "a2a-listtasks"
        self.warnings.append(
            f"no debug endpoints at {self.base}: sessions derived from ListTasks grouped by contextId"
        )

    # -- debug API --------------------------------------------------------------------------------
    async def _get(self, url: str) -> Any:
        res = await self.transport.request("GET", url, headers={"Accept": "application/json"})
        return self._json(res)

    def _json(self, res: Any) -> Any:
        if res.status == 404:
            return None
        body = res.json()
        if res.status >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise HTTPStatusError(
                f"{res.url}: HTTP {res.status}: {err.get('message', res.reason)}",
                details={"httpStatus": res.status},
            )
        return body

    async def list(
        self, filters: Filters, limit: int | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Sessions matching ``filters``, oldest first, following every page (at most ``limit``)."""
        if self.source != "debug":
            return [s for s in await self._derived() if filters.keep(s)][:limit]
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            q = {**filters.query(), "pageSize": page_size}
            if cursor:
                q["cursor"] = cursor
            page = await self._get(f"{self.base}/sessions?{urlencode(q)}")
            if not isinstance(page, dict) or not isinstance(page.get("sessions"), list):
                raise ProtocolViolation(f"{self.base}/sessions did not answer a SessionPage")
            out += page["sessions"]
            cursor = page.get("nextCursor")
            if not cursor or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out

    async def get(self, session_id: str) -> dict[str, Any] | None:
        if self.source != "debug":
            return next((s for s in await self._derived() if s["id"] == session_id), None)
        return await self._get(f"{self.base}/sessions/{quote(session_id, safe='')}")

    async def kill(self, session_id: str) -> dict[str, Any]:
        """The contract's ``KillResult`` (``found: false`` for an unknown id)."""
        if self.source != "debug":
            return await self._kill_derived(session_id)
        res = await self.transport.request(
            "DELETE",
            f"{self.base}/sessions/{quote(session_id, safe='')}",
            headers={"Accept": "application/json"},
        )
        body = self._json(res)
        if body is None:
            return {
                "id": session_id,
                "found": False,
                "alreadyClosed": False,
                "canceledTasks": [],
                "alreadyTerminalTasks": [],
                "tokenRevoked": False,
            }
        return body

    # -- fallback ---------------------------------------------------------------------------------
    async def _derived(self) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"pageSize": 100}
            if token:
                params["pageToken"] = token
            out = await self.client.call("ListTasks", params)
            if out.error is not None:
                raise out.error.to_exception(out.method)
            result = out.result if isinstance(out.result, dict) else {}
            tasks += [t for t in result.get("tasks") or [] if isinstance(t, dict)]
            token = result.get("nextPageToken")
            if not token:
                break
        return derive_sessions(tasks, datetime.now(timezone.utc).timestamp())

    async def _kill_derived(self, session_id: str) -> dict[str, Any]:
        s = next((x for x in await self._derived() if x["id"] == session_id), None)
        result = {
            "id": session_id,
            "found": s is not None,
            "alreadyClosed": False,
            "canceledTasks": [],
            "alreadyTerminalTasks": [],
            "tokenRevoked": False,
        }
        for t in (s or {}).get("tasks", []):
            if state_kind(t["state"]) is StateKind.TERMINAL:
                result["alreadyTerminalTasks"].append(t["id"])
                continue
            out = await self.client.call("CancelTask", {"id": t["id"]})
            (result["canceledTasks"] if out.error is None else result["alreadyTerminalTasks"]).append(t["id"])
        return result


def derive_sessions(tasks: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Group ListTasks results by ``contextId`` into the contract's ``Session`` shape, oldest first."""
    from a2actl.core.units import format_timestamp as iso
    from a2actl.core.units import parse_timestamp as _ts

    groups: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        groups.setdefault(str(t.get("contextId") or "-"), []).append(t)
    out = []
    for ctx, ts in groups.items():
        stamps = [x for x in (_ts((t.get("status") or {}).get("timestamp")) for t in ts) if x is not None]
        created = min(stamps) if stamps else now
        last = max(stamps) if stamps else now
        states = [
            {"id": t.get("id"), "state": canonical_state((t.get("status") or {}).get("state"))} for t in ts
        ]
        running = any(state_kind(s["state"]) is not StateKind.TERMINAL for s in states)
        out.append(
            {
                "id": f"ctx-{ctx}",
                "state": "active" if running else "idle",
                "peer": None,
                "contextIds": [ctx],
                "createdAt": iso(created),
                "lastActivityAt": iso(last),
                "ageSeconds": round(now - created, 3),
                "idleSeconds": round(now - last, 3),
                "tasks": states,
                "token": None,
                "messages": len(ts),
                "bytesIn": None,
                "bytesOut": None,
                "closedAt": None,
                "closeReason": None,
            }
        )
    return sorted(out, key=lambda s: (s["createdAt"] or "", s["id"]))


def find_leaks(sessions: list[dict[str, Any]], max_age: float, grace: float) -> list[dict[str, Any]]:
    """Sessions that outlive ``max_age`` seconds, or stay open ``grace`` seconds after all their tasks
    ended (seed 001's leak). Each leak: ``{"id", "reasons", "ageSeconds", "idleSeconds", "tasks"}``."""
    leaks = []
    for s in sessions:
        if s["state"] == "closed":
            continue
        reasons = []
        if s["ageSeconds"] > max_age:
            reasons.append(f"open for {s['ageSeconds']:.0f}s, over --max-age {max_age:g}s")
        tasks = s.get("tasks") or []
        if (
            tasks
            and all(state_kind(t["state"]) is StateKind.TERMINAL for t in tasks)
            and s["idleSeconds"] > grace
        ):
            reasons.append(f"still open {s['idleSeconds']:.1f}s after all {len(tasks)} task(s) ended")
        if reasons:
            leaks.append(
                {
                    "id": s["id"],
                    "reasons": reasons,
                    "ageSeconds": s["ageSeconds"],
                    "idleSeconds": s["idleSeconds"],
                    "tasks": tasks,
                    "peer": s.get("peer"),
                }
            )
    return leaks


def envelope(conn: Sessions, **extra: Any) -> dict[str, Any]:
    """The common output fields: source, debug API URL, warnings."""
    return {"source": conn.source, "debugUrl": conn.base, "warnings": conn.warnings, **extra}


def within_grace(sessions: list[dict[str, Any]], grace: float) -> list[str]:
    """Ids of open sessions whose tasks all ended at most ``grace`` seconds ago: not leaks yet, but
    ``find_leaks`` will call them leaks once ``grace`` has passed (said, so "no leaks" right after a
    run is not taken as a pass it is not)."""
    out = []
    for s in sessions:
        tasks = s.get("tasks") or []
        if (
            s["state"] != "closed"
            and tasks
            and all(state_kind(t["state"]) is StateKind.TERMINAL for t in tasks)
            and s["idleSeconds"] <= grace
        ):
            out.append(s["id"])
    return out
