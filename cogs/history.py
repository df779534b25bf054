"""/history (your recent jobs, paged with buttons) and /job id: (one job's status and link; a result whose
message was deleted can be re-posted while the provider's link still works).

The buttons are DynamicItems (`reel:history:<user>:<page>`, `reel:repost:<job_id>`), so they keep
working after a restart and hold no timers.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import media
from bot.client import ReelBot
from bot.domain import Job, JobState, ProviderState
from bot.errors import MediaError, ProviderError
from cogs import _render
from cogs._limits import fit_embed
from cogs._options import JobId
from cogs._perms import is_server_admin, may_see_job

log = logging.getLogger(__name__)

PAGE_SIZE = 5
ICONS = {JobState.QUEUED: "⏳", JobState.SUBMITTING: "📨", JobState.RUNNING: "🎬", JobState.DELIVERING: "📦",
         JobState.COMPLETED: "✅", JobState.FAILED: "❌", JobState.CANCELLED: "🚫"}  # fmt: skip


def message_link(job: Job, message_id: int | None) -> str | None:
    return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{message_id}" if message_id else None


def job_line(job: Job) -> str:
    link = message_link(job, job.result_message_id or job.status_message_id)
    prompt = _render.shorten(job.request.prompt, 60).replace("[", "(").replace("]", ")")
    shown = f"[{prompt}]({link})" if link else prompt
    credit = f" · {_render.credit(job)}" if job.parent_job_id else ""  # "upscale of #12"
    return f"{ICONS[job.state]} **#{job.id}** {job.state.value} · {_render.timestamp(job.created_at, 'R')} · {shown}{credit}"


def history_lines(jobs: list[Job]) -> list[str]:
    """One line per job, the clips of one idea (its takes, re-rolls, finals) under one idea line."""
    lines: list[str] = []
    previous: int | None = None
    for job in jobs:
        if job.idea_id is None:
            lines.append(job_line(job))
        else:
            if job.idea_id != previous:
                count = sum(1 for other in jobs if other.idea_id == job.idea_id)
                lines.append(f"💡 **idea #{job.idea_id}** · {count} clip(s) on this page")
            what = f"take {job.take}" if job.take else (_render.credit(job) if job.parent_job_id else "clip")
            lines.append(f"└ {what}: {job_line(job)}")
        previous = job.idea_id
    return lines


class HistoryPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reel:history:(?P<user>\d+):(?P<page>\d+)"
):
    def __init__(self, user_id: int, page: int, *, label: str = "Next", disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled,
                                           custom_id=f"reel:history:{user_id}:{page}"))  # fmt: skip
        self.user_id, self.page = user_id, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HistoryPageButton:
        return cls(int(match["user"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message("Use /history to see your own videos.", ephemeral=True)
            return
        cog: History = interaction.client.get_cog("History")  # type: ignore[attr-defined]
        embed, view = await cog.history_page(interaction.guild_id or 0, self.user_id, self.page)
        await interaction.response.edit_message(embed=embed, view=view)


class RepostButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reel:repost:(?P<job_id>[0-9]+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Re-post", style=discord.ButtonStyle.primary,
                                           custom_id=f"reel:repost:{job_id}"))  # fmt: skip
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RepostButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog: History = interaction.client.get_cog("History")  # type: ignore[attr-defined]
        await cog.repost(interaction, self.job_id)


class History(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Your recent videos in this server, with links")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        embed, view = await self.history_page(interaction.guild_id or 0, interaction.user.id, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    async def history_page(self, guild_id: int, user_id: int, page: int) -> tuple[discord.Embed, discord.ui.View]:
        storage = self.bot.storage
        assert storage is not None
        total = await storage.count_user_jobs(guild_id, user_id)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(0, page), pages - 1)
        jobs = await storage.user_jobs(guild_id, user_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        text = "\n".join(history_lines(jobs)) or "You have not made any videos in this server yet."
        embed = discord.Embed(title="Your videos", description=text, colour=discord.Colour.blurple())
        embed.set_footer(text=f"Page {page + 1} of {pages} · {total} job(s) · /job id: shows one")
        embed = fit_embed(embed)
        view = discord.ui.View(timeout=None)
        view.add_item(HistoryPageButton(user_id, max(0, page - 1), label="Previous", disabled=page == 0))
        view.add_item(HistoryPageButton(user_id, page + 1, label="Next", disabled=page >= pages - 1))
        return embed, view

    @app_commands.command(name="job", description="Show one job's status and result link")
    @app_commands.guild_only()
    @app_commands.describe(id="The job number (shown as job #… under each video)")
    async def job(self, interaction: discord.Interaction, id: JobId) -> None:
        job = await self.bot.storage.get_job(id)  # type: ignore[union-attr]
        if job is None or not may_see_job(interaction, job):  # the same answer either way: ids reveal nothing
            await interaction.response.send_message(f"There is no job #{id} in this server.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        deleted = job.state is JobState.COMPLETED and await self._result_missing(job)
        embed = job_embed(job, self._position(job), deleted)
        view = None
        if deleted and (interaction.user.id == job.user_id or is_server_admin(interaction)):
            view = discord.ui.View(timeout=None)
            view.add_item(RepostButton(job.id))
        await interaction.edit_original_response(embed=embed, view=view)

    def _position(self, job: Job) -> int | None:
        return self.bot.runner.position(job.id) if self.bot.runner and job.state is JobState.QUEUED else None

    async def _result_missing(self, job: Job) -> bool:
        """True when the job's result message no longer exists (deleted, or its channel is gone)."""
        if not job.result_message_id:
            return True
        channel = self.bot.get_channel(job.channel_id) or self.bot.get_partial_messageable(job.channel_id)
        try:
            await channel.fetch_message(job.result_message_id)  # type: ignore[union-attr]
        except discord.NotFound:
            return True
        except discord.HTTPException as error:
            log.info("could not check the result of job %s: HTTP %s", job.id, error.status)
        return False

    async def repost(self, interaction: discord.Interaction, job_id: int) -> None:
        """Download the clip again from the provider's link and post it here, if the link still works."""
        job = await self.bot.storage.get_job(job_id)  # type: ignore[union-attr]
        if job is None or not may_see_job(interaction, job) or job.state is not JobState.COMPLETED:
            await interaction.response.send_message("That job has no result to re-post.", ephemeral=True)
            return
        if interaction.user.id != job.user_id and not is_server_admin(interaction):
            await interaction.response.send_message("Only the requester or a server admin can re-post it.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not await self._result_missing(job):
            link = message_link(job, job.result_message_id)
            await interaction.edit_original_response(content=f"The video is still there: {link}")
            return
        message = await self._post_again(interaction, job)
        if message is None:
            await interaction.edit_original_response(
                content="The video's link at the provider has expired, so it can't be re-posted. Make it again with /video."
            )
            return
        await self.bot.storage.update_job(job.id, result_message_id=message.id, channel_id=message.channel.id)  # type: ignore[union-attr]
        await interaction.edit_original_response(content=f"Re-posted: {message.jump_url}")

    async def _fresh_link(self, job: Job) -> str:
        """The stored link, or where the provider's links expire (Luma Agents: an hour) a fresh one from
        re-reading the finished generation."""
        provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
        if provider is not None and provider.capabilities.expiring_urls and job.provider_job_id:
            try:
                status = await provider.poll(job.provider_job_id)
                if status.state is ProviderState.COMPLETED and status.video_url:
                    return status.video_url
            except ProviderError as error:
                log.info("re-post of job %s: no fresh link (%s)", job.id, error.code)
        return job.video_url or ""

    async def _post_again(self, interaction: discord.Interaction, job: Job) -> discord.Message | None:
        url = await self._fresh_link(job)
        if not url.startswith(("http://", "https://")) or self.bot.download_session is None:
            return None
        limit = interaction.guild.filesize_limit if interaction.guild else 10 * 1024 * 1024
        temp = media.new_temp_path(Path(self.bot.settings.data_dir) / "tmp")
        try:
            try:
                await media.download(self.bot.download_session, url, temp, max_bytes=limit)
                files = [discord.File(temp, filename=f"reelbot-{job.id}.mp4")]
            except media.MediaTooLargeError:
                files = []  # too large to upload here: post the link
            except MediaError as error:
                log.info("re-post of job %s: %s", job.id, error)
                return None
            provider = self.bot.runner.providers.get(job.provider or "") if self.bot.runner else None
            model = job.request.model or (provider.capabilities.default_model if provider else "?")
            taken = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
            embed = _render.result_embed(job, model=model, provider_name=provider.display_name if provider else "?",
                                         taken=taken, link=None if files else url)  # fmt: skip
            return await interaction.channel.send(  # type: ignore[union-attr]
                content=f"<@{job.user_id}> your video (re-posted).", embed=embed, files=files,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(id=job.user_id)]),
            )  # fmt: skip
        finally:
            await media.remove_quietly(temp)


def job_embed(job: Job, position: int | None, deleted: bool) -> discord.Embed:
    embed = discord.Embed(title=f"{ICONS[job.state]} Job #{job.id}: {job.state.value}", colour=_render.COLOURS[job.state])
    embed.add_field(name="Prompt", value=_render.shorten(job.request.prompt, 1000), inline=False)
    embed.add_field(name="Options", value=job.request.options_summary(), inline=True)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    embed.add_field(name="Cost", value=f"{job.cost} unit(s) held", inline=True)
    if position is not None:
        embed.add_field(name="Queue", value=f"Position {position}", inline=True)
    if job.started_at and job.finished_at:
        embed.add_field(name="Time taken", value=_render.duration_text((job.finished_at - job.started_at).total_seconds()))
    if job.failure_reason:
        embed.add_field(name="Why", value=_render.shorten(job.failure_reason, 1000), inline=False)
    link = message_link(job, job.result_message_id or job.status_message_id)
    if deleted:
        embed.add_field(name="Result", value="The result message was deleted. Re-post it with the button "
                        "(if the provider's link has not expired).", inline=False)  # fmt: skip
    elif link:
        embed.add_field(name="Result" if job.result_message_id else "Status", value=f"[Open]({link})", inline=False)
    embed.set_footer(text=f"{_render.job_marker(job.id)} · requested {job.created_at:%Y-%m-%d %H:%M} UTC")
    return fit_embed(embed)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(HistoryPageButton, RepostButton)
    await bot.add_cog(History(bot))  # type: ignore[arg-type]
