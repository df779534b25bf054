"""A fresh PostgreSQL schema per test, for every test layer that runs on PostgreSQL.

PostgreSQL is the one at $REELBOT_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
tests that need it are skipped, saying why, when nothing answers there. Each test gets its own schema
(dropped afterwards), so test runs never see each other's rows. Use it by importing the fixture:
`from tests.postgres import postgres_url`.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("REELBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[test]')"
    parts = urlsplit(POSTGRES_URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as error:
        return f"no PostgreSQL reachable at {host}:{port} ({error.strerror or error}); set REELBOT_TEST_POSTGRES_URL"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        await conn.close()
    except Exception as error:
        return f"PostgreSQL at {host}:{port} refused the test connection: {type(error).__name__}: {error}"
    return None


_PROBLEM: list[str | None] = []


async def postgres_problem() -> str | None:
    """The reason to skip PostgreSQL tests (asked once per run), or None."""
    if not _PROBLEM:
        _PROBLEM.append(await _postgres_problem())
    return _PROBLEM[0]


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@pytest.fixture
async def postgres_url():
    """A database URL whose tables live in a brand-new schema, dropped after the test."""
    problem = await postgres_problem()
    if problem:
        pytest.skip(problem)
    import asyncpg

    schema = f"reelbot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        await admin.execute("SET lock_timeout = '20s'")
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
