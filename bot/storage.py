"""Storage speaks SQL (with its PostgreSQL twin, bot/storage_pg.py; nothing else does). SQLite through
aiosqlite (WAL); numbered migrations; every quota-relevant change is one atomic statement.
`open_storage(database_url)` picks the backend: SQLite by default, PostgreSQL for several processes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain import Job, JobState, VideoRequest

log = logging.getLogger(__name__)

ACTIVE_STATES = tuple(s.value for s in JobState if s.active)
IN_FLIGHT_STATES = (JobState.SUBMITTING.value, JobState.RUNNING.value)
# States whose worker holds a lease: the job's task lives in exactly one process.
LEASED_STATES = (JobState.SUBMITTING.value, JobState.RUNNING.value, JobState.DELIVERING.value)
LEASABLE_STATES = (JobState.QUEUED.value, *LEASED_STATES)  # a claimed job is leased before it starts
# A job holds a provider slot (counts against MAX_ACTIVE_JOBS) from its claim until it leaves RUNNING.
HOLDING_SLOT = "(state IN ('submitting', 'running') OR (state = 'queued' AND owner IS NOT NULL))"

_JOB_COLUMNS = (
    "id, guild_id, channel_id, user_id, request, state, cost, created_at, started_at, finished_at, "
    "provider, provider_job_id, status_message_id, result_message_id, video_url, failure_reason, "
    "parent_job_id, parent_kind"
)
_UPDATABLE = frozenset(
    {
        "started_at",
        "finished_at",
        "provider",
        "provider_job_id",
        "status_message_id",
        "result_message_id",
        "video_url",
        "failure_reason",
        "channel_id",
    }
)


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def request_to_json(request: VideoRequest) -> str:
    return json.dumps({k: v for k, v in asdict(request).items() if v not in (None, False)})


def request_from_json(text: str) -> VideoRequest:
    data = json.loads(text)
    known = VideoRequest.__dataclass_fields__
    return VideoRequest(**{k: v for k, v in data.items() if k in known})


def _job(row: aiosqlite.Row) -> Job:
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        request=request_from_json(row["request"]),
        state=JobState(row["state"]),
        cost=row["cost"],
        created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
        started_at=_dt(row["started_at"]),
        finished_at=_dt(row["finished_at"]),
        provider=row["provider"],
        provider_job_id=row["provider_job_id"],
        status_message_id=row["status_message_id"],
        result_message_id=row["result_message_id"],
        video_url=row["video_url"],
        failure_reason=row["failure_reason"],
        parent_job_id=row["parent_job_id"],
        parent_kind=row["parent_kind"],
    )


@dataclass(frozen=True, slots=True)
class QueueView:
    """The shared queue as the database sees it: unclaimed queued jobs (oldest first) and, per user, the
    jobs holding a provider slot and the sequence number of their last claim (for round-robin turns)."""

    jobs: list[Job] = field(default_factory=list)
    holding: dict[int, int] = field(default_factory=dict)
    last_claim: dict[int, int] = field(default_factory=dict)


def migration_scripts(dialect: str = "sqlite") -> list[tuple[int, str]]:
    """(number, script) of every migration of `dialect` ("sqlite": migrations/, "postgres": migrations/postgres/)."""
    folder = resources.files("bot") / "migrations"
    if dialect != "sqlite":
        folder = folder / dialect
    scripts = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), entry.read_text()))
    numbers = [number for number, _ in scripts]
    if len(numbers) != len(set(numbers)):
        # Two files with one number: the second would be skipped silently on every database.
        raise RuntimeError(f"duplicate {dialect} migration numbers: {sorted(numbers)}")
    return sorted(scripts)


class Storage:
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
            await self._run("PRAGMA busy_timeout=5000")
            await self._enable_wal()
            for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
                await self._run(f"PRAGMA {pragma}")
            await self.migrate()
        except BaseException:
            await self.close()  # an open connection's thread would keep the process from exiting
            raise

    async def _enable_wal(self, attempts: int = 50) -> None:
        """Switch to WAL. SQLite answers "database is locked" at once, without waiting out busy_timeout, when
        another process is switching the same new file at that moment: try again for a few seconds."""
        for attempt in range(attempts):
            try:
                await self._run("PRAGMA journal_mode=WAL")
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
        version = (await self._one("PRAGMA user_version"))[0]
        for number, script in migration_scripts():
            if number <= version:
                continue
            await self._run("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the write lock: read again inside it.
                version = (await self._one("PRAGMA user_version"))[0]
                if number <= version:
                    await self._run("COMMIT")
                    continue
                for statement in _split_sql(script):
                    await self._run(statement)
                await self._run(f"PRAGMA user_version = {int(number)}")
                await self._run("COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise
            log.info("database migrated to version %d", number)
            version = number
        return version

    async def writable(self) -> bool:
        try:
            await self._run("CREATE TEMP TABLE IF NOT EXISTS _probe (x)")
            return True
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
        budget, and the user's last request is older than the cooldown): one atomic statement, so two
        commands at the same instant cannot both take the last slot. None when a limit is reached."""
        budget_sql, budget_args = "", ()
        if daily_budget is not None:  # the whole server's units today, capped in the same statement
            budget_sql = "AND (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND day = ?) + ? <= ?"
            budget_args = (guild_id, day, cost, daily_budget)
        cooldown_sql, cooldown_args = "", ()
        if cooldown_s > 0:
            cooldown_sql = "AND NOT EXISTS (SELECT 1 FROM jobs WHERE guild_id = ? AND user_id = ? AND created_at > ?)"
            cooldown_args = (guild_id, user_id, _ts(created_at) - cooldown_s)  # type: ignore[operator]
        # One hop to aiosqlite's thread that runs, reads and finishes the statement: no cursor stays open
        # across awaits (an open INSERT … RETURNING keeps its write unfinished while others queue behind it).
        rows = await self.db.execute_fetchall(
            f"""
            INSERT INTO jobs (guild_id, channel_id, user_id, request, state, cost, units, day, created_at,
                              parent_job_id, parent_kind)
            SELECT ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?
            WHERE (SELECT COALESCE(SUM(cost), 0) FROM jobs
                   WHERE guild_id = ? AND user_id = ? AND day = ?) + ? <= ?
              AND (SELECT COUNT(*) FROM jobs
                   WHERE guild_id = ? AND user_id = ? AND state IN ({_marks(ACTIVE_STATES)})) < ?
              {budget_sql}
              {cooldown_sql}
            RETURNING {_JOB_COLUMNS}
            """,
            (
                guild_id, channel_id, user_id, request_to_json(request), cost, cost, day, _ts(created_at),
                parent_job_id, parent_kind,
                guild_id, user_id, day, cost, daily_limit,
                guild_id, user_id, *ACTIVE_STATES, concurrent_limit,
                *budget_args, *cooldown_args,
            ),
        )  # fmt: skip
        return _job(next(iter(rows))) if rows else None

    async def usage(self, guild_id: int, user_id: int, day: str) -> tuple[int, int]:
        """(quota units used on `day`, jobs active now) for one user in one server."""
        row = await self._one(
            f"""SELECT
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ?
                     AND state IN ({_marks(ACTIVE_STATES)}))""",
            (guild_id, user_id, day, guild_id, user_id, *ACTIVE_STATES),
        )
        return int(row[0]), int(row[1])

    async def refund(self, job_id: int) -> bool:
        """Give the job's quota back; true only the first time (a refund never happens twice)."""
        return await self._run("UPDATE jobs SET cost = 0 WHERE id = ? AND cost > 0", (job_id,)) == 1

    async def get_job(self, job_id: int) -> Job | None:
        row = await self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def jobs_in_states(self, states: tuple[JobState, ...]) -> list[Job]:
        rows = await self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state IN ({_marks(states)}) ORDER BY id",
            tuple(s.value for s in states),
        )
        return [_job(r) for r in rows]

    async def user_jobs(self, guild_id: int, user_id: int, *, limit: int = 10, offset: int = 0) -> list[Job]:
        rows = await self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, user_id, limit, offset),
        )
        return [_job(r) for r in rows]

    async def count_in_flight(self) -> int:
        row = await self._one(
            f"SELECT COUNT(*) FROM jobs WHERE state IN ({_marks(IN_FLIGHT_STATES)})", IN_FLIGHT_STATES
        )
        return int(row[0])

    async def transition(
        self, job_id: int, from_states: tuple[JobState, ...], to: JobState, *, held_by: str | None = None, **fields: Any
    ) -> bool:
        """Compare-and-set: move the job to `to` only if it is in one of `from_states` (and, with `held_by`,
        only while that worker holds its lease: a worker whose job was taken over changes nothing)."""
        assignments, values = _assignments(fields)
        fence = "" if held_by is None else " AND owner = ?"
        changed = await self._run(
            f"UPDATE jobs SET state = ?{assignments} WHERE id = ? AND state IN ({_marks(from_states)}){fence}",
            (to.value, *values, job_id, *(s.value for s in from_states), *(() if held_by is None else (held_by,))),
        )
        return changed == 1

    async def update_job(self, job_id: int, **fields: Any) -> None:
        assignments, values = _assignments(fields)
        if assignments:
            await self._run(f"UPDATE jobs SET {assignments[2:]} WHERE id = ?", (*values, job_id))

    # --- workers sharing the queue (leases) ----------------------------------------------------------
    # SQLite runs one writer at a time, so each of these single statements is atomic on its own.

    async def claim_next_job(self, worker_id: str, *, max_active: int, lease_until: datetime) -> Job | None:
        """Give `worker_id` the next queued job, round-robin by user (fewest jobs holding a slot, then the
        longest since their last claim, then the oldest job), only while fewer than `max_active` jobs hold a
        provider slot across every worker. None when nothing is waiting or every slot is taken. Only each
        user's oldest waiting job can be next, so the ordering looks at one row per waiting user."""
        row = await self._one(
            f"""UPDATE jobs SET owner = ?, lease_until = ?,
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
                RETURNING {_JOB_COLUMNS}""",
            (worker_id, _ts(lease_until), max_active),
        )
        return _job(row) if row else None

    async def renew_leases(self, worker_id: str, job_ids: list[int], lease_until: datetime) -> set[int]:
        """Extend `worker_id`'s leases on `job_ids`; returns the ids it still holds (a job that was taken
        over, cancelled or finished is not renewed, and its task should stop)."""
        if not job_ids:
            return set()
        rows = await self._all(
            f"""UPDATE jobs SET lease_until = ? WHERE owner = ? AND id IN ({_marks(tuple(job_ids))})
                AND state IN ({_marks(LEASABLE_STATES)}) RETURNING id""",
            (_ts(lease_until), worker_id, *job_ids, *LEASABLE_STATES),
        )
        return {int(r[0]) for r in rows}

    async def take_over_expired(self, worker_id: str, *, now: datetime, lease_until: datetime) -> list[Job]:
        """Jobs whose worker stopped renewing: claimed-but-unstarted ones go back to the queue; started ones
        (submitting, running, delivering) become `worker_id`'s, each taken by exactly one worker."""
        await self._run(
            "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE state = 'queued' AND owner IS NOT NULL "
            "AND lease_until < ?",
            (_ts(now),),
        )
        rows = await self._all(
            f"""UPDATE jobs SET owner = ?, lease_until = ?
                WHERE state IN ({_marks(LEASED_STATES)}) AND (owner IS NULL OR lease_until IS NULL OR lease_until < ?)
                RETURNING {_JOB_COLUMNS}""",
            (worker_id, _ts(lease_until), *LEASED_STATES, _ts(now)),
        )
        return sorted((_job(r) for r in rows), key=lambda job: job.id)

    async def release_leases(self, worker_id: str) -> int:
        """Give up every lease of `worker_id` (a clean shutdown): others take the jobs over at once."""
        return await self._run(
            f"UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = ? AND state IN ({_marks(LEASABLE_STATES)})",
            (worker_id, *LEASABLE_STATES),
        )

    async def queue_view(self) -> QueueView:
        """The shared queue, to number waiting jobs in the order claims will take them."""
        rows = await self._all(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'queued' AND owner IS NULL ORDER BY id"
        )
        holding = await self._all(f"SELECT user_id, COUNT(*) FROM jobs WHERE {HOLDING_SLOT} GROUP BY user_id")
        last = await self._all(
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
        rows = await self._all(
            """SELECT finished_at - started_at FROM jobs
               WHERE state = 'completed' AND provider = ? AND started_at IS NOT NULL
                 AND finished_at IS NOT NULL AND (? IS NULL OR json_extract(request, '$.model') = ?)
               ORDER BY id DESC LIMIT ?""",
            (provider, model, model, limit),
        )
        return [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0]

    # === policy, server settings and audit (issue 4: /quota, /history, /job, /videoadmin) ============
    # Settings are read on every request, so an admin's change applies at once. Each write is one
    # statement; None clears a setting (back to the level below it).

    async def guild_settings(self, guild_id: int) -> dict[str, Any]:
        """The server's own settings (daily_limit, concurrent_limit, daily_budget, cooldown_s); {} if none."""
        row = await self._one(
            "SELECT daily_limit, concurrent_limit, daily_budget, cooldown_s FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return dict(row) if row else {}

    async def set_guild_settings(self, guild_id: int, **fields: Any) -> None:
        await self._upsert("guild_settings", {"guild_id": guild_id}, fields)

    async def role_limits(self, guild_id: int) -> dict[int, tuple[int | None, int | None]]:
        """role id → (daily, concurrent) for every role with a limit in this server."""
        rows = await self._all(
            "SELECT role_id, daily_limit, concurrent_limit FROM role_limits WHERE guild_id = ? ORDER BY role_id",
            (guild_id,),
        )
        return {int(r[0]): (r[1], r[2]) for r in rows}

    async def set_role_limits(self, guild_id: int, role_id: int, *, daily: int | None, concurrent: int | None) -> None:
        await self._upsert(
            "role_limits", {"guild_id": guild_id, "role_id": role_id}, {"daily_limit": daily, "concurrent_limit": concurrent}
        )

    async def clear_role_limits(self, guild_id: int, role_id: int) -> bool:
        return await self._run("DELETE FROM role_limits WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)) == 1

    async def user_limits(self, guild_id: int, user_id: int | None = None) -> dict[int, dict[str, Any]]:
        """user id → {daily_limit, concurrent_limit, blocked} (one user, or everyone with an entry)."""
        rows = await self._all(
            "SELECT user_id, daily_limit, concurrent_limit, blocked FROM user_limits WHERE guild_id = ?"
            " AND (? IS NULL OR user_id = ?) ORDER BY user_id",
            (guild_id, user_id, user_id),
        )
        return {int(r[0]): {"daily_limit": r[1], "concurrent_limit": r[2], "blocked": bool(r[3])} for r in rows}

    async def set_user_limits(self, guild_id: int, user_id: int, **fields: Any) -> None:
        """Set daily_limit / concurrent_limit / blocked for one user; fields not given keep their value."""
        await self._upsert("user_limits", {"guild_id": guild_id, "user_id": user_id}, fields)

    async def clear_user_limits(self, guild_id: int, user_id: int) -> None:
        """Drop the user's own limits (a block stays until unblocked)."""
        await self._run(
            "UPDATE user_limits SET daily_limit = NULL, concurrent_limit = NULL WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        await self._run("DELETE FROM user_limits WHERE guild_id = ? AND user_id = ? AND blocked = 0", (guild_id, user_id))

    async def cost_weights(self, guild_id: int) -> dict[str, int]:
        rows = await self._all("SELECT option, weight FROM cost_weights WHERE guild_id = ?", (guild_id,))
        return {str(r[0]): int(r[1]) for r in rows}

    async def set_cost_weight(self, guild_id: int, option: str, weight: int) -> None:
        """A weight of 1 is the default and removes the entry."""
        if weight == 1:
            await self._run("DELETE FROM cost_weights WHERE guild_id = ? AND option = ?", (guild_id, option))
        else:
            await self._upsert("cost_weights", {"guild_id": guild_id, "option": option}, {"weight": weight})

    async def channel_rules(self, guild_id: int) -> dict[int, bool]:
        """channel id → True (allow list) / False (denied)."""
        rows = await self._all("SELECT channel_id, allowed FROM channel_rules WHERE guild_id = ? ORDER BY channel_id",
                               (guild_id,))  # fmt: skip
        return {int(r[0]): bool(r[1]) for r in rows}

    async def set_channel_rule(self, guild_id: int, channel_id: int, allowed: bool) -> None:
        await self._upsert("channel_rules", {"guild_id": guild_id, "channel_id": channel_id}, {"allowed": int(allowed)})

    async def remove_channel_rule(self, guild_id: int, channel_id: int) -> bool:
        return await self._run(
            "DELETE FROM channel_rules WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        ) == 1

    async def blocklist(self, guild_id: int) -> list[tuple[str, bool]]:
        """(pattern, is_regex) in the order they were added."""
        rows = await self._all("SELECT pattern, is_regex FROM blocklist WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [(str(r[0]), bool(r[1])) for r in rows]

    async def add_blocklist_entry(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, at: datetime) -> bool:
        """False when the same entry is already there."""
        return await self._run(
            "INSERT INTO blocklist (guild_id, pattern, is_regex, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id, pattern, is_regex) DO NOTHING",
            (guild_id, pattern, int(is_regex), added_by, _ts(at)),
        ) == 1

    async def remove_blocklist_entry(self, guild_id: int, pattern: str) -> int:
        return await self._run("DELETE FROM blocklist WHERE guild_id = ? AND pattern = ?", (guild_id, pattern))

    async def record_refusal(
        self, *, guild_id: int, channel_id: int, user_id: int, request: VideoRequest, reason: str, units: int, at: datetime
    ) -> None:
        """Audit a request refused before any job existed (accepted requests are audited by their job row)."""
        await self._run(
            "INSERT INTO refusals (guild_id, channel_id, user_id, request, reason, units, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (guild_id, channel_id, user_id, request_to_json(request), reason, units, _ts(at)),
        )

    async def usage_counts(self, guild_id: int, user_id: int, day: str) -> dict[str, int]:
        """units (held today), videos (charged today), active (now), server_units (the server's today)."""
        row = await self._one(
            f"""SELECT
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ? AND cost > 0),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ?
                     AND state IN ({_marks(ACTIVE_STATES)})),
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND day = ?)""",
            (guild_id, user_id, day, guild_id, user_id, day, guild_id, user_id, *ACTIVE_STATES, guild_id, day),
        )
        assert row is not None
        return {"units": int(row[0]), "videos": int(row[1]), "active": int(row[2]), "server_units": int(row[3])}

    async def last_request_at(self, guild_id: int, user_id: int) -> datetime | None:
        """When the user's latest job in this server was requested (for the cooldown)."""
        row = await self._one("SELECT MAX(created_at) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return _dt(row[0]) if row else None

    async def count_user_jobs(self, guild_id: int, user_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return int(row[0]) if row else 0

    async def guild_stats(self, guild_id: int, since: datetime) -> dict[str, Any]:
        """Totals for the server since `since`, plus completed clips grouped by what they cost to make."""
        totals = await self._one(
            """SELECT COUNT(*), COUNT(DISTINCT user_id),
                      COALESCE(SUM(state = 'completed'), 0), COALESCE(SUM(state = 'failed'), 0),
                      COALESCE(SUM(state = 'cancelled'), 0), COALESCE(SUM(cost), 0)
               FROM jobs WHERE guild_id = ? AND created_at >= ?""",
            (guild_id, _ts(since)),
        )
        refused = await self._one(
            "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM refusals WHERE guild_id = ? AND created_at >= ?",
            (guild_id, _ts(since)),
        )
        groups = await self._all(
            """SELECT provider, json_extract(request, '$.model'), json_extract(request, '$.duration'),
                      json_extract(request, '$.resolution'), COUNT(*), COALESCE(SUM(state = 'completed'), 0),
                      COALESCE(SUM(state = 'failed'), 0)
               FROM jobs WHERE guild_id = ? AND created_at >= ? AND provider IS NOT NULL
               GROUP BY 1, 2, 3, 4 ORDER BY 1, 2""",
            (guild_id, _ts(since)),
        )
        assert totals is not None and refused is not None
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
        rows = await self._all(
            "SELECT * FROM audit_log WHERE guild_id = ? AND created_at >= ? ORDER BY created_at DESC, ref DESC LIMIT ?",
            (guild_id, _ts(since) if since else 0.0, limit),
        )
        return [dict(r) for r in rows]

    async def forget_user(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """Delete a user's finished jobs and refusals in one server; returns (jobs, refusals) deleted.
        Active jobs are left for the caller to cancel first; a block or limit override stays."""
        refusals = await self._run("DELETE FROM refusals WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        jobs = await self._run(
            f"DELETE FROM jobs WHERE guild_id = ? AND user_id = ? AND state NOT IN ({_marks(ACTIVE_STATES)})",
            (guild_id, user_id, *ACTIVE_STATES),
        )
        return jobs, refusals

    async def _upsert(self, table: str, keys: dict[str, Any], fields: dict[str, Any]) -> None:
        """INSERT … ON CONFLICT DO UPDATE of `fields` only (one statement; other columns keep their value)."""
        if table not in _POLICY_COLUMNS or not fields or not set(fields) <= _POLICY_COLUMNS[table]:
            raise ValueError(f"cannot set {sorted(fields)} in {table}")
        columns = [*keys, *fields]
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields)
        await self._run(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(tuple(columns))})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
            (*keys.values(), *fields.values()),
        )

    async def policy_snapshot(self, guild_id: int, user_id: int) -> dict[str, Any]:
        """Everything the policy needs for one request, in one read: the server's settings, role limits, the
        user's own limits, cost weights, channel rules and blocklist (see `policy_snapshot_from_json`)."""
        row = await self._one(
            """SELECT
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
                    FROM (SELECT pattern, is_regex FROM blocklist WHERE guild_id = ?1 ORDER BY id))""",
            (guild_id, user_id),
        )
        assert row is not None
        return policy_snapshot_from_json(tuple(row))

    # === end of policy section ========================================================================

    # --- helpers --------------------------------------------------------------------------------

    async def _run(self, sql: str, params: tuple | list = ()) -> int:
        """Execute one statement and close its cursor; returns the affected row count."""
        async with self.db.execute(sql, params) as cursor:
            return cursor.rowcount

    # One trip to aiosqlite's single worker thread per query (not execute + fetch + close): in a burst
    # every trip queues behind every other command's, so trips, not SQL, set the acknowledgement time.
    async def _one(self, sql: str, params: tuple = ()) -> aiosqlite.Row | None:
        rows = await self.db.execute_fetchall(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: tuple = ()) -> list[aiosqlite.Row]:
        return list(await self.db.execute_fetchall(sql, params))


def is_postgres_url(database_url: str) -> bool:
    return database_url.startswith(("postgresql://", "postgres://"))


async def open_storage(database_url: str) -> Storage:
    """Open (and migrate) the database `database_url` names: `sqlite:///path` or `postgresql://…`."""
    if is_postgres_url(database_url):
        from bot.storage_pg import PostgresStorage  # asyncpg is only needed for PostgreSQL

        storage: Storage = PostgresStorage(database_url)  # type: ignore[assignment]  # the same public methods
    else:
        path = database_url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if path == database_url:
            raise ValueError(f"not a sqlite:/// or postgresql:// URL: {database_url.split(':')[0]}")
        storage = Storage(path)
    await storage.open()
    return storage


# Columns the policy section may set, per table (issue 4).
_POLICY_COLUMNS = {
    "guild_settings": frozenset({"daily_limit", "concurrent_limit", "daily_budget", "cooldown_s"}),
    "role_limits": frozenset({"daily_limit", "concurrent_limit"}),
    "user_limits": frozenset({"daily_limit", "concurrent_limit", "blocked"}),
    "cost_weights": frozenset({"weight"}),
    "channel_rules": frozenset({"allowed"}),
}


def policy_snapshot_from_json(values: tuple) -> dict[str, Any]:
    """The six JSON columns of a policy snapshot (SQLite or PostgreSQL) as plain Python values."""
    settings, roles, user, weights, channels, blocklist = (json.loads(v) if v else None for v in values)
    return {
        "settings": settings or {},
        "roles": {int(r[0]): (r[1], r[2]) for r in roles or ()},
        "user": None if user is None else {**user, "blocked": bool(user["blocked"])},
        "weights": {str(k): int(v) for k, v in (weights or {}).items()},
        "channels": {int(c[0]): bool(c[1]) for c in channels or ()},
        "blocklist": [(str(b[0]), bool(b[1])) for b in blocklist or ()],
    }


def _marks(values: tuple) -> str:
    return ", ".join("?" for _ in values)


def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    parts, values = [], []
    for name, value in fields.items():
        if name not in _UPDATABLE:
            raise ValueError(f"column {name!r} cannot be updated")
        parts.append(f", {name} = ?")
        values.append(_ts(value) if isinstance(value, datetime) else value)
    return "".join(parts), values


def _split_sql(script: str) -> list[str]:
    """Statements of a migration file (comments dropped; migrations hold no `--` or `;` in literals)."""
    text = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in text.split(";") if s.strip()]
