"""Pure functions from jobs to what Discord shows. No I/O, so every line here is unit-testable."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.domain import Job, JobState
from bot.jobs import JobProgress
from bot.providers.demo import CLIP_FACTS, DemoProvider
from cogs._limits import LINK_IN_TEXT, cut, fit_embed

RESULT_TITLE = "🎬 Your video is ready"
BAR_WIDTH = 12
PROMPT_PREVIEW = 300
COLOURS = {
    JobState.QUEUED: discord.Colour.light_grey(),
    JobState.SUBMITTING: discord.Colour.blurple(),
    JobState.RUNNING: discord.Colour.blurple(),
    JobState.DELIVERING: discord.Colour.blurple(),
    JobState.COMPLETED: discord.Colour.green(),
    JobState.FAILED: discord.Colour.red(),
    JobState.CANCELLED: discord.Colour.dark_grey(),
}
PROVIDER_WORDS = {
    "queued": "waiting at the provider",
    "pending": "waiting at the provider",
    "dreaming": "generating",
    "processing": "generating",
    "running": "generating",
    "completed": "finishing",
}


def job_marker(job_id: int) -> str:
    """The footer text that identifies a job's messages (used to find a delivery after a restart)."""
    return f"job #{job_id}"


def is_result_of(message: discord.Message, job_id: int) -> bool:
    """True for the message that carries `job_id`'s finished clip."""
    marker = job_marker(job_id)
    return any(
        embed.title == RESULT_TITLE and (embed.footer.text or "").split(" · ")[0] == marker for embed in message.embeds
    )


def progress_bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    if fraction is None:
        return ""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "▰" * filled + "▱" * (width - filled) + f" {round(fraction * 100)}%"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


shorten = cut  # the name the cogs use for "at most `limit` characters, with an ellipsis"


def sentence(text: str) -> str:
    """`text` with a capital first letter; the rest as written (str.capitalize would turn LUMAAI_API_KEY into
    lumaai_api_key)."""
    return text[:1].upper() + text[1:]


def provider_words(raw: str | None) -> str:
    if not raw:
        return "generating"
    return PROVIDER_WORDS.get(raw.lower(), raw)


def status_embed(job: Job, progress: JobProgress, provider_name: str | None = None) -> discord.Embed:
    state = progress.state
    if state is JobState.QUEUED:
        title = "⏳ Queued"
        line = f"Position **{progress.position}** in the queue" if progress.position else "Waiting for a free slot"
    elif state is JobState.SUBMITTING:
        title = "📨 Sending"
        line = progress.provider_state or "Sending the request"
    elif state is JobState.DELIVERING:
        title = "📦 Uploading"
        line = "The clip is ready; uploading it here"
    else:
        title = "🎬 Generating"
        line = f"{sentence(provider_words(progress.provider_state))} · {duration_text(progress.elapsed)} elapsed"
        if progress.eta is not None:
            line += f" · about {duration_text(progress.eta)} left"
        bar = progress_bar(progress.fraction)
        if bar:
            line += f"\n`{bar}`"
    embed = discord.Embed(title=title, description=line, colour=COLOURS[state])
    embed.add_field(name="Prompt", value=shorten(job.request.prompt, PROMPT_PREVIEW), inline=False)
    if job.parent_job_id:
        embed.add_field(name="From", value=credit(job), inline=True)
    if progress.thumbnail_url:
        embed.set_image(url=progress.thumbnail_url)
    embed.set_footer(text=_footer(job, provider_name))
    return fit_embed(embed)


def credit(job: Job) -> str:
    """'re-roll of #12': the job a button-started job came from."""
    return f"{job.parent_kind or 'remix'} of #{job.parent_job_id}"


def result_embed(
    job: Job, *, model: str, provider_name: str, taken: float | None, link: str | None = None,
    thumbnail: str | None = None,
) -> discord.Embed:
    embed = discord.Embed(title=RESULT_TITLE, colour=COLOURS[JobState.COMPLETED])
    embed.add_field(name="Prompt", value=shorten(job.request.prompt, 1000), inline=False)
    embed.add_field(name="Model", value=model, inline=True)
    embed.add_field(name="Options", value=options_text(job), inline=True)
    embed.add_field(name="Time taken", value=duration_text(taken), inline=True)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    if job.parent_job_id:
        embed.add_field(name="From", value=credit(job), inline=True)
    if link:
        # A signed link can outgrow a field (1024 characters); the message content carries it in full.
        where = "message above" if len(link) <= LINK_IN_TEXT else "attached file"
        value = f"[Open the video]({link})" if len(link) <= 900 else f"The link is in the {where}"
        embed.add_field(name="Link", value=value + " (too large to upload here)", inline=False)
    if thumbnail:
        embed.set_image(url=thumbnail)
    embed.set_footer(text=_footer(job, provider_name))
    return fit_embed(embed)


def options_text(job: Job) -> str:
    """The options the clip was made with; the demo hands back its one sample clip whatever was asked."""
    if job.provider == DemoProvider.name:
        return f"demo sample clip, {CLIP_FACTS} (asked for {job.request.options_summary()})"
    return job.request.options_summary()


def ended_embed(job: Job, message: str, provider_name: str | None = None) -> discord.Embed:
    title = "🚫 Cancelled" if job.state is JobState.CANCELLED else "❌ Failed"
    embed = discord.Embed(title=title, description=shorten(message, 2000), colour=COLOURS[job.state])
    embed.add_field(name="Prompt", value=shorten(job.request.prompt, PROMPT_PREVIEW), inline=False)
    embed.set_footer(text=_footer(job, provider_name))
    return fit_embed(embed)


def delivered_elsewhere_embed(job: Job, jump_url: str) -> discord.Embed:
    description = f"[Jump to the video]({jump_url})"
    embed = discord.Embed(title="✅ Done", description=description, colour=COLOURS[JobState.COMPLETED])
    embed.add_field(name="Prompt", value=shorten(job.request.prompt, PROMPT_PREVIEW), inline=False)
    embed.set_footer(text=_footer(job, None))
    return fit_embed(embed)


def deleted_embed(job: Job, by_user_id: int) -> discord.Embed:
    """The status message of a job whose clip was deleted with its Delete button."""
    embed = discord.Embed(title="🗑️ Deleted", description=f"The video was deleted by <@{by_user_id}>.",
                          colour=COLOURS[JobState.CANCELLED])  # fmt: skip
    embed.add_field(name="Prompt", value=shorten(job.request.prompt, PROMPT_PREVIEW), inline=False)
    embed.set_footer(text=_footer(job, None))
    return fit_embed(embed)


def minimal_result_embed(job: Job) -> discord.Embed:
    """What a result carries when Discord refused the full one: only what finds it again after a restart."""
    embed = discord.Embed(title=RESULT_TITLE, colour=COLOURS[JobState.COMPLETED])
    embed.set_footer(text=job_marker(job.id))
    return embed


def _footer(job: Job, provider_name: str | None) -> str:
    parts = [job_marker(job.id)]
    if provider_name:
        parts.append(provider_name)
    return " · ".join(parts)


def timestamp(moment: datetime, style: str = "R") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"
