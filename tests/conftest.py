"""Suite-wide fixtures."""

from __future__ import annotations

import aiohttp
import pytest

# Every REST request a bot makes under simcord is validated against Discord's OpenAPI spec (bot/specs/).
pytest_plugins = ["tests.discord_conformance.plugin"]


@pytest.fixture
async def http_session():
    async with aiohttp.ClientSession() as session:
        yield session
