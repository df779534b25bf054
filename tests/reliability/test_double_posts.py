"""A result is never posted twice, whatever a restart interrupts and however busy the channel: the real bot under
simcord is stopped mid-render and again between Discord storing its post and the bot recording it, then
restarted while others keep chatting (more than a page of messages) and while reading the channel fails."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.client import create_bot
from bot.domain import JobState
from cogs import _render
from tests.e2e.helpers import advance_until, bot_messages
from tests.reliability.helpers import jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"
CYCLES = 3
CHATTER = 120  # messages by others between the status message and the result (over two pages of history)


async def restart(env, bot, bot_env):
    await bot.close()
    fresh = create_bot(bot_env)
    await env.restart_bot(fresh)
    return fresh


def die_before_recording_the_post(bot) -> asyncio.Event:
    """The bot's writes of a posted result never finish (it is killed right after Discord stored the post)."""
    storage, posted = bot.storage, asyncio.Event()
    update_job, transition = storage.update_job, storage.transition

    async def held_update(job_id, **fields):
        if "result_message_id" in fields:
            posted.set()
            await asyncio.Event().wait()
        return await update_job(job_id, **fields)

    async def held_transition(job_id, from_states, to, **fields):
        if to is JobState.COMPLETED:
            posted.set()
            await asyncio.Event().wait()
        return await transition(job_id, from_states, to, **fields)

    storage.update_job, storage.transition = held_update, held_transition
    return posted


def posts_of(channel, job_id: int) -> int:
    return sum(1 for m in bot_messages(channel) if _render.is_result_of(m, job_id))


async def chatter(member, channel, label: str) -> None:
    for n in range(CHATTER):
        await member.send(channel, f"{label} {n}")


async def test_a_crash_loop_in_a_busy_channel_never_posts_a_result_twice(
    simcord_env, simcord_bot, bot_env, world, fake_luma, capsys
):
    """CYCLES jobs, each through two crashes (mid-render; posted but not recorded) with busy chatter and a failed
    history read at the restart: every job is posted exactly once and completed, charged once."""
    _, channel, alice, bob = world
    fake_luma.polls_to_complete = None  # the test says when each clip is done
    bot, crashes = simcord_bot, 0
    for cycle in range(CYCLES):
        await alice.slash(channel, "video", prompt=f"{PROMPT}, take {cycle}")
        row = jobs(bot_env)[-1]
        bot = await restart(simcord_env, bot, bot_env)  # crash mid-render: no interaction token afterwards
        crashes += 1
        await chatter(bob, channel, f"while rendering {cycle}")
        posted = die_before_recording_the_post(bot)
        fake_luma.set_state(row["provider_job_id"], "completed")
        await advance_until(simcord_env, posted.is_set, step=5)
        assert posts_of(channel, row["id"]) == 1
        await chatter(bob, channel, f"after the post {cycle}")
        await simcord_env.advance_time(600)  # past Discord's nonce window: only the lookup can tell
        simcord_env.inject_error("GET", f"/channels/{channel.id}/messages", status=500, code=0, times=1)
        bot = await restart(simcord_env, bot, bot_env)  # crash between Discord storing the post and recording it
        crashes += 1
        await advance_until(simcord_env, lambda: jobs(bot_env)[-1]["state"] == "completed", step=10)

    final = jobs(bot_env)
    per_job = Counter({r["id"]: posts_of(channel, r["id"]) for r in final})
    double_posts = sum(n - 1 for n in per_job.values() if n > 1)
    assert all(r["state"] == "completed" and r["cost"] == 1 for r in final), final
    assert double_posts == 0 and all(n == 1 for n in per_job.values()), per_job
    with capsys.disabled():
        print(f"\ncrash loop: {crashes} restarts, {len(final)} jobs, {CHATTER * 2} chatter messages per job, "
              f"1 failed history read per restart, {sum(per_job.values())} posts, {double_posts} double posts")
