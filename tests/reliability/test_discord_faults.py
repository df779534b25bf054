"""Discord refusing things: the clip still arrives when it can, and when it can't the requester is told,
the job is recorded as failed and the quota comes back. Faults are injected with env.inject_error."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until, reply_of, results, title
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


async def wait_for_generation(env, fake_luma) -> str:
    await advance_until(env, lambda: fake_luma.generations, step=1)
    return next(iter(fake_luma.generations))


def followup_texts(result) -> list[str]:
    return [(f.content or "") + " ".join(e.description or "" for e in f.embeds) for f in result.followups]


async def test_upload_refused_as_too_large_posts_the_link(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """A 413/40005 on the upload makes the bot post the provider's link instead; the job completes."""
    _, channel, alice, _ = world
    simcord_env.inject_error("PATCH", "/webhooks/*/messages/*", status=413, code=40005, times=None)
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await wait_for_generation(simcord_env, fake_luma)
    simcord_env.backend.faults.clear()
    # From here on only the upload is refused: the bot's first try carries the file.
    simcord_env.inject_error("PATCH", "/webhooks/*/messages/*", status=413, code=40005, times=1)
    fake_luma.polls_to_complete = 0  # the next poll completes it (status edits before it must not eat the fault)
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [result] = results(channel)
    assert result.id == reply_of(started).id
    assert result.attachments == [] and "/assets/" in result.content
    assert [row["state"] for row in jobs(bot_env)] == ["completed"]


async def test_missing_permission_tells_the_requester_ephemerally_and_refunds(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """403/50013 on posting the result: an ephemeral followup tells the requester, the job fails, quota refunded."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await wait_for_generation(simcord_env, fake_luma)
    simcord_env.inject_error("PATCH", "/webhooks/*", status=403, code=50013, message="Missing Permissions", times=None)
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0
    assert "permission" in row["failure_reason"].lower()
    private = [f for f in started.followups if f.ephemeral]
    assert private and "permission" in followup_texts(started)[-1].lower()
    assert results(channel) == []
    assert simcord_bot.runner.alive


async def test_missing_permission_after_the_token_expired_is_sent_by_dm(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """After 15 minutes the result goes to the channel; a 403 there (and on edits) reaches the requester by DM."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    gen = await wait_for_generation(simcord_env, fake_luma)
    for _ in range(16):
        await simcord_env.advance_time(60)
    simcord_env.inject_error("*", f"/channels/{channel.id}/messages*", status=403, code=50013,
                             message="Missing Permissions", times=None)  # fmt: skip
    fake_luma.set_state(gen, "completed")
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0
    dms = [m for m in alice.user.dm_channel.history() if m.author.bot]
    assert dms, "the requester got a DM"
    assert "permission" in (dms[-1].content + " ".join(e.description or "" for e in dms[-1].embeds)).lower()


async def test_channel_deleted_mid_job_ends_cleanly_and_is_recorded(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """The channel disappears while the clip renders: the job ends failed and refunded, the runner lives on."""
    fake_luma.polls_to_complete = None
    _, channel, alice, bob = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    gen = await wait_for_generation(simcord_env, fake_luma)
    simcord_env.backend.delete_channel(channel.id)
    await simcord_env.advance_time(5)
    fake_luma.set_state(gen, "completed")
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0 and "deleted" in row["failure_reason"]
    told = [f.content for f in started.followups if f.ephemeral] + [m.content for m in alice.user.dm_channel.history()]
    assert any("deleted" in text for text in told), "the requester was told privately"
    assert simcord_bot.runner.alive
    fake_luma.polls_to_complete = 2
    other = world[0].create_text_channel("other")
    again = await bob.slash(other, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(other))
    assert title(reply_of(again)) == "🎬 Your video is ready"


async def test_rate_limited_status_edits_are_skipped_and_the_result_still_arrives(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """429s on status edits skip those updates; the job goes on and the clip is delivered."""
    fake_luma.polls_to_complete = 12
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    simcord_env.inject_error("PATCH", "/webhooks/*", status=429, code=0, message="You are being rate limited.", times=3)
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    assert not simcord_env.backend.faults, "all three 429s were met by status edits"
    [result] = results(channel)
    assert result.id == reply_of(started).id and result.attachments
    assert [row["state"] for row in jobs(bot_env)] == ["completed"]
