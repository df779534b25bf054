"""Storage speaks SQL (nothing else does): one implementation, two dialects.

Queries are written once, in jobs.py (jobs, reservations, leases), policy.py (settings and limits),
audit.py (refusals, stats, audit log) and ideas.py (takes, votes), on the frame in base.py. A dialect
(sqlite.py: aiosqlite, WAL, one connection; postgres.py: an asyncpg pool, advisory locks, for several
processes) supplies what differs: placeholders and casts, how statements run together (transactions and
locks), the claim and policy snapshot statements, JSON access, and its own numbered migrations
(bot/migrations/, …/postgres/).
`open_storage(database_url)` picks the dialect: SQLite by default, PostgreSQL for several processes.

Plain SQL over this thin dialect layer, not SQLAlchemy Core + Alembic (issue 12), chosen by figures:
bench/bench_sqlalchemy.py runs the hot path both ways in one run (median of 3; SQLAlchemy 2.0.58 ÷ raw):
reservations 0.32x sequential / 0.54x in a burst on SQLite, 0.89x / 0.57x on PostgreSQL (on a loaded
2-core machine; no run came within 10%). SQLite is bound by trips to aiosqlite's thread: one per query
here, four in SQLAlchemy's adapter (cursor, execute, fetchall, close). And the statements that matter
(JSON aggregation, SKIP LOCKED, advisory locks) would stay hand-written text() in Core anyway.
"""

from __future__ import annotations

from typing import Any

from bot.storage.audit import AuditQueries
from bot.storage.base import StorageBase
from bot.storage.ideas import MAX_TAKES, IdeaQueries
from bot.storage.jobs import JobQueries, budget_lock_key, quota_lock_key
from bot.storage.migrations import migration_scripts
from bot.storage.policy import PolicyQueries
from bot.storage.postgres import PostgresDialect  # asyncpg itself is only imported on open()
from bot.storage.rows import (
    ACTIVE_STATES,
    HOLDING_SLOT,
    IN_FLIGHT_STATES,
    LEASABLE_STATES,
    LEASED_STATES,
    QueueView,
    policy_snapshot_from_json,
    request_from_json,
    request_to_json,
)
from bot.storage.sqlite import SqliteDialect

__all__ = [
    "ACTIVE_STATES",
    "HOLDING_SLOT",
    "IN_FLIGHT_STATES",
    "LEASABLE_STATES",
    "LEASED_STATES",
    "MAX_TAKES",
    "PostgresStorage",
    "QueueView",
    "Storage",
    "budget_lock_key",
    "is_postgres_url",
    "migration_scripts",
    "open_storage",
    "policy_snapshot_from_json",
    "quota_lock_key",
    "request_from_json",
    "request_to_json",
]


class Storage(JobQueries, PolicyQueries, AuditQueries, IdeaQueries):
    """The bot's storage; `Storage(path)` is an SQLite file (PostgresStorage for PostgreSQL)."""

    def __init__(self, path: str) -> None:
        super().__init__(SqliteDialect(path))
        self.path = path


class PostgresStorage(Storage):
    """The same storage on PostgreSQL (several processes sharing quotas and jobs): only the dialect differs."""

    def __init__(self, dsn: str, *, min_connections: int = 1, max_connections: int = 10) -> None:
        StorageBase.__init__(self, PostgresDialect(dsn, min_connections=min_connections, max_connections=max_connections))
        self.dsn = dsn

    @property
    def pool(self) -> Any:
        """The asyncpg pool (for tests and benches that look under the hood)."""
        assert isinstance(self.dialect, PostgresDialect)
        return self.dialect.pool


def is_postgres_url(database_url: str) -> bool:
    return database_url.startswith(("postgresql://", "postgres://"))


async def open_storage(database_url: str) -> Storage:
    """Open (and migrate) the database `database_url` names: `sqlite:///path` or `postgresql://…`."""
    if is_postgres_url(database_url):
        storage: Storage = PostgresStorage(database_url)
    else:
        path = database_url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if path == database_url:
            raise ValueError(f"not a sqlite:/// or postgresql:// URL: {database_url.split(':')[0]}")
        storage = Storage(path)
    await storage.open()
    return storage
