"""Load: 100 /video commands from 20 users in one burst of virtual time (simcord runs one command at a time,
so they are sent back to back with the clock stopped): every command is acknowledged, the quotas are exact,
MAX_ACTIVE_JOBS is never exceeded at the provider, and every accepted job is delivered exactly once.
Timings are printed, never asserted. The 500-command burst from 100 users runs in bench/bench_reliability.py
(part `burst`: jobs lost, double deliveries and charges, peak at Luma, printed) to keep this suite short."""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter

import pytest

from cogs import _delivery
from tests.e2e.helpers import advance_until, reply_of
from tests.reliability.helpers import jobs

COMMANDS, USERS = 100, 20
DAILY, CONCURRENT, MAX_ACTIVE = 5, 5, 10

pytestmark = [
    pytest.mark.simcord(settle_timeout=5),
    pytest.mark.bot_env(QUOTA_DAILY=str(DAILY), QUOTA_CONCURRENT=str(CONCURRENT), MAX_ACTIVE_JOBS=str(MAX_ACTIVE)),
]


def burst_plan(seed: int = 500) -> list[int]:
    """Which user sends each command: every user sends at least 2 and some up to 9, COMMANDS in all, shuffled."""
    rng = random.Random(seed)
    counts = [2] * USERS
    for _ in range(COMMANDS - sum(counts)):
        candidates = [u for u in range(USERS) if counts[u] < 9]
        counts[rng.choice(candidates)] += 1
    order = [u for u, n in enumerate(counts) for _ in range(n)]
    rng.shuffle(order)
    return order


async def test_a_burst_of_100_commands_from_20_users(simcord_env, simcord_bot, bot_env, world, fake_luma, monkeypatch):
    """Every command is acknowledged; each user gets exactly min(sent, 5) jobs; at most 10 run at Luma at once;
    every accepted job is delivered once and charged once."""
    guild, channel, _, _ = world
    fake_luma.max_active = None  # let the bot's own cap be what limits it, and measure the peak
    fake_luma.max_creates_per_minute = None
    fake_luma.polls_to_complete = 1
    fake_luma.video_size = 4096
    members = [guild.add_member(simcord_env.create_user(f"u{i}")) for i in range(USERS)]
    plan = burst_plan()
    # The burst takes seconds of real time, and simcord fires a parked timer in real time once its delay has
    # passed; a slash whose settle deadline falls just after such a timer must then finish that timer's work
    # (a poll cycle) in what is left of its deadline. Keep the bot's timers (polls, throttled status edits)
    # longer than the burst, then put them back: the first polls happen in virtual time after it.
    luma = simcord_bot.runner.providers["luma"]
    monkeypatch.setattr(luma, "poll_interval", 600.0)
    monkeypatch.setattr(_delivery, "EDIT_INTERVAL", 600.0)
    sent = Counter(plan)

    latencies, accepted, refused = [], Counter(), Counter()
    for user_index in plan:
        start = time.perf_counter()
        result = await members[user_index].slash(channel, "video", prompt=f"a red fox in the snow, take {user_index}")
        latencies.append(time.perf_counter() - start)
        assert result.acknowledged and reply_of(result) is not None
        if reply_of(result).ephemeral:
            assert "Nothing was charged" in reply_of(result).content
            refused[user_index] += 1
        else:
            accepted[user_index] += 1
    assert all(accepted[u] == min(sent[u], DAILY) for u in range(USERS)), "quotas exact"
    assert all(refused[u] == sent[u] - accepted[u] for u in range(USERS))

    total = sum(accepted.values())
    monkeypatch.undo()
    # Draining the accepted jobs: one advance_time step delivers dozens of clips and edits hundreds of queued statuses;
    # give each step more real time than a command gets (virtual timers stay parked while time advances).
    monkeypatch.setattr(simcord_env, "settle_timeout", 30.0)
    peak = 0

    def all_done() -> bool:
        nonlocal peak
        peak = max(peak, fake_luma.peak_active)
        return all(r["state"] == "completed" for r in jobs(bot_env))

    virtual = await advance_until(simcord_env, all_done, step=10, limit=7200)
    rows = jobs(bot_env)
    assert len(rows) == total
    assert all(r["cost"] == 1 and r["result_message_id"] for r in rows), "delivered and charged once each"
    assert len({r["result_message_id"] for r in rows}) == total
    assert fake_luma.create_count == total, "each job created once at the provider"
    assert fake_luma.peak_active <= MAX_ACTIVE, f"peak {fake_luma.peak_active} at Luma"
    assert Counter(r["user_id"] for r in rows) == Counter({m.id: accepted[i] for i, m in enumerate(members)})
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"\nload: {COMMANDS} commands, {total} accepted, {COMMANDS - total} refused by quota; ack (slash wall time) "
        f"p50 {statistics.median(ms):.1f} ms, p99 {ms[int(0.99 * len(ms)) - 1]:.1f} ms, max {ms[-1]:.1f} ms; "
        f"peak at Luma {fake_luma.peak_active}/{MAX_ACTIVE}; all delivered after {virtual:.0f} virtual s"
    )
