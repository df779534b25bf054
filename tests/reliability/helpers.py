"""Readers shared by the reliability tests: the job rows as stored, and the quota charged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TERMINAL = ("completed", "failed", "cancelled")


def db_path(bot_env: dict[str, str]) -> Path:
    return Path(bot_env["DATABASE_URL"].removeprefix("sqlite:///"))


def jobs(bot_env: dict[str, str]) -> list[dict]:
    """Every job row (id, user_id, state, cost, failure_reason, result_message_id, provider_job_id)."""
    with sqlite3.connect(db_path(bot_env)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT id, user_id, state, cost, failure_reason, result_message_id, provider_job_id FROM jobs ORDER BY id"
        ).fetchall()
    return [dict(row) for row in rows]


def all_terminal(bot_env: dict[str, str]) -> bool:
    rows = jobs(bot_env)
    return bool(rows) and all(row["state"] in TERMINAL for row in rows)
