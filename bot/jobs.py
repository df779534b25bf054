"""The job runner: persist → queue → submit → poll → download → deliver, and resume on start.

One dispatcher task takes queued jobs (round-robin by user) while fewer than MAX_ACTIVE_JOBS are
in flight at providers; each started job gets its own task. Every step is recorded in storage
first, so a restart resumes each job where it was and delivers it exactly once.

With a `worker_id` (several processes sharing PostgreSQL), the dispatcher claims jobs from the database
instead of its own list: a claim leases the job to this worker, a heartbeat renews the leases, and
jobs whose worker stopped renewing are taken over by another. MAX_ACTIVE_JOBS then counts every
worker's jobs, and each state change is fenced by the lease, so a worker that lost a job changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import statistics
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiohttp

from bot import media, metrics
from bot.clock import Clock
from bot.domain import Job, JobState, ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    GenerationFailedError,
    InvalidRequestError,
    JobTimeoutError,
    MediaError,
    ProviderCreditsError,
    ProviderError,
    ProviderRateLimitError,
    ProviderUnavailableError,
    ReelbotError,
)
from bot.providers.base import VideoProvider, check_request
from bot.quotas import Quotas
from bot.storage import QueueView, Storage

log = logging.getLogger(__name__)

# Errors that mean "this provider is down", so an unaccepted job may move to the next provider.
FALLBACK_ERRORS = (ProviderUnavailableError, ProviderRateLimitError, ProviderCreditsError)
FILE_SCHEME = "file://"
LEASE_S = 30.0  # a worker renews its leases every third of this; a dead worker's jobs move on after it


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


class JobRunner:
    def __init__(
        self,
        *,
        storage: Storage,
        quotas: Quotas,
        providers: list[VideoProvider],
        clock: Clock,
        session: aiohttp.ClientSession,
        observer: JobObserver,
        temp_dir: Path,
        max_active: int,
        timeout_s: float,
        max_download_bytes: int,
        worker_id: str | None = None,
        lease_s: float = LEASE_S,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.storage = storage
        self.quotas = quotas
        self.providers = {p.name: p for p in providers}
        self.provider_order = [p.name for p in providers]
        self.clock = clock
        self.session = session
        self.observer = observer
        self.temp_dir = temp_dir
        self.max_active = max_active
        self.timeout_s = timeout_s
        self.max_download_bytes = max_download_bytes
        self._queue: list[Job] = []
        self._positions: dict[int, int] = {}
        self._in_flight: set[int] = set()  # jobs holding a provider slot
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._task_jobs: dict[int, Job] = {}
        self._cancelling: set[int] = set()
        # user id → sequence number of their last started job. A counter, not the clock: starts within one
        # clock tick (a virtual clock, a coarse timer) must still take turns.
        self._last_start: dict[int, int] = {}
        self._starts = 0
        self._wake = asyncio.Event()
        self._positions_dirty = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._accepting = True
        # Shared queue (worker_id set): the jobs live in the database; _queue mirrors its waiting jobs.
        self.worker_id = worker_id
        self.lease_s = lease_s
        self._view: QueueView | None = None
        self._enqueued_here: set[int] = set()  # whose status messages this process keeps up to date
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def primary(self) -> VideoProvider:
        return self.providers[self.provider_order[0]]

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """True when several workers share the queue through the database."""
        return self.worker_id is not None

    async def start(self) -> None:
        """Resume every unfinished job (shared: take over the jobs of dead workers), then start dispatching."""
        if self.shared:
            now, until = self.clock.now(), self._lease_end()
            for job in await self.storage.take_over_expired(self.worker_id, now=now, lease_until=until):
                await self._resume(job)
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="reelbot-heartbeat")
        else:
            for job in await self.storage.jobs_in_states(
                (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING)
            ):
                await self._resume(job)
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="reelbot-dispatcher")
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking and running jobs; every job keeps its stored state for the next start."""
        self._accepting = False
        tasks = [t for t in (self._dispatcher, self._heartbeat, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._dispatcher = self._heartbeat = None
        if self.shared:  # hand the jobs over now rather than after the lease runs out
            try:
                await self.storage.release_leases(self.worker_id)
            except Exception:
                log.exception("could not release the leases of worker %s", self.worker_id)

    @property
    def alive(self) -> bool:
        return self._dispatcher is not None and not self._dispatcher.done()

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def enqueue(self, job: Job) -> int:
        """Queue a stored job; returns its 1-based position."""
        self._queue.append(job)
        if self.shared:
            self._enqueued_here.add(job.id)
        positions = self._queue_positions()
        self._positions_dirty = True  # a newcomer can move ahead of a busy user's jobs: tell them
        _count(JobState.QUEUED, None)
        self._wake.set()
        return positions.get(job.id, len(self._queue))

    def validate(self, request: VideoRequest) -> None:
        """Raise InvalidRequestError naming what is possible unless some configured provider can do it."""
        if any(fit_request(request, provider) is not None for provider in self.providers.values()):
            return
        owner = next(
            (p for p in self.providers.values() if request.model in p.capabilities.models), self.primary
        )
        check_request(owner.capabilities, owner.display_name, request)
        raise InvalidRequestError("no provider can do this", public_message="No configured provider can do that.")

    def models(self) -> list[str]:
        """Every model the configured providers offer, primary's first."""
        seen: list[str] = []
        for provider in self.providers.values():
            seen += [m for m in provider.capabilities.models if m not in seen]
        return seen

    def position(self, job_id: int) -> int | None:
        return self._positions.get(job_id)

    async def _resume(self, job: Job) -> None:
        if job.state is JobState.QUEUED:
            self._queue.append(job)
        elif job.state is JobState.SUBMITTING and not job.provider_job_id:
            # The create request may or may not have reached the provider; resubmitting could charge twice.
            await self._fail(job, ProviderError(
                "interrupted during submission",
                public_message="The bot restarted while sending this job, so it was not resubmitted "
                "(that could charge twice). Your quota was refunded; please try again.",
            ))  # fmt: skip
        elif job.state in (JobState.SUBMITTING, JobState.RUNNING):
            if job.state is JobState.SUBMITTING:
                await self.storage.transition(job.id, (JobState.SUBMITTING,), JobState.RUNNING, held_by=self.worker_id)
            self._start_task(job, in_flight=True)
        elif job.state is JobState.DELIVERING:
            self._start_task(job, in_flight=False)
        self._positions = self._queue_positions()

    # --- dispatch ----------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while self._accepting:
            await self._wake.wait()
            self._wake.clear()
            if self.shared:
                await self._claim_shared()
            while not self.shared and self._queue and len(self._in_flight) < self.max_active:
                job = self._queue.pop(self._next_index())
                self._starts += 1
                self._last_start[job.user_id] = self._starts
                self._start_task(job, in_flight=True)
                self._positions_dirty = True
            if self._positions_dirty:
                self._positions_dirty = False
                await self._announce_positions()

    async def _claim_shared(self) -> None:
        """Claim jobs from the database while the global cap allows, then mirror the waiting ones."""
        try:
            while self._accepting:
                job = await self.storage.claim_next_job(self.worker_id, max_active=self.max_active,  # type: ignore[arg-type]
                                                        lease_until=self._lease_end())  # fmt: skip
                if job is None:
                    break
                self._start_task(job, in_flight=True)
                self._positions_dirty = True
            view = await self.storage.queue_view()
        except Exception:  # the database is away: try again at the next wake or heartbeat
            log.exception("claiming jobs from the database failed")
            return
        if [j.id for j in view.jobs] != [j.id for j in self._queue]:
            self._positions_dirty = True
        self._view, self._queue = view, list(view.jobs)
        self._enqueued_here &= {j.id for j in view.jobs}

    def _fairness(self) -> tuple[dict[int, int], dict[int, int]]:
        """Per user: jobs holding a provider slot, and the sequence number of their last start (shared: as
        the database counts them across every worker)."""
        if self._view is not None:
            return dict(self._view.holding), dict(self._view.last_claim)
        running: dict[int, int] = {}
        for job_id in self._in_flight:
            task_job = self._task_jobs.get(job_id)
            if task_job is not None:
                running[task_job.user_id] = running.get(task_job.user_id, 0) + 1
        return running, dict(self._last_start)

    def _next_index(self) -> int:
        """Round-robin by user: the queued job whose user has the fewest jobs in flight, then whose user
        started a job least recently, then the oldest."""
        running, _ = self._fairness()
        best, best_key = 0, None
        for index, job in enumerate(self._queue):
            key = (running.get(job.user_id, 0), self._last_start.get(job.user_id, float("-inf")), job.id)
            if best_key is None or key < best_key:
                best, best_key = index, key
        return best

    def _queue_positions(self) -> dict[int, int]:
        """Simulate the dispatcher's picks to number the waiting jobs: each pick takes the job with the smallest
        (user's jobs in flight, user's last start, job id), as _next_index does, and makes its user the most
        recent starter. Only each user's oldest job can be the smallest, so a heap of users gives the same order
        in O(n log n) (a scan per pick was O(n²) per enqueue, which stalled the loop under a burst)."""
        running, last = self._fairness()
        waiting: dict[int, deque[Job]] = {}
        for job in sorted(self._queue, key=lambda queued: queued.id):
            waiting.setdefault(job.user_id, deque()).append(job)
        heap = [(running.get(user, 0), last.get(user, float("-inf")), jobs[0].id, user) for user, jobs in waiting.items()]
        heapq.heapify(heap)
        order: dict[int, int] = {}
        tick = max([self._starts, *last.values()])
        while heap:
            in_flight, _, _, user = heapq.heappop(heap)
            jobs = waiting[user]
            order[jobs.popleft().id] = len(order) + 1
            tick += 1
            if jobs:
                heapq.heappush(heap, (in_flight, tick, jobs[0].id, user))
        return order

    async def _announce_positions(self) -> None:
        old, self._positions = self._positions, self._queue_positions()
        for job in self._queue:
            if self.shared and job.id not in self._enqueued_here:
                continue  # another process's job: that process keeps its status message
            position = self._positions.get(job.id)
            if position != old.get(job.id):
                await self._notify(job, JobProgress(JobState.QUEUED, position=position))

    def _start_task(self, job: Job, *, in_flight: bool) -> None:
        if in_flight:
            self._in_flight.add(job.id)
        self._task_jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job), name=f"reelbot-job-{job.id}")

    def _release_slot(self, job_id: int) -> None:
        if job_id in self._in_flight:
            self._in_flight.discard(job_id)
            self._wake.set()

    # --- one job -----------------------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        try:
            if job.state is JobState.QUEUED:
                if self._past_deadline(job):  # waited in the queue for the whole timeout: don't start it now
                    raise JobTimeoutError(f"job {job.id} waited {self.timeout_s:.0f}s in the queue")
                job, status = await self._submit(job)
            else:
                status = None
            if job.state is JobState.RUNNING:
                status = await self._poll_until_done(job, status)
                job = await self._enter_delivery(job, status)
            self._release_slot(job.id)
            if job.state is JobState.DELIVERING:
                if status is None:  # resumed after a restart: a stored link may have expired since
                    job = await self._refresh_link(job)
                await self._deliver(job)
        except asyncio.CancelledError:
            if job.id in self._cancelling:
                return  # cancel() finishes the bookkeeping
            raise
        except ReelbotError as error:
            await self._fail(await self._fresh(job), error)
        except Exception as error:  # a bug must end the job cleanly, not kill the runner
            log.exception("job %s crashed", job.id, extra={"job_id": job.id})
            await self._fail(await self._fresh(job), ReelbotError(f"internal error: {type(error).__name__}"))
        finally:
            self._release_slot(job.id)
            self._tasks.pop(job.id, None)
            self._task_jobs.pop(job.id, None)

    async def _submit(self, job: Job) -> tuple[Job, ProviderStatus]:
        """Send the create request once, falling over to the next provider only while none accepted it."""
        last_error: ReelbotError | None = None
        for name in self.provider_order:
            provider = self.providers[name]
            request = fit_request(job.request, provider)
            if request is None:
                continue
            if not await self.storage.transition(
                job.id, (JobState.QUEUED, JobState.SUBMITTING), JobState.SUBMITTING,
                provider=name, started_at=self.clock.now(), held_by=self.worker_id,
            ):  # fmt: skip
                raise asyncio.CancelledError  # cancelled while waiting
            _count(JobState.SUBMITTING, name)
            job = await self._fresh(job)
            await self._notify(job, JobProgress(JobState.SUBMITTING, provider_state="sending to " + provider.display_name))
            try:
                status = await provider.submit(replace(request, requester_id=job.user_id))
            except FALLBACK_ERRORS as error:
                if getattr(error, "maybe_accepted", False):
                    raise  # it may be running (and charged) there: another provider would charge twice
                log.warning("provider %s unavailable before accepting job %s: %s", name, job.id, error,
                            extra={"job_id": job.id, "provider": name})  # fmt: skip
                last_error = error
                continue
            await self.storage.update_job(
                job.id, provider_job_id=status.provider_job_id, video_url=_video_location(status)
            )
            if status.state is ProviderState.FAILED:
                raise _failure(status)
            target = JobState.DELIVERING if status.state is ProviderState.COMPLETED else JobState.RUNNING
            if not await self.storage.transition(job.id, (JobState.SUBMITTING,), target, held_by=self.worker_id):
                # Cancelled while the create request was on the wire: stop what the provider just accepted.
                await self._cancel_at_provider(provider, status.provider_job_id, job.id)
                raise asyncio.CancelledError
            _count(target, name)
            log.info("job %s accepted by %s as %s", job.id, name, status.provider_job_id,
                     extra={"job_id": job.id, "provider": name})  # fmt: skip
            return await self._fresh(job), status
        raise last_error or ProviderError("no provider can do this request")

    async def _poll_until_done(self, job: Job, status: ProviderStatus | None) -> ProviderStatus:
        provider = self.providers.get(job.provider or "")
        if provider is None or not job.provider_job_id:
            raise ProviderError(f"job {job.id} has no usable provider record")
        deadline = job.created_at + timedelta(seconds=self.timeout_s)
        durations = await self.storage.recent_durations(provider.name, job.request.model)
        typical = statistics.median(durations) if durations else None
        failures = 0
        while status is None or not status.done:
            wait = provider.poll_interval
            if status is not None and status.poll_after:
                wait = max(wait, status.poll_after)
            if failures:
                wait = min(60.0, provider.poll_interval * 2**failures)
            remaining = (deadline - self.clock.now()).total_seconds()
            if remaining <= 0:
                raise JobTimeoutError(f"job {job.id} unfinished after {self.timeout_s:.0f}s")
            await self.clock.sleep(min(wait, remaining))
            if (deadline - self.clock.now()).total_seconds() <= 0:
                raise JobTimeoutError(f"job {job.id} unfinished after {self.timeout_s:.0f}s")
            try:
                status = await provider.poll(job.provider_job_id)
                failures = 0
                if status.restarted_as:  # the provider retried a failed generation as a new one: follow it
                    await self.storage.update_job(job.id, provider_job_id=status.restarted_as)
                    job = await self._fresh(job)
            except ProviderError as error:
                if not error.retryable:
                    raise
                failures += 1
                log.warning("poll of job %s failed (%s); backing off", job.id, error.code,
                            extra={"job_id": job.id, "provider": provider.name})  # fmt: skip
                continue
            await self._notify(job, self._progress(job, status, typical))
        if status.state is ProviderState.FAILED:
            raise _failure(status)
        return status

    def _progress(self, job: Job, status: ProviderStatus, typical: float | None) -> JobProgress:
        elapsed = (self.clock.now() - (job.started_at or job.created_at)).total_seconds()
        fraction, eta = status.progress, None
        if typical:
            eta = max(0.0, typical - elapsed)
            if fraction is None:
                fraction = min(0.95, elapsed / typical)
        return JobProgress(JobState.RUNNING, elapsed=elapsed, eta=eta, fraction=fraction,
                           provider_state=status.raw_state or status.state.value,
                           thumbnail_url=status.extra.get("thumbnail_url"))  # fmt: skip

    async def _enter_delivery(self, job: Job, status: ProviderStatus) -> Job:
        await self.storage.update_job(job.id, video_url=_video_location(status))
        if not await self.storage.transition(job.id, (JobState.RUNNING,), JobState.DELIVERING, held_by=self.worker_id):
            raise asyncio.CancelledError
        _count(JobState.DELIVERING, job.provider)
        return await self._fresh(job)

    async def _refresh_link(self, job: Job) -> Job:
        """Where the provider's result links expire (Luma Agents: one hour), re-read the finished generation for
        a fresh one; if that fails the stored link is tried, and a dead link fails the job with a refund."""
        provider = self.providers.get(job.provider or "")
        if provider is None or not provider.capabilities.expiring_urls or not job.provider_job_id:
            return job
        try:
            status = await provider.poll(job.provider_job_id)
        except ProviderError as error:
            log.warning("job %s: no fresh link from %s (%s)", job.id, provider.name, error.code, extra={"job_id": job.id})
            return job
        if status.state is ProviderState.COMPLETED and status.video_url:
            await self.storage.update_job(job.id, video_url=status.video_url)
            return await self._fresh(job)
        return job

    async def _deliver(self, job: Job) -> None:
        existing = await self.observer.find_delivery(job)
        if existing is not None:  # posted before a restart: record it, never post twice
            await self._complete(job, existing)
            return
        location = job.video_url
        if not location:
            raise MediaError("the provider reported success without a video")
        limit = await self.observer.upload_limit(job)
        url: str | None = None
        size: int | None = None
        if location.startswith(FILE_SCHEME):  # a sync provider already handed us the bytes
            path: Path | None = Path(location[len(FILE_SCHEME) :])
            temp = path
            try:
                size = await media.file_size(path)
            except OSError:
                raise MediaError("the finished clip was lost in a restart") from None
        else:
            url = location
            path = temp = media.new_temp_path(self.temp_dir)
        try:
            if url is not None:
                try:
                    size = await media.download(self.session, url, temp, max_bytes=min(limit, self.max_download_bytes))
                except media.MediaTooLargeError:
                    path = None  # over the upload limit: post the link instead of the file
            if path is not None and size is not None and size > limit:
                if url is None:
                    raise MediaError(
                        f"clip of {size} bytes is over this channel's upload limit and the provider gave no link"
                    )
                path = None
            if self.shared and not await self._still_held(job):
                raise asyncio.CancelledError  # taken over while stalled: the new owner delivers it
            message_id = await self.observer.deliver(job, path, url, size)
            await self._complete(job, message_id)
        finally:
            await media.remove_quietly(temp)

    async def _complete(self, job: Job, message_id: int) -> None:
        await self.storage.transition(
            job.id, (JobState.DELIVERING,), JobState.COMPLETED,
            result_message_id=message_id, finished_at=self.clock.now(), held_by=self.worker_id,
        )  # fmt: skip
        _count(JobState.COMPLETED, job.provider)
        log.info("job %s delivered", job.id, extra={"job_id": job.id, "user_id": job.user_id})

    async def _fail(self, job: Job, error: ReelbotError) -> None:
        moved = await self.storage.transition(
            job.id, (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING),
            JobState.FAILED, failure_reason=error.public_message[:500], finished_at=self.clock.now(),
            held_by=self.worker_id,
        )  # fmt: skip
        if not moved:
            return
        _count(JobState.FAILED, job.provider)
        if error.refund:
            await self.storage.refund(job.id)
        level = logging.ERROR if error.code in ("provider_auth", "provider_credits") else logging.WARNING
        log.log(level, "job %s failed: %s", job.id, error, extra={"job_id": job.id, "provider": job.provider})
        await self.observer.job_ended(await self._fresh(job), error)

    async def abandon(self, job_id: int, reason: str) -> None:
        """Fail and refund a job that never got going (its status message could not be posted)."""
        if await self.storage.transition(job_id, (JobState.QUEUED,), JobState.FAILED,
                                         failure_reason=reason, finished_at=self.clock.now()):  # fmt: skip
            _count(JobState.FAILED, None)
            await self.storage.refund(job_id)

    async def cancel(self, job_id: int) -> Job | None:
        """Cancel a job that has not been delivered; refunds. Returns the cancelled job, or None if too late."""
        job = await self.storage.get_job(job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING):
            return None
        self._cancelling.add(job_id)
        try:
            if not await self.storage.transition(
                job_id, (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING), JobState.CANCELLED,
                finished_at=self.clock.now(),
            ):  # fmt: skip
                return None
            _count(JobState.CANCELLED, job.provider)
            task = self._tasks.get(job_id)
            # A create request on the wire is let finish (its task then cancels what was accepted);
            # interrupting it would leave an unknown, charged generation behind.
            if task is not None and task is not asyncio.current_task() and job.state is not JobState.SUBMITTING:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._queue = [queued for queued in self._queue if queued.id != job_id]
            self._release_slot(job_id)
            provider = self.providers.get(job.provider or "")
            if provider is not None and job.provider_job_id:
                await self._cancel_at_provider(provider, job.provider_job_id, job_id)
            await self.storage.refund(job_id)
            cancelled = await self.storage.get_job(job_id)
            await self._announce_positions()
            return cancelled
        finally:
            self._cancelling.discard(job_id)

    async def _cancel_at_provider(self, provider: VideoProvider, provider_job_id: str | None, job_id: int) -> None:
        if not provider_job_id:
            return
        try:
            await provider.cancel(provider_job_id)
        except ReelbotError as error:
            log.warning("could not cancel job %s at %s: %s", job_id, provider.name, error)

    # --- shared queue: leases ----------------------------------------------------------------------

    def _lease_end(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.lease_s)

    async def _still_held(self, job: Job) -> bool:
        """Renew this worker's lease on `job`; false when another worker has taken it over."""
        return job.id in await self.storage.renew_leases(self.worker_id, [job.id], self._lease_end())  # type: ignore[arg-type]

    async def _heartbeat_loop(self) -> None:
        while self._accepting:
            await self.clock.sleep(self.lease_s / 3)
            try:
                await self.heartbeat()
            except Exception:  # the database is away: the next beat tries again
                log.exception("heartbeat of worker %s failed", self.worker_id)

    async def heartbeat(self) -> None:
        """Renew the leases of this worker's running jobs, take over the jobs of workers that stopped
        renewing theirs, and look for claimable work. A task whose job was taken over is left to run into
        its next (fenced) state change, which fails: cancelling it mid-create could orphan a generation."""
        await self.storage.renew_leases(self.worker_id, list(self._tasks), self._lease_end())  # type: ignore[arg-type]
        for job in await self.storage.take_over_expired(self.worker_id, now=self.clock.now(),  # type: ignore[arg-type]
                                                        lease_until=self._lease_end()):  # fmt: skip
            if job.id in self._tasks:
                continue  # our own job whose lease lapsed while we were slow: it is ours again
            log.warning("job %s taken over from a worker that stopped renewing its lease", job.id,
                        extra={"job_id": job.id})  # fmt: skip
            await self._resume(job)
        self._wake.set()

    def _past_deadline(self, job: Job) -> bool:
        return self.clock.now() >= job.created_at + timedelta(seconds=self.timeout_s)

    async def _fresh(self, job: Job) -> Job:
        return await self.storage.get_job(job.id) or job

    async def _notify(self, job: Job, progress: JobProgress) -> None:
        try:
            await self.observer.job_changed(job, progress)
        except Exception:  # a status edit must never sink the job
            log.exception("status update for job %s failed", job.id)


def fit_request(request: VideoRequest, provider: VideoProvider) -> VideoRequest | None:
    """`request` if `provider` can run it as asked, else None. A model the user chose is never swapped, and
    an extension only goes to the provider that made the clip (no other one knows its generation id)."""
    caps = provider.capabilities
    if request.model is not None and request.model not in caps.models:
        return None
    if request.extend_of and request.extend_provider != provider.name:
        return None
    return None if caps.problems(request) else request


def _video_location(status: ProviderStatus) -> str | None:
    if status.video_file is not None:
        return FILE_SCHEME + str(status.video_file)
    return status.video_url


def _failure(status: ProviderStatus) -> GenerationFailedError:
    return GenerationFailedError(status.failure_reason or "", user_fault=status.user_fault)


def _count(state: JobState, provider: str | None) -> None:
    """/metrics: one more job entered `state` (at `provider`)."""
    metrics.JOBS.inc(state=state.value, provider=provider or "none")
