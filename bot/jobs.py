"""The job runner: persist → queue → submit → poll → download → deliver, and resume on start.

One dispatcher task takes waiting jobs from the queue while fewer than MAX_ACTIVE_JOBS are in flight at
providers; each started job gets its own task. Every step is recorded in storage first, so a restart
resumes each job where it was and delivers it exactly once.

Where waiting jobs live and how one is claimed is the queue's business (bot.job_queue): in memory for a
lone process, or in PostgreSQL for several workers (`worker_id`), with leases renewed by a heartbeat and
every state change fenced by `queue.held_by`. The provider side (fallback, polling) is bot.generation,
shared with `python -m bot generate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import statistics
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot import generation, media, metrics
from bot.clock import Clock
from bot.db_retry import RetryingWrites, is_database_error
from bot.delivery import fetch_clip, video_location
from bot.domain import Job, JobState, ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    DeliveryLookupError,
    GenerationFailedError,
    JobTimeoutError,
    ProviderError,
    ProviderProtocolError,
    ReelbotError,
)
from bot.generation import FALLBACK_ERRORS, fit_request
from bot.job_queue import JobQueue
from bot.observer import JobObserver, JobProgress, running_progress
from bot.providers.base import VideoProvider
from bot.queue_local import LocalQueue
from bot.queue_shared import LEASE_S, SharedQueue
from bot.quotas import Quotas
from bot.storage import Storage

__all__ = ["FALLBACK_ERRORS", "LEASE_S", "JobObserver", "JobProgress", "JobRunner", "fit_request"]

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0  # how long stop() lets create requests on the wire finish (bot.__main__ allows 9 s in all)
LOOKUP_ATTEMPTS, LOOKUP_RETRY_BASE_S, LOOKUP_RETRY_CAP_S = 10, 5.0, 300.0  # "was it posted?" for ~30 min
SUBMIT_WINDOW_SLACK_S = 120.0  # clock skew allowed when matching a mid-submit job to the provider's generations
INTERRUPTED = ("The bot restarted while sending this job and found no video it made, so it was not resubmitted "
               "(that could charge twice). Your quota was refunded; please try again.")  # fmt: skip

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
        shutdown_grace_s: float = SHUTDOWN_GRACE_S,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.storage = storage
        self._db = RetryingWrites(storage, clock)  # the job's writes, retried when the database hiccups
        self.quotas = quotas
        self.providers = {p.name: p for p in providers}
        self.provider_order = [p.name for p in providers]
        self._ordered = list(providers)  # the fallback order
        self.clock = clock
        self.session = session
        self.observer = observer
        self.temp_dir = temp_dir
        self.max_active = max_active
        self.timeout_s = timeout_s
        self.max_download_bytes = max_download_bytes
        self.worker_id = worker_id
        self.shutdown_grace_s = shutdown_grace_s
        self._creates: dict[int, asyncio.Event] = {}  # job id → set once its create request has returned
        self._recovering = asyncio.Lock()  # one mid-submit job matched at a time (they must not share a match)
        self.queue: JobQueue = (
            SharedQueue(storage, clock, worker_id=worker_id, max_active=max_active, lease_s=lease_s)
            if worker_id is not None
            else LocalQueue(storage, max_active=max_active)
        )
        self._positions: dict[int, int] = {}
        self._in_flight: set[int] = set()  # jobs holding a provider slot
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._task_jobs: dict[int, Job] = {}
        self._cancelling: set[int] = set()
        self._wake = asyncio.Event()
        self._positions_dirty = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._accepting = True

    @property
    def primary(self) -> VideoProvider:
        return self.providers[self.provider_order[0]]

    @property
    def shared(self) -> bool:
        """True when several workers share the queue through the database."""
        return self.worker_id is not None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every unfinished job (shared: take over the jobs of dead workers), then start dispatching."""
        for job in await self.queue.unfinished():
            await self._resume(job)
        if self.queue.heartbeat_s is not None:
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(self.queue.heartbeat_s), name="reelbot-heartbeat")
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="reelbot-dispatcher")
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking and running jobs; every job keeps its stored state for the next start. A create request
        on the wire is let finish (within the shutdown grace) so its generation's id is stored, not lost."""
        self._accepting = False
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        if creates := list(self._creates.values()):
            log.info("waiting up to %.0fs for %d create request(s) on the wire", self.shutdown_grace_s, len(creates))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.wait() for c in creates)), self.shutdown_grace_s)
        tasks = [t for t in (self._dispatcher, self._heartbeat, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._dispatcher = self._heartbeat = None
        await self.queue.close()

    @property
    def alive(self) -> bool:
        return self._dispatcher is not None and not self._dispatcher.done()

    @property
    def queue_length(self) -> int:
        return len(self.queue.waiting)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def enqueue(self, job: Job) -> int:
        """Queue a stored job; returns its 1-based position."""
        self.queue.add(job)
        positions = self.queue.positions(self._holding())
        self._positions_dirty = True  # a newcomer can move ahead of a busy user's jobs: tell them
        _count(JobState.QUEUED, None)
        self._wake.set()
        return positions.get(job.id, len(self.queue.waiting))

    def validate(self, request: VideoRequest) -> None:
        """Raise InvalidRequestError naming what is possible unless some configured provider can do it."""
        generation.validate(request, self._ordered)

    def models(self) -> list[str]:
        """Every model the configured providers offer, primary's first."""
        return generation.offered_models(self._ordered)

    def position(self, job_id: int) -> int | None:
        return self._positions.get(job_id)

    async def _resume(self, job: Job) -> None:
        if job.state is JobState.QUEUED:
            self.queue.add(job, ours=False)
        elif job.state is JobState.SUBMITTING and not job.provider_job_id:
            # The create may or may not have reached the provider: never resend it (that could charge twice);
            # the job's task looks for the generation it made (and holds a slot meanwhile, as that may run).
            self._start_task(job, in_flight=True)
        elif job.state in (JobState.SUBMITTING, JobState.RUNNING):
            if job.state is JobState.SUBMITTING:
                await self._db.transition(job.id, (JobState.SUBMITTING,), JobState.RUNNING, held_by=self.queue.held_by)
                job = await self._fresh(job)
            self._start_task(job, in_flight=True)
        elif job.state is JobState.DELIVERING:
            self._start_task(job, in_flight=False)
        self._positions = self.queue.positions(self._holding())

    # --- dispatch ----------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while self._accepting:
            await self._wake.wait()
            self._wake.clear()
            before = [job.id for job in self.queue.waiting]
            for job in await self.queue.claim(self._holding()):
                self._start_task(job, in_flight=True)
                self._positions_dirty = True
            if [job.id for job in self.queue.waiting] != before:
                self._positions_dirty = True
            if self._positions_dirty:
                self._positions_dirty = False
                await self._announce_positions()

    def _holding(self) -> list[Job]:
        """This process's jobs holding a provider slot."""
        return [self._task_jobs[job_id] for job_id in self._in_flight if job_id in self._task_jobs]

    async def _announce_positions(self) -> None:
        old, self._positions = self._positions, self.queue.positions(self._holding())
        for job in self.queue.waiting:
            if not self.queue.keeps_status(job):
                continue
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
                # Waited in the queue for the whole timeout: don't start it now.
                if self.clock.now() >= job.created_at + timedelta(seconds=self.timeout_s):
                    raise JobTimeoutError(f"job {job.id} waited {self.timeout_s:.0f}s in the queue")
                job, status = await self._submit(job)
            elif job.state is JobState.SUBMITTING and not job.provider_job_id:
                job, status = await self._recover_submit(job)
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

        async def attempt(provider: VideoProvider) -> None:
            nonlocal job
            if not self._accepting or not await self._db.transition(
                job.id, (JobState.QUEUED, JobState.SUBMITTING), JobState.SUBMITTING,
                provider=provider.name, started_at=self.clock.now(), held_by=self.queue.held_by,
            ):  # fmt: skip
                raise asyncio.CancelledError  # cancelled while waiting, or the runner is stopping
            _count(JobState.SUBMITTING, provider.name)
            job = await self._fresh(job)
            await self._notify(job, JobProgress(JobState.SUBMITTING, provider_state="sending to " + provider.display_name))

        async def skipped(provider: VideoProvider, error: ReelbotError) -> None:
            log.warning("provider %s unavailable before accepting job %s: %s", provider.name, job.id, error,
                        extra={"job_id": job.id, "provider": provider.name})  # fmt: skip

        request = replace(job.request, requester_id=job.user_id)  # providers tag it as an opaque hash, never stored
        created = self._creates[job.id] = asyncio.Event()  # stop() waits for this (within its grace)
        try:
            provider, status = await generation.start_with_fallback(self._ordered, request, attempt=attempt,
                                                                    skipped=skipped)  # fmt: skip
            await self._db.update_job(job.id, provider_job_id=status.provider_job_id, video_url=video_location(status))
        finally:
            created.set()
            self._creates.pop(job.id, None)
        return await self._accepted(job, provider, status)

    async def _recover_submit(self, job: Job) -> tuple[Job, ProviderStatus]:
        """A job found mid-submit at start-up (its create's answer never arrived): match it to the generation it
        made (by time window and request) where the provider can list them, and resume it; else fail it."""
        provider = self.providers.get(job.provider or "")
        async with self._recovering:
            status = await self._find_submitted(job, provider)
            if provider is None or status is None:
                raise ProviderError("interrupted during submission; no generation found", public_message=INTERRUPTED)
            await self._db.update_job(job.id, provider_job_id=status.provider_job_id, video_url=video_location(status))
        log.info("job %s, interrupted mid-submit, is generation %s at %s; resuming", job.id, status.provider_job_id,
                 provider.name, extra={"job_id": job.id, "provider": provider.name})  # fmt: skip
        return await self._accepted(job, provider, status)

    async def _find_submitted(self, job: Job, provider: VideoProvider | None) -> ProviderStatus | None:
        """The generation `job`'s create made, if `provider` can list its generations (find_submitted)."""
        find = getattr(provider, "find_submitted", None)
        if provider is None or find is None:
            return None
        started = job.started_at or job.created_at
        since = started - timedelta(seconds=SUBMIT_WINDOW_SLACK_S)
        owned = await self.storage.provider_job_ids(provider.name, since=since)
        until = self.clock.now() + timedelta(seconds=SUBMIT_WINDOW_SLACK_S)
        found: ProviderStatus | None = await find(job.request, since, until, exclude=owned)
        return found

    async def _accepted(self, job: Job, provider: VideoProvider, status: ProviderStatus) -> tuple[Job, ProviderStatus]:
        """The provider accepted `job` as `status` (its id is stored): move on to running (or delivering)."""
        if status.state is ProviderState.FAILED:
            raise generation.failure(status)
        target = JobState.DELIVERING if status.state is ProviderState.COMPLETED else JobState.RUNNING
        if not await self._db.transition(job.id, (JobState.SUBMITTING,), target, held_by=self.queue.held_by):
            # Cancelled while the create request was on the wire: stop what the provider just accepted.
            await generation.cancel_quietly(provider, status.provider_job_id, f"job {job.id}")
            raise asyncio.CancelledError
        _count(target, provider.name)
        log.info("job %s accepted by %s as %s", job.id, provider.name, status.provider_job_id,
                 extra={"job_id": job.id, "provider": provider.name})  # fmt: skip
        return await self._fresh(job), status

    async def _poll_until_done(self, job: Job, status: ProviderStatus | None) -> ProviderStatus:
        provider = self.providers.get(job.provider or "")
        if provider is None or not job.provider_job_id:
            raise ProviderError(f"job {job.id} has no usable provider record")
        try:
            durations = await self.storage.recent_durations(provider.name, job.request.model)
        except Exception:  # only the ETA needs it
            log.warning("recent durations unavailable for job %s", job.id, exc_info=True)
            durations = []
        typical = statistics.median(durations) if durations else None

        async def changed(status: ProviderStatus) -> None:
            nonlocal job
            if status.restarted_as:  # the provider retried a failed generation as a new one: follow it
                await self.storage.update_job(job.id, provider_job_id=status.restarted_as)
                job = await self._fresh(job)
            await self._notify(job, running_progress(job, status, typical, self.clock.now()))

        return await generation.poll_until_done(
            provider, job.provider_job_id, status, clock=self.clock,
            deadline=job.created_at + timedelta(seconds=self.timeout_s), on_status=changed,
            what=f"job {job.id}", timeout_message=f"job {job.id} unfinished after {self.timeout_s:.0f}s",
            log_extra={"job_id": job.id},
        )  # fmt: skip

    async def _enter_delivery(self, job: Job, status: ProviderStatus) -> Job:
        await self._db.update_job(job.id, video_url=video_location(status))
        if not await self._db.transition(job.id, (JobState.RUNNING,), JobState.DELIVERING, held_by=self.queue.held_by):
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
        existing = await self._find_delivery(job)
        if existing is not None:  # posted before a restart: record it, never post twice
            await self._complete(job, existing)
            return
        limit = await self.observer.upload_limit(job)
        clip = await fetch_clip(self.session, job.video_url, self.temp_dir, limit=limit,
                                max_download_bytes=self.max_download_bytes)  # fmt: skip
        try:
            if not await self.queue.still_held(job):
                raise asyncio.CancelledError  # taken over while stalled: the new owner delivers it
            if job.delivery_started_at is None:  # the intent, stored before anything is posted (kept on retries)
                await self._db.update_job(job.id, delivery_started_at=self.clock.now(), delivery_nonce=secrets.token_hex(12))
                job = await self._fresh(job)
            message_id = await self.observer.deliver(job, clip.path, clip.url, clip.size)
            await self._complete(job, message_id)
        finally:
            await media.remove_quietly(clip.temp)

    async def _find_delivery(self, job: Job) -> int | None:
        """The result message already posted for `job`, or None. When Discord cannot tell (the lookup failed),
        ask again later (capped backoff) rather than post: a guess could post the clip twice."""
        delay = LOOKUP_RETRY_BASE_S
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            try:
                return await self.observer.find_delivery(job)
            except DeliveryLookupError as error:
                if attempt == LOOKUP_ATTEMPTS:
                    raise
                log.warning("could not check whether job %s was posted (%s); asking again in %.0fs", job.id, error,
                            delay, extra={"job_id": job.id})  # fmt: skip
                await self.clock.sleep(delay)
                delay = min(LOOKUP_RETRY_CAP_S, delay * 2)
        return None

    async def _complete(self, job: Job, message_id: int) -> None:
        await self._db.transition(
            job.id, (JobState.DELIVERING,), JobState.COMPLETED, attempts=None,
            result_message_id=message_id, finished_at=self.clock.now(), held_by=self.queue.held_by,
        )  # fmt: skip
        _count(JobState.COMPLETED, job.provider)
        log.info("job %s delivered", job.id, extra={"job_id": job.id, "user_id": job.user_id})

    async def _fail(self, job: Job, error: ReelbotError) -> None:
        moved = await self._db.transition(
            job.id, (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING),
            JobState.FAILED, failure_reason=error.public_message[:500], finished_at=self.clock.now(),
            held_by=self.queue.held_by, attempts=None,  # a job always ends: never a dead task holding a slot
        )  # fmt: skip
        if not moved:
            return
        _count(JobState.FAILED, job.provider)
        if error.refund:
            await self._db.refund(job.id, attempts=None)
        level = logging.ERROR if error.code in ("provider_auth", "provider_credits") else logging.WARNING
        log.log(level, "job %s failed: %s", job.id, error, extra={"job_id": job.id, "provider": job.provider})
        await self.observer.job_ended(await self._fresh(job), error)
        await self._stop_at_provider(job, error)  # after the user was told: a lookup at the provider may take a while

    async def _stop_at_provider(self, job: Job, error: ReelbotError) -> None:
        """A job that failed after its provider accepted it (a bug, an unreadable answer, the timeout): stop the
        generation there, so nothing keeps running (and billing) for a job that is over."""
        provider = self.providers.get(job.provider or "")
        ended_there = isinstance(error, GenerationFailedError)  # the provider itself reported the failure
        if provider is None or ended_there or job.state not in (JobState.SUBMITTING, JobState.RUNNING):
            return
        provider_job_id = job.provider_job_id
        maybe_accepted = isinstance(error, ProviderProtocolError) or getattr(error, "maybe_accepted", False)
        if not provider_job_id and maybe_accepted:  # the create's answer was lost or unreadable: look for it
            try:
                async with self._recovering:
                    found = await self._find_submitted(job, provider)
            except Exception:
                log.warning("could not look for the generation of job %s", job.id, exc_info=True)
                found = None
            provider_job_id = found.provider_job_id if found is not None else None
        await generation.cancel_quietly(provider, provider_job_id, f"job {job.id}")

    async def abandon(self, job_id: int, reason: str) -> None:
        """Fail and refund a job that never got going (its status message could not be posted)."""
        if await self._db.transition(job_id, (JobState.QUEUED,), JobState.FAILED,
                                         failure_reason=reason, finished_at=self.clock.now()):  # fmt: skip
            _count(JobState.FAILED, None)
            await self._db.refund(job_id)

    async def cancel(self, job_id: int) -> Job | None:
        """Cancel a job that has not been delivered; refunds. Returns the cancelled job, or None if too late."""
        job = await self.storage.get_job(job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING):
            return None
        self._cancelling.add(job_id)
        try:
            if not await self._db.transition(
                job_id, (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING), JobState.CANCELLED,
                finished_at=self.clock.now(),
            ):  # fmt: skip
                return None
            _count(JobState.CANCELLED, job.provider)
            task = self._tasks.get(job_id)
            # A create request on the wire is let finish (its task then cancels what was accepted);
            # interrupting it would leave an unknown, charged generation behind. Until it has returned the
            # job keeps its provider slot (the task gives it back), so MAX_ACTIVE_JOBS holds at the provider.
            on_wire = task is not None and task is not asyncio.current_task() and job.state is JobState.SUBMITTING
            if task is not None and task is not asyncio.current_task() and not on_wire:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.queue.drop(job_id)
            if not on_wire:
                self._release_slot(job_id)
            provider = self.providers.get(job.provider or "")
            if provider is not None and job.provider_job_id:
                await generation.cancel_quietly(provider, job.provider_job_id, f"job {job_id}")
            await self._db.refund(job_id)
            cancelled = await self.storage.get_job(job_id)
            await self._announce_positions()
            return cancelled
        finally:
            self._cancelling.discard(job_id)

    # --- leases (shared queue) -------------------------------------------------------------------

    async def _heartbeat_loop(self, interval: float) -> None:
        while self._accepting:
            await self.clock.sleep(interval)
            try:
                await self.heartbeat()
            except Exception:  # the database is away: the next beat tries again
                log.exception("heartbeat of worker %s failed", self.worker_id)

    async def heartbeat(self) -> None:
        """Renew the leases of this worker's running jobs, take over the jobs of workers that stopped
        renewing theirs, and look for claimable work. A task whose job was taken over is left to run into
        its next (fenced) state change, which fails: cancelling it mid-create could orphan a generation."""
        for job in await self.queue.heartbeat(list(self._tasks)):
            if job.id in self._tasks:
                continue  # our own job whose lease lapsed while we were slow: it is ours again
            log.warning("job %s taken over from a worker that stopped renewing its lease", job.id,
                        extra={"job_id": job.id})  # fmt: skip
            await self._resume(job)
        self._wake.set()

    async def _fresh(self, job: Job) -> Job:
        try:
            return await self.storage.get_job(job.id) or job
        except Exception as error:
            if not is_database_error(error):
                raise
            log.warning("could not re-read job %s: %s", job.id, error)
            return job

    async def _notify(self, job: Job, progress: JobProgress) -> None:
        try:
            await self.observer.job_changed(job, progress)
        except Exception:  # a status edit must never sink the job
            log.exception("status update for job %s failed", job.id)


def _count(state: JobState, provider: str | None) -> None:
    """/metrics: one more job entered `state` (at `provider`)."""
    metrics.JOBS.inc(state=state.value, provider=provider or "none")
