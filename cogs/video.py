"""/video: validate, reserve quota, post the status message, queue the job; and the Cancel button."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import Job, JobState, VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import JobProgress
from bot.storage import MAX_TAKES
from bot.text import clean_text
from cogs import _ack, _ideas, _render
from cogs._delivery import DiscordObserver
from cogs._limits import CAMERA_MAX, CHOICE, PROMPT_MAX, check_request_text
from cogs._modals import on_stale_modal
from cogs._uploads import file_store, store_keyframes, store_video, video_file_store
from cogs._views import DYNAMIC_ITEMS, may_manage, status_view

log = logging.getLogger(__name__)

PROMPT_MIN = 3
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
IMAGE_MAX_BYTES = 10 * 1024 * 1024
ASPECT_RATIOS = ("16:9", "1:1", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("360p", "540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s", "10s")
FALLBACK_CONCEPTS = ("static", "push_in", "pull_out", "orbit_left", "orbit_right", "pan_left", "pan_right",
                     "zoom_in", "zoom_out", "crane_up", "crane_down", "handheld", "aerial_drone", "dolly_zoom")  # fmt: skip


def _choices(values: tuple[str, ...]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=v, value=v) for v in values]


def check_image(attachment: discord.Attachment | None, which: str) -> str | None:
    if attachment is None:
        return None
    kind = (attachment.content_type or "").split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        raise InvalidRequestError(
            f"{which}: {kind or 'unknown type'}",
            public_message=f"The {which} must be a PNG, JPEG or WebP image (got {kind or 'an unknown type'}). "
            "Nothing was charged.",
        )
    if attachment.size > IMAGE_MAX_BYTES:
        raise InvalidRequestError(
            f"{which} too large",
            public_message=f"The {which} is {attachment.size // 1024 // 1024} MB; the limit is 10 MB. Nothing was charged.",
        )
    return attachment.url  # passed on at once: Discord CDN links expire


def check_prompt(prompt: str) -> str:
    prompt = clean_text(prompt).strip()
    if not PROMPT_MIN <= len(prompt) <= PROMPT_MAX:
        raise InvalidRequestError(
            "prompt length",
            public_message=f"The prompt must be {PROMPT_MIN} to {PROMPT_MAX} characters (yours has {len(prompt)}). "
            "Nothing was charged.",
        )
    return prompt


class Video(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self.observer = DiscordObserver(bot)

    @app_commands.command(name="video", description="Generate a video from a text prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What should happen in the video (3 to 5000 characters)",
        aspect_ratio="Frame shape (default 16:9)",
        loop="Make the clip loop seamlessly",
        resolution="Output resolution (default 720p; 360p is Ray 3.2's fast draft tier)",
        duration="Clip length (default 5s)",
        model="Which model to use (default: the provider's best)",
        camera=f"A camera move, e.g. orbit_left or push_in (at most {CAMERA_MAX} characters)",
        start_image="Optional first frame (PNG, JPEG or WebP)",
        end_image="Optional last frame (PNG, JPEG or WebP)",
        enhance="Let the provider expand the prompt where it can",
        hdr="HDR output (Luma Ray 3.2: 720p/1080p, 5s, where the bot's Luma plan allows it)",
        takes="How many clips of this prompt to make, to compare and vote on (1 to 4; each is charged)",
    )
    @app_commands.choices(aspect_ratio=_choices(ASPECT_RATIOS), resolution=_choices(RESOLUTIONS),
                          duration=_choices(DURATIONS))  # fmt: skip
    async def video(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        aspect_ratio: str = "16:9",
        loop: bool = False,
        resolution: str = "720p",
        duration: str = "5s",
        model: app_commands.Range[str, 1, CHOICE] | None = None,
        camera: app_commands.Range[str, 1, CAMERA_MAX] | None = None,
        start_image: discord.Attachment | None = None,
        end_image: discord.Attachment | None = None,
        enhance: bool = False,
        hdr: bool = False,
        takes: app_commands.Range[int, 1, MAX_TAKES] = 1,
    ) -> None:
        request = VideoRequest(
            prompt=check_prompt(prompt), aspect_ratio=aspect_ratio, loop=loop, resolution=resolution,
            duration=duration, model=clean_text(model or "") or None, camera=clean_text(camera or "").strip() or None,
            start_image_url=check_image(start_image, "start image"), end_image_url=check_image(end_image, "end image"),
            enhance=enhance, hdr=hdr,
        )  # fmt: skip
        if not 1 <= takes <= MAX_TAKES:  # in code too: a modified client can send any integer
            raise InvalidRequestError("takes", public_message=f"Ask for 1 to {MAX_TAKES} takes. Nothing was charged.")
        await self.start_job(interaction, request, images=(start_image, end_image), takes=takes)

    async def start_job(
        self, interaction: discord.Interaction, request: VideoRequest, *, parent: Job | None = None,
        kind: str | None = None, images: tuple[discord.Attachment | None, discord.Attachment | None] = (None, None),
        takes: int = 1,
        video: discord.Attachment | None = None,
    ) -> Job:
        """Validate (in memory), acknowledge privately (cogs/_ack.py), store keyframes (or an action's source
        `video`) at a provider that keeps files, reserve (the stored job is the reservation), post the public
        status message, queue. Every job starts here: /video, the
        result buttons, and each action on a clip (cogs/_clip.py)."""
        runner = self.bot.runner
        assert runner is not None and self.bot.quotas is not None
        check_request_text(request)  # in code too: a modified client ignores the options' max_length
        runner.validate(request)
        store = file_store(runner, request) if any(images) else None
        video_store = video_file_store(runner, request) if video is not None else None
        await _ack.acknowledge(interaction)  # before any database trip, upload or provider call
        if store is not None:
            request = await store_keyframes(store, request, *images, interaction.user.id)
        if video_store is not None and video is not None:
            request = await store_video(video_store, request, video, interaction.user.id)
        return await self._reserve_and_queue(interaction, request, parent, kind, takes)

    async def _reserve_and_queue(
        self, interaction: discord.Interaction, request: VideoRequest, parent: Job | None, kind: str | None,
        takes: int = 1,
    ) -> Job:
        runner, storage = self.bot.runner, self.bot.storage
        assert runner is not None and self.bot.quotas is not None and storage is not None
        where: dict[str, Any] = {
            "guild_id": interaction.guild_id or 0, "channel_id": interaction.channel_id or 0,
            "user_id": interaction.user.id, "request": request,
            "role_ids": tuple(role.id for role in getattr(interaction.user, "roles", ())),
            "parent_channel_id": getattr(interaction.channel, "parent_id", None),  # server policy: threads inherit
        }  # fmt: skip
        threads = parent is None and await _ideas.wants_thread(storage, interaction)
        if takes > 1 or threads:
            jobs = await self.bot.quotas.reserve_takes(**where, takes=takes)
        else:
            jobs = [await self.bot.quotas.reserve(**where, parent_job_id=parent.id if parent else None, parent_kind=kind)]
        if parent is not None:  # a clip made from another joins its idea (for the board)
            await storage.update_job(jobs[0].id, idea_id=await storage.idea_of(parent))
        thread = await _ideas.open_thread(self.bot, interaction, request.prompt) if threads else None
        try:
            message_id = await self._post_status(interaction, jobs, thread)
        except discord.HTTPException:
            for job in jobs:
                await runner.abandon(job.id, "the status message could not be posted")
            raise
        for job in jobs:
            await storage.update_job(job.id, status_message_id=message_id, **({"channel_id": thread.id} if thread else {}))
            if thread is None:
                self.observer.track(job.id, interaction)
        if thread is not None and jobs[0].idea_id is not None:
            await storage.update_idea(jobs[0].idea_id, channel_id=thread.id, thread_id=thread.id)
        stored = [await storage.get_job(job.id) or job for job in jobs]
        for job in stored:
            runner.enqueue(job)
        return stored[0]

    async def _post_status(self, interaction: discord.Interaction, jobs: list[Job], thread: discord.Thread | None) -> int:
        """The one public status message of these jobs: the interaction's follow-up, or (with a thread) a message
        there and a follow-up pointing to it. Several takes share it."""
        runner = self.bot.runner
        assert runner is not None
        first = jobs[0]
        if len(jobs) > 1:
            assert first.idea_id is not None
            self.observer.track_idea(first.idea_id, len(jobs), None if thread else interaction)
            embed = self.observer.takes.embed(first)
        else:
            progress = JobProgress(JobState.QUEUED, position=runner.queue_length + 1)
            embed = _render.status_embed(first, progress, runner.primary.display_name)
        view = status_view(first.idea_id if len(jobs) > 1 and first.idea_id else first.id)
        if thread is not None:
            message = await thread.send(embed=embed, view=view)
            pointer = f"💡 {_ideas.takes_words(len(jobs))} of your idea: {thread.mention}"
            await _ack.post_publicly(interaction, content=pointer)
            return message.id
        return (await _ack.post_publicly(interaction, embed=embed, view=view)).id

    @video.autocomplete("model")
    async def model_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        models = self.bot.runner.models() if self.bot.runner else []
        return [app_commands.Choice(name=m, value=m) for m in models if current.lower() in m.lower()][:25]

    @video.autocomplete("camera")
    async def camera_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        concepts = await self.concepts()
        fitting = [c for c in concepts if len(c) <= CHOICE]  # Discord refuses a longer choice
        return [app_commands.Choice(name=c, value=c) for c in fitting if current.lower() in c.lower()][:25]

    async def concepts(self) -> list[str]:
        provider = self.bot.runner.primary if self.bot.runner else None
        fetch = getattr(provider, "fetch_concepts", None)
        if fetch is not None:
            try:
                return list(await fetch())
            except Exception:
                log.warning("concept list unavailable; using the built-in list")
        return list(FALLBACK_CONCEPTS)

    async def cancel_from_button(self, interaction: discord.Interaction, job_id: int) -> None:
        job = await self.bot.storage.get_job(job_id)  # type: ignore[union-attr]
        if job is None:
            await interaction.response.send_message("That job no longer exists.", ephemeral=True)
            return
        if not may_manage(interaction, job.user_id):
            await interaction.response.send_message(
                "Only the person who started this video (or a server admin) can cancel it.", ephemeral=True
            )
            return
        if job.take is not None:
            return await _ideas.cancel_takes(self.bot, self.observer, interaction, job)
        await interaction.response.defer()
        cancelled = await self.bot.runner.cancel(job_id)  # type: ignore[union-attr]
        if cancelled is None:
            await interaction.followup.send("Too late to cancel: this job has already finished.", ephemeral=True)
            return
        self.observer.forget(job_id)
        who = "you" if interaction.user.id == job.user_id else interaction.user.mention
        text = f"Cancelled by {who}. The quota was refunded."
        provider = self.bot.runner.providers.get(cancelled.provider or "")  # type: ignore[union-attr]
        if provider is not None and not provider.capabilities.cancel and cancelled.provider_job_id:
            text += (f" {provider.display_name} has no way to stop a clip once it has started, so it may still be "
                     "billed to the bot's account there.")  # fmt: skip
        embed = _render.ended_embed(cancelled, text, self.observer.provider_name(cancelled))
        await interaction.edit_original_response(embed=embed, view=None)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    bot.add_listener(on_stale_modal, "on_interaction")  # Edit prompt modals left open across a restart
    await bot.add_cog(Video(bot))  # type: ignore[arg-type]
