"""Quota policy: who may start how many jobs. Reservation is the job insert itself (one atomic
statement in storage), so a reserved slot and a stored job are the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.clock import Clock
from bot.domain import Job, VideoRequest
from bot.errors import QuotaExceededError
from bot.storage import Storage


@dataclass(frozen=True, slots=True)
class Limits:
    daily: int
    concurrent: int


@dataclass(frozen=True, slots=True)
class Usage:
    used_today: int
    daily_limit: int
    active: int
    concurrent_limit: int
    resets_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.daily_limit - self.used_today)


def quota_day(now: datetime) -> str:
    """Quotas reset at midnight UTC."""
    return now.date().isoformat()


def next_reset(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


class Quotas:
    def __init__(self, storage: Storage, clock: Clock, *, daily: int, concurrent: int) -> None:
        self.storage = storage
        self.clock = clock
        self.default_limits = Limits(daily=daily, concurrent=concurrent)

    async def limits_for(self, guild_id: int, user_id: int, role_ids: tuple[int, ...] = ()) -> Limits:
        return self.default_limits

    async def reserve(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        request: VideoRequest,
        role_ids: tuple[int, ...] = (),
        cost: int = 1,
        parent_job_id: int | None = None,
        parent_kind: str | None = None,
    ) -> Job:
        """Store a queued job holding `cost` units, or raise QuotaExceededError saying which limit."""
        limits = await self.limits_for(guild_id, user_id, role_ids)
        now = self.clock.now()
        job = await self.storage.create_job_reserving(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            request=request,
            created_at=now,
            day=quota_day(now),
            cost=cost,
            daily_limit=limits.daily,
            concurrent_limit=limits.concurrent,
            parent_job_id=parent_job_id,
            parent_kind=parent_kind,
        )
        if job is not None:
            return job
        usage = await self.usage(guild_id, user_id, role_ids)
        raise QuotaExceededError("quota", public_message=refusal_message(usage, cost))

    async def usage(self, guild_id: int, user_id: int, role_ids: tuple[int, ...] = ()) -> Usage:
        limits = await self.limits_for(guild_id, user_id, role_ids)
        now = self.clock.now()
        used, active = await self.storage.usage(guild_id, user_id, quota_day(now))
        return Usage(used, limits.daily, active, limits.concurrent, next_reset(now))

    async def refund(self, job: Job) -> bool:
        return await self.storage.refund(job.id)


def refusal_message(usage: Usage, cost: int) -> str:
    reset = f"<t:{int(usage.resets_at.timestamp())}:R>"
    if usage.active >= usage.concurrent_limit:
        return (
            f"You already have {usage.active} video(s) generating (limit {usage.concurrent_limit}). "
            "Wait for it to finish or cancel it. Nothing was charged."
        )
    if usage.daily_limit == 0:
        return "Video generation is not enabled for you in this server. Nothing was charged."
    return (
        f"You have used {usage.used_today} of {usage.daily_limit} videos today"
        + (f" (this one costs {cost})" if cost > 1 else "")
        + f". Your quota resets {reset}. Nothing was charged."
    )
