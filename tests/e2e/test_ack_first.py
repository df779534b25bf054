"""Acknowledge first, privately (issue 13, cogs/_ack.py): the interaction is answered before any database
trip; a refusal is seen by nobody but the requester; an accepted job's status is a public follow-up."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until, bot_messages, reply_of, results

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a paper boat on a rain-soaked street"


def requests_of(simcord_env, token_part: str) -> list:
    return [r for r in simcord_env.http_requests if token_part in r.path]


async def test_the_answer_comes_before_the_reservation(simcord_env, world, simcord_bot, monkeypatch):
    """The callback is on its way before the quota is reserved: in a burst nobody waits on the database."""
    acknowledged_at_reservation: list[int] = []
    storage = simcord_bot.storage
    reserve = storage.create_job_reserving

    async def spying(**kwargs):
        acknowledged_at_reservation.append(sum(r.path.endswith("/callback") for r in simcord_env.http_requests))
        return await reserve(**kwargs)

    monkeypatch.setattr(storage, "create_job_reserving", spying)
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    assert acknowledged_at_reservation == [1], "the interaction was answered before the reservation ran"
    [callback] = [r for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64, "a private placeholder"


async def test_an_accepted_job_is_a_public_follow_up_and_the_placeholder_goes(simcord_env, world, fake_luma):
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    assert started.response is None, "the private placeholder was removed"
    [status] = started.followups
    assert not status.ephemeral and status.embeds[0].title in ("⏳ Queued", "📨 Sending", "🎬 Generating")
    assert [m.id for m in bot_messages(channel)] == [status.id], "one public message: the status"

    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    assert result.id == status.id, "the status follow-up itself became the result"
    edits = [r for r in simcord_env.http_requests if r.method == "PATCH" and r.path.endswith(f"/messages/{status.id}")]
    assert edits, "status updates and the result edit the follow-up through the interaction's token"


@pytest.mark.bot_env(QUOTA_DAILY="1")
async def test_a_refusal_is_seen_by_nobody_else(simcord_env, world, fake_luma):
    """Over the quota: the placeholder turns into the refusal; no public message, no public "thinking…"."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    before = len(simcord_env.http_requests)
    refused = await alice.slash(channel, "video", prompt=PROMPT)
    assert refused.ephemeral and "Nothing was charged" in refused.response.content
    assert refused.followups == []
    sent = simcord_env.http_requests[before:]
    callbacks = [r for r in sent if r.path.endswith("/callback")]
    assert [c.json["data"]["flags"] & 64 for c in callbacks] == [64], "answered privately, once"
    assert not [r for r in sent if r.method == "POST" and "/webhooks/" in r.path], "no follow-up of any kind"
    assert not [r for r in sent if r.method == "POST" and r.path.startswith("/channels/")], "nothing in the channel"
    assert len(bot_messages(channel)) == 1, "only the first, accepted job's status is public"


async def test_a_status_that_cannot_be_posted_refunds_and_says_so_privately(simcord_env, world, fake_luma):
    """Discord refuses the public follow-up: the job is abandoned (refunded) and the placeholder says so."""
    simcord_env.inject_error("POST", "/webhooks/*", status=500, code=0, times=None)
    _, channel, alice, _ = world
    refused = await alice.slash(channel, "video", prompt=PROMPT)
    assert refused.ephemeral and "Nothing was charged" in refused.response.content
    assert bot_messages(channel) == []
    assert fake_luma.requests_to("POST", "/generations") == []
    quota = await alice.slash(channel, "quota")
    assert "0 of 5" in reply_of(quota).content or "0 of 5" in reply_of(quota).embeds[0].description
