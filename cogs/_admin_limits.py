"""`/videoadmin limits …`: show and set limits for the server, a role or a user; block and unblock a
user; the server's daily budget; the cooldown; cost weights. A mixin of the Admin cog (cogs/admin.py),
whose interaction_check makes every one of these admin-only in code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.policy import MAX_WEIGHT, WEIGHT_OPTIONS, describe_costs
from cogs._limits import fit_content, fit_embed

if TYPE_CHECKING:
    from bot.client import ReelBot
    from bot.storage import Storage

DAILY = app_commands.Range[int, 0, 10_000]
CONCURRENT = app_commands.Range[int, 1, 50]


def _value(value: int | None, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


class LimitsCommands:
    bot: ReelBot

    limits = app_commands.Group(name="limits", description="Video limits for the server, roles and users")

    @property
    def _store(self) -> Storage:
        assert self.bot.storage is not None
        return self.bot.storage

    @limits.command(name="show", description="Show every limit, block, budget, cooldown and cost weight here")
    async def limits_show(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        server = await self._store.guild_settings(guild_id)
        settings = self.bot.settings
        lines = [
            f"**Server default:** {_value(server.get('daily_limit'))} per day "
            f"(environment: {settings.quota_daily}), {_value(server.get('concurrent_limit'))} at a time "
            f"(environment: {settings.quota_concurrent})",
            f"**Server budget:** {_value(server.get('daily_budget'), ' units per day')}",
            f"**Cooldown:** {server.get('cooldown_s') or 0}s between one member's videos",
            f"**Costs:** {describe_costs(await self._store.cost_weights(guild_id))}",
        ]
        for role_id, (daily, concurrent) in (await self._store.role_limits(guild_id)).items():
            lines.append(f"• <@&{role_id}>: {_value(daily)} per day, {_value(concurrent)} at a time")
        for user_id, entry in (await self._store.user_limits(guild_id)).items():
            state = " · **blocked**" if entry["blocked"] else ""
            lines.append(f"• <@{user_id}>: {_value(entry['daily_limit'])} per day, "
                         f"{_value(entry['concurrent_limit'])} at a time{state}")  # fmt: skip
        embed = discord.Embed(title="Video limits", description="\n".join(lines), colour=discord.Colour.blurple())
        embed.set_footer(text="— means not set: the level below applies (user → best role → server → environment).")
        await interaction.response.send_message(embed=fit_embed(embed), ephemeral=True)

    @limits.command(name="server", description="Set the server's default limits per member")
    @app_commands.describe(daily="Quota units per member per day (0 to 10000)",
                           concurrent="Videos one member may run at once (1 to 50)",
                           reset="Forget the server's own limits and use QUOTA_DAILY / QUOTA_CONCURRENT")  # fmt: skip
    async def limits_server(self, interaction: discord.Interaction, daily: DAILY | None = None,
                            concurrent: CONCURRENT | None = None, reset: bool = False) -> None:  # fmt: skip
        if reset:
            await self._store.set_guild_settings(interaction.guild_id or 0, daily_limit=None, concurrent_limit=None)
            return await _done(interaction, "Server limits reset to the defaults from the environment.")
        fields = {k: v for k, v in (("daily_limit", daily), ("concurrent_limit", concurrent)) if v is not None}
        if not fields:
            return await _done(interaction, "Give `daily` and/or `concurrent` (or `reset:True`). Nothing was changed.")
        await self._store.set_guild_settings(interaction.guild_id or 0, **fields)
        await _done(interaction, f"Server limits set: {_describe(daily, concurrent)}. This applies from the next /video.")

    @limits.command(name="role", description="Set a role's limits (members get their most generous role's)")
    @app_commands.describe(role="The role", daily="Quota units per day for members with this role",
                           concurrent="Videos at once for members with this role",
                           reset="Remove this role's limits")  # fmt: skip
    async def limits_role(self, interaction: discord.Interaction, role: discord.Role, daily: DAILY | None = None,
                          concurrent: CONCURRENT | None = None, reset: bool = False) -> None:  # fmt: skip
        guild_id = interaction.guild_id or 0
        if reset:
            removed = await self._store.clear_role_limits(guild_id, role.id)
            text = f"Limits for {role.mention} removed." if removed else f"{role.mention} had no limits."
            return await _done(interaction, text)
        if daily is None and concurrent is None:
            return await _done(interaction, "Give `daily` and/or `concurrent` (or `reset:True`). Nothing was changed.")
        await self._store.set_role_limits(guild_id, role.id, daily=daily, concurrent=concurrent)
        await _done(interaction, f"Limits for {role.mention}: {_describe(daily, concurrent)}.")

    @limits.command(name="user", description="Set one member's own limits (they beat every role)")
    @app_commands.describe(user="The member", daily="Quota units per day for this member",
                           concurrent="Videos at once for this member", reset="Remove this member's own limits")  # fmt: skip
    async def limits_user(self, interaction: discord.Interaction, user: discord.User, daily: DAILY | None = None,
                          concurrent: CONCURRENT | None = None, reset: bool = False) -> None:  # fmt: skip
        guild_id = interaction.guild_id or 0
        if reset:
            await self._store.clear_user_limits(guild_id, user.id)
            return await _done(interaction, f"{user.mention} now has the limits of their roles / the server.")
        fields = {k: v for k, v in (("daily_limit", daily), ("concurrent_limit", concurrent)) if v is not None}
        if not fields:
            return await _done(interaction, "Give `daily` and/or `concurrent` (or `reset:True`). Nothing was changed.")
        await self._store.set_user_limits(guild_id, user.id, **fields)
        await _done(interaction, f"Limits for {user.mention}: {_describe(daily, concurrent)}.")

    @limits.command(name="block", description="Stop a member from making videos in this server")
    @app_commands.describe(user="The member to block")
    async def limits_block(self, interaction: discord.Interaction, user: discord.User) -> None:
        await self._store.set_user_limits(interaction.guild_id or 0, user.id, blocked=1)
        await _done(interaction, f"{user.mention} is blocked from making videos here. Their running jobs continue; "
                    "cancel them with /videoadmin cancel.")  # fmt: skip

    @limits.command(name="unblock", description="Let a blocked member make videos again")
    @app_commands.describe(user="The member to unblock")
    async def limits_unblock(self, interaction: discord.Interaction, user: discord.User) -> None:
        await self._store.set_user_limits(interaction.guild_id or 0, user.id, blocked=0)
        await _done(interaction, f"{user.mention} may make videos again.")

    @limits.command(name="budget", description="Cap the quota units the whole server may use per day")
    @app_commands.describe(units="Units per day for everyone together; 0 removes the cap")
    async def limits_budget(self, interaction: discord.Interaction, units: app_commands.Range[int, 0, 1_000_000]) -> None:
        await self._store.set_guild_settings(interaction.guild_id or 0, daily_budget=units or None)
        await _done(interaction, f"Server budget: {units} units per day." if units else "Server budget removed (no cap).")

    @limits.command(name="cooldown", description="Seconds a member must wait between videos (0: off)")
    @app_commands.describe(seconds="0 to 86400 seconds; 0 turns the cooldown off")
    async def limits_cooldown(self, interaction: discord.Interaction, seconds: app_commands.Range[int, 0, 86_400]) -> None:
        await self._store.set_guild_settings(interaction.guild_id or 0, cooldown_s=seconds)
        await _done(interaction, f"Cooldown: {seconds}s between one member's videos." if seconds else "Cooldown off.")

    @limits.command(name="weight", description="How many quota units an option counts for (a clip costs the product)")
    @app_commands.describe(option="A duration or resolution", units=f"Its weight, 1 to {MAX_WEIGHT} (1: the default)")
    @app_commands.choices(option=[app_commands.Choice(name=o, value=o) for o in WEIGHT_OPTIONS])
    async def limits_weight(self, interaction: discord.Interaction, option: str,
                            units: app_commands.Range[int, 1, MAX_WEIGHT]) -> None:  # fmt: skip
        guild_id = interaction.guild_id or 0
        if option not in WEIGHT_OPTIONS:  # Discord checks the choices; a modified client need not
            return await _done(interaction, f"Choose one of {', '.join(WEIGHT_OPTIONS)}. Nothing was changed.")
        await self._store.set_cost_weight(guild_id, option, units)
        await _done(interaction, f"{option} now counts ×{units}. {describe_costs(await self._store.cost_weights(guild_id))}")


def _describe(daily: int | None, concurrent: int | None) -> str:
    parts = [f"{daily} per day"] if daily is not None else []
    if concurrent is not None:
        parts.append(f"{concurrent} at a time")
    return ", ".join(parts)


async def _done(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(fit_content(text), ephemeral=True,
                                            allowed_mentions=discord.AllowedMentions.none())  # fmt: skip
