"""What a row means in Python, for both dialects: job states the SQL filters on, columns, timestamps
(stored as epoch seconds), requests (stored as JSON text) and the shared-queue view."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain import Job, JobState, VideoRequest

ACTIVE_STATES = tuple(s.value for s in JobState if s.active)
IN_FLIGHT_STATES = (JobState.SUBMITTING.value, JobState.RUNNING.value)
# States whose worker holds a lease: the job's task lives in exactly one process.
LEASED_STATES = (JobState.SUBMITTING.value, JobState.RUNNING.value, JobState.DELIVERING.value)
LEASABLE_STATES = (JobState.QUEUED.value, *LEASED_STATES)  # a claimed job is leased before it starts
# A job holds a provider slot (counts against MAX_ACTIVE_JOBS) from its claim until it leaves RUNNING.
HOLDING_SLOT = "(state IN ('submitting', 'running') OR (state = 'queued' AND owner IS NOT NULL))"

JOB_COLUMNS = (
    "id, guild_id, channel_id, user_id, request, state, cost, created_at, started_at, finished_at, "
    "provider, provider_job_id, status_message_id, result_message_id, video_url, failure_reason, "
    "parent_job_id, parent_kind, delivery_started_at, delivery_nonce"
)
UPDATABLE = frozenset(
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
        "delivery_started_at",
        "delivery_nonce",
    }
)
# Columns the policy section may set, per table (issue 4).
POLICY_COLUMNS = {
    "guild_settings": frozenset({"daily_limit", "concurrent_limit", "daily_budget", "cooldown_s"}),
    "role_limits": frozenset({"daily_limit", "concurrent_limit"}),
    "user_limits": frozenset({"daily_limit", "concurrent_limit", "blocked"}),
    "cost_weights": frozenset({"weight"}),
    "channel_rules": frozenset({"allowed"}),
}


@dataclass(frozen=True, slots=True)
class QueueView:
    """The shared queue as the database sees it: unclaimed queued jobs (oldest first) and, per user, the
    jobs holding a provider slot and the sequence number of their last claim (for round-robin turns)."""

    jobs: list[Job] = field(default_factory=list)
    holding: dict[int, int] = field(default_factory=dict)
    last_claim: dict[int, int] = field(default_factory=dict)


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def request_to_json(request: VideoRequest) -> str:
    return json.dumps({k: v for k, v in asdict(request).items() if v not in (None, False)})


def request_from_json(text: str) -> VideoRequest:
    data = json.loads(text)
    known = VideoRequest.__dataclass_fields__
    return VideoRequest(**{k: v for k, v in data.items() if k in known})


def job_from_row(row: Mapping[str, Any]) -> Job:
    """A Job from a row of JOB_COLUMNS (an aiosqlite.Row or an asyncpg.Record)."""
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        request=request_from_json(row["request"]),
        state=JobState(row["state"]),
        cost=row["cost"],
        created_at=dt(row["created_at"]),  # type: ignore[arg-type]
        started_at=dt(row["started_at"]),
        finished_at=dt(row["finished_at"]),
        provider=row["provider"],
        provider_job_id=row["provider_job_id"],
        status_message_id=row["status_message_id"],
        result_message_id=row["result_message_id"],
        video_url=row["video_url"],
        failure_reason=row["failure_reason"],
        parent_job_id=row["parent_job_id"],
        parent_kind=row["parent_kind"],
        delivery_started_at=dt(row["delivery_started_at"]),
        delivery_nonce=row["delivery_nonce"],
    )


def policy_snapshot_from_json(values: tuple[Any, ...]) -> dict[str, Any]:
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


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an IN list of `values`."""
    return ", ".join("?" for _ in values)


def assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    """`, col = ?` for each updatable field, and the values (datetimes as epoch seconds)."""
    parts, values = [], []
    for name, value in fields.items():
        if name not in UPDATABLE:
            raise ValueError(f"column {name!r} cannot be updated")
        parts.append(f", {name} = ?")
        values.append(ts(value) if isinstance(value, datetime) else value)
    return "".join(parts), values
