"""Buttons as DynamicItems keyed by job id (`reel:<action>:<job_id>`), so they work after a restart.

Status messages carry Cancel; results carry Re-roll, Edit prompt, Extend (where the provider that made
the clip can continue it) and Delete. Every click re-reads the job, so a button never goes stale: a job
that no longer exists, or a user who may not act on it, gets an ephemeral answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import discord

from bot.domain import Job, JobState, VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import JobRunner
from cogs import _render
from cogs._modals import EditPromptModal
from cogs.errors import report

log = logging.getLogger(__name__)

GONE = "That job no longer exists, so this button can't be used."


class CancelButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reel:cancel:(?P<job_id>[0-9]+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Cancel", style=discord.ButtonStyle.danger, custom_id=f"reel:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
        await video.cancel_from_button(interaction, self.job_id)


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


RESULT_ACTIONS = {  # action → (label, emoji, style, parent_kind of the job it starts)
    "reroll": ("Re-roll", "🔄", discord.ButtonStyle.primary, "re-roll"),
    "edit": ("Edit prompt", "✏️", discord.ButtonStyle.secondary, "edit"),
    "extend": ("Extend", "⏩", discord.ButtonStyle.secondary, "extend"),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger, None),
}
REFUSALS = {
    "reroll": "Only the person who made this video (or a server admin) can re-roll it.",
    "edit": "Only the person who made this video (or a server admin) can edit its prompt.",
    "extend": "Only the person who made this video (or a server admin) can extend it.",
    "delete": "Only the person who made this video (or a server admin) can delete it.",
}


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reel:(?P<action>reroll|edit|extend|delete):(?P<job_id>[0-9]+)"
):
    def __init__(self, action: str, job_id: int) -> None:
        label, emoji, style, _ = RESULT_ACTIONS[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"reel:{action}:{job_id}"))
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultButton:
        return cls(match["action"], int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await result_action(interaction, self.action, self.job_id)
        except Exception as error:  # never let a click end in "This interaction failed"
            await report(interaction, error, f"{self.action} of job {self.job_id}")


def result_view(job_id: int, *, extendable: bool) -> discord.ui.View:
    """The buttons under a finished clip; Extend only where the provider that made it can continue it."""
    view = discord.ui.View(timeout=None)
    for action in RESULT_ACTIONS:
        if action != "extend" or extendable:
            view.add_item(ResultButton(action, job_id))
    return view


async def result_action(interaction: discord.Interaction, action: str, job_id: int) -> None:
    bot = interaction.client
    job = await bot.storage.get_job(job_id)  # type: ignore[attr-defined]
    if job is None:
        await interaction.response.send_message(GONE, ephemeral=True)
        return
    if not may_manage(interaction, job.user_id):
        await interaction.response.send_message(REFUSALS[action], ephemeral=True)
        return
    if action == "delete":
        await delete_result(interaction, job)
    elif action == "edit":
        await interaction.response.send_modal(EditPromptModal(job, bot))  # a modal must be the first response
    else:
        request = job.request if action == "reroll" else extension_request(job, bot.runner)  # type: ignore[attr-defined]
        video = bot.get_cog("Video")  # type: ignore[attr-defined]
        await video.start_job(interaction, request, parent=job, kind=RESULT_ACTIONS[action][3])


def extension_request(job: Job, runner: JobRunner | None) -> VideoRequest:
    """The same prompt and options, continuing `job`'s clip on the provider that made it (only that one
    knows the generation). Image keyframes are dropped: the clip itself is the first frame now."""
    provider = runner.providers.get(job.provider or "") if runner is not None else None
    if job.state is not JobState.COMPLETED or not job.provider_job_id:
        raise InvalidRequestError("extend of an unfinished job", public_message="Only a finished clip can be extended.")
    if provider is None:
        raise InvalidRequestError(
            "extend on a provider no longer configured",
            public_message=f"This clip was made by `{job.provider}`, which this bot no longer uses, and only the "
            "service that made a clip can continue it. Nothing was charged.",
        )
    if not provider.capabilities.extend:
        raise InvalidRequestError(
            "extend not supported",
            public_message=f"{provider.display_name} can't extend clips. Nothing was charged.",
        )
    caps = provider.capabilities
    # Where an extension has narrower rules (Ray 3.2: SDR only, one 5 s block), it keeps what it can.
    duration = job.request.duration
    if caps.frame_durations is not None and duration not in caps.frame_durations:
        duration = caps.frame_durations[0]
    return replace(
        job.request, extend_of=job.provider_job_id, extend_provider=provider.name, end_of=None,
        start_image_url=None, end_image_url=None, start_image_file=None, end_image_file=None,
        hdr=job.request.hdr and caps.hdr_extend, duration=duration, action=None, action_of=None,
        strength=None, negative_prompt=None, source_video_url=None, source_video_file=None,
    )  # fmt: skip


async def delete_result(interaction: discord.Interaction, job: Job) -> None:
    """Remove the clip's message (the bot's own, so no extra permission is needed). Where the clip was posted
    apart from its status message, the status message stops pointing at it."""
    await interaction.response.defer()
    if interaction.message is None:
        return
    try:
        await interaction.message.delete()
    except discord.NotFound:
        pass  # already gone
    except discord.HTTPException as error:
        log.info("could not delete a result message: HTTP %s code %s", error.status, error.code)
        await interaction.followup.send("Discord would not let me delete that message.", ephemeral=True)
        return
    if job.status_message_id and job.status_message_id != interaction.message.id:
        observer = interaction.client.get_cog("Video").observer  # type: ignore[attr-defined]
        await observer.edit_status(job, embed=_render.deleted_embed(job, interaction.user.id), view=None)


DYNAMIC_ITEMS = (CancelButton, ResultButton)


def may_manage(interaction: discord.Interaction, owner_id: int) -> bool:
    """The requester, or a server admin (manage_guild), may act on a job."""
    if interaction.user.id == owner_id:
        return True
    permissions = getattr(interaction, "permissions", None)
    return bool(permissions and (permissions.manage_guild or permissions.administrator))
