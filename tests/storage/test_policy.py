"""Storage for the server policy, on SQLite and PostgreSQL: atomic reservations under 200-way races (daily
limit, concurrent limit, server budget, cooldown), settings that upsert and clear, refusals, the audit view,
stats and forgetting a user."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import JobState, VideoRequest
from bot.storage import open_storage

GUILD, OTHER_GUILD, CHANNEL, ALICE, BOB = 10, 11, 20, 1, 2
DAY = "2026-03-14"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
BIG = 1_000_000
RACERS = 200
CONNECTIONS = 8


async def reserve(store, *, user: int = ALICE, daily: int = BIG, concurrent: int = BIG, cost: int = 1,
                  guild: int = GUILD, created_at: datetime = NOW, **kw):  # fmt: skip
    return await store.create_job_reserving(
        guild_id=guild, channel_id=CHANNEL, user_id=user, request=VideoRequest(prompt=f"clip by {user}"),
        created_at=created_at, day=created_at.date().isoformat(), cost=cost, daily_limit=daily,
        concurrent_limit=concurrent, **kw,
    )  # fmt: skip


@pytest.fixture
async def stores(store, backend, backend_url):
    """Connections racing side by side: SQLite gets 8 open connections to the same file; PostgreSQL's store
    already races over its pool of connections."""
    others = [await open_storage(backend_url) for _ in range(CONNECTIONS - 1)] if backend == "sqlite" else []
    try:
        yield [store, *others]
    finally:
        for other in others:
            await other.close()


async def race(stores, make) -> list:
    """RACERS reservations at once, spread over every connection; returns the jobs that were stored."""
    results = await asyncio.gather(*(make(stores[n % len(stores)], n) for n in range(RACERS)))
    return [job for job in results if job is not None]


# --- atomic reservations --------------------------------------------------------------------------------


async def test_200_racing_reservations_take_exactly_the_daily_limit(stores):
    """200 reservations for one user racing over 8 connections: exactly the daily limit (7) are stored."""
    won = await race(stores, lambda s, n: reserve(s, daily=7))
    assert len(won) == 7
    assert (await stores[0].usage_counts(GUILD, ALICE, DAY))["units"] == 7


async def test_200_racing_reservations_take_exactly_the_concurrent_limit(stores):
    """200 racing reservations with a concurrent limit of 5 store exactly 5 active jobs."""
    won = await race(stores, lambda s, n: reserve(s, concurrent=5))
    assert len(won) == 5


async def test_200_users_racing_for_the_server_budget_take_exactly_the_budget(stores):
    """200 different users racing for a server budget of 13 units: exactly 13 jobs are stored, and the
    other server is untouched by the budget."""
    won = await race(stores, lambda s, n: reserve(s, user=1000 + n, daily=5, daily_budget=13))
    assert len(won) == 13 and len({job.user_id for job in won}) == 13
    assert (await stores[0].usage_counts(GUILD, 1000, DAY))["server_units"] == 13
    assert await reserve(stores[0], user=5000, guild=OTHER_GUILD, daily_budget=13) is not None


async def test_weighted_clips_never_overshoot_the_budget(stores):
    """Clips costing 3 units racing for a budget of 10: three fit (9 units), a fourth would overshoot."""
    won = await race(stores, lambda s, n: reserve(s, user=1000 + n, cost=3, daily=5, daily_budget=10))
    assert len(won) == 3
    assert (await stores[0].usage_counts(GUILD, 1000, DAY))["server_units"] == 9


async def test_cooldown_lets_exactly_one_of_racing_reservations_through(stores):
    """With a 60 s cooldown, 200 racing reservations of one user store exactly one job; 61 s later one more."""
    won = await race(stores, lambda s, n: reserve(s, cooldown_s=60))
    assert len(won) == 1
    assert await reserve(stores[0], cooldown_s=60, created_at=NOW + timedelta(seconds=59)) is None
    assert await reserve(stores[0], cooldown_s=60, created_at=NOW + timedelta(seconds=61)) is not None


async def test_refunds_free_the_budget_and_units_stay_for_the_audit(store):
    """A refunded job gives its units back to the server budget; its charged units stay in the audit."""
    first = await reserve(store, cost=2, daily_budget=2)
    assert await reserve(store, user=BOB, daily_budget=2) is None
    assert await store.refund(first.id)
    assert await reserve(store, user=BOB, daily_budget=2) is not None
    [row] = [r for r in await store.audit_log(GUILD) if r["ref"] == first.id]
    assert (row["units"], row["held"]) == (2, 0)


# --- settings --------------------------------------------------------------------------------------------


async def test_guild_settings_upsert_only_the_given_fields(store):
    """Setting one field keeps the others; None clears a field; another server is separate."""
    assert await store.guild_settings(GUILD) == {}
    await store.set_guild_settings(GUILD, daily_limit=9, concurrent_limit=2)
    await store.set_guild_settings(GUILD, daily_budget=40)
    await store.set_guild_settings(GUILD, concurrent_limit=None, cooldown_s=30)
    assert await store.guild_settings(GUILD) == {"daily_limit": 9, "concurrent_limit": None, "daily_budget": 40,
                                                  "cooldown_s": 30}  # fmt: skip
    assert await store.guild_settings(OTHER_GUILD) == {}
    with pytest.raises(ValueError, match="cannot set"):
        await store.set_guild_settings(GUILD, daily=5)


async def test_role_and_user_limits_and_blocks(store):
    """Role limits set and clear; a user's override clears but their block stays until unblocked."""
    await store.set_role_limits(GUILD, 500, daily=3, concurrent=None)
    await store.set_role_limits(GUILD, 501, daily=None, concurrent=4)
    assert await store.role_limits(GUILD) == {500: (3, None), 501: (None, 4)}
    assert await store.clear_role_limits(GUILD, 500) and not await store.clear_role_limits(GUILD, 500)

    await store.set_user_limits(GUILD, ALICE, daily_limit=2)
    await store.set_user_limits(GUILD, ALICE, blocked=1)
    assert await store.user_limits(GUILD, ALICE) == {ALICE: {"daily_limit": 2, "concurrent_limit": None, "blocked": True}}
    await store.clear_user_limits(GUILD, ALICE)
    assert (await store.user_limits(GUILD, ALICE))[ALICE] == {"daily_limit": None, "concurrent_limit": None, "blocked": True}
    await store.set_user_limits(GUILD, ALICE, blocked=0)
    await store.clear_user_limits(GUILD, ALICE)
    assert await store.user_limits(GUILD) == {}


async def test_cost_weights_channel_rules_and_blocklist(store):
    """Weights (1 removes), channel allow/deny entries, and a blocklist that ignores duplicates."""
    await store.set_cost_weight(GUILD, "4k", 3)
    await store.set_cost_weight(GUILD, "10s", 2)
    await store.set_cost_weight(GUILD, "10s", 1)
    assert await store.cost_weights(GUILD) == {"4k": 3}

    await store.set_channel_rule(GUILD, 7, True)
    await store.set_channel_rule(GUILD, 8, False)
    await store.set_channel_rule(GUILD, 7, False)
    assert await store.channel_rules(GUILD) == {7: False, 8: False}
    assert await store.remove_channel_rule(GUILD, 8) and not await store.remove_channel_rule(GUILD, 8)

    assert await store.add_blocklist_entry(GUILD, "gore", is_regex=False, added_by=ALICE, at=NOW)
    assert not await store.add_blocklist_entry(GUILD, "gore", is_regex=False, added_by=BOB, at=NOW)
    assert await store.add_blocklist_entry(GUILD, "gore", is_regex=True, added_by=ALICE, at=NOW)
    assert await store.blocklist(GUILD) == [("gore", False), ("gore", True)]
    assert await store.remove_blocklist_entry(GUILD, "gore") == 2 and await store.blocklist(GUILD) == []


# --- audit, stats, forget --------------------------------------------------------------------------------


async def test_audit_log_unites_jobs_and_refusals(store):
    """The audit view lists accepted jobs and refused requests with who, where, prompt, options and outcome."""
    job = await reserve(store)
    await store.record_refusal(guild_id=GUILD, channel_id=CHANNEL, user_id=BOB, units=2, at=NOW + timedelta(seconds=1),
                               request=VideoRequest(prompt="too much", resolution="4k"), reason="quota")  # fmt: skip
    refusal, accepted = await store.audit_log(GUILD)
    assert (refusal["kind"], refusal["user_id"], refusal["prompt"], refusal["outcome"], refusal["reason"]) == (
        "refusal", BOB, "too much", "refused", "quota",
    )  # fmt: skip
    assert '"4k"' in refusal["options"] and refusal["units"] == 2
    assert (accepted["kind"], accepted["ref"], accepted["outcome"]) == ("job", job.id, "queued")
    assert accepted["channel_id"] == CHANNEL
    assert await store.audit_log(OTHER_GUILD) == []


async def test_guild_stats_counts_jobs_users_states_and_groups(store):
    """Stats since a moment: jobs, users, completed/failed/cancelled, refusals, and per provider/model groups."""
    done = await reserve(store)
    failed = await reserve(store, user=BOB)
    await reserve(store, created_at=NOW - timedelta(days=40))  # outside the period
    for job, end in ((done, JobState.COMPLETED), (failed, JobState.FAILED)):
        await store.transition(job.id, (JobState.QUEUED,), JobState.SUBMITTING, provider="luma")
        await store.transition(job.id, (JobState.SUBMITTING,), end)
    await store.record_refusal(guild_id=GUILD, channel_id=CHANNEL, user_id=BOB, units=1, at=NOW,
                               request=VideoRequest(prompt="x y z"), reason="cooldown")  # fmt: skip
    stats = await store.guild_stats(GUILD, NOW - timedelta(days=30))
    assert {k: stats[k] for k in ("jobs", "users", "completed", "failed", "cancelled", "refused")} == {
        "jobs": 2, "users": 2, "completed": 1, "failed": 1, "cancelled": 0, "refused": 1,
    }  # fmt: skip
    assert stats["groups"] == [{"provider": "luma", "model": None, "duration": "5s", "resolution": "720p",
                                "jobs": 2, "completed": 1, "failed": 1, "action": None}]  # fmt: skip


async def test_forget_user_deletes_finished_jobs_and_refusals_of_that_user_only(store):
    """forget_user deletes one user's finished jobs and refusals in one server; active jobs and others stay."""
    finished = await reserve(store)
    await store.transition(finished.id, (JobState.QUEUED,), JobState.CANCELLED)
    active = await reserve(store)
    bobs = await reserve(store, user=BOB)
    elsewhere = await reserve(store, guild=OTHER_GUILD)
    await store.record_refusal(guild_id=GUILD, channel_id=CHANNEL, user_id=ALICE, units=1, at=NOW,
                               request=VideoRequest(prompt="x y z"), reason="quota")  # fmt: skip
    assert await store.forget_user(GUILD, ALICE) == (1, 1)
    assert await store.get_job(finished.id) is None
    for kept in (active, bobs, elsewhere):
        assert await store.get_job(kept.id) is not None
    assert [r["ref"] for r in await store.audit_log(GUILD)] == [bobs.id, active.id]


async def test_usage_counts_and_last_request(store):
    """usage_counts: units and charged videos today, active jobs, the server's units; last_request_at."""
    first = await reserve(store, cost=3)
    await reserve(store, user=BOB, cost=2, created_at=NOW + timedelta(seconds=5))
    await store.refund(first.id)
    await reserve(store, created_at=NOW + timedelta(seconds=9))
    assert await store.usage_counts(GUILD, ALICE, DAY) == {"units": 1, "videos": 1, "active": 2, "server_units": 3}
    assert await store.last_request_at(GUILD, ALICE) == NOW + timedelta(seconds=9)
    assert await store.last_request_at(GUILD, 999) is None
    assert await store.count_user_jobs(GUILD, ALICE) == 2


async def test_policy_snapshot_reads_every_setting_at_once(store):
    """One read returns settings, role limits, the user's own entry, weights, channel rules and the blocklist
    in order, with 64-bit Discord ids intact; an unconfigured server gives empty values."""
    empty = await store.policy_snapshot(GUILD, ALICE)
    assert empty == {"settings": {}, "roles": {}, "user": None, "weights": {}, "channels": {}, "blocklist": []}
    big_role, big_channel = 1_456_074_443_980_800_007, 1_456_074_443_980_800_010
    await store.set_guild_settings(GUILD, daily_budget=40, cooldown_s=5)
    await store.set_role_limits(GUILD, big_role, daily=3, concurrent=None)
    await store.set_user_limits(GUILD, ALICE, concurrent_limit=2, blocked=1)
    await store.set_cost_weight(GUILD, "4k", 3)
    await store.set_channel_rule(GUILD, big_channel, True)
    for pattern in ("zebra", "apple"):
        await store.add_blocklist_entry(GUILD, pattern, is_regex=pattern == "apple", added_by=BOB, at=NOW)
    snap = await store.policy_snapshot(GUILD, ALICE)
    assert snap == {
        "settings": {"daily_limit": None, "concurrent_limit": None, "daily_budget": 40, "cooldown_s": 5},
        "roles": {big_role: (3, None)},
        "user": {"daily_limit": None, "concurrent_limit": 2, "blocked": True},
        "weights": {"4k": 3},
        "channels": {big_channel: True},
        "blocklist": [("zebra", False), ("apple", True)],
    }
    assert (await store.policy_snapshot(GUILD, BOB))["user"] is None
