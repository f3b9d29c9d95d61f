"""What every job returns: a typed result that knows its exit code and its ``-o json`` document.

A command is: read options → call one job → ``Output.result(result, view)`` → exit ``result.exit``.
The JSON shapes are documented in docs/output-formats.md; exit codes in docs/exit-codes.md.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from a2actl.core.exit_codes import ExitCode


@runtime_checkable
class JobResult(Protocol):
    """A job's outcome. ``exit`` is the process exit code the documented contract gives this outcome;
    ``to_json()`` is the ``-o json`` document (a JSON-ready dict, keys in camelCase, times in seconds,
    sizes in bytes)."""

    @property
    def exit(self) -> ExitCode:
        """The documented exit code of this outcome."""
        ...

    def to_json(self) -> dict[str, Any]:
        """The ``-o json`` document (docs/output-formats.md)."""
        ...
