"""One reporter for app-command errors: domain errors become ephemeral replies; bugs are logged and
answered politely without internals."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import ReelbotError
from cogs._ack import answer_privately
from cogs._limits import fit_content

log = logging.getLogger(__name__)

GENERIC = "Something went wrong on our side. Nothing was charged; please try again."


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally by whichever route is still open (placeholder, response, follow-up), or give up quietly."""
    if interaction.is_expired():
        return
    text = fit_content(text) or GENERIC  # a public message can quote a provider or an option at length
    try:
        await answer_privately(interaction, text)
    except discord.HTTPException as error:
        log.info("could not report an error to the user: HTTP %s", error.status)


async def on_app_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    original = getattr(error, "original", error)
    if isinstance(original, ReelbotError):
        await reply(interaction, original.public_message)
        return
    if isinstance(error, app_commands.CheckFailure):
        await reply(interaction, str(error) or "You can't use this command here.")
        return
    command = interaction.command.qualified_name if interaction.command else "?"
    log.error("command /%s failed", command, exc_info=original)
    await reply(interaction, GENERIC)


async def report(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """For buttons and modals (which have no tree error handler): a domain error's public message, or a
    polite generic answer for a bug, which is logged."""
    if isinstance(error, ReelbotError):
        await reply(interaction, error.public_message)
        return
    log.error("%s failed", where, exc_info=error)
    await reply(interaction, GENERIC)


async def setup(bot: commands.Bot) -> None:
    bot.tree.on_error = on_app_command_error  # type: ignore[method-assign]
