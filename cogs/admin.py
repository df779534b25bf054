"""/videoadmin: server administration. `default_permissions(manage_guild)` hides it from members, but
that is only a hint (admins can change it, Discord ignores it on subcommands), so `interaction_check`
refuses every subcommand in code unless the member has Manage Server.

    /videoadmin limits show|server|role|user|block|unblock|budget|cooldown|weight   (cogs/_admin_limits.py)
    /videoadmin channels allow|deny|remove|list, blocklist add|remove|list      (cogs/_admin_rules.py)
    /videoadmin threads|final                                                        (cogs/_admin_ideas.py)
    /videoadmin stats|cancel|forget                                                  (here)
"""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReelBot
from bot.domain import JobState
from bot.policy import estimate_spend
from cogs import _render
from cogs._admin_ideas import IdeaCommands, idea_stats_lines
from cogs._admin_limits import LimitsCommands
from cogs._admin_rules import RulesCommands
from cogs._limits import fit_content, fit_embed
from cogs._options import JobId
from cogs._perms import may_see_job, require_admin

CANCELLABLE = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(LimitsCommands, RulesCommands, IdeaCommands, commands.GroupCog, group_name="videoadmin",
            group_description="Server admin: limits, channels, blocklist, stats, cancel, forget"):  # fmt: skip
    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return require_admin(interaction)

    @app_commands.command(name="stats", description="Jobs, users, failures and estimated spend over a period")
    @app_commands.describe(days="How many days back to count (1 to 365, default 30)")
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 30) -> None:
        since = self.bot.clock.now() - timedelta(days=days)
        stats = await self._store.guild_stats(interaction.guild_id or 0, since)
        runner = self.bot.runner
        defaults = {name: p.capabilities.default_model for name, p in runner.providers.items()} if runner else {}
        spend = estimate_spend(stats["groups"], self.bot.settings.prices, defaults)
        embed = discord.Embed(title=f"Video stats, last {days} day(s)", colour=discord.Colour.blurple())
        embed.description = (
            f"**Jobs:** {stats['jobs']} by {stats['users']} member(s) · {stats['completed']} completed · "
            f"{stats['failed']} failed · {stats['cancelled']} cancelled\n"
            f"**Refused before starting:** {stats['refused']} (quota, budget, cooldown, channel, blocklist)\n"
            f"**Quota units held:** {stats['units']}\n"
            f"**Estimated spend:** ${sum(line.estimate for line in spend):.2f}"
        )
        for line in spend[:20]:
            embed.add_field(name=f"{line.provider} · {line.model}", inline=False,
                            value=f"{line.jobs} jobs, {line.completed} completed, {line.failed} failed · "
                                  f"≈ ${line.estimate:.2f} (${line.price:.2f} per 5 s clip)")  # fmt: skip
        ideas = idea_stats_lines(await self._store.idea_stats(interaction.guild_id or 0))
        if ideas:
            embed.add_field(name="Brainstorming (all time)", value=ideas, inline=False)
        embed.set_footer(text="Spend is an estimate from PRICE_TABLE: completed clips only, priced by length.")
        await interaction.response.send_message(embed=fit_embed(embed), ephemeral=True)

    @app_commands.command(name="cancel", description="Cancel any member's job that has not finished (refunds it)")
    @app_commands.describe(job="The job number (job #… on its status message)")
    async def cancel(self, interaction: discord.Interaction, job: JobId) -> None:
        found = await self._store.get_job(job)
        if found is None or not may_see_job(interaction, found):  # another server's: exactly like no job
            return await _reply(interaction, f"There is no job #{job} in this server.")
        if found.state not in CANCELLABLE:
            return await _reply(interaction, f"Job #{job} is already {found.state.value}; nothing to cancel.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        cancelled = await self.bot.runner.cancel(job) if self.bot.runner else None
        if cancelled is None:
            await interaction.edit_original_response(content=f"Too late: job #{job} finished before it could be cancelled.")
            return
        video = self.bot.get_cog("Video")
        if video is not None:
            observer = video.observer  # type: ignore[attr-defined]
            text = f"Cancelled by a server admin ({interaction.user.mention}). The quota was refunded."
            observer.forget(job)
            if cancelled.take is not None:  # one line of the takes' shared status, not all of it
                await observer.take_ended(cancelled, f"🚫 {text}")
            else:
                embed = _render.ended_embed(cancelled, text, observer.provider_name(cancelled))
                await observer.edit_status(cancelled, embed=embed, view=None)
        await interaction.edit_original_response(content=f"Job #{job} of <@{found.user_id}> cancelled and refunded.")

    @app_commands.command(name="forget", description="Delete a member's video history and refusals in this server")
    @app_commands.describe(user="The member whose data to delete (their unfinished jobs are cancelled first)")
    async def forget(self, interaction: discord.Interaction, user: discord.User) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        unfinished = await self._store.jobs_in_states(CANCELLABLE)
        active = [j for j in unfinished if j.guild_id == guild_id and j.user_id == user.id]
        for job in active:
            if self.bot.runner is not None:
                await self.bot.runner.cancel(job.id)
        jobs, refusals = await self._store.forget_user(guild_id, user.id)
        await interaction.edit_original_response(
            content=f"Deleted {jobs} job(s) and {refusals} refused request(s) of {user.mention} ({len(active)} cancelled "
            "first). Limits or a block set for them stay; remove them with /videoadmin limits.",
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def _reply(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(fit_content(text), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(bot))  # type: ignore[arg-type]
