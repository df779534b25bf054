"""Jobs, quota reservations and the shared queue's leases: the queries the runner and /video use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import Job, JobState, VideoRequest
from bot.storage.base import StorageBase
from bot.storage.rows import (
    ACTIVE_STATES,
    HOLDING_SLOT,
    IN_FLIGHT_STATES,
    JOB_COLUMNS,
    LEASABLE_STATES,
    LEASED_STATES,
    QueueView,
    assignments,
    job_from_row,
    marks,
    request_to_json,
    ts,
)

# Locks held by statements that must not interleave across processes (PostgreSQL advisory locks; SQLite's
# one writer needs none). Reservations of one user wait on each other; with a server budget, the server's.
CLAIM_LOCK = "reelbot:claim"


def quota_lock_key(guild_id: int, user_id: int) -> str:
    return f"reelbot:quota:{guild_id}:{user_id}"


def budget_lock_key(guild_id: int) -> str:
    """Taken before a user's quota lock when the server has a daily budget (always in that order)."""
    return f"reelbot:budget:{guild_id}"


_ACTIVE = f"state IN ({marks(ACTIVE_STATES)})"
_RESERVE = f"""
    INSERT INTO jobs (guild_id, channel_id, user_id, request, state, cost, units, day, created_at,
                      parent_job_id, parent_kind)
    SELECT ?::bigint, ?::bigint, ?::bigint, ?::text, 'queued', ?::integer, ?::integer, ?::text,
           ?::double precision, ?::bigint, ?::text
    WHERE (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?) + ? <= ?
      AND (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND {_ACTIVE}) < ?"""
_BUDGET = " AND (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND day = ?) + ? <= ?"
_COOLDOWN = " AND NOT EXISTS (SELECT 1 FROM jobs WHERE guild_id = ? AND user_id = ? AND created_at > ?)"
_RESERVE_SQL = {
    (budget, cooldown): f"{_RESERVE}{_BUDGET if budget else ''}{_COOLDOWN if cooldown else ''}\n    RETURNING {JOB_COLUMNS}"
    for budget in (False, True)
    for cooldown in (False, True)
}


class JobQueries(StorageBase):
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
        budget, and the user's last request is older than the cooldown): one atomic statement, so two
        commands at the same instant cannot both take the last slot (across processes on PostgreSQL: the
        (guild, user) lock serialises one user's reservations; with a budget, a (guild) lock taken first
        serialises the server's). None when a limit is reached."""
        created = ts(created_at)
        assert created is not None
        args: list[Any] = [
            guild_id, channel_id, user_id, request_to_json(request), cost, cost, day, created,
            parent_job_id, parent_kind,
            guild_id, user_id, day, cost, daily_limit,
            guild_id, user_id, *ACTIVE_STATES, concurrent_limit,
        ]  # fmt: skip
        locks = [quota_lock_key(guild_id, user_id)]
        if daily_budget is not None:  # the whole server's units today, capped in the same statement
            args += (guild_id, day, cost, daily_budget)
            locks.insert(0, budget_lock_key(guild_id))
        if cooldown_s > 0:
            args += (guild_id, user_id, created - cooldown_s)
        sql = _RESERVE_SQL[daily_budget is not None, cooldown_s > 0]
        async with self._transaction(*locks) as session:
            row = await session.one(sql, args)
        return job_from_row(row) if row else None

    async def usage(self, guild_id: int, user_id: int, day: str) -> tuple[int, int]:
        """(quota units used on `day`, jobs active now) for one user in one server."""
        row = await self._one(
            f"""SELECT
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND {_ACTIVE})""",
            (guild_id, user_id, day, guild_id, user_id, *ACTIVE_STATES),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def refund(self, job_id: int) -> bool:
        """Give the job's quota back; true only the first time (a refund never happens twice)."""
        return await self._run("UPDATE jobs SET cost = 0 WHERE id = ? AND cost > 0", (job_id,)) == 1

    async def get_job(self, job_id: int) -> Job | None:
        row = await self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(row) if row else None

    async def jobs_in_states(self, states: tuple[JobState, ...]) -> list[Job]:
        rows = await self._all(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({marks(states)}) ORDER BY id",
            tuple(s.value for s in states),
        )
        return [job_from_row(r) for r in rows]

    async def user_jobs(self, guild_id: int, user_id: int, *, limit: int = 10, offset: int = 0) -> list[Job]:
        rows = await self._all(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, user_id, limit, offset),
        )
        return [job_from_row(r) for r in rows]

    async def provider_job_ids(self, provider: str, *, since: datetime) -> set[str]:
        """The generation ids jobs already own at `provider`, of jobs started (or created) since `since`."""
        rows = await self._all(
            "SELECT provider_job_id FROM jobs WHERE provider = ? AND provider_job_id IS NOT NULL "
            "AND COALESCE(started_at, created_at) >= ?",
            (provider, ts(since)),
        )
        return {str(r[0]) for r in rows}

    async def count_in_flight(self) -> int:
        row = await self._one(f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks(IN_FLIGHT_STATES)})", IN_FLIGHT_STATES)
        assert row is not None
        return int(row[0])

    async def transition(
        self, job_id: int, from_states: tuple[JobState, ...], to: JobState, *, held_by: str | None = None, **fields: Any
    ) -> bool:
        """Compare-and-set: move the job to `to` only if it is in one of `from_states` (and, with `held_by`,
        only while that worker holds its lease: a worker whose job was taken over changes nothing)."""
        sets, values = assignments(fields)
        fence = "" if held_by is None else " AND owner = ?"
        changed = await self._run(
            f"UPDATE jobs SET state = ?{sets} WHERE id = ? AND state IN ({marks(from_states)}){fence}",
            (to.value, *values, job_id, *(s.value for s in from_states), *(() if held_by is None else (held_by,))),
        )
        return changed == 1

    async def update_job(self, job_id: int, **fields: Any) -> None:
        sets, values = assignments(fields)
        if sets:
            await self._run(f"UPDATE jobs SET {sets[2:]} WHERE id = ?", (*values, job_id))

    # --- workers sharing the queue (leases) ----------------------------------------------------------

    async def claim_next_job(self, worker_id: str, *, max_active: int, lease_until: datetime) -> Job | None:
        """Give `worker_id` the next queued job, round-robin by user (fewest jobs holding a slot, then the
        longest since their last claim, then the oldest job), only while fewer than `max_active` jobs hold a
        provider slot across every worker. None when nothing is waiting or every slot is taken. Only each
        user's oldest waiting job can be next, so the ordering looks at one row per waiting user."""
        async with self._transaction(CLAIM_LOCK) as session:
            row = await session.one(self.dialect.claim_sql, (worker_id, ts(lease_until), max_active))
        return job_from_row(row) if row else None

    async def renew_leases(self, worker_id: str, job_ids: list[int], lease_until: datetime) -> set[int]:
        """Extend `worker_id`'s leases on `job_ids`; returns the ids it still holds (a job that was taken
        over, cancelled or finished is not renewed, and its task should stop)."""
        if not job_ids:
            return set()
        rows = await self._all(
            f"""UPDATE jobs SET lease_until = ? WHERE owner = ? AND id IN ({marks(job_ids)})
                AND state IN ({marks(LEASABLE_STATES)}) RETURNING id""",
            (ts(lease_until), worker_id, *job_ids, *LEASABLE_STATES),
        )
        return {int(r[0]) for r in rows}

    async def take_over_expired(self, worker_id: str, *, now: datetime, lease_until: datetime) -> list[Job]:
        """Jobs whose worker stopped renewing: claimed-but-unstarted ones go back to the queue; started ones
        (submitting, running, delivering) become `worker_id`'s, each taken by exactly one worker."""
        async with self._transaction() as session:
            await session.run(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE state = 'queued' AND owner IS NOT NULL "
                "AND lease_until < ?",
                (ts(now),),
            )
            rows = await session.all(
                f"""UPDATE jobs SET owner = ?, lease_until = ?
                    WHERE state IN ({marks(LEASED_STATES)}) AND (owner IS NULL OR lease_until IS NULL OR lease_until < ?)
                    RETURNING {JOB_COLUMNS}""",
                (worker_id, ts(lease_until), *LEASED_STATES, ts(now)),
            )
        return sorted((job_from_row(r) for r in rows), key=lambda job: job.id)

    async def release_leases(self, worker_id: str) -> int:
        """Give up every lease of `worker_id` (a clean shutdown): others take the jobs over at once."""
        return await self._run(
            f"UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = ? AND state IN ({marks(LEASABLE_STATES)})",
            (worker_id, *LEASABLE_STATES),
        )

    async def queue_view(self) -> QueueView:
        """The shared queue, to number waiting jobs in the order claims will take them."""
        async with self._transaction(snapshot=True) as session:
            rows = await session.all(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' AND owner IS NULL ORDER BY id")
            holding = await session.all(f"SELECT user_id, COUNT(*) FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id")
            last = await session.all(
                """SELECT q.user_id, (SELECT MAX(l.claim_seq) FROM jobs l WHERE l.user_id = q.user_id)
                   FROM (SELECT DISTINCT user_id FROM jobs WHERE state = 'queued' AND owner IS NULL) q"""
            )
        return QueueView(
            jobs=[job_from_row(r) for r in rows],
            holding={int(r[0]): int(r[1]) for r in holding},
            last_claim={int(r[0]): int(r[1]) for r in last if r[1] is not None},
        )

    async def recent_durations(self, provider: str, model: str | None, limit: int = 20) -> list[float]:
        """Seconds from start to finish of recent successful jobs (for an honest ETA)."""
        rows = await self._all(
            f"""SELECT finished_at - started_at FROM jobs
                WHERE state = 'completed' AND provider = ? AND started_at IS NOT NULL
                  AND finished_at IS NOT NULL AND (?::text IS NULL OR {self.dialect.json_text("request", "model")} = ?)
                ORDER BY id DESC LIMIT ?""",
            (provider, model, model, limit),
        )
        return [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0]
