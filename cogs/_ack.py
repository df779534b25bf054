"""Acknowledge first, privately: a request that starts a job is answered at once with an ephemeral
placeholder, so the 3-second deadline never waits on the database and a refusal is never seen by anyone but
the requester. Only an accepted job becomes public, as a follow-up message, and the placeholder goes.

Why a type-4 ephemeral message and not a type-5 ephemeral defer: after a type-5 defer Discord turns the first
follow-up into an edit of the (ephemeral) loading message, so a public status would need one more request
(protocols.md, "Follow-up and edit endpoints"); after a type-4 answer every follow-up is a message of its own."""

from __future__ import annotations

import logging
from typing import Any

import discord

log = logging.getLogger(__name__)

PLACEHOLDER = "reelbot_placeholder"  # in Interaction.extras while the private placeholder awaits its answer
STARTING = "⏳ Checking your request…"


async def acknowledge(interaction: discord.Interaction) -> None:
    """Answer with the private placeholder, unless the interaction was answered already (then what follows
    is a follow-up anyway)."""
    if interaction.response.is_done():
        return
    await interaction.response.send_message(STARTING, ephemeral=True)
    interaction.extras[PLACEHOLDER] = True


def has_placeholder(interaction: discord.Interaction) -> bool:
    return bool(interaction.extras.get(PLACEHOLDER))


async def answer_privately(interaction: discord.Interaction, text: str) -> None:
    """A refusal or an error: into the placeholder while it is there, else a new ephemeral message."""
    if has_placeholder(interaction):
        await interaction.edit_original_response(content=text, embed=None, view=None)
        interaction.extras.pop(PLACEHOLDER, None)
    elif interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


async def post_publicly(interaction: discord.Interaction, **message: Any) -> discord.WebhookMessage:
    """The accepted job's public message, as a follow-up (it carries the "used /video" line, needs no channel
    permission, and stays editable through the token for 15 minutes); then the placeholder goes."""
    posted = await interaction.followup.send(wait=True, **message)
    await drop_placeholder(interaction)
    return posted


async def drop_placeholder(interaction: discord.Interaction) -> None:
    if interaction.extras.pop(PLACEHOLDER, None) is None:
        return
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as error:  # the requester dismissed it, or Discord is busy: it is harmless
        log.info("placeholder not removed: HTTP %s code %s", error.status, error.code)
