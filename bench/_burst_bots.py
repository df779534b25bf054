"""The two yardsticks bench/bench_burst.py measures reelbot against, both plain discord.py bots built the way
ReelBot is (commands.Bot, only the guilds intent, the command tree synced in setup_hook) so that simcord drives
all three through the same code path:

- FloorBot: a /video that only acknowledges (a public defer) and does nothing else. No bot can answer faster
  under the same simulator, gateway parser and event loop; it is the floor of the ratio.
- ReferenceBot: a straightforward, well-written bot: it defers first, then stores the request with one SQLite
  INSERT through aiosqlite (WAL, synchronous=NORMAL, autocommit: the settings reelbot opens its database with)
  and edits the deferred answer into its status message.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import discord
from discord import app_commands
from discord.ext import commands


class FloorBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None)
        self.tree.add_command(app_commands.Command(name="video", description="Generate a video from a text prompt",
                                                   callback=self.video))  # fmt: skip

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def video(self, interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer()


class ReferenceBot(FloorBot):
    def __init__(self, database: Path) -> None:
        super().__init__()
        self.database = database
        self.db: aiosqlite.Connection | None = None

    async def setup_hook(self) -> None:
        self.db = await aiosqlite.connect(self.database, isolation_level=None)
        for statement in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, guild_id INTEGER, channel_id INTEGER,"
            " user_id INTEGER, prompt TEXT, state TEXT, created_at TEXT)",
        ):
            await self.db.execute(statement)
        await super().setup_hook()

    async def video(self, interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer()
        assert self.db is not None
        cursor = await self.db.execute(
            "INSERT INTO jobs (guild_id, channel_id, user_id, prompt, state, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interaction.guild_id, interaction.channel_id, interaction.user.id, prompt, "queued",
             discord.utils.utcnow().isoformat()),
        )  # fmt: skip
        embed = discord.Embed(title="🎬 Queued", description=prompt).set_footer(text=f"job {cursor.lastrowid}")
        await interaction.edit_original_response(embed=embed)

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
            self.db = None
        await super().close()
