"""The one storage's frame: a dialect (bot/storage/sqlite.py or postgres.py) and the statement helpers
every query module uses (`?` placeholders; the dialect adapts the text)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.storage.dialect import Dialect, Session

log = logging.getLogger(__name__)


class StorageBase:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    async def open(self) -> None:
        """Connect and migrate to the latest version."""
        await self.dialect.open()

    async def close(self) -> None:
        await self.dialect.close()

    async def migrate(self) -> int:
        """Apply every migration newer than the database's version; returns the new version."""
        return await self.dialect.migrate()

    async def writable(self) -> bool:
        """The health probe: an upsert into a real table (health_probe), so a full disk, a read-only file or a
        standby answers False (a temporary table or a privilege check would not notice those)."""
        try:
            await self._run(
                "INSERT INTO health_probe (id, checked_at) VALUES (1, ?::double precision) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (time.time(),),
            )
            return True
        except Exception:
            log.warning("database health probe failed", exc_info=True)
            return False

    def _transaction(self, *locks: str, snapshot: bool = False) -> AbstractAsyncContextManager[Session]:
        return self.dialect.transaction(*locks, snapshot=snapshot)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self.dialect.run(sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any | None:
        return await self.dialect.one(sql, params)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.dialect.all(sql, params)
