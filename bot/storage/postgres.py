"""The PostgreSQL dialect (asyncpg pool), for several bot processes sharing quotas and jobs.

What differs from SQLite is how atomicity is won against other processes:

- Quota reservations take a transaction-scoped advisory lock on (guild, user) first. An INSERT…SELECT
  alone is not atomic under READ COMMITTED: two transactions both read "4 of 5 used" and both insert.
  Behind the lock the second one's statement starts after the first committed, so it sees the first
  job. Unrelated users never wait on each other, and nothing has to be retried (SERIALIZABLE would
  abort and retry the losers of every race for the last slot).
- Claims take one global advisory lock, because MAX_ACTIVE_JOBS is a global count: the check "fewer
  than N hold a slot" and the claim must not interleave with another worker's. Claims are rare (one per
  started job), so serialising them costs nothing noticeable (bench/bench_storage.py measures it).
- Take-overs need no lock: an UPDATE re-checks its WHERE on the row it waited for, so of two workers
  racing for one expired lease exactly one wins.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from bot.storage.migrations import migration_scripts
from bot.storage.rows import HOLDING_SLOT, JOB_COLUMNS

log = logging.getLogger(__name__)

MIGRATION_LOCK = "reelbot:migrate"
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
_PLACEHOLDER = re.compile(r"\?")


@lru_cache(maxsize=512)
def _adapt(sql: str) -> str:
    """The shared query text in PostgreSQL's words: `?` placeholders numbered `$1, $2, …` in order."""
    numbers = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command status ("UPDATE 1", "INSERT 0 1")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


class _Connection:
    """Statements on one acquired connection, inside its transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any | None:
        return await self._conn.fetchrow(_adapt(sql), *args)

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return list(await self._conn.fetch(_adapt(sql), *args))

    async def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _count(await self._conn.execute(_adapt(sql), *args))


class PostgresDialect:
    name = "postgres"

    def __init__(self, dsn: str, *, min_connections: int = 1, max_connections: int = 10) -> None:
        self.dsn = dsn
        self.min_connections = min_connections
        self.max_connections = max_connections
        self._pool: Any = None

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("storage is not open")
        return self._pool

    async def open(self) -> None:
        import asyncpg  # optional dependency: pip install 'reelbot[postgres]'

        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_connections, max_size=self.max_connections, command_timeout=60
        )
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def migrate(self) -> int:
        """Apply every migration newer than the database's version (one process at a time, each in its own
        transaction: PostgreSQL's DDL is transactional); returns the new version."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK_SQL, MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            for number, script in migration_scripts(self.name):
                if number <= version:
                    continue
                async with conn.transaction():  # a savepoint: a broken script leaves nothing half-applied
                    await conn.execute(script)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number)
                log.info("database migrated to version %d", number)
                version = number
        return int(version)

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any | None:
        return await self.pool.fetchrow(_adapt(sql), *args)

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return list(await self.pool.fetch(_adapt(sql), *args))

    async def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _count(await self.pool.execute(_adapt(sql), *args))

    @asynccontextmanager
    async def transaction(self, *locks: str, snapshot: bool = False) -> AsyncIterator[_Connection]:
        options = {"isolation": "repeatable_read", "readonly": True} if snapshot else {}
        async with self.pool.acquire() as conn, conn.transaction(**options):
            for key in locks:
                await conn.execute(_LOCK_SQL, key)
            yield _Connection(conn)

    def json_text(self, column: str, key: str) -> str:
        return f"{column}::jsonb ->> '{key}'"

    # Behind CLAIM_LOCK (jobs.py takes it); SKIP LOCKED passes over a job whose row another statement holds.
    claim_sql = f"""
        WITH holding AS (
            SELECT user_id, COUNT(*) AS n FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id
        ), waiting AS (
            SELECT user_id, MIN(id) AS id FROM jobs WHERE state = 'queued' AND owner IS NULL GROUP BY user_id
        ), pick AS (
            SELECT j.id AS pick_id FROM waiting w JOIN jobs j ON j.id = w.id
            LEFT JOIN holding h ON h.user_id = w.user_id
            WHERE j.state = 'queued' AND j.owner IS NULL
              AND (SELECT COALESCE(SUM(n), 0) FROM holding) < $3
            ORDER BY COALESCE(h.n, 0),
                     (SELECT MAX(l.claim_seq) FROM jobs l WHERE l.user_id = w.user_id) NULLS FIRST,
                     w.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE jobs SET owner = $1, lease_until = $2, claim_seq = nextval('jobs_claim_seq')
        FROM pick WHERE jobs.id = pick.pick_id
        RETURNING {JOB_COLUMNS}"""

    policy_snapshot_sql = """SELECT
         (SELECT row_to_json(s) FROM (SELECT daily_limit, concurrent_limit, daily_budget, cooldown_s
            FROM guild_settings WHERE guild_id = $1) s)::text,
         (SELECT json_agg(json_build_array(role_id, daily_limit, concurrent_limit))
            FROM role_limits WHERE guild_id = $1)::text,
         (SELECT row_to_json(u) FROM (SELECT daily_limit, concurrent_limit, blocked
            FROM user_limits WHERE guild_id = $1 AND user_id = $2) u)::text,
         (SELECT json_object_agg(option, weight) FROM cost_weights WHERE guild_id = $1)::text,
         (SELECT json_agg(json_build_array(channel_id, allowed)) FROM channel_rules WHERE guild_id = $1)::text,
         (SELECT json_agg(json_build_array(pattern, is_regex) ORDER BY id)
            FROM blocklist WHERE guild_id = $1)::text"""


def describe_dsn(dsn: str) -> str:
    """host:port/database of a PostgreSQL URL, never its password (for messages and logs)."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def probe(dsn: str, *, timeout: float = 10.0) -> tuple[bool, str]:
    """(usable, what was found) for `python -m bot check`: connect, read the version and whether this user
    may write; changes nothing (no migration)."""
    try:
        import asyncpg
    except ImportError:
        return False, "asyncpg is not installed: pip install 'reelbot[postgres]'"
    where = describe_dsn(dsn)
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout)
    except Exception as error:
        return False, f"cannot connect to PostgreSQL at {where}: {type(error).__name__}: {error}"
    try:
        version = await conn.fetchval("SHOW server_version")
        writable = await conn.fetchval(
            "SELECT NOT pg_is_in_recovery() AND has_database_privilege(current_database(), 'CONNECT, TEMPORARY')"
            " AND (to_regclass('jobs') IS NULL AND has_schema_privilege(current_schema(), 'CREATE')"
            "      OR to_regclass('jobs') IS NOT NULL AND has_table_privilege('jobs', 'INSERT, UPDATE'))"
        )
    finally:
        await conn.close()
    if not writable:
        return False, f"PostgreSQL {version} at {where} is read-only for this user (or a standby)"
    return True, f"PostgreSQL {version} at {where} is writable"
