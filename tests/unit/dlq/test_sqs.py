"""``a2actl.dlq.store.sqs`` without a server: SRC parsing and the entry of a message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from a2actl.core.errors import UsageError
from a2actl.dlq.store.backends import open_backend
from a2actl.dlq.store.entry import check
from a2actl.dlq.store.sqs import Redrive, SqsBackend, decode_message, is_sqs_source, parse_source


def test_sources_by_url() -> None:
    r = parse_source("sqs://eu-west-1/orders-dlq")
    assert (r.region, r.name, r.account, r.queue_url, r.visibility, r.wait) == (
        "eu-west-1", "orders-dlq", None, None, 120, 1,
    )  # fmt: skip
    assert not r.fifo
    r = parse_source("sqs://us-east-2/123456789012/orders-dlq.fifo?visibility=30&wait=0")
    assert (r.account, r.fifo, r.visibility, r.wait) == ("123456789012", True, 30, 0)
    url = "https://sqs.eu-central-1.amazonaws.com/123456789012/dlq"
    r = parse_source(url)
    assert (r.region, r.account, r.name, r.queue_url) == ("eu-central-1", "123456789012", "dlq", url)
    assert parse_source("https://ap-south-1.queue.amazonaws.com/123456789012/q").region == "ap-south-1"
    assert is_sqs_source(url) and is_sqs_source("sqs://x") and is_sqs_source(url + "?wait=0")
    assert not is_sqs_source("https://agent.example/debug/a2a/dlq")
    assert not is_sqs_source("https://sqs.example.com/123456789012/q")
    b = open_backend(url)
    assert isinstance(b, SqsBackend) and b.url == "sqs://eu-central-1/123456789012/dlq"
    assert b.journal_key == b.url
    assert SqsBackend("sqs://eu-west-1/q", "http://127.0.0.1:9").journal_key.endswith(
        "?endpoint=http://127.0.0.1:9"
    )


@pytest.mark.parametrize(
    ("src", "says"),
    [
        ("sqs://nowhere/q", "sqs://REGION/QUEUE_NAME"),
        ("sqs://eu-west-1/", "sqs://REGION/QUEUE_NAME"),
        ("sqs://eu-west-1/a/b/c", "sqs://REGION/QUEUE_NAME"),
        ("sqs://eu-west-1/12345/q", "12-digit"),
        ("sqs://eu-west-1/bad%20name", "not an SQS queue name"),
        ("sqs://eu-west-1/" + "x" * 81, "not an SQS queue name"),
        ("sqs://eu-west-1/q?visibility=0", "visibility='0'"),
        ("sqs://eu-west-1/q?visibility=43201", "visibility"),
        ("sqs://eu-west-1/q?wait=21", "wait='21'"),
        ("sqs://eu-west-1/q?wait=x", "wait='x'"),
        ("sqs://eu-west-1/q?stream=x", "unknown parameter 'stream'"),
    ],
)
def test_bad_sources_are_usage_errors(src: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_source(src)
    assert says in info.value.message


def test_endpoint_url_only_for_sqs(tmp_path: Any) -> None:
    with pytest.raises(UsageError, match="--endpoint-url applies to SQS"):
        open_backend(str(tmp_path / "d.jsonl"), endpoint_url="http://127.0.0.1:1")
    with pytest.raises(UsageError, match="http"):
        SqsBackend("sqs://eu-west-1/q", "127.0.0.1:4566")
    # botocore raised ValueError for these (an 'unexpected' error, exit 1)
    for bad, says in [
        ("http://", "no host"),
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:99999", "not a valid URL"),
        ("https://:443", "no host"),
    ]:
        with pytest.raises(UsageError, match=says):
            SqsBackend("sqs://eu-west-1/q", bad)


def _msg(body: Any, received: int = 3, attrs: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "rh",
        "Body": body if isinstance(body, str) else json.dumps(body),
        "Attributes": {"ApproximateReceiveCount": str(received), "SentTimestamp": "1795680000123"},
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in (attrs or {}).items()},
    }


REQ = {"message": {"messageId": "order-1", "role": "ROLE_USER", "parts": [{"text": "x"}]}}


def test_our_entry_body() -> None:
    body = {
        "id": "dlq-1",
        "request": {"method": "SendMessage", "params": REQ},
        "target": {"url": "http://a/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        "enqueuedAt": "2020-01-01T00:00:00.000Z",
        "attempts": 9,
        "lastError": {"code": -32603, "message": "db down", "class": "transient"},
        "traceId": None,
        "source": "orders",
    }
    e, why = decode_message(_msg(body, received=4))
    assert why is None and e is not None
    assert e["id"] == "m-1" and e["entryId"] == "dlq-1"
    assert e["attempts"] == 3  # the receive count less this read, not the body's
    assert e["enqueuedAt"] == "2026-11-26T08:00:00.123Z"  # SentTimestamp
    assert e["lastError"] == body["lastError"] and e["source"] == "orders"
    assert e["sqs"]["receiveCount"] == 4 and e["sqs"]["sentTimestamp"] == 1795680000123


def test_bare_bodies_and_attributes() -> None:
    rpc = {"jsonrpc": "2.0", "id": 7, "method": "message/send", "params": REQ}
    e, why = decode_message(_msg(rpc, attrs={"a2a.target": "http://b/rpc", "a2a.error": "stock service 503"}))
    assert why is None and e is not None
    assert e["request"] == {"method": "message/send", "params": REQ}
    assert e["target"] == {"url": "http://b/rpc"}
    assert e["lastError"] == {"code": None, "message": "stock service 503", "class": "transient"}
    err = json.dumps({"code": 400, "message": "bad part", "class": "permanent"})
    e, why = decode_message(_msg(REQ, received=1, attrs={"a2a.error": err}))
    assert why is None and e is not None
    assert e["request"] == {"method": "SendMessage", "params": REQ}
    assert e["attempts"] == 0 and e["lastError"]["class"] == "permanent"
    assert e["target"] == {"url": ""}  # replay needs --to (or a2a.target)
    e, _ = decode_message(_msg(REQ, received=5))
    assert e is not None and e["lastError"]["message"] == "received 4 time(s) without being deleted"
    e, _ = decode_message({**_msg(REQ), "Attributes": {"DeadLetterQueueSourceArn": "arn:aws:sqs:r:1:orders"}})
    assert e is not None and e["source"] == "orders" and e["attempts"] == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "not JSON"),
        ([1, 2], "a JSON list"),
        ({"hello": "world"}, "neither an a2actl entry nor an A2A request"),
        ({"request": "oops"}, "/request"),
    ],
)
def test_invalid_bodies(body: Any, why: str) -> None:
    e, got = decode_message(_msg(body))
    assert got is not None and why in got
    if e is not None:
        assert check(e) == got


def test_redrive_document_and_exit() -> None:
    ok = Redrive("sqs://r/q", "arn", "h", "COMPLETED", 3, 3, None, 1.5)
    assert ok.exit == 0 and ok.to_json()["mode"] == "to-broker" and ok.to_json()["moved"] == 3
    bad = Redrive("sqs://r/q", "arn", "h", "FAILED", 1, 3, "AccessDenied", 1.0)
    assert bad.exit == 7 and bad.to_json()["failureReason"] == "AccessDenied"
