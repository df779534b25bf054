"""The storage hot path through SQLAlchemy Core (async) against our plain SQL, on SQLite and PostgreSQL.
Prints figures and ratios, asserts nothing.

Run: `.venv/bin/python bench/bench_sqlalchemy.py [--count 1500] [--runs 3] [--postgres URL]`
(needs `pip install 'sqlalchemy[asyncio]>=2.0'`, which the bot itself does not use.)

Issue 12 asked whether the storage should move to SQLAlchemy Core + Alembic. The decision rests on the
two statements every /video runs: the atomic reservation (INSERT…SELECT that stores the job only within
the user's daily units and active jobs; on PostgreSQL behind a per-user advisory lock in a transaction)
and the one-read policy snapshot. Both paths run on the same fresh database (created by the bot's own
migrations), alternately, `--runs` times; each row prints the median rate of each and SQLAlchemy ÷ raw.

raw         bot.storage: Storage.create_job_reserving / policy_snapshot (aiosqlite, one connection;
            asyncpg pool of 10).
sqlalchemy  the same statements as Core expressions (insert().from_select(), compiled once and cached by
            SQLAlchemy), the snapshot as text(); AsyncEngine over the same drivers: SQLite on one pooled
            connection in AUTOCOMMIT (as the bot runs it), PostgreSQL on a pool of 10, the lock and the
            insert in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_storage import DEFAULT_PG, postgres_schema

from bot.domain import VideoRequest
from bot.storage import ACTIVE_STATES, Storage, open_storage, quota_lock_key, request_to_json
from bot.storage.postgres import PostgresDialect
from bot.storage.sqlite import SqliteDialect

try:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
except ImportError:  # pragma: no cover - a bench-only dependency
    sys.exit("bench_sqlalchemy needs SQLAlchemy: pip install 'sqlalchemy[asyncio]>=2.0'")

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
DAY = NOW.date().isoformat()
REQUEST = VideoRequest(prompt="a lighthouse in a storm at night", resolution="1080p")
USERS = 200

metadata = sa.MetaData()
jobs = sa.Table(
    "jobs", metadata,
    *(sa.Column(name, sa.BigInteger) for name in ("id", "guild_id", "channel_id", "user_id")),
    sa.Column("request", sa.Text), sa.Column("state", sa.Text), sa.Column("cost", sa.Integer),
    sa.Column("units", sa.Integer), sa.Column("day", sa.Text), sa.Column("created_at", sa.Float),
    sa.Column("started_at", sa.Float), sa.Column("finished_at", sa.Float), sa.Column("provider", sa.Text),
    sa.Column("provider_job_id", sa.Text), sa.Column("status_message_id", sa.BigInteger),
    sa.Column("result_message_id", sa.BigInteger), sa.Column("video_url", sa.Text), sa.Column("failure_reason", sa.Text),
    sa.Column("parent_job_id", sa.BigInteger), sa.Column("parent_kind", sa.Text),
)  # fmt: skip


def reserve_statement() -> sa.Insert:
    """create_job_reserving's INSERT…SELECT (no budget, no cooldown: the common case) as a Core expression."""
    p = {name: sa.bindparam(name, type_=kind) for name, kind in (
        ("guild", sa.BigInteger), ("channel", sa.BigInteger), ("user", sa.BigInteger), ("request", sa.Text),
        ("cost", sa.Integer), ("day", sa.Text), ("created", sa.Float), ("daily", sa.Integer), ("concurrent", sa.Integer),
    )}  # fmt: skip
    mine = (jobs.c.guild_id == p["guild"]) & (jobs.c.user_id == p["user"])
    used = sa.select(sa.func.coalesce(sa.func.sum(jobs.c.cost), 0)).where(mine, jobs.c.day == p["day"]).scalar_subquery()
    active = sa.select(sa.func.count()).select_from(jobs).where(mine, jobs.c.state.in_(ACTIVE_STATES)).scalar_subquery()
    values = sa.select(
        p["guild"], p["channel"], p["user"], p["request"], sa.literal("queued"), p["cost"], p["cost"], p["day"],
        p["created"], sa.null(), sa.null(),
    ).where(used + p["cost"] <= p["daily"], active < p["concurrent"])
    columns = ["guild_id", "channel_id", "user_id", "request", "state", "cost", "units", "day", "created_at",
               "parent_job_id", "parent_kind"]  # fmt: skip
    returned = [c for c in jobs.c if c.name not in ("units", "day")]
    return sa.insert(jobs).from_select(columns, values).returning(*returned)


RESERVE = reserve_statement()
REQUEST_JSON = request_to_json(REQUEST)


def reserve_params(user: int) -> dict:
    return {"guild": 1, "channel": 2, "user": user, "request": REQUEST_JSON, "cost": 1, "day": DAY,
            "created": NOW.timestamp(), "daily": 1_000_000, "concurrent": 1_000_000}  # fmt: skip


async def raw_reserve(store: Storage, user: int) -> bool:
    job = await store.create_job_reserving(
        guild_id=1, channel_id=2, user_id=user, request=REQUEST, created_at=NOW, day=DAY, cost=1,
        daily_limit=1_000_000, concurrent_limit=1_000_000,
    )  # fmt: skip
    return job is not None


async def sa_reserve(engine: AsyncEngine, user: int, *, postgres: bool) -> bool:
    async with engine.begin() as conn:
        if postgres:
            key = sa.func.hashtextextended(quota_lock_key(1, user), 0)
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        row = (await conn.execute(RESERVE, reserve_params(user))).first()
    return row is not None


def snapshot_text(postgres: bool) -> sa.TextClause:
    """The bot's own policy-snapshot SQL with named parameters (Core has no portable JSON aggregation)."""
    if postgres:
        sql = PostgresDialect.policy_snapshot_sql.replace("$1", ":guild").replace("$2", ":user")
    else:
        sql = SqliteDialect.policy_snapshot_sql.replace("?1", ":guild").replace("?2", ":user")
    return sa.text(sql)


async def rate(count: int, run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return count / (time.perf_counter() - started)


async def bench(label: str, bot_url: str, sa_url: str, *, count: int, runs: int, schema: str | None = None) -> None:
    postgres = schema is not None
    store = await open_storage(bot_url)  # migrates: both paths use the bot's schema
    if postgres:
        settings = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(sa_url, pool_size=10, max_overflow=0, connect_args=settings)
    else:  # the bot's one connection, statements in autocommit
        engine = create_async_engine(sa_url, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT")
    snapshot = snapshot_text(postgres)

    async def sa_snapshot(user: int) -> None:
        async with engine.connect() as conn:
            (await conn.execute(snapshot, {"guild": 1, "user": user})).one()

    cases: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
        ("reservations, sequential",
         lambda: _each(count, lambda n: raw_reserve(store, n % USERS)),
         lambda: _each(count, lambda n: sa_reserve(engine, n % USERS, postgres=postgres))),
        ("reservations, concurrent burst",
         lambda: asyncio.gather(*(raw_reserve(store, n % USERS) for n in range(count))),
         lambda: asyncio.gather(*(sa_reserve(engine, n % USERS, postgres=postgres) for n in range(count)))),
        ("policy snapshot, sequential",
         lambda: _each(count, lambda n: store.policy_snapshot(1, n % USERS)),
         lambda: _each(count, lambda n: sa_snapshot(n % USERS))),
    ]  # fmt: skip
    try:
        print(f"{label} ({count} per run, median of {runs} runs, alternating)")
        print(f"  {'':<32} {'raw /s':>9} {'sqlalchemy /s':>14} {'ratio':>7}")
        for name, raw, core in cases:
            raw_rates, core_rates, ratios = [], [], []
            for _ in range(runs):
                raw_rates.append(await rate(count, raw))
                core_rates.append(await rate(count, core))
                ratios.append(core_rates[-1] / raw_rates[-1])
            print(f"  {name:<32} {statistics.median(raw_rates):>9,.0f} {statistics.median(core_rates):>14,.0f}"
                  f" {statistics.median(ratios):>6.2f}x")  # fmt: skip
    finally:
        await engine.dispose()
        await store.close()


async def _each(count: int, step: Callable[[int], Awaitable[object]]) -> None:
    for n in range(count):
        await step(n)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()
    print(f"SQLAlchemy {sa.__version__}; ratio = SQLAlchemy Core ÷ raw (above 1 is faster)")
    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        await bench("SQLite (aiosqlite)", f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}",
                    count=args.count, runs=args.runs)  # fmt: skip

    admin, schema, pg_url = await postgres_schema(args.postgres)
    if admin is None:
        print(f"PostgreSQL skipped: {pg_url}")
        return
    try:
        sa_url = args.postgres.replace("postgresql://", "postgresql+asyncpg://", 1)
        await bench("PostgreSQL (asyncpg)", pg_url, sa_url, count=args.count, runs=args.runs, schema=schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
