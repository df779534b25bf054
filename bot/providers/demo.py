"""The demo provider: no key, no network. After a short wait it hands back a copy of a small real MP4
shipped in `bot/assets/`, so a fresh install can try the whole flow without spending money."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import MediaError
from bot.media import new_temp_path
from bot.providers import ProviderContext
from bot.providers.base import ALL_ASPECT_RATIOS, Capabilities

# What the shipped clip really is (tests/unit/test_first_hour.py reads it from the MP4's header).
CLIP_SECONDS, CLIP_WIDTH, CLIP_HEIGHT = 3, 640, 360
CLIP_FACTS = f"{CLIP_SECONDS} s, {CLIP_WIDTH}×{CLIP_HEIGHT}"
DEMO_NOTICE = f"free sample clip ({CLIP_FACTS}) — set LUMAAI_API_KEY (or another provider key) to generate real videos"
DEMO_EXTRA = {"demo": "true"}
RENDER_SECONDS = 6.0  # clock time between submit and completion


def packaged_clip() -> Traversable:
    """The shipped clip. Never hand this file out: callers delete what they are given."""
    return resources.files("bot").joinpath("assets", "demo.mp4")


class DemoProvider:
    name = "demo"
    display_name = "Demo (free sample clip)"
    poll_interval = 3.0
    capabilities = Capabilities(
        models=("demo",),
        default_model="demo",
        aspect_ratios=ALL_ASPECT_RATIOS,
        resolutions=("540p", "720p", "1080p", "4k"),
        durations=("5s", "9s", "10s"),
        loop=True,
        start_image=True,
        end_image=True,
        extend=True,
        enhance=True,
        cancel=True,
    )

    def __init__(self, context: ProviderContext) -> None:
        self.clock = context.clock
        self.temp_dir = context.temp_dir
        self._started: dict[str, float] = {}  # provider job id → clock.monotonic() at submit

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        job_id = f"demo-{uuid.uuid4()}"
        self._started[job_id] = self.clock.monotonic()
        return self._status(ProviderState.QUEUED, job_id, progress=0.0)

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        started = self._started.get(provider_job_id)
        elapsed = RENDER_SECONDS if started is None else self.clock.monotonic() - started  # unknown: restart
        if elapsed < RENDER_SECONDS:
            return self._status(ProviderState.RUNNING, provider_job_id, progress=elapsed / RENDER_SECONDS)
        clip = await copy_clip(self.temp_dir)
        self._started.pop(provider_job_id, None)
        return self._status(ProviderState.COMPLETED, provider_job_id, progress=1.0, video_file=clip)

    async def cancel(self, provider_job_id: str) -> None:
        self._started.pop(provider_job_id, None)

    async def fetch_credits(self) -> str | None:
        return "costs nothing"

    def is_pending(self, provider_job_id: str) -> bool:
        """Whether this id was submitted here and has neither completed nor been cancelled."""
        return provider_job_id in self._started

    def _status(self, state: ProviderState, job_id: str, **fields: Any) -> ProviderStatus:
        return ProviderStatus(state, job_id, raw_state=DEMO_NOTICE, extra=dict(DEMO_EXTRA), **fields)


async def copy_clip(temp_dir: Path) -> Path:
    """A fresh copy of the packaged clip in `temp_dir`, made off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, _copy_clip, temp_dir)


def _copy_clip(temp_dir: Path) -> Path:
    temp_dir.mkdir(parents=True, exist_ok=True)
    dest = new_temp_path(temp_dir)
    try:
        with packaged_clip().open("rb") as source, open(dest, "wb") as target:
            shutil.copyfileobj(source, target)
    except OSError as error:
        dest.unlink(missing_ok=True)
        raise MediaError(f"demo clip could not be copied: {type(error).__name__}: {error}") from None
    return dest


def create(config: ProviderConfig, context: ProviderContext) -> DemoProvider:
    return DemoProvider(context)
