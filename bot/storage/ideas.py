"""Ideas (issue 15): several takes of one prompt reserved together, the clips made from them, votes and
the server's thread / final settings. An idea's id is its first job's id."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.domain import Job, VideoRequest
from bot.storage.base import StorageBase
from bot.storage.jobs import _ACTIVE, budget_lock_key, quota_lock_key
from bot.storage.rows import ACTIVE_STATES, JOB_COLUMNS, job_from_row, marks, request_to_json, ts

MAX_TAKES = 4
IDEA_COLUMNS = ("channel_id", "thread_id", "board_message_id", "picked_job_id")


def _takes_sql(takes: int, *, budget: bool, cooldown: bool) -> str:
    """One INSERT of `takes` rows, made only if the whole batch fits (the conditions read the table as it
    was before the statement on both dialects, so the batch is checked once, as a whole). A lone take
    (an idea opened for its thread) is numbered NULL: it has no shared status message."""
    numbers = " UNION ALL ".join(f"SELECT {n} AS take" for n in range(1, takes + 1))
    sql = f"""
    INSERT INTO jobs (guild_id, channel_id, user_id, request, state, cost, units, day, created_at, take)
    SELECT ?::bigint, ?::bigint, ?::bigint, ?::text, 'queued', ?::integer, ?::integer, ?::text,
           ?::double precision, {"t.take" if takes > 1 else "NULL"}
    FROM ({numbers}) t
    WHERE (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?) + ? <= ?
      AND (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND {_ACTIVE}) < ?"""
    if budget:
        sql += " AND (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND day = ?) + ? <= ?"
    if cooldown:
        sql += " AND NOT EXISTS (SELECT 1 FROM jobs WHERE guild_id = ? AND user_id = ? AND created_at > ?)"
    return f"{sql}\n    RETURNING {JOB_COLUMNS}"


class IdeaQueries(StorageBase):
    async def create_takes_reserving(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        request: VideoRequest,
        takes: int,
        created_at: datetime,
        day: str,
        cost: int,
        daily_limit: int,
        concurrent_limit: int,
        daily_budget: int | None = None,
        cooldown_s: float = 0,
    ) -> list[Job]:
        """Queue `takes` jobs of one request, each holding `cost`, as one idea — all of them or none: one
        statement checks that the user's day and the server's budget cover takes times cost (and the cooldown),
        so no half of a batch is ever reserved. The takes count as one request against the concurrent limit
        (the user must have fewer than that active). [] when a limit is reached."""
        if not 1 <= takes <= MAX_TAKES:
            raise ValueError(f"takes must be 1..{MAX_TAKES}")
        created = ts(created_at)
        assert created is not None
        total = cost * takes
        args: list[Any] = [
            guild_id, channel_id, user_id, request_to_json(request), cost, cost, day, created,
            guild_id, user_id, day, total, daily_limit,
            guild_id, user_id, *ACTIVE_STATES, concurrent_limit,
        ]  # fmt: skip
        locks = [quota_lock_key(guild_id, user_id)]
        if daily_budget is not None:
            args += (guild_id, day, total, daily_budget)
            locks.insert(0, budget_lock_key(guild_id))
        if cooldown_s > 0:
            args += (guild_id, user_id, created - cooldown_s)
        sql = _takes_sql(takes, budget=daily_budget is not None, cooldown=cooldown_s > 0)
        async with self._transaction(*locks) as session:
            rows = await session.all(sql, args)
            jobs = sorted((job_from_row(r) for r in rows), key=lambda job: job.id)
            if not jobs:
                return []
            idea_id = jobs[0].id
            # If the process dies here the takes are still whole, separate jobs (PostgreSQL: not even that).
            await session.run(
                f"UPDATE jobs SET idea_id = ? WHERE id IN ({marks(jobs)})", (idea_id, *(job.id for job in jobs))
            )
            await session.run(
                "INSERT INTO ideas (id, guild_id, channel_id, user_id, takes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (idea_id, guild_id, channel_id, user_id, takes, created),
            )
        return [replace(job, idea_id=idea_id) for job in jobs]

    async def idea_of(self, parent: Job) -> int:
        """The idea a clip made from `parent` joins: the parent's, or a new one keyed by the parent."""
        if parent.idea_id is not None:
            return parent.idea_id
        await self._run(
            "INSERT INTO ideas (id, guild_id, channel_id, user_id, takes, created_at) VALUES (?, ?, ?, ?, 1, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (parent.id, parent.guild_id, parent.channel_id, parent.user_id, ts(parent.created_at)),
        )
        await self._run("UPDATE jobs SET idea_id = ? WHERE id = ? AND idea_id IS NULL", (parent.id, parent.id))
        return parent.id

    async def get_idea(self, idea_id: int) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT id, guild_id, channel_id, user_id, takes, thread_id, board_message_id, picked_job_id, created_at"
            " FROM ideas WHERE id = ?",
            (idea_id,),
        )
        return dict(row) if row else None

    async def idea_in_thread(self, thread_id: int) -> int | None:
        """The idea a thread was opened for (None: not an idea's thread)."""
        row = await self._one("SELECT id FROM ideas WHERE thread_id = ? ORDER BY id DESC LIMIT 1", (thread_id,))
        return int(row[0]) if row else None

    async def update_idea(self, idea_id: int, **fields: Any) -> None:
        if not fields or not set(fields) <= set(IDEA_COLUMNS):
            raise ValueError(f"cannot set {sorted(fields)} on an idea")
        sets = ", ".join(f"{name} = ?" for name in fields)
        await self._run(f"UPDATE ideas SET {sets} WHERE id = ?", (*fields.values(), idea_id))

    async def idea_jobs(self, idea_id: int) -> list[Job]:
        rows = await self._all(f"SELECT {JOB_COLUMNS} FROM jobs WHERE idea_id = ? ORDER BY id", (idea_id,))
        return [job_from_row(r) for r in rows]

    async def toggle_vote(self, job_id: int, user_id: int, at: datetime) -> bool:
        """Vote for a clip, or take the vote back if there was one; True when the member now votes for it."""
        if await self._run("DELETE FROM votes WHERE job_id = ? AND user_id = ?", (job_id, user_id)) == 1:
            return False
        await self._run(
            "INSERT INTO votes (job_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT (job_id, user_id) DO NOTHING",
            (job_id, user_id, ts(at)),
        )
        return True

    async def vote_counts(self, idea_id: int) -> dict[int, int]:
        """job id → votes, for the clips of one idea that have any."""
        rows = await self._all(
            "SELECT v.job_id, COUNT(*) FROM votes v JOIN jobs j ON j.id = v.job_id WHERE j.idea_id = ? GROUP BY v.job_id",
            (idea_id,),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def idea_settings(self, guild_id: int) -> dict[str, Any]:
        """threads (bool), threads_warned (bool), final_resolution (str | None) for one server."""
        row = await self._one(
            "SELECT threads, threads_warned, final_resolution FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return {"threads": False, "threads_warned": False, "final_resolution": None}
        return {"threads": bool(row[0]), "threads_warned": bool(row[1]), "final_resolution": row[2]}

    async def idea_stats(self, guild_id: int) -> dict[int, dict[str, int]]:
        """user id → takes made, votes cast and finals made in this server (all time)."""
        stats: dict[int, dict[str, int]] = {}
        queries = {
            "takes": "SELECT user_id, COUNT(*) FROM jobs WHERE guild_id = ? AND take IS NOT NULL GROUP BY user_id",
            "votes": "SELECT v.user_id, COUNT(*) FROM votes v JOIN jobs j ON j.id = v.job_id WHERE j.guild_id = ?"
            " GROUP BY v.user_id",
            "finals": "SELECT user_id, COUNT(*) FROM jobs WHERE guild_id = ? AND parent_kind = 'final' GROUP BY user_id",
        }
        for name, sql in queries.items():
            for user_id, count in await self._all(sql, (guild_id,)):
                stats.setdefault(int(user_id), {"takes": 0, "votes": 0, "finals": 0})[name] = int(count)
        return stats
