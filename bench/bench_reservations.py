"""Atomic quota reservations per second on SQLite. Prints figures, asserts nothing.

Run: `.venv/bin/python bench/bench_reservations.py [--count 5000]`

Each reservation is the real `Storage.create_job_reserving`: one INSERT…SELECT that stores the job only if
the user's daily units, the user's active jobs, the server's daily budget and the cooldown all allow it.
A fresh database in a temporary directory, WAL, synchronous=NORMAL (as the bot opens it). Three runs:

1. sequential — one reservation after another (latency-bound: aiosqlite's hop to its thread and back);
2. concurrent — every reservation launched at once on the bot's one connection, as a burst of commands
                would be (aiosqlite queues them to its thread; SQLite runs one writer at a time anyway);
3. budget     — like 2, with a server budget and a cooldown in the statement, many users in one server:
                first a fresh day, then a day already holding thousands of that server's jobs (the budget
                sums the server's whole day from a covering index, so its cost grows with that day).

One process holds one connection: several processes share a database through PostgreSQL, not SQLite.
(Eight SQLite connections hammering one file do not go faster: writers take turns through the busy
handler's sleeps, and under thousands of simultaneous writes some wait past busy_timeout.)

Goal: >= 2,000 reservations/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain import VideoRequest
from bot.storage import Storage

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
DAY = NOW.date().isoformat()
REQUEST = VideoRequest(prompt="a lighthouse in a storm at night", resolution="1080p")


async def reserve(store: Storage, user: int, *, guild: int = 1, **kw) -> bool:
    job = await store.create_job_reserving(
        guild_id=guild, channel_id=2, user_id=user, request=REQUEST, created_at=NOW, day=DAY, cost=1,
        daily_limit=1_000_000, concurrent_limit=1_000_000, **kw,
    )  # fmt: skip
    return job is not None


async def open_stores(path: Path, count: int) -> list[Storage]:
    stores = []
    for _ in range(count):
        store = Storage(str(path))
        await store.open()
        stores.append(store)
    return stores


async def sequential(path: Path, count: int) -> tuple[float, int]:
    [store] = await open_stores(path, 1)
    try:
        started = time.perf_counter()
        won = sum([await reserve(store, user=n % 500) for n in range(count)])
        return time.perf_counter() - started, won
    finally:
        await store.close()


async def concurrent(path: Path, count: int, *, guild: int, **kw) -> tuple[float, int]:
    [store] = await open_stores(path, 1)
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(reserve(store, user=10_000 + n, guild=guild, **kw) for n in range(count)))
        return time.perf_counter() - started, sum(results)
    finally:
        await store.close()


async def main(count: int, as_json: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        rows = []
        elapsed, won = await sequential(path, count)
        rows.append(("sequential", elapsed, won))
        elapsed, won = await concurrent(path, count, guild=2)
        rows.append(("concurrent burst, one connection", elapsed, won))
        budget = count * 3  # never reached: every statement pays for the whole check
        elapsed, won = await concurrent(path, count, guild=3, daily_budget=budget, cooldown_s=30)
        rows.append((f"+ budget & cooldown, server's day growing 0 → {count} jobs", elapsed, won))
        elapsed, won = await concurrent(path, count, guild=1, daily_budget=budget, cooldown_s=30)
        rows.append((f"+ budget & cooldown, {count} → {2 * count} jobs (worst case)", elapsed, won))
    print(f"Atomic reservations on SQLite ({count} per run; goal >= 2,000/s)")
    for name, elapsed, won in rows:
        print(f"  {name:<55} {won / elapsed:>9,.0f} /s   ({won} stored in {elapsed:.2f} s)")
    if as_json:  # one machine-readable line for bench/bench_burst.py (the last run is the worst case)
        figures = [{"name": name, "per_s": won / elapsed, "stored": won, "seconds": elapsed} for name, elapsed, won in rows]
        print("RESULT " + json.dumps({"runs": figures, "worst_case_per_s": figures[-1]["per_s"]}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="reservations per run")
    parser.add_argument("--json", action="store_true", help="also print a RESULT {json} line")
    options = parser.parse_args()
    asyncio.run(main(options.count, options.json))
