"""Every provider delivers through the same /video, and a provider down before acceptance hands over."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until, field, reply_of, results
from tests.fakes.luma import FakeLuma
from tests.fakes.onemin import FakeOneMin
from tests.fakes.segmind import FakeSegmind
from tests.fakes.umami import FakeUmami

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "paper boats sailing down a rainy street"
FAKES = {"segmind": FakeSegmind, "onemin": FakeOneMin, "umami": FakeUmami}
KEY_VARS = {"segmind": "SEGMIND_API_KEY", "onemin": "ONEMIN_API_KEY", "umami": "UMAMI_API_KEY"}
BASE_VARS = {"segmind": "SEGMIND_BASE_URL", "onemin": "ONEMIN_BASE_URL", "umami": "UMAMI_BASE_URL"}


@pytest.fixture(params=["segmind", "onemin", "umami", "demo"])
async def gateway(request):
    """(name, fake server or None) for each provider a user might hold a key for."""
    if request.param == "demo":
        yield "demo", None
        return
    async with FAKES[request.param]() as fake:
        yield request.param, fake


@pytest.fixture
def bot_env(gateway, tmp_path):
    """Only that provider's key is set and VIDEO_PROVIDERS is left to its default."""
    name, fake = gateway
    env = {
        "DISCORD_TOKEN": "unused-offline",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "ALLOW_LOCAL_PROVIDER_URLS": "true",
    }
    if fake is not None:
        env[KEY_VARS[name]] = fake.api_key
        env[BASE_VARS[name]] = fake.base_url
    return env


async def test_each_provider_delivers_an_mp4_with_only_its_key(simcord_env, simcord_bot, gateway):
    """With only one gateway's key (or none: demo), /video ends with an MP4 made by that provider."""
    name, fake = gateway
    if name == "onemin":
        fake.delay = 0.05  # 1min.ai answers synchronously after holding the request
    guild = simcord_env.create_guild("g")
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(channel), step=3, limit=600)
    [result] = results(channel)
    [attachment] = result.attachments
    assert (await attachment.read())[4:8] == b"ftyp"
    assert simcord_bot.runner.primary.name == name
    assert simcord_bot.runner.primary.display_name in result.embeds[0].footer.text
    if name == "demo":
        assert "demo" in reply_of(started).embeds[0].footer.text.lower()
    else:
        assert fake.requests, "the clip came through the gateway's own protocol"


class TestFallback:
    @pytest.fixture
    async def gateway(self):
        async with FakeSegmind() as segmind, FakeLuma(api_key="luma-fallback-key-123456") as luma:
            yield segmind, luma

    @pytest.fixture
    def bot_env(self, gateway, tmp_path):
        segmind, luma = gateway
        return {
            "VIDEO_PROVIDERS": "segmind,luma",
            "SEGMIND_API_KEY": segmind.api_key,
            "SEGMIND_BASE_URL": segmind.base_url,
            "LUMAAI_API_KEY": luma.api_key,
            "LUMAAI_BASE_URL": luma.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
            "DATA_DIR": str(tmp_path / "data"),
            "ALLOW_LOCAL_PROVIDER_URLS": "true",
        }

    @pytest.mark.parametrize("outage", ["connection refused", "503", "429 past patience"])
    async def test_segmind_outage_before_acceptance_is_served_by_luma(self, simcord_env, gateway, outage):
        """Segmind down (refused, 5xx, rate limited past patience) before accepting hands the job to Luma."""
        segmind, luma = gateway
        if outage == "connection refused":
            await segmind.close()
        elif outage == "503":
            segmind.inject("v2", 503, times=5)
        else:
            segmind.inject("v2", 429, times=50, headers={"retry-after": "60"})
        guild = simcord_env.create_guild("g")
        channel = guild.create_text_channel("general")
        alice = guild.add_member(simcord_env.create_user("alice"))
        await alice.slash(channel, "video", prompt=PROMPT)
        await advance_until(simcord_env, lambda: results(channel), step=3)
        [result] = results(channel)
        assert "Luma Dream Machine" in result.embeds[0].footer.text
        assert field(result.embeds[0], "Model") == "ray-2"
        assert len(luma.requests_to("POST", "/generations")) == 1
        if outage != "connection refused":
            assert segmind.posts(), "Segmind was tried first"
            assert not segmind.v2_requests, "Segmind accepted nothing"
