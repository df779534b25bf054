"""/clip and the result's "More…" menu end to end on Luma v1 (the default e2e bot): every subcommand starts a
credited, charged job that calls the §A.10 endpoint and is delivered; refusals (not the owner, unknown or
other-server job, bad video type, what the provider can't do) are ephemeral and charge nothing; the menu and
its modals pass Discord's OpenAPI checks, survive a restart, and an action job left running resumes."""

from __future__ import annotations

import discord
import pytest

from bot.client import create_bot
from tests.e2e.helpers import advance_until, field, reply_of, results
from tests.fakes.luma import mp4_header

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a koi pond in autumn rain"
MP4 = mp4_header(2048) + bytes(2048)


async def finished(env, user, channel, **options) -> discord.Message:
    before = len(results(channel))
    await user.slash(channel, "video", prompt=options.pop("prompt", PROMPT), **options)
    await advance_until(env, lambda: len(results(channel)) > before)
    return results(channel)[-1]


async def delivered(env, channel, count: int) -> discord.Message:
    await advance_until(env, lambda: len(results(channel)) >= count)
    return results(channel)[-1]


async def units_used(user, channel) -> str:
    return (await user.slash(channel, "quota")).response.embeds[0].description


def menu(message: discord.Message):
    return next(child for row in message.components for child in row.children if child.type.value == 3)


# --- each subcommand --------------------------------------------------------------------------------


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_clip_upscale_is_a_new_credited_job(simcord_env, world, fake_luma):
    """/clip upscale posts to the generation's upscale endpoint; the new clip is delivered as 'upscale of #1'."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    source = next(iter(fake_luma.generations))
    started = await alice.slash(channel, "clip upscale", job=1, resolution="4k")
    assert not reply_of(started).ephemeral
    result = await delivered(simcord_env, channel, 2)
    assert field(result.embeds[0], "From") == "upscale of #1"
    [call] = fake_luma.requests_to("POST", f"/generations/{source}/upscale")
    assert call.json == {"generation_type": "upscale_video", "resolution": "4k"}
    assert "2 of 10" in await units_used(alice, channel)


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_clip_audio_modify_reframe_call_their_endpoints(simcord_env, world, fake_luma):
    """audio, modify and reframe each start a job that calls its §A.10 endpoint with the given options."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    source = next(iter(fake_luma.generations))
    await alice.slash(channel, "clip audio", job=1, prompt="rain on water", negative="music")
    await delivered(simcord_env, channel, 2)
    await alice.slash(channel, "clip modify", job=1, prompt="as an ink painting", strength="reimagine_1")
    await delivered(simcord_env, channel, 3)
    result = await alice.slash(channel, "clip reframe", job=1, aspect_ratio="9:16")
    assert not reply_of(result).ephemeral
    final = await delivered(simcord_env, channel, 4)
    assert field(final.embeds[0], "From") == "reframe of #1"
    assert fake_luma.requests_to("POST", f"/generations/{source}/audio")[0].json["negative_prompt"] == "music"
    modify = fake_luma.requests_to("POST", "/generations/video/modify")[0].json
    assert modify["mode"] == "reimagine_1" and modify["media"]["url"].endswith(f"/assets/{source}.mp4")
    assert fake_luma.requests_to("POST", "/generations/video/reframe")[0].json["aspect_ratio"] == "9:16"


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_clip_extend_backward_and_bridge(simcord_env, world, fake_luma):
    """extend backward ends on the clip (frame1); bridge starts on one clip and ends on the other."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    await finished(simcord_env, alice, channel, prompt="the koi leap into the sky")
    first, second = list(fake_luma.generations)
    await alice.slash(channel, "clip extend", job=1, direction="backward", prompt="the rain begins")
    back = await delivered(simcord_env, channel, 3)
    assert field(back.embeds[0], "From") == "extend backward of #1"
    body = fake_luma.requests_to("POST", "/generations/video")[-1].json
    assert body["keyframes"] == {"frame1": {"type": "generation", "id": first}} and body["prompt"] == "the rain begins"
    await alice.slash(channel, "clip bridge", **{"from": 1, "to": 2})
    await delivered(simcord_env, channel, 4)
    body = fake_luma.requests_to("POST", "/generations/video")[-1].json
    assert body["keyframes"] == {"frame0": {"type": "generation", "id": first},
                                 "frame1": {"type": "generation", "id": second}}  # fmt: skip


async def test_clip_modify_of_an_uploaded_mp4_passes_its_link(simcord_env, world, fake_luma):
    """/clip modify video: sends the upload's link as media.url (v1 reads media by URL)."""
    _, channel, alice, _ = world
    await alice.slash(channel, "clip modify", video=("mine.mp4", MP4), prompt="in claymation", strength="flex_2")
    await delivered(simcord_env, channel, 1)
    body = fake_luma.requests_to("POST", "/generations/video/modify")[0].json
    assert body["mode"] == "flex_2" and "mine.mp4" in body["media"]["url"]


# --- refusals ---------------------------------------------------------------------------------------


async def test_refusals_are_ephemeral_and_charge_nothing(simcord_env, world, fake_luma):
    """Another member's job, an unknown job, a GIF, and job+video together are refused; nothing is charged."""
    _, channel, alice, bob = world
    await finished(simcord_env, alice, channel)
    creates = len(fake_luma.generations)
    answers = [
        await bob.slash(channel, "clip upscale", job=1, resolution="1080p"),
        await alice.slash(channel, "clip upscale", job=99, resolution="1080p"),
        await alice.slash(channel, "clip reframe", video=("anim.gif", b"GIF89a" + bytes(64)), aspect_ratio="1:1"),
        await alice.slash(channel, "clip modify", job=1, video=("m.mp4", MP4), prompt="x y z", strength="flex_1"),
    ]
    assert all(reply_of(a).ephemeral for a in answers)
    texts = [reply_of(a).content for a in answers]
    assert "Only the person who made job #1" in texts[0] and "no job #99" in texts[1]
    assert "must be an MP4" in texts[2] and "either `job`" in texts[3]
    assert len(fake_luma.generations) == creates
    assert "1 of 5" in await units_used(alice, channel)


async def test_a_job_of_another_server_is_not_found(simcord_env, world, fake_luma):
    """A job number from another server answers like an unknown one."""
    _, channel, alice, _ = world
    await finished(simcord_env, alice, channel)
    other = simcord_env.create_guild("elsewhere")
    there = other.create_text_channel("general")
    eve = other.add_member(simcord_env.create_user("eve"))
    answer = await eve.slash(there, "clip upscale", job=1, resolution="1080p")
    assert reply_of(answer).ephemeral and "no job #1 in this server" in reply_of(answer).content


class TestProviderWithoutActions:
    @pytest.fixture
    def bot_env(self, umami_bot_env):
        return umami_bot_env

    async def test_a_provider_without_actions_refuses_naming_what_it_can(self, simcord_env, world, fake_umami):
        """A clip made by a provider with no actions is refused ephemerally, nothing charged, and has no menu;
        /clip extend forward still works where its Extend button does."""
        _, channel, alice, _ = world
        result = await finished(simcord_env, alice, channel)
        assert all(child.type.value == 2 for row in result.components for child in row.children)
        answer = await alice.slash(channel, "clip upscale", job=1, resolution="1080p")
        assert reply_of(answer).ephemeral and "can't upscale clips" in reply_of(answer).content
        assert "Nothing was charged" in reply_of(answer).content
        back = await alice.slash(channel, "clip extend", job=1, direction="backward")
        assert reply_of(back).ephemeral and "backward is not possible" in reply_of(back).content
        assert "1 of 5" in await units_used(alice, channel)
        await alice.slash(channel, "clip extend", job=1)
        assert field((await delivered(simcord_env, channel, 2)).embeds[0], "From") == "extend of #1"


# --- the menu ---------------------------------------------------------------------------------------


async def test_menu_lists_the_providers_actions_in_row_two(simcord_env, world, fake_luma):
    """The result has its four buttons on row 1 and the More… select on row 2 with Luma v1's actions."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    assert [c.label for c in result.components[0].children] == ["Re-roll", "Edit prompt", "Extend", "Delete"]
    select = menu(result)
    assert select.custom_id == "reel:more:1" and result.components[1].children == [select]
    assert [o.value for o in select.options] == ["upscale:1080p", "upscale:4k", "audio", "modify", "reframe",
                                                 "extend:backward", "bridge"]  # fmt: skip


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_menu_upscale_starts_at_once_and_modify_opens_a_modal(simcord_env, world, fake_luma):
    """Choosing Upscale starts the job; Modify… opens a modal (prompt, strength select) whose submit starts one."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    chosen = await alice.select(result, ["upscale:1080p"], custom_id="reel:more:1")
    assert chosen.modal is None
    await delivered(simcord_env, channel, 2)
    shown = await alice.select(results(channel)[0], ["modify"], custom_id="reel:more:1")
    assert shown.modal is not None
    await alice.submit_modal(shown, {"prompt": "as stained glass", "strength": ["adhere_2"]})
    done = await delivered(simcord_env, channel, 3)
    assert field(done.embeds[0], "From") == "modify of #1"
    assert fake_luma.requests_to("POST", "/generations/video/modify")[0].json["mode"] == "adhere_2"


async def test_menu_refuses_another_member(simcord_env, world, fake_luma):
    """Bob choosing from Alice's menu gets an ephemeral refusal; nothing starts."""
    _, channel, alice, bob = world
    result = await finished(simcord_env, alice, channel)
    answer = await bob.select(result, ["upscale:4k"], custom_id="reel:more:1")
    assert reply_of(answer).ephemeral and "Only the person who made job #1" in reply_of(answer).content
    assert not fake_luma.requests_to("POST", "/generations/")[1:]


async def test_menu_works_after_a_restart_and_an_action_job_resumes(simcord_env, simcord_bot, bot_env, world,
                                                                     fake_luma):  # fmt: skip
    """The menu of a result posted before a restart still starts an action; an action job running across
    another restart is resumed, polled and delivered once."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    await simcord_bot.close()
    bot = create_bot(bot_env)
    await simcord_env.restart_bot(bot)
    fake_luma.polls_to_complete = None
    await alice.select(result, ["reframe"], custom_id="reel:more:1")  # a modal: answered, nothing started
    await alice.select(result, ["upscale:4k"], custom_id="reel:more:1")
    await advance_until(simcord_env, lambda: len(fake_luma.generations) == 2, step=1)
    await simcord_env.advance_time(10)
    await bot.close()
    upscale = list(fake_luma.generations)[-1]
    fake_luma.set_state(upscale, "completed")
    again = create_bot(bot_env)
    await simcord_env.restart_bot(again)
    done = await delivered(simcord_env, channel, 2)
    assert field(done.embeds[0], "From") == "upscale of #1"
    assert len(fake_luma.requests_to("POST", f"/generations/{next(iter(fake_luma.generations))}/upscale")) == 1
    await again.close()


@pytest.mark.bot_env(QUOTA_DAILY="10")
async def test_a_form_left_open_across_a_restart_still_starts_its_action(simcord_env, simcord_bot, bot_env, world,
                                                                         fake_luma):  # fmt: skip
    """Bridge… and Audio… forms shown before a restart are submitted after it: both actions start, credited."""
    _, channel, alice, _ = world
    result = await finished(simcord_env, alice, channel)
    await finished(simcord_env, alice, channel, prompt="the pond freezes over")
    bridge = await alice.select(result, ["bridge"], custom_id="reel:more:1")
    audio = await alice.select(result, ["audio"], custom_id="reel:more:1")
    await simcord_bot.close()
    bot = create_bot(bot_env)
    await simcord_env.restart_bot(bot)
    try:
        await alice.submit_modal(bridge, {"to": "2", "prompt": "ice spreads across the water"})
        assert field((await delivered(simcord_env, channel, 3)).embeds[0], "From") == "bridge of #1"
        await alice.submit_modal(audio, {"prompt": "cracking ice"})
        assert field((await delivered(simcord_env, channel, 4)).embeds[0], "From") == "audio of #1"
        first, second = list(fake_luma.generations)[:2]
        assert fake_luma.requests_to("POST", "/generations/video")[-1].json["keyframes"]["frame1"]["id"] == second
        assert fake_luma.requests_to("POST", f"/generations/{first}/audio")[0].json["prompt"] == "cracking ice"
    finally:
        await bot.close()
