"""Unit tests of ``a2actl.push.checks``: the per-delivery checks and the summary, fed with
hand-built deliveries (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.versions import Family
from a2actl.push.checks import (
    MAX_BODY,
    Delivery,
    PushChecker,
    PushConfig,
    check_body,
    parse_timestamp,
    push_exit,
)

TOKEN = "tok-0123456789abcdef"
TASK = "task-1"
WALL_NS = 1_800_000_000 * 10**9  # 2027-01-15T08:00:00Z


def status(state: str, ts: str | None = "2027-01-15T07:59:59.750Z", task: str = TASK) -> dict[str, Any]:
    st: dict[str, Any] = {"state": state}
    if ts is not None:
        st["timestamp"] = ts
    return {"statusUpdate": {"taskId": task, "contextId": "c", "status": st}}


def artifact(text: str, *, append: bool = False, last: bool = False) -> dict[str, Any]:
    return {
        "artifactUpdate": {
            "taskId": TASK,
            "artifact": {"artifactId": "a1", "parts": [{"text": text}]},
            "append": append,
            "lastChunk": last,
        }
    }


def delivery(body: Any, token: str | None = TOKEN, **headers: str) -> Delivery:
    h = {k.replace("_", "-"): v for k, v in headers.items()}
    if token is not None:
        h["x-a2a-notification-token"] = token
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery(h, raw, len(raw), "/a2a/push", WALL_NS)


def checker(**kw: Any) -> tuple[PushChecker, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    cfg = kw.pop("config", PushConfig("http://127.0.0.1:1/a2a/push", TOKEN))
    return PushChecker(cfg, records.append, **kw), records


def test_a_clean_run_completes_with_latency_from_the_event_timestamp() -> None:
    c, records = checker(task_id=TASK)
    for body in (status("TASK_STATE_WORKING"), artifact("x", last=True), status("TASK_STATE_COMPLETED")):
        assert c.deliver(delivery(body)).status == 204
    assert c.done and c.final_state == "completed"
    s = c.summary("completed").to_json()
    assert s["exitCode"] == 0
    assert (s["deliveries"], s["unique"], s["duplicates"], s["invalid"], s["authFailures"]) == (3, 3, 0, 0, 0)
    assert [r["latency"] for r in records] == [0.25, None, 0.25]
    assert s["latency"]["max"] == pytest.approx(0.25)


def test_a_duplicate_is_counted_not_failed_and_key_order_does_not_matter() -> None:
    c, records = checker()
    first = status("TASK_STATE_WORKING")
    c.deliver(delivery(first))
    reordered = json.dumps(first["statusUpdate"], sort_keys=True)
    assert c.deliver(delivery(f'{{"statusUpdate": {reordered}}}'.encode())).status == 204
    c.deliver(delivery(status("TASK_STATE_COMPLETED")))
    s = c.summary("completed")
    assert [r["duplicate"] for r in records] == [False, True, False]
    assert (s.unique, s.duplicates, s.exit) == (2, 1, ExitCode.OK)


def test_the_summary_counts_every_delivery_its_record_calls_a_duplicate() -> None:
    """An invalid body sent twice: the second record says duplicate, and so does the summary (both
    are still counted invalid); an untrusted copy is no duplicate (its body is not trusted)."""
    c, records = checker(task_id=TASK)
    broken = {"statusUpdate": {"taskId": TASK, "status": {}}}  # missing-field
    for body, token in ((broken, TOKEN), (broken, TOKEN), (broken, "wrong")):
        c.deliver(delivery(body, token=token))
    s = c.summary("max-time")
    assert [r["duplicate"] for r in records] == [False, True, False]
    assert (s.duplicates, s.invalid, s.unique, s.auth_failures) == (1, 3, 0, 1)
    assert s.duplicates == sum(r["duplicate"] for r in records)


@pytest.mark.parametrize("token, rule", [(None, "missing-token"), ("not-the-token", "wrong-token")])
def test_a_token_mismatch_is_401_and_exit_7(token: str | None, rule: str) -> None:
    c, records = checker()
    v = c.deliver(delivery(status("TASK_STATE_COMPLETED"), token=token))
    assert v.status == 401 and records[0]["auth"] == rule
    assert not c.done, "an untrusted delivery must not end the listen"
    s = c.summary("max-time")
    assert (s.auth_failures, s.exit) == (1, ExitCode.CHECK_FAILED)
    assert [(p["check"], p["rule"]) for p in s.problems] == [("auth", rule)]
    assert TOKEN not in json.dumps(s.to_json()) + json.dumps(records)


def test_authorization_is_checked_when_a_scheme_is_configured() -> None:
    cfg = PushConfig("http://h/a2a/push", TOKEN, "Bearer", "cred-abcdef")
    c, records = checker(config=cfg)
    assert c.deliver(delivery(status("TASK_STATE_WORKING"), authorization="bearer cred-abcdef")).status == 204
    assert c.deliver(delivery(status("TASK_STATE_WORKING"), authorization="Bearer nope")).status == 401
    assert c.deliver(delivery(status("TASK_STATE_WORKING"))).status == 401
    assert [r["auth"] for r in records] == ["ok", "wrong-authorization", "missing-authorization"]


@pytest.mark.parametrize(
    "body, rule",
    [
        (b"not json", "not-json"),
        ([1, 2], "not-an-object"),
        ({"hello": "world"}, "not-a-push-payload"),
        ({"statusUpdate": {"taskId": TASK, "status": {}}}, "missing-field"),
        ({"task": {"status": {"state": "TASK_STATE_WORKING"}}}, "missing-field"),
        ({"artifactUpdate": {"taskId": TASK}}, "missing-field"),
        ({"kind": "task", "id": TASK, "status": {"state": "working"}}, "version-mismatch"),
        (status("TASK_STATE_WORKING", task="someone-else"), "other-task"),
    ],
)
def test_an_invalid_body_is_400_and_exit_7(body: Any, rule: str) -> None:
    c, records = checker(task_id=TASK)
    assert c.deliver(delivery(body)).status == 400
    assert rule in [p["rule"] for p in records[0]["problems"]]
    assert records[0]["valid"] is False
    assert {p["check"] for p in c.summary("max-time").problems} == {"body"}
    assert c.summary("max-time").exit == ExitCode.CHECK_FAILED


@pytest.mark.parametrize(
    "raw, why",
    [
        (json.dumps(status("TASK_STATE_WORKING")).encode("utf-16"), "not UTF-8"),
        (b"\xef\xbb\xbf" + json.dumps(status("TASK_STATE_WORKING")).encode(), "byte order mark"),
        (b"\xff{}", "not UTF-8 at byte 0"),
        (b"", "Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        # json.loads takes these literals; JSON has no such values (RFC 8259 §6): valid was true
        (
            json.dumps(status("TASK_STATE_WORKING", ts=None)).replace("}}}", '}, "x": NaN}}').encode(),
            "NaN is not JSON",
        ),
        (
            b'{"task": {"id": "a", "status": {"state": "TASK_STATE_WORKING"}, "n": -Infinity}}',
            "-Infinity is not",
        ),
    ],
)
def test_a_body_that_is_not_utf8_json_says_why(raw: bytes, why: str) -> None:
    """Networked JSON is UTF-8 without a BOM (RFC 8259 §8.1): a UTF-16 body that json.loads would
    take is refused too; the message says what is wrong."""
    c, records = checker()
    assert c.deliver(Delivery({"x-a2a-notification-token": TOKEN}, raw, len(raw))).status == 400
    (problem,) = records[0]["problems"]
    assert problem["rule"] == "not-json" and why in problem["message"]


def test_a_body_repeating_a_member_with_different_values_is_400_and_not_read() -> None:
    """Two statusUpdate members (or two states): json.loads kept the last, so the body was valid,
    answered 204, and its second state ended the listen; a reader keeping the first saw another
    state. It is 400, rule duplicate-key naming the pointer, and moves neither order nor final state."""
    c, records = checker(task_id=TASK)
    working, completed = (
        json.dumps(status(s)["statusUpdate"]) for s in ("TASK_STATE_WORKING", "TASK_STATE_COMPLETED")
    )
    raw = f'{{"statusUpdate": {working}, "statusUpdate": {completed}}}'.encode()
    assert c.deliver(delivery(raw)).status == 400
    (problem,) = records[0]["problems"]
    assert problem["rule"] == "duplicate-key"
    assert problem["message"] == (
        "a member name repeated in one object, with different values: the body is ambiguous: /statusUpdate"
    )
    assert (records[0]["valid"], records[0]["kind"], records[0]["state"]) == (False, None, None)
    assert not c.done and c.final_state is None
    s = c.summary("max-time")
    assert (s.invalid, s.unique, s.exit) == (1, 0, ExitCode.CHECK_FAILED)
    assert [(p["check"], p["rule"]) for p in s.problems] == [("body", "duplicate-key")]
    # a state given twice inside one update: the same
    inner = b'{"statusUpdate": {"taskId": "task-1", "status": {"state": "TASK_STATE_WORKING", "state": "TASK_STATE_FAILED"}}}'
    assert c.deliver(delivery(inner)).status == 400
    assert (
        records[1]["problems"][0]["rule"] == "duplicate-key"
        and "/statusUpdate/status/state" in records[1]["problems"][0]["message"]
    )
    assert not c.done


def test_a_body_repeating_a_member_with_one_value_is_400_but_still_read() -> None:
    """Every reader agrees on it, so it still counts for the final state (the listen ends with the
    task), but the sender is told (400) and the listen fails (exit 7)."""
    c, records = checker(task_id=TASK)
    body = json.dumps(status("TASK_STATE_COMPLETED")["statusUpdate"])
    raw = f'{{"statusUpdate": {body}, "statusUpdate": {body}}}'.encode()
    assert c.deliver(delivery(raw)).status == 400
    assert [p["rule"] for p in records[0]["problems"]] == ["duplicate-key"]
    assert records[0]["state"] == "completed" and records[0]["valid"] is False
    assert c.done and c.final_state == "completed"
    s = c.summary("completed")
    assert (s.invalid, s.unique, s.exit) == (1, 1, ExitCode.CHECK_FAILED)


def test_a_body_repeating_members_in_many_objects_names_three_and_counts_the_rest() -> None:
    """The problem names the first objects' repeats by pointer and counts the others; a sender's
    repeats cost one walk of the body (a 12 MB body of 900,000 such objects took 17 s to word when each
    repeat got its pointer, the receiver's event loop held all along)."""
    c, records = checker(task_id=TASK)
    items = ", ".join(['{"a": 1, "a": 1}'] * 1000)
    raw = (
        '{"statusUpdate": {"taskId": "task-1", "status": {"state": "TASK_STATE_WORKING"}, "x": ['
        + items
        + "]}}"
    ).encode()
    assert c.deliver(delivery(raw)).status == 400
    (problem,) = records[0]["problems"]
    assert problem["message"] == (
        "a member name repeated in one object, with the same value: "
        "/statusUpdate/x/0/a, /statusUpdate/x/1/a, /statusUpdate/x/2/a (and in 997 more objects)"
    )
    assert records[0]["state"] == "working"  # one value each: still read


def test_an_oversized_body_is_not_read() -> None:
    c, records = checker()
    v = c.deliver(Delivery({"x-a2a-notification-token": TOKEN}, None, MAX_BODY + 1))
    assert v.status == 400 and records[0]["problems"][0]["rule"] == "oversize"


def test_a_0_3_registration_takes_the_task_and_flags_a_1_0_body() -> None:
    ev, problems = check_body({"kind": "task", "id": TASK, "status": {"state": "completed"}}, Family.V0_3)
    assert ev is not None and ev.state == "completed" and problems == []
    ev, problems = check_body(status("TASK_STATE_COMPLETED"), Family.V0_3)
    assert [p["rule"] for p in problems] == ["version-mismatch"]
    # readable all the same: the listen still ends on the terminal state
    c, _ = checker(family=Family.V0_3)
    c.deliver(delivery(status("TASK_STATE_COMPLETED")))
    assert c.done and c.summary("completed").exit == ExitCode.CHECK_FAILED


def test_order_problems_warn_unless_strict() -> None:
    for strict, code in ((False, ExitCode.OK), (True, ExitCode.CHECK_FAILED)):
        c, records = checker(strict_order=strict)
        c.deliver(delivery(artifact("late chunk", append=True)))  # its first chunk never came
        c.deliver(delivery(status("TASK_STATE_COMPLETED")))
        assert records[0]["order"][0]["rule"] == "append-to-unknown-artifact"
        s = c.summary("completed")
        assert (s.out_of_order, s.exit) == (1, code)
        assert [(p["check"], p["rule"]) for p in s.problems] == [("order", "append-to-unknown-artifact")]


def test_a_state_going_back_is_out_of_order_and_interrupted_tasks_may_resume() -> None:
    c, records = checker()
    c.deliver(delivery(status("TASK_STATE_INPUT_REQUIRED")))
    c.deliver(delivery(status("TASK_STATE_WORKING", ts="2027-01-15T07:59:59.800Z")))
    c.deliver(delivery(status("TASK_STATE_SUBMITTED", ts="2027-01-15T07:59:59.900Z")))
    assert [r["order"] for r in records[:2]] == [[], []]
    assert records[2]["order"][0]["rule"] == "illegal-transition"


@pytest.mark.parametrize("state", ["TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"])
def test_an_interrupted_state_ends_the_listen_until_the_task_resumes(state: str) -> None:
    """The agent waits for the client: no push comes by itself, so the listen may end (as stream
    tail does); a delivery that resumes the task takes that back. A terminal state stays the end."""
    c, _ = checker()
    c.deliver(delivery(status("TASK_STATE_WORKING")))
    assert not c.done
    c.deliver(delivery(status(state, ts="2027-01-15T07:59:59.800Z")))
    assert c.done
    s = c.summary("completed")
    assert (s.exit, s.final_state, s.failed_on) == (ExitCode.OK, c.final_state, None)
    c.deliver(delivery(status("TASK_STATE_WORKING", ts="2027-01-15T07:59:59.900Z")))
    assert not c.done
    c.deliver(delivery(status("TASK_STATE_COMPLETED", ts="2027-01-15T07:59:59.950Z")))
    c.deliver(delivery(status("TASK_STATE_WORKING", ts="2027-01-15T07:59:59.990Z")))  # illegal: still ended
    assert c.done


def test_fail_on_names_the_final_state() -> None:
    c, _ = checker(fail_on=frozenset({"input-required"}))
    c.deliver(delivery(status("TASK_STATE_INPUT_REQUIRED")))
    s = c.summary("completed")
    assert (s.exit, s.failed_on, s.to_json()["failedOn"]) == (
        ExitCode.CHECK_FAILED,
        "input-required",
        "input-required",
    )
    # Only a listen that saw the task settle fails on its state; --max-time stays 5.
    assert c.summary("max-time").exit == ExitCode.TIMEOUT
    c, _ = checker(fail_on=frozenset({"failed"}))
    c.deliver(delivery(status("TASK_STATE_COMPLETED")))
    assert (c.summary("completed").exit, c.summary("completed").failed_on) == (ExitCode.OK, None)


def test_max_time_without_failures_is_5() -> None:
    c, _ = checker()
    c.deliver(delivery(status("TASK_STATE_WORKING")))
    assert c.summary("max-time").exit == ExitCode.TIMEOUT
    assert push_exit("no-task", failures=0, order_failures=0) == ExitCode.CHECK_FAILED
    assert push_exit("interrupted", failures=0, order_failures=0) == ExitCode.INTERRUPTED
    assert push_exit("interrupted", failures=1, order_failures=0) == ExitCode.CHECK_FAILED


def test_config_json_spells_each_version_and_hides_secrets() -> None:
    cfg = PushConfig("https://h/hook", TOKEN, "Bearer", "cred-abcdef")
    assert cfg.config_json(Family.V1_0, "t") == {
        "taskId": "t",
        "url": "https://h/hook",
        "token": "***",
        "authentication": {"scheme": "Bearer", "credentials": "***"},
    }
    assert cfg.config_json(Family.V0_3, "t", reveal=True) == {
        "taskId": "t",
        "pushNotificationConfig": {
            "url": "https://h/hook",
            "token": TOKEN,
            "authentication": {"schemes": ["Bearer"], "credentials": "cred-abcdef"},
        },
    }


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2027-01-15T08:00:00Z", 1_800_000_000.0),
        ("2027-01-15T08:00:00.365954123Z", 1_800_000_000.365954),
        ("2027-01-15T09:00:00+01:00", 1_800_000_000.0),
        ("2027-01-15T08:00:00", 1_800_000_000.0),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_timestamp(text: Any, expected: float | None) -> None:
    got = parse_timestamp(text)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("trusted, kept", [(1, [3]), (3, [1, 2, 3]), (0, [])])
def test_the_delivery_log_keeps_the_first_and_last_trusted(
    monkeypatch: pytest.MonkeyPatch, trusted: int, kept: list[int]
) -> None:
    """``DeliveryLog``: the first half of ``KEPT_TRUSTED`` and the last (the rest rounded up),
    every other record counted by its ``auth``."""
    import a2actl.push.checks as checks

    monkeypatch.setattr(checks, "KEPT_TRUSTED", trusted)
    log = checks.DeliveryLog()
    for n in (1, 2, 3):
        log.append({"n": n, "auth": "ok"})
    assert [r["n"] for r in log] == kept and len(log) == len(kept)
    left = 3 - len(kept)
    assert log.left_out_json() == ({"count": left, "byAuth": {"ok": left}} if left else None)
