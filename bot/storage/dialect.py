"""What a dialect is: how one statement runs, how several run together, and the few SQL pieces that differ.

Queries are written once (bot/storage/jobs.py, policy.py, audit.py) with `?` placeholders and PostgreSQL
casts (`?::bigint`) where PostgreSQL cannot infer a parameter's type. Each dialect adapts that text once
per statement (cached): SQLite drops the casts, PostgreSQL numbers the placeholders `$1, $2, …`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class Session(Protocol):
    """Statements on one connection (or, on SQLite, the bot's one connection)."""

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any | None:
        """The first row, or None."""

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row (rows read by name or index)."""

    async def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute; the number of rows changed."""


class Dialect(Session, Protocol):
    name: str  # "sqlite" or "postgres": also the migrations folder (bot/storage/migrations.py)
    claim_sql: str  # claim_next_job's statement: (worker_id, lease_until, max_active)
    policy_snapshot_sql: str  # six JSON text columns: (guild_id, user_id)

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> int: ...

    def transaction(self, *locks: str, snapshot: bool = False) -> AbstractAsyncContextManager[Session]:
        """Statements that must not interleave with other processes': run in one transaction holding the
        named `locks` (taken in the order given), or, with `snapshot`, reading one consistent snapshot.
        SQLite's one connection runs them one by one, as each is atomic on its own there."""
        ...

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of top-level `key` of the JSON in `column`."""
        ...
