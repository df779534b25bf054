"""/video on Luma Ray 3.2 (the `luma-agents` provider) end to end: the real bot, simcord and the fake Agents
API: text-to-video at 360p/10s, keyframes through the Files API (and a re-roll that reuses them), HDR allowed
and refused, combination rules refused before charging, Cancel without a cancel endpoint, and a restart that
still delivers exactly once with a fresh link."""

from __future__ import annotations

import sqlite3

import pytest

from bot.client import create_bot
from bot.domain import JobState
from bot.providers.luma_agents import user_tag
from tests.e2e.helpers import advance_until, field, reply_of, results, title
from tests.fakes.luma_agents import FakeLumaAgents

pytestmark = pytest.mark.simcord(settle_timeout=1)

KEY = "luma-api-e2e-secret-6b2f0c"
PROMPT = "a hot-air balloon over a misty valley"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
async def fake_agents():
    async with FakeLumaAgents(api_key=KEY, polls_to_process=1, polls_to_complete=3) as fake:
        yield fake


@pytest.fixture
def bot_env(tmp_path, fake_agents, fake_luma):
    """luma-agents first (by default order: both keys set, VIDEO_PROVIDERS unset), Luma v1 as the fallback."""
    return {
        "DISCORD_TOKEN": "unused-offline",
        "LUMA_AGENTS_API_KEY": KEY,
        "LUMA_AGENTS_BASE_URL": fake_agents.base_url,
        "LUMAAI_API_KEY": fake_luma.api_key,
        "LUMAAI_BASE_URL": fake_luma.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "QUOTA_DAILY": "5",
        "ALLOW_LOCAL_PROVIDER_URLS": "true",  # the fakes serve results over http on 127.0.0.1
    }


async def used_today(user, channel) -> str:
    quota = await user.slash(channel, "quota")
    return reply_of(quota).embeds[0].description


def job_id(message) -> int:
    return int(message.embeds[0].footer.text.split(" · ")[0].removeprefix("job #"))


async def test_text_to_video_draft_tier_is_delivered_with_its_thumbnail(simcord_env, world, fake_agents, fake_luma):
    """A 360p 10s clip goes to Ray 3.2 (not Luma v1), tagged with a keyed user hash, and is posted with the still."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, resolution="360p", duration="10s")
    result = await _result(simcord_env, channel)
    [create] = fake_agents.requests_to("POST", "/generations")
    assert create.json["video"] == {"resolution": "360p", "duration": "10s"}
    assert create.json["user_id"] == user_tag(KEY, alice.id) and str(alice.id) not in str(create.json)
    assert fake_luma.requests_to("POST") == []
    embed = result.embeds[0]
    assert field(embed, "Model") == "ray-3.2" and "360p · 10s" in field(embed, "Options")
    assert embed.image.url and "/outputs/" in embed.image.url
    assert (await result.attachments[0].read())[4:8] == b"ftyp"


async def _result(env, channel):
    await advance_until(env, lambda: results(channel))
    return results(channel)[-1]


async def test_keyframes_go_through_the_files_api_and_a_reroll_reuses_them(simcord_env, simcord_bot, world, fake_agents):
    """Start and end images are uploaded once as files, referenced by file_id, and kept for a re-roll."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT, start_image=("s.png", PNG), end_image=("e.jpg", JPEG))
    result = await _result(simcord_env, channel)
    uploads = fake_agents.requests_to("POST", "/files")
    assert len(uploads) == 2 and sorted(f.data for f in fake_agents.files.values()) == sorted([PNG, JPEG])
    job = await simcord_bot.storage.get_job(job_id(reply_of(started)))
    assert job.request.start_image_file in fake_agents.files and job.request.end_image_file in fake_agents.files
    [create] = fake_agents.requests_to("POST", "/generations")
    assert create.json["video"]["start_frame"] == {"file_id": job.request.start_image_file}
    assert create.json["video"]["end_frame"] == {"file_id": job.request.end_image_file}

    await alice.click(result, label="Re-roll")
    await advance_until(simcord_env, lambda: len(results(channel)) == 2)
    again = fake_agents.requests_to("POST", "/generations")[-1]
    assert again.json["video"]["start_frame"] == create.json["video"]["start_frame"]
    assert len(fake_agents.requests_to("POST", "/files")) == 2, "the re-roll uploads nothing new"


async def test_hdr_is_sent_where_the_plan_allows_it(simcord_env, world, fake_agents):
    """hdr at 1080p reaches Ray 3.2 as video.hdr and the result says HDR."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, hdr=True, resolution="1080p")
    result = await _result(simcord_env, channel)
    [create] = fake_agents.requests_to("POST", "/generations")
    assert create.json["video"] == {"resolution": "1080p", "duration": "5s", "hdr": True}
    assert "HDR" in field(result.embeds[0], "Options")


async def test_hdr_on_a_plan_without_it_is_refused_clearly_and_refunded(simcord_env, world, fake_agents):
    """Luma's 403 "HDR not enabled" ends the job with "Your Luma plan has no HDR" and the quota comes back."""
    fake_agents.hdr_enabled = False
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT, hdr=True)
    await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", step=1)
    assert "Your Luma plan has no HDR" in reply_of(started).embeds[0].description
    assert "0 of 5 videos used" in await used_today(alice, channel)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"hdr": True, "resolution": "540p"}, "HDR needs resolution `720p`, `1080p`"),
        ({"hdr": True, "loop": True}, "HDR cannot be combined with loop"),
        ({"duration": "10s", "start_image": ("s.png", PNG)}, "needs duration `5s`"),
        ({"duration": "10s", "loop": True}, "loop needs duration `5s`"),
    ],
    ids=["hdr-540p", "hdr-loop", "10s-start-image", "10s-loop"],
)
async def test_impossible_combinations_are_refused_before_anything_is_charged(
    simcord_env, world, fake_agents, fake_luma, options, named
):
    """No provider can do it: an ephemeral answer naming what is possible; nothing uploaded, sent or charged."""
    _, channel, alice, _ = world
    refused = await alice.slash(channel, "video", prompt=PROMPT, **options)
    answer = reply_of(refused)
    assert answer.ephemeral and named in answer.content and "Nothing was charged" in answer.content
    assert fake_agents.requests == [] and fake_luma.requests_to("POST") == []
    assert "0 of 5 videos used" in await used_today(alice, channel)


async def test_cancel_stops_waiting_refunds_and_warns_luma_may_bill(simcord_env, world, fake_agents):
    """No cancel endpoint: Cancel refunds, sends nothing to Luma and says the clip may still be billed."""
    fake_agents.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_agents.generations, step=1)
    seen = len(fake_agents.requests)
    await alice.click(reply_of(started).message, label="Cancel")
    assert title(reply_of(started)) == "🚫 Cancelled"
    assert "may still be billed" in reply_of(started).embeds[0].description
    await simcord_env.advance_time(30)
    assert len(fake_agents.requests) == seen and "0 of 5 videos used" in await used_today(alice, channel)


async def test_restart_after_the_link_expired_delivers_once_with_a_fresh_link(
    simcord_env, simcord_bot, bot_env, world, fake_agents, tmp_path
):
    """A job left mid-delivery with a stored link that has since expired re-reads the generation for a fresh
    one after the restart and is delivered exactly once."""
    fake_agents.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_agents.generations, step=1)
    await simcord_env.advance_time(10)
    await simcord_bot.close()
    [gen] = fake_agents.generations.values()
    gen.state = "completed"
    stale = fake_agents._mint(gen.id)  # the link the bot would have stored on completion...
    fake_agents.expire_outputs()  # ...and which died during the (over an hour long) outage
    with sqlite3.connect(tmp_path / "reelbot.db") as db:
        db.execute("UPDATE jobs SET state = 'delivering', video_url = ?", (stale,))
    new_bot = create_bot(bot_env)
    await simcord_env.restart_bot(new_bot)
    try:
        await advance_until(simcord_env, lambda: results(channel))
        await simcord_env.advance_time(60)
        [result] = results(channel)
        assert alice.mention in result.content
        assert fake_agents.downloads == [gen.id], "downloaded once, through a fresh link"
        assert len(fake_agents.requests_to("POST", "/generations")) == 1, "never resubmitted"
    finally:
        await new_bot.close()


async def test_restart_mid_generation_polls_on_and_delivers_once(simcord_env, simcord_bot, bot_env, world, fake_agents):
    """A generation still processing when the bot stops is polled after the restart and posted once."""
    fake_agents.polls_to_complete = None
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_agents.generations, step=1)
    await simcord_env.advance_time(10)
    await simcord_bot.close()
    new_bot = create_bot(bot_env)
    await simcord_env.restart_bot(new_bot)
    try:
        [gen] = fake_agents.generations.values()
        fake_agents.expire_outputs()
        gen.state = "completed"
        await advance_until(simcord_env, lambda: results(channel))
        await simcord_env.advance_time(60)
        assert len(results(channel)) == 1 and fake_agents.downloads == [gen.id]
        assert len(fake_agents.requests_to("POST", "/generations")) == 1
    finally:
        await new_bot.close()


class TestOtherProviders:
    """With Luma v1 only, the Ray 3.2 options are refused ephemerally, the way any impossible option is."""

    @pytest.fixture
    def bot_env(self, tmp_path, fake_luma):
        return {
            "DISCORD_TOKEN": "unused-offline", "VIDEO_PROVIDERS": "luma", "LUMAAI_API_KEY": fake_luma.api_key,
            "LUMAAI_BASE_URL": fake_luma.base_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
            "DATA_DIR": str(tmp_path / "data"),
        }  # fmt: skip

    @pytest.mark.parametrize(
        ("options", "named"),
        [({"hdr": True}, "HDR is not possible"), ({"resolution": "360p"}, "resolution `360p` is not possible")],
        ids=["hdr", "360p"],
    )
    async def test_ray_3_2_options_are_refused_by_luma_v1(self, simcord_env, world, fake_luma, options, named):
        """hdr and 360p on a provider without them: ephemeral, naming what is possible, nothing sent."""
        _, channel, alice, _ = world
        refused = await alice.slash(channel, "video", prompt=PROMPT, **options)
        assert reply_of(refused).ephemeral and named in reply_of(refused).content
        assert fake_luma.requests_to("POST") == []


# --- failure codes through the runner --------------------------------------------------------------------


async def test_a_model_error_is_retried_once_and_the_new_generation_delivered(simcord_env, simcord_bot, world, fake_agents):
    """generation_failed: one new generation with the same body; the job follows its id and delivers the clip."""
    fake_agents.fail_next_generation("generation_failed", "Internal model error")
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await _result(simcord_env, channel)
    first, second = fake_agents.requests_to("POST", "/generations")
    assert first.json == second.json
    job = await simcord_bot.storage.get_job(job_id(reply_of(started)))
    retry = [g for g in fake_agents.generations.values() if g.state == "completed"]
    assert job.state is JobState.COMPLETED and [job.provider_job_id] == [g.id for g in retry]
    assert "1 of 5 videos used" in await used_today(alice, channel)


async def test_moderation_is_not_refunded(simcord_env, world, fake_agents):
    """content_moderated: the job fails with Luma's reason and the quota stays spent."""
    fake_agents.fail_next_generation("content_moderated", "Prompt violated content guidelines")
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", step=1)
    assert "Prompt violated content guidelines" in reply_of(started).embeds[0].description
    assert "1 of 5 videos used" in await used_today(alice, channel)
    assert len(fake_agents.requests_to("POST", "/generations")) == 1


async def test_an_exhausted_budget_is_refunded_and_logged_for_the_operator(simcord_env, world, fake_agents, caplog):
    """budget_exhausted: refunded, the user told an admin knows, and an ERROR line for the operator."""
    fake_agents.fail_next_generation("budget_exhausted", "Ran out of funds mid-generation")
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(started)) == "❌ Failed", step=1)
    assert "ran out of funds" in reply_of(started).embeds[0].description
    assert "0 of 5 videos used" in await used_today(alice, channel)
    assert any(r.levelname == "ERROR" and "budget_exhausted" in r.getMessage() for r in caplog.records)


async def test_an_upload_that_fails_charges_nothing_and_leaves_no_message(simcord_env, world, fake_agents, fake_luma):
    """Files API down at /video time: the private placeholder says why, nothing public, nothing charged."""
    fake_agents.fail_next("POST", "/files", 400, {"detail": "Bad image data"})
    _, channel, alice, _ = world
    refused = await alice.slash(channel, "video", prompt=PROMPT, start_image=("s.png", PNG))
    assert refused.ephemeral and "Bad image data" in refused.response.content and refused.followups == []
    assert not [r for r in simcord_env.http_requests if r.method == "POST" and r.path.startswith("/webhooks/")]
    assert [m for m in channel.history() if m.author.bot] == []
    assert fake_agents.requests_to("POST", "/generations") == [] and fake_luma.requests_to("POST") == []
    assert "0 of 5 videos used" in await used_today(alice, channel)


async def test_extend_of_an_hdr_clip_continues_it_in_sdr(simcord_env, world, fake_agents):
    """Extend on Ray 3.2 sends start_frame.generation_id; an HDR original is continued in SDR (an extension is
    SDR only at Luma) instead of the button being refused."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, hdr=True, resolution="1080p")
    first = await _result(simcord_env, channel)
    await alice.click(first, label="Extend")
    await advance_until(simcord_env, lambda: len(results(channel)) == 2)
    source, extension = fake_agents.requests_to("POST", "/generations")
    [made] = [g.id for g in fake_agents.generations.values() if g.body == source.json]
    assert extension.json["video"] == {"resolution": "1080p", "duration": "5s", "start_frame": {"generation_id": made}}


async def test_a_deleted_result_is_reposted_days_later_through_a_fresh_link(simcord_env, world, fake_agents):
    """Re-post of a Ray 3.2 clip whose stored link expired re-reads the generation and posts it again."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT)
    old = await _result(simcord_env, channel)
    await old.delete()
    fake_agents.expire_outputs()
    await simcord_env.advance_time(3 * 24 * 3600)
    shown = await alice.slash(channel, "job", id=1)
    panel = shown.followups[-1] if shown.followups else reply_of(shown)
    clicked = await alice.click(panel.message, label="Re-post")
    assert "Re-posted" in (clicked.followups[-1] if clicked.followups else reply_of(clicked)).content
    [new] = results(channel)
    assert (await new.attachments[0].read())[4:8] == b"ftyp" and len(fake_agents.downloads) == 2
