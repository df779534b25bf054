"""Text is stored safely on every backend: a prompt and options with NUL bytes, lone surrogates and
decomposed accents, typed into /video on the real bot over PostgreSQL, give a job that completes, and a
later job completes too. Skipped, saying why, when no PostgreSQL answers at 127.0.0.1:5432."""

from __future__ import annotations

import pytest

from bot.domain import JobState
from bot.text import clean_text
from tests.e2e.helpers import advance_until, results
from tests.postgres import postgres_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.simcord(settle_timeout=1)

HOSTILE_PROMPT = "a fox\x00 in the snow \ud800 at dawn, cafe\u0301"


@pytest.fixture
def bot_env(bot_env, postgres_url):  # noqa: F811
    return {**bot_env, "DATABASE_URL": postgres_url}


def test_text_is_cleaned_as_the_readme_says():
    """NULs are dropped, lone surrogates become U+FFFD, a valid pair its character, and text is NFC."""
    assert clean_text("a\x00b\ud800c\ud83d\ude00 cafe\u0301") == "ab\ufffdc\U0001f600 caf\u00e9"


async def test_nul_and_lone_surrogates_do_not_poison_postgresql(simcord_env, world, fake_luma):
    """A /video with NUL and a lone surrogate in the prompt and camera option completes on PostgreSQL and is
    stored cleaned; the next job, with a model, completes as well."""
    bot = simcord_env.bot
    _, channel, alice, bob = world
    await alice.slash(channel, "video", prompt=HOSTILE_PROMPT, camera="orbit_left\x00")
    await advance_until(simcord_env, lambda: len(results(channel)) == 1, step=3)
    await bob.slash(channel, "video", prompt="a quiet harbour at night", model="ray-2")
    await advance_until(simcord_env, lambda: len(results(channel)) == 2, step=3)
    jobs = await bot.storage.jobs_in_states(tuple(JobState))
    assert [j.state for j in jobs] == [JobState.COMPLETED, JobState.COMPLETED]
    assert jobs[0].request.prompt == "a fox in the snow \ufffd at dawn, caf\u00e9"
    assert jobs[0].request.camera == "orbit_left"
