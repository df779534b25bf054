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
from urllib.parse import urlsplit

from bot.domain import Job, JobState, VideoRequest
from bot.storage import (
    _JOB_COLUMNS,
    _POLICY_COLUMNS,
    _UPDATABLE,
    ACTIVE_STATES,
    HOLDING_SLOT,
    IN_FLIGHT_STATES,
    LEASABLE_STATES,
    LEASED_STATES,
    QueueView,
    _dt,
    _job,
    _ts,
    migration_scripts,
    policy_snapshot_from_json,
    request_to_json,
)

log = logging.getLogger(__name__)

MIGRATION_LOCK = "reelbot:migrate"
CLAIM_LOCK = "reelbot:claim"


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


def quota_lock_key(guild_id: int, user_id: int) -> str:
    return f"reelbot:quota:{guild_id}:{user_id}"


def budget_lock_key(guild_id: int) -> str:
    """Taken before a user's quota lock when the server has a daily budget (always in that order)."""
    return f"reelbot:budget:{guild_id}"


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
        daily_budget: int | None = None,
        cooldown_s: float = 0,
    ) -> Job | None:
        """Insert a queued job only if the user stays within both limits (and the server within its daily
        budget, and the user's last request is older than the cooldown); atomic across processes (the
        (guild, user) advisory lock serialises reservations of one user; with a budget, a (guild) lock taken
        first serialises the server's). None when a limit is reached."""
        async with self.pool.acquire() as conn, conn.transaction():
            if daily_budget is not None:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", budget_lock_key(guild_id)
                )
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", quota_lock_key(guild_id, user_id)
            )
            row = await conn.fetchrow(
                f"""
                INSERT INTO jobs (guild_id, channel_id, user_id, request, state, cost, units, day, created_at,
                                  parent_job_id, parent_kind)
                SELECT $1::bigint, $2::bigint, $3::bigint, $4::text, 'queued', $5::integer, $5::integer, $6::text,
                       $7::double precision, $8::bigint, $9::text
                WHERE (SELECT COALESCE(SUM(cost), 0) FROM jobs
                       WHERE guild_id = $1 AND user_id = $3 AND day = $6) + $5 <= $10
                  AND (SELECT COUNT(*) FROM jobs
                       WHERE guild_id = $1 AND user_id = $3 AND state = ANY($11::text[])) < $12
                  AND ($13::integer IS NULL
                       OR (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = $1 AND day = $6) + $5 <= $13)
                  AND ($14::double precision <= 0 OR NOT EXISTS (
                       SELECT 1 FROM jobs WHERE guild_id = $1 AND user_id = $3 AND created_at > $7 - $14))
                RETURNING {_JOB_COLUMNS}
                """,
                guild_id, channel_id, user_id, request_to_json(request), cost, day, _ts(created_at),
                parent_job_id, parent_kind, daily_limit, list(ACTIVE_STATES), concurrent_limit,
                daily_budget, float(cooldown_s),
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
        provider slot across every worker. None when nothing is waiting or every slot is taken. Only each
        user's oldest waiting job can be next, so the ordering looks at one row per waiting user."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", CLAIM_LOCK)
            row = await conn.fetchrow(
                f"""
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

    # === policy, server settings and audit (issue 4), twins of Storage's section =====================

    async def guild_settings(self, guild_id: int) -> dict[str, Any]:
        """The server's own settings (daily_limit, concurrent_limit, daily_budget, cooldown_s); {} if none."""
        row = await self.pool.fetchrow(
            "SELECT daily_limit, concurrent_limit, daily_budget, cooldown_s FROM guild_settings WHERE guild_id = $1",
            guild_id,
        )
        return dict(row) if row else {}

    async def set_guild_settings(self, guild_id: int, **fields: Any) -> None:
        await self._upsert("guild_settings", {"guild_id": guild_id}, fields)

    async def role_limits(self, guild_id: int) -> dict[int, tuple[int | None, int | None]]:
        """role id → (daily, concurrent) for every role with a limit in this server."""
        rows = await self.pool.fetch(
            "SELECT role_id, daily_limit, concurrent_limit FROM role_limits WHERE guild_id = $1 ORDER BY role_id",
            guild_id,
        )
        return {int(r[0]): (r[1], r[2]) for r in rows}

    async def set_role_limits(self, guild_id: int, role_id: int, *, daily: int | None, concurrent: int | None) -> None:
        await self._upsert(
            "role_limits", {"guild_id": guild_id, "role_id": role_id}, {"daily_limit": daily, "concurrent_limit": concurrent}
        )

    async def clear_role_limits(self, guild_id: int, role_id: int) -> bool:
        sql = "DELETE FROM role_limits WHERE guild_id = $1 AND role_id = $2"
        return _count(await self.pool.execute(sql, guild_id, role_id)) == 1

    async def user_limits(self, guild_id: int, user_id: int | None = None) -> dict[int, dict[str, Any]]:
        """user id → {daily_limit, concurrent_limit, blocked} (one user, or everyone with an entry)."""
        rows = await self.pool.fetch(
            "SELECT user_id, daily_limit, concurrent_limit, blocked FROM user_limits WHERE guild_id = $1"
            " AND ($2::bigint IS NULL OR user_id = $2) ORDER BY user_id",
            guild_id, user_id,
        )  # fmt: skip
        return {int(r[0]): {"daily_limit": r[1], "concurrent_limit": r[2], "blocked": bool(r[3])} for r in rows}

    async def set_user_limits(self, guild_id: int, user_id: int, **fields: Any) -> None:
        """Set daily_limit / concurrent_limit / blocked for one user; fields not given keep their value."""
        await self._upsert("user_limits", {"guild_id": guild_id, "user_id": user_id}, fields)

    async def clear_user_limits(self, guild_id: int, user_id: int) -> None:
        """Drop the user's own limits (a block stays until unblocked)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE user_limits SET daily_limit = NULL, concurrent_limit = NULL WHERE guild_id = $1 AND user_id = $2",
                guild_id, user_id,
            )  # fmt: skip
            await conn.execute(
                "DELETE FROM user_limits WHERE guild_id = $1 AND user_id = $2 AND blocked = 0", guild_id, user_id
            )

    async def cost_weights(self, guild_id: int) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT option, weight FROM cost_weights WHERE guild_id = $1", guild_id)
        return {str(r[0]): int(r[1]) for r in rows}

    async def set_cost_weight(self, guild_id: int, option: str, weight: int) -> None:
        """A weight of 1 is the default and removes the entry."""
        if weight == 1:
            await self.pool.execute("DELETE FROM cost_weights WHERE guild_id = $1 AND option = $2", guild_id, option)
        else:
            await self._upsert("cost_weights", {"guild_id": guild_id, "option": option}, {"weight": weight})

    async def channel_rules(self, guild_id: int) -> dict[int, bool]:
        """channel id → True (allow list) / False (denied)."""
        rows = await self.pool.fetch(
            "SELECT channel_id, allowed FROM channel_rules WHERE guild_id = $1 ORDER BY channel_id", guild_id
        )
        return {int(r[0]): bool(r[1]) for r in rows}

    async def set_channel_rule(self, guild_id: int, channel_id: int, allowed: bool) -> None:
        await self._upsert("channel_rules", {"guild_id": guild_id, "channel_id": channel_id}, {"allowed": int(allowed)})

    async def remove_channel_rule(self, guild_id: int, channel_id: int) -> bool:
        sql = "DELETE FROM channel_rules WHERE guild_id = $1 AND channel_id = $2"
        return _count(await self.pool.execute(sql, guild_id, channel_id)) == 1

    async def blocklist(self, guild_id: int) -> list[tuple[str, bool]]:
        """(pattern, is_regex) in the order they were added."""
        rows = await self.pool.fetch("SELECT pattern, is_regex FROM blocklist WHERE guild_id = $1 ORDER BY id", guild_id)
        return [(str(r[0]), bool(r[1])) for r in rows]

    async def add_blocklist_entry(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, at: datetime) -> bool:
        """False when the same entry is already there."""
        status = await self.pool.execute(
            "INSERT INTO blocklist (guild_id, pattern, is_regex, added_by, added_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (guild_id, pattern, is_regex) DO NOTHING",
            guild_id, pattern, int(is_regex), added_by, _ts(at),
        )  # fmt: skip
        return _count(status) == 1

    async def remove_blocklist_entry(self, guild_id: int, pattern: str) -> int:
        sql = "DELETE FROM blocklist WHERE guild_id = $1 AND pattern = $2"
        return _count(await self.pool.execute(sql, guild_id, pattern))

    async def record_refusal(
        self, *, guild_id: int, channel_id: int, user_id: int, request: VideoRequest, reason: str, units: int, at: datetime
    ) -> None:
        """Audit a request refused before any job existed (accepted requests are audited by their job row)."""
        await self.pool.execute(
            "INSERT INTO refusals (guild_id, channel_id, user_id, request, reason, units, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            guild_id, channel_id, user_id, request_to_json(request), reason, units, _ts(at),
        )  # fmt: skip

    async def usage_counts(self, guild_id: int, user_id: int, day: str) -> dict[str, int]:
        """units (held today), videos (charged today), active (now), server_units (the server's today)."""
        row = await self.pool.fetchrow(
            """SELECT
                 (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND day = $3),
                 (SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND day = $3 AND cost > 0),
                 (SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND state = ANY($4::text[])),
                 (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = $1 AND day = $3)""",
            guild_id, user_id, day, list(ACTIVE_STATES),
        )  # fmt: skip
        return {"units": int(row[0]), "videos": int(row[1]), "active": int(row[2]), "server_units": int(row[3])}

    async def last_request_at(self, guild_id: int, user_id: int) -> datetime | None:
        """When the user's latest job in this server was requested (for the cooldown)."""
        value = await self.pool.fetchval(
            "SELECT MAX(created_at) FROM jobs WHERE guild_id = $1 AND user_id = $2", guild_id, user_id
        )
        return _dt(value)

    async def count_user_jobs(self, guild_id: int, user_id: int) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND user_id = $2"
        return int(await self.pool.fetchval(sql, guild_id, user_id))

    async def guild_stats(self, guild_id: int, since: datetime) -> dict[str, Any]:
        """Totals for the server since `since`, plus completed clips grouped by what they cost to make."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            totals = await conn.fetchrow(
                """SELECT COUNT(*), COUNT(DISTINCT user_id), COALESCE(SUM((state = 'completed')::int), 0),
                          COALESCE(SUM((state = 'failed')::int), 0), COALESCE(SUM((state = 'cancelled')::int), 0),
                          COALESCE(SUM(cost), 0)
                   FROM jobs WHERE guild_id = $1 AND created_at >= $2""",
                guild_id, _ts(since),
            )  # fmt: skip
            refused = await conn.fetchrow(
                "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM refusals WHERE guild_id = $1 AND created_at >= $2",
                guild_id, _ts(since),
            )  # fmt: skip
            groups = await conn.fetch(
                """SELECT provider, request::jsonb ->> 'model', request::jsonb ->> 'duration',
                          request::jsonb ->> 'resolution', COUNT(*), COALESCE(SUM((state = 'completed')::int), 0),
                          COALESCE(SUM((state = 'failed')::int), 0)
                   FROM jobs WHERE guild_id = $1 AND created_at >= $2 AND provider IS NOT NULL
                   GROUP BY 1, 2, 3, 4 ORDER BY 1, 2""",
                guild_id, _ts(since),
            )  # fmt: skip
        return {
            "jobs": int(totals[0]), "users": int(totals[1]), "completed": int(totals[2]), "failed": int(totals[3]),
            "cancelled": int(totals[4]), "units": int(totals[5]), "refused": int(refused[0]),
            "refused_users": int(refused[1]),
            "groups": [
                {"provider": g[0], "model": g[1], "duration": g[2] or "5s", "resolution": g[3] or "720p",
                 "jobs": int(g[4]), "completed": int(g[5]), "failed": int(g[6])}
                for g in groups
            ],
        }  # fmt: skip

    async def audit_log(self, guild_id: int, *, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Every request (accepted jobs and refusals), newest first: who, where, prompt, options, provider,
        outcome, units, duration."""
        rows = await self.pool.fetch(
            "SELECT * FROM audit_log WHERE guild_id = $1 AND created_at >= $2 ORDER BY created_at DESC, ref DESC LIMIT $3",
            guild_id, _ts(since) if since else 0.0, limit,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def forget_user(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """Delete a user's finished jobs and refusals in one server; returns (jobs, refusals) deleted.
        Active jobs are left for the caller to cancel first; a block or limit override stays."""
        async with self.pool.acquire() as conn, conn.transaction():
            refusals = _count(await conn.execute(
                "DELETE FROM refusals WHERE guild_id = $1 AND user_id = $2", guild_id, user_id
            ))  # fmt: skip
            jobs = _count(await conn.execute(
                "DELETE FROM jobs WHERE guild_id = $1 AND user_id = $2 AND NOT (state = ANY($3::text[]))",
                guild_id, user_id, list(ACTIVE_STATES),
            ))  # fmt: skip
        return jobs, refusals

    async def _upsert(self, table: str, keys: dict[str, Any], fields: dict[str, Any]) -> None:
        """INSERT … ON CONFLICT DO UPDATE of `fields` only (one statement; other columns keep their value)."""
        if table not in _POLICY_COLUMNS or not fields or not set(fields) <= _POLICY_COLUMNS[table]:
            raise ValueError(f"cannot set {sorted(fields)} in {table}")
        columns = [*keys, *fields]
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields)
        await self.pool.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
            *keys.values(), *fields.values(),
        )  # fmt: skip

    async def policy_snapshot(self, guild_id: int, user_id: int) -> dict[str, Any]:
        """Everything the policy needs for one request, in one read (see Storage.policy_snapshot)."""
        row = await self.pool.fetchrow(
            """SELECT
                 (SELECT row_to_json(s) FROM (SELECT daily_limit, concurrent_limit, daily_budget, cooldown_s
                    FROM guild_settings WHERE guild_id = $1) s)::text,
                 (SELECT json_agg(json_build_array(role_id, daily_limit, concurrent_limit))
                    FROM role_limits WHERE guild_id = $1)::text,
                 (SELECT row_to_json(u) FROM (SELECT daily_limit, concurrent_limit, blocked
                    FROM user_limits WHERE guild_id = $1 AND user_id = $2) u)::text,
                 (SELECT json_object_agg(option, weight) FROM cost_weights WHERE guild_id = $1)::text,
                 (SELECT json_agg(json_build_array(channel_id, allowed)) FROM channel_rules WHERE guild_id = $1)::text,
                 (SELECT json_agg(json_build_array(pattern, is_regex) ORDER BY id)
                    FROM blocklist WHERE guild_id = $1)::text""",
            guild_id, user_id,
        )  # fmt: skip
        return policy_snapshot_from_json(tuple(row))

    # === end of policy section ========================================================================


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
