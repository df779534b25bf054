"""Ideas (issue 15): several takes of one /video behind one status message, and a thread per idea.

An idea's takes are reserved together (all or none, bot/storage/ideas.py) and queued one by one, so the
fair queue interleaves them with other members' jobs. With the server's `threads` setting on, /video in a
text channel opens a public thread named after the prompt; the status message, every take and every action
on them post there (the jobs' channel is the thread). Without Create Public Threads the bot falls back to
the channel and tells the server's owner once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord

from bot.domain import Job, JobState
from bot.jobs import JobProgress
from cogs import _render
from cogs._limits import fit_embed
from cogs._views import status_view

if TYPE_CHECKING:
    from bot.client import ReelBot
    from bot.storage import Storage
    from cogs._delivery import DiscordObserver

log = logging.getLogger(__name__)

THREAD_NAME_MAX = 100  # Discord's limit on a channel name
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day without messages
NO_THREAD_PERMISSION = (
    "Threads are on for this server (`/videoadmin threads`), but I can't open them in <#{channel}>: I need the "
    "**Create Public Threads** and **Send Messages in Threads** permissions there. Until then ideas stay in the "
    "channel. (I'll say this once.)"
)


def thread_name(prompt: str) -> str:
    """The prompt on one line, cut to Discord's 100-character channel name limit."""
    return _render.shorten(" ".join(prompt.split()), THREAD_NAME_MAX)


def take_line(take: int, of: int, state: str) -> str:
    return f"**take {take} of {of}**: {state}"


def progress_words(progress: JobProgress) -> str:
    """One line of a take's state for the shared status message."""
    if progress.state is JobState.QUEUED:
        return f"queued (position {progress.position})" if progress.position else "queued"
    if progress.state is JobState.SUBMITTING:
        return "sending…"
    if progress.state is JobState.DELIVERING:
        return "uploading…"
    words = f"{_render.provider_words(progress.provider_state)}…"
    if progress.fraction is not None:
        words += f" {round(min(1.0, max(0.0, progress.fraction)) * 100)}%"
    return words


class TakesStatus:
    """The lines of each idea's shared status message ("take 2 of 4: generating…"), kept per take."""

    def __init__(self) -> None:
        self._lines: dict[int, dict[int, str]] = {}
        self._counts: dict[int, int] = {}
        self._done: dict[int, set[int]] = {}

    def start(self, idea_id: int, takes: int) -> None:
        self._counts[idea_id] = takes
        self._lines.setdefault(idea_id, {})

    def knows(self, idea_id: int) -> bool:
        return idea_id in self._counts

    def set(self, job: Job, words: str, *, final: bool = False) -> None:
        assert job.idea_id is not None and job.take is not None
        self._lines.setdefault(job.idea_id, {})[job.take] = words
        if final:
            self._done.setdefault(job.idea_id, set()).add(job.take)

    def finished(self, idea_id: int) -> bool:
        return len(self._done.get(idea_id, ())) >= self._counts.get(idea_id, 0)

    def forget(self, idea_id: int) -> None:
        for table in (self._lines, self._counts, self._done):
            table.pop(idea_id, None)

    def embed(self, job: Job) -> discord.Embed:
        assert job.idea_id is not None
        count = self._counts.get(job.idea_id, job.take or 1)
        lines = self._lines.get(job.idea_id, {})
        text = "\n".join(take_line(n, count, lines.get(n, "queued")) for n in range(1, count + 1))
        done = self.finished(job.idea_id)
        title = f"✅ {count} takes" if done else f"🎬 {count} takes"
        colour = _render.COLOURS[JobState.COMPLETED if done else JobState.RUNNING]
        embed = discord.Embed(title=title, description=text, colour=colour)
        embed.add_field(name="Prompt", value=_render.shorten(job.request.prompt, _render.PROMPT_PREVIEW), inline=False)
        embed.add_field(name="Options", value=job.request.options_summary(), inline=True)
        embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
        embed.set_footer(text=f"idea #{job.idea_id}")
        return fit_embed(embed)


def takes_words(takes: int) -> str:
    return "The take" if takes == 1 else f"All {takes} takes"


async def wants_thread(storage: Storage, interaction: discord.Interaction) -> bool:
    """Whether /video here should open a thread: the server's setting is on and this is a text channel."""
    if not isinstance(interaction.channel, discord.TextChannel) or interaction.guild_id is None:
        return False  # already in a thread, a voice channel's chat, a forum post…: stay there
    return bool((await storage.idea_settings(interaction.guild_id))["threads"])


def can_open_threads(interaction: discord.Interaction) -> bool:
    permissions = interaction.app_permissions
    return bool(permissions.create_public_threads and permissions.send_messages_in_threads)


async def open_thread(bot: ReelBot, interaction: discord.Interaction, prompt: str) -> discord.Thread | None:
    """The idea's thread (the server wants one: wants_thread); None: post in the channel, after telling the
    server's owner once when the permission is missing."""
    channel, storage = interaction.channel, bot.storage
    assert isinstance(channel, discord.TextChannel) and interaction.guild_id is not None and storage is not None
    if can_open_threads(interaction):
        try:
            return await channel.create_thread(
                name=thread_name(prompt), type=discord.ChannelType.public_thread,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES, reason=f"/video by {interaction.user.id}",
            )  # fmt: skip
        except discord.Forbidden:
            pass  # a channel overwrite the interaction's permissions did not show: fall back below
        except discord.HTTPException as error:
            log.warning("could not open a thread in %s: HTTP %s code %s", channel.id, error.status, error.code)
            return None
    if not (await storage.idea_settings(interaction.guild_id))["threads_warned"]:
        await storage.set_guild_settings(interaction.guild_id, threads_warned=1)
        await tell_owner(bot, interaction, NO_THREAD_PERMISSION.format(channel=channel.id))
    return None


async def tell_owner(bot: ReelBot, interaction: discord.Interaction, text: str) -> None:
    """A DM to the server's owner; if that fails, a message in the channel where it happened."""
    guild = interaction.guild
    owner_id = guild.owner_id if guild is not None else None
    if owner_id is not None:
        try:
            dm = await bot.create_dm(discord.Object(id=owner_id))
            await dm.send(text)
            return
        except discord.HTTPException as error:
            log.info("could not DM the owner of guild %s: HTTP %s", interaction.guild_id, error.status)
    try:
        await interaction.channel.send(text)  # type: ignore[union-attr]
    except discord.HTTPException as error:
        log.info("could not tell guild %s about threads: HTTP %s", interaction.guild_id, error.status)


async def cancel_takes(bot: ReelBot, observer: DiscordObserver, interaction: discord.Interaction, job: Job) -> None:
    """Cancel every take of `job`'s idea that has not been delivered (Cancel on their shared status)."""
    assert job.idea_id is not None and bot.runner is not None and bot.storage is not None
    await interaction.response.defer()
    await observer._know_takes(job)
    cancelled = 0
    for take in await bot.storage.idea_jobs(job.idea_id):
        if take.take is not None and take.state.active and (ended := await bot.runner.cancel(take.id)) is not None:
            observer.forget(take.id)
            observer.takes.set(ended, f"🚫 cancelled by <@{interaction.user.id}>", final=True)
            cancelled += 1
    if not cancelled:
        await interaction.followup.send("Too late to cancel: these takes have already finished.", ephemeral=True)
        return
    observer._cancel_flush(-job.idea_id)
    done = observer.takes.finished(job.idea_id)
    await interaction.edit_original_response(
        embed=observer.takes.embed(job), view=None if done else status_view(job.idea_id)
    )
    await interaction.followup.send(f"Cancelled {cancelled} take(s). The quota was refunded.", ephemeral=True)
