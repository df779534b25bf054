"""Quota reservations/s and job claims/s on SQLite and PostgreSQL. Prints figures, asserts nothing.

Run: `.venv/bin/python bench/bench_storage.py [--count 3000] [--postgres URL]`

Both backends through the same public methods the bot uses (bot/storage/: one implementation, two
dialects), each on a fresh database: an SQLite file in a temporary directory (WAL, as the bot opens it), and a new schema in
the PostgreSQL at --postgres (default $REELBOT_TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/test),
dropped afterwards. PostgreSQL is skipped, saying why, when it cannot be reached.

reservations  create_job_reserving, as /video does:
  sequential       one after another, many users (latency-bound);
  concurrent       all launched at once, many users (PostgreSQL: a pool of 10 connections; the per-user
                   advisory locks never meet);
  one user         all at once for a single user: every reservation waits for the previous one's lock.
claims        claim_next_job, as the shared-queue dispatcher does, on a queue of --count jobs of 200 users
              (round-robin ordering is computed over the whole queue, so a longer queue costs more):
  sequential       claim, then move the job on (delivering), so slots free up as they would;
  concurrent       8 claimers at once (PostgreSQL: every claim takes one global advisory lock, the price
                   of a global MAX_ACTIVE_JOBS);
  busy bot         claims from a queue kept at 50 waiting jobs (only the claim and the state change timed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain import JobState, VideoRequest
from bot.storage import open_storage

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
DAY = NOW.date().isoformat()
LEASE = NOW + timedelta(minutes=5)
REQUEST = VideoRequest(prompt="a lighthouse in a storm at night", resolution="1080p")
DEFAULT_PG = os.environ.get("REELBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 200


async def reserve(storage, user: int) -> bool:
    job = await storage.create_job_reserving(
        guild_id=1, channel_id=2, user_id=user, request=REQUEST, created_at=NOW, day=DAY, cost=1,
        daily_limit=1_000_000, concurrent_limit=1_000_000,
    )  # fmt: skip
    return job is not None


async def timed(label: str, count: int, run: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - started
    print(f"  {label:<28} {count:>6} in {elapsed:6.2f} s  = {count / elapsed:8.0f}/s")


async def bench(url: str, count: int) -> None:
    storage = await open_storage(url)
    try:
        print(" reservations")
        await timed("sequential, many users", count, lambda: _sequential(storage, count))
        await timed("concurrent, many users", count,
                    lambda: asyncio.gather(*(reserve(storage, n % USERS) for n in range(count))))  # fmt: skip
        await timed("concurrent, one user", count, lambda: asyncio.gather(*(reserve(storage, -1) for _ in range(count))))
        await _cancel_all(storage)

        print(f" claims (queue of {count} jobs, {USERS} users)")
        for n in range(count):
            await reserve(storage, n % USERS)
        await _analyze(storage)
        await timed("sequential, claim + move on", count, lambda: _claims(storage, "w0", count))
        await _cancel_all(storage)
        for n in range(count):
            await reserve(storage, n % USERS)
        await _analyze(storage)
        await timed("concurrent, 8 claimers", count,
                    lambda: asyncio.gather(*(_claims(storage, f"w{i}", count // 8) for i in range(8))))  # fmt: skip
        await _cancel_all(storage)
        print(" claims (a busy bot: 50 waiting jobs, topped up after each claim)")
        for n in range(50):
            await reserve(storage, n % USERS)
        spent = 0.0
        for n in range(count):
            started = time.perf_counter()
            await _claims(storage, "w0", 1)
            spent += time.perf_counter() - started
            await reserve(storage, n % USERS)
        print(f"  {'sequential, claim + move on':<28} {count:>6} in {spent:6.2f} s  = {count / spent:8.0f}/s")
    finally:
        await storage.close()


async def _sequential(storage, count: int) -> None:
    for n in range(count):
        await reserve(storage, n % USERS)


async def _claims(storage, worker: str, count: int) -> None:
    for _ in range(count):
        job = await storage.claim_next_job(worker, max_active=1_000_000, lease_until=LEASE)
        if job is None:
            return
        await storage.transition(job.id, (JobState.QUEUED,), JobState.DELIVERING)


async def _cancel_all(storage) -> None:
    for job in await storage.jobs_in_states((JobState.QUEUED, JobState.DELIVERING)):
        await storage.transition(job.id, (JobState.QUEUED, JobState.DELIVERING), JobState.CANCELLED)
    await _analyze(storage)


async def _analyze(storage) -> None:
    """PostgreSQL: fresh statistics, as autovacuum keeps them in a running database (a bench churns faster
    than it wakes up, and a planner that believes the table is empty picks nested loops over thousands of
    rows). SQLite: nothing, as the bot never runs ANALYZE there."""
    if hasattr(storage, "pool"):
        await storage.pool.execute("ANALYZE jobs")


async def postgres_schema(url: str):
    """A fresh schema at `url` and a URL that uses it; or (None, reason) when PostgreSQL is not there."""
    try:
        import asyncpg
    except ImportError:
        return None, None, "asyncpg is not installed (pip install 'reelbot[postgres]')"
    try:
        admin = await asyncpg.connect(url, timeout=5)
    except Exception as error:
        return None, None, f"cannot reach PostgreSQL at the given URL: {type(error).__name__}: {error}"
    schema = f"reelbot_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    return admin, schema, f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        print("SQLite (one connection, WAL)")
        await bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.count)

    admin, schema, pg_url = await postgres_schema(args.postgres)
    if admin is None:
        print(f"PostgreSQL skipped: {pg_url}")
        return
    try:
        version = await admin.fetchval("SHOW server_version")
        print(f"PostgreSQL {version.split()[0]} (asyncpg pool of 10, READ COMMITTED, advisory locks)")
        await bench(pg_url, args.count)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
