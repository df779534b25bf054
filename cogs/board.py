"""/board and the board's buttons: Vote (one per member per clip, toggled), Pick (the idea's requester or an
admin) and Final (render the picked clip at the server's final resolution). The board itself is drawn
and kept by cogs/_board.py."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import Job, JobState, VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import JobRunner
from cogs._admin_ideas import DEFAULT_FINAL
from cogs._board import BoardKeeper, VoteButton
from cogs._clip import action_request
from cogs._options import JobId
from cogs._perms import may_see_job
from cogs._views import may_manage
from cogs.errors import report

log = logging.getLogger(__name__)

NO_BOARD = "There is no board here: a board is kept for an idea with two or more finished clips."


class Board(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @property
    def keeper(self) -> BoardKeeper:  # the Video cog's observer posts clips, so it keeps the boards
        return self.bot.get_cog("Video").observer.board  # type: ignore[union-attr, no-any-return]

    @app_commands.command(name="board", description="Post the board of this thread's idea (or a job's) at the bottom")
    @app_commands.guild_only()
    @app_commands.describe(job="A job of the idea (default: the idea this thread was opened for)")
    async def board(self, interaction: discord.Interaction, job: JobId | None = None) -> None:
        storage = self.bot.storage
        assert storage is not None
        idea_id = None
        if job is not None:
            found = await storage.get_job(job)
            if found is None or not may_see_job(interaction, found):
                await interaction.response.send_message(f"There is no job #{job} in this server.", ephemeral=True)
                return
            idea_id = found.idea_id
        else:
            idea_id = await storage.idea_in_thread(interaction.channel_id or 0)
        if idea_id is None:
            await interaction.response.send_message(NO_BOARD, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        message_id = await self.keeper.refresh(idea_id, repost=True)
        await interaction.edit_original_response(content="Board posted below." if message_id else NO_BOARD)

    async def clicked(self, interaction: discord.Interaction, action: str, job_id: int) -> None:
        try:
            await self._clicked(interaction, action, job_id)
        except Exception as error:  # never let a click end in "This interaction failed"
            await report(interaction, error, f"{action} of job {job_id}")

    async def _clicked(self, interaction: discord.Interaction, action: str, job_id: int) -> None:
        storage = self.bot.storage
        assert storage is not None
        job = await storage.get_job(job_id)
        idea = await storage.get_idea(job.idea_id) if job is not None and job.idea_id else None
        if job is None or idea is None:
            await interaction.response.send_message("That clip no longer exists.", ephemeral=True)
            return
        if action == "vote":
            voted = await storage.toggle_vote(job.id, interaction.user.id, self.bot.clock.now())
            log.info("vote %s on job %s by %s", "cast" if voted else "taken back", job.id, interaction.user.id)
        elif not may_manage(interaction, idea["user_id"]):
            await interaction.response.send_message(
                f"Only <@{idea['user_id']}>, who started this idea, or a server admin can {action} a clip.",
                ephemeral=True, allowed_mentions=discord.AllowedMentions.none(),
            )  # fmt: skip
            return
        elif action == "pick":
            picked = None if idea["picked_job_id"] == job.id else job.id
            await storage.update_idea(idea["id"], picked_job_id=picked)
        else:
            await self.final(interaction, job, idea)
            return
        rendered = await self.keeper.render(idea["id"])
        if rendered is None or interaction.message is None:
            await interaction.response.send_message("Counted.", ephemeral=True)
            return
        await interaction.response.edit_message(view=rendered[1])

    async def final(self, interaction: discord.Interaction, job: Job, idea: dict[str, Any]) -> None:
        """Render the picked clip at the server's final resolution: a new job credited 'final of #…'."""
        if idea["picked_job_id"] != job.id or job.state is not JobState.COMPLETED:
            await interaction.response.send_message("Pick this clip first; Final renders the picked one.", ephemeral=True)
            return
        settings = await self.bot.storage.idea_settings(job.guild_id)  # type: ignore[union-attr]
        request = final_request(self.bot.runner, job, settings["final_resolution"] or DEFAULT_FINAL)  # type: ignore[arg-type]
        video = self.bot.get_cog("Video")
        await video.start_job(interaction, request, parent=job, kind="final")  # type: ignore[union-attr]


def final_request(runner: JobRunner, job: Job, resolution: str) -> VideoRequest:
    """The picked clip at the final resolution, as faithfully as its provider allows: the provider's own
    upscale of that generation (Luma v1's upscale; on Ray 3.2 a video_edit at adhere_1, its closest
    adherence). Where the provider has no upscale to that resolution, a new render of the same request."""
    try:
        request, _ = action_request(runner, job, "upscale", resolution=resolution)
        return request
    except InvalidRequestError:
        pass  # this provider can't upscale to `resolution`: render the draft's request again at it
    draft = job.request
    if draft.resolution == resolution:
        raise InvalidRequestError(
            "final at the draft's resolution",
            public_message=f"This clip is already {resolution}, the server's final resolution. Nothing was charged.",
        )
    return replace(draft, resolution=resolution, extend_of=None, extend_provider=None)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(VoteButton)
    await bot.add_cog(Board(bot))  # type: ignore[arg-type]
