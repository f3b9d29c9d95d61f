"""``a2actl stream tail`` against a2a-sdk sandboxes (CRLF SSE with ': ping' comments, drops, stalls,
WebSocket) and our own fault servers (LF frames, multi-line data, bad JSON, other task, endless
stream, 5 MiB event, abnormal WebSocket close, a peer that never answers pings)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest


def records(r: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = r.jsonl
    assert lines and lines[-1]["type"] == "summary", r.stdout[-500:]
    return lines[:-1], lines[-1]


def events(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in recs if x["type"] == "event"]


def test_send_stream_gives_valid_jsonl_ending_in_terminal_state(cli: Any, sandbox: Any) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    recs, summary = records(r)
    evs = events(recs)
    assert [e["kind"] for e in evs][0] == "task"
    assert evs[-1]["state"] == "completed"
    assert summary["outcome"] == "completed" and summary["finalState"] == "completed"
    assert summary["events"] == len(evs) and summary["bytes"] == sum(e["bytes"] for e in evs)
    assert all(e["delta"] >= 0 and e["wall"].endswith("Z") for e in evs)
    assert summary["violations"] == [] and summary["cuts"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--a2a-version", "0.3"],
        ["--binding", "HTTP+JSON"],
        ["--a2a-version", "0.3", "--binding", "HTTP+JSON"],
    ],
)
def test_tail_every_family_and_binding(cli: Any, sandbox: Any, args: list[str]) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "hi", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.stdout
    _, summary = records(r)
    assert summary["finalState"] == "completed"


def test_sse_ping_comments_are_heartbeats(cli: Any, sandbox_streams: Any) -> None:
    r = cli("stream", "tail", sandbox_streams.url, "--send", "/slow 0.1", "-o", "jsonl")
    recs, summary = records(r)
    beats = [x for x in recs if x["type"] == "heartbeat"]
    assert beats and all(b["source"] == "sse-comment" for b in beats)
    assert summary["heartbeats"] == len(beats)


def test_a_stall_longer_than_the_heartbeat_is_flagged(cli: Any, sandbox_stall: Any) -> None:
    r = cli(
        "stream", "tail", sandbox_stall.url, "--send", "/stream 3 10", "--heartbeat", "200ms", "-o", "jsonl"
    )
    assert r.exit_code == 7
    recs, summary = records(r)
    gaps = [x for x in recs if x["type"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["seconds"] >= 0.35 and gaps[0]["expected"] == 0.2
    assert summary["stalls"] == gaps and summary["finalState"] == "completed"
    # The same stream with a generous interval passes.
    assert (
        cli("stream", "tail", sandbox_stall.url, "--send", "/stream 3 10", "--heartbeat", "2s").exit_code == 0
    )


def test_oversized_event_is_flagged_and_read(cli: Any, sandbox: Any) -> None:
    r = cli(
        "stream",
        "tail",
        sandbox.url,
        "--send",
        "/stream 2 5000000",
        "--max-event-bytes",
        "4MiB",
        "-o",
        "jsonl",
    )
    assert r.exit_code == 7
    recs, summary = records(r)
    over = [e for e in events(recs) if e["oversize"]]
    assert len(over) == 2 and all(e["bytes"] > 5_000_000 for e in over)
    assert summary["oversize"][0]["limit"] == 4 * 1024 * 1024 and summary["finalState"] == "completed"


def test_a_64mib_event_is_read_whole(cli: Any, sandbox: Any) -> None:
    """Read whole when --max-event-bytes allows it (the default bound is 16 MiB, issue #13)."""
    size = 64 * 1024 * 1024
    r = cli(
        "stream",
        "tail",
        sandbox.url,
        "--send",
        f"/stream 1 {size}",
        "--max-event-bytes",
        "80MiB",
        "-o",
        "jsonl",
    )
    assert r.exit_code == 0, r.stdout[-300:]
    recs, summary = records(r)
    assert summary["maxEventBytes"] > size and summary["finalState"] == "completed"


def test_drop_is_a_cut_recovered_by_resubscribe(cli: Any, sandbox_streams: Any) -> None:
    r = cli("stream", "tail", sandbox_streams.url, "--send", "/stream 60 100", "-o", "jsonl")
    recs, summary = records(r)
    kinds = [x["type"] for x in recs]
    assert "cut" in kinds and "reconnect" in kinds
    assert kinds.index("cut") < kinds.index("reconnect")
    reconnect = next(x for x in recs if x["type"] == "reconnect")
    assert reconnect["via"] == "SubscribeToTask" and reconnect["outage"] > 0
    assert summary["outcome"] == "recovered" and summary["finalState"] == "completed"
    # events missed across a reconnect are exit 7 (docs/exit-codes.md); the missed chunks are asserted below
    assert summary["exitCode"] == 7 and r.exit_code == 7
    # Chunks sent while disconnected are reported, never silently lost.
    assert any("chunk" in m for m in summary["missed"])


def test_task_finished_during_outage_is_seen_via_get_task(cli: Any, sandbox_streams: Any) -> None:
    r = cli("stream", "tail", sandbox_streams.url, "--send", "/stream 4 10", "-o", "jsonl")
    recs, summary = records(r)
    reconnect = next(x for x in recs if x["type"] == "reconnect")
    assert reconnect["via"] == "GetTask"
    assert any("only via GetTask" in m for m in summary["missed"])
    assert summary["finalState"] == "completed" and r.exit_code == 7


def test_drop_without_reconnect_is_never_success(cli: Any, sandbox_streams: Any) -> None:
    r = cli(
        "stream", "tail", sandbox_streams.url, "--send", "/stream 60 100", "--reconnect", "0", "-o", "jsonl"
    )
    assert r.exit_code == 6
    _, summary = records(r)
    assert summary["outcome"] == "cut" and summary["finalState"] != "completed"


def test_subscribe_to_existing_task(cli: Any, sandbox: Any) -> None:
    sent = cli("send", sandbox.url, "/slow 0.3", "--no-wait", "-o", "json")
    assert sent.exit_code == 0, sent.stderr
    r = cli("stream", "tail", sandbox.url, "--task", sent.json["taskId"], "-o", "jsonl")
    assert r.exit_code == 0, r.stdout
    recs, summary = records(r)
    assert events(recs)[0]["kind"] == "task" and summary["finalState"] == "completed"
    unknown = cli("stream", "tail", sandbox.url, "--task", "no-such-task", "-o", "json")
    assert unknown.exit_code == 1 and unknown.json["error"]["a2aCode"] == -32001


@pytest.mark.parametrize(
    "mode, code, check",
    [
        ("lf", 0, lambda s: s["finalState"] == "completed" and s["events"] == 4),
        ("multiline", 0, lambda s: s["finalState"] == "completed" and s["events"] == 3),
        ("othertask", 6, lambda s: [v["rule"] for v in s["violations"]] == ["other-task"]),
        ("regress", 6, lambda s: [v["rule"] for v in s["violations"]] == ["illegal-transition"]),
        ("afterlast", 6, lambda s: [v["rule"] for v in s["violations"]] == ["append-after-last-chunk"]),
        ("noterminal", 6, lambda s: s["outcome"] == "closed-without-terminal"),
        # 0.3's shapes on a 1.0 stream (a 1.0 client cannot read them): it passed, exit 0
        ("v03shape", 6, lambda s: [v["rule"] for v in s["violations"]] == ["wire-version"]),
        ("v03late", 6, lambda s: [v["rule"] for v in s["violations"]] == ["wire-version"]),
    ],
)
def test_fault_streams(cli: Any, streams: str, mode: str, code: int, check: Any) -> None:
    r = cli(
        "stream",
        "tail",
        f"{streams}/{mode}/agent-card.json",
        "--send",
        "hi",
        "--reconnect",
        "0",
        "-o",
        "jsonl",
    )
    assert r.exit_code == code, r.stdout[-400:]
    _, summary = records(r)
    assert check(summary), summary


def test_subscribe_answered_with_another_tasks_stream_is_a_violation(cli: Any, streams: str) -> None:
    """``--task t-fault-1`` answered with the stream of ``someone-else``, which completes: that is
    not t-fault-1's end (it was exit 0, outcome completed, taskId someone-else)."""
    from tests.servers import TASK_ID

    r = cli(
        "stream",
        "tail",
        f"{streams}/anothertask/agent-card.json",
        "--task",
        TASK_ID,
        "--reconnect",
        "0",
        "-o",
        "jsonl",
    )
    assert r.exit_code == 6, r.stdout[-400:]
    recs, summary = records(r)
    assert summary["taskId"] == TASK_ID and summary["finalState"] is None
    assert summary["outcome"] == "closed-without-terminal"
    assert [v["rule"] for v in summary["violations"]] == ["other-task", "other-task", "missing-terminal"]
    assert [e["taskId"] for e in events(recs)] == ["someone-else", "someone-else"]


def test_5mib_event_from_our_server(cli: Any, streams: str) -> None:
    r = cli(
        "stream",
        "tail",
        f"{streams}/big/agent-card.json",
        "--send",
        "hi",
        "--max-event-bytes",
        "4MiB",
        "-o",
        "jsonl",
    )
    assert r.exit_code == 7
    recs, summary = records(r)
    assert max(e["bytes"] for e in events(recs)) > 5 * 1024 * 1024
    assert len(summary["oversize"]) == 1


def test_malformed_json_frame_is_a_protocol_violation(cli: Any, streams: str) -> None:
    r = cli("stream", "tail", f"{streams}/badjson/agent-card.json", "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 6
    assert r.jsonl[-1]["error"]["code"] == "protocol" and "not JSON" in r.jsonl[-1]["error"]["message"]


def test_endless_stream_ends_at_max_time_with_a_summary(cli: Any, streams: str) -> None:
    r = cli(
        "stream",
        "tail",
        f"{streams}/endless/agent-card.json",
        "--send",
        "hi",
        "--max-time",
        "0.6",
        "-o",
        "jsonl",
    )
    assert r.exit_code == 5
    recs, summary = records(r)
    assert summary["outcome"] == "max-time" and summary["finalState"] == "working"
    assert summary["heartbeats"] >= 3 and 0.5 < summary["duration"] < 3


@pytest.mark.parametrize(
    "command", [["stream", "tail", "{url}", "--send", "hi"], ["send", "{url}", "hi", "--stream"]]
)
def test_a_task_ended_behind_a_silent_stream_is_found_by_get_task(
    cli: Any, streams: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """a2a-sdk 0.3 never sends the ``canceled`` event to the stream of a task another client
    cancels, and keeps the stream open with pings (tests/interop/test_tail_refused.py): the tail
    waited for --max-time (exit 5, 'missing-terminal'), for ever without one. After a silence
    without events (pings do not count) GetTask is asked: the task's end, seen only there, ends
    the tail as missed events do (exit 7), with the state and status message GetTask gave."""
    from a2actl.stream import follow

    monkeypatch.setattr(follow, "IDLE_POLL", 0.4)
    monkeypatch.setattr(follow, "IDLE_GRACE", 0.1)
    url = f"{streams}/uncanceled/agent-card.json"
    r = cli("--max-time", "20", *[a.format(url=url) for a in command], "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    doc = r.json
    assert doc["outcome"] == "completed" and doc["exitCode"] == 7
    assert doc["state" if command[0] == "send" else "finalState"] == "canceled"
    assert doc["statusMessage"] == "canceled by another client"
    (missed,) = doc["missed"]
    assert missed.startswith(
        "terminal state canceled seen only via GetTask (last state on the stream working)"
    )
    if command[0] == "stream":
        assert doc["heartbeats"] >= 5 and doc["duration"] < 10
        (reconnect,) = doc["reconnects"]
        assert reconnect["via"] == "GetTask" and reconnect["missed"] == [missed]


_REASONS = {
    "failedhistory": ("failed", {"text": "quota exceeded for tenant 7", "from": "history"}),
    "failedartifact": ("rejected", {"text": "error: disk full", "from": "artifact", "artifact": "errors"}),
    "failednoget": ("failed", None),
}


@pytest.mark.parametrize("mode", sorted(_REASONS))
@pytest.mark.parametrize(
    "command", [["stream", "tail", "{url}", "--send", "hi"], ["send", "{url}", "hi", "--stream"]]
)
def test_a_failure_reason_outside_the_status_message_is_shown_with_its_source(
    cli: Any, streams: str, mode: str, command: list[str]
) -> None:
    """A task that ends failed or rejected with no status message, its reason in the task's history
    or an artifact: every stream command showed the state alone (`statusMessage` null). GetTask
    then gives the last agent message of the history, else the last artifact's text, as `reason`
    with where it came from; a GetTask that fails leaves no reason and the same exit code."""
    state, reason = _REASONS[mode]
    url = f"{streams}/{mode}/agent-card.json"
    args = [a.format(url=url) for a in command]
    r = cli(*args, "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:]
    doc = r.json
    assert doc["state" if command[0] == "send" else "finalState"] == state
    assert doc["statusMessage"] is None and doc["reason"] == reason
    table = cli(*args)
    assert table.exit_code == 0
    if reason is None:
        assert "reason" not in table.stdout
    else:
        source = "the task's history" if reason["from"] == "history" else "artifact errors"
        assert reason["text"] in table.stdout and f"from {source}" in table.stdout, table.stdout


def test_a_failure_reason_in_the_status_message_is_the_reason(cli: Any, sandbox: Any) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "/fail", "-o", "json")
    assert r.exit_code == 0 and r.json["finalState"] == "failed"
    assert r.json["reason"] == {"text": r.json["statusMessage"], "from": "status"} and r.json["statusMessage"]
    done = cli("stream", "tail", sandbox.url, "--send", "hi", "-o", "json")
    assert done.json["finalState"] == "completed" and done.json["reason"] is None


def test_event_ids_with_ping_comments_are_not_empty_events(cli: Any, streams: str) -> None:
    """After an ``id:``, a ``: ping`` block must not become an empty event (httpx-sse#35). The tail
    stops at the terminal event, so the last ping is not read."""
    r = cli("stream", "tail", f"{streams}/ids/agent-card.json", "--send", "x", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout
    recs, summary = records(r)
    assert [e["kind"] for e in events(recs)] == ["task", "status-update", "artifact-update", "status-update"]
    assert summary["heartbeats"] == 3 and summary["finalState"] == "completed" and summary["violations"] == []


def test_tail_of_an_ended_task_says_so(cli: Any, sandbox: Any) -> None:
    done = cli("send", sandbox.url, "hi", "-o", "json")
    assert done.exit_code == 0 and done.json["state"] == "completed"
    r = cli("stream", "tail", sandbox.url, "--task", done.json["taskId"], "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert "already ended (completed)" in err["message"] and err["a2aCode"] == -32004


_FOLLOW = [["task", "subscribe", "{url}", "{id}"], ["stream", "tail", "{url}", "--task", "{id}"]]


@pytest.mark.parametrize("command", _FOLLOW)
def test_a_followed_task_whose_stream_closes_at_its_cancel_is_no_refusal(
    cli: Any, streams: str, command: list[str]
) -> None:
    """a2a-sdk 0.3 sends a subscriber of a running task no snapshot, and closes its stream cleanly,
    without the ``canceled`` event, when another client cancels the task. The subscribe followed
    the task (pings for 0.3 s here, seconds there), yet GetTask after the close found it canceled
    and that was "task … already ended (canceled): there is no stream to follow" (exit 1). GetTask
    asked as the subscribe began shows it working: the end is seen only via GetTask (exit 7)."""
    import uuid

    task_id = f"t-{uuid.uuid4().hex}"
    url = f"{streams}/cancelclose/agent-card.json"
    r = cli("--max-time", "20", *[a.format(url=url, id=task_id) for a in command], "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    doc = r.json
    assert doc["outcome"] == "completed" and doc["finalState"] == "canceled" and doc["taskId"] == task_id
    assert doc["events"] == 0 and doc["heartbeats"] >= 1 and doc["violations"] == []
    (reconnect,) = doc["reconnects"]
    assert reconnect["via"] == "GetTask" and reconnect["missed"] == doc["missed"]
    (missed,) = doc["missed"]
    assert missed.startswith(
        "terminal state canceled seen only via GetTask (the subscribe's stream, opened while the "
        "task was running, ended without an event"
    ), missed


@pytest.mark.parametrize("command", _FOLLOW)
def test_a_subscribe_closed_at_once_on_an_ended_task_still_says_it_ended(
    cli: Any, streams: str, command: list[str]
) -> None:
    """The same close, GetTask showing the task canceled already as the subscribe began: a refusal,
    "already ended" (exit 1), as before."""
    url = f"{streams}/endedclose/agent-card.json"
    r = cli("--max-time", "20", *[a.format(url=url, id="t-ended") for a in command], "-o", "json")
    assert r.exit_code == 1, r.stdout[-800:]
    error = r.json["error"]
    assert error["code"] == "a2a_error"
    assert error["message"] == "task t-ended already ended (canceled): there is no stream to follow"


def test_raw_sse_url(cli: Any, streams: str) -> None:
    r = cli("stream", "tail", "--sse", f"{streams}/raw", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout
    recs, summary = records(r)
    assert [e["kind"] for e in events(recs)] == ["data"] * 3 and summary["heartbeats"] == 1


def test_a_byte_order_mark_does_not_lose_the_first_event(cli: Any, streams: str) -> None:
    """An event stream is UTF-8, one leading BOM dropped, whatever its ``charset`` (WHATWG HTML
    §9.2.5): the BOM made the first line ``\ufeffdata: …``, an unknown field, and the first event
    (the Task) was lost; ``charset=iso-8859-1`` read ``héllo`` as 8 bytes."""
    r = cli("stream", "tail", f"{streams}/bom/agent-card.json", "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout[-500:]
    recs, summary = records(r)
    assert [e["kind"] for e in events(recs)] == ["task", "status-update", "status-update"]
    assert summary["events"] == 3 and summary["finalState"] == "completed"

    r = cli("stream", "tail", "--sse", f"{streams}/raw-bom", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout[-500:]
    recs, summary = records(r)
    assert [(e["kind"], e["bytes"]) for e in events(recs)] == [("data", 6), ("data", 5)]


def test_raw_sse_reconnects_with_last_event_id(cli: Any, streams: str) -> None:
    """A cut raw stream is reopened with Last-Event-ID, as an EventSource would: the server resumes
    after id 2 (it would repeat events 1-2 otherwise), and the tail ends recovered, exit 0."""
    r = cli("stream", "tail", "--sse", f"{streams}/raw-drop", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout
    recs, summary = records(r)
    assert len(events(recs)) == 4 and summary["outcome"] == "recovered"
    [cut] = [x for x in recs if x["type"] == "cut"]
    [again] = [x for x in recs if x["type"] == "reconnect"]
    assert cut["attempt"] == 1 and again["via"] == "Last-Event-ID" and again["missed"] == []


def test_raw_sse_reconnect_without_ids_says_events_may_be_lost(cli: Any, streams: str) -> None:
    r = cli("stream", "tail", "--sse", f"{streams}/raw-drop?ids=0&key=noids", "-o", "jsonl")
    assert r.exit_code == 7, r.stdout
    recs, summary = records(r)
    assert len(events(recs)) == 3 and summary["outcome"] == "recovered"
    assert "no event ids" in summary["missed"][0]


def test_raw_sse_reconnect_after_a_non_ascii_id_goes_without_it(cli: Any, streams: str) -> None:
    """An ``id:`` no HTTP header value can carry as a2actl sends headers (printable ASCII) was put in
    Last-Event-ID and the reconnect ended in "unexpected UnicodeEncodeError" (exit 1). The reconnect
    now goes without it and says events may be lost or repeated (exit 7, as without ids)."""
    r = cli("stream", "tail", "--sse", f"{streams}/raw-drop?ids=%C3%A9&key=uid", "-o", "jsonl")
    assert r.exit_code == 7, r.stdout[-500:]
    recs, summary = records(r)
    assert len(events(recs)) == 3 and summary["outcome"] == "recovered"
    assert [x["via"] for x in summary["reconnects"]] == ["GET"]
    assert "not printable ASCII" in summary["missed"][0]


def test_raw_sse_cut_with_no_reconnects_is_a_cut(cli: Any, streams: str) -> None:
    r = cli(
        "stream", "tail", "--sse", f"{streams}/raw-drop?key=noreconnect", "--reconnect", "0", "-o", "jsonl"
    )
    assert r.exit_code == 6, r.stdout
    _, summary = records(r)
    assert summary["outcome"] == "cut" and summary["events"] == 2


@pytest.mark.parametrize(
    "args", [[], ["--a2a-version", "0.3"], ["--binding", "HTTP+JSON", "--a2a-version", "0.3"]]
)
@pytest.mark.parametrize(
    ("text", "state", "reason"),
    [
        ("/fail", "failed", "failed on request (/fail)"),
        ("/reject", "rejected", "rejected on request (/reject)"),
        ("/input", "input-required", "more input, please"),
    ],
)
def test_a_streamed_task_carries_the_agents_status_message(
    cli: Any, sandbox: Any, args: list[str], text: str, state: str, reason: str
) -> None:
    """The agent's reason for a failed or rejected task (its question for input-required) is the
    final status's message: `send` showed it, the stream commands only said `failed`, in JSON and in
    the table, so an operator following the stream never saw why. All three now say the same."""
    sent = cli("send", sandbox.url, text, "-o", "json", *args)
    assert sent.exit_code == 0 and sent.json["state"] == state
    assert sent.json["result"]["statusMessage"] == reason
    tail = cli("stream", "tail", sandbox.url, "--send", text, "-o", "json", *args)
    assert tail.exit_code == 0 and (tail.json["finalState"], tail.json["statusMessage"]) == (state, reason)
    streamed = cli("send", "--stream", sandbox.url, text, "-o", "json", *args)
    assert streamed.exit_code == 0 and (streamed.json["state"], streamed.json["statusMessage"]) == (
        state,
        reason,
    )
    jsonl = cli("send", "--stream", sandbox.url, text, "-o", "jsonl", *args).jsonl
    assert jsonl[-2]["type"] == "summary" and jsonl[-2]["statusMessage"] == reason
    assert jsonl[-1]["type"] == "result" and jsonl[-1]["statusMessage"] == reason
    for table in (
        cli("stream", "tail", sandbox.url, "--send", text, *args),
        cli("send", "--stream", sandbox.url, text, *args),
    ):
        assert table.exit_code == 0 and reason in table.stdout, table.stdout[-800:]


def test_a_status_message_seen_only_via_get_task_is_the_tasks(cli: Any, sandbox_drop_early: Any) -> None:
    """A /fail stream cut before its end (task, working, then the cut): the resubscribe is refused
    (the task ended) and GetTask says how it ended; its status message comes with the state."""
    r = cli("stream", "tail", sandbox_drop_early.url, "--send", "/fail", "-o", "json")
    doc = r.json
    assert r.exit_code == 7 and doc["outcome"] == "recovered", doc  # the end was missed: 7
    assert (doc["finalState"], doc["statusMessage"]) == ("failed", "failed on request (/fail)")


def test_a_completed_stream_without_a_status_message_says_none(cli: Any, sandbox: Any) -> None:
    doc = cli("stream", "tail", sandbox.url, "--send", "hi", "-o", "json").json
    assert doc["finalState"] == "completed" and doc["statusMessage"] is None


def test_json_output_is_one_document(cli: Any, sandbox: Any) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "hi", "-o", "json")
    doc = r.json
    assert (
        doc["type"] == "summary" and len([x for x in doc["records"] if x["type"] == "event"]) == doc["events"]
    )


def test_table_output(cli: Any, sandbox: Any) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "hi")
    assert r.exit_code == 0 and "status-update" in r.stdout and "Summary" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--send", "a", "--task", "b"],
        ["--heartbeat", "soon", "--send", "x"],
        ["--max-event-bytes", "4 parsecs", "--send", "x"],
    ],
)
def test_tail_usage_errors(cli: Any, sandbox: Any, args: list[str]) -> None:
    r = cli("stream", "tail", sandbox.url, *args)
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------------------------------ WebSocket


def test_websocket_tail_with_ping_rtt(cli: Any, sandbox: Any) -> None:
    ws = sandbox.url.replace("http://", "ws://") + "/a2a/ws"
    # Pings every 250 ms (half of --heartbeat); the bound leaves room for a slow first event when the
    # in-process sandbox shares the GIL with the test (a 100 ms bound was flaky at 108 ms).
    r = cli("stream", "tail", ws, "--send", "/slow 0.6", "--heartbeat", "500ms", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout[-500:]
    recs, summary = records(r)
    beats = [x for x in recs if x["type"] == "heartbeat"]
    assert beats and all(b["source"] == "ws-pong" and b["rtt"] > 0 for b in beats)
    assert summary["finalState"] == "completed" and summary["rtt"]["p50"] > 0


def test_websocket_abnormal_close_is_a_cut(cli: Any, ws_fault: str) -> None:
    r = cli("stream", "tail", ws_fault + "/abnormal", "--send", "hi", "--reconnect", "0", "-o", "jsonl")
    assert r.exit_code == 6
    recs, summary = records(r)
    cut = next(x for x in recs if x["type"] == "cut")
    assert "1011" in cut["reason"] and "agent crashed" in cut["reason"]


def test_a_websocket_frame_nested_too_deep_is_a_protocol_violation(cli: Any, ws_fault: str) -> None:
    """A frame nested 100,000 levels deep is exit 6 'nested too deep', as over SSE (it was exit 1
    'unexpected RecursionError'); the event before it is kept."""
    r = cli("stream", "tail", ws_fault + "/deep", "--send", "hi", "--reconnect", "0", "-o", "jsonl")
    assert r.exit_code == 6, r.stdout[-500:]
    assert [x["kind"] for x in r.jsonl[:-1]] == ["task"]
    error = r.jsonl[-1]["error"]
    assert error["code"] == "protocol" and error["exitCode"] == 6
    assert "nested too deep" in error["message"]


def test_a_200_page_instead_of_the_websocket_upgrade_is_a_protocol_violation(cli: Any) -> None:
    """An HTTP endpoint that answers the upgrade 200 text/html is no WebSocket (exit 6, as an SSE call
    answered so); it was exit 1 "refused the WebSocket upgrade: HTTP 200", the code of error statuses."""
    from tests.servers import PageServer

    with PageServer() as srv:
        r = cli("stream", "tail", srv.url, "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 6, r.stdout[-500:]
    error = r.jsonl[-1]["error"]
    assert error["code"] == "protocol" and error["details"] == {"httpStatus": 200}
    assert "not a WebSocket endpoint" in error["message"] and "text/html" in error["message"]


def test_websocket_missing_pongs_are_a_cut(cli: Any, silent_ws: str) -> None:
    # --stall-timeout above the pong timeout (1 s): the dead peer is diagnosed as such (a cut), not
    # as a stall (which --heartbeat's default 3 x 200 ms calls it first); the ping's own send and the
    # close are bounded too (the cut took 11 s: websockets' 10 s close timeout on a dead peer)
    import time

    t0 = time.monotonic()
    r = cli(
        "stream",
        "tail",
        silent_ws,
        "--send",
        "hi",
        "--heartbeat",
        "200ms",
        "--stall-timeout",
        "30s",
        "--reconnect",
        "0",
        "-o",
        "jsonl",
    )
    assert time.monotonic() - t0 < 8
    assert r.exit_code == 6
    recs, summary = records(r)
    assert any(x["type"] == "cut" and "no pong" in x["reason"] for x in recs)
    assert summary["events"] == 1


def test_websocket_unreachable(cli: Any, refused_url: str) -> None:
    r = cli("stream", "tail", refused_url.replace("http://", "ws://") + "/ws", "--send", "hi")
    assert r.exit_code == 3


def test_sandbox_stall_applies_to_the_websocket_channel(cli: Any, sandbox_stall: Any) -> None:
    """Issue #13: --stall had no effect on the sandbox's WebSocket channel."""
    ws = sandbox_stall.url.replace("http://", "ws://") + "/a2a/ws"
    r = cli("stream", "tail", ws, "--send", "/stream 3 10", "-o", "jsonl")
    assert r.exit_code == 0, r.stdout
    events = [x["t"] for x in r.jsonl if x["type"] == "event"]
    # the event frames pause 400 ms after the second; the server's pings (pongs here) go on
    assert max(b - a for a, b in zip(events, events[1:], strict=False)) >= 0.35
    assert r.jsonl[-1]["finalState"] == "completed"


@pytest.mark.parametrize("mode", ["hugeline", "hugedata"])
def test_an_event_over_the_buffer_bound_is_counted_not_read(cli: Any, streams: str, mode: str) -> None:
    """Issue #13 item 2: --max-event-bytes bounds what is buffered (default 16 MiB); a larger event
    is flagged (exit 7) with its size, and the stream goes on to its end."""
    r = cli("stream", "tail", f"{streams}/{mode}/agent-card.json", "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 7, r.stdout[-500:]
    big = [x for x in r.jsonl if x["type"] == "event" and x["oversize"]]
    assert len(big) == 1 and big[0]["kind"] == "oversize" and big[0]["bytes"] > 20 << 20
    summary = r.jsonl[-1]
    assert summary["finalState"] == "completed" and summary["oversize"][0]["bytes"] == big[0]["bytes"]
    small = cli(
        "stream",
        "tail",
        f"{streams}/{mode}/agent-card.json",
        "--send",
        "hi",
        "--max-event-bytes",
        "1MiB",
        "-o",
        "json",
    )
    assert small.exit_code == 7 and small.json["oversize"][0]["limit"] == 1 << 20


@pytest.mark.parametrize("mode", ["endlessline", "endlessdata"])
def test_an_event_that_never_ends_does_not_grow_memory(cli: Any, streams: str, mode: str) -> None:
    """Endless data (no newline / no blank line) runs into --max-time with bounded memory (the RSS
    figures are in bench/sse_memory.py); the summary says what happened."""
    r = cli(
        "--max-time",
        "2s",
        "stream",
        "tail",
        f"{streams}/{mode}/agent-card.json",
        "--send",
        "hi",
        "-o",
        "json",
    )
    assert r.exit_code == 5, r.stdout[-500:]
    assert r.json["outcome"] == "max-time" and r.json["finalState"] == "submitted"


def test_heartbeat_is_a_watchdog(cli: Any, streams: str) -> None:
    """Issue #13 item 3: a silence is reported when it happens (a timer), and the tail ends with exit
    7 after --stall-timeout (default 3 x heartbeat), not at the read timeout with exit 6."""
    import time

    t0 = time.monotonic()
    r = cli(
        "--timeout",
        "60s",
        "stream",
        "tail",
        f"{streams}/noterminal-hang/agent-card.json",
        "--send",
        "hi",
        "--heartbeat",
        "200ms",
        "-o",
        "jsonl",
    )
    took = time.monotonic() - t0
    assert r.exit_code == 7, r.stdout[-400:]
    recs = r.jsonl
    stall = next(x for x in recs if x["type"] == "stall")
    assert (
        stall["expected"] == 0.2
        and 0.2 < stall["silentFor"] < 0.6
        and stall["stallTimeout"] == pytest.approx(0.6)
    )
    summary = recs[-1]
    assert summary["outcome"] == "stalled" and summary["exitCode"] == 7 and summary["stalls"]
    assert took < 10  # the read timeout (60 s) never came into it
    explicit = cli(
        "stream",
        "tail",
        f"{streams}/noterminal-hang/agent-card.json",
        "--send",
        "hi",
        "--stall-timeout",
        "300ms",
        "-o",
        "json",
    )
    assert (
        explicit.exit_code == 7
        and explicit.json["outcome"] == "stalled"
        and explicit.json["stallTimeout"] == 0.3
    )


def test_a_reset_mid_json_answer_says_what_was_lost(cli: Any, streams: str) -> None:
    """Issue #13 item 4: a JSON answer to `stream tail --send` cut mid-body was "unexpected ReadError"
    (exit 1), and resets printed an empty "lost: "."""
    r = cli("stream", "tail", f"{streams}/jsonreset/agent-card.json", "--send", "hi", "-o", "json")
    # The agent's server closes the connection mid-body: an incomplete HTTP answer is a protocol
    # violation (exit 6, docs/exit-codes.md), not a connection that could not be made.
    assert r.exit_code == 6, r.stdout
    err = r.json["error"]
    assert err["code"] == "protocol" and not err["message"].startswith("unexpected")
    assert re.search(r"\(after \d+ bytes of an HTTP 500 answer\)$", err["message"]), err["message"]


def test_a_reset_is_never_an_empty_reason() -> None:
    import httpx

    from a2actl.core.config import Settings
    from a2actl.transport.failures import map_httpx_error

    err = map_httpx_error(httpx.ReadError(""), "http://x", Settings())
    assert err.exit_code == 3 and err.message == "connection to http://x lost: ReadError"
    chained = httpx.ReadError("")
    chained.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    assert map_httpx_error(chained, "http://x", Settings()).message.endswith(
        "lost: [Errno 104] Connection reset by peer"
    )


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize(
    "command", [["send", "{url}", "hi", "--stream"], ["stream", "tail", "{url}", "--send", "hi"]]
)
def test_an_http_503_instead_of_the_stream_is_an_http_error(
    cli: Any, sandbox_down: Any, binding: str, command: list[str]
) -> None:
    """A 503 with a plain-text body to a JSON-RPC streaming call is the HTTP error it is (exit 1),
    as for the blocking call and over HTTP+JSON, not a protocol violation (6)."""
    args = [a.replace("{url}", sandbox_down.url) for a in command]
    r = cli(*args, "--binding", binding, "-o", "json")
    assert r.exit_code == 1, r.stdout
    assert r.json["error"]["code"] == "http_status" and r.json["error"]["details"]["httpStatus"] == 503


def test_a_gateway_json_error_instead_of_the_stream_is_an_http_error(cli: Any, fault: str) -> None:
    r = cli("send", f"{fault}/gateway502/agent-card.json", "hi", "--stream", "-o", "json")
    assert r.exit_code == 1, r.stdout
    assert r.json["error"]["details"]["httpStatus"] == 502
    assert "upstream timed out" in r.json["error"]["message"]


def test_send_stream_ends_at_max_time_with_a_summary_naming_the_task(cli: Any, streams: str) -> None:
    """--max-time ends send --stream as it ends stream tail: a max-time summary (exit 5) and a
    result that names the task and its last state, not an error document without them."""
    target = f"{streams}/endless/agent-card.json"
    r = cli("send", target, "hi", "--stream", "--max-time", "0.6", "-o", "jsonl")
    assert r.exit_code == 5, r.stdout[-400:]
    *recs, summary, result = r.jsonl
    assert summary["type"] == "summary" and summary["outcome"] == "max-time" and summary["exitCode"] == 5
    assert result["type"] == "result" and result["outcome"] == "max-time" and result["exitCode"] == 5
    assert result["taskId"] == "t-fault-1" and result["state"] == "working"
    doc = cli("send", target, "hi", "--stream", "--max-time", "0.6", "-o", "json")
    assert doc.exit_code == 5 and doc.json["taskId"] == "t-fault-1" and doc.json["outcome"] == "max-time"


#: The commands that open an A2A stream (``{t}``: the target), for tests that hold for each of them.
STREAM_COMMANDS = [
    ["stream", "tail", "{t}", "--send", "hi"],
    ["stream", "tail", "{t}", "--task", "t-1"],
    ["task", "subscribe", "{t}", "t-1"],
    ["send", "{t}", "hi", "--stream"],
]


@pytest.mark.parametrize("command", STREAM_COMMANDS)
def test_max_time_bounds_the_card_discovery_of_a_stream(cli: Any, fault: str, command: list[str]) -> None:
    """A card that never comes (the fault server's /hang/ waits 5 s) still ends the stream commands
    at --max-time, with a max-time summary (exit 5); the discovery was outside the deadline."""
    import time

    args = [a.replace("{t}", f"{fault}/hang/agent-card.json") for a in command]
    t0 = time.monotonic()
    r = cli(*args, "--max-time", "0.5", "-o", "jsonl")
    assert time.monotonic() - t0 < 3
    assert r.exit_code == 5, r.stdout
    summary = next(x for x in r.jsonl if x["type"] == "summary")
    assert summary["outcome"] == "max-time" and summary["exitCode"] == 5 and summary["events"] == 0
    assert 0.4 < summary["duration"] < 3


def test_a_resubscribe_dropped_before_its_first_event_asks_get_task(cli: Any, sandbox_streams: Any) -> None:
    """a2a-sdk's 0.3 HTTP+JSON binding refuses to resubscribe to an ended task by opening the stream
    and dropping it: GetTask tells how the task ended (it was 'cut', finalState 'working', exit 6)."""
    r = cli(
        "stream",
        "tail",
        sandbox_streams.url,
        "--send",
        "/stream 4 10",
        "--a2a-version",
        "0.3",
        "--binding",
        "HTTP+JSON",
        "-o",
        "jsonl",
    )
    recs, summary = records(r)
    assert r.exit_code == 7, summary
    assert summary["outcome"] == "recovered" and summary["finalState"] == "completed"
    assert [x["via"] for x in recs if x["type"] == "reconnect"] == ["GetTask"]
    assert any("only via GetTask" in m for m in summary["missed"])


@pytest.mark.parametrize("args", [[], ["--a2a-version", "0.3"], ["--binding", "HTTP+JSON"]])
def test_subscribe_to_an_input_required_task_ends_at_its_snapshot(
    cli: Any, sandbox: Any, args: list[str]
) -> None:
    """The sandbox keeps the stream of an input-required task open; its first event (the task, in an
    interrupted state) is where the stream ends, not --max-time (it was exit 5 after the default 1 h)."""
    sent = cli("send", sandbox.url, "/input", "-o", "json", *args).json
    assert sent["state"] == "input-required"
    r = cli("task", "subscribe", sandbox.url, sent["taskId"], "--max-time", "5", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.stdout[-300:]
    _, summary = records(r)
    assert summary["outcome"] == "completed" and summary["finalState"] == "input-required"
    assert summary["statusMessage"] == "more input, please"  # from the snapshot, as task get says
    assert summary["duration"] < 4
    failing = cli(
        "stream",
        "tail",
        sandbox.url,
        "--task",
        sent["taskId"],
        "--fail-on",
        "input-required",
        "--max-time",
        "5",
        *args,
    )
    assert failing.exit_code == 7


@pytest.mark.parametrize("args", [[], ["--a2a-version", "0.3"], ["--binding", "HTTP+JSON"]])
def test_a_drop_before_input_required_is_recovered_at_the_resubscribe_snapshot(
    cli: Any, sandbox_drop_early: Any, args: list[str]
) -> None:
    """The resubscribe's first event says input-required: the end (it waited for --max-time, exit 5)."""
    r = cli(
        "stream", "tail", sandbox_drop_early.url, "--send", "/input", "--max-time", "5", "-o", "jsonl", *args
    )
    recs, summary = records(r)
    assert r.exit_code == 7, summary
    assert summary["outcome"] == "recovered" and summary["finalState"] == "input-required"
    assert summary["duration"] < 4


def test_the_default_max_event_bytes_holds_over_websocket(cli: Any, sandbox: Any) -> None:
    """An event over the default bound (16 MiB) is oversize (exit 7) over WebSocket as over SSE; it
    was read and passed as exit 0 (the bound applied only when --max-event-bytes was given)."""
    ws = sandbox.url.replace("http://", "ws://") + "/a2a/ws"
    r = cli("stream", "tail", ws, "--send", "/stream 1 17000000", "-o", "json")
    assert r.exit_code == 7, r.stdout[-300:]
    assert r.json["finalState"] == "completed"
    assert [(o["bytes"] > 17_000_000, o["limit"]) for o in r.json["oversize"]] == [(True, 16 << 20)]


def test_websocket_errors_carry_the_a2a_code(cli: Any, sandbox: Any) -> None:
    """The sandbox's WebSocket channel answers an SDK error with its JSON-RPC code (docs/websocket.md):
    an unknown task is TaskNotFound -32001, an ended one -32004; both were -32603 InternalError
    ('the agent failed internally')."""
    ws = sandbox.url.replace("http://", "ws://") + "/a2a/ws"
    unknown = cli("stream", "tail", ws, "--task", "no-such-task", "-o", "json")
    assert unknown.exit_code == 1 and unknown.json["error"]["a2aCode"] == -32001, unknown.stdout
    done = cli("send", sandbox.url, "hi", "-o", "json").json["taskId"]
    ended = cli("stream", "tail", ws, "--task", done, "-o", "json")
    assert ended.exit_code == 1 and ended.json["error"]["a2aCode"] == -32004, ended.stdout
    assert "already ended" in ended.json["error"]["message"]


def test_an_error_frame_mid_stream_keeps_the_records_in_json(cli, streams) -> None:
    """Two events, then a JSON-RPC error frame: exit 1 with the error, and with ``-o json`` the error
    document keeps the two ``event`` records (they were lost: the document was the error alone);
    ``-o jsonl`` wrote them as they came, then the error. One line on stderr, no traceback."""
    target = streams + "/errframe/agent-card.json"
    r = cli("-o", "json", "stream", "tail", target, "--send", "hi")
    assert r.exit_code == 1, r.stdout[-500:]
    doc = r.json
    assert doc["error"]["a2aCode"] == -32603
    assert [(x["type"], x["state"]) for x in doc["records"]] == [("event", "submitted"), ("event", "working")]
    assert [line for line in r.stderr.splitlines() if line.strip()] == [r.stderr.strip()]
    r = cli("-o", "jsonl", "stream", "tail", target, "--send", "hi")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x.get("type") for x in lines[:2]] == ["event", "event"] and "error" in lines[2]


@pytest.mark.parametrize(
    "command", [["stream", "tail", "{url}", "--send", "hi"], ["send", "--stream", "{url}", "hi"]]
)
def test_an_error_frame_mid_stream_names_the_task_it_ended(
    cli: Any, streams: str, command: list[str]
) -> None:
    """The error that ends a stream after events of a task names that task and its last state (message
    and ``details``): ``send --stream -o json`` is the error alone and the table's event lines show no
    task id, so the task the send created could not be looked at."""
    args = [a.format(url=streams + "/errframe/agent-card.json") for a in command]
    r = cli(*args, "-o", "json")
    assert r.exit_code == 1, r.stdout[-500:]
    error = r.json["error"]
    assert error["a2aCode"] == -32603 and error["details"]["reason"] == "INTERNAL_ERROR"
    assert (error["details"]["taskId"], error["details"]["lastState"]) == ("t-fault-1", "working")
    assert error["message"].endswith(
        "worker crashed (after 2 event(s) of task t-fault-1, last state working)"
    )
    table = cli(*args)
    assert table.exit_code == 1 and "task t-fault-1, last state working" in table.stderr


@pytest.mark.parametrize("args", [[], ["--a2a-version", "0.3"], ["--binding", "HTTP+JSON"]])
def test_subscribe_mid_artifact_knows_the_chunks_of_its_snapshot(
    cli: Any, sandbox: Any, args: list[str]
) -> None:
    """A subscribe to a task that already streamed an artifact's first chunk: the snapshot holds that
    chunk, so the next one (``append: true``) is no violation. It was 'append-to-unknown-artifact'
    and exit 6 (a protocol violation) for a healthy agent."""
    sent = cli("send", sandbox.url, "/slow 1.5", "--no-wait", "-o", "json", *args).json
    task_id = sent["taskId"]
    deadline = time.monotonic() + 10
    while True:  # until the first chunk is in the task (it comes after the /slow wait)
        got = cli("task", "get", sandbox.url, task_id, "-o", "json", *args).json
        if got["task"]["artifacts"]:
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    assert got["task"]["state"] == "working", got
    r = cli("task", "subscribe", sandbox.url, task_id, "--max-time", "10", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.stdout[-600:]
    recs, summary = records(r)
    assert summary["finalState"] == "completed" and summary["violations"] == []
    assert [e["kind"] for e in events(recs)][:2] == ["task", "artifact-update"]


# ----------------------------------------------------- a --max-event-bytes smaller than every event
def test_a_bound_below_every_event_blames_the_bound_not_the_agent(cli: Any, sandbox: Any) -> None:
    """`--max-event-bytes 10`: every SSE event, the terminal one included, is over the bound and not
    read. They are oversize events (exit 7, as a larger stream's one is), and the end is the bound's
    (outcome oversize), not the agent's: no cut, no resubscribe, no missing-terminal violation."""
    r = cli(
        "stream", "tail", sandbox.url, "--send", "/stream 3 100", "--max-event-bytes", "10", "-o", "jsonl"
    )
    assert r.exit_code == 7, r.stdout[-800:]
    recs, summary = records(r)
    evs = events(recs)
    assert evs and all(e["oversize"] and e["kind"] == "oversize" for e in evs)
    assert [x["type"] for x in recs if x["type"] != "event"] == []  # no cut, no reconnect
    assert summary["outcome"] == "oversize" and summary["exitCode"] == 7
    assert summary["violations"] == [] and summary["cuts"] == [] and summary["reconnects"] == []
    assert [o["limit"] for o in summary["oversize"]] == [10] * len(evs)
    table = cli("stream", "tail", sandbox.url, "--send", "hi", "--max-event-bytes", "10")
    assert table.exit_code == 7 and "--max-event-bytes" in table.stdout


def test_a_bound_below_every_event_of_a_subscribe_reads_the_end_from_get_task(cli: Any, sandbox: Any) -> None:
    """--task: the task id is known, so GetTask says the state the unread terminal event carried."""
    task_id = cli("send", sandbox.url, "/slow 0.5", "--no-wait", "-o", "json").json["taskId"]
    r = cli("stream", "tail", sandbox.url, "--task", task_id, "--max-event-bytes", "10", "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    doc = r.json
    assert doc["outcome"] == "oversize" and doc["finalState"] == "completed" and doc["taskId"] == task_id
    assert doc["violations"] == [] and doc["cuts"] == [] and doc["missed"] == []
    assert doc["oversize"] and all(e["oversize"] for e in doc["records"] if e["type"] == "event")


def test_a_bound_below_every_event_over_websocket(cli: Any, sandbox: Any) -> None:
    """WebSocket messages are read whole: oversize, and the terminal state is seen (completed, 7)."""
    ws = sandbox.url.replace("http://", "ws://") + "/a2a/ws"
    r = cli("stream", "tail", ws, "--send", "hi", "--max-event-bytes", "10", "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    assert r.json["outcome"] == "completed" and r.json["finalState"] == "completed"
    assert r.json["violations"] == [] and len(r.json["oversize"]) == r.json["events"]


@pytest.mark.parametrize("value", ["0", "-5", "0.5", "0B", "-1MiB"])
def test_a_bound_that_is_not_positive_is_a_usage_error(cli: Any, sandbox: Any, value: str) -> None:
    r = cli("stream", "tail", sandbox.url, "--send", "hi", f"--max-event-bytes={value}", "-o", "json")
    assert r.exit_code == 2, r.stdout[-500:]
    assert r.json["error"]["code"] == "usage" and "--max-event-bytes" in r.json["error"]["message"]


@pytest.mark.parametrize("source", ["send", "sse"])
def test_a_terminal_event_over_the_bound_ends_as_oversize(cli: Any, streams: str, source: str) -> None:
    """The task's events fit the bound, its terminal one (~2 KB) does not: it is not read, and the
    close that follows it is the bound's end (outcome oversize, exit 7), not 'closed without a
    terminal state' (6) with a cut and resubscribes; the task id is known from the earlier events."""
    where = (
        ["--sse", f"{streams}/raw-bigend"]
        if source == "sse"
        else [f"{streams}/bigend/agent-card.json", "--send", "hi"]
    )
    r = cli("stream", "tail", *where, "--max-event-bytes", "1000", "--reconnect", "1", "-o", "jsonl")
    assert r.exit_code == 7, r.stdout[-800:]
    recs, summary = records(r)
    assert [(e["kind"], e["oversize"]) for e in events(recs)] == [
        ("task", False),
        ("status-update", False),
        ("oversize", True),
    ]
    assert [x["type"] for x in recs if x["type"] != "event"] == []
    assert summary["outcome"] == "oversize" and summary["taskId"] == "t-fault-1"
    assert summary["violations"] == [] and summary["cuts"] == [] and summary["missed"] == []
    assert summary["oversize"][0]["limit"] == 1000


@pytest.mark.parametrize(
    ("wire", "final"), [("TASK_STATE_COMPLETED", "completed"), ("TASK_STATE_FAILED", "failed")]
)
def test_a_terminal_task_event_ends_the_tail_though_the_server_keeps_the_stream_open(
    cli: Any, wire: str, final: str
) -> None:
    """A Task event in a terminal state is the end of the task's stream (a terminal state is final):
    the tail ran on to --max-time and reported a completed task as exit 5, 'max-time'."""
    from tests.servers import terminal_task_then_open

    with terminal_task_then_open(wire) as agent:
        t0 = time.monotonic()
        r = cli("--max-time", "8s", "-o", "json", "stream", "tail", agent.url, "--send", "hi")
        took = time.monotonic() - t0
    assert took < 5, took
    assert (r.json["outcome"], r.json["finalState"], r.json["violations"]) == ("completed", final, [])
    assert r.exit_code == r.json["exitCode"] == 0


@pytest.mark.parametrize("command", STREAM_COMMANDS)
def test_no_answer_to_the_first_call_within_timeout_is_a_timeout(
    cli: Any, sandbox_rpc_delay: Any, command: list[str]
) -> None:
    """An agent that does not answer the streaming call within ``--timeout`` (nothing streamed) is a
    timeout, exit 5, as for ``send`` without ``--stream``: it was a cut with a ``missing-terminal``
    violation, exit 6 (a protocol violation the agent never made)."""
    args = [a.replace("{t}", sandbox_rpc_delay.url) for a in command]
    r = cli("--timeout", "0.3s", *args, "-o", "json")
    assert r.exit_code == 5, r.stdout[-800:]
    error = r.json["error"]
    assert error["code"] == "timeout" and error["message"].endswith("within 0.3s (read timeout)")


def test_a_raw_sse_url_that_does_not_answer_within_timeout_is_a_timeout(cli: Any, fault: str) -> None:
    """``stream tail --sse URL`` whose first GET gets no answer within ``--timeout``: exit 5 (the
    transport's error for the first connection, as its docstring says); it was a cut, exit 6."""
    r = cli("--timeout", "0.3s", "stream", "tail", "--sse", f"{fault}/hang/agent-card.json", "-o", "json")
    assert r.exit_code == 5, r.stdout[-800:]
    assert r.json["error"]["code"] == "timeout"


def test_send_stream_resubscribes_after_a_cut_as_stream_tail_does(cli: Any, sandbox_streams: Any) -> None:
    """``send --stream`` on a stream cut mid-task (after 3 events) ended at the cut: outcome ``cut``,
    the last state seen (``working``), exit 6, where ``stream tail --send`` resubscribed and saw the
    task complete. It resubscribes the same way (SubscribeToTask: the message is not sent again):
    the task's end, the chunks missed during the outage (exit 7, as stream tail), in jsonl as in
    the document."""
    r = cli("send", "--stream", sandbox_streams.url, "/stream 60 100", "-o", "jsonl")
    *recs, summary, result = r.jsonl
    kinds = [x["type"] for x in recs]
    assert kinds.index("cut") < kinds.index("reconnect"), kinds
    assert next(x for x in recs if x["type"] == "reconnect")["via"] == "SubscribeToTask"
    assert summary["type"] == "summary" and summary["outcome"] == "recovered"
    assert result["type"] == "result" and result["outcome"] == "recovered"
    assert result["state"] == "completed" and result["taskId"] == summary["taskId"]
    assert any("chunk" in m for m in result["missed"]) and result["exitCode"] == 7 == r.exit_code


def test_send_stream_cut_before_its_end_gets_the_end_from_get_task(cli: Any, sandbox_drop_early: Any) -> None:
    """A /fail stream cut before its end (task, working, then the cut): the resubscribe is refused
    (the task ended) and GetTask says how; ``send --stream -o json`` reports ``failed`` with the
    agent's reason, as ``stream tail --send`` (it was ``working``, outcome ``cut``, exit 6)."""
    r = cli("send", "--stream", sandbox_drop_early.url, "/fail", "-o", "json")
    doc = r.json
    assert r.exit_code == 7 and doc["outcome"] == "recovered", doc  # the end was missed: 7
    assert (doc["state"], doc["statusMessage"]) == ("failed", "failed on request (/fail)")
    assert any("only via GetTask" in m for m in doc["missed"]), doc
