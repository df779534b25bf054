"""`/videoadmin threads mode:on|off` (a thread per idea) and `/videoadmin final resolution:` (what Final
renders at). A mixin of the Admin cog (cogs/admin.py), whose interaction_check makes them admin-only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import ReelBot
    from bot.storage import Storage

FINAL_RESOLUTIONS = ("720p", "1080p", "4k")
DEFAULT_FINAL = "1080p"


class IdeaCommands:
    bot: ReelBot

    @property
    def _store(self) -> Storage:
        assert self.bot.storage is not None
        return self.bot.storage

    # A mixin of the Admin GroupCog: mypy can't see the cog the command ends up in.
    @app_commands.command(name="threads", description="Open a thread for each /video idea (its takes and actions)")  # type: ignore[type-var]
    @app_commands.describe(mode="on: each /video in a text channel opens a thread; off: clips stay in the channel")
    @app_commands.choices(mode=[app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")])
    async def threads(self, interaction: discord.Interaction, mode: str) -> None:
        if mode not in ("on", "off"):  # a modified client can send any string
            await interaction.response.send_message("The mode is `on` or `off`.", ephemeral=True)
            return
        on = mode == "on"
        # Turning it on again re-arms the one-time note about a missing permission.
        await self._store.set_guild_settings(interaction.guild_id or 0, threads=int(on), threads_warned=0)
        if not on:
            text = "Ideas stay in the channel where /video is used."
        else:
            text = ("Each /video in a text channel now opens a public thread named after its prompt; its takes and "
                    "every action on them post there. I need **Create Public Threads** and **Send Messages in "
                    "Threads** in those channels (`python -m bot check` prints an invite link with them).")  # fmt: skip
            permissions = interaction.app_permissions
            if not (permissions.create_public_threads and permissions.send_messages_in_threads):
                text += " I don't have them in this channel yet: until I do, ideas here stay in the channel."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="final", description="The resolution Final renders a picked take at")  # type: ignore[type-var]
    @app_commands.describe(resolution="Final resolution (default 1080p)")
    @app_commands.choices(resolution=[app_commands.Choice(name=r, value=r) for r in FINAL_RESOLUTIONS])
    async def final(self, interaction: discord.Interaction, resolution: str) -> None:
        if resolution not in FINAL_RESOLUTIONS:
            await interaction.response.send_message(f"Choose one of {', '.join(FINAL_RESOLUTIONS)}.", ephemeral=True)
            return
        await self._store.set_guild_settings(interaction.guild_id or 0, final_resolution=resolution)
        await interaction.response.send_message(f"Final renders picked takes at {resolution}.", ephemeral=True)


def idea_stats_lines(stats: dict[int, dict[str, int]], limit: int = 15) -> str:
    """'<@1>: 4 takes · 3 votes · 1 final' per member, busiest first."""
    ranked = sorted(stats.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:limit]
    return "\n".join(f"<@{user}>: {s['takes']} takes · {s['votes']} votes · {s['finals']} finals" for user, s in ranked)
