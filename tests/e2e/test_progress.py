"""The status message informs: an ETA from the bot's own record of recent jobs, a progress bar, plain
words for the provider's states; edited at most every few seconds and never through an expired token."""

from __future__ import annotations

import re

import pytest

from cogs._delivery import EDIT_INTERVAL
from tests.e2e.helpers import advance_until, reply_of, results, title

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a slow dolly through a rainy neon market"
TOKEN_LIFETIME = 15 * 60


async def run_to_completion(env, user, channel, fake_luma) -> None:
    before = len(results(channel))
    await user.slash(channel, "video", prompt=PROMPT)
    await advance_until(env, lambda: len(results(channel)) > before, step=3)


def status_patches(env, since: int, message_id: int | None = None) -> list:
    """PATCHes of messages after request number `since` (webhook edits and channel-message edits)."""
    out = []
    for entry in env.http_requests[since:]:
        if entry.method != "PATCH" or "/messages/" not in entry.path:
            continue
        if message_id is None or entry.path.endswith(("/@original", f"/{message_id}")):
            out.append(entry)
    return out


async def test_eta_appears_once_the_bot_has_a_record_of_recent_jobs(simcord_env, world, fake_luma):
    """The first job shows no ETA (nothing to go on); after a few finished jobs the status says 'about … left'."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    first = await alice.slash(channel, "video", prompt=PROMPT)
    await simcord_env.advance_time(30)
    assert title(reply_of(first)) == "🎬 Generating"
    assert "left" not in reply_of(first).embeds[0].description
    fake_luma.set_state(next(iter(fake_luma.generations)), "completed")
    await advance_until(simcord_env, lambda: results(channel))

    fake_luma.polls_to_complete = 10  # about 30 s at 3 s per poll
    for _ in range(2):
        await run_to_completion(simcord_env, alice, channel, fake_luma)

    fake_luma.polls_to_complete = None
    current = await alice.slash(channel, "video", prompt=PROMPT)
    await simcord_env.advance_time(12)
    description = reply_of(current).embeds[0].description
    assert title(reply_of(current)) == "🎬 Generating"
    match = re.search(r"about (?:(\d+)m )?(\d+)s left", description)
    assert match, description
    assert "▰" in description and "%" in description, "a progress bar from elapsed / typical"
    left = int(match[1] or 0) * 60 + int(match[2])
    assert 0 < left < 35, "the median of ~30 s jobs minus the time already spent"


async def test_provider_states_are_shown_in_plain_words(simcord_env, world, fake_luma):
    """Luma's 'dreaming' is shown as 'Generating', never the raw word."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await simcord_env.advance_time(10)
    description = reply_of(started).embeds[0].description
    assert description.startswith("Generating") and "dreaming" not in description


async def test_status_edits_are_throttled(simcord_env, world, fake_luma):
    """Luma is polled every 3 s, but the status message is edited at most once per EDIT_INTERVAL."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await simcord_env.advance_time(6)
    mark = len(simcord_env.http_requests)
    polls_before = len(fake_luma.requests_to("GET", "/generations/"))
    for _ in range(12):
        await simcord_env.advance_time(5)
    polls = len(fake_luma.requests_to("GET", "/generations/")) - polls_before
    edits = len(status_patches(simcord_env, mark, reply_of(started).id))
    assert polls >= 18
    assert 0 < edits <= 60 / EDIT_INTERVAL + 1


async def test_no_webhook_edit_after_the_token_expired(simcord_env, world, fake_luma):
    """After 15 minutes the status is edited as a channel message, never through the interaction webhook."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await simcord_env.advance_time(30)
    assert any(e.path.startswith("/webhooks/") for e in status_patches(simcord_env, 0)), "webhook while it lives"
    for _ in range(15):
        await simcord_env.advance_time(60)
    mark = len(simcord_env.http_requests)
    for _ in range(6):  # JOB_TIMEOUT_S is 1200: stay inside it
        await simcord_env.advance_time(30)
    later = status_patches(simcord_env, mark)
    assert later, "the status message is still kept up to date"
    assert all(e.path.startswith("/channels/") for e in later), [e.path for e in later]
    assert not any(e.path.startswith("/webhooks/") for e in simcord_env.http_requests[mark:])
    assert "elapsed" in reply_of(started).embeds[0].description
