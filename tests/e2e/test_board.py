"""The board end to end (issue 15): a Components V2 message with every clip, votes toggled by members and
kept across a restart, Pick by the requester only, Final, /board, and actions on a take in its thread."""

from __future__ import annotations

import discord
import pytest

from bot.client import create_bot
from tests.e2e.helpers import advance_until, bot_messages, reply_of, results

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse at dusk, waves crashing"
V2 = 1 << 15


@pytest.fixture
def admin(simcord_env, world):
    guild = world[0]
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(simcord_env.create_user("carol"), roles=[role])


def boards(channel) -> list[discord.Message]:
    return [m for m in bot_messages(channel) if m.flags.value & V2]


def buttons(message) -> list[dict]:
    found = []

    def walk(components):
        for component in components:
            data = component if isinstance(component, dict) else component.to_dict()
            if data.get("type") == 2:
                found.append(data)
            walk(data.get("components", []))

    walk(message.components)
    return found


def labels(message) -> list[str]:
    return [b["label"] for b in buttons(message)]


def texts(message) -> str:
    out = []

    def walk(components):
        for component in components:
            data = component if isinstance(component, dict) else component.to_dict()
            if data.get("type") == 10:
                out.append(data["content"])
            walk(data.get("components", []))

    walk(message.components)
    return "\n".join(out)


def gallery_items(message) -> list[dict]:
    data = [c if isinstance(c, dict) else c.to_dict() for c in message.components]
    return [item for c in data if c.get("type") == 12 for item in c["items"]]


async def restart(env, old_bot, bot_env):
    await old_bot.close()
    new_bot = create_bot(bot_env)
    await env.restart_bot(new_bot)
    return new_bot


async def two_takes_with_a_board(simcord_env, channel, alice) -> discord.Message:
    await alice.slash(channel, "video", prompt=PROMPT, takes=2)
    await advance_until(simcord_env, lambda: len(results(channel)) == 2 and boards(channel))
    await simcord_env.advance_time(6)
    [board] = boards(channel)
    return board


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_board_shows_every_take_in_a_gallery_with_votes(simcord_env, world, fake_luma):
    """Two finished takes get one V2 board: a media gallery of both clips, a numbered line per take with who
    made it and a link, and Vote (0) / Pick buttons keyed by job id."""
    _, channel, alice, _ = world
    board = await two_takes_with_a_board(simcord_env, channel, alice)
    assert len(gallery_items(board)) == 2
    assert all(item["media"]["url"].startswith("http") for item in gallery_items(board))
    text = texts(board)
    assert "**1.** take 1" in text and "**2.** take 2" in text and alice.mention in text
    assert "open the clip" in text
    assert labels(board) == ["Vote (0)", "Pick", "Vote (0)", "Pick"]
    assert [b["custom_id"] for b in buttons(board)] == ["reel:vote:1", "reel:pick:1", "reel:vote:2", "reel:pick:2"]


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_votes_toggle_per_member_and_survive_a_restart(simcord_env, simcord_bot, bot_env, world, admin,
                                                            fake_luma):  # fmt: skip
    """Three members vote; a second click takes a vote back; after a restart the counts are the same and the
    buttons still count."""
    _, channel, alice, bob = world
    board = await two_takes_with_a_board(simcord_env, channel, alice)
    await alice.click(board, custom_id="reel:vote:1")
    await bob.click(board, custom_id="reel:vote:1")
    await admin.click(board, custom_id="reel:vote:2")
    await bob.click(board, custom_id="reel:vote:2")
    await bob.click(board, custom_id="reel:vote:2")  # toggled back
    [board] = boards(channel)
    assert labels(board) == ["Vote (2)", "Pick", "Vote (1)", "Pick"]

    await restart(simcord_env, simcord_bot, bot_env)
    [board] = boards(channel)
    await admin.click(board, custom_id="reel:vote:1")
    [board] = boards(channel)
    assert labels(board) == ["Vote (3)", "Pick", "Vote (1)", "Pick"]
    await alice.click(board, custom_id="reel:vote:1")
    [board] = boards(channel)
    assert labels(board) == ["Vote (2)", "Pick", "Vote (1)", "Pick"]


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_pick_is_the_requesters_and_final_renders_the_pick(simcord_env, world, fake_luma):
    """Bob can't pick Alice's idea; Alice picks take 2, which then offers Final; Final upscales that very
    generation to 1080p at Luma (not a new render) as a job credited 'final of #2' that joins the board."""
    _, channel, alice, bob = world
    board = await two_takes_with_a_board(simcord_env, channel, alice)
    refused = await bob.click(board, custom_id="reel:pick:2")
    assert reply_of(refused).ephemeral and "Only" in reply_of(refused).content
    await alice.click(board, custom_id="reel:pick:2")
    [board] = boards(channel)
    assert labels(board) == ["Vote (0)", "Pick", "Vote (0)", "Picked", "Final"]
    assert "🏆" in texts(board)
    await alice.click(board, custom_id="reel:final:2")
    await advance_until(simcord_env, lambda: len(results(channel)) == 3)
    final = results(channel)[-1]
    assert any(f.value == "final of #2" for f in final.embeds[0].fields)
    picked = (await simcord_env.bot.storage.get_job(2)).provider_job_id
    [call] = fake_luma.requests_to("POST", f"/generations/{picked}/upscale")
    assert call.json == {"generation_type": "upscale_video", "resolution": "1080p"}
    await simcord_env.advance_time(6)
    [board] = boards(channel)
    assert "**3.** final of #2" in texts(board) and "resolution 720p→1080p" in texts(board)


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_actions_on_a_take_post_into_its_thread_and_board(simcord_env, world, admin, fake_luma):
    """With threads on, Re-roll on a take in the idea's thread posts the new clip in that thread, it joins
    the idea's board there, and /board in the thread re-posts the board at the bottom."""
    _, channel, alice, _ = world
    await admin.slash(channel, "videoadmin threads", mode="on")
    await alice.slash(channel, "video", prompt=PROMPT, takes=2)
    [thread] = channel.threads
    await advance_until(simcord_env, lambda: len(results(thread)) == 2)
    take = results(thread)[0]
    take_id = int(take.embeds[0].footer.text.split("#")[1].split(" ")[0])
    await alice.click(take, label="Re-roll")
    await advance_until(simcord_env, lambda: len(results(thread)) == 3)
    assert not results(channel)
    await simcord_env.advance_time(6)
    [board] = boards(thread)
    assert f"**3.** re-roll of #{take_id}" in texts(board)
    answer = await alice.slash(thread, "board")
    assert reply_of(answer).ephemeral
    [again] = boards(thread)
    assert again.id != board.id and bot_messages(thread)[-1].id == again.id
    assert labels(again).count("Pick") == 3


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_quota_shows_draft_and_final_costs_and_stats_count_takes_votes(simcord_env, world, admin, fake_luma):
    """/quota says what a draft take and its Final cost (with the server's weights and final resolution);
    /videoadmin stats counts takes and votes per member."""
    _, channel, alice, bob = world
    await admin.slash(channel, "videoadmin limits weight", option="1080p", units=3)
    quota = await alice.slash(channel, "quota")
    assert "360p draft take costs 1 unit(s); Final of a pick renders it at 1080p for 3 unit(s)" in (
        reply_of(quota).embeds[0].description
    )
    await admin.slash(channel, "videoadmin final", resolution="4k")
    quota = await alice.slash(channel, "quota")
    assert "renders it at 4k" in reply_of(quota).embeds[0].description
    board = await two_takes_with_a_board(simcord_env, channel, alice)
    await bob.click(board, custom_id="reel:vote:1")
    stats = await admin.slash(channel, "videoadmin stats")
    text = next(f.value for f in reply_of(stats).embeds[0].fields if f.name == "Brainstorming (all time)")
    assert f"{alice.mention}: 2 takes · 0 votes · 0 finals" in text
    assert f"{bob.mention}: 0 takes · 1 votes · 0 finals" in text
