"""Render docs/interop.md from the outcomes tests/interop/test_matrix.py collected.

Pure functions of their arguments (no clock, ports, ids or timings), so the same run renders the same
bytes. ``test_matrix.py`` compares the result with the committed file, or writes it with
``A2ACTL_WRITE_INTEROP=1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Columns of the per-binding table: (outcome key, heading).
CELL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("probe", "handshake probe"),
    ("send", "send hi"),
    ("fail", "send /fail"),
    ("input", "send /input"),
    ("msg", "send /msg"),
    ("stream", "stream tail --send"),
    ("get", "task get"),
    ("get_unknown", "task get (unknown id)"),
    ("cancel", "task cancel (finished)"),
    ("subscribe", "task subscribe (finished)"),
    ("tail_task", "stream tail --task (finished)"),
    ("list", "task list"),
)

#: Columns of the per-agent table (the card-level families, run with the default flags).
AGENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("card", "card get"),
    ("validate", "caps validate"),
    ("fingerprint", "caps fingerprint"),
    ("snapdiff", "caps snapshot + diff --expect"),
    ("smoke", "smoke init --out + smoke run"),
)

BINDINGS: tuple[str, ...] = ("JSONRPC", "HTTP+JSON")
VERSIONS: tuple[str, ...] = ("auto", "0.3", "1.0")


@dataclass(frozen=True)
class AgentDoc:
    """One agent of the matrix, as the intro describes it."""

    key: str
    sdk: str
    mode: str
    speaks: tuple[str, ...]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_escape(c) for c in cells) + " |"


def render(
    agents: Sequence[AgentDoc],
    cells: Mapping[tuple[str, str, str], Mapping[str, str]],
    agent_rows: Mapping[str, Mapping[str, str]],
    invocations: int,
) -> str:
    """The Markdown of docs/interop.md.

    ``cells[(agent, binding, version)]`` maps each CELL_COLUMNS key (and ``negotiated``) to its shown
    outcome; ``agent_rows[agent]`` maps each AGENT_COLUMNS key to its shown outcome. Rows come out in
    the order of ``agents``, BINDINGS and VERSIONS, whatever order the tests ran in.
    """
    n_cells = sum(1 for a in agents for b in BINDINGS for v in VERSIONS if (a.key, b, v) in cells)
    out: list[str] = [
        "# Interop matrix",
        "",
        "What works on which SDK, binding and protocol version: every a2actl command family run against real",
        "agents built on other A2A SDKs. **Generated** by `tests/interop/test_matrix.py` from its own run",
        f"({n_cells} agent x binding x version cells, {len(agent_rows)} agents, {invocations} CLI invocations);",
        "do not edit by hand. After a change, run `A2ACTL_WRITE_INTEROP=1 python -m pytest tests/interop`",
        "and commit the result; the test fails when this file is stale (as `cli-reference.md` is checked).",
        "",
        "Expected values come from the protocol (the A2A specification, [1.0](https://a2a-protocol.org/v1.0.0/specification) and [0.3](https://a2a-protocol.org/v0.3.0/specification)) and each agent's documented",
        "wire behaviour (`tests/interop/test_agents.py`), and the test also checks the method names and paths",
        "each agent really received (its request log), not only what a2actl printed.",
        "",
        "## Agents",
        "",
        _row(["agent", "SDK", "mode", "speaks"]),
        _row(["---"] * 4),
    ]
    for a in agents:
        out.append(_row([f"`{a.key}`", a.sdk, a.mode, ", ".join(a.speaks)]))
    out += [
        "",
        "All agents share the sandbox's behaviour table (`a2actl/server/sandbox/agent.py`): plain text ends `completed`",
        "with an echo artifact, `/fail` `failed`, `/input` `input-required`, `/msg TEXT` answers a bare Message.",
        "They serve JSON-RPC at `/a2a/jsonrpc` and HTTP+JSON under `/a2a/rest` (0.3 paths under `/a2a/rest/v1`).",
        "",
        "## Legend",
        "",
        "* `✓` worked as the protocol says (exit 0, the right state, the right method on the wire).",
        "* `exit N …` the expected non-zero exit: `send /fail` is exit 7 with `--fail-on failed` and 0 without;",
        "  an unknown task id is exit 1 with TaskNotFound (-32001); cancelling a finished task is exit 1 with",
        '  TaskNotCancelable (-32002) and the agent\'s message; following a finished task is exit 1 "already ended";',
        "  `task list` is exit 2 in 0.3 (ListTasks is new in 1.0).",
        "* `not spoken (exit N)` the agent does not speak the forced version and a2actl says so (exit N, with a",
        "  hint naming the version it does speak).",
        '* `—` not run: in a "not spoken" row, `send /fail`, `/input` and `/msg` are the same call as `send hi`.',
        "* `✗ exit N` a2actl did not do what the protocol says (the test run lists why); a bug to fix.",
        "",
        "## Per binding and version",
        "",
        "`--binding` and `--a2a-version` as given (`auto`: a2actl picks from the card); *negotiated* is the",
        "interface `handshake probe` chose.",
        "",
        _row(["agent", "--binding", "--a2a-version", "negotiated", *[h for _, h in CELL_COLUMNS]]),
        _row(["---"] * (4 + len(CELL_COLUMNS))),
    ]
    for a in agents:
        for b in BINDINGS:
            for v in VERSIONS:
                row = cells.get((a.key, b, v))
                if row is None:
                    continue
                out.append(
                    _row(
                        [
                            f"`{a.key}`",
                            b,
                            v,
                            row.get("negotiated", "?"),
                            *[row.get(k, "?") for k, _ in CELL_COLUMNS],
                        ]
                    )
                )
    out += [
        "",
        "## Card-level families",
        "",
        "Run once per agent with the default flags (`--binding auto --a2a-version auto`). `caps fingerprint`",
        "must report the versions the agent really speaks and no error or warning on a healthy agent;",
        "`caps diff --expect` of the agent's own fresh snapshot must find no change; the suite `smoke init`",
        "writes must expect the real final state of its send check (`completed`) and pass.",
        "",
        _row(["agent", *[h for _, h in AGENT_COLUMNS]]),
        _row(["---"] * (1 + len(AGENT_COLUMNS))),
    ]
    for a in agents:
        row = agent_rows.get(a.key)
        if row is None:
            continue
        out.append(_row([f"`{a.key}`", *[row.get(k, "?") for k, _ in AGENT_COLUMNS]]))
    out.append("")
    return "\n".join(out)
