"""/clip and the "More…" menu on Luma Ray 3.2 (luma-agents) end to end: modify and upscale are video_edit
generations of the clip, reframe a video_reframe, extend backward/bridge end_frame generation ids, an uploaded
MP4 goes through the Files API; audio (not on Ray 3.2) is refused naming what it can, and the menu lists only
what Ray 3.2 can do; a restart mid-action resumes it with a fresh link."""

from __future__ import annotations

import sqlite3

import pytest

from bot.client import create_bot
from tests.e2e.helpers import advance_until, field, reply_of, results
from tests.fakes.luma import mp4_header
from tests.fakes.luma_agents import FakeLumaAgents

pytestmark = pytest.mark.simcord(settle_timeout=1)

KEY = "luma-api-e2e-clip-7d1e"
PROMPT = "a glass whale gliding over a desert"
MP4 = mp4_header(2048) + bytes(2048)


@pytest.fixture
async def fake_agents():
    async with FakeLumaAgents(api_key=KEY, polls_to_process=1, polls_to_complete=3) as fake:
        yield fake


@pytest.fixture
def bot_env(tmp_path, fake_agents):
    return {
        "DISCORD_TOKEN": "unused-offline", "VIDEO_PROVIDERS": "luma-agents", "LUMA_AGENTS_API_KEY": KEY,
        "LUMA_AGENTS_BASE_URL": fake_agents.base_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"), "QUOTA_DAILY": "10",
        "ALLOW_LOCAL_PROVIDER_URLS": "true",  # the fakes serve results over http on 127.0.0.1
    }  # fmt: skip


async def delivered(env, channel, count: int):
    await advance_until(env, lambda: len(results(channel)) >= count)
    return results(channel)[-1]


async def finished(env, user, channel, prompt: str = PROMPT, **options):
    await user.slash(channel, "video", prompt=prompt, **options)
    return await delivered(env, channel, len(results(channel)) + 1)


def creates(fake):
    return [r.json for r in fake.requests_to("POST", "/generations")]


async def test_modify_and_upscale_are_edits_of_the_generation(simcord_env, world, fake_agents):
    """/clip modify is a video_edit with the strength; /clip upscale is a video_edit at adhere_1, 1080p."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel, resolution="360p")
    [source] = list(fake_agents.generations)
    await alice.slash(channel, "clip modify", job=1, prompt="as a pencil sketch", strength="reimagine_3")
    modified = await delivered(simcord_env, channel, 2)
    assert field(modified.embeds[0], "From") == "modify of #1"
    await alice.slash(channel, "clip upscale", job=1, resolution="1080p")
    await delivered(simcord_env, channel, 3)
    modify, upscale = creates(fake_agents)[1:]
    assert modify["type"] == "video_edit" and modify["source"] == {"generation_id": source}
    assert modify["video"]["edit"] == {"strength": "reimagine_3"}
    assert upscale["video"] == {"resolution": "1080p", "edit": {"strength": "adhere_1"}}
    refused = await alice.slash(channel, "clip upscale", job=1, resolution="4k")
    assert reply_of(refused).ephemeral and "upscale goes to `1080p`" in reply_of(refused).content
    again = await alice.slash(channel, "clip upscale", job=3, resolution="1080p")
    assert reply_of(again).ephemeral and "already 1080p" in reply_of(again).content
    history = (await alice.slash(channel, "history")).response.embeds[0].description
    assert "upscale of #1" in history and "modify of #1" in history
    assert len(creates(fake_agents)) == 3


async def test_reframe_extend_backward_and_bridge(simcord_env, world, fake_agents):
    """reframe is a video_reframe; extend backward an end_frame generation id; bridge both frames."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    await finished(simcord_env, alice, channel, prompt="the whale dives into a dune")
    first, second = list(fake_agents.generations)
    await alice.slash(channel, "clip reframe", job=1, aspect_ratio="9:16")
    await delivered(simcord_env, channel, 3)
    await alice.slash(channel, "clip extend", job=2, direction="backward")
    await delivered(simcord_env, channel, 4)
    await alice.slash(channel, "clip bridge", **{"from": 1, "to": 2}, prompt="the whale turns toward the dunes")
    bridged = await delivered(simcord_env, channel, 5)
    assert field(bridged.embeds[0], "From") == "bridge of #1"
    reframe, backward, bridge = creates(fake_agents)[2:]
    assert reframe["type"] == "video_reframe" and reframe["aspect_ratio"] == "9:16"
    assert backward["video"]["end_frame"] == {"generation_id": second} and "start_frame" not in backward["video"]
    assert bridge["video"]["start_frame"] == {"generation_id": first}
    assert bridge["video"]["end_frame"] == {"generation_id": second}


async def test_an_uploaded_mp4_goes_through_the_files_api(simcord_env, world, fake_agents):
    """/clip reframe video: uploads the MP4 as a file and references it as source.file_id."""
    _, channel, alice, _ = world
    await alice.slash(channel, "clip reframe", video=("mine.mp4", MP4), aspect_ratio="1:1")
    await delivered(simcord_env, channel, 1)
    [file] = fake_agents.files.values()
    assert file.mime_type == "video/mp4" and file.data == MP4
    assert creates(fake_agents)[0]["source"] == {"file_id": file.id}


async def test_audio_is_refused_and_the_menu_lists_only_ray_actions(simcord_env, world, fake_agents):
    """Ray 3.2 has no audio: /clip audio is refused ephemerally naming what it can; the menu leaves it out."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    answer = await alice.slash(channel, "clip audio", job=1, prompt="wind and whale song")
    assert reply_of(answer).ephemeral and "can't add audio to clips" in reply_of(answer).content
    assert "`upscale`" in reply_of(answer).content and "Nothing was charged" in reply_of(answer).content
    assert len(creates(fake_agents)) == 1
    select = next(c for row in result.components for c in row.children if c.type.value == 3)
    assert [o.value for o in select.options] == ["upscale:1080p", "modify", "reframe", "extend:backward", "bridge"]


async def test_menu_reframe_modal_starts_a_reframe(simcord_env, world, fake_agents):
    """Reframe… opens a modal with an aspect-ratio select of Ray 3.2's ratios; submitting starts the job."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    shown = await alice.select(result, ["reframe"], custom_id="reel:more:1")
    assert shown.modal is not None and "9:21" not in str(shown.modal)
    await alice.submit_modal(shown, {"aspect_ratio": ["21:9"]})
    await delivered(simcord_env, channel, 2)
    assert creates(fake_agents)[-1]["aspect_ratio"] == "21:9"


async def test_a_restart_mid_action_resumes_it_with_a_fresh_link(simcord_env, simcord_bot, bot_env, world, fake_agents,
                                                                 tmp_path):  # fmt: skip
    """A modify job running when the bot stops is resumed after the restart, re-reads the generation for a fresh
    link, and is delivered once as 'modify of #1'."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    fake_agents.polls_to_complete = None
    await alice.slash(channel, "clip modify", job=1, prompt="at night", strength="flex_3")
    await advance_until(simcord_env, lambda: len(fake_agents.generations) == 2, step=1)
    await simcord_env.advance_time(10)
    await simcord_bot.close()
    edit = list(fake_agents.generations.values())[-1]
    edit.state = "completed"
    fake_agents.expire_outputs()
    with sqlite3.connect(tmp_path / "reelbot.db") as db:
        assert db.execute("SELECT state FROM jobs WHERE id = 2").fetchone() == ("running",)
    again = create_bot(bot_env)
    await simcord_env.restart_bot(again)
    done = await delivered(simcord_env, channel, 2)
    assert field(done.embeds[0], "From") == "modify of #1"
    assert fake_agents.downloads.count(edit.id) == 1
    await again.close()
