"""Processes stopped from outside: SIGTERM stops the bot cleanly within 10 s keeping every job, and a SIGKILL
mid-job loses nothing on restart. The children are real processes (tests/reliability/bot_process.py says what
is real and what is modelled); the FakeLuma they talk to is served by this test's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.fakes.luma import FakeLuma

ROOT = Path(__file__).resolve().parents[2]
KEY = "luma-signals-secret-0123456789"
STOP_LIMIT_S = 10.0


class Child:
    """One `python -m tests.reliability.bot_process MODE` with its stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, mode: str, env: dict[str, str]) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.reliability.bot_process", mode, cwd=ROOT,
            env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return cls(process)

    async def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        """The next stdout line starting with `prefix` (earlier lines are kept in self.lines)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {prefix!r} line; output so far:\n" + "\n".join(self.lines)
            raw = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            if not raw:
                raise AssertionError(f"exited before {prefix!r}:\n" + "\n".join(self.lines))
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    async def exit_code(self, timeout: float) -> int:
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), timeout)
        self.lines += rest.decode(errors="replace").splitlines()
        return await asyncio.wait_for(self.process.wait(), timeout)

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT id, user_id, state, cost, provider_job_id, result_message_id "
                                              "FROM jobs ORDER BY id")]  # fmt: skip


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- SIGTERM ---------------------------------------------------------------------------------------


def bot_env(tmp_path: Path, fake: FakeLuma) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "offline-token-not-used",
        "VIDEO_PROVIDERS": "luma",
        "LUMAAI_API_KEY": KEY,
        "LUMAAI_BASE_URL": fake.base_url,
        "ALLOW_LOCAL_PROVIDER_URLS": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "MAX_ACTIVE_JOBS": "2",
        "RELIABILITY_POLL_INTERVAL": "0.05",
        "LOG_LEVEL": "INFO",
    }


async def sigterm(child: Child) -> tuple[int, float]:
    started = time.monotonic()
    child.process.send_signal(signal.SIGTERM)
    code = await child.exit_code(STOP_LIMIT_S + 5)
    return code, time.monotonic() - started


async def test_sigterm_stops_within_10s_keeps_every_job_and_the_next_start_resumes(tmp_path):
    """`python -m bot`'s serve(): SIGTERM mid-job exits 0 in under 10 s with every job row intact; a new process
    polls the running generations again, never resubmits them, and keeps the queued ones queued."""
    async with FakeLuma(api_key=KEY, polls_to_complete=None, max_active=None) as fake:
        env = bot_env(tmp_path, fake)
        db = tmp_path / "reelbot.db"
        child = await Child.start("serve", {**env, "RELIABILITY_JOBS": "4"})
        try:
            await child.wait_for("QUEUED 4")
            await until(lambda: sum(1 for r in rows(db) if r["state"] == "running" and r["provider_job_id"]) == 2)
            await until(lambda: all(g.polls >= 2 for g in fake.generations.values()))
            before = rows(db)
            code, took = await sigterm(child)
        finally:
            child.kill()
        assert code == 0, "\n".join(child.lines)
        assert took < STOP_LIMIT_S, f"stopping took {took:.1f}s"
        assert any("stop signal received" in line for line in child.lines)
        assert rows(db) == before, "every job keeps its state (nothing failed, refunded or lost)"
        assert sorted(r["state"] for r in before) == ["queued", "queued", "running", "running"]
        assert all(r["cost"] == 1 for r in before)

        polls = {gen_id: gen.polls for gen_id, gen in fake.generations.items()}
        again = await Child.start("serve", env)
        try:
            await again.wait_for("READY")
            await until(lambda: all(fake.generations[g].polls > polls[g] for g in polls))
            assert fake.create_count == 2, "running jobs are polled again, never resubmitted"
            assert rows(db) == before
            code, took = await sigterm(again)
        finally:
            again.kill()
        assert code == 0 and took < STOP_LIMIT_S


# --- SIGKILL mid-job ------------------------------------------------------------------------------------


async def test_sigkill_mid_job_then_restart_delivers_every_job_exactly_once_and_charges_once(tmp_path):
    """A runner process SIGKILLed right after posting a clip (before recording it), then killed again at seeded
    random moments, and finally run to the end on the same database: every job is posted exactly once, completed,
    charged exactly once, and created once at the provider."""
    jobs = 12
    channel = tmp_path / "channel.jsonl"
    db = tmp_path / "reelbot.db"
    async with FakeLuma(api_key=KEY, polls_to_complete=4, max_active=None, video_size=4096) as fake:
        env = {
            "RELIABILITY_DB": str(db), "RELIABILITY_CHANNEL": str(channel), "RELIABILITY_BASE_URL": fake.base_url,
            "RELIABILITY_KEY": KEY, "MAX_ACTIVE_JOBS": str(jobs),
        }  # fmt: skip
        first = await Child.start("runner", {**env, "RELIABILITY_JOBS": str(jobs), "RELIABILITY_HOLD_AFTER": "4"})
        try:
            held = await first.wait_for("POSTED")
            assert all(r["provider_job_id"] for r in rows(db)), "every job was accepted before the kill"
            first.process.send_signal(signal.SIGKILL)
            assert await first.exit_code(10) == -signal.SIGKILL
        finally:
            first.kill()
        held_job = int(held.split()[1])
        assert [r["state"] for r in rows(db) if r["id"] == held_job] == ["delivering"], "posted, not recorded"

        rng = random.Random(2024)
        kills = 1
        for _ in range(3):  # more kills at seeded random moments while the restarted runner works
            child = await Child.start("runner", env)
            try:
                await child.wait_for("READY")
                await asyncio.sleep(rng.uniform(0.02, 0.25))
                if child.process.returncode is None:
                    child.process.send_signal(signal.SIGKILL)
                    kills += 1
                await child.exit_code(10)
            finally:
                child.kill()

        last = await Child.start("runner", env)
        try:
            await last.wait_for("DONE", timeout=60)
            assert await last.exit_code(10) == 0
        finally:
            last.kill()

    posts = [json.loads(line) for line in channel.read_text().splitlines()]
    per_job = {}
    for post in posts:
        per_job.setdefault(post["job_id"], []).append(post["message_id"])
    final = rows(db)
    assert len(final) == jobs
    assert all(len(ids) == 1 for ids in per_job.values()), f"double posts: {per_job}"
    assert sorted(per_job) == [r["id"] for r in final], "every job was delivered"
    assert all(r["state"] == "completed" and r["cost"] == 1 for r in final), final
    assert all(r["result_message_id"] == per_job[r["id"]][0] for r in final), "the recorded post is the posted one"
    assert fake.create_count == jobs, "each job was created once at the provider"
    print(f"crash: {kills} SIGKILLs, {jobs} jobs, {len(posts)} posts, 0 lost, 0 double posts, 0 double charges")
