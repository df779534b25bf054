"""Provider faults: whatever Luma does wrong, every job ends in a clear state, the user is told on the status
message, the quota comes back, and the runner keeps serving the next job."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.errors import ProviderTimeoutError
from tests.e2e.helpers import advance_until, reply_of, results, title
from tests.fakes.luma import FakeLuma
from tests.reliability.core import RecordingObserver, open_core
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"
FAILED = "❌ Failed"


def not_a_video(fake):
    fake.asset_body = b"<html><body>502 Bad Gateway</body></html>"


def broken_json_on_create(fake):
    fake.malformed_next("POST", "/generations", status=201)


def asset_404(fake):
    fake.assets_status = 404


def asset_cut_off(fake):
    fake.truncate_assets = True


def server_error_on_create(fake):
    fake.fail_next("POST", "/generations", 503)


def generation_failed(fake):
    fake.fail_next_generation("GPU node lost")


def heal(fake):
    fake.asset_body, fake.assets_status, fake.truncate_assets = None, 200, False


FAULTS = {
    "5xx on create": (server_error_on_create, "unavailable"),
    "malformed JSON on create": (broken_json_on_create, "could not read"),
    "generation failed": (generation_failed, "GPU node lost"),
    "video URL 404s": (asset_404, "could not be downloaded"),
    "download cut off": (asset_cut_off, "could not be downloaded"),
    "bytes are not a video": (not_a_video, "could not be downloaded"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_provider_fault_ends_the_job_clearly_refunds_and_the_runner_lives_on(
    simcord_env, simcord_bot, bot_env, world, fake_luma, fault
):
    """Each fault: the job fails with a message saying why, the quota is refunded, and the next job is delivered."""
    inject, expected = FAULTS[fault]
    _, channel, alice, bob = world
    inject(fake_luma)
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0, row
    assert title(reply_of(started)) == FAILED
    shown = reply_of(started).embeds[0].description
    assert expected in shown and "refunded" in shown
    assert simcord_bot.runner.alive

    heal(fake_luma)
    await bob.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel), step=5)
    assert [r["state"] for r in jobs(bot_env)] == ["failed", "completed"]


@pytest.mark.bot_env(QUOTA_DAILY="5", QUOTA_CONCURRENT="1")
async def test_thirty_percent_of_requests_failing_with_5xx(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """With a seeded 30% of Luma API requests answering 5xx, every job ends clearly: creates that hit a 5xx fail
    and are refunded (a create is never repeated), polls ride it out, and every other job is delivered once."""
    guild, channel, _, _ = world
    fake_luma.random_faults(0.3, seed=6)
    users = [guild.add_member(simcord_env.create_user(f"user{i}")) for i in range(12)]
    started = [await user.slash(channel, "video", prompt=PROMPT) for user in users]
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)

    rows = jobs(bot_env)
    failed = [r for r in rows if r["state"] == "failed"]
    completed = [r for r in rows if r["state"] == "completed"]
    create_faults = [f for f in fake_luma.faults if f[0] == "POST"]
    poll_faults = [f for f in fake_luma.faults if f[0] == "GET"]
    assert len(rows) == 12 and len(failed) + len(completed) == 12
    assert len(failed) == len(create_faults) and poll_faults, "only creates fail jobs; polls are retried"
    assert all(r["cost"] == 0 for r in failed) and all(r["cost"] == 1 for r in completed)
    for result in started:
        text = reply_of(result).embeds[0].description or ""
        assert title(reply_of(result)) in (FAILED, "🎬 Your video is ready")
        if title(reply_of(result)) == FAILED:
            assert "unavailable" in text and "refunded" in text
    assert len(results(channel)) == len(completed) == len({r["result_message_id"] for r in completed})
    assert simcord_bot.runner.alive
    print(f"30% faults: {len(fake_luma.faults)} served ({len(create_faults)} on creates), "
          f"{len(completed)} delivered, {len(failed)} failed and refunded")  # fmt: skip


# --- hangs: the real core without Discord (simcord cannot park a task waiting on a silent socket) -------------


async def until(predicate, limit: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def core(tmp_path, http_session):
    """The runner on real SQLite and the real Luma adapter against a FakeLuma; a 0.3 s client timeout stands in
    for Luma's 60 s so a hang ends quickly in real time."""
    async with FakeLuma(api_key="k", polls_to_complete=3) as fake:
        core = await open_core(
            http_session, db=tmp_path / "core.db", temp_dir=tmp_path / "tmp", base_url=fake.base_url, api_key="k",
            observer=RecordingObserver(), api_timeout=aiohttp.ClientTimeout(total=0.3),
        )  # fmt: skip
        core.fake = fake
        await core.runner.start()
        try:
            yield core
        finally:
            await core.runner.stop()
            await core.storage.close()


async def terminal(core, job_id: int):
    async def done():
        return (await core.storage.get_job(job_id)).state.terminal

    await until(done)
    return await core.storage.get_job(job_id)


async def test_provider_that_hangs_on_create_times_out_fails_and_refunds(core):
    """A create that never gets an answer ends at the client timeout: failed, refunded, told why, never resent."""
    core.fake.hang_next("POST", "/generations")
    job = await terminal(core, (await core.submit(user_id=1)).id)
    assert job.state.value == "failed" and job.cost == 0
    error = core.observer.ended[job.id]
    assert isinstance(error, ProviderTimeoutError) and "did not answer in time" in error.public_message
    assert len(core.fake.requests_to("POST", "/generations")) == 1, "a create is never repeated blindly"
    assert core.runner.alive
    second = await terminal(core, (await core.submit(user_id=2)).id)
    assert second.state.value == "completed" and core.observer.delivered.keys() == {second.id}


async def test_hung_and_failing_polls_are_retried_until_the_clip_arrives(core):
    """A poll that never answers times out and is retried, as are 5xx and malformed polls; the clip arrives once."""
    core.fake.polls_to_complete = 5
    job = await core.submit(user_id=1)
    await until(lambda: _true(core.fake.generations))
    gen = next(iter(core.fake.generations))
    core.fake.hang_next("GET", f"/generations/{gen}")
    core.fake.fail_next("GET", f"/generations/{gen}", 502, times=2)
    core.fake.malformed_next("GET", f"/generations/{gen}")
    done = await terminal(core, job.id)
    assert done.state.value == "completed" and done.cost == 1
    assert list(core.observer.delivered) == [job.id]
    assert len(core.fake.requests_to("POST", "/generations")) == 1


async def _true(value) -> bool:
    return bool(value)
