"""Storage on both backends: every test runs on SQLite and on PostgreSQL (skipped when none is reachable).

One interface, the same behaviour: migrations, atomic reservations, compare-and-set, the queries the bot
uses, and the shared queue (claims round-robin by user under a global cap, leases, take-overs).
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import JobState, VideoRequest
from bot.storage import PostgresStorage, Storage, migration_scripts, open_storage
from bot.storage.postgres import probe

GUILD, CHANNEL, ALICE, BOB, CAROL = 10, 20, 1, 2, 3
DAY = "2026-03-14"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
BIG = 10_000


async def create(store, *, user: int = ALICE, daily: int = BIG, concurrent: int = BIG, cost: int = 1,
                 request: VideoRequest | None = None, day: str = DAY, guild: int = GUILD, **kw):  # fmt: skip
    return await store.create_job_reserving(
        guild_id=guild, channel_id=CHANNEL, user_id=user, request=request or VideoRequest(prompt="a fox"),
        created_at=NOW, day=day, cost=cost, daily_limit=daily, concurrent_limit=concurrent, **kw,
    )  # fmt: skip


async def claim(store, worker: str = "w1", *, max_active: int = BIG, until: datetime = LATER):
    return await store.claim_next_job(worker, max_active=max_active, lease_until=until)


# --- one interface, aligned migrations -----------------------------------------------------------------------------


def test_postgres_storage_is_the_one_storage_on_another_dialect():
    """PostgresStorage runs Storage's own queries (no twin to keep equal): it defines no query of its own."""
    own = {name for name, value in vars(PostgresStorage).items() if inspect.iscoroutinefunction(value)}
    assert issubclass(PostgresStorage, Storage) and own == set()


def test_both_dialects_have_the_same_migration_numbers():
    """Every SQLite migration has its PostgreSQL twin, numbered alike, so both reach the same schema version."""
    sqlite = [number for number, _ in migration_scripts("sqlite")]
    postgres = [number for number, _ in migration_scripts("postgres")]
    assert sqlite == postgres == list(range(1, len(sqlite) + 1))


async def test_migrations_from_empty_reach_the_latest_version(store, backend):
    """A brand-new database is migrated to the last version, and migrating again changes nothing."""
    latest = max(number for number, _ in migration_scripts("postgres" if backend == "postgresql" else "sqlite"))
    assert await store.migrate() == latest
    assert await store.migrate() == latest


async def test_reopening_keeps_the_data(store, backend_url):
    """A second open of the same database applies nothing again and sees the rows already there."""
    job = await create(store)
    again = await open_storage(backend_url)
    try:
        assert await again.get_job(job.id) == job
    finally:
        await again.close()


async def test_storage_is_writable(store):
    """writable() is true on a healthy database."""
    assert await store.writable() is True


async def test_open_storage_picks_the_backend_from_the_url(store, backend):
    """sqlite:/// opens Storage (SQLite), postgresql:// opens PostgresStorage."""
    assert type(store) is (PostgresStorage if backend == "postgresql" else Storage)


# --- reservations ----------------------------------------------------------------------------------------------------


async def test_create_job_round_trips_every_field(store):
    """A reserved job comes back queued with its request, times and parent exactly as stored."""
    request = VideoRequest(prompt="a fox", aspect_ratio="9:16", loop=True, resolution="1080p", model="ray-2",
                           camera="orbit_left", start_image_url="https://x/y.png")  # fmt: skip
    job = await create(store, request=request, cost=2, parent_job_id=7, parent_kind="extend")
    assert job is not None and job.state is JobState.QUEUED
    assert (job.request, job.cost, job.created_at, job.parent_job_id, job.parent_kind) == (request, 2, NOW, 7, "extend")
    assert (job.guild_id, job.channel_id, job.user_id) == (GUILD, CHANNEL, ALICE)
    assert await store.get_job(job.id) == job
    assert await store.get_job(job.id + 1000) is None


async def test_daily_limit_counts_units_and_refuses_over_it(store):
    """With 3 units a day, a 2-unit job fits, a second 2-unit job does not, a 1-unit job still does."""
    assert await create(store, daily=3, cost=2) is not None
    assert await create(store, daily=3, cost=2) is None
    assert await create(store, daily=3, cost=1) is not None
    assert await create(store, daily=3, cost=1) is None
    assert await create(store, daily=3, day="2026-03-15") is not None  # a new day, a new quota


async def test_concurrent_limit_counts_only_active_jobs(store):
    """One active job at a time: a second waits until the first ends, whatever the daily quota."""
    first = await create(store, concurrent=1)
    assert await create(store, concurrent=1) is None
    assert await store.transition(first.id, (JobState.QUEUED,), JobState.COMPLETED)
    assert await create(store, concurrent=1) is not None


async def test_limits_are_per_user_and_server(store):
    """Alice at her limit does not stop Bob, nor Alice in another server."""
    await create(store, daily=1)
    assert await create(store, daily=1) is None
    assert await create(store, daily=1, user=BOB) is not None
    assert await create(store, daily=1, guild=GUILD + 1) is not None


async def test_usage_and_refund(store):
    """usage() is (units today, active jobs); a refund gives the units back once, never twice."""
    job = await create(store, cost=2)
    await create(store)
    assert await store.usage(GUILD, ALICE, DAY) == (3, 2)
    assert await store.refund(job.id) is True
    assert await store.refund(job.id) is False
    assert await store.usage(GUILD, ALICE, DAY) == (1, 2)
    assert await store.usage(GUILD, BOB, DAY) == (0, 0)


async def test_concurrent_reservations_exactly_limit_succeed(store):
    """60 reservations at once against a daily limit of 7: exactly 7 jobs exist afterwards."""
    results = await asyncio.gather(*(create(store, daily=7) for _ in range(60)))
    assert sum(job is not None for job in results) == 7
    assert await store.usage(GUILD, ALICE, DAY) == (7, 7)


async def test_reservations_racing_on_two_connections_exactly_limit_succeed(store, backend_url):
    """Two independently opened storages (two connections/pools) racing: the limit still holds exactly."""
    other = await open_storage(backend_url)
    try:
        results = await asyncio.gather(*(create(s, daily=9) for _ in range(40) for s in (store, other)))
    finally:
        await other.close()
    assert sum(job is not None for job in results) == 9
    assert (await store.usage(GUILD, ALICE, DAY))[0] == 9


# --- compare-and-set and updates ---------------------------------------------------------------------------------


async def test_transition_is_compare_and_set(store):
    """A transition happens only from the expected states, and writes its fields with it."""
    job = await create(store)
    assert not await store.transition(job.id, (JobState.RUNNING,), JobState.DELIVERING)
    assert await store.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, provider="luma", started_at=LATER)
    fresh = await store.get_job(job.id)
    assert (fresh.state, fresh.provider, fresh.started_at) == (JobState.SUBMITTING, "luma", LATER)


async def test_concurrent_transitions_only_one_wins(store):
    """Ten simultaneous queued → cancelled attempts: exactly one succeeds."""
    job = await create(store)
    outcomes = await asyncio.gather(
        *(store.transition(job.id, (JobState.QUEUED,), JobState.CANCELLED) for _ in range(10))
    )
    assert outcomes.count(True) == 1


async def test_transition_held_by_needs_the_lease(store):
    """With held_by, only the worker holding the job's lease may change it."""
    job = await create(store)
    await claim(store, "w1")
    assert not await store.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, held_by="w2")
    assert await store.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, held_by="w1")


async def test_update_job_writes_allowed_columns_only(store):
    """update_job writes the listed columns and refuses any other (the state goes through transition)."""
    job = await create(store)
    await store.update_job(job.id, provider_job_id="gen-1", video_url="https://v", status_message_id=99,
                           finished_at=LATER)  # fmt: skip
    fresh = await store.get_job(job.id)
    assert (fresh.provider_job_id, fresh.video_url, fresh.status_message_id, fresh.finished_at) == (
        "gen-1", "https://v", 99, LATER,
    )  # fmt: skip
    with pytest.raises(ValueError, match="state"):
        await store.update_job(job.id, state="completed")


async def test_big_discord_ids_round_trip(store):
    """Snowflakes near 2**63 survive (BIGINT on PostgreSQL)."""
    snowflake = 1_234_567_890_123_456_789
    job = await create(store, guild=snowflake, user=snowflake - 1)
    await store.update_job(job.id, status_message_id=snowflake + 1)
    fresh = await store.get_job(job.id)
    assert (fresh.guild_id, fresh.user_id, fresh.status_message_id) == (snowflake, snowflake - 1, snowflake + 1)


# --- the bot's queries ---------------------------------------------------------------------------------------------


async def test_jobs_in_states_user_jobs_and_in_flight(store):
    """jobs_in_states filters and orders by id; user_jobs pages newest first; count_in_flight counts
    submitting and running jobs."""
    a, b, c = [await create(store) for _ in range(3)]
    await store.transition(b.id, (JobState.QUEUED,), JobState.RUNNING)
    await store.transition(c.id, (JobState.QUEUED,), JobState.SUBMITTING)
    assert [j.id for j in await store.jobs_in_states((JobState.QUEUED, JobState.RUNNING))] == [a.id, b.id]
    assert [j.id for j in await store.user_jobs(GUILD, ALICE, limit=2)] == [c.id, b.id]
    assert [j.id for j in await store.user_jobs(GUILD, ALICE, limit=2, offset=2)] == [a.id]
    assert await store.count_in_flight() == 2


async def test_recent_durations_by_provider_and_model(store):
    """Only completed jobs of that provider (and model, when given) count, newest first."""

    async def finished(seconds: float, provider: str, model: str | None, state=JobState.COMPLETED):
        job = await create(store, request=VideoRequest(prompt="x", model=model))
        await store.transition(job.id, (JobState.QUEUED,), state, provider=provider, started_at=NOW,
                               finished_at=NOW + timedelta(seconds=seconds))  # fmt: skip

    await finished(10, "luma", "ray-2")
    await finished(20, "luma", "ray-flash-2")
    await finished(30, "luma", "ray-2", JobState.FAILED)
    await finished(40, "segmind", "ray-2")
    assert await store.recent_durations("luma", "ray-2") == [10.0]
    assert await store.recent_durations("luma", None) == [20.0, 10.0]


# --- the shared queue: claims ------------------------------------------------------------------------------------


async def test_claim_takes_users_in_turn(store):
    """A queues three jobs, then B one: claims take A, B, A, A (a user holding a slot waits behind others)."""
    a1, a2, a3 = [await create(store, user=ALICE) for _ in range(3)]
    b1 = await create(store, user=BOB)
    assert [(await claim(store)).id for _ in range(4)] == [a1.id, b1.id, a2.id, a3.id]
    assert await claim(store) is None


async def test_claim_alternates_users_by_last_start(store):
    """With one slot freed after each job, users alternate by who started least recently: A B A B A B."""
    jobs = {u: [await create(store, user=u) for _ in range(3)] for u in (ALICE, BOB)}
    order = []
    for _ in range(6):
        job = await claim(store, max_active=1)
        order.append(job.user_id)
        assert await store.transition(job.id, (JobState.QUEUED,), JobState.COMPLETED)
    assert order == [ALICE, BOB] * 3
    assert len(jobs[ALICE]) == 3


async def test_claim_respects_the_global_cap(store):
    """Claimed, submitting and running jobs hold a slot; a delivering job has given its slot back."""
    jobs = [await create(store, user=u) for u in (ALICE, BOB, CAROL, ALICE)]
    first = await claim(store, "w1", max_active=2)
    second = await claim(store, "w2", max_active=2)
    assert await claim(store, "w3", max_active=2) is None
    await store.transition(first.id, (JobState.QUEUED,), JobState.RUNNING)
    assert await claim(store, "w3", max_active=2) is None
    await store.transition(first.id, (JobState.RUNNING,), JobState.DELIVERING)
    third = await claim(store, "w3", max_active=2)
    assert third is not None and {first.id, second.id, third.id} < {j.id for j in jobs}


async def test_claim_skips_cancelled_and_claimed_jobs(store):
    """A cancelled job is never claimed, nor one another worker already holds."""
    cancelled = await create(store)
    await store.transition(cancelled.id, (JobState.QUEUED,), JobState.CANCELLED)
    waiting = await create(store)
    assert (await claim(store, "w1")).id == waiting.id
    assert await claim(store, "w2") is None


async def test_concurrent_claims_from_two_connections_respect_the_cap(store, backend_url):
    """Two storages claiming 40 times at once with a cap of 5: exactly 5 distinct jobs are claimed."""
    for user in range(30):
        await create(store, user=user)
    other = await open_storage(backend_url)
    try:
        results = await asyncio.gather(
            *(claim(s, f"w{i}", max_active=5) for i in range(20) for s in (store, other))
        )
    finally:
        await other.close()
    claimed = [job.id for job in results if job is not None]
    assert len(claimed) == len(set(claimed)) == 5


# --- the shared queue: leases ---------------------------------------------------------------------------------------


async def test_renew_leases_only_for_the_holder_of_active_jobs(store):
    """A worker renews its own active jobs only; not another worker's, not a finished one."""
    mine, theirs, done = [await create(store, user=u) for u in (ALICE, BOB, CAROL)]
    for job, worker in ((mine, "w1"), (theirs, "w2"), (done, "w1")):
        assert (await claim(store, worker)).id == job.id
    await store.transition(done.id, (JobState.QUEUED,), JobState.COMPLETED)
    assert await store.renew_leases("w1", [mine.id, theirs.id, done.id], LATER) == {mine.id}
    assert await store.renew_leases("w1", [], LATER) == set()


async def test_expired_started_jobs_are_taken_over_once(store):
    """A running job whose lease ran out goes to the first worker that asks, and to no other."""
    job = await create(store)
    await claim(store, "dead", until=NOW + timedelta(seconds=10))
    await store.transition(job.id, (JobState.QUEUED,), JobState.RUNNING)
    assert await store.take_over_expired("w2", now=NOW + timedelta(seconds=5), lease_until=LATER) == []
    expiry = NOW + timedelta(seconds=11)
    taken = await asyncio.gather(
        *(store.take_over_expired(f"w{i}", now=expiry, lease_until=expiry + timedelta(seconds=30)) for i in range(5))
    )
    assert [len(t) for t in taken].count(1) == 1 and sum(len(t) for t in taken) == 1
    winner = next(f"w{i}" for i, t in enumerate(taken) if t)
    assert not await store.transition(job.id, (JobState.RUNNING,), JobState.DELIVERING, held_by="dead")
    assert await store.transition(job.id, (JobState.RUNNING,), JobState.DELIVERING, held_by=winner)


async def test_expired_claims_of_unstarted_jobs_go_back_to_the_queue(store):
    """A claimed job that never started is not taken over but queued again for anyone to claim."""
    job = await create(store)
    await claim(store, "dead", until=NOW + timedelta(seconds=10))
    assert await store.take_over_expired("w2", now=NOW + timedelta(seconds=11), lease_until=LATER) == []
    assert (await claim(store, "w2")).id == job.id


async def test_released_leases_are_taken_over_at_once(store):
    """A worker stopping cleanly releases its leases: its running job is taken over without waiting."""
    running, queued = await create(store, user=ALICE), await create(store, user=BOB)
    await claim(store, "w1")
    await claim(store, "w1")
    await store.transition(running.id, (JobState.QUEUED,), JobState.RUNNING)
    assert await store.release_leases("w1") == 2
    assert [j.id for j in await store.take_over_expired("w2", now=NOW, lease_until=LATER)] == [running.id]
    assert (await claim(store, "w2")).id == queued.id


async def test_queue_view_numbers_the_shared_queue(store):
    """queue_view lists unclaimed queued jobs oldest first, slots held per user and each waiting user's last claim."""
    a1, a2 = await create(store, user=ALICE), await create(store, user=ALICE)
    b1 = await create(store, user=BOB)
    await claim(store)  # a1
    view = await store.queue_view()
    assert [j.id for j in view.jobs] == [a2.id, b1.id]
    assert view.holding == {ALICE: 1}
    assert set(view.last_claim) == {ALICE} and a1.id


# --- python -m bot check -----------------------------------------------------------------------------------------


async def test_probe_reports_a_usable_postgres_without_changing_it(postgres_url):
    """`check` sees a writable PostgreSQL, names it without any password, and creates no table."""
    import asyncpg

    usable, found = await probe(postgres_url)
    assert usable and found.startswith("PostgreSQL ") and "writable" in found
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('jobs')") is None
    finally:
        await conn.close()


async def test_probe_reports_an_unreachable_postgres_without_its_password():
    """A refused connection is a failed check whose message names host and database, never the password."""
    usable, found = await probe("postgresql://reelbot:hunter2-secret@127.0.0.1:1/reelbot", timeout=2)
    assert not usable and "127.0.0.1:1/reelbot" in found and "hunter2" not in found
