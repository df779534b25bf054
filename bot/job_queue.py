"""Where waiting jobs live and how one is claimed: what the runner needs from its queue.

Two implementations: `queue_local.LocalQueue` (one process, the waiting jobs in memory) and
`queue_shared.SharedQueue` (several processes sharing PostgreSQL: claims and leases in the database).
The runner reads the same either way; nothing else about a job differs between the modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain import Job


class JobQueue(Protocol):
    @property
    def held_by(self) -> str | None:
        """The fence on every state change of a job: this worker's id, or None for a lone process."""

    @property
    def heartbeat_s(self) -> float | None:
        """How often `heartbeat` should run, or None when there are no leases to renew."""

    @property
    def waiting(self) -> Sequence[Job]:
        """The jobs waiting for a provider slot (shared: as of the last claim)."""

    async def unfinished(self) -> list[Job]:
        """At start: the stored jobs this process should resume (shared: those of workers that stopped)."""

    def add(self, job: Job, *, ours: bool = True) -> None:
        """A stored queued job waits here; `ours`: this process posted its status message."""

    def drop(self, job_id: int) -> None:
        """Forget a waiting job (it was cancelled)."""

    async def claim(self, holding: Sequence[Job]) -> list[Job]:
        """The jobs that may start now, given the jobs this process has holding a slot; each is removed
        from `waiting` and, shared, leased to this worker."""

    def positions(self, holding: Sequence[Job]) -> dict[int, int]:
        """Job id → 1-based place in the order `claim` will take the waiting jobs."""

    def keeps_status(self, job: Job) -> bool:
        """Whether this process keeps `job`'s status message up to date."""

    async def still_held(self, job: Job) -> bool:
        """Renew the hold on `job`; false when another worker has taken it over."""

    async def heartbeat(self, job_ids: list[int]) -> list[Job]:
        """Renew the leases of `job_ids`; returns jobs taken over from workers that stopped renewing theirs."""

    async def close(self) -> None:
        """Hand this process's jobs over now rather than when their leases run out."""
