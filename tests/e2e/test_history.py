"""/history (paged with buttons, links to each result) and /job id: (status, link, re-post of a deleted result)."""

from __future__ import annotations

import discord
import pytest

from tests.e2e.helpers import advance_until, reply_of, results

pytestmark = pytest.mark.simcord(settle_timeout=1)


def answer(result):
    """The visible answer of a deferred command (the first follow-up replaces the 'thinking' message)."""
    return result.followups[-1] if result.followups else reply_of(result)


async def delete_as_moderator(simcord_env, guild, message) -> None:
    role = guild.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
    moderator = guild.add_member(simcord_env.create_user("mod"), roles=[role])
    await moderator.delete(message)


def labels(response) -> list[str]:
    return [c["label"] for row in response.components for c in row["components"]]


def disabled(response, label: str) -> bool:
    return next(bool(c.get("disabled")) for row in response.components for c in row["components"] if c["label"] == label)


@pytest.mark.bot_env(QUOTA_DAILY="10", QUOTA_CONCURRENT="10")
async def test_history_is_ephemeral_paged_and_links_each_result(simcord_env, world, fake_luma):
    """Seven videos: page 1 shows the newest five with links to their results, Next shows the last two,
    Previous goes back; the buttons are disabled at either end; only the caller sees it."""
    _, channel, alice, bob = world
    for n in range(7):
        await alice.slash(channel, "video", prompt=f"clip number {n}")
    await advance_until(simcord_env, lambda: len(results(channel)) == 7)
    shown = await alice.slash(channel, "history")
    assert reply_of(shown).ephemeral
    page = reply_of(shown).embeds[0]
    assert page.footer.text.startswith("Page 1 of 2 · 7 job(s)")
    assert page.description.count("✅") == 5 and "clip number 6" in page.description
    assert "clip number 1" not in page.description
    result_ids = {m.id for m in results(channel)}
    assert sum(f"/{channel.id}/{mid})" in page.description for mid in result_ids) == 5
    assert labels(reply_of(shown)) == ["Previous", "Next"] and disabled(reply_of(shown), "Previous")

    await alice.click(reply_of(shown).message, label="Next")
    page = reply_of(shown).embeds[0]
    assert page.footer.text.startswith("Page 2 of 2") and "clip number 0" in page.description
    assert page.description.count("✅") == 2 and disabled(reply_of(shown), "Next")
    await alice.click(reply_of(shown).message, label="Previous")
    assert reply_of(shown).embeds[0].footer.text.startswith("Page 1 of 2")

    other = await bob.slash(channel, "history")
    assert "not made any videos" in reply_of(other).embeds[0].description and disabled(reply_of(other), "Next")


async def test_job_shows_status_and_link_and_only_in_its_server(simcord_env, world, fake_luma):
    """/job id: shows the job's state, prompt, options and a link to the result; another server's job or an
    unknown id is 'no job'."""
    guild, channel, alice, bob = world
    await alice.slash(channel, "video", prompt="a lighthouse at dusk", resolution="1080p")
    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    shown = await bob.slash(channel, "job", id=1)
    assert reply_of(shown).ephemeral
    embed = answer(shown).embeds[0]
    assert embed.title == "✅ Job #1: completed"
    fields = {f.name: f.value for f in embed.fields}
    assert "a lighthouse at dusk" in fields["Prompt"] and "1080p" in fields["Options"]
    assert fields["Result"] == f"[Open](https://discord.com/channels/{guild.id}/{channel.id}/{result.id})"
    assert answer(shown).components == [], "nothing to re-post while the result exists"

    other_guild = simcord_env.create_guild("elsewhere")
    other_channel = other_guild.create_text_channel("lobby")
    stranger = other_guild.add_member(simcord_env.create_user("stranger"))
    elsewhere = await stranger.slash(other_channel, "job", id=1)
    assert reply_of(elsewhere).ephemeral and "no job #1 in this server" in reply_of(elsewhere).content
    assert "no job #42" in (await alice.slash(channel, "job", id=42)).response.content


@pytest.mark.bot_env(MAX_ACTIVE_JOBS="1", QUOTA_CONCURRENT="3")
async def test_job_of_a_queued_video_shows_its_position(simcord_env, world, fake_luma):
    """A job waiting for a provider slot shows its queue position in /job."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt="first in line")
    await alice.slash(channel, "video", prompt="second in line")
    fields = {f.name: f.value for f in answer(await alice.slash(channel, "job", id=2)).embeds[0].fields}
    assert fields["Queue"] == "Position 1"


async def test_deleted_result_is_reposted_from_the_stored_link(simcord_env, world, fake_luma, tmp_path):
    """When the result message was deleted, /job offers Re-post to the requester; it downloads the clip again,
    posts it with the embed, and /job then links the new message."""
    guild, channel, alice, bob = world
    await alice.slash(channel, "video", prompt="a lighthouse at dusk")
    await advance_until(simcord_env, lambda: results(channel))
    [old] = results(channel)
    await delete_as_moderator(simcord_env, guild, old)
    assert results(channel) == []

    seen_by_bob = await bob.slash(channel, "job", id=1)
    assert "deleted" in {f.name: f.value for f in answer(seen_by_bob).embeds[0].fields}["Result"]
    assert answer(seen_by_bob).components == [], "only the requester or an admin may re-post"

    shown = await alice.slash(channel, "job", id=1)
    assert labels(answer(shown)) == ["Re-post"]
    clicked = await alice.click(answer(shown).message, label="Re-post")
    assert reply_of(clicked).ephemeral and "Re-posted" in answer(clicked).content
    [new] = results(channel)
    assert new.id != old.id and new.attachments and (await new.attachments[0].read())[4:8] == b"ftyp"
    assert alice.mention in new.content
    fields = {f.name: f.value for f in answer(await alice.slash(channel, "job", id=1)).embeds[0].fields}
    assert fields["Result"].endswith(f"/{channel.id}/{new.id})")


async def test_repost_says_expired_when_the_providers_link_no_longer_works(simcord_env, world, fake_luma, admin_member):
    """If the provider's link is gone (404), Re-post says the video expired and posts nothing."""
    guild, channel, alice, _ = world
    await alice.slash(channel, "video", prompt="a lighthouse at dusk")
    await advance_until(simcord_env, lambda: results(channel))
    [old] = results(channel)
    await delete_as_moderator(simcord_env, guild, old)
    fake_luma.assets_status = 404
    shown = await admin_member.slash(channel, "job", id=1)
    assert labels(answer(shown)) == ["Re-post"], "an admin may re-post someone else's video"
    clicked = await admin_member.click(answer(shown).message, label="Re-post")
    assert "expired" in answer(clicked).content
    assert results(channel) == []


@pytest.fixture
def admin_member(simcord_env, world):
    guild = world[0]
    role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(simcord_env.create_user("root"), roles=[role])
