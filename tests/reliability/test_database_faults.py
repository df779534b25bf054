"""The database refusing writes (a read-only file, a full disk) never kills a job: the runner's writes are
retried with backoff and logged, the job carries on once writes work again, and the user's slot is freed.
The faults are SQLite's own: `PRAGMA query_only` makes the bot's real connection refuse every write with
"attempt to write a readonly database", exactly as a read-only file does."""

from __future__ import annotations

import logging

import pytest

from tests.e2e.helpers import advance_until, reply_of, results
from tests.reliability.helpers import jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


async def refuse_writes(bot, refuse: bool) -> None:
    await bot.storage.dialect.run(f"PRAGMA query_only = {'ON' if refuse else 'OFF'}")


async def test_a_failing_write_is_retried_and_the_job_completes_once_the_database_recovers(
    simcord_env, simcord_bot, bot_env, world, fake_luma, caplog
):
    """Writes fail while the generation finishes: the runner retries (logged) instead of dying with the job
    stuck 'running'; once writes work the clip is delivered, charged once, and the user's slot is free."""
    _, channel, alice, _ = world
    caplog.set_level(logging.WARNING, logger="bot.db_retry")
    await alice.slash(channel, "video", prompt=PROMPT)
    assert [r["state"] for r in jobs(bot_env)] == ["running"]
    await refuse_writes(simcord_bot, True)
    await simcord_env.advance_time(60)  # the generation completes; entering delivery cannot be written
    assert [r["state"] for r in jobs(bot_env)] == ["running"]
    assert any("readonly" in r.getMessage() and "retry" in r.getMessage() for r in caplog.records)
    assert simcord_bot.runner.in_flight == 1, "the job's task is alive, retrying"

    await refuse_writes(simcord_bot, False)
    await advance_until(simcord_env, lambda: results(channel), step=10)
    await advance_until(simcord_env, lambda: jobs(bot_env)[0]["state"] == "completed", step=10)
    [row] = jobs(bot_env)
    assert row["cost"] == 1 and row["result_message_id"]
    again = await alice.slash(channel, "video", prompt=PROMPT + " again")
    assert not reply_of(again).ephemeral, "the concurrent slot (QUOTA_CONCURRENT=1) was given back"
