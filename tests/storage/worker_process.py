"""Helpers that run in their own OS processes, for the tests of several bot processes sharing one database.

- `reserve_many`, `claim_many`, `open_fresh`: multiprocessing targets racing on one database.
- `python -m tests.storage.worker_process run …`: a real job runner (LumaProvider → a FakeLuma served by
  the test process) as one worker among several, until SIGTERM or SIGKILL.
- `FileChannel` and `RecordingObserver`: the Discord side as every process sees it — one shared channel
  (an append-only file) that any process can post into and read back, like REST channel messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bot.clock import SystemClock
from bot.domain import Job, VideoRequest
from bot.errors import ReelbotError
from bot.jobs import JobProgress, JobRunner
from bot.providers.luma import LumaProvider
from bot.quotas import Quotas
from bot.storage import open_storage

GUILD, CHANNEL = 10, 20
DAY = "2026-03-14"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


# --- the shared channel ------------------------------------------------------------------------------------------


class FileChannel:
    """Posts as lines `job_id message_id worker` in one file: every process sees every post."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def post(self, job_id: int, worker: str) -> int:
        message_id = secrets.randbits(62)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{job_id} {message_id} {worker}\n".encode())  # one small O_APPEND write: atomic
            os.fsync(fd)
        finally:
            os.close(fd)
        return message_id

    def posts(self) -> list[tuple[int, int, str]]:
        if not self.path.exists():
            return []
        rows = [line.split() for line in self.path.read_text().splitlines() if line.strip()]
        return [(int(job), int(message), worker) for job, message, worker in rows]

    def find(self, job_id: int) -> int | None:
        return next((message for job, message, _ in self.posts() if job == job_id), None)


class RecordingObserver:
    """A JobObserver (bot.jobs) that posts results into a FileChannel and records everything else."""

    def __init__(self, channel: FileChannel, worker: str, *, hang_after_post: bool = False) -> None:
        self.channel = channel
        self.worker = worker
        self.hang_after_post = hang_after_post  # post, then never return: a crash before the post is recorded
        self.progress: list[tuple[int, JobProgress]] = []
        self.ended: list[tuple[int, ReelbotError | None]] = []

    async def job_changed(self, job: Job, progress: JobProgress) -> None:
        self.progress.append((job.id, progress))

    async def upload_limit(self, job: Job) -> int:
        return 10 * 1024 * 1024

    async def find_delivery(self, job: Job) -> int | None:
        return job.result_message_id or self.channel.find(job.id)

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        message_id = self.channel.post(job.id, self.worker)
        if self.hang_after_post:
            await asyncio.Event().wait()
        return message_id

    async def job_ended(self, job: Job, error: ReelbotError | None) -> None:
        self.ended.append((job.id, error))


@contextlib.asynccontextmanager
async def running_worker(
    url: str, *, luma_url: str, luma_key: str, channel: FileChannel, worker: str, temp_dir: Path,
    max_active: int = 10, lease_s: float = 1.0, poll_s: float = 0.05, hang_after_post: bool = False,
) -> AsyncIterator[JobRunner]:  # fmt: skip
    """A started JobRunner as worker `worker` on the database at `url`, with a real LumaProvider."""
    storage = await open_storage(url)
    clock = SystemClock()
    try:
        async with aiohttp.ClientSession() as session:
            provider = LumaProvider(session, api_key=luma_key, clock=clock, base_url=luma_url)
            provider.poll_interval = poll_s  # type: ignore[misc]
            observer = RecordingObserver(channel, worker, hang_after_post=hang_after_post)
            runner = JobRunner(
                storage=storage, quotas=Quotas(storage, clock, daily=1000, concurrent=1000), providers=[provider],
                clock=clock, session=session, observer=observer, temp_dir=temp_dir, max_active=max_active,
                timeout_s=600, max_download_bytes=1 << 30, worker_id=worker, lease_s=lease_s,
            )  # fmt: skip
            await runner.start()
            try:
                yield runner
            finally:
                await runner.stop()
    finally:
        await storage.close()


# --- multiprocessing targets ---------------------------------------------------------------------------------------


def reserve_many(url: str, count: int, daily: int, barrier, results) -> None:
    """Open the database, wait for the other process, then try `count` reservations at once."""

    async def main() -> int:
        storage = await open_storage(url)
        try:
            barrier.wait()
            jobs = await asyncio.gather(*(
                storage.create_job_reserving(
                    guild_id=GUILD, channel_id=CHANNEL, user_id=1, request=VideoRequest(prompt="race"),
                    created_at=NOW, day=DAY, cost=1, daily_limit=daily, concurrent_limit=10_000,
                )
                for _ in range(count)
            ))  # fmt: skip
            return sum(job is not None for job in jobs)
        finally:
            await storage.close()

    results.put(asyncio.run(main()))


def claim_many(url: str, worker: str, count: int, cap: int, barrier, results) -> None:
    """Open the database, wait for the other process, then try `count` claims at once."""

    async def main() -> list[int]:
        storage = await open_storage(url)
        try:
            barrier.wait()
            until = datetime.now(UTC) + timedelta(minutes=5)
            jobs = await asyncio.gather(
                *(storage.claim_next_job(worker, max_active=cap, lease_until=until) for _ in range(count))
            )
            return [job.id for job in jobs if job is not None]
        finally:
            await storage.close()

    results.put(asyncio.run(main()))


def open_fresh(url: str, barrier, results) -> None:
    """Open (and so migrate) a brand-new database at the same moment as another process."""

    async def main() -> int:
        barrier.wait()
        storage = await open_storage(url)
        try:
            return await storage.migrate()
        finally:
            await storage.close()

    results.put(asyncio.run(main()))


# --- python -m tests.storage.worker_process run … ---------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    channel = FileChannel(args.channel)
    async with running_worker(
        args.url, luma_url=args.luma_url, luma_key=args.luma_key, channel=channel, worker=args.worker,
        temp_dir=Path(args.temp_dir), max_active=args.max_active, lease_s=args.lease_s,
        hang_after_post=args.hang_after_post,
    ):  # fmt: skip
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="worker_process")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--luma-url", required=True)
    parser.add_argument("--luma-key", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--temp-dir", required=True)
    parser.add_argument("--max-active", type=int, default=10)
    parser.add_argument("--lease-s", type=float, default=1.0)
    parser.add_argument("--hang-after-post", action="store_true")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
