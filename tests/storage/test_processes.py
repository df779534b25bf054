"""Several bot processes on one database: real OS processes, each with its own connections.

Quota reservations and claims race across processes; a worker process killed with SIGKILL mid-job has its
job finished by another worker, delivered exactly once; MAX_ACTIVE_JOBS holds across processes. The job
tests use the real LumaProvider against FakeLuma (served by this test process) and a shared channel
that every process posts into, the way any process can post into Discord over REST.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.domain import JobState, VideoRequest
from bot.quotas import Quotas
from bot.storage import migration_scripts, open_storage
from tests.fakes.clock import ManualClock
from tests.fakes.luma import FakeLuma
from tests.storage.worker_process import CHANNEL, GUILD, FileChannel, claim_many, open_fresh, reserve_many, running_worker

ROOT = Path(__file__).resolve().parents[2]
KEY = "luma-multiprocess-key-0123456789"
LEASE_S = 1.0
SPAWN = multiprocessing.get_context("spawn")


async def run_in_processes(target, args_per_process: list[tuple]) -> list:
    """Start one spawned process per argument tuple, released together by a barrier; their results."""
    barrier, results = SPAWN.Barrier(len(args_per_process)), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, barrier, results)) for args in args_per_process]
    for process in processes:
        process.start()
    try:
        for process in processes:
            await asyncio.to_thread(process.join, 120)
        assert [p.exitcode for p in processes] == [0] * len(processes), "a racing process failed"
        return [results.get(timeout=5) for _ in processes]
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()


async def until(check, *, timeout: float = 20.0, what: str = "condition"):
    """Poll `check` (sync or async) until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- racing processes on both backends -----------------------------------------------------------------------------


async def test_two_processes_racing_for_one_quota_get_exactly_the_limit(backend_url):
    """Two processes, 100 each: reservations against a daily limit of 30: exactly 30 succeed, 30 jobs exist."""
    storage = await open_storage(backend_url)  # migrated once, so the race is about quotas only
    try:
        successes = await run_in_processes(reserve_many, [(backend_url, 100, 30), (backend_url, 100, 30)])
        assert sum(successes) == 30
        assert await storage.usage(GUILD, 1, "2026-03-14") == (30, 30)
    finally:
        await storage.close()


async def test_two_processes_claiming_respect_the_global_cap(backend_url):
    """Two processes, 30 claims each, on 50 queued jobs with MAX_ACTIVE_JOBS 7: exactly 7 distinct jobs claimed."""
    storage = await open_storage(backend_url)
    try:
        quotas = Quotas(storage, ManualClock(), daily=1000, concurrent=1000)
        for user in range(50):
            await quotas.reserve(guild_id=GUILD, channel_id=CHANNEL, user_id=user, request=VideoRequest(prompt="p"))
        claimed = await run_in_processes(claim_many, [(backend_url, "p1", 30, 7), (backend_url, "p2", 30, 7)])
        ids = [job_id for batch in claimed for job_id in batch]
        assert len(ids) == len(set(ids)) == 7
    finally:
        await storage.close()


async def test_two_processes_opening_a_fresh_database_at_once_both_migrate_it(backend_url):
    """Two processes starting on an empty database at the same instant both end at the latest version."""
    dialect = "postgres" if backend_url.startswith("postgresql") else "sqlite"
    latest = max(number for number, _ in migration_scripts(dialect))
    assert await run_in_processes(open_fresh, [(backend_url,), (backend_url,)]) == [latest, latest]


# --- worker processes running jobs (PostgreSQL) ----------------------------------------------------------------------


class PeakFakeLuma(FakeLuma):
    """FakeLuma that remembers the most generations it ever had active at once."""

    peak = 0

    async def _create(self, request):
        response = await super()._create(request)
        self.peak = max(self.peak, self.active_count)
        return response


@pytest.fixture
async def luma():
    async with PeakFakeLuma(api_key=KEY, polls_to_dream=1, polls_to_complete=None, max_creates_per_minute=None) as fake:
        yield fake


@pytest.fixture
def channel(tmp_path) -> FileChannel:
    return FileChannel(tmp_path / "channel.log")


@pytest.fixture
async def spawn_worker(postgres_url, luma, channel, tmp_path):
    """Start `python -m tests.storage.worker_process run` as worker `name`; every one is killed afterwards."""
    started: list[subprocess.Popen] = []

    def spawn(name: str, *, max_active: int = 10, hang_after_post: bool = False) -> subprocess.Popen:
        command = [
            sys.executable, "-m", "tests.storage.worker_process", "run", "--url", postgres_url,
            "--luma-url", luma.base_url, "--luma-key", KEY, "--channel", str(channel.path), "--worker", name,
            "--temp-dir", str(tmp_path), "--max-active", str(max_active), "--lease-s", str(LEASE_S),
        ] + (["--hang-after-post"] if hang_after_post else [])  # fmt: skip
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        process.log = log  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.log.close()  # type: ignore[attr-defined]


@pytest.fixture
async def shared_db(postgres_url):
    storage = await open_storage(postgres_url)
    yield storage
    await storage.close()


async def reserve(storage, user: int = 1):
    quotas = Quotas(storage, SystemClock(), daily=1000, concurrent=1000)  # jobs' deadlines run on wall time
    request = VideoRequest(prompt=f"a red fox, take {user}")
    return await quotas.reserve(guild_id=GUILD, channel_id=CHANNEL, user_id=user, request=request)


async def owner_and_lease(storage, job_id: int) -> tuple[str | None, float | None]:
    row = await storage.pool.fetchrow("SELECT owner, lease_until FROM jobs WHERE id = $1", job_id)
    return row["owner"], row["lease_until"]


def kill(process: subprocess.Popen) -> None:
    process.kill()  # SIGKILL: no cleanup, no lease released, nothing written
    process.wait(10)


async def test_worker_killed_mid_job_is_finished_by_another_exactly_once(
    shared_db, luma, channel, spawn_worker, postgres_url, tmp_path
):
    """A worker process SIGKILLed while its job generates: after the lease runs out another worker takes the
    job over, polls the same generation (no second create) and delivers it once."""
    job = await reserve(shared_db)
    victim = spawn_worker("victim")
    running = await until(_job_in(shared_db, job.id, JobState.RUNNING), what="the victim to run the job at the fake")
    assert running.provider_job_id in luma.generations
    kill(victim)
    _, lease_until = await owner_and_lease(shared_db, job.id)
    async with running_worker(postgres_url, luma_url=luma.base_url, luma_key=KEY, channel=channel, worker="survivor",
                              temp_dir=tmp_path, lease_s=LEASE_S) as survivor:  # fmt: skip
        await until(lambda: _owned_by(shared_db, job.id, "survivor"), what="the take-over")
        assert time.time() >= lease_until, "taken over before the dead worker's lease ran out"
        luma.polls_to_complete = 1  # the generation may finish now
        done = await until(_job_in(shared_db, job.id, JobState.COMPLETED), what="the delivery")
        assert survivor.observer.ended == []
    [(posted_job, message_id, worker)] = channel.posts()
    assert (posted_job, worker, done.result_message_id) == (job.id, "survivor", message_id)
    assert luma.create_count == 1


async def test_worker_killed_after_posting_is_not_posted_twice(
    shared_db, luma, channel, spawn_worker, postgres_url, tmp_path
):
    """A worker killed after posting the result but before recording it: the worker taking over finds the
    post and records it, never posting a second one."""
    luma.polls_to_complete = 2
    job = await reserve(shared_db)
    victim = spawn_worker("victim", hang_after_post=True)
    await until(lambda: channel.find(job.id), what="the victim's post")
    kill(victim)
    assert (await shared_db.get_job(job.id)).state is JobState.DELIVERING
    async with running_worker(postgres_url, luma_url=luma.base_url, luma_key=KEY, channel=channel, worker="survivor",
                              temp_dir=tmp_path, lease_s=LEASE_S):  # fmt: skip
        done = await until(_job_in(shared_db, job.id, JobState.COMPLETED), what="the take-over to record it")
    [(_, message_id, worker)] = channel.posts()
    assert (worker, done.result_message_id) == ("victim", message_id)


async def test_max_active_jobs_holds_across_processes(shared_db, luma, channel, spawn_worker, postgres_url, tmp_path):
    """Two worker processes with MAX_ACTIVE_JOBS 3 and 8 jobs: while one holds 3 the other starts none, the
    fake never sees more than 3 generations at once, and every job is delivered exactly once."""
    jobs = [await reserve(shared_db, user=n % 4) for n in range(8)]
    spawn_worker("child", max_active=3)
    await until(lambda: luma.create_count == 3, what="the child to start 3 jobs")
    async with running_worker(postgres_url, luma_url=luma.base_url, luma_key=KEY, channel=channel, worker="parent",
                              temp_dir=tmp_path, max_active=3, lease_s=LEASE_S) as parent:  # fmt: skip
        await asyncio.sleep(LEASE_S)  # three heartbeats of the parent: every slot is taken elsewhere
        assert parent.in_flight == 0 and luma.create_count == 3
        luma.polls_to_complete = 3  # let them all run through
        await until(lambda: len(channel.posts()) == len(jobs), timeout=60, what="every delivery")
    assert luma.peak == 3
    posted = sorted(job_id for job_id, _, _ in channel.posts())
    assert posted == sorted(job.id for job in jobs)
    assert {j.state for j in await shared_db.jobs_in_states(tuple(JobState))} == {JobState.COMPLETED}


def _job_in(storage, job_id: int, state: JobState):
    async def check():
        job = await storage.get_job(job_id)
        return job if job is not None and job.state is state else None

    return check


async def _owned_by(storage, job_id: int, worker: str) -> bool:
    return (await owner_and_lease(storage, job_id))[0] == worker
