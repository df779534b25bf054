"""The real core without Discord: JobRunner + Storage (SQLite) + Quotas + LumaProvider against a FakeLuma,
with an observer standing in for Discord. Used where simcord cannot go: a request that hangs until the
client's timeout (simcord cannot park a task waiting on a socket), and separate processes killed by signals.

What is real: the runner, storage, quotas, the Luma adapter, the HTTP transport, downloads and media checks,
the wall clock. What is modelled: Discord. `RecordingObserver` keeps what the bot would have shown in memory;
`FileObserver` models a channel as an append-only JSON-lines file: `deliver` appends a message (with a fresh
message id) and fsyncs before returning its id, exactly like a post that Discord has stored; `find_delivery`
reads the file back, as the real observer scans the channel history after a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.clock import SystemClock
from bot.domain import Job, VideoRequest
from bot.errors import ReelbotError
from bot.jobs import JobProgress, JobRunner
from bot.providers.luma import LumaProvider
from bot.quotas import Quotas
from bot.storage import Storage

UPLOAD_LIMIT = 10 * 1024 * 1024
PROMPT = "a lighthouse in a storm at night"


@dataclass
class RecordingObserver:
    """Discord as a list: what each job showed, what was posted, how each ended."""

    progress: dict[int, list[JobProgress]] = field(default_factory=dict)
    delivered: dict[int, int] = field(default_factory=dict)  # job id → message id
    ended: dict[int, ReelbotError | None] = field(default_factory=dict)

    async def job_changed(self, job: Job, progress: JobProgress) -> None:
        self.progress.setdefault(job.id, []).append(progress)

    async def upload_limit(self, job: Job) -> int:
        return UPLOAD_LIMIT

    async def find_delivery(self, job: Job) -> int | None:
        return job.result_message_id or self.delivered.get(job.id)

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        self.delivered[job.id] = message_id = 10_000 + len(self.delivered)
        return message_id

    async def job_ended(self, job: Job, error: ReelbotError | None) -> None:
        self.ended[job.id] = error


class FileObserver(RecordingObserver):
    """A channel as an append-only file that survives the process (see the module docstring)."""

    def __init__(self, channel: Path, *, hold_after_post: int | None = None) -> None:
        super().__init__()
        self.channel = channel
        self.hold_after_post = hold_after_post  # stop forever after this many posts (to be killed there)
        self.posts = 0

    def messages(self) -> list[dict]:
        if not self.channel.exists():
            return []
        return [json.loads(line) for line in self.channel.read_text().splitlines() if line.strip()]

    async def find_delivery(self, job: Job) -> int | None:
        if job.result_message_id:
            return job.result_message_id
        return next((m["message_id"] for m in self.messages() if m["job_id"] == job.id), None)

    async def deliver(self, job: Job, video: Path | None, video_url: str | None, size: int | None) -> int:
        message_id = secrets.randbits(62)
        line = json.dumps({"message_id": message_id, "job_id": job.id, "user_id": job.user_id, "size": size})
        with open(self.channel, "a") as handle:  # one small append + fsync: the post is stored, or it is not
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.posts += 1
        if self.hold_after_post is not None and self.posts >= self.hold_after_post:
            print(f"POSTED {job.id}", flush=True)  # the parent kills us here: posted, not yet recorded
            await asyncio.Event().wait()
        return message_id


@dataclass
class Core:
    storage: Storage
    quotas: Quotas
    provider: LumaProvider
    runner: JobRunner
    observer: RecordingObserver

    async def submit(self, user_id: int, *, guild_id: int = 1, channel_id: int = 2, prompt: str = PROMPT) -> Job:
        """What /video does after validation: reserve (the stored job is the reservation), then queue."""
        job = await self.quotas.reserve(guild_id=guild_id, channel_id=channel_id, user_id=user_id,
                                        request=VideoRequest(prompt=prompt))  # fmt: skip
        self.runner.enqueue(job)
        return job


async def open_core(
    session: aiohttp.ClientSession,
    *,
    db: Path,
    temp_dir: Path,
    base_url: str,
    api_key: str,
    observer: RecordingObserver,
    max_active: int = 10,
    daily: int = 50,
    concurrent: int = 50,
    timeout_s: float = 1200,
    poll_interval: float = 0.05,
    api_timeout: aiohttp.ClientTimeout | None = None,
) -> Core:
    """Open storage and build the runner (not started). Poll every `poll_interval` real seconds (Luma: 3 s)."""
    clock = SystemClock()
    storage = Storage(str(db))
    await storage.open()
    quotas = Quotas(storage, clock, daily=daily, concurrent=concurrent)
    provider = LumaProvider(session, api_key=api_key, clock=clock, base_url=base_url, timeout=api_timeout, retries=2)
    provider.poll_interval = poll_interval
    temp_dir.mkdir(parents=True, exist_ok=True)
    runner = JobRunner(
        storage=storage, quotas=quotas, providers=[provider], clock=clock, session=session, observer=observer,
        temp_dir=temp_dir, max_active=max_active, timeout_s=timeout_s, max_download_bytes=64 * 1024 * 1024,
    )  # fmt: skip
    return Core(storage, quotas, provider, runner, observer)
