"""/quota: how many videos you have used today, what is running, when it resets."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import JobState
from cogs._render import timestamp


class Quota(commands.Cog):
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="Show how many videos you can still make today")
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        assert self.bot.quotas is not None and self.bot.storage is not None
        roles = tuple(role.id for role in getattr(interaction.user, "roles", ()))
        usage = await self.bot.quotas.usage(interaction.guild_id or 0, interaction.user.id, roles)
        recent = await self.bot.storage.user_jobs(interaction.guild_id or 0, interaction.user.id, limit=25)
        active = [job for job in recent if job.state.active]
        lines = [
            f"**Today:** {usage.used_today} of {usage.daily_limit} videos used ({usage.remaining} left)",
            f"**Running:** {usage.active} of {usage.concurrent_limit} at a time",
            f"**Resets:** {timestamp(usage.resets_at, 'R')} ({timestamp(usage.resets_at, 't')})",
        ]
        for job in active[:10]:
            where = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.status_message_id}"
            state = "queued" if job.state is JobState.QUEUED else "generating"
            lines.append(f"• #{job.id} {state}: [{job.request.prompt[:60]}]({where})")
        embed = discord.Embed(title="Your video quota", description="\n".join(lines), colour=discord.Colour.blurple())
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Quota(bot))  # type: ignore[arg-type]
