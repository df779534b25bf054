"""Reliability benchmark: prints figures, asserts nothing. Run: `.venv/bin/python bench/bench_reliability.py`.

Three parts, each in its own child process (simcord patches discord.py and asyncio):

1. burst  — 500 /video commands from 100 users (each sends 2 to 9, seeded) emitted into the real bot under simcord
            all at once, before the event loop runs any of them (simcord's actors allow one `slash` at a time, so
            the burst is dispatched the way `slash` does underneath: backend.emit("INTERACTION_CREATE")).
            Acknowledgement latency = wall clock (time.perf_counter) from each dispatch to the bot's interaction
            callback POST; "bot side" subtracts the time simcord spent inside its own in-process REST handlers.
            QUOTA_DAILY=5, QUOTA_CONCURRENT=5, MAX_ACTIVE_JOBS=10. Then virtual time runs until every accepted
            job is delivered: jobs lost, double deliveries, double charges, peak generations at the fake Luma.
2. crash  — the real job runner in a child process (tests/reliability/bot_process.py runner: real Storage,
            Quotas, LumaProvider; Discord modelled as an append-only channel file) SIGKILLed right after a post
            and before recording it, then at seeded random moments, then run to the end on the same database.
3. faults — the real bot under simcord against a fake Luma answering a seeded 30% of API requests with 5xx,
            with 413/403/429 injected on Discord: faults served, jobs ending in each state, refunds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "luma-bench-reliability-0123456789"
RESULT = "RESULT "
COMMANDS, USERS, DAILY, CONCURRENT, MAX_ACTIVE = 500, 100, 5, 5, 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def emit(**figures: Any) -> None:
    print(RESULT + json.dumps(figures), flush=True)


def bot_env(luma_url: str, data: Path, **extra: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "offline-bench", "VIDEO_PROVIDERS": "luma", "LUMAAI_API_KEY": KEY,
        "ALLOW_LOCAL_PROVIDER_URLS": "true",
        "LUMAAI_BASE_URL": luma_url, "DATABASE_URL": f"sqlite:///{data / 'reelbot.db'}", "DATA_DIR": str(data / "data"),
        "QUOTA_DAILY": str(DAILY), "QUOTA_CONCURRENT": str(CONCURRENT), "MAX_ACTIVE_JOBS": str(MAX_ACTIVE),
        "JOB_TIMEOUT_S": "7200", **extra,
    }  # fmt: skip


def job_rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT id, user_id, state, cost, result_message_id FROM jobs")]


def burst_plan(seed: int = 500) -> list[int]:
    rng = random.Random(seed)
    counts = [2] * USERS
    for _ in range(COMMANDS - sum(counts)):
        counts[rng.choice([u for u in range(USERS) if counts[u] < 9])] += 1
    order = [u for u, n in enumerate(counts) for _ in range(n)]
    rng.shuffle(order)
    return order


# --- 1. burst ---------------------------------------------------------------------------------------------


async def run_burst() -> None:
    import simcord
    from simcord import actors as sc_actors
    from simcord import interactions as sc_interactions
    from simcord.enums import AppCommandType, InteractionType
    from simcord.http import router as sc_router

    from bot.client import create_bot
    from cogs import _delivery
    from tests import simcord_ext
    from tests.fakes.luma import FakeLuma

    logging.basicConfig(level=logging.CRITICAL)
    simcord_ext.install()
    simcord_ext.speed_up_settling()
    acked: dict[str, float] = {}
    answers: dict[str, int] = {}  # interaction id → callback type; 4 with flags 64 = ephemeral refusal
    simulated: list[tuple[float, float]] = []
    original = sc_router.dispatch

    def stamped(backend, method, path, **kwargs):
        start = time.perf_counter()
        if method == "POST" and path.startswith("/interactions/") and path.endswith("/callback"):
            acked.setdefault(path.split("/")[2], start)
            data = (kwargs.get("json") or {}).get("data") or {}
            answers[path.split("/")[2]] = int(data.get("flags") or 0)
        try:
            return original(backend, method, path, **kwargs)
        finally:
            simulated.append((start, time.perf_counter()))

    sc_router.dispatch = stamped
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="reelbot-bench-") as tmp:
        async with FakeLuma(api_key=KEY, polls_to_complete=1, video_size=4096, max_active=None,
                            max_creates_per_minute=None, log_requests=False) as fake:  # fmt: skip
            bot = create_bot(bot_env(fake.base_url, Path(tmp)))
            async with simcord.run(bot, settle_timeout=5) as env:
                guild = env.create_guild("bench")
                channel = guild.create_text_channel("general")
                users = [guild.add_member(env.create_user(f"user{i}")) for i in range(USERS)]
                warm = guild.add_member(env.create_user("warm"))
                await warm.slash(channel, "video", prompt="warm-up prompt")  # first-use costs (imports, caches)
                # Timers longer than the burst (see tests/reliability/test_load.py), restored afterwards.
                luma = bot.runner.providers["luma"]
                luma.poll_interval, edit_interval = 600.0, _delivery.EDIT_INTERVAL
                _delivery.EDIT_INTERVAL = 600.0

                def payload(user, prompt: str) -> tuple[str, dict[str, Any]]:
                    root = sc_actors._resolve_visible_command(user, channel.id, "video", AppCommandType.CHAT_INPUT)
                    options, _ = sc_interactions.build_options(user, "video", root, {"prompt": prompt},
                                                               channel_id=channel.id)  # fmt: skip
                    data = {"id": root["id"], "name": root["name"], "type": AppCommandType.CHAT_INPUT, "options": options}
                    record, body = sc_interactions.base_payload(
                        env.backend, type=InteractionType.APPLICATION_COMMAND, channel_id=channel.id,
                        guild_id=guild.id, user_id=user.id, data=data,
                    )  # fmt: skip
                    return str(record.id), body

                plan = burst_plan()
                payloads = [(users[u], payload(users[u], f"a red fox in the snow, take {n}")) for n, u in enumerate(plan)]
                simulated.clear()
                profiler = None
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                dispatched: dict[str, tuple[float, int]] = {}
                for user, (interaction_id, body) in payloads:
                    dispatched[interaction_id] = (time.perf_counter(), user.id)
                    env.backend.emit("INTERACTION_CREATE", body)
                start = time.perf_counter()
                while len([i for i in dispatched if i in acked]) < COMMANDS and time.perf_counter() - start < 120:
                    await asyncio.sleep(0.002)
                figures["burst_acked_s"] = time.perf_counter() - start
                if profiler is not None:
                    import pstats

                    profiler.disable()
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
                await env.settle()
                raw, bot_side = [], []
                accepted: Counter[int] = Counter()
                sent: Counter[int] = Counter()
                for interaction_id, (at, user_id) in dispatched.items():
                    sent[user_id] += 1
                    ack = acked.get(interaction_id)
                    if ack is None:
                        continue
                    in_simcord = sum(max(0.0, min(end, ack) - max(s, at)) for s, end in simulated)
                    raw.append((ack - at) * 1000)
                    bot_side.append((ack - at - in_simcord) * 1000)
                    if not answers.get(interaction_id, 0) & 64:
                        accepted[user_id] += 1
                figures["acked"] = len(raw)
                for name, values in (("raw", raw), ("bot", bot_side)):
                    for q in (50, 95, 99):
                        figures[f"{name}_p{q}_ms"] = percentile(values, q)
                    figures[f"{name}_max_ms"] = max(values)
                figures["accepted"] = sum(accepted.values())
                figures["quota_exact"] = all(accepted[u] == min(n, DAILY) for u, n in sent.items())

                luma.poll_interval, _delivery.EDIT_INTERVAL = 3.0, edit_interval
                db = Path(tmp) / "reelbot.db"
                virtual, peak = 0.0, 0
                drain = time.perf_counter()
                while virtual < 7200:
                    rows = [r for r in job_rows(db) if r["user_id"] != warm.id]
                    if rows and all(r["state"] in ("completed", "failed", "cancelled") for r in rows):
                        break
                    await env.advance_time(15)
                    virtual += 15
                    peak = max(peak, fake.peak_active)
                figures["drain_real_s"] = time.perf_counter() - drain
                figures["drain_virtual_s"] = virtual
                rows = [r for r in job_rows(db) if r["user_id"] != warm.id]
                posts = Counter(r["result_message_id"] for r in rows if r["result_message_id"])
                figures["jobs"] = len(rows)
                figures["delivered"] = sum(1 for r in rows if r["state"] == "completed")
                figures["lost"] = sum(1 for r in rows if r["state"] != "completed")
                figures["double_deliveries"] = sum(n - 1 for n in posts.values())
                figures["double_charges"] = sum(1 for r in rows if r["cost"] > 1)
                figures["creates_at_luma"] = fake.create_count - 1  # minus the warm-up
                figures["peak_at_luma"] = max(peak, fake.peak_active)
                await bot.close()
    emit(**figures)


# --- 2. crash ------------------------------------------------------------------------------------------


async def run_crash(jobs: int, rounds: int) -> None:
    from tests.fakes.luma import FakeLuma
    from tests.reliability.test_signals import Child, rows

    figures: dict[str, Any] = {"jobs": jobs}
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="reelbot-crash-") as tmp:
        db, channel = Path(tmp) / "reelbot.db", Path(tmp) / "channel.jsonl"
        async with FakeLuma(api_key=KEY, polls_to_complete=4, max_active=None, max_creates_per_minute=None,
                            video_size=4096, log_requests=False) as fake:  # fmt: skip
            env = {"RELIABILITY_DB": str(db), "RELIABILITY_CHANNEL": str(channel), "RELIABILITY_BASE_URL": fake.base_url,
                   "RELIABILITY_KEY": KEY, "MAX_ACTIVE_JOBS": str(jobs)}  # fmt: skip
            kills = 0
            first = await Child.start("runner", {**env, "RELIABILITY_JOBS": str(jobs), "RELIABILITY_HOLD_AFTER": "3"})
            await first.wait_for("POSTED")
            first.process.send_signal(signal.SIGKILL)
            await first.exit_code(10)
            kills += 1
            for _ in range(rounds):
                child = await Child.start("runner", env)
                await child.wait_for("READY")
                await asyncio.sleep(rng.uniform(0.02, 0.3))
                if child.process.returncode is None:
                    child.process.send_signal(signal.SIGKILL)
                    kills += 1
                await child.exit_code(10)
            last = await Child.start("runner", env)
            await last.wait_for("DONE", timeout=120)
            await last.exit_code(10)
            creates = fake.create_count
        posts = [json.loads(line) for line in channel.read_text().splitlines()]
        per_job = Counter(p["job_id"] for p in posts)
        final = rows(db)
    completed = [r for r in final if r["state"] == "completed"]
    failed = [r for r in final if r["state"] == "failed"]
    figures.update(
        kills=kills, posts=len(posts), delivered=len(completed),
        # a job caught mid-submit (no provider id stored) is failed and refunded, never resent: not lost
        interrupted_refunded=sum(1 for r in failed if r["cost"] == 0 and per_job[r["id"]] == 0),
        # lost: not ended, ended without its post, or posted but not recorded as delivered
        lost=sum(1 for r in final if r["state"] not in ("completed", "failed"))
        + sum(1 for r in completed if per_job[r["id"]] != 1) + sum(1 for r in failed if per_job[r["id"]] or r["cost"]),
        double_posts=sum(n - 1 for n in per_job.values()), double_charges=sum(1 for r in final if r["cost"] > 1),
        charged_once=sum(1 for r in completed if r["cost"] == 1), creates_at_luma=creates,
    )  # fmt: skip
    emit(**figures)


# --- 3. faults -----------------------------------------------------------------------------------------------


async def run_faults(jobs: int) -> None:
    import simcord

    from bot.client import create_bot
    from tests import simcord_ext
    from tests.fakes.luma import FakeLuma

    logging.basicConfig(level=logging.CRITICAL)
    simcord_ext.install()
    simcord_ext.speed_up_settling()
    figures: dict[str, Any] = {"jobs": jobs}
    with tempfile.TemporaryDirectory(prefix="reelbot-faults-") as tmp:
        async with FakeLuma(api_key=KEY, polls_to_complete=3, video_size=4096, max_active=None,
                            max_creates_per_minute=None, log_requests=False) as fake:  # fmt: skip
            fake.random_faults(0.3, seed=11)
            bot = create_bot(bot_env(fake.base_url, Path(tmp), QUOTA_CONCURRENT="1"))
            async with simcord.run(bot, settle_timeout=2, check_errors=False) as env:
                guild = env.create_guild("faults")
                channel = guild.create_text_channel("general")
                users = [guild.add_member(env.create_user(f"user{i}")) for i in range(jobs)]
                discord_faults = 0
                for n, user in enumerate(users):
                    if n % 10 == 3:  # every tenth job: the upload is refused as too large once
                        env.inject_error("PATCH", "/webhooks/*", status=413, code=40005, times=1)
                        discord_faults += 1
                    elif n % 10 == 6:  # and another meets a 429 on an edit
                        env.inject_error("PATCH", "/webhooks/*", status=429, code=0, times=1)
                        discord_faults += 1
                    await user.slash(channel, "video", prompt=f"a red fox in the snow, take {n}")
                db = Path(tmp) / "reelbot.db"
                virtual = 0
                while virtual < 3600 and not all(r["state"] in ("completed", "failed") for r in job_rows(db)):
                    await env.advance_time(15)
                    virtual += 15
                rows = job_rows(db)
                figures.update(
                    provider_faults=len(fake.faults), create_faults=sum(1 for f in fake.faults if f[0] == "POST"),
                    discord_faults=discord_faults - len(env.backend.faults),
                    states=dict(Counter(r["state"] for r in rows)),
                    refunded=sum(1 for r in rows if r["state"] == "failed" and r["cost"] == 0),
                    charged_failures=sum(1 for r in rows if r["state"] == "failed" and r["cost"] != 0),
                    double_charges=sum(1 for r in rows if r["cost"] > 1), runner_alive=bot.runner.alive,
                    terminal=all(r["state"] in ("completed", "failed") for r in rows),
                )  # fmt: skip
                await bot.close()
    emit(**figures)


# --- orchestration ---------------------------------------------------------------------------------------------


def part(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True, check=False)  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
        print(line)
    raise RuntimeError(f"part {' '.join(args)} failed (exit {done.returncode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("burst", "crash", "faults"))
    parser.add_argument("--crash-jobs", type=int, default=40)
    parser.add_argument("--crash-rounds", type=int, default=6)
    parser.add_argument("--fault-jobs", type=int, default=60)
    args = parser.parse_args()
    if args.part == "burst":
        asyncio.run(run_burst())
        return
    if args.part == "crash":
        asyncio.run(run_crash(args.crash_jobs, args.crash_rounds))
        return
    if args.part == "faults":
        asyncio.run(run_faults(args.fault_jobs))
        return
    started = time.perf_counter()
    burst = part("--part", "burst")
    crash = part("--part", "crash", "--crash-jobs", str(args.crash_jobs), "--crash-rounds", str(args.crash_rounds))
    faults = part("--part", "faults", "--fault-jobs", str(args.fault_jobs))
    print(
        f"\nburst: {COMMANDS} /video from {USERS} users at once (QUOTA_DAILY={DAILY}, QUOTA_CONCURRENT={CONCURRENT}, "
        f"MAX_ACTIVE_JOBS={MAX_ACTIVE})\n"
        f"  acknowledged {burst['acked']}/{COMMANDS} (all within {burst['burst_acked_s']:.2f} s of wall clock)\n"
        f"  ack latency, bot side      p50 {burst['bot_p50_ms']:.1f} ms  p95 {burst['bot_p95_ms']:.1f} ms  "
        f"p99 {burst['bot_p99_ms']:.1f} ms  max {burst['bot_max_ms']:.1f} ms\n"
        f"  ack latency, incl. simcord p50 {burst['raw_p50_ms']:.1f} ms  p95 {burst['raw_p95_ms']:.1f} ms  "
        f"p99 {burst['raw_p99_ms']:.1f} ms  max {burst['raw_max_ms']:.1f} ms\n"
        f"  accepted {burst['accepted']}, quotas exact: {burst['quota_exact']}; delivered {burst['delivered']}/"
        f"{burst['jobs']}, jobs lost {burst['lost']}, double deliveries {burst['double_deliveries']}, "
        f"double charges {burst['double_charges']}; creates at Luma {burst['creates_at_luma']}; "
        f"peak generations at Luma {burst['peak_at_luma']} (cap {MAX_ACTIVE}); drain {burst['drain_virtual_s']:.0f} "
        f"virtual s in {burst['drain_real_s']:.1f} s\n"
        f"crash: {crash['jobs']} jobs, {crash['kills']} SIGKILLs (the first right after a post, before it was "
        f"recorded): delivered exactly once and charged once {crash['charged_once']}/{crash['jobs']}; caught mid-"
        f"submit, failed and refunded (never resent) {crash['interrupted_refunded']}; jobs lost {crash['lost']}, "
        f"double posts {crash['double_posts']}, double charges {crash['double_charges']}, creates at Luma "
        f"{crash['creates_at_luma']}\n"
        f"faults: {faults['jobs']} jobs; {faults['provider_faults']} provider 5xx served "
        f"({faults['create_faults']} on creates) + {faults['discord_faults']} Discord faults (413, 429) = "
        f"{faults['provider_faults'] + faults['discord_faults']} faults survived; states {faults['states']}; "
        f"failed jobs refunded {faults['refunded']}, failed but charged {faults['charged_failures']}, double charges "
        f"{faults['double_charges']}; every job terminal: {faults['terminal']}; runner alive: {faults['runner_alive']}\n"
        f"(bench took {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
