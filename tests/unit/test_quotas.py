"""Unit: quota days, resets and reservations against a real SQLite file, driven by a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import JobState, VideoRequest
from bot.errors import QuotaExceededError
from bot.quotas import Quotas, Usage, next_reset, quota_day, refusal_message
from bot.storage import Storage
from tests.fakes.clock import ManualClock

GUILD, CHANNEL, ALICE, BOB = 100, 200, 1, 2
REQUEST = VideoRequest(prompt="a red fox running through snow")
JUST_BEFORE_MIDNIGHT = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)


# --- days and resets ---------------------------------------------------------------------------------


def test_quota_day_at_the_last_second_of_a_day():
    """23:59:59 UTC still belongs to that day."""
    assert quota_day(JUST_BEFORE_MIDNIGHT) == "2026-03-14"


def test_quota_day_at_midnight_is_the_new_day():
    """00:00:00 UTC is the first second of the next day."""
    clock = ManualClock(JUST_BEFORE_MIDNIGHT)
    clock.advance(1)
    assert clock.now() == datetime(2026, 3, 15, tzinfo=UTC)
    assert quota_day(clock.now()) == "2026-03-15"


def test_next_reset_is_the_coming_midnight_utc():
    """The reset is the next 00:00 UTC: one second away at 23:59:59, a full day away at 00:00:00."""
    assert next_reset(JUST_BEFORE_MIDNIGHT) == datetime(2026, 3, 15, tzinfo=UTC)
    assert next_reset(datetime(2026, 3, 15, tzinfo=UTC)) == datetime(2026, 3, 16, tzinfo=UTC)


def test_next_reset_across_month_and_year_ends():
    """Resets roll over month and year boundaries (and leap days)."""
    assert next_reset(datetime(2026, 12, 31, 18, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_reset(datetime(2028, 2, 28, 12, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert quota_day(datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)) == "2028-02-29"


def test_next_reset_is_utc_aware():
    """The reset moment is timezone-aware UTC, so <t:…> timestamps are right."""
    reset = next_reset(JUST_BEFORE_MIDNIGHT)
    assert reset.tzinfo is not None and reset.utcoffset() == timedelta(0)


# --- reservations against real SQLite ---------------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path):
    store = Storage(str(tmp_path / "reelbot.db"))
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))


def quotas(storage: Storage, clock: ManualClock, *, daily: int = 3, concurrent: int = 10) -> Quotas:
    return Quotas(storage, clock, daily=daily, concurrent=concurrent)


async def reserve(q: Quotas, user: int = ALICE, cost: int = 1):
    return await q.reserve(guild_id=GUILD, channel_id=CHANNEL, user_id=user, request=REQUEST, cost=cost)


async def finish(storage: Storage, job_id: int) -> None:
    """Walk a job through to completed, as the runner would."""
    for old, new in ((JobState.QUEUED, JobState.SUBMITTING), (JobState.SUBMITTING, JobState.RUNNING),
                     (JobState.RUNNING, JobState.DELIVERING), (JobState.DELIVERING, JobState.COMPLETED)):  # fmt: skip
        assert await storage.transition(job_id, (old,), new)


async def test_reserve_stores_a_queued_job(storage, clock):
    """A reservation is a stored queued job charged to today, holding its cost."""
    job = await reserve(quotas(storage, clock))
    assert job.state is JobState.QUEUED and job.cost == 1 and job.user_id == ALICE
    assert job.created_at == clock.now()
    assert (await storage.get_job(job.id)) == job


async def test_daily_limit_reached_refuses_with_used_and_limit(storage, clock):
    """With the daily limit used up, reserve raises QuotaExceededError saying 'used 3 of 3' and when it resets."""
    q = quotas(storage, clock, daily=3)
    for _ in range(3):
        await finish(storage, (await reserve(q)).id)
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q)
    message = caught.value.public_message
    assert "You have used 3 of 3 videos today" in message
    assert f"<t:{int(datetime(2026, 3, 15, tzinfo=UTC).timestamp())}:R>" in message
    assert "Nothing was charged" in message
    assert (await storage.usage(GUILD, ALICE, "2026-03-14")) == (3, 0)  # the refusal stored nothing


async def test_daily_limit_is_per_user_and_per_server(storage, clock):
    """Alice using up her quota does not touch Bob's, nor hers in another server."""
    q = quotas(storage, clock, daily=1)
    await reserve(q, ALICE)
    with pytest.raises(QuotaExceededError):
        await reserve(q, ALICE)
    assert (await reserve(q, BOB)).user_id == BOB
    other = await q.reserve(guild_id=GUILD + 1, channel_id=CHANNEL, user_id=ALICE, request=REQUEST)
    assert other.guild_id == GUILD + 1


async def test_concurrent_limit_reached_refuses_about_running_jobs(storage, clock):
    """With the concurrent limit of active jobs reached, the refusal talks about the videos still generating."""
    q = quotas(storage, clock, daily=10, concurrent=2)
    await reserve(q)
    await reserve(q)
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q)
    message = caught.value.public_message
    assert "You already have 2 video(s) generating (limit 2)" in message
    assert "Nothing was charged" in message


async def test_finishing_a_job_frees_a_concurrent_slot(storage, clock):
    """Once an active job completes, the concurrent limit lets the next one in (the daily count still holds)."""
    q = quotas(storage, clock, daily=10, concurrent=1)
    first = await reserve(q)
    with pytest.raises(QuotaExceededError):
        await reserve(q)
    await finish(storage, first.id)
    await reserve(q)
    usage = await q.usage(GUILD, ALICE)
    assert (usage.used_today, usage.active) == (2, 1)


async def test_refunded_job_frees_daily_quota(storage, clock):
    """A failed and refunded job gives its daily slot back."""
    q = quotas(storage, clock, daily=2)
    first = await reserve(q)
    await reserve(q)
    with pytest.raises(QuotaExceededError):
        await reserve(q)
    assert await storage.transition(first.id, (JobState.QUEUED,), JobState.FAILED)
    assert await q.refund(first)
    assert (await q.usage(GUILD, ALICE)).used_today == 1
    await reserve(q)


async def test_failed_but_unrefunded_job_still_counts(storage, clock):
    """A job that failed without a refund (a refused prompt) keeps its daily slot."""
    q = quotas(storage, clock, daily=1)
    job = await reserve(q)
    assert await storage.transition(job.id, (JobState.QUEUED,), JobState.FAILED)
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q)
    assert "used 1 of 1" in caught.value.public_message


async def test_new_utc_day_resets_usage(storage):
    """Advancing the clock past midnight UTC gives a full daily quota again."""
    clock = ManualClock(JUST_BEFORE_MIDNIGHT - timedelta(seconds=1))
    q = quotas(storage, clock, daily=2)
    await finish(storage, (await reserve(q)).id)
    clock.advance(1)  # 23:59:59, still the same day
    await finish(storage, (await reserve(q)).id)
    with pytest.raises(QuotaExceededError):
        await reserve(q)
    clock.advance(1)  # 00:00:00: a new day
    usage = await q.usage(GUILD, ALICE)
    assert usage.used_today == 0 and usage.resets_at == datetime(2026, 3, 16, tzinfo=UTC)
    job = await reserve(q)
    assert job.created_at == datetime(2026, 3, 15, tzinfo=UTC)
    assert (await storage.usage(GUILD, ALICE, "2026-03-14"))[0] == 2


async def test_jobs_still_active_across_midnight_count_for_concurrency(storage):
    """A new day resets the daily count but not the number of jobs still generating."""
    clock = ManualClock(JUST_BEFORE_MIDNIGHT)
    q = quotas(storage, clock, daily=5, concurrent=1)
    await reserve(q)
    clock.advance(1)
    with pytest.raises(QuotaExceededError, match="quota") as caught:
        await reserve(q)
    assert "generating" in caught.value.public_message


async def test_daily_limit_zero_means_not_enabled(storage, clock):
    """A daily limit of 0 refuses with 'not enabled' rather than 'used 0 of 0'."""
    q = quotas(storage, clock, daily=0)
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q)
    assert "not enabled" in caught.value.public_message
    assert "0 of 0" not in caught.value.public_message


async def test_cost_above_one_counts_in_full(storage, clock):
    """A job costing 2 uses two daily units; one that would overshoot is refused and says its cost."""
    q = quotas(storage, clock, daily=3)
    job = await reserve(q, cost=2)
    assert job.cost == 2
    assert (await q.usage(GUILD, ALICE)).used_today == 2
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q, cost=2)
    assert "You have used 2 of 3 videos today (this one costs 2)" in caught.value.public_message
    await reserve(q, cost=1)  # the last single unit still fits
    assert (await q.usage(GUILD, ALICE)).remaining == 0


async def test_usage_reports_limits_active_and_reset(storage, clock):
    """usage() returns used/limit today, active/limit now and the next reset."""
    q = quotas(storage, clock, daily=5, concurrent=3)
    await reserve(q)
    await finish(storage, (await reserve(q)).id)
    usage = await q.usage(GUILD, ALICE)
    assert usage == Usage(used_today=2, daily_limit=5, active=1, concurrent_limit=3,
                          resets_at=datetime(2026, 3, 15, tzinfo=UTC))  # fmt: skip
    assert usage.remaining == 3


def test_refusal_message_prefers_the_concurrent_reason():
    """When both limits are hit, the message names the running jobs (the one the user can act on now)."""
    usage = Usage(5, 5, 2, 2, datetime(2026, 3, 15, tzinfo=UTC))
    assert "generating" in refusal_message(usage, 1)


def test_refusal_message_cost_one_does_not_mention_cost():
    """A plain one-unit refusal does not mention a cost."""
    usage = Usage(5, 5, 0, 2, datetime(2026, 3, 15, tzinfo=UTC))
    assert "costs" not in refusal_message(usage, 1)
