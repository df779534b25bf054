"""Ideas on both backends: takes reserved all or nothing in one statement, clips joining an idea, votes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.domain import VideoRequest

GUILD, CHANNEL, ALICE, BOB, CAROL = 10, 20, 1, 2, 3
DAY = "2026-03-14"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


async def takes(store, n: int, *, user: int = ALICE, daily: int = 100, concurrent: int = 1, cost: int = 1, **kw):
    return await store.create_takes_reserving(
        guild_id=GUILD, channel_id=CHANNEL, user_id=user, request=VideoRequest(prompt="a fox"), takes=n,
        created_at=NOW, day=DAY, cost=cost, daily_limit=daily, concurrent_limit=concurrent, **kw,
    )  # fmt: skip


async def test_takes_are_reserved_together_as_one_idea(store):
    """Four takes are four queued jobs numbered 1..4, each charged its cost, grouped under the first one's id."""
    jobs = await takes(store, 4, cost=2)
    assert [job.take for job in jobs] == [1, 2, 3, 4]
    assert {job.idea_id for job in jobs} == {jobs[0].id}
    assert [job.cost for job in jobs] == [2, 2, 2, 2]
    assert await store.usage(GUILD, ALICE, DAY) == (8, 4)
    idea = await store.get_idea(jobs[0].id)
    assert idea is not None and idea["takes"] == 4 and idea["user_id"] == ALICE
    assert [job.id for job in await store.idea_jobs(jobs[0].id)] == [job.id for job in jobs]


async def test_takes_beyond_the_daily_quota_reserve_nothing(store):
    """Three takes with two units left: none is reserved (not two of three)."""
    await takes(store, 3, daily=5)
    assert await takes(store, 3, daily=5, concurrent=10) == []
    assert await store.usage(GUILD, ALICE, DAY) == (3, 3)
    assert len(await takes(store, 2, daily=5, concurrent=10)) == 2


async def test_takes_beyond_the_server_budget_reserve_nothing(store):
    """The server's daily budget must cover every take, or none is reserved."""
    await takes(store, 2, user=BOB, daily=100)
    assert await takes(store, 3, daily_budget=4) == []
    assert await store.usage(GUILD, ALICE, DAY) == (0, 0)
    assert len(await takes(store, 2, daily_budget=4)) == 2


async def test_takes_count_as_one_request_against_the_concurrent_limit(store):
    """With a concurrent limit of one, four takes are accepted, and a second batch waits for them."""
    assert len(await takes(store, 4, concurrent=1)) == 4
    assert await takes(store, 1, concurrent=1) == []


async def test_racing_batches_never_overdraw(store):
    """Five batches of three racing for ten units: exactly three batches are reserved, each whole."""
    results = await asyncio.gather(*(takes(store, 3, daily=10, concurrent=100) for _ in range(5)))
    assert sorted(len(r) for r in results) == [0, 0, 3, 3, 3]
    assert (await store.usage(GUILD, ALICE, DAY))[0] == 9


async def test_a_clip_made_from_a_job_joins_its_idea(store):
    """A re-roll of a single clip starts an idea keyed by that clip; of a take, it joins the take's idea."""
    [take] = await takes(store, 1)
    assert take.take is None and take.idea_id == take.id, "a lone take is its own idea, with no take number"
    alone = await store.create_job_reserving(
        guild_id=GUILD, channel_id=CHANNEL, user_id=BOB, request=VideoRequest(prompt="an owl"),
        created_at=NOW, day=DAY, cost=1, daily_limit=10, concurrent_limit=10,
    )  # fmt: skip
    assert alone.idea_id is None
    assert await store.idea_of(alone) == alone.id
    assert (await store.get_job(alone.id)).idea_id == alone.id
    assert (await store.get_idea(alone.id))["takes"] == 1
    assert await store.idea_of(take) == take.idea_id


async def test_votes_toggle_per_member(store):
    """A member's second click takes the vote back; counts are per clip of the idea."""
    first, second = await takes(store, 2)
    assert await store.toggle_vote(first.id, ALICE, NOW) is True
    assert await store.toggle_vote(first.id, BOB, NOW) is True
    assert await store.toggle_vote(second.id, CAROL, NOW) is True
    assert await store.toggle_vote(first.id, ALICE, NOW) is False
    assert await store.vote_counts(first.idea_id) == {first.id: 1, second.id: 1}
    stats = await store.idea_stats(GUILD)
    assert stats[ALICE] == {"takes": 2, "votes": 0, "finals": 0}
    assert stats[BOB]["votes"] == 1


async def test_idea_settings_default_off_and_set(store):
    """Threads are off by default; the setting, the warned flag and the final resolution are stored."""
    assert await store.idea_settings(GUILD) == {"threads": False, "threads_warned": False, "final_resolution": None}
    await store.set_guild_settings(GUILD, threads=1)
    await store.set_guild_settings(GUILD, threads_warned=1, final_resolution="4k")
    assert await store.idea_settings(GUILD) == {"threads": True, "threads_warned": True, "final_resolution": "4k"}


@pytest.mark.parametrize("n", [0, 5])
async def test_takes_outside_one_to_four_are_refused(store, n):
    """The storage refuses a batch size the command cannot send (a modified client)."""
    with pytest.raises(ValueError):
        await takes(store, n)
