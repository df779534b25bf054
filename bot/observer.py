"""What the runner tells the outside about a job (the Discord status message, a terminal): JobProgress,
computed by the runner, and the JobObserver that renders it and posts results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.domain import Job, JobState, ProviderStatus
from bot.errors import ReelbotError


@dataclass(frozen=True, slots=True)
class JobProgress:
    """What the status message shows, computed by the runner; rendering is the observer's job."""

    state: JobState
    position: int | None = None  # 1-based place in the queue while waiting
    elapsed: float = 0.0
    eta: float | None = None  # seconds left, from recent jobs on the same provider/model
    fraction: float | None = None
    provider_state: str | None = None
    thumbnail_url: str | None = None  # a still of the clip, where the provider gives one (short-lived link)


class JobObserver(Protocol):
    """The Discord side, as the core sees it."""

    async def job_changed(self, job: Job, progress: JobProgress) -> None: ...

    async def upload_limit(self, job: Job) -> int: ...

    async def find_delivery(self, job: Job) -> int | None:
        """The id of a result message already posted for `job` (a restart mid-delivery), or None."""

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        """Post the result; returns the message id."""

    async def job_ended(self, job: Job, error: ReelbotError | None) -> None:
        """A job failed or was cancelled: show why."""



def running_progress(job: Job, status: ProviderStatus, typical: float | None, now: datetime) -> JobProgress:
    """Progress of a generating job; without a fraction from the provider, one estimated from `typical`
    (the median duration of recent jobs on the same provider and model), capped below done."""
    elapsed = (now - (job.started_at or job.created_at)).total_seconds()
    fraction, eta = status.progress, None
    if typical:
        eta = max(0.0, typical - elapsed)
        if fraction is None:
            fraction = min(0.95, elapsed / typical)
    return JobProgress(JobState.RUNNING, elapsed=elapsed, eta=eta, fraction=fraction,
                       provider_state=status.raw_state or status.state.value,
                       thumbnail_url=status.extra.get("thumbnail_url"))  # fmt: skip
