"""Storage fixtures for both backends: SQLite in tmp_path, and PostgreSQL in a fresh schema per test
(tests/postgres.py; skipped, saying why, when no PostgreSQL is reachable)."""

from __future__ import annotations

import pytest

from bot.storage import Storage, open_storage
from tests.postgres import postgres_url  # noqa: F401  (a fixture used by the ones below)

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def backend_url(backend, request, tmp_path) -> str:
    """A fresh, empty database of `backend`: an SQLite file in tmp_path or a PostgreSQL schema."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'data' / 'reelbot.db'}"


@pytest.fixture
async def store(backend_url):
    """An open, migrated storage on `backend` (the same public methods whichever it is)."""
    storage: Storage = await open_storage(backend_url)
    try:
        yield storage
    finally:
        await storage.close()
