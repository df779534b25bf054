"""PostgreSQL twin of bot/storage.py (asyncpg), for several bot processes sharing quotas and jobs.

The public methods are Storage's, with the same meaning (tests/storage runs one suite on both). What
differs is how atomicity is won against other processes:

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
from datetime import datetime
from typing import Any

from bot.domain import Job, JobState, VideoRequest
from bot.storage import (
    _JOB_COLUMNS,
    _UPDATABLE,
    ACTIVE_STATES,
    HOLDING_SLOT,
    IN_FLIGHT_STATES,
    LEASABLE_STATES,
    LEASED_STATES,
    QueueView,
    _job,
    _ts,
    migration_scripts,
    request_to_json,
)

log = logging.getLogger(__name__)

MIGRATION_LOCK = "reelbot:migrate"
CLAIM_LOCK = "reelbot:claim"


def quota_lock_key(guild_id: int, user_id: int) -> str:
    return f"reelbot:quota:{guild_id}:{user_id}"


class PostgresStorage:
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
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            for number, script in migration_scripts("postgres"):
                if number <= version:
                    continue
                async with conn.transaction():  # a savepoint: a broken script leaves nothing half-applied
                    await conn.execute(script)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number)
                log.info("database migrated to version %d", number)
                version = number
        return int(version)

    async def writable(self) -> bool:
        try:
            return bool(await self.pool.fetchval(
                "SELECT NOT pg_is_in_recovery() AND has_table_privilege('jobs', 'INSERT, UPDATE')"
            ))  # fmt: skip
        except Exception:
            return False

    # --- jobs + quota ---------------------------------------------------------------------------

    async def create_job_reserving(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        request: VideoRequest,
        created_at: datetime,
        day: str,
        cost: int,
        daily_limit: int,
        concurrent_limit: int,
        parent_job_id: int | None = None,
        parent_kind: str | None = None,
    ) -> Job | None:
        """Insert a queued job only if the user stays within both limits; atomic across processes (the
        (guild, user) advisory lock serialises reservations of one user). None when a limit is reached."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", quota_lock_key(guild_id, user_id)
            )
            row = await conn.fetchrow(
                f"""
                INSERT INTO jobs (guild_id, channel_id, user_id, request, state, cost, day, created_at,
                                  parent_job_id, parent_kind)
                SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, 'queued', $5::integer, $6::text,
                       $7::double precision, $8::bigint, $9::text
                WHERE (SELECT COALESCE(SUM(cost), 0) FROM jobs
                       WHERE guild_id = $1 AND user_id = $3 AND day = $6) + $5 <= $10
                  AND (SELECT COUNT(*) FROM jobs
                       WHERE guild_id = $1 AND user_id = $3 AND state = ANY($11::text[])) < $12
                RETURNING {_JOB_COLUMNS}
                """,
                guild_id, channel_id, user_id, request_to_json(request), cost, day, _ts(created_at),
                parent_job_id, parent_kind, daily_limit, list(ACTIVE_STATES), concurrent_limit,
            )  # fmt: skip
        return _job(row) if row else None

    async def usage(self, guild_id: int, user_id: int, day: str) -> tuple[int, int]:
        """(quota units used on `day`, jobs active now) for one user in one server."""
        row = await self.pool.fetchrow(
            """SELECT
                 (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND day = $3),
                 (SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND state = ANY($4::text[]))""",
            guild_id, user_id, day, list(ACTIVE_STATES),
        )  # fmt: skip
        return int(row[0]), int(row[1])

    async def refund(self, job_id: int) -> bool:
        """Give the job's quota back; true only the first time (a refund never happens twice)."""
        return _count(await self.pool.execute("UPDATE jobs SET cost = 0 WHERE id = $1 AND cost > 0", job_id)) == 1

    async def get_job(self, job_id: int) -> Job | None:
        row = await self.pool.fetchrow(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return _job(row) if row else None

    async def jobs_in_states(self, states: tuple[JobState, ...]) -> list[Job]:
        rows = await self.pool.fetch(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = ANY($1::text[]) ORDER BY id", [s.value for s in states]
        )
        return [_job(r) for r in rows]

    async def user_jobs(self, guild_id: int, user_id: int, *, limit: int = 10, offset: int = 0) -> list[Job]:
        rows = await self.pool.fetch(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE guild_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3 OFFSET $4",
            guild_id, user_id, limit, offset,
        )  # fmt: skip
        return [_job(r) for r in rows]

    async def count_in_flight(self) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE state = ANY($1::text[])"
        return int(await self.pool.fetchval(sql, list(IN_FLIGHT_STATES)))

    async def transition(
        self, job_id: int, from_states: tuple[JobState, ...], to: JobState, *, held_by: str | None = None, **fields: Any
    ) -> bool:
        """Compare-and-set: move the job to `to` only if it is in one of `from_states` (and, with `held_by`,
        only while that worker holds its lease: a worker whose job was taken over changes nothing)."""
        assignments, values = _assignments(fields, first=5)
        status = await self.pool.execute(
            f"""UPDATE jobs SET state = $1{assignments}
                WHERE id = $2 AND state = ANY($3::text[]) AND ($4::text IS NULL OR owner = $4)""",
            to.value, job_id, [s.value for s in from_states], held_by, *values,
        )  # fmt: skip
        return _count(status) == 1

    async def update_job(self, job_id: int, **fields: Any) -> None:
        assignments, values = _assignments(fields, first=2)
        if assignments:
            await self.pool.execute(f"UPDATE jobs SET {assignments[2:]} WHERE id = $1", job_id, *values)

    # --- workers sharing the queue (leases) ----------------------------------------------------------

    async def claim_next_job(self, worker_id: str, *, max_active: int, lease_until: datetime) -> Job | None:
        """Give `worker_id` the next queued job, round-robin by user (fewest jobs holding a slot, then the
        longest since their last claim, then the oldest job), only while fewer than `max_active` jobs hold a
        provider slot across every worker. None when nothing is waiting or every slot is taken."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", CLAIM_LOCK)
            row = await conn.fetchrow(
                f"""
                WITH holding AS (
                    SELECT user_id, COUNT(*) AS n FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id
                ), pick AS (
                    SELECT j.id AS pick_id FROM jobs j LEFT JOIN holding h ON h.user_id = j.user_id
                    WHERE j.state = 'queued' AND j.owner IS NULL
                      AND (SELECT COALESCE(SUM(n), 0) FROM holding) < $3
                    ORDER BY COALESCE(h.n, 0),
                             (SELECT MAX(l.claim_seq) FROM jobs l WHERE l.user_id = j.user_id) NULLS FIRST,
                             j.id
                    LIMIT 1
                    FOR UPDATE OF j SKIP LOCKED
                )
                UPDATE jobs SET owner = $1, lease_until = $2, claim_seq = nextval('jobs_claim_seq')
                FROM pick WHERE jobs.id = pick.pick_id
                RETURNING {_JOB_COLUMNS}
                """,
                worker_id, _ts(lease_until), max_active,
            )  # fmt: skip
        return _job(row) if row else None

    async def renew_leases(self, worker_id: str, job_ids: list[int], lease_until: datetime) -> set[int]:
        """Extend `worker_id`'s leases on `job_ids`; returns the ids it still holds (a job that was taken
        over, cancelled or finished is not renewed, and its task should stop)."""
        if not job_ids:
            return set()
        rows = await self.pool.fetch(
            """UPDATE jobs SET lease_until = $1 WHERE owner = $2 AND id = ANY($3::bigint[])
               AND state = ANY($4::text[]) RETURNING id""",
            _ts(lease_until), worker_id, list(job_ids), list(LEASABLE_STATES),
        )  # fmt: skip
        return {int(r[0]) for r in rows}

    async def take_over_expired(self, worker_id: str, *, now: datetime, lease_until: datetime) -> list[Job]:
        """Jobs whose worker stopped renewing: claimed-but-unstarted ones go back to the queue; started ones
        (submitting, running, delivering) become `worker_id`'s, each taken by exactly one worker."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE state = 'queued' AND owner IS NOT NULL "
                "AND lease_until < $1",
                _ts(now),
            )
            rows = await conn.fetch(
                f"""UPDATE jobs SET owner = $1, lease_until = $2
                    WHERE state = ANY($3::text[]) AND (owner IS NULL OR lease_until IS NULL OR lease_until < $4)
                    RETURNING {_JOB_COLUMNS}""",
                worker_id, _ts(lease_until), list(LEASED_STATES), _ts(now),
            )  # fmt: skip
        return sorted((_job(r) for r in rows), key=lambda job: job.id)

    async def release_leases(self, worker_id: str) -> int:
        """Give up every lease of `worker_id` (a clean shutdown): others take the jobs over at once."""
        return _count(await self.pool.execute(
            "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = $1 AND state = ANY($2::text[])",
            worker_id, list(LEASABLE_STATES),
        ))  # fmt: skip

    async def queue_view(self) -> QueueView:
        """The shared queue, to number waiting jobs in the order claims will take them."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'queued' AND owner IS NULL ORDER BY id")
            holding = await conn.fetch(f"SELECT user_id, COUNT(*) FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id")
            last = await conn.fetch(
                """SELECT q.user_id, (SELECT MAX(l.claim_seq) FROM jobs l WHERE l.user_id = q.user_id)
                   FROM (SELECT DISTINCT user_id FROM jobs WHERE state = 'queued' AND owner IS NULL) q"""
            )
        return QueueView(
            jobs=[_job(r) for r in rows],
            holding={int(r[0]): int(r[1]) for r in holding},
            last_claim={int(r[0]): int(r[1]) for r in last if r[1] is not None},
        )

    async def recent_durations(self, provider: str, model: str | None, limit: int = 20) -> list[float]:
        """Seconds from start to finish of recent successful jobs (for an honest ETA)."""
        rows = await self.pool.fetch(
            """SELECT finished_at - started_at FROM jobs
               WHERE state = 'completed' AND provider = $1 AND started_at IS NOT NULL
                 AND finished_at IS NOT NULL AND ($2::text IS NULL OR request::jsonb ->> 'model' = $2)
               ORDER BY id DESC LIMIT $3""",
            provider, model, limit,
        )  # fmt: skip
        return [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0]


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command status ("UPDATE 1", "INSERT 0 1")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


def _assignments(fields: dict[str, Any], *, first: int) -> tuple[str, list[Any]]:
    """`, col = $n` for each field, numbering placeholders from `first`."""
    parts, values = [], []
    for offset, (name, value) in enumerate(fields.items()):
        if name not in _UPDATABLE:
            raise ValueError(f"column {name!r} cannot be updated")
        parts.append(f", {name} = ${first + offset}")
        values.append(_ts(value) if isinstance(value, datetime) else value)
    return "".join(parts), values
