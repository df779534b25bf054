"""Discord's limits never cost a paid clip: over-long free text is refused before anything is charged (also
from a client that ignores the options' max_length), everything the bot renders fits Discord's limits, and
a result Discord still refuses is posted as a minimal message with the clip. simcord refuses over-long
messages with 400 / 50035 as Discord does (tests/simcord_limits.py)."""

from __future__ import annotations

import discord
import pytest
import simcord
import simcord.interactions

from tests import simcord_limits
from tests.e2e.helpers import advance_until, reply_of, results
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"
WIDE = "🦊"  # one character to Discord, four bytes: limits count characters


@pytest.fixture
def modified_client(monkeypatch):
    """A client that sends any length and any choice (Discord's own client enforces both; others need not)."""
    original = simcord.interactions.validate_option_value
    lax = ("max_length", "min_length", "choices")

    def validate(command_name, option, value):
        return original(command_name, {k: v for k, v in option.items() if k not in lax}, value)

    monkeypatch.setattr(simcord.interactions, "validate_option_value", validate)


def text_of(result) -> str:
    shown = result.followups[-1] if result.followups else reply_of(result)
    return (shown.content or "") + " ".join(e.description or "" for e in shown.embeds)


def declared(env, command: str) -> dict[str, dict]:
    """name → option of `command` as the bot synced it to Discord (the last bulk overwrite of commands)."""
    [*_, synced] = [r.json for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    [spec] = [c for c in synced if c["name"] == command]
    return {o["name"]: o for o in spec["options"]}


async def test_long_camera_text_is_refused_before_the_provider_is_paid(
    simcord_env, simcord_bot, bot_env, world, fake_luma, modified_client
):
    """A 1100-character camera move (sent past the client's max_length) is refused ephemerally naming the
    limit; no generation is created, so no clip is billed and then lost at delivery."""
    _, channel, alice, _ = world
    refused = await alice.slash(channel, "video", prompt=PROMPT, camera="slow spiral " * 100)
    await simcord_env.advance_time(60)
    assert reply_of(refused).ephemeral and "at most 100 characters" in text_of(refused)
    assert fake_luma.create_count == 0, "the provider was never asked (nothing billed)"
    assert jobs(bot_env) == [] and results(channel) == []


OVER_CAP = [("prompt", "x" * 5001, 5000), ("model", "m" * 101, 100), ("aspect_ratio", "9" * 3000, 100),
            ("duration", "5" * 101, 100)]  # fmt: skip


@pytest.mark.parametrize(("option", "value", "cap"), OVER_CAP)
async def test_every_free_text_option_is_capped_in_code(
    simcord_env, simcord_bot, bot_env, world, fake_luma, modified_client, option, value, cap
):
    """Each free-text /video option past its cap gets an ephemeral answer naming the cap; nothing is charged."""
    _, channel, alice, _ = world
    options = {"prompt": PROMPT, option: value}
    refused = await alice.slash(channel, "video", **options)
    assert reply_of(refused).ephemeral and str(cap) in text_of(refused)
    assert fake_luma.create_count == 0 and jobs(bot_env) == []


async def test_discord_clients_are_told_the_caps(simcord_env, simcord_bot, world):
    """The caps are declared on the options, so Discord's own client enforces them as the user types."""
    video = declared(simcord_env, "video")
    assert video["prompt"]["max_length"] == 5000
    assert video["camera"]["max_length"] == 100 and video["model"]["max_length"] == 100
    admin = declared(simcord_env, "videoadmin")
    blocklist = {o["name"]: o for o in admin["blocklist"]["options"]}
    for sub in ("add", "remove"):
        assert {o["name"]: o for o in blocklist[sub]["options"]}["pattern"]["max_length"] == 200


async def test_a_blocklist_pattern_past_its_cap_is_refused_in_code(simcord_env, simcord_bot, world, modified_client):
    """A 3000-character pattern from a modified client is refused naming the 200-character cap (no 400)."""
    guild, channel, _, _ = world
    role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(simcord_env.create_user("root"), roles=[role])
    for sub in ("add", "remove"):
        answer = await admin.slash(channel, f"videoadmin blocklist {sub}", pattern="spam " * 600)
        assert reply_of(answer).ephemeral and "200 characters" in text_of(answer)
    assert await simcord_bot.storage.blocklist(guild.id) == []
    assert simcord_limits.refusals(simcord_env.backend) == []


async def test_the_longest_inputs_fit_everywhere_they_are_rendered(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """A 4800-character prompt and a 100-character camera move (written into the prompt: 4910 in all) of wide
    characters: the status, the result, /job, /history and /quota stay within Discord's limits; the clip arrives."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=WIDE * 4800, camera=WIDE * 100)
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [result] = results(channel)
    assert result.id == reply_of(started).id and result.attachments
    for command, options in (("job", {"id": 1}), ("history", {}), ("quota", {})):
        shown = await alice.slash(channel, command, **options)
        assert reply_of(shown).ephemeral and text_of(shown) is not None
    assert simcord_limits.refusals(simcord_env.backend) == []
    assert [row["state"] for row in jobs(bot_env)] == ["completed"]


async def test_a_long_channel_list_fits_in_one_message(simcord_env, simcord_bot, world):
    """/videoadmin channels list with 120 allowed channels answers (cut to 2000 characters) instead of a 400."""
    guild, channel, _, _ = world
    role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(simcord_env.create_user("root"), roles=[role])
    for n in range(120):
        await simcord_bot.storage.set_channel_rule(guild.id, 10**18 + n, True)
    answer = await admin.slash(channel, "videoadmin channels list")
    assert reply_of(answer).ephemeral and reply_of(answer).content.startswith("/video works only in:")
    assert len(reply_of(answer).content) == 2000 and reply_of(answer).content.endswith("…")
    assert simcord_limits.refusals(simcord_env.backend) == []


async def wait_then_refuse_the_result(env, fake_luma, route: str) -> None:
    """Let the generation start, then make Discord refuse the next request on `route` (the result) once."""
    await advance_until(env, lambda: fake_luma.generations, step=1)
    env.inject_error("PATCH" if "webhooks" in route else "POST", route, status=400, code=50035,
                     message="Invalid Form Body", times=1)  # fmt: skip
    fake_luma.polls_to_complete = 0  # the next poll completes it: no status edit comes before the result


async def test_a_result_discord_refuses_is_posted_as_a_minimal_message(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """Discord refuses the result with 400/50035 for a reason of its own: the clip is posted again as a minimal
    message (the file and the job's number); the job completes and its quota stays charged."""
    _, channel, alice, _ = world
    fake_luma.polls_to_complete = None
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await wait_then_refuse_the_result(simcord_env, fake_luma, "/webhooks/*/messages/*")
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    assert not simcord_env.backend.faults, "the refusal was met by the result"
    [result] = results(channel)
    assert result.id == reply_of(started).id and result.attachments
    assert (await result.attachments[0].read())[4:8] == b"ftyp"
    assert "job #1" in result.content and result.embeds[0].footer.text == "job #1"
    [row] = jobs(bot_env)
    assert row["state"] == "completed" and row["cost"] == 1 and row["result_message_id"] == result.id


async def test_a_refused_result_after_the_token_expired_is_posted_minimal_in_the_channel(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """After the 15-minute token the result is a channel message; a 400 there too ends in a minimal message
    with the clip and a mention, never in a lost clip."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    gen = next(iter(fake_luma.generations))
    for _ in range(16):
        await simcord_env.advance_time(60)
    simcord_env.inject_error("POST", f"/channels/{channel.id}/messages", status=400, code=50035,
                             message="Invalid Form Body", times=1)  # fmt: skip
    fake_luma.set_state(gen, "completed")
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [result] = results(channel)
    assert result.attachments and alice.mention in result.content and "job #1" in result.content
    [row] = jobs(bot_env)
    assert row["state"] == "completed" and row["cost"] == 1


def text_inputs(modal: dict) -> list[dict]:
    rows = [c.get("components") or [c.get("component")] for c in modal["components"]]
    return [c for row in rows for c in row if c and c.get("type") == 4]


async def test_an_edited_prompt_past_the_cap_is_refused_before_charging(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """The Edit prompt modal declares 4000 + 1000 characters; a modified client sending 4000 + 1500 is refused
    ephemerally naming the 5000 cap, and no second job is made."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    shown = await alice.click(results(channel)[0], label="Edit prompt")
    first, more = text_inputs(shown.modal)
    assert first["max_length"] + more["max_length"] == 5000
    for box in text_inputs(shown._interaction.modal):  # simcord's copy, which it checks: a modified client ignores it
        box.pop("max_length")
    refused = await alice.submit_modal(shown, {first["custom_id"]: "x" * 4000, more["custom_id"]: "y" * 1500})
    assert reply_of(refused).ephemeral and "5000 characters" in text_of(refused)
    assert len(jobs(bot_env)) == 1 and fake_luma.create_count == 1


async def test_a_cost_weight_for_an_option_not_offered_is_refused_in_code(simcord_env, simcord_bot, world, modified_client):
    """/videoadmin limits weight with a 3000-character option (not one of the choices) changes nothing."""
    guild, channel, _, _ = world
    role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(simcord_env.create_user("root"), roles=[role])
    answer = await admin.slash(channel, "videoadmin limits weight", option="9s" * 1500, units=3)
    assert reply_of(answer).ephemeral and "Nothing was changed" in text_of(answer)
    assert await simcord_bot.storage.cost_weights(guild.id) == {}
    assert simcord_limits.refusals(simcord_env.backend) == []


async def test_a_link_longer_than_a_message_is_attached_whole(
    simcord_env, simcord_bot, bot_env, world, fake_luma, monkeypatch
):
    """A clip too large to upload whose signed link (2100+ characters) can't fit in a message: the link is
    attached as a text file, whole, instead of being cut into a dead link; the job completes."""
    from tests.fakes.luma import FakeGeneration

    signature = "?X-Amz-Signature=" + "a" * 2100
    plain = FakeGeneration.to_json

    def signed(self, base_url):
        data = plain(self, base_url)
        if data["assets"]:
            data["assets"]["video"] += signature
        return data

    monkeypatch.setattr(FakeGeneration, "to_json", signed)
    _, channel, alice, _ = world
    fake_luma.polls_to_complete = None
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    simcord_env.inject_error("PATCH", "/webhooks/*/messages/*", status=413, code=40005, times=1)
    fake_luma.polls_to_complete = 0
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    [result] = results(channel)
    [attached] = result.attachments
    link = (await attached.read()).decode()
    assert attached.filename == "reelbot-1-link.txt" and link.endswith(signature) and "/assets/" in link
    assert "attached file" in result.content and len(result.content) <= 2000
    assert [row["state"] for row in jobs(bot_env)] == ["completed"]
    assert simcord_limits.refusals(simcord_env.backend) == []
