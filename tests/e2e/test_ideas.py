"""Brainstorming end to end (issue 15): takes, a thread per idea, fair queueing, the refusal of a batch."""

from __future__ import annotations

import discord
import pytest

from tests.e2e.helpers import advance_until, bot_messages, reply_of, results, title

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a paper boat sailing down a rainy street gutter"


@pytest.fixture
def admin(simcord_env, world):
    guild = world[0]
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(simcord_env.create_user("carol"), roles=[role])


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_four_takes_are_delivered_into_a_new_thread(simcord_env, world, admin, fake_luma):
    """With threads on, /video takes:4 opens a thread named after the prompt; one status message there
    counts the takes and each of the four clips is posted into the thread."""
    _, channel, alice, _ = world
    await admin.slash(channel, "videoadmin threads", mode="on")
    result = await alice.slash(channel, "video", prompt=PROMPT, takes=4)
    [thread_handle] = channel.threads
    assert thread_handle.name == PROMPT
    assert thread_handle.mention in reply_of(result).content
    assert "4 takes" in reply_of(result).content
    [status] = bot_messages(thread_handle)
    assert "take 1 of 4" in status.embeds[0].description and "take 4 of 4" in status.embeds[0].description

    await advance_until(simcord_env, lambda: len(results(thread_handle)) == 4)
    assert not results(channel), "nothing is posted in the main channel"
    takes = results(thread_handle)
    assert sorted(int(m.embeds[0].footer.text.split("#")[1].split(" ")[0]) for m in takes) == [1, 2, 3, 4]
    status = next(m for m in bot_messages(thread_handle) if m.id == status.id)
    assert title(status) == "✅ 4 takes"
    assert status.embeds[0].description.count("✅") == 4
    assert not status.components, "no Cancel once every take has ended"
    assert len(fake_luma.generations) == 4


@pytest.mark.bot_env(QUOTA_DAILY="5")
async def test_takes_beyond_the_quota_reserve_nothing_and_say_what_is_left(simcord_env, world, fake_luma):
    """With 3 of 5 units used, takes:4 is refused ephemerally saying 2 are left; nothing is reserved or started,
    and takes:2 then fits."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, takes=3)
    await advance_until(simcord_env, lambda: len(results(channel)) == 3)
    refused = await alice.slash(channel, "video", prompt=PROMPT, takes=4)
    assert reply_of(refused).ephemeral
    assert "4 takes cost 4 units" in reply_of(refused).content
    assert "2 of 5 left" in reply_of(refused).content
    assert "Nothing was reserved" in reply_of(refused).content
    assert len(fake_luma.generations) == 3
    accepted = await alice.slash(channel, "video", prompt=PROMPT, takes=2)
    assert not reply_of(accepted).ephemeral
    await advance_until(simcord_env, lambda: len(results(channel)) == 5)


@pytest.mark.bot_env(QUOTA_DAILY="10", MAX_ACTIVE_JOBS="1")
async def test_takes_queue_fairly_with_another_members_job(simcord_env, world, fake_luma):
    """One provider slot: Alice's four takes don't jump the queue: Bob's job, asked for after them, is the
    second to start (round-robin by member), then Alice's remaining takes."""
    _, channel, alice, bob = world
    await alice.slash(channel, "video", prompt="alice's idea", takes=4)
    await bob.slash(channel, "video", prompt="bob's idea")
    await advance_until(simcord_env, lambda: len(results(channel)) == 5)
    order = [gen.request["prompt"] for gen in fake_luma.generations.values()]
    assert order == ["alice's idea", "bob's idea", "alice's idea", "alice's idea", "alice's idea"]


async def test_threads_fall_back_to_the_channel_without_the_permission(simcord_env, world, admin, fake_luma):
    """Threads on but no Create Public Threads in the channel: the take posts in the channel, and the
    server's owner is told once (a DM), not on every /video."""
    guild, _, alice, _ = world
    bot_role = guild.roles["TestBot"]
    studio = guild.create_text_channel(
        "studio", overwrites={bot_role: discord.PermissionOverwrite(create_public_threads=False)}
    )
    await admin.slash(studio, "videoadmin threads", mode="on")
    await alice.slash(studio, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: len(results(studio)) == 1)
    assert not studio.threads
    await alice.slash(studio, "video", prompt=PROMPT + " again")
    await advance_until(simcord_env, lambda: len(results(studio)) == 2)
    notes = [m for m in guild.owner.dm_channel.history() if "Create Public Threads" in m.content]
    assert len(notes) == 1, "told once"
    assert studio.mention in notes[0].content


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_cancel_on_the_shared_status_cancels_every_take(simcord_env, world, fake_luma):
    """Cancel under the takes' status message cancels all four and refunds them."""
    fake_luma.polls_to_complete = None
    guild, channel, alice, _ = world
    result = await alice.slash(channel, "video", prompt=PROMPT, takes=4)
    await simcord_env.advance_time(10)
    clicked = await alice.click(reply_of(result), label="Cancel")
    assert "Cancelled 4 take(s)" in clicked.followups[-1].content
    status = reply_of(result)
    assert status.embeds[0].description.count("cancelled by") == 4
    assert not status.components
    await simcord_env.advance_time(60)
    assert not results(channel)
    assert await simcord_env.bot.storage.usage(guild.id, alice.id, simcord_env.now().date().isoformat()) == (0, 0)


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_admin_cancel_of_one_take_changes_only_its_line(simcord_env, world, admin, fake_luma):
    """/videoadmin cancel of take 2 marks that take cancelled in the shared status; the others go on."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    result = await alice.slash(channel, "video", prompt=PROMPT, takes=3)
    await simcord_env.advance_time(10)
    await admin.slash(channel, "videoadmin cancel", job=2)
    await simcord_env.advance_time(6)
    lines = reply_of(result).embeds[0].description.splitlines()
    assert "take 2 of 3" in lines[1] and "Cancelled by a server admin" in lines[1]
    assert "cancelled" not in lines[0].lower() and "cancelled" not in lines[2].lower()
    assert [c["label"] for row in reply_of(result).components for c in row["components"]] == ["Cancel"]
