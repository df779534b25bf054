"""Suite-wide fixtures."""

from __future__ import annotations

import aiohttp
import pytest


@pytest.fixture
async def http_session():
    async with aiohttp.ClientSession() as session:
        yield session
