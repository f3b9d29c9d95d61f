"""Backpressure of ``dlq replay`` (``docs/dlq.md``, "Replay semantics"): an even rate limit and a
circuit breaker per target. Times in seconds (``time.monotonic``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


class RateLimiter:
    """``rate`` acquisitions per second, evenly spaced (no bursts); ``None`` or 0: unlimited."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0

    async def acquire(self) -> None:
        """Wait for the next slot."""
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class Breaker:
    """Consecutive failures per target; open (pausing deliveries) for ``cooldown`` seconds after ``limit``."""

    limit: int
    cooldown: float
    failures: int = 0
    open_until: float = 0.0
    trips: int = 0

    async def wait(self) -> None:
        """Sleep while the breaker is open."""
        delay = self.open_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def record(self, ok: bool) -> bool:
        """Count one delivery; returns True when this failure trips the breaker."""
        if ok:
            self.failures = 0
            return False
        self.failures += 1
        if self.failures >= self.limit and time.monotonic() >= self.open_until:
            self.open_until = time.monotonic() + self.cooldown
            self.failures = 0
            self.trips += 1
            return True
        return False
