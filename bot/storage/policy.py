"""Policy and server settings (issue 4: /quota, /videoadmin): limits, weights, channel rules, blocklist.

Settings are read on every request, so an admin's change applies at once. Each write is one statement
(an upsert of the given fields only); None clears a setting (back to the level below it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.storage.base import StorageBase
from bot.storage.rows import POLICY_COLUMNS, marks, policy_snapshot_from_json, ts


class PolicyQueries(StorageBase):
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
            " AND (?::bigint IS NULL OR user_id = ?) ORDER BY user_id",
            (guild_id, user_id, user_id),
        )
        return {int(r[0]): {"daily_limit": r[1], "concurrent_limit": r[2], "blocked": bool(r[3])} for r in rows}

    async def set_user_limits(self, guild_id: int, user_id: int, **fields: Any) -> None:
        """Set daily_limit / concurrent_limit / blocked for one user; fields not given keep their value."""
        await self._upsert("user_limits", {"guild_id": guild_id, "user_id": user_id}, fields)

    async def clear_user_limits(self, guild_id: int, user_id: int) -> None:
        """Drop the user's own limits (a block stays until unblocked)."""
        async with self._transaction() as session:
            await session.run(
                "UPDATE user_limits SET daily_limit = NULL, concurrent_limit = NULL WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
            await session.run(
                "DELETE FROM user_limits WHERE guild_id = ? AND user_id = ? AND blocked = 0", (guild_id, user_id)
            )

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
        rows = await self._all(
            "SELECT channel_id, allowed FROM channel_rules WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
        )
        return {int(r[0]): bool(r[1]) for r in rows}

    async def set_channel_rule(self, guild_id: int, channel_id: int, allowed: bool) -> None:
        await self._upsert("channel_rules", {"guild_id": guild_id, "channel_id": channel_id}, {"allowed": int(allowed)})

    async def remove_channel_rule(self, guild_id: int, channel_id: int) -> bool:
        sql = "DELETE FROM channel_rules WHERE guild_id = ? AND channel_id = ?"
        return await self._run(sql, (guild_id, channel_id)) == 1

    async def blocklist(self, guild_id: int) -> list[tuple[str, bool]]:
        """(pattern, is_regex) in the order they were added."""
        rows = await self._all("SELECT pattern, is_regex FROM blocklist WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [(str(r[0]), bool(r[1])) for r in rows]

    async def add_blocklist_entry(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, at: datetime) -> bool:
        """False when the same entry is already there."""
        return (
            await self._run(
                "INSERT INTO blocklist (guild_id, pattern, is_regex, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, pattern, is_regex) DO NOTHING",
                (guild_id, pattern, int(is_regex), added_by, ts(at)),
            )
            == 1
        )

    async def remove_blocklist_entry(self, guild_id: int, pattern: str) -> int:
        return await self._run("DELETE FROM blocklist WHERE guild_id = ? AND pattern = ?", (guild_id, pattern))

    async def policy_snapshot(self, guild_id: int, user_id: int) -> dict[str, Any]:
        """Everything the policy needs for one request, in one read: the server's settings, role limits, the
        user's own limits, cost weights, channel rules and blocklist (see `policy_snapshot_from_json`)."""
        row = await self._one(self.dialect.policy_snapshot_sql, (guild_id, user_id))
        assert row is not None
        return policy_snapshot_from_json(tuple(row))

    async def _upsert(self, table: str, keys: dict[str, Any], fields: dict[str, Any]) -> None:
        """INSERT … ON CONFLICT DO UPDATE of `fields` only (one statement; other columns keep their value)."""
        if table not in POLICY_COLUMNS or not fields or not set(fields) <= POLICY_COLUMNS[table]:
            raise ValueError(f"cannot set {sorted(fields)} in {table}")
        columns = [*keys, *fields]
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields)
        await self._run(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(columns)})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
            (*keys.values(), *fields.values()),
        )
