"""Burst benchmark (issue 13): prints figures against their goals, asserts nothing.
Run: `.venv/bin/python bench/bench_burst.py [--bursts 100,500,1000] [--runs 3] [--no-others]`

Offline: discord.py bots under simcord 3.2.1, a fake Luma answering every request after 100 ms in a helper process
on 127.0.0.1 (Luma is remote in production: its CPU is not charged to the bot). Each run is one child process and
one event loop; in it, for each burst size, three bots are measured one after another under the same simcord
setup (settle_timeout=1, tests/simcord_ext.py installed), each with one warm-up /video first:

  floor      a /video that only acknowledges (bench/_burst_bots.py FloorBot: a public defer, nothing else);
  reference  a minimal well-written bot: defers first, one SQLite INSERT through aiosqlite, edits the answer;
  reelbot    the real bot from create_bot(env) (QUOTA_DAILY=5, QUOTA_CONCURRENT=5, MAX_ACTIVE_JOBS=10).

The burst: N /video commands from N distinct users, every INTERACTION_CREATE handed to simcord's gateway
(backend.emit, which runs discord.py's gateway parser for it at once) in one go, before the loop runs any of them.
ack = wall-clock (time.perf_counter) from just before interaction i is emitted to the moment the bot's interaction
callback POST for i (whatever its type) enters simcord's REST router. It excludes nothing: discord.py's parsing of
the later interactions of the burst, simcord's in-process REST handling, other commands' work, garbage collection
all count. Per burst: p99 (nearest rank) and acks over Discord's 3 s (an interaction never answered counts).

reelbot also: its 100 and 500 bursts drain (virtual time until every job ends; the fake Luma finishes a clip on
its second poll): status edits per job = PATCHes to the job's status message by any route (channel message,
webhook message, @original when that is the status message), the final result edit included; jobs lost = jobs
not delivered + acknowledged commands that left no delivered job. A refusal burst (a quarter accepted; the rest
refused by a daily limit of 0, a server block, or a blocklisted word): anything shown publicly for a refused
request (a type 4/5 callback without flag 64, a public follow-up, a channel message mentioning the user) counts,
even if deleted later.

The final section runs bench_reservations.py --json and bench_foundation.py --part inflight / relay as
subprocesses and prints the figures of their RESULT lines beside their goals (`--no-others` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _burst_calls import Call, answered, by_interaction, edits_by_message, mentions, public_content_at, public_shown  # noqa: E402
from bench_foundation import RESULT_PREFIX, git_state, percentile  # noqa: E402

LUMA_KEY = "luma-bench-burst-0123456789"
LATENCY_S = 0.100
BOTS = ("floor", "reference", "reelbot")
DEFAULT_BURSTS = (100, 500, 1000)
DRAINED = (100, 500)  # reelbot bursts that also drain (edits per job, jobs lost)
REFUSAL_BURST = 240  # a quarter accepted, a quarter each refused by daily limit 0, a block, the blocklist
BLOCKED_WORD = "zeppelin"
DEADLINE_S = 3.0
GOAL_RATIO = 1.25
ACK_WAIT_S = 60.0
TERMINAL = ("completed", "failed", "cancelled")


def progress(text: str) -> None:
    print(f"[bench_burst {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ================================================================================================
# Helper process: the fake Luma, 100 ms per request
# ================================================================================================


async def serve() -> None:
    from aiohttp import web

    from tests.fakes.luma import FakeLuma

    class SlowLuma(FakeLuma):
        @web.middleware
        async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
            await asyncio.sleep(LATENCY_S)
            return await super()._middleware(request, handler)

    async with SlowLuma(api_key=LUMA_KEY, polls_to_dream=1, polls_to_complete=1, video_size=4096, max_active=None,
                        max_creates_per_minute=None, log_requests=False) as luma:  # fmt: skip
        print(json.dumps({"luma": luma.base_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


@contextlib.contextmanager
def helper_process():
    helper = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--part", "serve"], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert helper.stdout is not None
        yield json.loads(helper.stdout.readline())
    finally:
        if helper.stdin is not None:
            helper.stdin.close()
        try:
            helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            helper.kill()


# ================================================================================================
# Inside a run: simcord's REST router stamped, bots built, bursts fired
# ================================================================================================


class Rest:
    """Every REST call any bot makes into simulated Discord, and when each interaction's callback arrived."""

    def __init__(self) -> None:
        self.acked: dict[str, float] = {}
        self.calls: list[Call] = []
        self.patch_at: list[float] = []  # virtual time of every PATCH (edits per second)

    def install(self) -> None:
        from simcord.http import router

        original = router.dispatch

        def stamped(backend, method, path, **kwargs):
            now = time.perf_counter()
            if method == "POST" and path.endswith("/callback") and path.startswith("/interactions/"):
                self.acked.setdefault(path.split("/")[2], now)
            self.calls.append((method, path, kwargs.get("json"), now))
            if method == "PATCH":
                self.patch_at.append(backend.clock.elapsed)
            return original(backend, method, path, **kwargs)

        router.dispatch = stamped

    def reset(self) -> None:
        self.acked, self.calls, self.patch_at = {}, [], []


REST = Rest()


def reelbot_env(luma_url: str, data: Path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "offline-bench", "VIDEO_PROVIDERS": "luma", "LUMAAI_API_KEY": LUMA_KEY,
        "LUMAAI_BASE_URL": luma_url, "ALLOW_LOCAL_PROVIDER_URLS": "true",
        "DATABASE_URL": f"sqlite:///{data / 'reelbot.db'}", "DATA_DIR": str(data / "data"),
        "QUOTA_DAILY": "5", "QUOTA_CONCURRENT": "5", "MAX_ACTIVE_JOBS": "10", "JOB_TIMEOUT_S": "7200",
    }  # fmt: skip


def make_bot(kind: str, luma_url: str, data: Path):
    from _burst_bots import FloorBot, ReferenceBot

    from bot.client import create_bot

    data.mkdir(parents=True, exist_ok=True)
    if kind == "floor":
        return FloorBot()
    if kind == "reference":
        return ReferenceBot(data / "reference.db")
    return create_bot(reelbot_env(luma_url, data))


def command_payload(env, guild, channel, user, prompt: str) -> tuple[str, str, dict[str, Any]]:
    """What `user.slash(channel, "video", prompt=…)` emits, built without dispatching it: (id, token, payload).
    simcord's actors allow one `slash` at a time, so a burst is emitted the way `slash` does underneath."""
    from simcord import actors, interactions
    from simcord.enums import AppCommandType, InteractionType

    root = actors._resolve_visible_command(user, channel.id, "video", AppCommandType.CHAT_INPUT)
    options, _ = interactions.build_options(user, "video", root, {"prompt": prompt}, channel_id=channel.id)
    data = {"id": root["id"], "name": root["name"], "type": AppCommandType.CHAT_INPUT, "options": options}
    record, payload = interactions.base_payload(
        env.backend, type=InteractionType.APPLICATION_COMMAND, channel_id=channel.id, guild_id=guild.id,
        user_id=user.id, data=data,
    )  # fmt: skip
    return str(record.id), record.token, payload


async def fire(env, payloads: list[tuple[str, str, dict[str, Any]]]) -> dict[str, float]:
    """Emit the whole burst in one go, then wait (real time) until every interaction has its callback."""
    gc.collect()  # every bot starts its burst from a collected heap
    REST.reset()
    dispatched: dict[str, float] = {}
    for interaction_id, _, payload in payloads:
        dispatched[interaction_id] = time.perf_counter()
        env.backend.emit("INTERACTION_CREATE", payload)
    deadline = time.perf_counter() + ACK_WAIT_S
    while len(REST.acked.keys() & dispatched.keys()) < len(dispatched) and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    return dispatched


async def settle(env, budget_s: float = 120.0) -> None:
    """simcord's settle gives up after settle_timeout (1 s) of real time; a big burst's tail may need more."""
    deadline = time.perf_counter() + budget_s
    while True:
        try:
            await env.settle()
            return
        except TimeoutError:
            if time.perf_counter() > deadline:
                raise


def ack_figures(dispatched: dict[str, float]) -> dict[str, Any]:
    latencies = [(REST.acked[i] - at) * 1000 for i, at in dispatched.items() if i in REST.acked]
    missing = len(dispatched) - len(latencies)
    figures: dict[str, Any] = {"acked": len(latencies), "over_3s": missing + sum(ms > DEADLINE_S * 1000 for ms in latencies)}
    for q in (50, 99):
        figures[f"p{q}_ms"] = percentile(latencies, q) if latencies and not missing else float("inf")
    figures["max_ms"] = max(latencies) if latencies and not missing else float("inf")
    return figures


def status_p99(dispatched: dict[str, float], payloads) -> float | None:
    """p99 of emit → the channel sees the request's status (a message with content, not a bare "thinking…");
    None for a bot that never shows one (the floor)."""
    grouped = by_interaction(REST.calls, {token: i for i, token, _ in payloads})
    shown = {i: public_content_at(grouped.get(i, [])) for i in dispatched}
    if all(at is None for at in shown.values()):
        return None
    return percentile([(at - dispatched[i]) * 1000 if at is not None else float("inf") for i, at in shown.items()], 99)


def job_rows(db: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT id, user_id, state, status_message_id, result_message_id FROM jobs")]


async def world(env, count: int):
    guild = env.create_guild("bench")
    channel = guild.create_text_channel("general")
    users = [guild.add_member(env.create_user(f"user{i}")) for i in range(count)]
    warm = guild.add_member(env.create_user("warm"))
    await warm.slash(channel, "video", prompt="warm-up: first-use costs (imports, caches, the database)")
    await settle(env)
    return guild, channel, users, warm


async def one_burst(kind: str, count: int, luma_url: str, data: Path, drain: bool) -> dict[str, Any]:
    import simcord

    bot = make_bot(kind, luma_url, data)
    async with simcord.run(bot, settle_timeout=1) as env:
        guild, channel, users, warm = await world(env, count)
        payloads = [command_payload(env, guild, channel, u, f"a red fox running through snow, take {n}")
                    for n, u in enumerate(users)]  # fmt: skip
        started = time.perf_counter()
        dispatched = await fire(env, payloads)
        figures = ack_figures(dispatched)
        await settle(env)
        figures["done_s"] = time.perf_counter() - started
        figures["gc_objects"] = len(gc.get_objects())
        figures["status_p99_ms"] = status_p99(dispatched, payloads)
        if drain:
            figures.update(await drain_jobs(env, data / "reelbot.db", payloads, warm.id, [u.id for u in users]))
        await bot.close()
    return figures


async def drain_jobs(env, db: Path, payloads, warm_id: int, users: list[int]) -> dict[str, Any]:
    """Virtual time until every job of the burst has ended; then edits per status message and jobs lost."""
    env.settle_timeout = 10.0  # each advance's real-time budget: 10 generations at a time, 100 ms per request
    started, virtual = time.perf_counter(), 0.0
    while virtual < 4 * 3600:
        rows = [r for r in job_rows(db) if r["user_id"] != warm_id]
        if len(rows) >= len(payloads) and all(r["state"] in TERMINAL for r in rows):
            break
        with contextlib.suppress(TimeoutError):  # partial progress is kept; the next advance goes on
            await env.advance_time(15)
        virtual += 15
    rows = [r for r in job_rows(db) if r["user_id"] != warm_id]
    tokens = {token: interaction_id for interaction_id, token, _ in payloads}
    originals = {token: env.backend.interactions[int(i)].message_id for token, i in tokens.items()}
    edits = edits_by_message(REST.calls, originals)
    per_job = [edits[r["status_message_id"]] for r in rows if r["status_message_id"]]
    delivered_users = {r["user_id"] for r in rows if r["state"] == "completed"}
    per_second = Counter(int(at) for at in REST.patch_at)
    return {
        "drain_real_s": time.perf_counter() - started, "drain_virtual_s": virtual, "jobs": len(rows),
        "delivered": sum(r["state"] == "completed" for r in rows),
        "jobs_lost": sum(r["state"] != "completed" for r in rows),
        "acked_then_lost": sum(1 for (i, _, _), user_id in zip(payloads, users, strict=True)
                               if i in REST.acked and user_id not in delivered_users),
        "edits_per_job_mean": statistics.fmean(per_job) if per_job else float("nan"),
        "edits_per_job_max": max(per_job, default=0), "jobs_with_status": len(per_job),
        "edits_per_virtual_s_peak": max(per_second.values(), default=0),
    }  # fmt: skip


async def refusal_burst(luma_url: str, data: Path) -> dict[str, Any]:
    """reelbot only: a burst where three quarters are refused; what the channel saw of each refused request."""
    import simcord

    bot = make_bot("reelbot", luma_url, data)
    async with simcord.run(bot, settle_timeout=1) as env:
        guild, channel, users, _ = await world(env, REFUSAL_BURST)
        why: dict[int, str] = {}
        for n, user in enumerate(users):
            why[user.id] = ("accepted", "daily limit 0", "blocked", "blocklist")[n % 4]
            if why[user.id] == "daily limit 0":
                await bot.storage.set_user_limits(guild.id, user.id, daily_limit=0)
            elif why[user.id] == "blocked":
                await bot.storage.set_user_limits(guild.id, user.id, blocked=True)
        await bot.storage.add_blocklist_entry(guild.id, BLOCKED_WORD, is_regex=False, added_by=1,
                                              at=datetime.now(UTC))  # fmt: skip
        payloads, owner = [], {}
        for n, user in enumerate(users):
            word = BLOCKED_WORD if why[user.id] == "blocklist" else "fox"
            payloads.append(command_payload(env, guild, channel, user, f"a red {word} over the hills, take {n}"))
            owner[payloads[-1][0]] = user.id
        dispatched = await fire(env, payloads)
        figures = ack_figures(dispatched)
        await settle(env)
        calls = list(REST.calls)
        grouped = by_interaction(calls, {token: i for i, token, _ in payloads})
        jobs = Counter(r["user_id"] for r in job_rows(data / "reelbot.db"))
        refused_users = {u for u, reason in why.items() if reason != "accepted"}
        in_channel = mentions(calls, refused_users)
        seen: Counter[str] = Counter()
        public_accepted = refused_seen = refused_answered = 0
        for interaction_id, user_id in owner.items():
            shown = [what for _, what in public_shown(grouped.get(interaction_id, []))]
            if why[user_id] == "accepted":
                public_accepted += bool(shown) and jobs[user_id] == 1
                continue
            shown += ["channel message mentioning them"] * in_channel[user_id]
            seen.update(shown)
            refused_seen += bool(shown)
            refused_answered += answered(grouped.get(interaction_id, []))
        figures.update(
            refused=len(refused_users), refused_seen=refused_seen, seen_how=dict(seen), refused_answered=refused_answered,
            refused_given_a_job=sum(1 for u in refused_users if jobs[u]), accepted=len(users) - len(refused_users),
            accepted_shown_publicly=public_accepted,
        )  # fmt: skip
        await bot.close()
    return figures


async def run_child(bursts: list[int], luma_url: str, run: int) -> None:
    from tests import simcord_ext

    logging.basicConfig(level=logging.ERROR)
    simcord_ext.install()
    simcord_ext.speed_up_settling()
    REST.install()
    result: dict[str, Any] = {"bursts": {}}
    with tempfile.TemporaryDirectory(prefix="reelbot-bench-burst-") as tmp:
        for count in bursts:
            result["bursts"][str(count)] = figures = {}
            for kind in BOTS:
                started = time.perf_counter()
                drain = kind == "reelbot" and count in DRAINED
                figures[kind] = await one_burst(kind, count, luma_url, Path(tmp) / f"{kind}-{count}", drain)
                progress(f"run {run}: {count:>5} × /video  {kind:<9} ack p99 {figures[kind]['p99_ms']:8.1f} ms, "
                         f"over 3 s {figures[kind]['over_3s']}  ({time.perf_counter() - started:.1f} s)")  # fmt: skip
        started = time.perf_counter()
        result["refusals"] = await refusal_burst(luma_url, Path(tmp) / "refusals")
        progress(f"run {run}: refusal burst: seen publicly {result['refusals']['refused_seen']} "
                 f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ================================================================================================
# Orchestration: three runs, the other benches, the table
# ================================================================================================


def result_of(command: list[str], timeout: float = 900) -> dict[str, Any] | None:
    """The last RESULT line a bench subprocess printed (None, with its output shown, when there is none)."""
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False, timeout=timeout)
    found = [line[len(RESULT_PREFIX) :] for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if found:
        return json.loads(found[-1])
    progress(f"{' '.join(command[1:])} gave no RESULT line (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return None


Row = tuple[str, str, str, str]  # figure, value, goal, verdict

# The other benches' figures: (label, bench args, RESULT key candidates, goal text, test). New keys can be added
# here as those benches grow; a missing key prints "n/a".
OTHERS: list[tuple[str, list[str], tuple[str, ...], str, Any]] = [
    ("reservations/s, SQLite worst case (budget+cooldown, day of 10k jobs)", ["bench_reservations.py", "--json"],
     ("worst_case_per_s",), ">= 2,000/s", lambda v: v >= 2000),
    ("reservations/s, PostgreSQL worst case", ["bench_reservations.py", "--json"],
     ("postgres_worst_case_per_s",), "beside it", None),
    ("event-loop longest stall, 1,000 jobs in flight (GC included)", ["bench_foundation.py", "--part", "inflight"],
     ("stall_max_ms",), "<= 10 ms", lambda v: v <= 10),
    ("event-loop longest stall, 500-job delivery phase", ["bench_foundation.py", "--part", "inflight"],
     ("delivery_stall_max_ms",), "<= 10 ms", lambda v: v <= 10),
    ("memory per in-flight job (traced heap), KB", ["bench_foundation.py", "--part", "inflight"],
     ("heap_per_job_kb",), "<= 50 KB", lambda v: v <= 50),
    ("peak RSS added relaying a 100 MB clip, MB", ["bench_foundation.py", "--part", "relay"],
     ("peak_rss_added_mb",), "<= 8 MB", lambda v: v <= 8),
]  # fmt: skip


def run_others() -> list[Row]:
    cache: dict[tuple[str, ...], dict[str, Any] | None] = {}
    rows = []
    for label, args, keys, goal, test in OTHERS:
        if tuple(args) not in cache:
            started = time.perf_counter()
            cache[tuple(args)] = result_of([sys.executable, str(ROOT / "bench" / args[0]), *args[1:]])
            progress(f"{' '.join(args)}: {time.perf_counter() - started:.0f} s")
        figures = cache[tuple(args)] or {}
        value = next((figures[k] for k in keys if isinstance(figures.get(k), int | float)), None)
        shown = "n/a" if value is None else f"{value:,.1f}"
        verdict = "—" if value is None or test is None else ("met" if test(value) else "NOT met")
        rows.append((label, shown, goal, verdict))
    return rows


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    finite = [v for v in values if v is not None and v == v]
    if not finite:
        return "n/a"
    low, mid, high = min(finite), statistics.median(finite), max(finite)
    text = fmt.format(mid)
    return text if low == high else f"{text} [{fmt.format(low)}–{fmt.format(high)}]"


def ack_table(runs: list[dict[str, Any]], bursts: list[int]) -> None:
    print(f"\nack p99 (ms): wall-clock from emit to callback POST, nothing excluded; median [range] of {len(runs)} runs")
    header = (f"{'burst':>6} | {'reelbot':>20} | {'floor':>18} | {'reference':>18} | {'reelbot/floor':>20} | "
              f"{'goal':>7} | acks > 3 s reelbot/floor/ref (goal 0 at 1,000)")  # fmt: skip
    print(header + "\n" + "-" * len(header))
    for count in bursts:
        per = {kind: [run["bursts"][str(count)][kind] for run in runs] for kind in BOTS}
        p99 = {kind: spread([b["p99_ms"] for b in per[kind]]) for kind in BOTS}
        ratios = [r["p99_ms"] / f["p99_ms"] for r, f in zip(per["reelbot"], per["floor"], strict=True)]
        over = "/".join(spread([b["over_3s"] for b in per[kind]]) for kind in BOTS)
        if count < 1000:
            goal, met = f"≤ {GOAL_RATIO}×", statistics.median(ratios) <= GOAL_RATIO
        else:
            goal, met = "0 > 3 s", max(b["over_3s"] for b in per["reelbot"]) == 0
        print(f"{count:>6} | {p99['reelbot']:>20} | {p99['floor']:>18} | {p99['reference']:>18} | "
              f"{spread(ratios, '{:.2f}×'):>20} | {goal:>7} | {over}  {'met' if met else 'NOT met'}")  # fmt: skip


def reelbot_rows(runs: list[dict[str, Any]], bursts: list[int]) -> list[Row]:
    refusals = [run["refusals"] for run in runs]
    seen, public = [r["refused_seen"] for r in refusals], [r["accepted_shown_publicly"] for r in refusals]
    accepted = refusals[0]["accepted"]
    rows: list[Row] = [
        (f"refused requests with anything shown publicly, of {refusals[0]['refused']}", spread(seen), "0",
         "met" if max(seen) == 0 else "NOT met"),
        (f"refused requests answered (privately), of {refusals[0]['refused']} (sanity)",
         spread([r["refused_answered"] for r in refusals]), str(refusals[0]["refused"]),
         "met" if min(r["refused_answered"] for r in refusals) == refusals[0]["refused"] else "NOT met"),
        (f"accepted requests shown publicly, of {accepted} (sanity)", spread(public), str(accepted),
         "met" if min(public) == accepted else "NOT met"),
    ]  # fmt: skip
    for count in bursts:
        per = {kind: [run["bursts"][str(count)][kind]["status_p99_ms"] for run in runs] for kind in ("reelbot", "reference")}
        rows.append((f"public status shown, p99 ms, {count}-burst (reference: {spread(per['reference'])})",
                     spread(per["reelbot"]), "—", ""))  # fmt: skip
    for count in (c for c in DRAINED if c in bursts):
        drained = [run["bursts"][str(count)]["reelbot"] for run in runs]
        lost = [d["jobs_lost"] + d["acked_then_lost"] for d in drained]
        rows += [
            (f"status edits per job, {count}-burst drained: mean", spread([d["edits_per_job_mean"] for d in drained],
             "{:.1f}"), "flat in queue size", "—"),
            (f"status edits per job, {count}-burst drained: max", spread([d["edits_per_job_max"] for d in drained]), "", ""),
            (f"status edits in the busiest virtual second, {count}-burst",
             spread([d["edits_per_virtual_s_peak"] for d in drained]), "capped", "—"),
            (f"jobs lost + acknowledged-then-lost, {count}-burst drained", spread(lost), "0",
             "met" if max(lost) == 0 else "NOT met"),
        ]  # fmt: skip
    if all(c in bursts for c in DRAINED):
        small, big = ([run["bursts"][str(c)]["reelbot"]["edits_per_job_mean"] for run in runs] for c in DRAINED)
        ratios = [b / s for b, s in zip(big, small, strict=True) if s]
        label = f"status edits per job, {DRAINED[1]}-burst ÷ {DRAINED[0]}-burst"
        rows.append((label, spread(ratios, "{:.2f}×"), "≈ 1×", "—"))
    return rows


def details(runs: list[dict[str, Any]], bursts: list[int]) -> None:
    middle = runs[len(runs) // 2]
    print("\ndetails (one run):")
    for count in bursts:
        figures = middle["bursts"][str(count)]
        print(f"  {count}: " + "; ".join(f"{kind} p50 {b['p50_ms']:.0f} / max {b['max_ms']:.0f} ms, all settled "
                                         f"{b['done_s']:.2f} s" for kind, b in figures.items()))  # fmt: skip
        reel = figures["reelbot"]
        if "drain_real_s" in reel:
            print(f"  {count} drained: {reel['delivered']}/{reel['jobs']} delivered, {reel['jobs_with_status']} with a "
                  f"status message, {reel['drain_virtual_s']:.0f} virtual s in {reel['drain_real_s']:.1f} s")  # fmt: skip
    r = middle["refusals"]
    print(f"  refusal burst: ack p99 {r['p99_ms']:.0f} ms, over 3 s {r['over_3s']}; shown publicly, by kind: "
          f"{r['seen_how'] or 'nothing'}; refused but given a job {r['refused_given_a_job']}")  # fmt: skip


def report(runs: list[dict[str, Any]], bursts: list[int], others: list[Row] | None) -> None:
    ack_table(runs, bursts)
    rows = reelbot_rows(runs, bursts) + (others or [])
    print("\nreelbot beyond the ack" + (", and the other benches' figures" if others else ""))
    width = max(len(r[0]) for r in rows)
    for label, value, goal, verdict in rows:
        print(f"  {label:<{width}}  {value:>18}   {goal:<18} {verdict}")
    details(runs, bursts)


def summary(runs: list[dict[str, Any]], bursts: list[int]) -> dict[str, Any]:
    """The headline figures as one RESULT line (medians over the runs; worst case for counts that must be 0)."""
    figures: dict[str, Any] = {"runs": len(runs)}
    for count in bursts:
        per = {kind: [run["bursts"][str(count)][kind] for run in runs] for kind in BOTS}
        for kind in BOTS:
            figures[f"{kind}_p99_ms_{count}"] = statistics.median(b["p99_ms"] for b in per[kind])
        figures[f"ratio_{count}"] = statistics.median(
            r["p99_ms"] / f["p99_ms"] for r, f in zip(per["reelbot"], per["floor"], strict=True)
        )
        figures[f"reelbot_over_3s_{count}"] = max(b["over_3s"] for b in per["reelbot"])
        figures[f"reelbot_status_p99_ms_{count}"] = statistics.median(b["status_p99_ms"] for b in per["reelbot"])
        if count in DRAINED:
            figures[f"edits_per_job_{count}"] = statistics.median(b["edits_per_job_mean"] for b in per["reelbot"])
            figures[f"lost_{count}"] = max(b["jobs_lost"] + b["acked_then_lost"] for b in per["reelbot"])
    figures["refused_seen"] = max(run["refusals"]["refused_seen"] for run in runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("serve", "run"), help="internal")
    parser.add_argument("--luma", default="", help="internal: the helper's fake Luma URL")
    parser.add_argument("--run", type=int, default=1, help="internal: which run this child is")
    parser.add_argument("--bursts", default=",".join(map(str, DEFAULT_BURSTS)), help="burst sizes (default all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-others", action="store_true", help="skip the other benches' figures")
    options = parser.parse_args()
    bursts = [int(b) for b in options.bursts.split(",") if b]
    if options.part == "serve":
        asyncio.run(serve())
        return
    if options.part == "run":
        asyncio.run(run_child(bursts, options.luma, options.run))
        return
    started = time.perf_counter()
    print(f"reelbot burst benchmark: {git_state()}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; "
          f"fake Luma {LATENCY_S * 1000:.0f} ms per request; bursts {bursts}, {options.runs} runs")  # fmt: skip
    runs = []
    with helper_process() as urls:
        for run in range(1, options.runs + 1):
            command = [sys.executable, str(Path(__file__).resolve()), "--part", "run", "--run", str(run),
                       "--luma", urls["luma"], "--bursts", options.bursts]  # fmt: skip
            figures = result_of(command)
            if figures is None:
                raise SystemExit(f"run {run} failed")
            runs.append(figures)
    core_s = time.perf_counter() - started
    others = None if options.no_others else run_others()
    report(runs, bursts, others)
    print("\n" + RESULT_PREFIX + json.dumps(summary(runs, bursts)))
    print(f"\n(bursts and refusals {core_s:.0f} s, other benches {time.perf_counter() - started - core_s:.0f} s)")


if __name__ == "__main__":
    main()
