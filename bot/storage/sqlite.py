"""The SQLite dialect: one aiosqlite connection (WAL), migrations numbered by PRAGMA user_version.

SQLite runs one writer at a time, so every quota-relevant statement is atomic on its own: no locks, and
statements run in autocommit (a BEGIN on the bot's one shared connection would sweep every other
coroutine's statements into it)."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.migrations import migration_scripts, split_sql
from bot.storage.rows import HOLDING_SLOT, JOB_COLUMNS

log = logging.getLogger(__name__)

_CASTS = re.compile(r"::(?:bigint|integer|int|text|double precision)\b")


@lru_cache(maxsize=512)
def _adapt(sql: str) -> str:
    """The shared query text in SQLite's words: PostgreSQL's casts dropped (SQLite's types are loose)."""
    return _CASTS.sub("", sql)


class SqliteDialect:
    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("storage is not open")
        return self._db

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        try:
            await self.run("PRAGMA busy_timeout=5000")
            await self._enable_wal()
            for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
                await self.run(f"PRAGMA {pragma}")
            await self.migrate()
        except BaseException:
            await self.close()  # an open connection's thread would keep the process from exiting
            raise

    async def _enable_wal(self, attempts: int = 50) -> None:
        """Switch to WAL. SQLite answers "database is locked" at once, without waiting out busy_timeout, when
        another process is switching the same new file at that moment: try again for a few seconds."""
        for attempt in range(attempts):
            try:
                await self.run("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def migrate(self) -> int:
        """Apply every migration newer than the database's version; returns the new version."""
        version = await self._version()
        for number, script in migration_scripts(self.name):
            if number <= version:
                continue
            await self.run("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the write lock: read again inside it.
                version = await self._version()
                if number <= version:
                    await self.run("COMMIT")
                    continue
                for statement in split_sql(script):
                    await self.run(statement)
                await self.run(f"PRAGMA user_version = {int(number)}")
                await self.run("COMMIT")
            except BaseException:
                await self.run("ROLLBACK")
                raise
            log.info("database migrated to version %d", number)
            version = number
        return version

    async def _version(self) -> int:
        row = await self.one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute one statement and close its cursor; returns the affected row count."""
        async with self.db.execute(_adapt(sql), args) as cursor:
            return cursor.rowcount

    # One trip to aiosqlite's single worker thread per query (not execute + fetch + close): in a burst
    # every trip queues behind every other command's, so trips, not SQL, set the acknowledgement time. It
    # also leaves no cursor open across awaits (an open INSERT … RETURNING keeps its write unfinished).
    async def one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.db.execute_fetchall(_adapt(sql), args)
        return next(iter(rows), None)

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.db.execute_fetchall(_adapt(sql), args))

    @asynccontextmanager
    async def transaction(self, *locks: str, snapshot: bool = False) -> AsyncIterator[SqliteDialect]:
        yield self  # one writer at a time: each statement is atomic alone (see the module's docstring)

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    # A single UPDATE: SQLite's one writer makes the check "fewer than N hold a slot" and the claim atomic.
    claim_sql = f"""UPDATE jobs SET owner = ?, lease_until = ?,
          claim_seq = (SELECT COALESCE(MAX(claim_seq), 0) + 1 FROM jobs)
        WHERE id = (
          WITH holding AS (SELECT user_id, COUNT(*) AS n FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id),
               waiting AS (SELECT user_id, MIN(id) AS id FROM jobs
                           WHERE state = 'queued' AND owner IS NULL GROUP BY user_id)
          SELECT w.id FROM waiting w LEFT JOIN holding h ON h.user_id = w.user_id
          WHERE (SELECT COALESCE(SUM(n), 0) FROM holding) < ?
          ORDER BY COALESCE(h.n, 0),
                   (SELECT MAX(l.claim_seq) FROM jobs l WHERE l.user_id = w.user_id),
                   w.id
          LIMIT 1)
        RETURNING {JOB_COLUMNS}"""

    policy_snapshot_sql = """SELECT
         (SELECT json_object('daily_limit', daily_limit, 'concurrent_limit', concurrent_limit,
                             'daily_budget', daily_budget, 'cooldown_s', cooldown_s)
            FROM guild_settings WHERE guild_id = ?1),
         (SELECT json_group_array(json_array(role_id, daily_limit, concurrent_limit))
            FROM role_limits WHERE guild_id = ?1),
         (SELECT json_object('daily_limit', daily_limit, 'concurrent_limit', concurrent_limit, 'blocked', blocked)
            FROM user_limits WHERE guild_id = ?1 AND user_id = ?2),
         (SELECT json_group_object(option, weight) FROM cost_weights WHERE guild_id = ?1),
         (SELECT json_group_array(json_array(channel_id, allowed)) FROM channel_rules WHERE guild_id = ?1),
         (SELECT json_group_array(json_array(pattern, is_regex))
            FROM (SELECT pattern, is_regex FROM blocklist WHERE guild_id = ?1 ORDER BY id))"""
