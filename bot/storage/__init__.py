"""Storage speaks SQL (nothing else does): one implementation, two dialects.

Queries are written once, in jobs.py (jobs, reservations, leases), policy.py (settings and limits) and
audit.py (refusals, stats, audit log), on the frame in base.py. A dialect (sqlite.py: aiosqlite, WAL, one
connection; postgres.py: an asyncpg pool, advisory locks, for several processes) supplies what differs:
placeholders and casts, how statements run together (transactions and locks), the claim and policy
snapshot statements, JSON access, and its own numbered migrations (bot/migrations/, …/postgres/).
`open_storage(database_url)` picks the dialect: SQLite by default, PostgreSQL for several processes.

Plain SQL, not SQLAlchemy Core: measured by bench/bench_sqlalchemy.py (median of 3 runs, same machine,
same run), SQLAlchemy Core's async engine reserves at a fraction of the raw path's rate on SQLite and
PostgreSQL (figures in bench/README.md), and the hot path is one hand-written INSERT…SELECT either way.
"""

from __future__ import annotations

from typing import Any

from bot.storage.audit import AuditQueries
from bot.storage.base import StorageBase
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


class Storage(JobQueries, PolicyQueries, AuditQueries):
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
