"""A refused slash-command sync is a logged ERROR, not a dead bot: it keeps serving the commands Discord has."""

from __future__ import annotations

import logging

from bot.client import create_bot
from tests.e2e.helpers import reply_of


async def test_a_refused_sync_is_logged_and_the_bot_keeps_serving(simcord_env, simcord_bot, world, bot_env, caplog):
    """Discord answering the bulk overwrite with 400 / 50035 leaves the bot running: an ERROR names the
    failure and `python -m bot check`, and the commands synced before still work."""
    _, channel, alice, _ = world
    await simcord_bot.close()
    simcord_env.inject_error("PUT", "/applications/*/commands", status=400, code=50035, message="Invalid Form Body")
    restarted = create_bot(bot_env)
    caplog.set_level(logging.ERROR, logger="bot.client")
    try:
        await simcord_env.restart_bot(restarted)
        assert not restarted.is_closed()
        errors = [r for r in caplog.records if r.name == "bot.client" and r.levelno == logging.ERROR]
        assert len(errors) == 1, caplog.text
        text = errors[0].getMessage()
        assert "slash-command sync globally was refused by Discord" in text
        assert "50035" in text and "Invalid Form Body" in text and "python -m bot check" in text
        result = await alice.slash(channel, "quota")
        assert reply_of(result).ephemeral and "0 of 5 videos used" in reply_of(result).embeds[0].description
    finally:
        await restarted.close()


async def test_a_synced_tree_reports_success(simcord_env, simcord_bot, caplog):
    """The ordinary start syncs the commands (sync_commands returns True) and logs no error."""
    assert await simcord_bot.sync_commands() is True
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
