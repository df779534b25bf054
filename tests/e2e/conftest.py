"""End-to-end fixtures: the real bot from create_bot(env), real SQLite, a fake Luma, driven by simcord."""

from __future__ import annotations

import pytest

from bot.client import create_bot
from tests import simcord_ext
from tests.fakes.luma import FakeLuma
from tests.fakes.umami import FakeUmami

simcord_ext.install()
simcord_ext.speed_up_settling()
simcord_ext.chunk_advances()

LUMA_KEY = "luma-e2e-secret-key-0123456789"


@pytest.fixture
async def fake_luma():
    async with FakeLuma(api_key=LUMA_KEY, polls_to_dream=1, polls_to_complete=3) as fake:
        yield fake


def pytest_configure(config):
    config.addinivalue_line("markers", "bot_env(**vars): extra environment variables for the test's bot")


@pytest.fixture
def bot_env(request, tmp_path, fake_luma):
    """The environment a test's bot is built from (`@pytest.mark.bot_env(QUOTA_DAILY="1")` adds to it)."""
    env = {
        "DISCORD_TOKEN": "unused-offline",
        "VIDEO_PROVIDERS": "luma",
        "LUMAAI_API_KEY": fake_luma.api_key,
        "LUMAAI_BASE_URL": fake_luma.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "QUOTA_DAILY": "5",
        "QUOTA_CONCURRENT": "1",
        "MAX_ACTIVE_JOBS": "10",
        "JOB_TIMEOUT_S": "1200",
        "ALLOW_LOCAL_PROVIDER_URLS": "true",  # the fakes serve results over http on 127.0.0.1
    }
    marker = request.node.get_closest_marker("bot_env")
    if marker:
        env.update({key: str(value) for key, value in marker.kwargs.items()})
    return env


@pytest.fixture
async def simcord_bot(bot_env):
    bot = create_bot(bot_env)
    yield bot
    if not bot.is_closed():
        await bot.close()


@pytest.fixture
def world(simcord_env):
    """A server with one channel and two members."""
    guild = simcord_env.create_guild("reel-guild")
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    bob = guild.add_member(simcord_env.create_user("bob"))
    return guild, channel, alice, bob


@pytest.fixture
async def fake_umami():
    async with FakeUmami() as fake:
        yield fake


@pytest.fixture
def umami_bot_env(tmp_path, fake_umami):
    """A bot whose only provider is UmamiAI (use it as `bot_env` by overriding that fixture)."""
    return {
        "DISCORD_TOKEN": "unused-offline",
        "VIDEO_PROVIDERS": "umami",
        "UMAMI_API_KEY": fake_umami.api_key,
        "UMAMI_BASE_URL": fake_umami.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "ALLOW_LOCAL_PROVIDER_URLS": "true",
    }
