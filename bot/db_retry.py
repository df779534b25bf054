"""The runner's database writes, retried: a write that fails (disk full, a read-only file, a lock held too
long, a lost PostgreSQL connection) is tried again with exponential backoff (capped) and logged, so a job
never dies holding a user's slot when the database hiccups; it carries on once writes work again."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.clock import Clock
from bot.domain import JobState
from bot.storage import Storage

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_BASE_S = 1.0
RETRY_CAP_S = 60.0
ATTEMPTS = 8  # ~2 minutes of retries before a step gives up (finishing a job never gives up)


def is_database_error(error: BaseException) -> bool:
    """An error of the database itself (not of the SQL we wrote): worth trying again later."""
    if isinstance(error, sqlite3.OperationalError | OSError):
        return True
    module = type(error).__module__ or ""
    return module.startswith("asyncpg") and not type(error).__name__.endswith(("SyntaxError", "UndefinedColumnError"))


async def retrying(operation: Callable[[], Awaitable[T]], *, clock: Clock, what: str, attempts: int | None = ATTEMPTS) -> T:
    """Run `operation`; on a database error wait 1, 2, 4 … (at most 60) seconds and run it again, `attempts` times
    in all (None: until it works or the task is cancelled). Other errors are raised at once."""
    delay, attempt = RETRY_BASE_S, 0
    while True:
        try:
            return await operation()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            attempt += 1
            if not is_database_error(error) or (attempts is not None and attempt >= attempts):
                raise
            log.warning("database write (%s) failed: %s: %s; retry %d in %.0fs", what, type(error).__name__,
                        error, attempt, delay)  # fmt: skip
            await clock.sleep(delay)
            delay = min(RETRY_CAP_S, delay * 2)


class RetryingWrites:
    """The writes the runner makes on a job, each retried (see the module docstring)."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock

    async def transition(
        self, job_id: int, from_states: tuple[JobState, ...], to: JobState, *, attempts: int | None = ATTEMPTS,
        **fields: Any,
    ) -> bool:  # fmt: skip
        return await retrying(lambda: self.storage.transition(job_id, from_states, to, **fields), clock=self.clock,
                              what=f"job {job_id} → {to.value}", attempts=attempts)  # fmt: skip

    async def update_job(self, job_id: int, **fields: Any) -> None:
        await retrying(lambda: self.storage.update_job(job_id, **fields), clock=self.clock, what=f"job {job_id} update")

    async def refund(self, job_id: int, *, attempts: int | None = ATTEMPTS) -> bool:
        return await retrying(lambda: self.storage.refund(job_id), clock=self.clock, what=f"job {job_id} refund",
                              attempts=attempts)  # fmt: skip
