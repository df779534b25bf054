"""Server policy: how many videos who may make where, and what each one costs.

Limits come in four levels, the most specific winning, field by field (daily units, concurrent jobs):

1. the server default: QUOTA_DAILY / QUOTA_CONCURRENT until an admin sets the server's own;
2. per role: a member gets the most generous value among their roles that have one;
3. per user: an override that beats every role, or a block;
4. a server-wide daily budget in units that caps the whole server (checked in the reservation itself).

A clip costs the product of its options' weights (duration and resolution, 1 by default), so with
`10s = 2` and `4k = 3` a 10-second 4k clip counts as 6 units. Settings are read from storage on every
request: an admin's change applies to the next command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.blocklist import BlockEntry, first_match
from bot.domain import VideoRequest
from bot.errors import PolicyRefusedError

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.storage import Storage

DURATION_OPTIONS = ("5s", "9s", "10s")
RESOLUTION_OPTIONS = ("540p", "720p", "1080p", "4k")
WEIGHT_OPTIONS = DURATION_OPTIONS + RESOLUTION_OPTIONS
MAX_WEIGHT = 100
MAX_COST = 10_000


@dataclass(frozen=True, slots=True)
class Limits:
    daily: int  # quota units per day
    concurrent: int  # jobs at once
    blocked: bool = False
    daily_from: str = "server default"  # where each value came from, for /quota and /videoadmin limits
    concurrent_from: str = "server default"


def resolve_limits(
    default_daily: int,
    default_concurrent: int,
    server: Mapping[str, Any],
    roles: Mapping[int, tuple[int | None, int | None]],
    member_roles: Iterable[int],
    user: Mapping[str, Any] | None,
) -> Limits:
    """The member's limits: server (or env) default, then their most generous role, then their own override."""
    values: dict[str, tuple[int, str]] = {}
    for index, (field, default) in enumerate((("daily_limit", default_daily), ("concurrent_limit", default_concurrent))):
        value, source = default, "server default"
        if server.get(field) is not None:
            value, source = int(server[field]), "server setting"
        from_roles = [v for role, limits in roles.items() if role in set(member_roles) if (v := limits[index]) is not None]
        if from_roles:
            value, source = max(from_roles), "role"
        if user and user.get(field) is not None:
            value, source = int(user[field]), "user override"
        values[field] = (value, source)
    return Limits(
        daily=values["daily_limit"][0],
        concurrent=values["concurrent_limit"][0],
        blocked=bool(user and user.get("blocked")),
        daily_from=values["daily_limit"][1],
        concurrent_from=values["concurrent_limit"][1],
    )


def clip_cost(request: VideoRequest, weights: Mapping[str, int]) -> int:
    """Quota units one clip counts for: the product of its duration's and resolution's weights (1 if unset)."""
    cost = weights.get(request.duration, 1) * weights.get(request.resolution, 1)
    return max(1, min(MAX_COST, cost))


def describe_costs(weights: Mapping[str, int]) -> str:
    """What each option costs, e.g. `5s x1 · 9s x2 · 10s x2 | 540p x1 · 720p x1 · 1080p x2 · 4k x4`."""
    if not any(weights.get(option, 1) != 1 for option in WEIGHT_OPTIONS):
        return "Every video costs 1 unit, whatever its options."
    durations = " · ".join(f"{o} ×{weights.get(o, 1)}" for o in DURATION_OPTIONS)
    resolutions = " · ".join(f"{o} ×{weights.get(o, 1)}" for o in RESOLUTION_OPTIONS)
    return f"A video costs its length's weight × its resolution's: {durations} | {resolutions}"


def channel_allows(rules: Mapping[int, bool], channel_id: int, parent_id: int | None = None) -> bool:
    """A channel's own rule wins, then its parent's (a thread inherits its channel's); with no rule, /video is
    allowed unless the server has an allow list."""
    for candidate in (channel_id, parent_id):
        if candidate is not None and candidate in rules:
            return rules[candidate]
    return not any(rules.values())


def allowed_channels(rules: Mapping[int, bool]) -> list[int]:
    return [channel for channel, allowed in rules.items() if allowed]


# --- estimated spend -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpendLine:
    provider: str
    model: str
    jobs: int
    completed: int
    failed: int
    price: float  # per 5-second clip
    estimate: float


def price_for(
    prices: Mapping[str, float], provider: str, model: str, resolution: str | None = None, hdr: bool = False,
    action: str | None = None,
) -> float:
    """An action on a clip (`provider:action`, e.g. luma:modify) where priced; else `provider:model:resolution[-hdr]`,
    else `provider:model`, else `provider`, else `default` (else 0)."""
    actions = [f"{provider}:{model}:{action}", f"{provider}:{action}"] if action else []
    tiers = [f"{provider}:{model}:{resolution}{'-hdr' if hdr else ''}"] if resolution else []
    for key in (*actions, *tiers, f"{provider}:{model}", provider, "default"):
        if key in prices:
            return prices[key]
    return 0.0


def estimate_spend(
    groups: Iterable[Mapping[str, Any]], prices: Mapping[str, float], default_models: Mapping[str, str]
) -> list[SpendLine]:
    """Per provider and model: jobs, completed, failed, and the estimated spend. Only completed clips are
    counted as paid; a clip is priced at `price * seconds / 5` (PRICE_TABLE gives a 5-second clip's price)."""
    merged: dict[tuple[str, str], list[float]] = {}
    for group in groups:
        provider = str(group["provider"])
        model = str(group.get("model") or default_models.get(provider) or "default")
        seconds = _seconds(str(group.get("duration") or "5s"))
        entry = merged.setdefault((provider, model), [0, 0, 0, 0.0])
        entry[0] += group["jobs"]
        entry[1] += group["completed"]
        entry[2] += group["failed"]
        price = price_for(prices, provider, model, group.get("resolution"), bool(group.get("hdr")), group.get("action"))
        entry[3] += group["completed"] * price * seconds / 5
    return [
        SpendLine(provider, model, int(v[0]), int(v[1]), int(v[2]), price_for(prices, provider, model), round(v[3], 2))
        for (provider, model), v in sorted(merged.items())
    ]


def _seconds(duration: str) -> float:
    try:
        return float(duration.rstrip("s"))
    except ValueError:
        return 5.0


# --- the policy as the bot applies it --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerRules:
    """One server's settings, read once per request."""

    settings: Mapping[str, Any]
    weights: Mapping[str, int]

    @property
    def daily_budget(self) -> int | None:
        return self.settings.get("daily_budget")

    @property
    def cooldown_s(self) -> int:
        return int(self.settings.get("cooldown_s") or 0)


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """What one request is judged by, read from storage in one go."""

    limits: Limits
    rules: ServerRules
    channels: Mapping[int, bool]
    blocklist: tuple[BlockEntry, ...]


class Policy:
    def __init__(self, storage: Storage, clock: Clock, *, daily: int, concurrent: int) -> None:
        self.storage = storage
        self.clock = clock
        self.default_daily = daily
        self.default_concurrent = concurrent

    async def snapshot(self, guild_id: int, user_id: int, role_ids: Iterable[int] = ()) -> PolicySnapshot:
        """The member's limits and the server's rules, channels and blocklist, in one read."""
        data = await self.storage.policy_snapshot(guild_id, user_id)
        limits = resolve_limits(self.default_daily, self.default_concurrent, data["settings"], data["roles"],
                                role_ids, data["user"])  # fmt: skip
        return PolicySnapshot(
            limits=limits,
            rules=ServerRules(data["settings"], data["weights"]),
            channels=data["channels"],
            blocklist=tuple(BlockEntry(pattern, is_regex) for pattern, is_regex in data["blocklist"]),
        )

    async def limits_for(self, guild_id: int, user_id: int, role_ids: Iterable[int] = ()) -> Limits:
        return (await self.snapshot(guild_id, user_id, role_ids)).limits

    async def rules(self, guild_id: int) -> ServerRules:
        return ServerRules(await self.storage.guild_settings(guild_id), await self.storage.cost_weights(guild_id))

    async def admit(
        self, snap: PolicySnapshot, *, channel_id: int, parent_channel_id: int | None, request: VideoRequest
    ) -> None:
        """Raise PolicyRefusedError (its `detail` is the reason) if a server rule refuses the request:
        the channel, a blocked user, or the blocklist. Nothing has been charged yet."""
        if not channel_allows(snap.channels, channel_id, parent_channel_id):
            where = ", ".join(f"<#{c}>" for c in allowed_channels(snap.channels)[:20])
            raise _refused(
                "channel",
                f"Videos can't be made in this channel. Try {where}." if where else "Videos can't be made in this channel.",
            )
        if snap.limits.blocked:
            raise _refused("blocked", "A server admin has blocked you from making videos here.")
        if snap.blocklist:
            # RE2 is linear and the list's size is capped, but a hostile list can cost milliseconds: off the loop.
            hit = await asyncio.to_thread(first_match, request.prompt, list(snap.blocklist))
            if hit is not None:
                raise _refused(
                    "blocklist", "Your prompt contains something this server does not allow. Please rephrase it."
                )


def _refused(reason: str, message: str) -> PolicyRefusedError:
    """`detail` carries the reason code the audit records (channel, blocked, blocklist)."""
    return PolicyRefusedError(reason, public_message=message + " Nothing was charged.")
