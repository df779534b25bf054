"""`/videoadmin channels …` (where /video works) and `/videoadmin blocklist …` (words and regular
expressions a prompt may not contain). A mixin of the Admin cog (cogs/admin.py), whose interaction_check
makes every one of these admin-only in code."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.blocklist import BlockEntry, PatternError, check_list, check_regex, normalise_word
from bot.text import clean_text
from cogs._limits import PATTERN_MAX, fit_content, fit_embed

if TYPE_CHECKING:
    from bot.client import ReelBot
    from bot.storage import Storage



class RulesCommands:
    bot: ReelBot

    @property
    def _store(self) -> Storage:
        assert self.bot.storage is not None
        return self.bot.storage

    channels = app_commands.Group(name="channels", description="Where /video may be used")
    blocklist = app_commands.Group(name="blocklist", description="Words and patterns a prompt may not contain")

    # --- channels ---------------------------------------------------------------------------------

    @channels.command(name="allow", description="Add a channel to the allow list (then /video works only in listed ones)")
    @app_commands.describe(channel="The channel to allow /video in")
    async def channels_allow(self, interaction: discord.Interaction, channel: discord.abc.GuildChannel) -> None:
        await self._store.set_channel_rule(interaction.guild_id or 0, channel.id, True)
        await _say(interaction, f"/video is allowed in {channel.mention}. {await self._summary(interaction)}")

    @channels.command(name="deny", description="Refuse /video in a channel")
    @app_commands.describe(channel="The channel to refuse /video in")
    async def channels_deny(self, interaction: discord.Interaction, channel: discord.abc.GuildChannel) -> None:
        await self._store.set_channel_rule(interaction.guild_id or 0, channel.id, False)
        await _say(interaction, f"/video is refused in {channel.mention}. {await self._summary(interaction)}")

    @channels.command(name="remove", description="Take a channel off the allow or deny list")
    @app_commands.describe(channel="The channel to remove from either list")
    async def channels_remove(self, interaction: discord.Interaction, channel: discord.abc.GuildChannel) -> None:
        removed = await self._store.remove_channel_rule(interaction.guild_id or 0, channel.id)
        first = f"{channel.mention} removed from the lists." if removed else f"{channel.mention} was on neither list."
        await _say(interaction, f"{first} {await self._summary(interaction)}")

    @channels.command(name="list", description="Show the allow and deny lists")
    async def channels_list(self, interaction: discord.Interaction) -> None:
        await _say(interaction, await self._summary(interaction))

    async def _summary(self, interaction: discord.Interaction) -> str:
        rules = await self._store.channel_rules(interaction.guild_id or 0)
        allowed = ", ".join(f"<#{c}>" for c, ok in rules.items() if ok)
        denied = ", ".join(f"<#{c}>" for c, ok in rules.items() if not ok)
        where = f"/video works only in: {allowed}." if allowed else "/video works in every channel"
        return where + (f" Refused in: {denied}." if denied else ("." if not allowed else ""))

    # --- blocklist --------------------------------------------------------------------------------

    @blocklist.command(name="add", description="Refuse prompts containing a word, or matching a regular expression")
    @app_commands.describe(pattern="A word or phrase (whole words, any case), or a regular expression with regex:True",
                           regex="Treat the pattern as an RE2 regular expression (no backreferences)")  # fmt: skip
    async def blocklist_add(self, interaction: discord.Interaction, pattern: app_commands.Range[str, 1, PATTERN_MAX],
                            regex: bool = False) -> None:  # fmt: skip
        guild_id, pattern = interaction.guild_id or 0, clean_text(pattern)
        if len(pattern) > PATTERN_MAX:  # in code too: a modified client ignores max_length
            return await _say(interaction, f"Not added: a pattern may be at most {PATTERN_MAX} characters "
                              f"(yours has {len(pattern)}). Nothing was changed.")  # fmt: skip
        try:  # validated once, here; compiling a whole list can take a few ms, so off the event loop
            text = check_regex(pattern) if regex else normalise_word(pattern)
            entries = [BlockEntry(p, r) for p, r in await self._store.blocklist(guild_id)]
            if BlockEntry(text, regex) not in entries:
                await asyncio.to_thread(check_list, [*entries, BlockEntry(text, regex)])
        except PatternError as error:
            return await _say(interaction, f"Not added: {error} Nothing was changed.")
        added = await self._store.add_blocklist_entry(guild_id, text, is_regex=regex, added_by=interaction.user.id,
                                                      at=self.bot.clock.now())  # fmt: skip
        kind = "Pattern" if regex else "Word"
        await _say(interaction, f"{kind} `{text}` added; prompts matching it are refused before anything is charged."
                   if added else f"{kind} `{text}` is already on the blocklist.")  # fmt: skip

    @blocklist.command(name="remove", description="Take a word or pattern off the blocklist")
    @app_commands.describe(pattern="The word or pattern exactly as /videoadmin blocklist list shows it")
    async def blocklist_remove(self, interaction: discord.Interaction,
                               pattern: app_commands.Range[str, 1, PATTERN_MAX]) -> None:  # fmt: skip
        guild_id, pattern = interaction.guild_id or 0, clean_text(pattern)
        if len(pattern) > PATTERN_MAX:  # nothing that long was ever added
            return await _say(interaction, f"A pattern is at most {PATTERN_MAX} characters; nothing was removed.")
        removed = await self._store.remove_blocklist_entry(guild_id, pattern)
        if not removed:  # words are stored normalised
            try:
                removed = await self._store.remove_blocklist_entry(guild_id, normalise_word(pattern))
            except PatternError:
                removed = 0
        await _say(interaction, f"`{pattern}` removed." if removed else f"`{pattern}` is not on the blocklist.")

    @blocklist.command(name="list", description="Show the blocklist")
    async def blocklist_list(self, interaction: discord.Interaction) -> None:
        entries = await self._store.blocklist(interaction.guild_id or 0)
        if not entries:
            return await _say(interaction, "The blocklist is empty.")
        lines = [f"• {'regex' if regex else 'word'}: `{pattern}`" for pattern, regex in entries]
        embed = discord.Embed(title=f"Blocklist ({len(entries)})", description="\n".join(lines))
        await interaction.response.send_message(embed=fit_embed(embed), ephemeral=True)


async def _say(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(fit_content(text), ephemeral=True,
                                            allowed_mentions=discord.AllowedMentions.none())  # fmt: skip
