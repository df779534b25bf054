"""Reliability fixtures: the real bot from create_bot(env) on real SQLite and a fake Luma, driven by simcord,
with faults injected on either side (provider knobs on FakeLuma, `env.inject_error` on Discord)."""

from __future__ import annotations

import pytest

from bot.client import create_bot
from tests import simcord_ext
from tests.fakes.luma import FakeLuma

simcord_ext.install()
simcord_ext.speed_up_settling()

LUMA_KEY = "luma-reliability-secret-0123456789"


def pytest_configure(config):
    config.addinivalue_line("markers", "bot_env(**vars): extra environment variables for the test's bot")
    config.addinivalue_line("markers", "hangs: the test makes the fake provider hang (short client timeouts)")


@pytest.fixture
async def fake_luma():
    async with FakeLuma(api_key=LUMA_KEY, polls_to_dream=1, polls_to_complete=2) as fake:
        yield fake


@pytest.fixture
def bot_env(request, tmp_path, fake_luma):
    """The environment a test's bot is built from (`@pytest.mark.bot_env(QUOTA_DAILY="1")` adds to it)."""
    env = {
        "DISCORD_TOKEN": "unused-offline",
        "VIDEO_PROVIDERS": "luma",
        "LUMAAI_API_KEY": LUMA_KEY,
        "LUMAAI_BASE_URL": fake_luma.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "QUOTA_DAILY": "5",
        "QUOTA_CONCURRENT": "1",
        "MAX_ACTIVE_JOBS": "10",
        "JOB_TIMEOUT_S": "1200",
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
