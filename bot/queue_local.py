"""The queue of a lone process: waiting jobs in memory, taken round-robin by user up to MAX_ACTIVE_JOBS."""

from __future__ import annotations

from collections.abc import Sequence

from bot import fair_queue
from bot.domain import Job, JobState
from bot.storage import Storage

UNFINISHED = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING)


class LocalQueue:
    """Implements bot.job_queue.JobQueue for one process; storage only supplies the jobs to resume."""

    held_by: str | None = None
    heartbeat_s: float | None = None

    def __init__(self, storage: Storage, *, max_active: int) -> None:
        self.storage = storage
        self.max_active = max_active
        self._waiting: list[Job] = []
        # user id → sequence number of their last started job. A counter, not the clock: starts within one
        # clock tick (a virtual clock, a coarse timer) must still take turns.
        self.last_start: dict[int, int] = {}
        self.starts = 0

    @property
    def waiting(self) -> list[Job]:
        return self._waiting

    async def unfinished(self) -> list[Job]:
        return await self.storage.jobs_in_states(UNFINISHED)

    def add(self, job: Job, *, ours: bool = True) -> None:
        self._waiting.append(job)

    def drop(self, job_id: int) -> None:
        self._waiting = [queued for queued in self._waiting if queued.id != job_id]

    async def claim(self, holding: Sequence[Job]) -> list[Job]:
        running = fair_queue.holding_by_user(holding)
        started: list[Job] = []
        while self._waiting and len(holding) + len(started) < self.max_active:
            job = self._waiting.pop(fair_queue.next_index(self._waiting, running, self.last_start))
            self.starts += 1
            self.last_start[job.user_id] = self.starts
            running[job.user_id] = running.get(job.user_id, 0) + 1
            started.append(job)
        return started

    def positions(self, holding: Sequence[Job]) -> dict[int, int]:
        return fair_queue.positions(self._waiting, fair_queue.holding_by_user(holding), self.last_start, self.starts)

    def keeps_status(self, job: Job) -> bool:
        return True

    async def still_held(self, job: Job) -> bool:
        return True

    async def heartbeat(self, job_ids: list[int]) -> list[Job]:
        return []

    async def close(self) -> None:
        return None
