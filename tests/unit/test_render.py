"""Unit: the pure rendering of jobs into Discord embeds (cogs/_render.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import discord
import pytest

from bot.domain import Job, JobState, VideoRequest
from bot.jobs import JobProgress
from cogs._render import (
    BAR_WIDTH,
    RESULT_TITLE,
    delivered_elsewhere_embed,
    duration_text,
    ended_embed,
    is_result_of,
    job_marker,
    progress_bar,
    result_embed,
    status_embed,
)

LONG_PROMPT = ("a red fox running through deep snow at dawn, cinematic " * 100)[:5000]
WIDE_PROMPT = "🦊" * 5000  # wide characters: Discord counts characters, not bytes


def make_job(job_id: int = 1, *, prompt: str = "a red fox", state: JobState = JobState.RUNNING, **kw) -> Job:
    return Job(
        id=job_id, guild_id=10, channel_id=20, user_id=30, request=VideoRequest(prompt=prompt, **kw),
        state=state, created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def assert_within_discord_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for field in data.get("fields", []):
        assert 0 < len(field["name"]) <= 256
        assert 0 < len(field["value"]) <= 1024
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    assert len(embed) <= 6000  # discord.py's total: title + description + fields + footer + author


# --- progress bar / durations ------------------------------------------------------------------------


def test_progress_bar_empty_at_zero():
    """0 renders an all-empty bar at 0%."""
    assert progress_bar(0.0) == "▱" * BAR_WIDTH + " 0%"


def test_progress_bar_half():
    """0.5 fills exactly half the bar and says 50%."""
    assert progress_bar(0.5) == "▰" * (BAR_WIDTH // 2) + "▱" * (BAR_WIDTH // 2) + " 50%"


def test_progress_bar_full_at_one():
    """1 fills the whole bar at 100%."""
    assert progress_bar(1.0) == "▰" * BAR_WIDTH + " 100%"


@pytest.mark.parametrize(("fraction", "expected"), [(1.7, 1.0), (42.0, 1.0), (-0.3, 0.0)])
def test_progress_bar_clamps_out_of_range(fraction, expected):
    """Providers that report >1 or <0 never overflow the bar or show 170%."""
    assert progress_bar(fraction) == progress_bar(expected)
    assert len(progress_bar(fraction).split(" ")[0]) == BAR_WIDTH


def test_progress_bar_none_is_empty_string():
    """No progress known → no bar at all (not a fake 0%)."""
    assert progress_bar(None) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (0, "0s"), (7.4, "7s"), (59.6, "1m 00s"), (60, "1m 00s"), (61, "1m 01s"), (754, "12m 34s"), (-5, "0s")],
)
def test_duration_text(seconds, text):
    """Durations read as `Ns` under a minute and `Mm SSs` above, rounded; unknown is `?`; negative is 0s."""
    assert duration_text(seconds) == text


# --- embeds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [LONG_PROMPT, WIDE_PROMPT])
@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING])
def test_status_embed_within_limits_for_longest_prompt(prompt, state):
    """Every status embed stays inside Discord's limits even for a 5000-character prompt."""
    job = make_job(prompt=prompt, state=state)
    progress = JobProgress(state, position=3, elapsed=125, eta=40, fraction=0.4, provider_state="dreaming")
    embed = status_embed(job, progress, "Luma Dream Machine")
    assert_within_discord_limits(embed)
    assert embed.fields[0].name == "Prompt" and embed.fields[0].value.endswith("…")
    assert embed.fields[0].value[:50] == prompt[:50]


def test_status_embed_running_shows_state_elapsed_eta_and_bar():
    """A running job's status says what the provider is doing, elapsed time, time left and a progress bar."""
    progress = JobProgress(JobState.RUNNING, elapsed=125, eta=40, fraction=0.5, provider_state="dreaming")
    embed = status_embed(make_job(), progress, "Luma")
    assert embed.title == "🎬 Generating"
    assert "Generating · 2m 05s elapsed · about 40s left" in embed.description
    assert progress_bar(0.5) in embed.description
    assert embed.footer.text == "job #1 · Luma"


def test_status_embed_queued_shows_position():
    """A queued job shows its 1-based position in the queue."""
    embed = status_embed(make_job(state=JobState.QUEUED), JobProgress(JobState.QUEUED, position=4))
    assert embed.title == "⏳ Queued" and "Position **4**" in embed.description
    assert embed.footer.text == "job #1"


@pytest.mark.parametrize("prompt", [LONG_PROMPT, WIDE_PROMPT])
def test_result_embed_within_limits_for_longest_prompt(prompt):
    """The result embed, with every optional field and a long link, stays inside Discord's limits."""
    job = Job(
        id=123456, guild_id=1, channel_id=2, user_id=3,
        request=VideoRequest(prompt=prompt, loop=True, camera="orbit_left", start_image_url="https://x/a.png"),
        state=JobState.COMPLETED, created_at=datetime(2026, 1, 1, tzinfo=UTC), parent_job_id=99, parent_kind="extend",
    )  # fmt: skip
    link = "https://cdn.example/" + "v" * 800 + ".mp4"
    embed = result_embed(job, model="ray-2", provider_name="Luma", taken=83.0, link=link)
    assert_within_discord_limits(embed)


def test_result_embed_content():
    """The result embed names the prompt, model, options, time taken, requester and job id."""
    job = make_job(7, prompt="a red fox", state=JobState.COMPLETED, loop=True)
    embed = result_embed(job, model="ray-flash-2", provider_name="Luma", taken=83.0)
    fields = {f.name: f.value for f in embed.fields}
    assert embed.title == RESULT_TITLE
    assert fields["Prompt"] == "a red fox"
    assert fields["Model"] == "ray-flash-2"
    assert fields["Options"] == "16:9 · 720p · 5s · loop"
    assert fields["Time taken"] == "1m 23s"
    assert fields["Requested by"] == "<@30>"
    assert "Link" not in fields
    assert embed.footer.text == "job #7 · Luma"


@pytest.mark.parametrize("prompt", [LONG_PROMPT, WIDE_PROMPT])
@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED])
def test_ended_embed_within_limits(prompt, state):
    """A failure/cancel embed stays inside the limits even with a huge reason and prompt."""
    embed = ended_embed(make_job(prompt=prompt, state=state), "reason " * 2000, "Luma")
    assert_within_discord_limits(embed)
    assert embed.title == ("🚫 Cancelled" if state is JobState.CANCELLED else "❌ Failed")


def test_ended_embed_shows_reason():
    """The reason the job ended is the embed's description."""
    embed = ended_embed(make_job(state=JobState.FAILED), "The generation failed: prompt blocked.")
    assert embed.description == "The generation failed: prompt blocked."


def test_delivered_elsewhere_embed_within_limits():
    """The 'done, jump to it' embed stays inside the limits for a 5000-character prompt."""
    embed = delivered_elsewhere_embed(make_job(prompt=LONG_PROMPT), "https://discord.com/channels/1/2/3")
    assert_within_discord_limits(embed)


# --- markers -----------------------------------------------------------------------------------------


def as_message(*embeds: discord.Embed):
    return SimpleNamespace(embeds=list(embeds))


def test_job_marker_text():
    """A job's marker is `job #<id>`."""
    assert job_marker(12) == "job #12"


def test_footer_starts_with_the_job_marker():
    """Every embed's footer begins with the job marker, so a delivery can be found after a restart."""
    job = make_job(42, state=JobState.COMPLETED)
    for embed in (
        status_embed(job, JobProgress(JobState.RUNNING), "Luma"),
        result_embed(job, model="ray-2", provider_name="Luma", taken=1),
        ended_embed(job, "x"),
    ):
        assert embed.footer.text.split(" · ")[0] == "job #42"


def test_is_result_of_matches_its_own_job():
    """The result message of job #12 is recognised as job #12's."""
    embed = result_embed(make_job(12, state=JobState.COMPLETED), model="ray-2", provider_name="Luma", taken=1)
    assert is_result_of(as_message(embed), 12)


@pytest.mark.parametrize(("job_id", "other"), [(12, 1), (1, 12), (12, 123), (123, 12), (2, 12)])
def test_is_result_of_requires_the_exact_marker(job_id, other):
    """Job #1's check never matches job #12's message (nor any id that is a prefix or suffix)."""
    embed = result_embed(make_job(job_id, state=JobState.COMPLETED), model="ray-2", provider_name="Luma", taken=1)
    assert not is_result_of(as_message(embed), other)


def test_is_result_of_without_provider_name():
    """The marker matches when the footer holds only the marker."""
    embed = result_embed(make_job(5, state=JobState.COMPLETED), model="ray-2", provider_name="", taken=1)
    assert embed.footer.text == "job #5"
    assert is_result_of(as_message(embed), 5)


def test_is_result_of_ignores_status_and_failure_messages():
    """A status or failure message carrying the same marker is not mistaken for the delivered clip."""
    job = make_job(3)
    status = status_embed(job, JobProgress(JobState.RUNNING), "Luma")
    ended = ended_embed(make_job(3, state=JobState.FAILED), "x", "Luma")
    assert not is_result_of(as_message(status, ended), 3)
    assert not is_result_of(as_message(), 3)
