"""Optional extras of the broker stores: a clear usage error instead of an ``ImportError`` deep in a
command when ``a2actl[amqp]`` or ``a2actl[sqs]`` is not installed."""

from __future__ import annotations

import importlib.util

from a2actl.core.errors import UsageError


def require_modules(modules: tuple[str, ...], message: str, extra: str) -> None:
    """Raise ``UsageError`` (exit 2) ``message`` with the hint ``pip install 'a2actl[EXTRA]'`` unless
    every module in ``modules`` can be found. Looks them up without importing them."""
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent missing, or hidden (``sys.modules[name] = None``)
            found = False
        if not found:
            raise UsageError(message, hint=f"pip install 'a2actl[{extra}]'")
