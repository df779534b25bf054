"""A job the provider accepted is never left running (and billing) there: whatever fails afterwards (a bug, an
unreadable answer, the job timeout) cancels the generation at the provider, and the quota comes back."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"


def deleted(fake) -> set[str]:
    return {r.path.rsplit("/", 1)[-1] for r in fake.requests_to("DELETE", "/generations/")}


async def test_a_bug_while_polling_cancels_the_accepted_generation(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """The runner raising inside poll (an unexpected exception) fails the job, refunds it and DELETEs the
    generation Luma accepted."""
    _, channel, alice, _ = world
    provider = simcord_bot.runner.providers["luma"]

    async def broken_poll(provider_job_id: str):
        raise KeyError("a bug reading the answer")

    provider.poll = broken_poll
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0, row
    assert row["provider_job_id"] in deleted(fake_luma), "the accepted generation was cancelled at Luma"
    assert fake_luma.active_count == 0
    assert simcord_bot.runner.alive


@pytest.mark.bot_env(JOB_TIMEOUT_S="120")
async def test_garbage_answers_until_the_timeout_cancel_the_accepted_generation(
    simcord_env, simcord_bot, bot_env, world, fake_luma
):
    """Luma accepts the job, then answers every poll with broken JSON: at JOB_TIMEOUT_S the job fails, is
    refunded, and the generation is DELETEd at Luma rather than left to finish and bill."""
    _, channel, alice, _ = world
    fake_luma.malformed_next("GET", "/generations/", times=10_000)
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=10)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0, row
    assert "too long" in row["failure_reason"]
    assert row["provider_job_id"] in deleted(fake_luma)
    assert fake_luma.active_count == 0
