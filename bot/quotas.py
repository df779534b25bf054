"""Quota policy: who may start how many jobs. Reservation is the job insert itself (one atomic
statement in storage, which also caps the server's daily budget and the cooldown), so a reserved slot
and a stored job are the same thing. Server rules (channels, blocks, the blocklist, limits per role and
user, cost weights) come from bot/policy.py; every refusal is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from bot import metrics
from bot.clock import Clock
from bot.domain import Job, VideoRequest
from bot.errors import PolicyRefusedError, QuotaExceededError, ReelbotError
from bot.policy import Limits, Policy, clip_cost
from bot.storage import Storage


@dataclass(frozen=True, slots=True)
class Usage:
    used_today: int
    daily_limit: int
    active: int
    concurrent_limit: int
    resets_at: datetime
    # Beyond the four basic counts (not compared, so a Usage still equals one built from those alone):
    videos_today: int = field(default=0, compare=False)  # charged clips today (used_today counts units)
    server_used: int = field(default=0, compare=False)  # the whole server's units today
    server_budget: int | None = field(default=None, compare=False)
    limits: Limits | None = field(default=None, compare=False)

    @property
    def remaining(self) -> int:
        return max(0, self.daily_limit - self.used_today)

    @property
    def budget_left(self) -> int | None:
        return None if self.server_budget is None else max(0, self.server_budget - self.server_used)


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
        self.policy = Policy(storage, clock, daily=daily, concurrent=concurrent)

    async def limits_for(self, guild_id: int, user_id: int, role_ids: tuple[int, ...] = ()) -> Limits:
        """Server default, then the most generous role, then the user's own override (bot/policy.py)."""
        return await self.policy.limits_for(guild_id, user_id, role_ids)

    async def reserve(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        request: VideoRequest,
        role_ids: tuple[int, ...] = (),
        cost: int | None = None,
        parent_job_id: int | None = None,
        parent_kind: str | None = None,
        parent_channel_id: int | None = None,
    ) -> Job:
        """Store a queued job holding `cost` units (by default what the server's weights make of the request),
        or raise PolicyRefusedError / QuotaExceededError saying why. A refusal charges nothing and is audited."""
        snap = await self.policy.snapshot(guild_id, user_id, role_ids)  # one read for every rule below
        limits, rules = snap.limits, snap.rules
        cost = clip_cost(request, rules.weights) if cost is None else cost
        now = self.clock.now()
        where = {"guild_id": guild_id, "channel_id": channel_id, "user_id": user_id, "request": request, "units": cost}
        try:
            await self.policy.admit(snap, channel_id=channel_id, parent_channel_id=parent_channel_id, request=request)
            await self._check_cooldown(guild_id, user_id, rules.cooldown_s)
        except (PolicyRefusedError, QuotaExceededError) as refused:
            await self._audit(refused, where)
            raise
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
            daily_budget=rules.daily_budget,
            cooldown_s=rules.cooldown_s,
        )
        if job is not None:
            return job
        usage = await self.usage(guild_id, user_id, role_ids)
        refusal = QuotaExceededError("quota", public_message=refusal_message(usage, cost))
        refusal.reason = refusal_reason(usage, cost)  # for the audit
        if refusal.reason == "quota" and rules.cooldown_s:  # lost a race to its own other command
            last = await self.storage.last_request_at(guild_id, user_id)
            if last is not None and (now - last).total_seconds() < rules.cooldown_s:
                refusal = _cooldown_refusal(last, rules.cooldown_s)
        await self._audit(refusal, where)
        raise refusal

    async def _check_cooldown(self, guild_id: int, user_id: int, cooldown_s: int) -> None:
        if cooldown_s <= 0:
            return
        last = await self.storage.last_request_at(guild_id, user_id)
        if last is not None and (self.clock.now() - last).total_seconds() < cooldown_s:
            raise _cooldown_refusal(last, cooldown_s)

    async def _audit(self, refusal: ReelbotError, where: dict[str, Any]) -> None:
        reason = getattr(refusal, "reason", None) or refusal.detail or refusal.code
        metrics.QUOTA_REFUSALS.inc(reason=getattr(refusal, "reason", None) or refusal.code)  # few, fixed values
        await self.storage.record_refusal(**where, reason=reason, at=self.clock.now())

    async def usage(self, guild_id: int, user_id: int, role_ids: tuple[int, ...] = ()) -> Usage:
        snap = await self.policy.snapshot(guild_id, user_id, role_ids)
        limits, rules = snap.limits, snap.rules
        now = self.clock.now()
        counts = await self.storage.usage_counts(guild_id, user_id, quota_day(now))
        return Usage(counts["units"], limits.daily, counts["active"], limits.concurrent, next_reset(now),
                     videos_today=counts["videos"], server_used=counts["server_units"],
                     server_budget=rules.daily_budget, limits=limits)  # fmt: skip

    async def refund(self, job: Job) -> bool:
        return await self.storage.refund(job.id)


def refusal_reason(usage: Usage, cost: int) -> str:
    """Which limit refused a reservation, as the audit records it (the same order as refusal_message)."""
    if usage.active >= usage.concurrent_limit:
        return "concurrent"
    if usage.used_today + cost > usage.daily_limit:
        return "quota"
    if usage.budget_left is not None and cost > usage.budget_left:
        return "budget"
    return "quota"


def _cooldown_refusal(last: datetime, cooldown_s: int) -> QuotaExceededError:
    ready = last + timedelta(seconds=cooldown_s)
    return QuotaExceededError(
        "cooldown",
        public_message=f"Please wait between videos: this server has a {cooldown_s}s cooldown. You can start the "
        f"next one <t:{int(ready.timestamp()) + 1}:R>. Nothing was charged.",
    )


def refusal_message(usage: Usage, cost: int) -> str:
    reset = f"<t:{int(usage.resets_at.timestamp())}:R>"
    if usage.active >= usage.concurrent_limit:
        return (
            f"You already have {usage.active} video(s) generating (limit {usage.concurrent_limit}). "
            "Wait for it to finish or cancel it. Nothing was charged."
        )
    if usage.daily_limit == 0:
        return "Video generation is not enabled for you in this server. Nothing was charged."
    if usage.used_today + cost <= usage.daily_limit and usage.budget_left is not None and cost > usage.budget_left:
        return (
            f"This server has used {usage.server_used} of its {usage.server_budget} video units for today"
            + (f" (this one costs {cost})" if cost > 1 else "")
            + f". The server budget resets {reset}. Nothing was charged."
        )
    return (
        f"You have used {usage.used_today} of {usage.daily_limit} videos today"
        + (f" (this one costs {cost})" if cost > 1 else "")
        + f". Your quota resets {reset}. Nothing was charged."
    )
