"""Child processes for the signal tests: `python -m tests.reliability.bot_process serve|runner`.

`serve`: the real bot from create_bot(os.environ) run by bot.__main__.serve (its SIGTERM/SIGINT handling and
close()), with only the network to Discord replaced: login answers with a made-up bot user, command sync is
skipped, and "connecting" dispatches connect + ready (which starts the job runner) and then waits, as a live
gateway connection would. Jobs reach the FakeLuma the parent serves. Their status_message_id is unset, so the
Discord observer never calls Discord. With RELIABILITY_JOBS=n, n jobs (one per user) are reserved and queued
through bot.quotas and bot.runner once ready.

`runner`: tests.reliability.core (the real runner, storage, quotas and Luma adapter) with a FileObserver as the
Discord channel; RELIABILITY_JOBS=n reserves n jobs first; RELIABILITY_HOLD_AFTER=k stops forever right after the
k-th post (so the parent can SIGKILL it between posting and recording). Exits 0 once every job is terminal.

Both print one line per milestone on stdout (READY, QUEUED n, POSTED id, DONE) for the parent to wait on.
"""

from __future__ import annotations

import asyncio
import os
import sys
import types
from pathlib import Path

import aiohttp
import discord

from bot.__main__ import serve
from bot.client import create_bot
from bot.domain import JobState, VideoRequest
from bot.log import setup_logging
from tests.reliability.core import FileObserver, open_core

PROMPT = "a lighthouse in a storm at night"
ACTIVE = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING)


def say(line: str) -> None:
    print(line, flush=True)


def offline(bot) -> None:
    """Replace the bot's network to Discord (and nothing else) for a process that cannot reach it."""

    async def static_login(token: str) -> dict:
        return {"id": "1000", "username": "reelbot", "discriminator": "0", "avatar": None, "bot": True}

    async def application_info():
        return types.SimpleNamespace(id=1000, interactions_endpoint_url=None, flags=discord.ApplicationFlags())

    async def sync_commands() -> None:
        return None

    async def connect(*, reconnect: bool = True) -> None:
        bot.dispatch("connect")
        bot.dispatch("ready")
        while bot.runner is None or not bot.runner.alive:
            await asyncio.sleep(0.01)
        for provider in bot.runner.providers.values():  # Luma polls every 3 s; the test has no time for that
            provider.poll_interval = float(os.environ.get("RELIABILITY_POLL_INTERVAL", "3"))
        say("READY")
        jobs = int(os.environ.get("RELIABILITY_JOBS", "0"))
        for user in range(1, jobs + 1):
            job = await bot.quotas.reserve(guild_id=1, channel_id=2, user_id=user, request=VideoRequest(prompt=PROMPT))
            bot.runner.enqueue(job)
        if jobs:
            say(f"QUEUED {jobs}")
        await asyncio.Event().wait()  # connected until closed

    bot.http.static_login = static_login
    bot.application_info = application_info
    bot.sync_commands = sync_commands
    bot.connect = connect


def run_serve() -> int:
    env = dict(os.environ)
    bot = create_bot(env)
    setup_logging(bot.settings.log_level, bot.settings.log_format, bot.settings.secrets())
    offline(bot)
    code = asyncio.run(serve(bot, env["DISCORD_TOKEN"]))
    say("EXITING")
    return code


async def run_runner() -> int:
    env = os.environ
    observer = FileObserver(Path(env["RELIABILITY_CHANNEL"]), hold_after_post=_int(env.get("RELIABILITY_HOLD_AFTER")))
    async with aiohttp.ClientSession() as session:
        core = await open_core(
            session, db=Path(env["RELIABILITY_DB"]), temp_dir=Path(env["RELIABILITY_DB"]).parent / "tmp",
            base_url=env["RELIABILITY_BASE_URL"], api_key=env["RELIABILITY_KEY"], observer=observer,
            max_active=int(env.get("MAX_ACTIVE_JOBS", "10")),
        )  # fmt: skip
        await core.runner.start()
        say("READY")
        jobs = int(env.get("RELIABILITY_JOBS", "0"))
        for user in range(1, jobs + 1):
            await core.submit(user_id=user)
        if jobs:
            say(f"QUEUED {jobs}")
        while await core.storage.jobs_in_states(ACTIVE):
            await asyncio.sleep(0.02)
        await core.runner.stop()
        await core.storage.close()
    say("DONE")
    return 0


def _int(raw: str | None) -> int | None:
    return int(raw) if raw else None


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "serve":
        return run_serve()
    if mode == "runner":
        return asyncio.run(run_runner())
    print("usage: python -m tests.reliability.bot_process serve|runner", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
