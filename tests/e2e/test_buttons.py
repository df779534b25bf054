"""Result buttons end to end: Re-roll, Edit prompt (modal), Extend (Luma and UmamiAI), Delete — for the
requester, an admin and a stranger, after a restart and on a job that no longer exists."""

from __future__ import annotations

import sqlite3

import discord
import pytest

from bot.client import create_bot
from tests.e2e.helpers import advance_until, field, reply_of, results
from tests.fakes.segmind import FakeSegmind

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a paper lantern drifting over a dark lake"
RESULT_LABELS = ["Re-roll", "Edit prompt", "Extend", "Delete"]


def buttons(message: discord.Message) -> list:
    """The buttons (row 1; the "More…" select below them is tests/e2e/test_clip.py's)."""
    return [c for row in message.components for c in row.children if c.type is discord.ComponentType.button]


def labels(message: discord.Message) -> list[str]:
    return [child.label for child in buttons(message)]


def custom_ids(message: discord.Message) -> list[str]:
    return [child.custom_id for child in buttons(message)]


async def first_result(env, user, channel, **options) -> discord.Message:
    """Run /video to the end; the finished clip's message."""
    before = len(results(channel))
    await user.slash(channel, "video", prompt=options.pop("prompt", PROMPT), **options)
    await advance_until(env, lambda: len(results(channel)) > before)
    return results(channel)[-1]


async def next_result(env, channel, count: int) -> discord.Message:
    await advance_until(env, lambda: len(results(channel)) >= count)
    return results(channel)[-1]


@pytest.fixture
def admin(simcord_env, world):
    guild = world[0]
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(simcord_env.create_user("carol"), roles=[role])


async def restart(env, old_bot, bot_env):
    await old_bot.close()
    new_bot = create_bot(bot_env)
    await env.restart_bot(new_bot)
    return new_bot


# --- what a result carries -----------------------------------------------------------------------


async def test_result_carries_reroll_edit_extend_delete_keyed_by_job_id(simcord_env, world, fake_luma):
    """A finished clip has the four buttons, each a `reel:<action>:<job_id>` custom id."""
    _, channel, alice, _ = world
    result = await first_result(simcord_env, alice, channel)
    assert labels(result) == RESULT_LABELS
    assert custom_ids(result) == [f"reel:{a}:1" for a in ("reroll", "edit", "extend", "delete")]


async def test_result_delivered_after_the_token_expired_has_the_buttons_too(simcord_env, world, fake_luma):
    """The channel-message delivery path (after 15 minutes) carries the same result buttons."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    for _ in range(16):
        await simcord_env.advance_time(60)
    fake_luma.set_state(next(iter(fake_luma.generations)), "completed")
    await advance_until(simcord_env, lambda: results(channel))
    [result] = results(channel)
    assert alice.mention in result.content
    assert labels(result) == RESULT_LABELS


# --- Re-roll ---------------------------------------------------------------------------------------


async def test_reroll_starts_a_new_charged_job_with_the_same_prompt_and_credit(simcord_env, world, fake_luma):
    """Re-roll sends the same prompt and options to Luma again, charges a unit and credits the original."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel, aspect_ratio="9:16", resolution="1080p")
    clicked = await alice.click(first, label="Re-roll")
    assert not reply_of(clicked).ephemeral
    assert field(reply_of(clicked).embeds[0], "From") == "re-roll of #1"
    second = await next_result(simcord_env, channel, 2)
    assert field(second.embeds[0], "From") == "re-roll of #1"
    assert "job #2" in second.embeds[0].footer.text
    bodies = [r.json for r in fake_luma.requests_to("POST", "/generations")]
    assert len(bodies) == 2
    assert bodies[1] == bodies[0], "same prompt and options"
    assert bodies[1]["aspect_ratio"] == "9:16" and bodies[1]["resolution"] == "1080p"
    quota = await alice.slash(channel, "quota")
    assert "2 of 5 videos used" in reply_of(quota).embeds[0].description


async def test_reroll_by_someone_else_is_refused_ephemerally(simcord_env, world, fake_luma):
    """Bob can't re-roll Alice's clip: he gets an ephemeral refusal and nothing is sent to Luma."""
    _, channel, alice, bob = world
    first = await first_result(simcord_env, alice, channel)
    refused = await bob.click(first, label="Re-roll")
    assert reply_of(refused).ephemeral and "Only the person who made this video" in reply_of(refused).content
    await simcord_env.advance_time(30)
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


async def test_reroll_by_an_admin_is_allowed(simcord_env, world, fake_luma, admin):
    """A server admin (manage_guild) may re-roll anyone's clip; the new job is the admin's."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    await admin.click(first, label="Re-roll")
    second = await next_result(simcord_env, channel, 2)
    assert field(second.embeds[0], "Requested by") == admin.mention


@pytest.mark.bot_env(QUOTA_DAILY="1")
async def test_reroll_goes_through_the_quota(simcord_env, world, fake_luma):
    """A re-roll is charged like any job: with the day's quota spent it is refused, ephemerally."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    refused = await alice.click(first, label="Re-roll")
    assert reply_of(refused).ephemeral and "used 1 of 1 videos today" in reply_of(refused).content
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


async def test_buttons_work_after_a_restart(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """A result posted before a restart, clicked a day later, still answers: Re-roll starts a credited job."""
    _, channel, alice, bob = world
    first = await first_result(simcord_env, alice, channel)
    new_bot = await restart(simcord_env, simcord_bot, bot_env)
    try:
        await simcord_env.advance_time(24 * 3600)  # long past any view timeout or interaction token
        refused = await bob.click(first, label="Delete")
        assert reply_of(refused).ephemeral and "Only the person" in reply_of(refused).content
        await alice.click(first, label="Re-roll")
        second = await next_result(simcord_env, channel, 2)
        assert field(second.embeds[0], "From") == "re-roll of #1"
    finally:
        await new_bot.close()


@pytest.mark.parametrize("label", RESULT_LABELS)
async def test_button_on_a_job_that_no_longer_exists_says_so(simcord_env, world, fake_luma, tmp_path, label):
    """Each result button on a job whose row is gone answers ephemerally that the job no longer exists."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    with sqlite3.connect(tmp_path / "reelbot.db") as db:
        db.execute("DELETE FROM jobs WHERE id = 1")
    clicked = await alice.click(first, label=label)
    assert reply_of(clicked).ephemeral and "no longer exists" in reply_of(clicked).content
    assert clicked.modal is None
    assert len(results(channel)) == 1, "the message stays"
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


# --- Edit prompt -----------------------------------------------------------------------------------


async def test_edit_prompt_modal_is_prefilled_and_starts_an_edited_job(simcord_env, world, fake_luma):
    """Edit prompt shows a modal with the prompt; submitting runs the edited prompt with the same options."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel, aspect_ratio="1:1", loop=True)
    shown = await alice.click(first, label="Edit prompt")
    assert shown.modal is not None, "the modal is the first response"
    assert len(shown.modal["title"]) <= 45
    inputs = _modal_inputs(shown.modal)
    assert inputs[0]["value"] == PROMPT and inputs[0]["max_length"] <= 4000
    submitted = await alice.submit_modal(
        shown, {inputs[0]["custom_id"]: "a paper lantern drifting over a frozen lake at dawn"}
    )
    assert not reply_of(submitted).ephemeral
    second = await next_result(simcord_env, channel, 2)
    assert field(second.embeds[0], "Prompt") == "a paper lantern drifting over a frozen lake at dawn"
    assert field(second.embeds[0], "From") == "edit of #1"
    body = fake_luma.requests_to("POST", "/generations")[-1].json
    assert body["prompt"] == "a paper lantern drifting over a frozen lake at dawn"
    assert body["aspect_ratio"] == "1:1" and body["loop"] is True


async def test_edit_prompt_of_a_5000_character_prompt_round_trips(simcord_env, world, fake_luma):
    """A prompt longer than one text input (4000) is split over two boxes and comes back whole."""
    _, channel, alice, _ = world
    long_prompt = " ".join(["lantern"] * 625)[:4999].strip()
    first = await first_result(simcord_env, alice, channel, prompt=long_prompt)
    shown = await alice.click(first, label="Edit prompt")
    first_box, more_box = _modal_inputs(shown.modal)
    assert len(first_box["value"]) <= 4000 and more_box["value"]
    await alice.submit_modal(shown, {first_box["custom_id"]: first_box["value"], more_box["custom_id"]: more_box["value"]})
    await next_result(simcord_env, channel, 2)
    assert fake_luma.requests_to("POST", "/generations")[-1].json["prompt"] == long_prompt


async def test_edit_prompt_too_short_is_refused_and_nothing_is_charged(simcord_env, world, fake_luma):
    """An edited prompt under 3 characters is refused ephemerally; no job is made."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    shown = await alice.click(first, label="Edit prompt")
    box = _modal_inputs(shown.modal)[0]
    refused = await alice.submit_modal(shown, {box["custom_id"]: "ok"})
    assert reply_of(refused).ephemeral and "3 to 5000 characters" in reply_of(refused).content
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


async def test_edit_prompt_modal_left_open_across_a_restart_still_submits(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """A modal shown before a restart is answered after it: the edited job starts, credited to the original."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    shown = await alice.click(first, label="Edit prompt")
    new_bot = await restart(simcord_env, simcord_bot, bot_env)
    try:
        box = _modal_inputs(shown.modal)[0]
        submitted = await alice.submit_modal(shown, {box["custom_id"]: "a paper lantern rising into the stars"})
        assert not reply_of(submitted).ephemeral
        second = await next_result(simcord_env, channel, 2)
        assert field(second.embeds[0], "Prompt") == "a paper lantern rising into the stars"
        assert field(second.embeds[0], "From") == "edit of #1"
    finally:
        await new_bot.close()


async def test_edit_prompt_by_someone_else_gets_no_modal(simcord_env, world, fake_luma):
    """Bob clicking Edit prompt on Alice's clip gets an ephemeral refusal instead of a modal."""
    _, channel, alice, bob = world
    first = await first_result(simcord_env, alice, channel)
    refused = await bob.click(first, label="Edit prompt")
    assert refused.modal is None
    assert reply_of(refused).ephemeral and "edit its prompt" in reply_of(refused).content


def _modal_inputs(modal: dict) -> list[dict]:
    out = []
    for component in modal["components"]:
        children = component.get("components") or ([component["component"]] if "component" in component else [])
        out += [c for c in children if c.get("type") == 4]
    return out


# --- Extend ----------------------------------------------------------------------------------------


async def test_extend_on_luma_sends_a_generation_keyframe(simcord_env, world, fake_luma):
    """Extend continues the clip: Luma gets keyframes.frame0 = {type: generation, id: <the clip's id>}."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    [source] = list(fake_luma.generations)
    await alice.click(first, label="Extend")
    second = await next_result(simcord_env, channel, 2)
    body = fake_luma.requests_to("POST", "/generations")[-1].json
    assert body["keyframes"] == {"frame0": {"type": "generation", "id": source}}
    assert body["prompt"] == PROMPT
    assert field(second.embeds[0], "From") == "extend of #1"
    assert "Extend" in labels(second), "an extension extends again"


async def test_extend_drops_image_keyframes(simcord_env, world, fake_luma):
    """Extending an image-to-video clip does not resend the (expiring) start image: the clip is frame0."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel, start_image=("start.png", PNG))
    [source] = list(fake_luma.generations)
    await alice.click(first, label="Extend")
    await next_result(simcord_env, channel, 2)
    body = fake_luma.requests_to("POST", "/generations")[-1].json
    assert body["keyframes"] == {"frame0": {"type": "generation", "id": source}}


async def test_extend_by_someone_else_is_refused(simcord_env, world, fake_luma):
    """Bob can't extend Alice's clip."""
    _, channel, alice, bob = world
    first = await first_result(simcord_env, alice, channel)
    refused = await bob.click(first, label="Extend")
    assert reply_of(refused).ephemeral and "extend it" in reply_of(refused).content
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class TestUmami:
    """Extend on a bot whose only provider is UmamiAI."""

    @pytest.fixture
    def bot_env(self, umami_bot_env):
        return umami_bot_env

    async def test_extend_on_umami_posts_to_the_extend_endpoint(self, simcord_env, world, fake_umami):
        """Extend on UmamiAI posts the v1 body to /v1/luma-ai/generations/{id}/extend."""
        _, channel, alice, _ = world
        first = await first_result(simcord_env, alice, channel)
        [source] = list(fake_umami.generations)
        await alice.click(first, label="Extend")
        second = await next_result(simcord_env, channel, 2)
        [extend] = fake_umami.log_for("extend")
        assert extend.path == f"/v1/luma-ai/generations/{source}/extend"
        assert extend.json["user_prompt"] == PROMPT
        extended = [g for g in fake_umami.generations.values() if g.extended_from == source]
        assert len(extended) == 1
        assert field(second.embeds[0], "From") == "extend of #1"
        assert len(fake_umami.log_for("create")) == 1, "the extension is not a fresh generation"


class TestNoExtend:
    """A provider that cannot extend (Segmind) gets no Extend button."""

    @pytest.fixture
    async def fake_segmind(self):
        async with FakeSegmind() as fake:
            yield fake

    @pytest.fixture
    def bot_env(self, fake_segmind, tmp_path):
        return {
            "DISCORD_TOKEN": "unused-offline",
            "VIDEO_PROVIDERS": "segmind",
            "SEGMIND_API_KEY": fake_segmind.api_key,
            "SEGMIND_BASE_URL": fake_segmind.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
            "DATA_DIR": str(tmp_path / "data"),
            "ALLOW_LOCAL_PROVIDER_URLS": "true",
        }

    async def test_extend_button_is_absent(self, simcord_env, world, fake_segmind):
        """Results from a provider whose capabilities say no extend show Re-roll, Edit prompt and Delete only."""
        _, channel, alice, _ = world
        result = await first_result(simcord_env, alice, channel)
        assert labels(result) == ["Re-roll", "Edit prompt", "Delete"]


async def test_extend_of_a_clip_from_a_provider_no_longer_configured_explains(simcord_env, world, fake_luma, tmp_path):
    """Extend on a clip made by a provider the bot no longer uses explains why, and sends nothing elsewhere."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    with sqlite3.connect(tmp_path / "reelbot.db") as db:
        db.execute("UPDATE jobs SET provider = 'segmind' WHERE id = 1")
    clicked = await alice.click(first, label="Extend")
    assert reply_of(clicked).ephemeral and "only the service that made a clip can continue it" in reply_of(clicked).content
    assert len(fake_luma.requests_to("POST", "/generations")) == 1


# --- Delete ----------------------------------------------------------------------------------------


async def test_delete_by_the_requester_removes_the_clip(simcord_env, world, fake_luma):
    """Alice's Delete removes her clip's message."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    await alice.click(first, label="Delete")
    assert results(channel) == []
    assert first.id not in [m.id for m in channel.history()]


async def test_delete_of_a_clip_posted_after_the_token_expired_updates_the_status(simcord_env, world, fake_luma):
    """Deleting a clip posted as its own channel message also turns its status ('Jump to the video') into 'Deleted'."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    for _ in range(16):
        await simcord_env.advance_time(60)
    fake_luma.set_state(next(iter(fake_luma.generations)), "completed")
    await advance_until(simcord_env, lambda: results(channel))
    assert reply_of(started).embeds[0].title == "✅ Done"
    await alice.click(results(channel)[0], label="Delete")
    assert results(channel) == []
    assert reply_of(started).embeds[0].title == "🗑️ Deleted"
    assert "Jump" not in (reply_of(started).embeds[0].description or "")


async def test_delete_by_an_admin_removes_the_clip(simcord_env, world, fake_luma, admin):
    """A server admin may delete anyone's clip."""
    _, channel, alice, _ = world
    first = await first_result(simcord_env, alice, channel)
    await admin.click(first, label="Delete")
    assert results(channel) == []


async def test_delete_by_someone_else_is_refused(simcord_env, world, fake_luma):
    """Bob's Delete on Alice's clip is refused ephemerally and the clip stays."""
    _, channel, alice, bob = world
    first = await first_result(simcord_env, alice, channel)
    refused = await bob.click(first, label="Delete")
    assert reply_of(refused).ephemeral and "delete it" in reply_of(refused).content
    assert [m.id for m in results(channel)] == [first.id]


class TestExtendNeverFallsOver:
    """With Luma first and UmamiAI as fallback, an extension of a Luma clip stays with Luma."""

    @pytest.fixture
    def bot_env(self, umami_bot_env, fake_luma):
        return {**umami_bot_env, "VIDEO_PROVIDERS": "luma,umami", "LUMAAI_API_KEY": fake_luma.api_key,
                "LUMAAI_BASE_URL": fake_luma.base_url}  # fmt: skip

    async def test_extend_while_luma_is_down_fails_instead_of_going_to_umami(
        self, simcord_env, world, fake_luma, fake_umami
    ):
        """Luma down at submit: a re-roll falls over to UmamiAI, an extension fails and is refunded instead."""
        _, channel, alice, _ = world
        first = await first_result(simcord_env, alice, channel)
        fake_luma.fail_next("POST", "/generations", 503, times=20)
        extend = await alice.click(first, label="Extend")
        await advance_until(simcord_env, lambda: reply_of(extend).embeds[0].title == "❌ Failed")
        assert fake_umami.requests == [], "UmamiAI never heard of the Luma generation"
        await alice.click(first, label="Re-roll")
        rerolled = await next_result(simcord_env, channel, 2)
        assert "UmamiAI" in rerolled.embeds[0].footer.text
        quota = await alice.slash(channel, "quota")
        assert "2 of 5 videos used" in reply_of(quota).embeds[0].description, "the failed extension was refunded"
