"""/clip: work on a finished clip (requester or admin). Each subcommand starts a new job through
cogs/_clip.py (the same path as the result's "More…" menu), refused ephemerally before anything is charged
where the provider that made the clip can't do it.

    /clip upscale job resolution · audio job prompt [negative] · modify job|video prompt strength
    /clip reframe job|video aspect_ratio · extend job [direction] [prompt] · bridge from to [prompt]
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import MODIFY_STRENGTHS
from cogs import _clip
from cogs._clip import JOB_MAX, refuse
from cogs._clip_menu import MoreSelect, on_stale_clip_modal
from cogs._limits import NEGATIVE_MAX, PROMPT_MAX
from cogs.video import ASPECT_RATIOS, check_prompt

JobId = app_commands.Range[int, 1, JOB_MAX]
Prompt = app_commands.Range[str, 1, PROMPT_MAX]


def _choices(values: tuple[str, ...]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=v, value=v) for v in values]


def _one_source(job: int | None, video: discord.Attachment | None) -> None:
    if (job is None) == (video is None):
        raise refuse("Give either `job` (one of your clips) or `video` (an MP4), not both or neither. "
                     "Nothing was charged.")  # fmt: skip


@app_commands.guild_only()
class Clip(commands.GroupCog, group_name="clip", group_description="Work on a finished clip: upscale, audio, "
           "modify, reframe, extend, bridge"):  # fmt: skip
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        super().__init__()

    async def _on_job(self, interaction: discord.Interaction, action: str, job_id: int, **params: object) -> None:
        job = await _clip.find_job(interaction, job_id, action)
        await _clip.start_clip_action(interaction, action, job, **params)

    @app_commands.command(name="upscale", description="Upscale a clip to a higher resolution")
    @app_commands.describe(job="The job number of the clip", resolution="The new resolution")
    @app_commands.choices(resolution=_choices(("1080p", "4k")))
    async def upscale(self, interaction: discord.Interaction, job: JobId, resolution: str) -> None:
        await self._on_job(interaction, "upscale", job, resolution=resolution)

    @app_commands.command(name="audio", description="Add a generated soundtrack to a clip")
    @app_commands.describe(job="The job number of the clip", prompt="What the clip should sound like",
                           negative="What the soundtrack should not have")  # fmt: skip
    async def audio(
        self, interaction: discord.Interaction, job: JobId, prompt: Prompt,
        negative: app_commands.Range[str, 1, NEGATIVE_MAX] | None = None,
    ) -> None:
        await self._on_job(interaction, "audio", job, prompt=check_prompt(prompt), negative=negative)

    @app_commands.command(name="modify", description="Restyle a clip (video to video) with a prompt")
    @app_commands.describe(job="The job number of the clip (or give video)", video="An MP4 to modify (or give job)",
                           prompt="What the new version should look like",
                           strength="adhere stays close to the source, flex less, reimagine loosely")  # fmt: skip
    @app_commands.choices(strength=_choices(MODIFY_STRENGTHS))
    async def modify(
        self, interaction: discord.Interaction, prompt: Prompt, strength: str, job: JobId | None = None,
        video: discord.Attachment | None = None,
    ) -> None:
        _one_source(job, video)
        prompt = check_prompt(prompt)
        if video is not None:
            await _clip.start_upload_action(interaction, "modify", video, prompt=prompt, strength=strength)
        else:
            await self._on_job(interaction, "modify", job or 0, prompt=prompt, strength=strength)

    @app_commands.command(name="reframe", description="Re-render a clip in another frame shape")
    @app_commands.describe(job="The job number of the clip (or give video)", video="An MP4 to reframe (or give job)",
                           aspect_ratio="The new frame shape")  # fmt: skip
    @app_commands.choices(aspect_ratio=_choices(ASPECT_RATIOS))
    async def reframe(
        self, interaction: discord.Interaction, aspect_ratio: str, job: JobId | None = None,
        video: discord.Attachment | None = None,
    ) -> None:
        _one_source(job, video)
        if video is not None:
            prompt = f"the same scene, reframed to {aspect_ratio}"  # Ray 3.2 requires a prompt
            await _clip.start_upload_action(interaction, "reframe", video, prompt=prompt, aspect_ratio=aspect_ratio)
        else:
            await self._on_job(interaction, "reframe", job or 0, aspect_ratio=aspect_ratio)

    @app_commands.command(name="extend", description="Continue a clip forward, or lead into it (backward)")
    @app_commands.describe(
        job="The job number of the clip", prompt="What happens next (default: its prompt)",
        direction="forward (default): after it; backward: a new clip that ends where it starts",
    )  # fmt: skip
    @app_commands.choices(direction=_choices(("forward", "backward")))
    async def extend(
        self, interaction: discord.Interaction, job: JobId, direction: str = "forward", prompt: Prompt | None = None
    ) -> None:
        text = check_prompt(prompt) if prompt else None
        await self._on_job(interaction, "extend", job, direction=direction, prompt=text)

    @app_commands.command(name="bridge", description="A clip that starts where one clip ends and ends where another begins")
    @app_commands.rename(from_="from")
    @app_commands.describe(from_="The job number of the first clip", to="The job number of the clip to lead into",
                           prompt="What happens in between (default: the first clip's prompt)")  # fmt: skip
    async def bridge(self, interaction: discord.Interaction, from_: JobId, to: JobId, prompt: Prompt | None = None) -> None:
        first = await _clip.find_job(interaction, from_, "bridge")
        second = await _clip.find_job(interaction, to, "bridge")
        if first.id == second.id:
            raise refuse("A bridge needs two different clips. Nothing was charged.")
        text = check_prompt(prompt) if prompt else None
        await _clip.start_clip_action(interaction, "bridge", first, to=second, prompt=text)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(MoreSelect)  # the result's "More…" menu, keyed by job id: it survives restarts
    bot.add_listener(on_stale_clip_modal, "on_interaction")
    await bot.add_cog(Clip(bot))  # type: ignore[arg-type]
