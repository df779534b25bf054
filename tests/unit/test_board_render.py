"""The board's and the takes' pure parts: prompt diffs, option changes, thread names, the takes status."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain import Job, JobState, VideoRequest
from bot.jobs import JobProgress
from cogs._board import BOARD_MAX, BoardClip, board_view, option_changes, prompt_diff
from cogs._ideas import TakesStatus, progress_words, thread_name

NOW = datetime(2026, 3, 14, tzinfo=UTC)


def job(job_id: int, prompt: str = "a red fox in snow", **kw) -> Job:
    request = VideoRequest(prompt=prompt, **kw)
    return Job(id=job_id, guild_id=1, channel_id=2, user_id=3, request=request, state=JobState.COMPLETED,
               created_at=NOW, idea_id=1, take=job_id, result_message_id=100 + job_id)  # fmt: skip


def test_prompt_diff_names_added_and_removed_words():
    """Only what changed from the idea's first prompt is shown, - before +."""
    assert prompt_diff("a red fox in snow", "a red fox in snow") == ""
    assert prompt_diff("a red fox in snow", "a grey fox in deep snow") == "-red +grey +deep"


def test_option_changes_list_what_differs():
    """Options that differ from the first request, old→new; a flag turned on by its name."""
    base = VideoRequest(prompt="x")
    assert option_changes(base, VideoRequest(prompt="y")) == ""
    assert option_changes(base, VideoRequest(prompt="x", duration="9s", hdr=True)) == "duration 5s→9s · hdr"


def test_thread_name_is_one_line_within_discords_limit():
    """A prompt with newlines becomes one line of at most 100 characters."""
    name = thread_name("a fox\n\nrunning " + "very " * 40 + "fast")
    assert "\n" not in name and len(name) <= 100 and name.startswith("a fox running")


def test_takes_status_lists_every_take_and_finishes():
    """The shared status shows 'take n of 4' lines and turns done once every take has ended."""
    status = TakesStatus()
    status.start(1, 2)
    first, second = job(1), job(2)
    status.set(first, progress_words(JobProgress(JobState.RUNNING, fraction=0.5, provider_state="dreaming")))
    embed = status.embed(first)
    assert "**take 1 of 2**: generating… 50%" in embed.description and "**take 2 of 2**: queued" in embed.description
    status.set(first, "✅ ready", final=True)
    assert not status.finished(1)
    status.set(second, "❌ failed", final=True)
    assert status.finished(1) and status.embed(first).title == "✅ 2 takes"


def test_board_stays_within_discords_component_limit():
    """Even with more clips than it shows, the board has at most 40 components and 10 gallery items."""
    clips = [BoardClip(job(n), votes=n, jump_url="https://discord.com/channels/1/2/3", media_url=f"https://cdn/{n}.mp4")
             for n in range(1, 13)]  # fmt: skip
    idea = {"id": 1, "user_id": 3, "picked_job_id": 2}
    view = board_view(idea, clips, final_ok=True)
    components = list(view.walk_children())
    assert len(components) <= 40
    payload = view.to_components()
    [gallery] = [c for c in payload if c["type"] == 12]
    assert len(gallery["items"]) == BOARD_MAX
    assert sum(1 for c in components if getattr(getattr(c, "item", c), "label", None) == "Final") == 1


def test_history_groups_the_clips_of_one_idea():
    """/history puts an idea's takes under one idea line; other jobs stay one line each."""
    from dataclasses import replace

    from cogs.history import history_lines

    alone = replace(job(9), idea_id=None, take=None)
    lines = history_lines([job(2), job(1), alone])
    assert lines[0].startswith("💡 **idea #1** · 2 clip(s)")
    assert lines[1].startswith("└ take 2: ") and lines[2].startswith("└ take 1: ")
    assert lines[3].startswith("✅ **#9**")
