"""Sharding end to end: with SHARD_COUNT the bot is an AutoShardedBot and still serves /video through its shards."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands

from tests.e2e.helpers import advance_until, reply_of, results

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


@pytest.mark.bot_env(SHARD_COUNT="2")
async def test_sharded_bot_delivers_a_video(simcord_env, world, fake_luma):
    """SHARD_COUNT=2 runs both shards in one AutoShardedBot; /video is answered and its clip delivered."""
    bot = simcord_env.bot
    assert isinstance(bot, commands.AutoShardedBot) and bot.shard_count == 2
    assert sorted(bot.shards) == [0, 1]
    guild, channel, alice, _ = world
    assert bot.get_guild(guild.id) is not None
    started = await alice.slash(channel, "video", prompt=PROMPT)
    assert not reply_of(started).ephemeral
    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    assert result.attachments and isinstance(result, discord.Message)
