"""The job lifecycle end to end: quotas, cancel, restarts, the 15-minute token, limits, provider errors."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from bot.client import create_bot
from tests.e2e.helpers import advance_until, bot_messages, reply_of, results, title

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


async def used_today(user, channel) -> str:
    quota = await user.slash(channel, "quota")
    assert reply_of(quota).ephemeral
    return reply_of(quota).embeds[0].description


async def generation_id(env, fake_luma) -> str:
    await advance_until(env, lambda: fake_luma.generations, step=1)
    return next(iter(fake_luma.generations))


# --- quotas --------------------------------------------------------------------------------------


@pytest.mark.bot_env(QUOTA_DAILY="2", QUOTA_CONCURRENT="1")
async def test_daily_and_concurrent_limits(simcord_env, world, fake_luma):
    """A second job while one runs is refused; after two videos today the third is refused; /quota says so."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    busy = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(busy).ephemeral and "already have 1 video(s) generating" in reply_of(busy).content
    await advance_until(simcord_env, lambda: len(results(channel)) == 1)
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: len(results(channel)) == 2)
    spent = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(spent).ephemeral and "used 2 of 2 videos today" in reply_of(spent).content
    text = await used_today(alice, channel)
    assert "2 of 2 videos used" in text and "<t:" in text
    assert len(fake_luma.requests_to("POST", "/generations")) == 2


@pytest.mark.bot_env(QUOTA_DAILY="1")
async def test_quota_resets_at_midnight_utc(simcord_env, world, fake_luma):
    """The daily count starts again after midnight UTC on the bot's clock."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    refused = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(refused).ephemeral
    await simcord_env.advance_time(24 * 3600)
    again = await alice.slash(channel, "video", prompt=PROMPT)
    assert not reply_of(again).ephemeral


async def test_failed_generation_refunds_but_moderation_does_not(simcord_env, world, fake_luma):
    """A GPU failure gives the slot back; a prompt refused by moderation keeps it charged."""
    _, channel, alice, _ = world
    fake_luma.fail_next_generation("Job failed")
    first = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(first)) == "❌ Failed")
    assert "Job failed" in reply_of(first).embeds[0].description
    assert "refunded" in reply_of(first).embeds[0].description
    assert "0 of 5 videos used" in await used_today(alice, channel)

    fake_luma.fail_next_generation("Advanced prompt moderation failed")
    second = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(second)) == "❌ Failed")
    assert "moderation" in reply_of(second).embeds[0].description
    assert "1 of 5 videos used" in await used_today(alice, channel)


# --- cancel ----------------------------------------------------------------------------------------


async def test_only_the_requester_can_cancel_and_cancel_deletes_at_luma(simcord_env, world, fake_luma):
    """Bob's click is refused ephemerally; Alice's cancels, deletes the Luma generation and refunds."""
    fake_luma.polls_to_complete = None
    _, channel, alice, bob = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    gen = await generation_id(simcord_env, fake_luma)

    refused = await bob.click(reply_of(started).message, label="Cancel")
    assert reply_of(refused).ephemeral and "Only the person who started" in reply_of(refused).content
    assert title(reply_of(started)) != "🚫 Cancelled"

    await alice.click(reply_of(started).message, label="Cancel")
    assert title(reply_of(started)) == "🚫 Cancelled"
    assert reply_of(started).components == []
    assert [r.path for r in fake_luma.requests_to("DELETE")] == [f"/generations/{gen}"]
    assert "0 of 5 videos used" in await used_today(alice, channel)
    await simcord_env.advance_time(120)
    assert results(channel) == []


# --- durability ------------------------------------------------------------------------------------


async def restart(env, old_bot, bot_env):
    await old_bot.close()
    new_bot = create_bot(bot_env)
    await env.restart_bot(new_bot)
    return new_bot


async def test_restart_mid_job_resumes_and_delivers_once(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """A job running at Luma when the bot stops is polled again after the restart and delivered once."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    gen = await generation_id(simcord_env, fake_luma)
    await simcord_env.advance_time(10)

    new_bot = await restart(simcord_env, simcord_bot, bot_env)
    try:
        fake_luma.set_state(gen, "completed")
        await advance_until(simcord_env, lambda: results(channel))
        await simcord_env.advance_time(60)
        [result] = results(channel)
        assert alice.mention in result.content, "after a restart the result mentions the requester"
        assert len(fake_luma.requests_to("POST", "/generations")) == 1, "never resubmitted"
    finally:
        await new_bot.close()


async def test_restart_after_posting_but_before_recording_does_not_post_twice(
    simcord_env, simcord_bot, bot_env, world, fake_luma, tmp_path
):
    """If the bot died between posting the clip and recording it, the restart finds the post instead of re-posting."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    await simcord_bot.close()
    with sqlite3.connect(tmp_path / "reelbot.db") as db:  # rewind the record to "posting in progress"
        db.execute("UPDATE jobs SET state = 'delivering', result_message_id = NULL")
    new_bot = create_bot(bot_env)
    await simcord_env.restart_bot(new_bot)
    try:
        await simcord_env.advance_time(60)
        assert len(results(channel)) == 1
        with sqlite3.connect(tmp_path / "reelbot.db") as db:
            assert db.execute("SELECT state, result_message_id FROM jobs").fetchone() == (
                "completed", results(channel)[0].id,
            )  # fmt: skip
    finally:
        await new_bot.close()


async def test_restart_during_submit_fails_and_refunds_instead_of_resubmitting(
    simcord_env, simcord_bot, bot_env, world, fake_luma, tmp_path
):
    """A job caught mid-submit (no Luma id stored) is failed and refunded, never sent twice."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await generation_id(simcord_env, fake_luma)
    await simcord_bot.close()
    with sqlite3.connect(tmp_path / "reelbot.db") as db:
        db.execute("UPDATE jobs SET state = 'submitting', provider_job_id = NULL")
    new_bot = create_bot(bot_env)
    await simcord_env.restart_bot(new_bot)
    try:
        await simcord_env.advance_time(10)
        assert title(reply_of(started)) == "❌ Failed"
        assert "not resubmitted" in reply_of(started).embeds[0].description
        assert len(fake_luma.requests_to("POST", "/generations")) == 1
        assert "0 of 5 videos used" in await used_today(alice, channel)
    finally:
        await new_bot.close()


async def test_job_outliving_the_interaction_token_is_posted_with_a_mention(simcord_env, world, fake_luma):
    """After 15 minutes the clip arrives as a channel message mentioning the user; the status points to it."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    gen = await generation_id(simcord_env, fake_luma)
    for _ in range(16):  # one advance_time call must settle within settle_timeout of real time
        await simcord_env.advance_time(60)
    fake_luma.set_state(gen, "completed")
    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    assert result.id != reply_of(started).id
    assert alice.mention in result.content
    assert result.attachments
    assert title(reply_of(started)) == "✅ Done"
    assert not any(r.path.startswith("/webhooks") and r.method == "PATCH" for r in simcord_env.http_requests[-5:])


async def test_clip_over_the_upload_limit_is_posted_as_a_link(simcord_env, world, fake_luma):
    """A clip larger than the interaction's upload limit (25 MiB here) is posted as a link, not dropped."""
    fake_luma.video_size = 26 * 1024 * 1024
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    assert result.attachments == []
    assert "/assets/" in result.content
    assert any(f.name == "Link" for f in result.embeds[0].fields)


@pytest.mark.bot_env(JOB_TIMEOUT_S="60")
async def test_job_unfinished_after_timeout_is_failed_and_refunded(simcord_env, world, fake_luma):
    """JOB_TIMEOUT_S ends a stuck job with a clear message and gives the quota back."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", limit=120)
    assert "took too long" in reply_of(started).embeds[0].description
    assert "0 of 5 videos used" in await used_today(alice, channel)


# --- the global cap ---------------------------------------------------------------------------------


@pytest.mark.bot_env(MAX_ACTIVE_JOBS="1")
async def test_max_active_jobs_queues_the_rest_with_their_position(simcord_env, world, fake_luma):
    """With one slot, the second user's job waits with its position shown and starts when the first ends."""
    _, channel, alice, bob = world
    carol = world[0].add_member(simcord_env.create_user("carol"))
    await alice.slash(channel, "video", prompt=PROMPT)
    second = await bob.slash(channel, "video", prompt=PROMPT)
    third = await carol.slash(channel, "video", prompt=PROMPT)
    assert "Position **1**" in reply_of(second).embeds[0].description
    assert "Position **2**" in reply_of(third).embeds[0].description
    peak = 0

    def all_delivered() -> bool:
        nonlocal peak
        peak = max(peak, fake_luma.active_count)
        return len(results(channel)) == 3

    await advance_until(simcord_env, all_delivered, step=3)
    assert peak == 1


# --- provider errors ----------------------------------------------------------------------------------


@pytest.mark.bot_env(LUMAAI_API_KEY="luma-wrong-key-zz")
async def test_bad_key_tells_the_admin_in_the_log_and_the_user_politely(simcord_env, world, fake_luma, caplog):
    """A 401 from Luma fails the job with a polite message, refunds, and logs a clear error for the admin."""
    _, channel, alice, _ = world
    with caplog.at_level(logging.INFO):
        started = await alice.slash(channel, "video", prompt=PROMPT)
        await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", step=1)
    assert "key was refused" in reply_of(started).embeds[0].description
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("401" in r.getMessage() for r in errors)
    assert not any("luma-wrong-key" in r.getMessage() for r in caplog.records)
    assert "0 of 5 videos used" in await used_today(alice, channel)


async def test_rate_limited_create_waits_and_retries(simcord_env, world, fake_luma):
    """A 429 with Retry-After on create is waited out and retried (nothing was created the first time)."""
    fake_luma.fail_next("POST", "/generations", 429, headers={"retry-after": "2"})
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    assert len(fake_luma.requests_to("POST", "/generations")) == 2
    assert len(fake_luma.generations) == 1


async def test_server_error_on_create_is_never_retried(simcord_env, world, fake_luma):
    """A 500 on create fails the job and refunds: repeating it could charge twice."""
    fake_luma.fail_next("POST", "/generations", 500)
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", step=1)
    assert len(fake_luma.requests_to("POST", "/generations")) == 1
    assert "0 of 5 videos used" in await used_today(alice, channel)


async def test_server_errors_on_polls_are_retried(simcord_env, world, fake_luma):
    """5xx bursts and malformed answers while polling are retried with backoff; the clip still arrives."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    gen = await generation_id(simcord_env, fake_luma)
    fake_luma.fail_next("GET", f"/generations/{gen}", 503, times=6)
    fake_luma.malformed_next("GET", f"/generations/{gen}", times=1)
    await advance_until(simcord_env, lambda: results(channel), step=5)
    assert len(bot_messages(channel)) == 1
