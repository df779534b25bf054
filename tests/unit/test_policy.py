"""Unit: the server policy's rules (limit levels, cost weights, channels, blocklist safety, spend estimates,
PRICE_TABLE) and Quotas applying them on a manual clock across a day boundary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.blocklist import BlockEntry, PatternError, check_regex, first_match, normalise_word
from bot.config import load_settings, parse_price_table
from bot.domain import VideoRequest
from bot.errors import ConfigError, PolicyRefusedError, QuotaExceededError
from bot.policy import (
    channel_allows,
    clip_cost,
    describe_costs,
    estimate_spend,
    price_for,
    resolve_limits,
)
from bot.quotas import Quotas, Usage, refusal_message, refusal_reason
from bot.storage import Storage
from tests.fakes.clock import ManualClock

GUILD, CHANNEL, ALICE, BOB = 100, 200, 1, 2
PATRONS, VIPS = 500, 501
REQUEST = VideoRequest(prompt="a red fox running through snow")


# --- limits at four levels ------------------------------------------------------------------------------


def test_env_defaults_apply_until_the_server_sets_its_own():
    """With nothing set, QUOTA_DAILY / QUOTA_CONCURRENT apply; a server setting replaces them."""
    assert (resolve_limits(5, 1, {}, {}, (), None).daily, resolve_limits(5, 1, {}, {}, (), None).concurrent) == (5, 1)
    limits = resolve_limits(5, 1, {"daily_limit": 9, "concurrent_limit": None}, {}, (), None)
    assert (limits.daily, limits.concurrent, limits.daily_from, limits.concurrent_from) == (
        9, 1, "server setting", "server default",
    )  # fmt: skip


def test_most_generous_role_wins_field_by_field():
    """A member with two limited roles gets the larger daily of one and the larger concurrent of the other;
    roles the member lacks do not count."""
    roles = {PATRONS: (3, 4), VIPS: (6, None), 999: (100, 100)}
    limits = resolve_limits(1, 1, {"daily_limit": 2}, roles, (PATRONS, VIPS), None)
    assert (limits.daily, limits.concurrent, limits.daily_from) == (6, 4, "role")


def test_a_role_can_be_stricter_than_the_server_default():
    """A role's own value beats the server default even when it is lower (most specific wins)."""
    assert resolve_limits(5, 1, {}, {PATRONS: (2, None)}, (PATRONS,), None).daily == 2


def test_user_override_beats_roles_and_a_block_is_reported():
    """A user's own daily beats every role; concurrent falls through to the role; blocked is carried."""
    user = {"daily_limit": 1, "concurrent_limit": None, "blocked": True}
    limits = resolve_limits(5, 1, {}, {VIPS: (6, 3)}, (VIPS,), user)
    assert (limits.daily, limits.concurrent, limits.blocked, limits.daily_from) == (1, 3, True, "user override")


# --- costs, channels, spend -------------------------------------------------------------------------------


def test_a_clip_costs_the_product_of_its_weights():
    """10s x2 and 4k x3 make a 10 s 4k clip cost 6; unweighted options cost 1; the cost is at least 1."""
    weights = {"10s": 2, "4k": 3}
    assert clip_cost(VideoRequest(prompt="p", duration="10s", resolution="4k"), weights) == 6
    assert clip_cost(VideoRequest(prompt="p", duration="10s"), weights) == 2
    assert clip_cost(REQUEST, {}) == 1


def test_describe_costs_lists_every_option():
    """Without weights every video costs 1; with weights every duration and resolution is listed."""
    assert describe_costs({}) == "Every video costs 1 unit, whatever its options."
    text = describe_costs({"9s": 2, "4k": 4})
    assert "5s ×1 · 9s ×2 · 10s ×1" in text and "1080p ×1 · 4k ×4" in text


def test_channel_rules_allow_list_deny_list_and_threads():
    """No rules: allowed everywhere. An allow list limits /video to it; a denied channel is refused; a thread
    follows its channel unless it has its own rule."""
    assert channel_allows({}, 1)
    rules = {10: True, 11: False}
    assert channel_allows(rules, 10) and not channel_allows(rules, 12) and not channel_allows(rules, 11)
    assert channel_allows(rules, 77, parent_id=10) and not channel_allows({11: False}, 78, parent_id=11)
    assert channel_allows({11: False}, 12), "a deny list alone leaves other channels open"


def test_price_lookup_and_spend_estimate():
    """provider:model beats provider beats default; only completed clips count, priced by length / 5 s;
    a job without a model is priced as the provider's default model."""
    prices = {"luma:ray-2": 1.0, "luma": 0.5, "default": 0.25}
    assert price_for(prices, "luma", "ray-2") == 1.0
    assert price_for(prices, "luma", "ray-flash-2") == 0.5
    assert price_for(prices, "segmind", "x") == 0.25
    assert price_for({}, "segmind", "x") == 0.0
    groups = [
        {"provider": "luma", "model": None, "duration": "5s", "jobs": 3, "completed": 2, "failed": 1},
        {"provider": "luma", "model": "ray-2", "duration": "10s", "jobs": 1, "completed": 1, "failed": 0},
        {"provider": "segmind", "model": "kling", "duration": "5s", "jobs": 2, "completed": 0, "failed": 2},
    ]
    lines = estimate_spend(groups, prices, {"luma": "ray-2"})
    assert [(s.provider, s.model, s.jobs, s.completed, s.estimate) for s in lines] == [
        ("luma", "ray-2", 4, 3, 4.0),  # 2 x 1.00 + 1 x 1.00 x 10/5
        ("segmind", "kling", 2, 0, 0.0),
    ]  # fmt: skip


def test_price_table_parses_and_reports_every_problem():
    """PRICE_TABLE entries parse to floats; unknown providers, non-numbers and negatives are all reported."""
    problems: list[str] = []
    assert parse_price_table("luma:ray-2=0.9, segmind=1,default=0", problems) == (
        ("luma:ray-2", 0.9), ("segmind", 1.0), ("default", 0.0),
    )  # fmt: skip
    assert problems == []
    with pytest.raises(ConfigError) as caught:
        load_settings({"VIDEO_PROVIDERS": "demo", "PRICE_TABLE": "acme=1,luma=cheap,luma:ray-2=-1,oops"})
    text = str(caught.value)
    for expected in ("unknown provider 'acme'", "'luma' must be a number", "must be zero or more", "got 'oops'"):
        assert expected in text


def test_price_table_defaults_and_overrides():
    """Unset, PRICE_TABLE has an estimate for Luma's models and a default; one entry overrides only itself."""
    prices = load_settings({"VIDEO_PROVIDERS": "demo"}).prices
    assert prices["luma:ray-2"] > 0 and "default" in prices
    changed = load_settings({"VIDEO_PROVIDERS": "demo", "PRICE_TABLE": "luma:ray-2=2"}).prices
    assert changed["luma:ray-2"] == 2 and changed["luma:ray-flash-2"] == prices["luma:ray-flash-2"]


# --- the blocklist ---------------------------------------------------------------------------------------


def test_words_match_whole_words_in_any_case():
    """A banned word matches as a whole word, any case, across extra spaces; not inside other words."""
    entries = [BlockEntry(normalise_word("  Blood   Bath "), False)]
    assert first_match("a BLOOD  bath at dawn", entries) == entries[0]
    assert first_match("bloodbath", entries) is None and first_match("blood bathtub", entries) is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(\w)\1", "Backreferences"),
        (r"(?<!x)gore", "Lookarounds"),
        ("x{1001}", "invalid repetition size"),
        (r"(\d{0,25}){0,25}", "too complex"),
        ("[abc", "missing ]"),
        ("a" * 201, "at most 200 characters"),
        ("", "empty"),
    ],
)
def test_unsupported_or_broken_regexes_are_refused_with_the_reason(pattern, reason):
    """What RE2 cannot run in linear time (backreferences, lookarounds), too-complex programs and broken
    patterns are refused with a message naming the problem."""
    with pytest.raises(PatternError, match=re.escape(reason)):
        check_regex(pattern)


@pytest.mark.parametrize("pattern", [r"n[a@]z[i1]\w*", r"\bgore\b", "kill.{0,100}children", "(?:foo|bar)baz", "^secret",
                                     "(a+)+$", "(a|aa)*b", ".*x"])  # fmt: skip
def test_classic_backtracking_shapes_are_accepted_and_match_correctly(pattern):
    """RE2 does not backtrack, so shapes Python's re chokes on are accepted and give the right answers."""
    entry = BlockEntry(check_regex(pattern), True)
    hostile = "a" * 4999 + "!"
    assert (first_match(hostile, [entry]) is not None) == (re.search(pattern, hostile[-12:], re.I) is not None)
    assert first_match("aaab", [BlockEntry("(a|aa)*b", True)]) == BlockEntry("(a|aa)*b", True)
    assert first_match("nothing " + "a" * 4990, [BlockEntry("(a|aa)*b", True)]) is None


def test_a_stored_pattern_no_longer_accepted_is_skipped():
    """A regex stored before the rules tightened is skipped instead of being run."""
    stale = BlockEntry(r"(\w)\1", True)  # a backreference, accepted by the old rules
    assert first_match("aa bb", [stale]) is None
    assert first_match("say Hello", [stale, BlockEntry("hel+o", True)]) == BlockEntry("hel+o", True)


# --- Quotas on a manual clock: budget, cooldown, weights, audit -------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path):
    store = Storage(str(tmp_path / "reelbot.db"))
    await store.open()
    yield store
    await store.close()


async def reserve(q: Quotas, user: int = ALICE, request: VideoRequest = REQUEST, **kw):
    return await q.reserve(guild_id=GUILD, channel_id=CHANNEL, user_id=user, request=request, **kw)


async def test_server_budget_resets_at_midnight_utc(storage):
    """The server budget is per UTC day: full at 23:59:59, free again at 00:00:00."""
    clock = ManualClock(datetime(2026, 3, 14, 23, 59, 58, tzinfo=UTC))
    q = Quotas(storage, clock, daily=5, concurrent=5)
    await storage.set_guild_settings(GUILD, daily_budget=1)
    await reserve(q)
    clock.advance(1)
    with pytest.raises(QuotaExceededError) as caught:
        await reserve(q, user=BOB)
    assert "server has used 1 of its 1" in caught.value.public_message
    assert caught.value.reason == "budget"
    clock.advance(1)
    assert (await reserve(q, user=BOB)).user_id == BOB
    usage = await q.usage(GUILD, BOB)
    assert (usage.server_used, usage.server_budget, usage.budget_left) == (1, 1, 0)


async def test_cooldown_runs_across_midnight(storage):
    """A 120 s cooldown started at 23:59 still holds at 00:00 and ends at 00:01."""
    clock = ManualClock(datetime(2026, 3, 14, 23, 59, tzinfo=UTC))
    q = Quotas(storage, clock, daily=5, concurrent=5)
    await storage.set_guild_settings(GUILD, cooldown_s=120)
    await reserve(q)
    clock.advance(60)
    with pytest.raises(QuotaExceededError, match="cooldown"):
        await reserve(q)
    clock.advance(61)
    assert (await reserve(q)).created_at == datetime(2026, 3, 15, 0, 1, 1, tzinfo=UTC)


async def test_weights_set_the_cost_and_refusals_are_audited(storage):
    """A weighted request holds its units; a policy refusal and a quota refusal are each recorded with why."""
    clock = ManualClock(datetime(2026, 3, 14, 12, tzinfo=UTC))
    q = Quotas(storage, clock, daily=4, concurrent=5)
    await storage.set_cost_weight(GUILD, "1080p", 3)
    job = await reserve(q, request=VideoRequest(prompt="p q r", resolution="1080p"))
    assert job.cost == 3
    await storage.add_blocklist_entry(GUILD, "fox", is_regex=False, added_by=BOB, at=clock.now())
    with pytest.raises(PolicyRefusedError):
        await reserve(q)
    with pytest.raises(QuotaExceededError, match="quota"):
        await reserve(q, request=VideoRequest(prompt="p q r", resolution="1080p"))
    reasons = [(r["reason"], r["units"]) for r in await storage.audit_log(GUILD) if r["kind"] == "refusal"]
    assert sorted(reasons) == [("blocklist", 1), ("quota", 3)]


def test_refusal_reason_and_message_name_the_limit_that_was_hit():
    """Concurrent first, then the member's daily limit, then the server budget."""
    reset = datetime(2026, 3, 15, tzinfo=UTC)
    assert refusal_reason(Usage(0, 5, 2, 2, reset), 1) == "concurrent"
    assert refusal_reason(Usage(5, 5, 0, 2, reset, server_used=9, server_budget=10), 1) == "quota"
    over_budget = Usage(1, 5, 0, 2, reset, server_used=10, server_budget=10)
    assert refusal_reason(over_budget, 1) == "budget"
    assert "server budget resets" in refusal_message(over_budget, 1)
    assert Usage(1, 5, 0, 2, reset, videos_today=7) == Usage(1, 5, 0, 2, reset), "extra counts are not compared"


def test_quota_day_boundary_for_the_reset_shown_in_quota():
    """The reset shown by /quota is the coming midnight UTC on the bot's clock."""
    clock = ManualClock(datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC))
    from bot.quotas import next_reset

    assert next_reset(clock.now()) - clock.now() == timedelta(seconds=1)
