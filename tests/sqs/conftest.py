"""Fixtures for the Amazon SQS DLQ tests: a real SQS-compatible server on loopback (moto's
``ThreadedMotoServer``, an emulator: see docs/dlq.md for what it does not reproduce), fake
credentials in the environment (no network beyond 127.0.0.1: the instance metadata service is off,
no config or credentials file is read), and ``Queues``, which builds a source queue with a redrive
policy into a DLQ and dead-letters messages the way SQS does: by receiving them ``maxReceiveCount``
times without deleting them."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "us-east-1"

#: The environment of every test here: fake credentials and nothing of the host's AWS setup.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    for k, v in FAKE_AWS.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server for this session (skipped without moto[server]
    outside CI, a failure in CI)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - the test extra has it
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"moto[server] is not installed: {exc}")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def sqs_client(endpoint: str) -> Any:
    """A synchronous boto3 SQS client on ``endpoint`` with fake credentials (the test's own hands)."""
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Queues:
    """A source queue whose redrive policy moves a message to ``dlq`` after ``max_receive`` receives."""

    client: Any
    endpoint: str
    source_url: str
    dlq_url: str
    dlq_name: str
    fifo: bool
    max_receive: int

    def src(self, **params: Any) -> str:
        """The DLQ as a2actl's SRC (``sqs://us-east-1/NAME``), ``wait=0`` (moto answers at once) and
        the given parameters."""
        q = "&".join(f"{k}={v}" for k, v in {"wait": 0, **params}.items())
        return f"sqs://{REGION}/{self.dlq_name}?{q}"

    def send(self, bodies: list[dict[str, Any]], group: str | None = None, **attrs: str) -> None:
        """Send JSON ``bodies`` to the source queue in order (``group``: the FIFO message group)."""
        for n, body in enumerate(bodies):
            kw: dict[str, Any] = {"QueueUrl": self.source_url, "MessageBody": json.dumps(body)}
            if attrs:
                kw["MessageAttributes"] = {
                    k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()
                }
            if self.fifo:
                kw["MessageGroupId"] = group or "g"
                kw["MessageDeduplicationId"] = f"{group}-{n}-{uuid.uuid4().hex[:8]}"
            self.client.send_message(**kw)

    def send_raw(self, body: str) -> None:
        """Send a body as it is (not JSON, say)."""
        kw: dict[str, Any] = {"QueueUrl": self.source_url, "MessageBody": body}
        if self.fifo:
            kw["MessageGroupId"] = "raw"
            kw["MessageDeduplicationId"] = uuid.uuid4().hex
        self.client.send_message(**kw)

    def dead_letter(self, expect: int, timeout: float = 30.0) -> None:
        """Receive from the source queue without deleting until ``expect`` messages are in the DLQ
        (a failing consumer: SQS moves each after ``max_receive`` receives)."""
        deadline = time.monotonic() + timeout
        while self.depth()["messages"] < expect:
            assert time.monotonic() < deadline, f"DLQ has {self.depth()} of {expect}"
            got = self.client.receive_message(
                QueueUrl=self.source_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            if self.fifo:  # give the group back, so the next receive sees the same head again
                for m in got:
                    self.client.change_message_visibility(
                        QueueUrl=self.source_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )

    def depth(self, url: str | None = None) -> dict[str, int]:
        """The DLQ's (or ``url``'s) counts: ``{"messages", "notVisible"}``."""
        a = self.client.get_queue_attributes(
            QueueUrl=url or self.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "messages": int(a["ApproximateNumberOfMessages"]),
            "notVisible": int(a["ApproximateNumberOfMessagesNotVisible"]),
        }

    def wait_visible(self, n: int, timeout: float = 30.0) -> None:
        """Wait until the DLQ shows ``n`` visible messages (a killed reader's hold runs out)."""
        deadline = time.monotonic() + timeout
        while self.depth()["messages"] != n:
            assert time.monotonic() < deadline, f"DLQ {self.depth()}, expected {n} visible"
            time.sleep(0.2)


def make_queues(endpoint: str, fifo: bool = False, max_receive: int = 2) -> Queues:
    client = sqs_client(endpoint)
    base = "t" + uuid.uuid4().hex[:10]
    suffix = ".fifo" if fifo else ""
    fifo_attrs = {"FifoQueue": "true"} if fifo else {}
    dlq_name = f"{base}-dlq{suffix}"
    dlq_url = client.create_queue(QueueName=dlq_name, Attributes=fifo_attrs)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)})
    source_url = client.create_queue(
        QueueName=f"{base}-orders{suffix}",
        Attributes={**fifo_attrs, "RedrivePolicy": policy, "VisibilityTimeout": "0"},
    )["QueueUrl"]
    return Queues(client, endpoint, source_url, dlq_url, dlq_name, fifo, max_receive)


@pytest.fixture
def queues(sqs_endpoint: str) -> Queues:
    """A fresh standard source queue + DLQ (maxReceiveCount 2)."""
    return make_queues(sqs_endpoint)


@pytest.fixture(scope="session")
def sandbox_rpc_slow() -> Iterator[Any]:
    """A sandbox agent that takes 0.1 s per RPC (a replay runs long enough to be killed midway)."""
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    sb = RunningSandbox(SandboxOptions(stream_interval=0.01, rpc_delay=0.1)).start()
    try:
        yield sb
    finally:
        sb.stop()
