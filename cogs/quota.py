"""/quota: how many videos (and quota units) you have used today, what is running, when it resets,
and what each option costs. Admins may look at another member's quota."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import Job, JobState, VideoRequest
from bot.policy import clip_cost, describe_costs
from bot.quotas import Usage
from cogs._admin_ideas import DEFAULT_FINAL
from cogs._limits import fit_embed
from cogs._perms import is_server_admin, may_see_job
from cogs._render import timestamp

SOURCES = {"server default": "server default", "server setting": "server setting", "role": "from your role",
           "user override": "set for you"}  # fmt: skip


class Quota(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="Show how many videos you can still make today")
    @app_commands.guild_only()
    @app_commands.describe(user="Server admins only: show this member's quota instead of yours")
    async def quota(self, interaction: discord.Interaction, user: discord.Member | None = None) -> None:
        assert self.bot.quotas is not None and self.bot.storage is not None
        member = user or interaction.user
        if member.id != interaction.user.id and not is_server_admin(interaction):
            await interaction.response.send_message(
                "Only server admins (Manage Server) can see someone else's quota. Leave `user` empty to see yours.",
                ephemeral=True,
            )
            return
        roles = tuple(role.id for role in getattr(member, "roles", ()))
        guild_id = interaction.guild_id or 0
        usage = await self.bot.quotas.usage(guild_id, member.id, roles)
        weights = await self.bot.storage.cost_weights(guild_id)
        recent = await self.bot.storage.user_jobs(guild_id, member.id, limit=25)
        title = "Your video quota" if member.id == interaction.user.id else f"Video quota of {member.display_name}"
        active = [j for j in recent if j.state.active and may_see_job(interaction, j)]  # an admin sees their channels
        final = (await self.bot.storage.idea_settings(guild_id))["final_resolution"] or DEFAULT_FINAL
        costs = f"{describe_costs(weights)}\n{draft_and_final(weights, final)}"
        embed = quota_embed(title, usage, costs, bool(weights), active)
        await interaction.response.send_message(embed=embed, ephemeral=True)


def quota_embed(title: str, usage: Usage, costs: str, weighted: bool, active: list[Job]) -> discord.Embed:
    """Both counts (videos and units), the limits and where they come from, the reset, the costs, active jobs."""
    limits = usage.limits
    unit = "units" if weighted else "videos"
    lines = [
        f"**Today:** {usage.used_today} of {usage.daily_limit} {unit} used ({usage.remaining} left)"
        + (f" · {usage.videos_today} video(s) made" if weighted else ""),
        f"**Running:** {usage.active} of {usage.concurrent_limit} at a time",
        f"**Resets:** {timestamp(usage.resets_at, 'R')} ({timestamp(usage.resets_at, 't')})",
    ]
    if limits is not None:
        lines.append(f"**Limits:** daily {SOURCES.get(limits.daily_from, limits.daily_from)}, "
                     f"at a time {SOURCES.get(limits.concurrent_from, limits.concurrent_from)}")  # fmt: skip
        if limits.blocked:
            lines.append("**Blocked:** a server admin has blocked video generation for this member.")
    if usage.server_budget is not None:
        lines.append(f"**Server today:** {usage.server_used} of {usage.server_budget} units ({usage.budget_left} left)")
    lines.append(f"**Costs:** {costs}")
    for job in active[:10]:
        where = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.status_message_id}"
        state = "queued" if job.state is JobState.QUEUED else "generating"
        lines.append(f"• #{job.id} {state} ({job.cost} unit{'s' if job.cost != 1 else ''}): "
                     f"[{job.request.prompt[:60]}]({where})")  # fmt: skip
    return fit_embed(discord.Embed(title=title, description="\n".join(lines), colour=discord.Colour.blurple()))


def draft_and_final(weights: dict[str, int], final: str, draft: str = "360p") -> str:
    """What a 5 s draft take and its Final (the server's final resolution) cost, in units."""

    def cost(resolution: str) -> int:
        return clip_cost(VideoRequest(prompt="-", resolution=resolution), weights)

    return (f"**Draft → final:** a 5 s {draft} draft take costs {cost(draft)} unit(s); Final of a pick renders it "
            f"at {final} for {cost(final)} unit(s).")  # fmt: skip


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Quota(bot))  # type: ignore[arg-type]
