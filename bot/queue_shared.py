"""The queue shared by several processes through PostgreSQL: claims, leases and take-overs.

A claim leases the job to this worker, a heartbeat renews the leases, and jobs whose worker stopped
renewing are taken over by another. MAX_ACTIVE_JOBS counts every worker's jobs, and each state change
is fenced by the lease (`held_by`), so a worker that lost a job changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot import fair_queue
from bot.clock import Clock
from bot.domain import Job
from bot.storage import QueueView, Storage

log = logging.getLogger(__name__)

LEASE_S = 30.0  # a worker renews its leases every third of this; a dead worker's jobs move on after it


class SharedQueue:
    """Implements bot.job_queue.JobQueue over the database; `waiting` mirrors its unclaimed jobs."""

    def __init__(self, storage: Storage, clock: Clock, *, worker_id: str, max_active: int, lease_s: float = LEASE_S):
        self.storage = storage
        self.clock = clock
        self.worker_id = worker_id
        self.max_active = max_active
        self.lease_s = lease_s
        self._waiting: list[Job] = []
        self._view: QueueView | None = None
        self._ours: set[int] = set()  # whose status messages this process keeps up to date

    @property
    def held_by(self) -> str:
        return self.worker_id

    @property
    def heartbeat_s(self) -> float:
        return self.lease_s / 3

    @property
    def waiting(self) -> list[Job]:
        return self._waiting

    def _lease_end(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.lease_s)

    async def unfinished(self) -> list[Job]:
        return await self.storage.take_over_expired(self.worker_id, now=self.clock.now(), lease_until=self._lease_end())

    def add(self, job: Job, *, ours: bool = True) -> None:
        self._waiting.append(job)
        if ours:
            self._ours.add(job.id)

    def drop(self, job_id: int) -> None:
        self._waiting = [queued for queued in self._waiting if queued.id != job_id]

    async def claim(self, holding: Sequence[Job]) -> list[Job]:
        """Claim jobs from the database while the global cap allows, then mirror the waiting ones."""
        claimed: list[Job] = []
        try:
            while (job := await self.storage.claim_next_job(
                self.worker_id, max_active=self.max_active, lease_until=self._lease_end()
            )) is not None:  # fmt: skip
                claimed.append(job)
            view = await self.storage.queue_view()
        except Exception:  # the database is away: try again at the next wake or heartbeat
            log.exception("claiming jobs from the database failed")
            return claimed
        self._view, self._waiting = view, list(view.jobs)
        self._ours &= {j.id for j in view.jobs}
        return claimed

    def positions(self, holding: Sequence[Job]) -> dict[int, int]:
        """Numbered as the database counts turns across every worker (before the first claim: locally)."""
        if self._view is None:
            return fair_queue.positions(self._waiting, fair_queue.holding_by_user(holding), {}, 0)
        return fair_queue.positions(self._waiting, self._view.holding, self._view.last_claim, 0)

    def keeps_status(self, job: Job) -> bool:
        return job.id in self._ours  # another process's job: that process keeps its status message

    async def still_held(self, job: Job) -> bool:
        return job.id in await self.storage.renew_leases(self.worker_id, [job.id], self._lease_end())

    async def heartbeat(self, job_ids: list[int]) -> list[Job]:
        await self.storage.renew_leases(self.worker_id, job_ids, self._lease_end())
        return await self.storage.take_over_expired(self.worker_id, now=self.clock.now(), lease_until=self._lease_end())

    async def close(self) -> None:
        try:
            await self.storage.release_leases(self.worker_id)
        except Exception:
            log.exception("could not release the leases of worker %s", self.worker_id)
