"""The operator port on the real bot under simcord: /healthz says which check fails, /metrics counts jobs."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.e2e.helpers import advance_until, reply_of, results

pytestmark = [pytest.mark.simcord(settle_timeout=1), pytest.mark.bot_env(HEALTH_PORT="0", QUOTA_DAILY="1")]

PROMPT = "a lighthouse in a storm at night"


async def get(bot, path: str) -> tuple[int, str, dict]:
    url = f"http://127.0.0.1:{bot.health.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(), dict(response.headers)


async def healthz(bot) -> tuple[int, dict]:
    status, text, _ = await get(bot, "/healthz")
    return status, json.loads(text)


async def test_healthz_is_ok_when_connected_writable_and_running(simcord_env, simcord_bot, world):
    """A started bot answers /healthz 200 with the gateway, database and runner checks all ok."""
    status, body = await healthz(simcord_bot)
    assert status == 200, body
    assert body == {"status": "ok", "checks": {"gateway": "ok", "database": "ok", "runner": "ok"}, "failing": []}


async def test_healthz_names_the_failing_check(simcord_env, simcord_bot, world):
    """Gateway down, runner stopped, database closed: each turns /healthz into a 503 naming it."""
    simcord_bot.dispatch("disconnect")
    await simcord_env.settle()
    status, body = await healthz(simcord_bot)
    assert status == 503 and body["failing"] == ["gateway"]
    simcord_bot.dispatch("resumed")
    await simcord_env.settle()
    assert (await healthz(simcord_bot))[0] == 200

    await simcord_bot.runner.stop()
    status, body = await healthz(simcord_bot)
    assert status == 503 and body["failing"] == ["runner"]

    await simcord_bot.storage.close()
    status, body = await healthz(simcord_bot)
    assert status == 503 and body["failing"] == ["database", "runner"]


async def test_metrics_count_jobs_latency_refusals_and_discord_errors(simcord_env, simcord_bot, world, fake_luma):
    """/metrics in Prometheus text: a delivered job, Luma call latencies, a quota refusal and a Discord error."""
    _, channel, alice, _ = world
    counted = simcord_bot.metrics
    simcord_env.inject_error("PATCH", "/webhooks/*", status=429, code=0, times=1)
    await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel))
    refused = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(refused).ephemeral

    status, text, headers = await get(simcord_bot, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert counted.value("reelbot_jobs_total", state="completed", provider="luma") == 1
    assert counted.total("reelbot_quota_refusals_total") == 1
    assert counted.value("reelbot_discord_errors_total", action="status_edit", status=429, code=0) == 1
    assert counted.total("reelbot_discord_errors_total") == 1
    create = {"provider": "luma", "call": "POST /generations/video"}
    assert counted.value("reelbot_provider_request_seconds_count", **create) == 1
    for line in (
        '# TYPE reelbot_jobs_total counter',
        'reelbot_queue_length 0.0',
        'reelbot_jobs_in_flight 0.0',
        'reelbot_runner_alive 1.0',
        'reelbot_gateway_connected 1.0',
        'reelbot_provider_request_seconds_bucket{call="GET /generations/{id}",le="+Inf",provider="luma"}',
        'reelbot_quota_refusals_total{reason="quota"}',
        'reelbot_discord_errors_total{action="status_edit",code="0",status="429"}',
    ):
        assert line in text, line


async def test_the_health_port_closes_with_the_bot(simcord_env, simcord_bot, world):
    """close() stops the health server: the port refuses connections afterwards."""
    port = simcord_bot.health.port
    await simcord_bot.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz"):
            pass


async def test_healthz_fails_when_the_database_refuses_writes(simcord_env, simcord_bot, world):
    """/healthz writes a real row: a database that refuses writes (read-only file, full disk) is a 503 naming
    'database', and healthy again once writes work."""
    assert (await healthz(simcord_bot))[0] == 200
    await simcord_bot.storage.dialect.run("PRAGMA query_only = ON")
    status, body = await healthz(simcord_bot)
    assert status == 503 and body["failing"] == ["database"], body
    await simcord_bot.storage.dialect.run("PRAGMA query_only = OFF")
    assert (await healthz(simcord_bot))[0] == 200
