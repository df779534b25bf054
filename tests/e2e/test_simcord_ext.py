"""tests/simcord_ext.py's additions to simcord 3.2.1 follow Discord's documented behaviour."""

from __future__ import annotations

import asyncio

import discord

from tests import simcord_ext


async def test_a_task_waiting_on_an_asyncio_primitive_counts_as_parked(simcord_env):
    """A task blocked on Event.wait is seen as waiting on an asyncio primitive (woken only by another task)."""
    event = asyncio.Event()
    task = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    assert simcord_ext.waits_on_primitive(task)
    event.set()
    await task


async def test_a_repeated_nonce_returns_the_first_message(simcord_env, simcord_bot, world):
    """Create Message with nonce + enforce_nonce: the same nonce within minutes returns the first message and
    posts nothing new; another nonce, or the same after the window, posts again."""
    _, handle, _, _ = world
    channel = simcord_bot.get_channel(handle.id)
    first = await channel.send("result", nonce="job-1-nonce")
    again = await channel.send("result", nonce="job-1-nonce")
    other = await channel.send("result", nonce="job-2-nonce")
    assert again.id == first.id and other.id != first.id
    assert [m.content for m in handle.history()].count("result") == 2
    await simcord_env.advance_time(simcord_ext.NONCE_WINDOW.total_seconds() + 1)
    later = await channel.send("result", nonce="job-1-nonce")
    assert later.id != first.id


async def test_history_after_pages_forward_through_a_busy_channel(simcord_env, simcord_bot, world):
    """GET messages?after=X returns the messages right after X, so discord.py's history(after=…) sees all of
    them in order, not only the newest page."""
    _, handle, alice, _ = world
    sent = [await alice.send(handle, f"message {n}") for n in range(250)]
    channel = simcord_bot.get_channel(handle.id)
    seen = [m.content async for m in channel.history(limit=None, after=discord.Object(id=sent[0].id), oldest_first=True)]
    assert seen == [f"message {n}" for n in range(1, 250)]
    first_page = [m.content async for m in channel.history(limit=100, after=discord.Object(id=sent[0].id))]
    assert first_page[0] == "message 1" and first_page[-1] == "message 100"
