"""Stopping or cancelling while a create request is on the wire loses nothing and never exceeds MAX_ACTIVE_JOBS:
the real runner, storage and Luma adapter against a FakeLuma whose create answers are held back by the test."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.domain import JobState
from tests.e2e.helpers import advance_until
from tests.fakes.luma import FakeLuma
from tests.reliability.core import RecordingObserver, open_core
from tests.reliability.helpers import all_terminal, jobs

KEY = "luma-mid-submit-secret-0123456789"


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def core_for(session, tmp_path, fake, **kwargs):
    return await open_core(session, db=tmp_path / "reelbot.db", temp_dir=tmp_path / "tmp", base_url=fake.base_url,
                           api_key=KEY, observer=RecordingObserver(), **kwargs)  # fmt: skip


async def state(core, job_id: int):
    return await core.storage.get_job(job_id)


async def test_stop_lets_a_create_on_the_wire_finish_and_stores_its_id(tmp_path):
    """SIGTERM (runner.stop) while Luma is still answering the create: stop waits for the answer and stores the
    generation's id, so the next start polls it instead of losing a billed clip."""
    async with FakeLuma(api_key=KEY, polls_to_complete=2) as fake, aiohttp.ClientSession() as session:
        core = await core_for(session, tmp_path, fake)
        gate = fake.gate_next("POST", "/generations")
        await core.runner.start()
        job = await core.submit(user_id=1)
        await until(lambda: fake.requests_to("POST", "/generations"))
        stopping = asyncio.create_task(core.runner.stop())
        for _ in range(5):
            await asyncio.sleep(0)  # stop() has begun (its dispatcher is cancelled)
        gate.set()
        await stopping
        [generation_id] = fake.generations
        stored = await state(core, job.id)
        assert stored.provider_job_id == generation_id, "the id Luma answered with was stored"
        await core.storage.close()

        again = await core_for(session, tmp_path, fake)
        await again.runner.start()
        await until(lambda: (again.observer.delivered.get(job.id) is not None))
        await again.runner.stop()
        assert fake.create_count == 1 and (await state(again, job.id)).cost == 1
        await again.storage.close()


async def test_a_job_caught_mid_submit_is_matched_to_its_generation_at_start_up(tmp_path):
    """A create still unanswered when the shutdown grace ran out: at the next start the job is matched to the
    generation it made (time window + prompt and options, among other generations) and delivered, created once."""
    async with FakeLuma(api_key=KEY, polls_to_complete=2) as fake, aiohttp.ClientSession() as session:
        core = await core_for(session, tmp_path, fake)
        core.runner.shutdown_grace_s = 0.01
        gate = fake.gate_next("POST", "/generations")
        await core.runner.start()
        job = await core.submit(user_id=1)
        await until(lambda: fake.requests_to("POST", "/generations"))
        await core.runner.stop()
        stored = await state(core, job.id)
        assert stored.state is JobState.SUBMITTING and stored.provider_job_id is None
        gate.set()  # Luma carries out the create whose answer nobody read
        await until(lambda: fake.create_count == 1)
        [ours] = fake.generations
        other = await core.submit(user_id=2, prompt="a different prompt entirely")  # another generation, unmatched
        await core.storage.close()

        again = await core_for(session, tmp_path, fake)
        await again.runner.start()
        await until(lambda: job.id in again.observer.delivered and other.id in again.observer.delivered)
        await again.runner.stop()
        resumed = await state(again, job.id)
        assert resumed.state is JobState.COMPLETED and resumed.provider_job_id == ours and resumed.cost == 1
        assert fake.create_count == 2, "the mid-submit job was never sent again"
        await again.storage.close()


async def test_a_job_caught_mid_submit_without_a_generation_is_failed_and_refunded(tmp_path):
    """No generation matches (the create never arrived): the job is failed and refunded, never resent."""
    async with FakeLuma(api_key=KEY, polls_to_complete=2) as fake, aiohttp.ClientSession() as session:
        core = await core_for(session, tmp_path, fake)
        core.runner.shutdown_grace_s = 0.01
        fake.hang_next("POST", "/generations")
        await core.runner.start()
        job = await core.submit(user_id=1)
        await until(lambda: fake.requests_to("POST", "/generations"))
        await core.runner.stop()
        await core.storage.close()

        again = await core_for(session, tmp_path, fake)
        await again.runner.start()
        await until(lambda: job.id in again.observer.ended)
        await again.runner.stop()
        failed = await state(again, job.id)
        assert failed.state is JobState.FAILED and failed.cost == 0 and "restarted" in failed.failure_reason
        assert fake.create_count == 0
        await again.storage.close()


async def test_cancelling_during_submit_keeps_the_slot_until_the_create_returned(tmp_path):
    """MAX_ACTIVE_JOBS=1: a job cancelled while its create is on the wire keeps the provider slot until Luma
    answered (and its generation is deleted), so the next job never runs beside it at Luma."""
    async with FakeLuma(api_key=KEY, polls_to_complete=3, max_active=None) as fake, aiohttp.ClientSession() as session:
        core = await core_for(session, tmp_path, fake, max_active=1)
        gate = fake.gate_next("POST", "/generations")
        await core.runner.start()
        first = await core.submit(user_id=1)
        await until(lambda: fake.requests_to("POST", "/generations"))
        second = await core.submit(user_id=2)
        assert (await core.runner.cancel(first.id)).state is JobState.CANCELLED
        assert core.runner.in_flight == 1, "the cancelled job's create is still on the wire: its slot is held"
        assert len(fake.requests_to("POST", "/generations")) == 1
        gate.set()
        await until(lambda: second.id in core.observer.delivered)
        await core.runner.stop()
        assert fake.peak_active == 1, "never two generations at Luma at once"
        assert len(fake.requests_to("DELETE", "/generations/")) == 1, "the cancelled job's generation was deleted"
        await core.storage.close()


@pytest.mark.simcord(settle_timeout=1)
async def test_an_unreadable_create_answer_cancels_the_generation_it_made(simcord_env, simcord_bot, bot_env, world,
                                                                          fake_luma):  # fmt: skip
    """Luma creates (and bills) the generation but its answer is cut off: the job fails and is refunded, and the
    generation is found by its request and DELETEd rather than left to finish."""
    _, channel, alice, _ = world
    fake_luma.now = simcord_env.now  # Luma's clock is the simulated one here
    fake_luma.garble_next_create()
    await alice.slash(channel, "video", prompt="a lighthouse in a storm at night")
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0
    assert fake_luma.create_count == 1 and len(fake_luma.requests_to("DELETE", "/generations/")) == 1
    assert not fake_luma.generations and fake_luma.active_count == 0, "the billed generation was deleted"
