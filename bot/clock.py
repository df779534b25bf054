"""One clock for all time-based logic, so an offline simulator can drive it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time."""

    def monotonic(self) -> float:
        """Seconds for measuring intervals."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time and intervals from the given sources (by default the standard library's)."""

    def __init__(
        self, now: Callable[[], datetime] | None = None, monotonic: Callable[[], float] | None = None
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._monotonic = monotonic or time.monotonic

    def now(self) -> datetime:
        return self._now()

    def monotonic(self) -> float:
        return self._monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

