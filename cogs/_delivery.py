"""The job observer: one status message per job, edited in place (throttled), and the delivery of
the finished clip — through the interaction while its token lives, as a channel message after."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot import metrics
from bot.domain import Job, JobState
from bot.errors import DeliveryError, DeliveryLookupError, ReelbotError
from bot.jobs import JobProgress
from cogs import _ideas, _render
from cogs._board import BoardKeeper
from cogs._clip_menu import add_menu
from cogs._limits import LINK_IN_TEXT, fit_content
from cogs._views import result_view, status_view

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # seconds between edits of one status message (Discord rate limits)
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
LOOKUP_MARGIN = timedelta(minutes=10)  # a post lands within this of its intent (uploads, discord.py's retries)
LINK_ATTACHED = "The link to the video is in the attached file (it is too long for a Discord message)."


class DiscordObserver:
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self._interactions: dict[int, discord.Interaction] = {}
        self._last_edit: dict[int, float] = {}
        self._latest: dict[int, tuple[Job, JobProgress]] = {}
        self._thumbnails: dict[int, str] = {}  # job id → the provider's still of the clip, for the result embed
        # Throttled edits waiting for their turn (job id → when), all flushed by one task: hundreds of queued
        # jobs whose position moved cost one sleeping task, not one each.
        self._due: dict[int, float] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flusher_until: float | None = None  # set while the flusher sleeps (it may then be restarted)
        # Several takes share one status message: its edits are throttled under the key -idea id.
        self.takes = _ideas.TakesStatus()
        self.board = BoardKeeper(bot)  # each idea's board of clips (cogs/_board.py)

    # --- bookkeeping from the command side ------------------------------------------------------

    def track(self, job_id: int, interaction: discord.Interaction) -> None:
        """Remember the interaction whose follow-up is the status message (useful until its token expires)."""
        self._interactions[job_id] = interaction
        self._last_edit[job_id] = self.bot.clock.monotonic()

    def track_idea(self, idea_id: int, takes: int, interaction: discord.Interaction | None) -> None:
        """Several takes behind one status message (posted through `interaction`, or in a thread if None)."""
        self.takes.start(idea_id, takes)
        if interaction is not None:
            self._interactions[-idea_id] = interaction
        self._last_edit[-idea_id] = self.bot.clock.monotonic()

    def forget(self, job_id: int) -> None:
        self._interactions.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        self._latest.pop(job_id, None)
        self._due.pop(job_id, None)
        self._thumbnails.pop(job_id, None)

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
        if progress.thumbnail_url:
            self._thumbnails[job.id] = progress.thumbnail_url
        if job.status_message_id is None:
            return
        key = job.id
        if job.take is not None and job.idea_id is not None:
            await self._know_takes(job)
            self.takes.set(job, _ideas.progress_words(progress))
            key = -job.idea_id
        await self._edit_throttled(key, job, progress)

    async def _edit_throttled(self, key: int, job: Job, progress: JobProgress) -> None:
        self._latest[key] = (job, progress)
        last = self._last_edit.get(key)
        now = self.bot.clock.monotonic()
        if last is None or now - last >= EDIT_INTERVAL:
            await self._flush(key)
        elif key not in self._due:
            self._due[key] = due = last + EDIT_INTERVAL
            self._schedule_flush(due)

    async def _know_takes(self, job: Job) -> None:
        """After a restart: how many takes the idea has, and how the finished ones ended."""
        assert job.idea_id is not None
        if self.takes.knows(job.idea_id) or self.bot.storage is None:
            return
        idea = await self.bot.storage.get_idea(job.idea_id)
        self.takes.start(job.idea_id, idea["takes"] if idea else job.take or 1)
        for take in await self.bot.storage.idea_jobs(job.idea_id):
            if take.take is not None and take.state.terminal:
                words = "✅ ready" if take.state is JobState.COMPLETED else take.state.value
                self.takes.set(take, words, final=True)

    async def take_ended(self, job: Job, words: str) -> None:
        """A take is delivered, failed or cancelled: its line in the shared status says so."""
        assert job.idea_id is not None
        await self._know_takes(job)
        self.takes.set(job, words, final=True)
        await self._edit_throttled(-job.idea_id, job, JobProgress(job.state))

    def _schedule_flush(self, due: float) -> None:
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            if self._flusher_until is None or due >= self._flusher_until:
                return  # it is flushing now, or wakes in time for this one
            flusher.cancel()  # asleep until later than this edit is due: start over (never mid-edit)
        self._flusher = asyncio.create_task(self._flush_due(), name="reelbot-status-edits")

    async def _flush_due(self) -> None:
        """Sleep until the earliest throttled edit is due, make every edit that is due, repeat until none wait."""
        me = asyncio.current_task()
        while self._due:
            self._flusher_until = until = min(self._due.values())
            try:
                await self.bot.clock.sleep(until - self.bot.clock.monotonic())
            finally:
                if self._flusher is me:
                    self._flusher_until = None
            now = self.bot.clock.monotonic()
            for job_id in [j for j, due in self._due.items() if due <= now]:
                if self._due.pop(job_id, None) is None:
                    continue
                try:
                    await self._flush(job_id)
                except Exception:  # one broken status must not stop the others' updates
                    log.exception("status update of job %s failed", job_id)

    async def _flush(self, job_id: int) -> None:
        latest = self._latest.pop(job_id, None)
        if latest is None:
            return
        job, progress = latest
        self._last_edit[job_id] = self.bot.clock.monotonic()
        if job_id < 0:  # the shared status of an idea's takes
            idea_id = -job_id
            done = self.takes.finished(idea_id)
            await self.edit_status(job, embed=self.takes.embed(job), view=None if done else status_view(idea_id))
            if done:
                self.takes.forget(idea_id)
                for table in (self._interactions, self._last_edit):
                    table.pop(job_id, None)
            return
        embed = _render.status_embed(job, progress, self.provider_name(job))
        await self.edit_status(job, embed=embed, view=status_view(job.id))

    async def upload_limit(self, job: Job) -> int:
        interaction = self._live(job.id)
        if interaction is not None:
            return interaction.filesize_limit
        guild = self.bot.get_guild(job.guild_id)
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def find_delivery(self, job: Job) -> int | None:
        """The result already posted for `job`, found without a guess: its recorded id; else, if posting ever
        began (the delivery intent), the status message turned result, or the bot's result message in the channel
        from the status message forward up to the intent's time, paging through all of it. Raises
        DeliveryLookupError when Discord cannot answer, so the runner asks again later instead of posting."""
        if job.result_message_id:
            return job.result_message_id
        if job.delivery_started_at is None:
            return None  # the intent is stored before any post: nothing was posted
        channel = self._channel(job)
        until = job.delivery_started_at + LOOKUP_MARGIN
        try:
            if job.status_message_id:
                with contextlib.suppress(discord.NotFound):
                    status = await channel.fetch_message(job.status_message_id)
                    if _render.is_result_of(status, job.id):
                        return status.id
            start = job.status_message_id or discord.utils.time_snowflake(job.delivery_started_at - LOOKUP_MARGIN)
            async for message in channel.history(limit=None, after=discord.Object(id=start), oldest_first=True):
                if message.created_at > until:
                    break
                if message.author.id == self.bot.user.id and _render.is_result_of(message, job.id):  # type: ignore[union-attr]
                    return message.id
        except discord.HTTPException as error:
            _count_error("find_delivery", error)
            raise DeliveryLookupError(f"reading the channel failed: HTTP {error.status} code {error.code}") from None
        return None

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        self._cancel_flush(job.id)
        provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
        model = job.request.model or (provider.capabilities.default_model if provider else "?")
        taken = (self.bot.clock.now() - (job.started_at or job.created_at)).total_seconds()
        thumbnail = self._thumbnails.get(job.id)

        def embed(link: str | None) -> discord.Embed:
            name = self.provider_name(job) or "?"
            return _render.result_embed(job, model=model, provider_name=name, taken=taken, link=link, thumbnail=thumbnail)

        try:
            if video is not None:
                try:
                    message_id = await self._post_or_minimal(job, embed(None), video, None)
                    self.forget(job.id)
                    return message_id
                except discord.HTTPException as error:
                    if not _too_large(error) or video_url is None:
                        raise
                    _count_error("upload", error)
                    log.info("upload of job %s refused as too large; posting the link", job.id)
            if video_url is None:
                raise DeliveryError("no file and no link to post")
            message_id = await self._post_or_minimal(job, embed(video_url), None, video_url)
        except discord.HTTPException as error:
            # The job is kept tracked: job_ended tells the requester (privately too) and then forgets it.
            self._cancel_flush(job.id)
            _count_error("deliver", error)
            raise _delivery_error(job, error) from None
        self.forget(job.id)
        return message_id

    async def _post_or_minimal(self, job: Job, embed: discord.Embed, video: Path | None, link: str | None) -> int:
        """Post the result; if Discord refuses it as malformed (400, not "too large"), post a minimal message
        with the same file or link instead — the clip is paid for, so it is never dropped over its embed."""
        try:
            return await self._post(job, embed, video, link)
        except discord.HTTPException as error:
            if error.status != 400 or _too_large(error):
                raise
            _count_error("result_refused", error)
            log.warning("Discord refused the result of job %s (HTTP 400 code %s); posting a minimal message",
                        job.id, error.code)  # fmt: skip
        return await self._post(job, _render.minimal_result_embed(job), video, link, minimal=True)

    async def _post(self, job: Job, embed: discord.Embed, video: Path | None, link: str | None, *,
                    minimal: bool = False) -> int:  # fmt: skip
        """The result message; `minimal` leaves off the buttons and says the job's number in its text."""
        files = [discord.File(video, filename=f"reelbot-{job.id}.mp4")] if video is not None else []
        if link is not None and len(link) > LINK_IN_TEXT:
            # A signed link longer than a message can hold: cut, it would be useless, so it goes as a file.
            files.append(discord.File(io.BytesIO(link.encode()), filename=f"reelbot-{job.id}-link.txt"))
            link = LINK_ATTACHED
        view = None if minimal else self.result_view(job)
        ready = f"video ({_render.job_marker(job.id)}) is ready." if minimal else "video is ready."
        if job.take is not None:
            ready = f"take {job.take} ({_render.job_marker(job.id)}) is ready."
        interaction = self._live(job.id)
        if interaction is not None and job.status_message_id and job.take is None:
            # While the token lives, the status message itself turns into the result (not one takes share).
            text = "\n".join(part for part in (f"Your {ready}", link) if part) if minimal else link
            message: discord.Message = await interaction.followup.edit_message(
                job.status_message_id, content=fit_content(text), embed=embed, attachments=files, view=view
            )
            await self._record_post(job, message.id)
            self.board.clip_posted(job, message)
            return message.id
        content = f"<@{job.user_id}> your {ready}" + (f"\n{link}" if link else "")
        # The nonce (discord.py adds enforce_nonce): a repeat of this post within minutes returns the first one.
        message = await self._channel(job).send(
            content=fit_content(content),
            embed=embed,
            files=files,
            view=view or discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=job.user_id)]),
            nonce=job.delivery_nonce or discord.utils.MISSING,
        )
        await self._record_post(job, message.id)
        self.board.clip_posted(job, message)
        if job.take is not None:
            await self.take_ended(job, f"✅ [ready]({message.jump_url})")
        elif job.status_message_id:
            await self.edit_status(job, embed=_render.delivered_elsewhere_embed(job, message.jump_url), view=None)
        return message.id

    async def _record_post(self, job: Job, message_id: int) -> None:
        """Store the posted id the moment Discord returns it (before anything else can fail or be killed)."""
        if self.bot.storage is None:
            return
        try:
            await self.bot.storage.update_job(job.id, result_message_id=message_id)
        except Exception:  # the runner records it again when the job completes
            log.warning("could not record the result message of job %s yet", job.id, exc_info=True)

    def result_view(self, job: Job) -> discord.ui.View:
        """Re-roll, Edit prompt, Delete, and Extend when the provider that made the clip can continue it; below
        them the "More…" menu of the other actions that provider can run on it."""
        provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
        extendable = bool(provider is not None and provider.capabilities.extend and job.provider_job_id)
        return add_menu(result_view(job.id, extendable=extendable), job, provider.capabilities if provider else None)

    async def job_ended(self, job: Job, error: ReelbotError | None) -> None:
        self._cancel_flush(job.id)
        text = error.public_message if error is not None else "Cancelled. Your quota was refunded."
        if job.take is not None and job.idea_id is not None:
            await self.take_ended(job, ("❌ " if error is not None else "🚫 ") + _render.shorten(text, 200))
            shown = True
        else:
            shown = await self.edit_status(job, embed=_render.ended_embed(job, text, self.provider_name(job)), view=None)
        if not shown or isinstance(error, DeliveryError):
            # The public message could not say it, or the channel itself is the problem: tell the requester.
            await self.tell_privately(job, text)
        self.forget(job.id)

    async def tell_privately(self, job: Job, text: str) -> bool:
        """Reach the requester directly: an ephemeral followup while the interaction token lives, else a DM.
        False (and a log line) when neither got through, e.g. DMs closed."""
        text = fit_content(f"Your video (job {job.id}) in <#{job.channel_id}>: {text}") or ""
        interaction = self._live(job.id)
        if interaction is not None:
            try:
                await interaction.followup.send(text, ephemeral=True)
                return True
            except discord.HTTPException as error:
                _count_error("followup", error)
        try:
            channel = await self.bot.create_dm(discord.Object(id=job.user_id))
            await channel.send(text)
            return True
        except discord.HTTPException as error:
            _count_error("dm", error)
            log.warning("could not tell user %s about job %s: HTTP %s code %s", job.user_id, job.id,
                        error.status, error.code)  # fmt: skip
            return False

    # --- Discord I/O ----------------------------------------------------------------------------

    def _channel(self, job: Job) -> discord.abc.Messageable:
        channel = self.bot.get_channel(job.channel_id)
        if channel is None:
            return self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        return channel  # type: ignore[return-value]  # a job's channel is a text channel or thread

    async def edit_status(self, job: Job, *, embed: discord.Embed, view: discord.ui.View | None) -> bool:
        """Edit the status message (the interaction's public follow-up, cogs/_ack.py): through the interaction's
        token while it lives, else as the bot's own channel message. A failed edit is logged and skipped
        (False); the job goes on."""
        if not job.status_message_id:
            return False
        interaction = self._live(job.id)
        if interaction is None and job.take is not None and job.idea_id is not None:
            interaction = self._live(-job.idea_id)
        try:
            if interaction is not None:
                await interaction.followup.edit_message(job.status_message_id, embed=embed, view=view)
            else:
                message = self._channel(job).get_partial_message(job.status_message_id)  # type: ignore[attr-defined]
                await message.edit(embed=embed, view=view)
        except discord.HTTPException as error:
            _count_error("status_edit", error)
            log.info("status edit of job %s skipped: HTTP %s code %s", job.id, error.status, error.code)
            return False
        except discord.RateLimited as error:  # only with max_ratelimit_timeout: never wait long for a status
            metrics.DISCORD_ERRORS.inc(action="status_edit", status=429, code=0)
            log.info("status edit of job %s skipped: rate limited for %.1fs", job.id, error.retry_after)
            return False
        return True

    def _cancel_flush(self, job_id: int) -> None:
        self._latest.pop(job_id, None)
        self._due.pop(job_id, None)


def _too_large(error: discord.HTTPException) -> bool:
    return error.status == 413 or error.code == 40005


MISSING_ACCESS, MISSING_PERMISSIONS = 50001, 50013
UNKNOWN_CHANNEL, UNKNOWN_MESSAGE = 10003, 10008


def _delivery_error(job: Job, error: discord.HTTPException) -> DeliveryError:
    """What the requester is told when Discord would not take the result, by cause."""
    detail = f"discord refused the result: HTTP {error.status} code {error.code}"
    if error.status == 403 or error.code in (MISSING_ACCESS, MISSING_PERMISSIONS):
        public = (
            f"The video was ready, but the bot lacks permission to post it in <#{job.channel_id}> (it needs View "
            "Channel, Send Messages, Embed Links and Attach Files there). Ask a server admin to fix that. "
            "Your quota was refunded."
        )
    elif error.code in (UNKNOWN_CHANNEL, UNKNOWN_MESSAGE):
        public = "The video was ready, but its channel or status message was deleted. Your quota was refunded."
    else:
        public = f"The video was ready but Discord refused it ({error.text or error.status}). Your quota was refunded."
    return DeliveryError(detail, public_message=public)


def _count_error(action: str, error: discord.HTTPException) -> None:
    metrics.DISCORD_ERRORS.inc(action=action, status=error.status, code=error.code)

