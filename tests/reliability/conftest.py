"""Reliability fixtures: the real bot from create_bot(env) on real SQLite and a fake Luma, driven by simcord,
with faults injected on either side (provider knobs on FakeLuma, `env.inject_error` on Discord)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import bot_env, simcord_bot, world  # the same bot, built against this folder's fake
from tests.fakes.luma import FakeLuma

__all__ = ["bot_env", "simcord_bot", "world"]

LUMA_KEY = "luma-reliability-secret-0123456789"


def pytest_configure(config):
    config.addinivalue_line("markers", "bot_env(**vars): extra environment variables for the test's bot")
    config.addinivalue_line("markers", "hangs: the test makes the fake provider hang (short client timeouts)")


@pytest.fixture
async def fake_luma():
    async with FakeLuma(api_key=LUMA_KEY, polls_to_dream=1, polls_to_complete=2) as fake:
        yield fake
