"""Unit: the job runner's waiting queue is round-robin by user, and the positions it shows are the order it runs."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import fair_queue
from bot.domain import Job, JobState, ProviderState, ProviderStatus, VideoRequest
from bot.jobs import JobRunner
from bot.providers.base import Capabilities
from bot.quotas import Quotas
from bot.storage import Storage
from tests.fakes.clock import ManualClock
from tests.fakes.luma import mp4_header

A, B, C = 1, 2, 3


class InstantProvider:
    """Finishes every job in its create call with a tiny MP4 file; records the order of submits."""

    name = "instant"
    display_name = "Instant"
    capabilities = Capabilities(models=("m",), default_model="m")
    poll_interval = 3.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.submitted: list[str] = []
        self._ids = itertools.count(1)

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        self.submitted.append(request.prompt)
        job_id = f"gen-{next(self._ids)}"
        path = self.folder / f"{job_id}.mp4"
        path.write_bytes(mp4_header(64))
        return ProviderStatus(ProviderState.COMPLETED, job_id, video_file=path)

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        raise AssertionError("an instant provider is never polled")

    async def cancel(self, provider_job_id: str) -> None:
        return None

    async def fetch_credits(self) -> str | None:
        return None


class Observer:
    """Accepts every delivery; remembers nothing the test does not need."""

    def __init__(self) -> None:
        self.message_ids = itertools.count(1000)

    async def job_changed(self, job, progress) -> None:
        return None

    async def upload_limit(self, job) -> int:
        return 10 * 1024 * 1024

    async def find_delivery(self, job) -> int | None:
        return None

    async def deliver(self, job, video, video_url, size) -> int:
        return next(self.message_ids)

    async def job_ended(self, job, error) -> None:
        raise AssertionError(f"job {job.id} ended: {error}")


def make_runner(tmp_path: Path, *, storage=None, quotas=None, clock=None, max_active: int = 1) -> JobRunner:
    return JobRunner(
        storage=storage, quotas=quotas, providers=[InstantProvider(tmp_path)], clock=clock or ManualClock(),
        session=None, observer=Observer(), temp_dir=tmp_path, max_active=max_active, timeout_s=900,
        max_download_bytes=1 << 30,
    )  # type: ignore[arg-type]  # fmt: skip


def job(job_id: int, user_id: int) -> Job:
    return Job(
        id=job_id, guild_id=1, channel_id=2, user_id=user_id, request=VideoRequest(prompt=f"u{user_id}-j{job_id}"),
        state=JobState.QUEUED, created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def positions_of(runner: JobRunner) -> dict[int, int]:
    """The positions the runner would show now."""
    return runner.queue.positions(runner._holding())


async def dispatch_order(runner: JobRunner) -> list[int]:
    """Run the real dispatch loop with a slot that frees the moment a job starts; returns the start order."""
    order: list[int] = []

    def start_task(job: Job, *, in_flight: bool) -> None:
        order.append(job.id)  # no task: the job "finishes" at once, so the next pick is a fresh decision
        runner._wake.set()  # as a freed slot does

    runner._start_task = start_task  # type: ignore[method-assign]
    runner._dispatcher = asyncio.create_task(runner._dispatch_loop())
    runner._wake.set()
    for _ in range(1000):
        if not runner.queue.waiting:
            break
        await asyncio.sleep(0)
    await runner.stop()
    return order


# --- positions and picks (the dispatch loop alone, no jobs really run) ---------------------------------------------------


async def test_second_user_is_picked_second(tmp_path):
    """A queues 5 then B queues 1: B's job is taken second, not sixth."""
    runner = make_runner(tmp_path)
    for i in range(1, 6):
        runner.enqueue(job(i, A))
    runner.enqueue(job(6, B))
    assert await dispatch_order(runner) == [1, 6, 2, 3, 4, 5]


async def test_enqueue_returns_and_updates_positions(tmp_path):
    """enqueue returns the new job's position; B's late job jumps to 2 and A's later jobs move down."""
    runner = make_runner(tmp_path)
    assert [runner.enqueue(job(i, A)) for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert runner.enqueue(job(6, B)) == 2
    assert positions_of(runner) == {1: 1, 6: 2, 2: 3, 3: 4, 4: 5, 5: 6}


async def test_positions_number_one_to_n(tmp_path):
    """Positions are exactly 1..n, one per waiting job."""
    runner = make_runner(tmp_path)
    users = [A, A, B, C, A, B, C, C, A]
    for i, user in enumerate(users, start=1):
        runner.enqueue(job(i, user))
    positions = positions_of(runner)
    assert sorted(positions) == list(range(1, len(users) + 1))
    assert sorted(positions.values()) == list(range(1, len(users) + 1))


async def test_user_with_a_job_in_flight_waits_behind_others(tmp_path):
    """While A has a job generating, B's and C's waiting jobs come before A's next one."""
    runner = make_runner(tmp_path, max_active=2)
    running = job(1, A)
    runner._in_flight.add(running.id)
    runner._task_jobs[running.id] = running
    runner.enqueue(job(2, A))
    runner.enqueue(job(3, B))
    runner.enqueue(job(4, C))
    waiting, holding = runner.queue.waiting, fair_queue.holding_by_user(runner._holding())
    assert waiting[fair_queue.next_index(waiting, holding, runner.queue.last_start)].id == 3
    assert positions_of(runner) == {3: 1, 4: 2, 2: 3}


@settings(max_examples=150, deadline=None)
@given(users=st.lists(st.sampled_from([A, B, C]), min_size=1, max_size=14))
def test_positions_predict_the_pick_order(tmp_path_factory, users):
    """For any arrival order, the positions shown are exactly the order the dispatcher takes the jobs."""

    async def scenario() -> None:
        runner = make_runner(tmp_path_factory.mktemp("q"))
        for i, user in enumerate(users, start=1):
            runner.enqueue(job(i, user))
        positions = positions_of(runner)
        shown = sorted(positions, key=positions.__getitem__)
        assert await dispatch_order(runner) == shown

    asyncio.run(scenario())


@settings(max_examples=150, deadline=None)
@given(users=st.lists(st.sampled_from([A, B, C]), min_size=1, max_size=14))
def test_picks_are_round_robin(tmp_path_factory, users):
    """No user gets a second turn while another user who has waited less often still has a job queued."""

    async def scenario() -> None:
        runner = make_runner(tmp_path_factory.mktemp("q"))
        for i, user in enumerate(users, start=1):
            runner.enqueue(job(i, user))
        owner = {i: user for i, user in enumerate(users, start=1)}
        turns = {user: 0 for user in users}
        remaining = {user: users.count(user) for user in users}
        for picked in await dispatch_order(runner):
            user = owner[picked]
            waiting_users = [u for u in remaining if remaining[u] > 0]
            assert turns[user] == min(turns[u] for u in waiting_users)
            turns[user] += 1
            remaining[user] -= 1

    asyncio.run(scenario())


# --- the real dispatcher ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        ([A, A, A, A, A, B], [A, B, A, A, A, A]),
        ([A, A, A, B, B, B], [A, B, A, B, A, B]),
        ([A, A, B, C, C, C], [A, B, C, A, C, C]),
    ],
)
async def test_dispatcher_runs_jobs_in_the_shown_order(tmp_path, arrivals, expected):
    """With one slot, the real dispatcher submits jobs round-robin by user, in the order positions promised."""
    storage = Storage(str(tmp_path / "db.sqlite"))
    await storage.open()
    clock = ManualClock()
    quotas = Quotas(storage, clock, daily=100, concurrent=100)
    runner = make_runner(tmp_path, storage=storage, quotas=quotas, clock=clock, max_active=1)
    try:
        jobs = [
            await quotas.reserve(guild_id=1, channel_id=2, user_id=u, request=VideoRequest(prompt=f"{u}:{n}"))
            for n, u in enumerate(arrivals)
        ]
        for stored in jobs:
            runner.enqueue(stored)
        positions = positions_of(runner)
        promised = sorted(positions, key=positions.__getitem__)
        runner.queue.waiting.clear()  # start() resumes the stored queued jobs itself
        await runner.start()
        for _ in range(500):
            if len(await storage.jobs_in_states((JobState.COMPLETED,))) == len(jobs):
                break
            await asyncio.sleep(0.01)
        submitted = runner.providers["instant"].submitted
        by_prompt = {j.request.prompt: j for j in jobs}
        assert [by_prompt[p].user_id for p in submitted] == expected
        assert [by_prompt[p].id for p in submitted] == promised
    finally:
        await runner.stop()
        await storage.close()
