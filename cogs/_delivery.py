"""The job observer: one status message per job, edited in place (throttled), and the delivery of
the finished clip — through the interaction while its token lives, as a channel message after."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.domain import Job
from bot.errors import DeliveryError, ReelbotError
from bot.jobs import JobProgress
from cogs import _render
from cogs._views import result_view, status_view

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # seconds between edits of one status message (Discord rate limits)
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
HISTORY_SCAN = 50


class DiscordObserver:
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self._interactions: dict[int, discord.Interaction] = {}
        self._last_edit: dict[int, float] = {}
        self._latest: dict[int, tuple[Job, JobProgress]] = {}
        self._flushers: dict[int, asyncio.Task[None]] = {}

    # --- bookkeeping from the command side ------------------------------------------------------

    def track(self, job_id: int, interaction: discord.Interaction) -> None:
        """Remember the interaction that owns the status message (useful until its token expires)."""
        self._interactions[job_id] = interaction
        self._last_edit[job_id] = self.bot.clock.monotonic()

    def forget(self, job_id: int) -> None:
        self._interactions.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        self._latest.pop(job_id, None)
        flusher = self._flushers.pop(job_id, None)
        if flusher is not None and flusher is not asyncio.current_task():
            flusher.cancel()

    def _live(self, job_id: int) -> discord.Interaction | None:
        interaction = self._interactions.get(job_id)
        if interaction is not None and interaction.is_expired():
            self._interactions.pop(job_id, None)
            return None
        return interaction

    def provider_name(self, job: Job) -> str | None:
        runner = self.bot.runner
        provider = runner.providers.get(job.provider or "") if runner else None
        return provider.display_name if provider else None

    # --- JobObserver ----------------------------------------------------------------------------

    async def job_changed(self, job: Job, progress: JobProgress) -> None:
        if job.status_message_id is None:
            return
        self._latest[job.id] = (job, progress)
        last = self._last_edit.get(job.id)
        now = self.bot.clock.monotonic()
        if last is None or now - last >= EDIT_INTERVAL:
            await self._flush(job.id)
        elif job.id not in self._flushers:
            delay = EDIT_INTERVAL - (now - last)
            self._flushers[job.id] = asyncio.create_task(self._flush_later(job.id, delay))

    async def _flush_later(self, job_id: int, delay: float) -> None:
        await self.bot.clock.sleep(delay)
        self._flushers.pop(job_id, None)
        await self._flush(job_id)

    async def _flush(self, job_id: int) -> None:
        latest = self._latest.pop(job_id, None)
        if latest is None:
            return
        job, progress = latest
        self._last_edit[job_id] = self.bot.clock.monotonic()
        embed = _render.status_embed(job, progress, self.provider_name(job))
        await self.edit_status(job, embed=embed, view=status_view(job.id))

    async def upload_limit(self, job: Job) -> int:
        interaction = self._live(job.id)
        if interaction is not None:
            return interaction.filesize_limit
        guild = self.bot.get_guild(job.guild_id)
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def find_delivery(self, job: Job) -> int | None:
        if job.result_message_id:
            return job.result_message_id
        channel = self._channel(job)
        try:
            if job.status_message_id:
                with contextlib.suppress(discord.NotFound):
                    status = await channel.fetch_message(job.status_message_id)
                    if _render.is_result_of(status, job.id):
                        return status.id
            after = discord.Object(id=job.status_message_id) if job.status_message_id else None
            async for message in channel.history(limit=HISTORY_SCAN, after=after):
                if message.author.id == self.bot.user.id and _render.is_result_of(message, job.id):  # type: ignore[union-attr]
                    return message.id
        except discord.HTTPException as error:
            log.warning("could not look for an earlier delivery of job %s: %s", job.id, error)
        return None

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        self._cancel_flush(job.id)
        provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
        model = job.request.model or (provider.capabilities.default_model if provider else "?")
        taken = (self.bot.clock.now() - (job.started_at or job.created_at)).total_seconds()

        def embed(link: str | None) -> discord.Embed:
            name = self.provider_name(job) or "?"
            return _render.result_embed(job, model=model, provider_name=name, taken=taken, link=link)

        try:
            if video is not None:
                try:
                    return await self._post(job, embed(None), video, None)
                except discord.HTTPException as error:
                    if not _too_large(error) or video_url is None:
                        raise
                    log.info("upload of job %s refused as too large; posting the link", job.id)
            if video_url is None:
                raise DeliveryError("no file and no link to post")
            return await self._post(job, embed(video_url), None, video_url)
        except discord.HTTPException as error:
            raise DeliveryError(
                f"discord refused the result: HTTP {error.status} code {error.code}",
                public_message=f"The video was ready but Discord refused it ({error.text or error.status}). "
                "Your quota was refunded.",
            ) from None
        finally:
            self.forget(job.id)

    async def _post(self, job: Job, embed: discord.Embed, video: Path | None, link: str | None) -> int:
        files = [discord.File(video, filename=f"reelbot-{job.id}.mp4")] if video is not None else []
        view = self.result_view(job)
        interaction = self._live(job.id)
        if interaction is not None and job.status_message_id:
            # While the token lives, the status message itself turns into the result.
            message = await interaction.edit_original_response(
                content=link, embed=embed, attachments=files, view=view
            )
            return message.id
        content = f"<@{job.user_id}> your video is ready." + (f"\n{link}" if link else "")
        message = await self._channel(job).send(
            content=content,
            embed=embed,
            files=files,
            view=view,
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=job.user_id)]),
        )
        if job.status_message_id:
            await self.edit_status(job, embed=_render.delivered_elsewhere_embed(job, message.jump_url), view=None)
        return message.id

    def result_view(self, job: Job) -> discord.ui.View:
        """Re-roll, Edit prompt, Delete, and Extend when the provider that made the clip can continue it."""
        provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
        extendable = bool(provider is not None and provider.capabilities.extend and job.provider_job_id)
        return result_view(job.id, extendable=extendable)

    async def job_ended(self, job: Job, error: ReelbotError | None) -> None:
        self._cancel_flush(job.id)
        text = error.public_message if error is not None else "Cancelled. Your quota was refunded."
        await self.edit_status(job, embed=_render.ended_embed(job, text, self.provider_name(job)), view=None)
        self.forget(job.id)

    # --- Discord I/O ----------------------------------------------------------------------------

    def _channel(self, job: Job) -> discord.abc.Messageable:
        channel = self.bot.get_channel(job.channel_id)
        if channel is None:
            channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        return channel  # type: ignore[return-value]

    async def edit_status(self, job: Job, *, embed: discord.Embed, view: discord.ui.View | None) -> None:
        """Edit the status message: through the interaction while its token lives, else as the bot's own
        channel message. A failed edit is logged and skipped; the job goes on."""
        if not job.status_message_id:
            return
        interaction = self._live(job.id)
        try:
            if interaction is not None:
                await interaction.edit_original_response(embed=embed, view=view)
            else:
                message = self._channel(job).get_partial_message(job.status_message_id)  # type: ignore[attr-defined]
                await message.edit(embed=embed, view=view)
        except discord.HTTPException as error:
            log.info("status edit of job %s skipped: HTTP %s code %s", job.id, error.status, error.code)

    def _cancel_flush(self, job_id: int) -> None:
        self._latest.pop(job_id, None)
        flusher = self._flushers.pop(job_id, None)
        if flusher is not None and flusher is not asyncio.current_task():
            flusher.cancel()


def _too_large(error: discord.HTTPException) -> bool:
    return error.status == 413 or error.code == 40005

