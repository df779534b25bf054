"""Ray 3.2 (luma-agents) outside its adapter: configuration and default order, the price table by resolution and
HDR, the other providers refusing `hdr`/`360p` from their capability data, the thumbnail on embeds, and
`check` saying there is no balance call."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

import bot.__main__ as cli
from bot.check import run_check
from bot.config import load_settings
from bot.domain import Job, JobState, VideoRequest
from bot.jobs import JobProgress
from bot.policy import estimate_spend, price_for
from bot.providers import demo, luma, luma_agents, onemin, segmind, umami
from cogs import _render
from tests.fakes._server import serve_local
from tests.fakes.clock import ManualClock
from tests.fakes.luma_agents import FakeLumaAgents
from tests.unit.test_main import TOKEN, fake_discord

KEYS = {"LUMA_AGENTS_API_KEY": "luma-api-k1", "LUMAAI_API_KEY": "luma-k2", "SEGMIND_API_KEY": "sg-k3"}


def test_luma_agents_comes_first_when_its_key_is_set():
    """Unset VIDEO_PROVIDERS: luma-agents (best model) first, then luma, then the gateways; its default base URL."""
    settings = load_settings(KEYS)
    assert settings.provider_names == ("luma-agents", "luma", "segmind")
    assert settings.providers[0].base_url == "https://agents.lumalabs.ai/v1"
    assert load_settings({"LUMAAI_API_KEY": "luma-k2"}).provider_names == ("luma",)


def test_luma_agents_is_a_provider_name_and_needs_its_key():
    """VIDEO_PROVIDERS accepts luma-agents; named without LUMA_AGENTS_API_KEY it is a config problem."""
    local = "http://127.0.0.1:1/v1"
    env = {"VIDEO_PROVIDERS": "luma-agents,demo", "LUMA_AGENTS_API_KEY": "k", "LUMA_AGENTS_BASE_URL": local}
    assert load_settings(env).providers[0].base_url == local
    with pytest.raises(Exception, match="LUMA_AGENTS_API_KEY is not set"):
        load_settings({"VIDEO_PROVIDERS": "luma-agents"})
    assert "luma-api-k1" in load_settings(KEYS).secrets()


def test_ray32_prices_by_resolution_hdr_and_length():
    """The default table prices Ray 3.2 per 5 s block by resolution and HDR; 10 s is two blocks."""
    prices = load_settings({}).prices
    assert [price_for(prices, "luma-agents", "ray-3.2", r) for r in ("360p", "540p", "720p", "1080p")] == [
        0.06, 0.15, 0.30, 1.20,
    ]  # fmt: skip
    assert price_for(prices, "luma-agents", "ray-3.2", "1080p", hdr=True) == 2.40
    assert price_for(prices, "luma", "ray-2", "720p") == 0.71  # no resolution tier: the model's price
    [line] = estimate_spend(
        [{"provider": "luma-agents", "model": "ray-3.2", "duration": "10s", "resolution": "1080p", "jobs": 2,
          "completed": 2, "failed": 0}], prices, {"luma-agents": "ray-3.2"},
    )  # fmt: skip
    assert line.estimate == 4.80


OTHERS = [luma.LumaProvider, segmind.SegmindProvider, onemin.OneMinProvider, umami.UmamiProvider]


@pytest.mark.parametrize("provider", OTHERS, ids=lambda cls: cls.__name__)
def test_other_providers_refuse_hdr_and_360p_from_their_data(provider):
    """Every provider without Ray 3.2 refuses `hdr` and `360p`, naming what it offers."""
    caps = provider.capabilities
    assert any("HDR is not possible" in p for p in caps.problems(VideoRequest("abc", hdr=True)))
    assert any("`360p` is not possible" in p for p in caps.problems(VideoRequest("abc", resolution="360p")))
    assert luma_agents.CAPABILITIES.problems(VideoRequest("abc", hdr=True, resolution="1080p")) == []
    assert demo.DemoProvider.capabilities.problems(VideoRequest("abc")) == []


def test_thumbnail_shows_on_status_and_result_embeds():
    """A provider still (thumbnail_url) is the status embed's image while finishing, and the result's image."""
    job = Job(1, 2, 3, 4, VideoRequest("abc", hdr=True), JobState.RUNNING, datetime(2026, 1, 1, tzinfo=UTC))
    still = "https://cdn.example/still.jpg"
    status = _render.status_embed(job, JobProgress(JobState.RUNNING, provider_state="completed", thumbnail_url=still))
    assert status.image.url == still
    result = _render.result_embed(job, model="ray-3.2", provider_name="Luma Ray 3.2", taken=12, thumbnail=still)
    assert result.image.url == still and "HDR" in result.fields[2].value
    assert _render.result_embed(job, model="ray-3.2", provider_name="x", taken=1).image.url is None


async def test_check_explains_there_is_no_balance_call(capsys):
    """`check` proves the luma-agents key with a harmless call and says the Agents API has no balance call."""
    async with FakeLumaAgents(api_key="luma-api-check") as fake:
        runner, discord_base = await serve_local(fake_discord())
        try:
            code = await run_check({"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "luma-agents",
                                    "LUMA_AGENTS_API_KEY": "luma-api-check", "LUMA_AGENTS_BASE_URL": fake.base_url,
                                    "DISCORD_API_BASE": f"{discord_base}/api/v10"}, lambda app: f"invite:{app}")  # fmt: skip
        finally:
            await runner.cleanup()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "luma-agents (Luma Ray 3.2): key accepted" in out and "no balance call" in out
    assert fake.requests_to("GET", "/files") and "luma-api-check" not in out


def test_generate_on_ray32_sends_hdr_through_the_real_adapter(tmp_path, capsys):
    """`generate --provider luma-agents --hdr --resolution 1080p` reaches the fake Agents API and saves the MP4."""
    loop = asyncio.new_event_loop()
    fake = FakeLumaAgents(api_key="luma-api-generate")
    loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    out = tmp_path / "hdr.mp4"
    try:
        code = cli.main(
            ["generate", "neon rain on a city street", "--hdr", "--resolution", "1080p", "--provider", "luma-agents",
             "-o", str(out)],
            environ={"LUMA_AGENTS_API_KEY": "luma-api-generate", "LUMA_AGENTS_BASE_URL": fake.base_url},
            clock=ManualClock(),
        )  # fmt: skip
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    assert code == 0, capsys.readouterr().err
    [create] = fake.requests_to("POST", "/generations")
    assert create.json["video"] == {"resolution": "1080p", "duration": "5s", "hdr": True}
    assert out.read_bytes()[4:8] == b"ftyp"
