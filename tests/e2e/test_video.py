"""/video end to end on (fake) Luma: status message, delivery, options, refusals."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until, bot_messages, field, reply_of, results, title

pytestmark = pytest.mark.simcord(settle_timeout=1)

FOX = "a red fox running through snow"


async def test_status_message_turns_into_inline_mp4(simcord_env, world, fake_luma):
    """One status message goes queued → generating → the MP4 with an embed describing the job."""
    _, channel, alice, _ = world
    result = await alice.slash(channel, "video", prompt=FOX, aspect_ratio="16:9")

    callbacks = [r for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callbacks and callbacks[0].json["type"] == 4, "the interaction is answered at once"
    assert not reply_of(result).ephemeral
    assert title(reply_of(result)) in ("⏳ Queued", "📨 Sending", "🎬 Generating")

    await advance_until(simcord_env, lambda: results(channel))
    [message] = results(channel)
    assert message.id == reply_of(result).id, "the status message itself became the result"
    assert len(bot_messages(channel)) == 1, "never a new message per update"
    [attachment] = message.attachments
    assert attachment.filename.endswith(".mp4")
    assert (await attachment.read())[4:8] == b"ftyp"
    embed = message.embeds[0]
    assert FOX in field(embed, "Prompt")
    assert field(embed, "Model") == "ray-2"
    assert "16:9" in field(embed, "Options")
    assert field(embed, "Requested by") == alice.mention
    assert field(embed, "Time taken").endswith("s")
    assert embed.footer.text.startswith("job #1")


async def test_generating_status_shows_elapsed_and_provider_words(simcord_env, world, fake_luma):
    """While Luma is dreaming the status message says 'Generating' with the elapsed time."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    result = await alice.slash(channel, "video", prompt=FOX)
    await simcord_env.advance_time(30)
    status = reply_of(result)  # re-read from the simulated server on every access
    assert title(status) == "🎬 Generating"
    assert "elapsed" in status.embeds[0].description
    assert [c["label"] for row in status.components for c in row["components"]] == ["Cancel"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"aspect_ratio": "9:16", "loop": True, "resolution": "1080p", "duration": "9s", "model": "ray-flash-2"},
         {"aspect_ratio": "9:16", "loop": True, "resolution": "1080p", "duration": "9s", "model": "ray-flash-2"}),
        ({"resolution": "540p"}, {"resolution": "540p", "model": "ray-2", "duration": "5s", "loop": False}),
        ({"resolution": "4k"}, {"resolution": "4k"}),
        ({"camera": "orbit_left"}, {"concepts": [{"key": "orbit_left"}]}),
    ],
)
async def test_options_reach_luma(simcord_env, world, fake_luma, options, expected):
    """Every supported option is sent to Luma as Luma names it."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=FOX, **options)
    await advance_until(simcord_env, lambda: fake_luma.requests_to("POST", "/generations"))
    body = fake_luma.requests_to("POST", "/generations")[0].json
    for key, value in expected.items():
        assert body[key] == value


async def test_keyframe_images_become_luma_keyframes(simcord_env, world, fake_luma):
    """start_image/end_image attachments are passed to Luma as image keyframes."""
    _, channel, alice, _ = world
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    await alice.slash(channel, "video", prompt=FOX, start_image=("start.png", png), end_image=("end.png", png))
    await advance_until(simcord_env, lambda: fake_luma.requests_to("POST", "/generations"))
    keyframes = fake_luma.requests_to("POST", "/generations")[0].json["keyframes"]
    assert keyframes["frame0"]["type"] == "image" and keyframes["frame0"]["url"].startswith("https://")
    assert keyframes["frame1"]["type"] == "image" and "end.png" in keyframes["frame1"]["url"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"duration": "10s"}, "duration `10s` is not possible; use `5s`, `9s`"),
        ({"prompt": "hi"}, "3 to 5000 characters"),
        # a 5001-character prompt: Discord's client refuses it (max_length); tests/reliability/test_discord_limits.py
        ({"model": "ray-v3"}, "model `ray-v3` is not offered"),
        ({"loop": True, "end_image": ("end.png", b"\x89PNG\r\n\x1a\n")}, "loop cannot be combined with an end image"),
        ({"start_image": ("notes.txt", b"hello")}, "PNG, JPEG or WebP"),
    ],
)
async def test_impossible_requests_are_refused_before_charging(simcord_env, world, fake_luma, options, says):
    """Options Luma can't do and bad prompts get an ephemeral answer; nothing is sent or charged."""
    _, channel, alice, _ = world
    options = {"prompt": FOX, **options}
    result = await alice.slash(channel, "video", **options)
    assert reply_of(result).ephemeral
    assert says in reply_of(result).content
    assert "Nothing was charged" in reply_of(result).content
    assert fake_luma.requests_to("POST", "/generations") == []
    quota = await alice.slash(channel, "quota")
    assert "0 of 5 videos used" in reply_of(quota).embeds[0].description
