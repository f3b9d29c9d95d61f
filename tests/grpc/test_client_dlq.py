"""``dlq replay`` to a gRPC target (#18 stretch): ``--to URL --binding GRPC`` (discovery picks the card's
gRPC interface) and entries whose stored target is a GRPC interface (no discovery); each message is
processed once by the sandbox (its debug endpoint counts what the shared request handler got)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from a2actl.dlq.store.entry import new_entry
from a2actl.dlq.store.file import FileBackend


def _entries(target: dict[str, Any], n: int) -> list[dict[str, Any]]:
    prefix = uuid.uuid4().hex[:8]
    return [
        new_entry(
            "SendMessage",
            {
                "message": {
                    "messageId": f"{prefix}-{i}",
                    "role": "ROLE_USER",
                    "parts": [{"text": f"order {i}"}],
                }
            },
            target,
            attempts=1,
            source="orders",
            error={"code": -32603, "message": "db down", "class": "transient"},
        )
        for i in range(n)
    ]


def _fill(path: Path, entries: list[dict[str, Any]]) -> list[str]:
    backend = FileBackend(str(path))

    async def go() -> list[str]:
        ids = [await backend.append(e) for e in entries]
        await backend.close()
        return ids

    return asyncio.run(go())


def _processed(sb: Any, mids: list[str]) -> list[int]:
    got = httpx.get(sb.url + "/debug/a2a/received").json()["messages"]
    return [got.get(m, {}).get("processed", 0) for m in mids]


def _replay(cli: Any, src: str, tmp_path: Path, *extra: str) -> Any:
    return cli("dlq", "replay", src, "--yes", "--journal", str(tmp_path / "j.jsonl"), *extra, "-o", "json")


def test_replay_to_a_grpc_target_with_binding_grpc(cli: Any, sandbox_grpc: Any, tmp_path: Path) -> None:
    jsonrpc = {
        "url": sandbox_grpc.url + "/a2a/jsonrpc",
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    es = _entries(jsonrpc, 8)
    ids = _fill(tmp_path / "dlq.jsonl", es)
    r = _replay(cli, f"file://{tmp_path}/dlq.jsonl", tmp_path, "--to", sandbox_grpc.url, "--binding", "GRPC")
    assert r.exit_code == 0, r.stdout[-500:]
    assert r.json["acknowledged"] == len(ids)
    mids = [e["request"]["params"]["message"]["messageId"] for e in es]
    assert _processed(sandbox_grpc, mids) == [1] * len(mids)


def test_replay_to_a_stored_grpc_target(cli: Any, sandbox_grpc: Any, tmp_path: Path) -> None:
    grpc_target = {"url": sandbox_grpc.grpc_url, "protocolBinding": "GRPC", "protocolVersion": "1.0"}
    es = _entries(grpc_target, 5)
    _fill(tmp_path / "dlq.jsonl", es)
    r = _replay(cli, f"file://{tmp_path}/dlq.jsonl", tmp_path)
    assert r.exit_code == 0, r.stdout[-500:]
    assert r.json["acknowledged"] == 5
    assert _processed(sandbox_grpc, [e["request"]["params"]["message"]["messageId"] for e in es]) == [1] * 5


def test_replay_to_a_grpc_target_that_is_down_keeps_the_entries(
    cli: Any, sandbox_grpc_down: Any, tmp_path: Path
) -> None:
    grpc_target = {"url": sandbox_grpc_down.grpc_url, "protocolBinding": "GRPC", "protocolVersion": "1.0"}
    _fill(tmp_path / "dlq.jsonl", _entries(grpc_target, 3))
    r = _replay(cli, f"file://{tmp_path}/dlq.jsonl", tmp_path, "--max-attempts", "1")
    assert r.exit_code == 7, r.stdout[-500:]
    doc = r.json
    assert doc["acknowledged"] == 0 and doc["stillDead"]["transient"] == 3
    assert cli("dlq", "list", f"file://{tmp_path}/dlq.jsonl", "-o", "json").json["count"] == 3
