"""Audit and statistics (issue 4: /quota, /history, /videoadmin stats and audit, forgetting a user)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import VideoRequest
from bot.storage.base import StorageBase
from bot.storage.rows import ACTIVE_STATES, dt, marks, request_to_json, ts

_ACTIVE = f"state IN ({marks(ACTIVE_STATES)})"


class AuditQueries(StorageBase):
    async def record_refusal(
        self, *, guild_id: int, channel_id: int, user_id: int, request: VideoRequest, reason: str, units: int, at: datetime
    ) -> None:
        """Audit a request refused before any job existed (accepted requests are audited by their job row)."""
        await self._run(
            "INSERT INTO refusals (guild_id, channel_id, user_id, request, reason, units, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (guild_id, channel_id, user_id, request_to_json(request), reason, units, ts(at)),
        )

    async def usage_counts(self, guild_id: int, user_id: int, day: str) -> dict[str, int]:
        """units (held today), videos (charged today), active (now), server_units (the server's today)."""
        row = await self._one(
            f"""SELECT
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ?),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND day = ? AND cost > 0),
                  (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? AND {_ACTIVE}),
                  (SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE guild_id = ? AND day = ?)""",
            (guild_id, user_id, day, guild_id, user_id, day, guild_id, user_id, *ACTIVE_STATES, guild_id, day),
        )
        assert row is not None
        return {"units": int(row[0]), "videos": int(row[1]), "active": int(row[2]), "server_units": int(row[3])}

    async def last_request_at(self, guild_id: int, user_id: int) -> datetime | None:
        """When the user's latest job in this server was requested (for the cooldown)."""
        row = await self._one("SELECT MAX(created_at) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return dt(row[0]) if row else None

    async def count_user_jobs(self, guild_id: int, user_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return int(row[0]) if row else 0

    async def guild_stats(self, guild_id: int, since: datetime) -> dict[str, Any]:
        """Totals for the server since `since`, plus completed clips grouped by what they cost to make."""
        model, duration, resolution, action = (self.dialect.json_text("request", key)
                                               for key in ("model", "duration", "resolution", "action"))  # fmt: skip
        async with self._transaction(snapshot=True) as session:
            totals = await session.one(
                """SELECT COUNT(*), COUNT(DISTINCT user_id), COALESCE(SUM((state = 'completed')::int), 0),
                          COALESCE(SUM((state = 'failed')::int), 0), COALESCE(SUM((state = 'cancelled')::int), 0),
                          COALESCE(SUM(cost), 0)
                   FROM jobs WHERE guild_id = ? AND created_at >= ?""",
                (guild_id, ts(since)),
            )
            refused = await session.one(
                "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM refusals WHERE guild_id = ? AND created_at >= ?",
                (guild_id, ts(since)),
            )
            groups = await session.all(
                f"""SELECT provider, {model}, {duration}, {resolution}, COUNT(*),
                          COALESCE(SUM((state = 'completed')::int), 0), COALESCE(SUM((state = 'failed')::int), 0),
                          {action}
                   FROM jobs WHERE guild_id = ? AND created_at >= ? AND provider IS NOT NULL
                   GROUP BY 1, 2, 3, 4, 8 ORDER BY 1, 2""",
                (guild_id, ts(since)),
            )
        assert totals is not None and refused is not None
        return {
            "jobs": int(totals[0]), "users": int(totals[1]), "completed": int(totals[2]), "failed": int(totals[3]),
            "cancelled": int(totals[4]), "units": int(totals[5]), "refused": int(refused[0]),
            "refused_users": int(refused[1]),
            "groups": [
                {"provider": g[0], "model": g[1], "duration": g[2] or "5s", "resolution": g[3] or "720p",
                 "jobs": int(g[4]), "completed": int(g[5]), "failed": int(g[6]), "action": g[7]}
                for g in groups
            ],
        }  # fmt: skip

    async def audit_log(self, guild_id: int, *, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Every request (accepted jobs and refusals), newest first: who, where, prompt, options, provider,
        outcome, units, duration."""
        rows = await self._all(
            "SELECT * FROM audit_log WHERE guild_id = ? AND created_at >= ? ORDER BY created_at DESC, ref DESC LIMIT ?",
            (guild_id, ts(since) if since else 0.0, limit),
        )
        return [dict(r) for r in rows]

    async def forget_user(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """Delete a user's finished jobs and refusals in one server; returns (jobs, refusals) deleted.
        Active jobs are left for the caller to cancel first; a block or limit override stays."""
        async with self._transaction() as session:
            refusals = await session.run("DELETE FROM refusals WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            jobs = await session.run(
                f"DELETE FROM jobs WHERE guild_id = ? AND user_id = ? AND NOT ({_ACTIVE})",
                (guild_id, user_id, *ACTIVE_STATES),
            )
        return jobs, refusals
