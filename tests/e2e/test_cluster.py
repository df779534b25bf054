"""The bot on PostgreSQL end to end: a sharded process whose job runner is one worker on the shared queue."""

from __future__ import annotations

import pytest
from discord.ext import commands

from bot.domain import JobState
from tests.e2e.helpers import advance_until, reply_of, results, title
from tests.postgres import postgres_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


@pytest.fixture
def bot_env(bot_env, postgres_url):  # noqa: F811
    """The usual test bot, on a fresh PostgreSQL schema, as both shards of SHARD_COUNT=2."""
    return {**bot_env, "DATABASE_URL": postgres_url, "SHARD_COUNT": "2", "MAX_ACTIVE_JOBS": "1"}


async def test_postgres_sharded_bot_claims_and_delivers_through_the_shared_queue(simcord_env, world, fake_luma):
    """On PostgreSQL the runner is a worker: jobs are claimed from the database under MAX_ACTIVE_JOBS, the
    waiting one shows its position, and both clips are delivered once each."""
    bot = simcord_env.bot
    assert isinstance(bot, commands.AutoShardedBot)
    assert bot.runner.shared and bot.runner.worker_id
    _, channel, alice, bob = world
    first = await alice.slash(channel, "video", prompt=PROMPT)
    second = await bob.slash(channel, "video", prompt=PROMPT)
    assert "Position **1**" in reply_of(second).embeds[0].description
    await advance_until(simcord_env, lambda: len(results(channel)) == 2, step=3)
    assert title(reply_of(first)) and len(fake_luma.generations) == 2 and fake_luma.peak_active == 1
    jobs = await bot.storage.jobs_in_states(tuple(JobState))
    assert [j.state for j in jobs] == [JobState.COMPLETED, JobState.COMPLETED]
    assert len({j.result_message_id for j in jobs}) == 2
