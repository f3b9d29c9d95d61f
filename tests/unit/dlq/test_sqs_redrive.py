"""``dlq replay --to-broker`` on SQS (``SqsBackend.to_broker``): ``StartMessageMoveTask`` and
``ListMessageMoveTasks`` against a loopback stand-in of SQS's JSON API (botocore speaks AWS JSON 1.0,
``X-Amz-Target: AmazonSQS.<Operation>``). moto does not implement these two operations, so this is
where the request shapes and the progress reporting are tested; the stand-in answers as the AWS API
reference describes, it is not AWS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from a2actl.core.errors import ProtocolViolation
from a2actl.dlq.store.sqs import SqsBackend

ARN = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"


class FakeSqs:
    """Answers GetQueueUrl, GetQueueAttributes (QueueArn), StartMessageMoveTask and then
    ListMessageMoveTasks from ``statuses`` in turn (the last one repeats)."""

    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        op = request.headers["X-Amz-Target"].split(".", 1)[1]
        body = json.loads(await request.read() or b"{}")
        self.calls.append((op, body))
        if op == "GetQueueUrl":
            out: dict[str, Any] = {"QueueUrl": f"{self.url}/123456789012/{body['QueueName']}"}
        elif op == "GetQueueAttributes":
            out = {"Attributes": {"QueueArn": ARN}}
        elif op == "StartMessageMoveTask":
            out = {"TaskHandle": "task-1"}
        elif op == "ListMessageMoveTasks":
            n = sum(1 for o, _ in self.calls if o == op)
            out = {"Results": [self.statuses[min(n, len(self.statuses)) - 1]]}
        else:
            return web.json_response(
                {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": op}, status=400
            )
        return web.json_response(out, content_type="application/x-amz-json-1.0")


async def _run(fake: FakeSqs, rate: float | None = None) -> tuple[Any, list[dict[str, Any]]]:
    app = web.Application()
    app.router.add_post("/", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    backend = SqsBackend("sqs://us-east-1/orders-dlq?wait=0", fake.url)
    backend.poll = 0.01
    records: list[dict[str, Any]] = []
    try:
        return await backend.to_broker(records.append, rate), records
    finally:
        await backend.close()
        await runner.cleanup()


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)


def _task(status: str, moved: int, total: int, **extra: Any) -> dict[str, Any]:
    return {
        "Status": status,
        "SourceArn": ARN,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": total,
        "StartedTimestamp": 1795680000000,
        **extra,
    }


def test_move_task_runs_to_completion_and_reports_progress() -> None:
    fake = FakeSqs(
        [_task("RUNNING", 0, 3), _task("RUNNING", 0, 3), _task("RUNNING", 2, 3), _task("COMPLETED", 3, 3)]
    )
    result, records = asyncio.run(_run(fake, rate=50))
    start = [body for op, body in fake.calls if op == "StartMessageMoveTask"]
    # back to the source queues: no DestinationArn; --rate becomes MaxNumberOfMessagesPerSecond
    assert start == [{"SourceArn": ARN, "MaxNumberOfMessagesPerSecond": 50}]
    polls = [body for op, body in fake.calls if op == "ListMessageMoveTasks"]
    assert polls[0] == {"SourceArn": ARN, "MaxResults": 1} and len(polls) == 4
    # one progress record per change, not per poll
    assert [(r["status"], r["moved"], r["toMove"]) for r in records] == [
        ("RUNNING", 0, 3),
        ("RUNNING", 2, 3),
        ("COMPLETED", 3, 3),
    ]
    assert all(r["type"] == "progress" and r["message"] for r in records)
    doc = result.to_json()
    assert (doc["status"], doc["moved"], doc["toMove"], doc["taskHandle"], doc["exitCode"]) == (
        "COMPLETED", 3, 3, "task-1", 0,
    )  # fmt: skip


def test_failed_task_exits_7_with_the_reason() -> None:
    fake = FakeSqs(
        [
            _task("RUNNING", 1, 3),
            _task("FAILED", 1, 3, FailureReason="AWS.SimpleQueueService.NonExistentQueue"),
        ]
    )
    result, _ = asyncio.run(_run(fake))
    start = [body for op, body in fake.calls if op == "StartMessageMoveTask"]
    assert start == [{"SourceArn": ARN}]  # no rate: SQS's own pace
    assert result.exit == 7
    assert result.to_json()["failureReason"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_endpoint_without_the_api_is_a_protocol_error() -> None:
    class NoMove(FakeSqs):
        async def handle(self, request: web.Request) -> web.Response:
            if request.headers["X-Amz-Target"].endswith("StartMessageMoveTask"):
                return web.Response(status=500, text="<!doctype html>\n<title>500</title>\nboom")
            return await super().handle(request)

    with pytest.raises(ProtocolViolation) as info:
        asyncio.run(_run(NoMove([])))
    assert "\n" not in info.value.message and "StartMessageMoveTask" in info.value.message
    assert info.value.hint and "moto" in info.value.hint
