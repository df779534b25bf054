"""Small readers over simcord's world, shared by the end-to-end tests."""

from __future__ import annotations

import discord

RESULT_TITLE = "🎬 Your video is ready"


def bot_messages(channel) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.bot]


def results(channel) -> list[discord.Message]:
    return [m for m in bot_messages(channel) if m.embeds and m.embeds[0].title == RESULT_TITLE]


def title(message) -> str:
    return message.embeds[0].title if message.embeds else ""


def field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


async def advance_until(env, predicate, *, step: float = 5, limit: float = 1800) -> float:
    """Advance virtual time in steps until `predicate()` holds; returns the virtual seconds spent."""
    spent = 0.0
    while not predicate():
        if spent >= limit:
            raise AssertionError(f"condition not met after {limit} virtual seconds")
        await env.advance_time(step)
        spent += step
    return spent


def reply_of(result):
    """What the requester sees as the command's answer: the public follow-up a started job's status is posted
    as (cogs/_ack.py), else the interaction's own (private) response — a refusal, or a command's reply."""
    public = [message for message in result.followups if not message.ephemeral]
    return public[0] if public else result.response
