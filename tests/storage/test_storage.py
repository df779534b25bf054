"""Storage: a real SQLite file in tmp_path, never mocked — migrations, atomic quota reservations, compare-and-set."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import JobState, VideoRequest
from bot.storage import Storage, migration_scripts

GUILD, CHANNEL, ALICE, BOB = 10, 20, 1, 2
DAY = "2026-03-14"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "data" / "reelbot.db")


@pytest.fixture
async def storage(db_path: str):
    store = Storage(db_path)
    await store.open()
    yield store
    await store.close()


async def create(store: Storage, *, user: int = ALICE, daily: int = 100, concurrent: int = 100, cost: int = 1,
                 request: VideoRequest | None = None, day: str = DAY, guild: int = GUILD, **kw):  # fmt: skip
    return await store.create_job_reserving(
        guild_id=guild, channel_id=CHANNEL, user_id=user, request=request or VideoRequest(prompt="a fox"),
        created_at=NOW, day=day, cost=cost, daily_limit=daily, concurrent_limit=concurrent, **kw,
    )  # fmt: skip


def raw(path: str, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


# --- migrations ------------------------------------------------------------------------------------


async def test_migrations_from_empty_reach_the_latest_version(storage, db_path):
    """Opening a brand-new file creates its folder, applies every migration and sets user_version to the last."""
    latest = max(number for number, _ in migration_scripts())
    assert latest >= 1
    assert raw(db_path, "PRAGMA user_version") == [(latest,)]
    tables = {name for (name,) in raw(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "jobs" in tables
    indexes = {name for (name,) in raw(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"jobs_quota", "jobs_state"} <= indexes


async def test_migrations_are_idempotent_on_reopen(storage, db_path):
    """Reopening an up-to-date database applies nothing again and keeps the data."""
    job = await create(storage)
    await storage.close()
    again = Storage(db_path)
    await again.open()
    try:
        latest = max(number for number, _ in migration_scripts())
        assert await again.migrate() == latest
        assert await again.get_job(job.id) == job
        assert raw(db_path, "PRAGMA user_version") == [(latest,)]
    finally:
        await again.close()


async def test_migration_scripts_are_numbered_uniquely_from_one():
    """Migration files are numbered 1, 2, 3 … with no gap or duplicate."""
    numbers = [number for number, _ in migration_scripts()]
    assert numbers == list(range(1, len(numbers) + 1))


async def test_wal_mode_is_on(storage, db_path):
    """The database runs in WAL mode (readers never block the writer)."""
    assert (await storage._one("PRAGMA journal_mode"))[0] == "wal"
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]  # persistent in the file itself


async def test_storage_is_writable(storage):
    """The health probe reports a writable database."""
    assert await storage.writable()


# --- jobs ------------------------------------------------------------------------------------------


async def test_create_job_round_trips_every_request_field(storage):
    """Every VideoRequest field (and the job's own columns) survives the trip through SQLite unchanged."""
    request = VideoRequest(
        prompt="a red fox 🦊 running through \"snow\"\nwith 'quotes'", aspect_ratio="9:21", loop=True,
        resolution="4k", duration="9s", model="ray-flash-2", camera="orbit_left",
        start_image_url="https://cdn.example/a.png?x=1&y=2", end_image_url="https://cdn.example/b.png",
        enhance=True, extend_of="gen-123",
    )  # fmt: skip
    job = await create(storage, request=request, cost=2, parent_job_id=7, parent_kind="extend")
    assert job is not None
    assert job.request == request
    assert (job.guild_id, job.channel_id, job.user_id, job.cost) == (GUILD, CHANNEL, ALICE, 2)
    assert job.state is JobState.QUEUED and job.created_at == NOW
    assert (job.parent_job_id, job.parent_kind) == (7, "extend")
    assert job.provider is job.provider_job_id is job.started_at is job.finished_at is None
    assert await storage.get_job(job.id) == job


async def test_create_job_round_trips_defaults(storage):
    """A request with only a prompt comes back equal (defaults restored, not stored as nulls)."""
    job = await create(storage, request=VideoRequest(prompt="p"))
    assert (await storage.get_job(job.id)).request == VideoRequest(prompt="p")


async def test_get_missing_job_is_none(storage):
    """Asking for an unknown id returns None."""
    assert await storage.get_job(424242) is None


async def test_daily_limit_refuses_over_limit(storage):
    """With the day's units used up, the insert stores nothing and returns None."""
    assert await create(storage, daily=2, cost=2)
    assert await create(storage, daily=2) is None
    assert await storage.usage(GUILD, ALICE, DAY) == (2, 1)
    assert raw(storage.path, "SELECT COUNT(*) FROM jobs") == [(1,)]


async def test_concurrent_limit_counts_only_active_jobs(storage):
    """Active jobs count against the concurrent limit; a terminal one does not."""
    first = await create(storage, concurrent=1)
    assert await create(storage, concurrent=1) is None
    assert await storage.transition(first.id, (JobState.QUEUED,), JobState.CANCELLED)
    assert await create(storage, concurrent=1) is not None


async def test_usage_counts_units_today_and_active_jobs(storage):
    """usage() sums today's cost (refunds excluded) and counts active jobs, per user, server and day."""
    a = await create(storage, cost=2)
    b = await create(storage)
    await create(storage, day="2026-03-13")
    await create(storage, user=BOB)
    await create(storage, guild=GUILD + 1)
    assert await storage.usage(GUILD, ALICE, DAY) == (3, 3)
    await storage.transition(a.id, (JobState.QUEUED,), JobState.FAILED)
    await storage.refund(a.id)
    assert await storage.usage(GUILD, ALICE, DAY) == (1, 2)
    await storage.transition(b.id, (JobState.QUEUED,), JobState.CANCELLED)
    assert await storage.usage(GUILD, ALICE, DAY) == (1, 1)
    assert await storage.usage(GUILD, BOB, DAY) == (1, 1)
    assert await storage.usage(GUILD, 999, DAY) == (0, 0)


async def test_refund_is_idempotent(storage):
    """refund() is true the first time and false after: quota never comes back twice."""
    job = await create(storage, cost=3)
    assert await storage.refund(job.id) is True
    assert await storage.refund(job.id) is False
    assert (await storage.get_job(job.id)).cost == 0
    assert await storage.refund(999_999) is False


async def test_concurrent_refunds_only_one_wins(storage):
    """Two refunds of the same job at the same instant: exactly one reports success."""
    job = await create(storage)
    results = await asyncio.gather(*(storage.refund(job.id) for _ in range(10)))
    assert results.count(True) == 1


async def test_transition_is_compare_and_set(storage):
    """A transition moves the job only from the expected states, and writes its fields with it."""
    job = await create(storage)
    started = NOW + timedelta(seconds=5)
    assert await storage.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, provider="luma", started_at=started)
    assert not await storage.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, provider="other")
    fresh = await storage.get_job(job.id)
    assert fresh.state is JobState.SUBMITTING and fresh.provider == "luma" and fresh.started_at == started
    assert await storage.transition(job.id, (JobState.QUEUED, JobState.SUBMITTING), JobState.RUNNING)
    assert not await storage.transition(424242, (JobState.QUEUED,), JobState.RUNNING)


async def test_concurrent_transitions_only_one_wins(storage):
    """Cancel and submit racing from `queued`: exactly one wins, and the job ends in the winner's state."""
    job = await create(storage)
    results = await asyncio.gather(
        storage.transition(job.id, (JobState.QUEUED,), JobState.CANCELLED),
        storage.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING),
    )
    assert sorted(results) == [False, True]
    winner = JobState.CANCELLED if results[0] else JobState.SUBMITTING
    assert (await storage.get_job(job.id)).state is winner


async def test_concurrent_transitions_across_connections_only_one_wins(storage, db_path):
    """The same race from two separate connections (two processes' worth): still exactly one winner."""
    other = Storage(db_path)
    await other.open()
    try:
        jobs = [await create(storage) for _ in range(50)]
        results = await asyncio.gather(*(
            s.transition(j.id, (JobState.QUEUED,), to)
            for j in jobs
            for s, to in ((storage, JobState.CANCELLED), (other, JobState.SUBMITTING))
        ))  # fmt: skip
        assert results.count(True) == 50
        for j, pair in zip(jobs, zip(results[::2], results[1::2], strict=True), strict=True):
            assert sorted(pair) == [False, True]
            expected = JobState.CANCELLED if pair[0] else JobState.SUBMITTING
            assert (await storage.get_job(j.id)).state is expected
    finally:
        await other.close()


async def test_update_job_writes_allowed_columns(storage):
    """update_job stores the columns it allows (datetimes as timestamps) and ignores an empty call."""
    job = await create(storage)
    finished = NOW + timedelta(minutes=2)
    await storage.update_job(job.id, provider_job_id="gen-9", video_url="https://x/v.mp4", finished_at=finished,
                             status_message_id=123, channel_id=456)  # fmt: skip
    await storage.update_job(job.id)
    fresh = await storage.get_job(job.id)
    assert (fresh.provider_job_id, fresh.video_url, fresh.finished_at) == ("gen-9", "https://x/v.mp4", finished)
    assert (fresh.status_message_id, fresh.channel_id) == (123, 456)


@pytest.mark.parametrize("column", ["state", "cost", "user_id", "day", "id", "request", "cost = 0 --"])
async def test_update_job_refuses_unknown_columns(storage, column):
    """update_job (and transition) refuse state, cost and any column outside the allowed list: no quota or
    state change sneaks in through a field update, and no SQL through a column name."""
    job = await create(storage)
    with pytest.raises(ValueError, match="cannot be updated"):
        await storage.update_job(job.id, **{column: 0})
    with pytest.raises(ValueError, match="cannot be updated"):
        await storage.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, **{column: 0})
    assert await storage.get_job(job.id) == job


async def test_jobs_in_states_filters_and_orders_by_id(storage):
    """jobs_in_states returns only jobs in the given states, oldest id first."""
    jobs = [await create(storage, user=u) for u in (ALICE, BOB, ALICE, BOB, ALICE)]
    await storage.transition(jobs[1].id, (JobState.QUEUED,), JobState.SUBMITTING)
    await storage.transition(jobs[3].id, (JobState.QUEUED,), JobState.CANCELLED)
    await storage.transition(jobs[4].id, (JobState.QUEUED,), JobState.SUBMITTING)
    await storage.transition(jobs[4].id, (JobState.SUBMITTING,), JobState.RUNNING)
    found = await storage.jobs_in_states((JobState.RUNNING, JobState.QUEUED, JobState.SUBMITTING))
    assert [j.id for j in found] == [jobs[0].id, jobs[1].id, jobs[2].id, jobs[4].id]
    assert [j.id for j in await storage.jobs_in_states((JobState.CANCELLED,))] == [jobs[3].id]
    assert await storage.jobs_in_states((JobState.COMPLETED,)) == []
    assert await storage.count_in_flight() == 2


async def test_user_jobs_newest_first_with_paging(storage):
    """user_jobs lists one user's jobs in one server, newest first, with limit and offset."""
    mine = [await create(storage) for _ in range(5)]
    await create(storage, user=BOB)
    await create(storage, guild=GUILD + 1)
    ids = [j.id for j in reversed(mine)]
    assert [j.id for j in await storage.user_jobs(GUILD, ALICE)] == ids
    assert [j.id for j in await storage.user_jobs(GUILD, ALICE, limit=2, offset=1)] == ids[1:3]


async def test_recent_durations_only_completed_jobs_of_that_provider_and_model(storage):
    """recent_durations gives finish - start of completed jobs on that provider (and model), newest first."""

    async def finished(seconds: float, *, provider="luma", model=None, state=JobState.COMPLETED):
        job = await create(storage, request=VideoRequest(prompt="p", model=model))
        await storage.transition(job.id, (JobState.QUEUED,), state, provider=provider, started_at=NOW,
                                 finished_at=NOW + timedelta(seconds=seconds))  # fmt: skip

    await finished(30, model="ray-2")
    await finished(40, model="ray-flash-2")
    await finished(50, model="ray-2")
    await finished(999, model="ray-2", state=JobState.FAILED)
    await finished(77, provider="segmind")
    assert await storage.recent_durations("luma", "ray-2") == [50.0, 30.0]
    assert await storage.recent_durations("luma", None) == [50.0, 40.0, 30.0]
    assert await storage.recent_durations("luma", None, limit=1) == [50.0]
    assert await storage.recent_durations("onemin", None) == []


# --- races: exactly `limit` succeed ----------------------------------------------------------------


async def test_race_on_one_connection_exactly_limit_succeed(storage, db_path):
    """200 simultaneous reservations by one user with a daily limit of 50: exactly 50 rows are stored."""
    results = await asyncio.gather(*(create(storage, daily=50, concurrent=1000) for _ in range(200)))
    assert sum(r is not None for r in results) == 50
    assert raw(db_path, "SELECT COUNT(*), SUM(cost) FROM jobs") == [(50, 50)]
    assert await storage.usage(GUILD, ALICE, DAY) == (50, 50)


async def test_race_on_concurrent_limit_exactly_limit_succeed(storage):
    """100 simultaneous reservations against a concurrent limit of 3: exactly 3 get in."""
    results = await asyncio.gather(*(create(storage, daily=1000, concurrent=3) for _ in range(100)))
    assert sum(r is not None for r in results) == 3


async def test_race_across_two_connections_exactly_limit_succeed(db_path):
    """Two separate connections to the same file (two processes' worth) racing 2 x 100 reservations with a
    daily limit of 30: exactly 30 are stored — the check and the insert are one atomic write."""
    first, second = Storage(db_path), Storage(db_path)
    await first.open()
    await second.open()
    try:
        calls = [create(store, daily=30, concurrent=1000) for _ in range(100) for store in (first, second)]
        results = await asyncio.gather(*calls)
        assert sum(r is not None for r in results) == 30
        assert raw(db_path, "SELECT COUNT(*), SUM(cost) FROM jobs") == [(30, 30)]
        assert len({r.id for r in results if r is not None}) == 30
    finally:
        await first.close()
        await second.close()


async def test_race_across_many_connections_with_mixed_costs(db_path):
    """Four connections racing with costs 1 and 2 against a limit of 25 never overshoot it, and fill it."""
    stores = [Storage(db_path) for _ in range(4)]
    for store in stores:
        await store.open()
    try:
        calls = [create(s, daily=25, concurrent=1000, cost=1 + (i % 2)) for i in range(60) for s in stores]
        results = await asyncio.gather(*calls)
        used = sum(r.cost for r in results if r is not None)
        assert used <= 25
        assert used >= 24  # a cost-2 request may be refused at 24; a cost-1 one would have fitted otherwise
        assert raw(db_path, "SELECT SUM(cost) FROM jobs") == [(used,)]
    finally:
        for store in stores:
            await store.close()
