"""UmamiAI: Luma AI v1 (legacy) behind a gateway, Bearer auth (protocols.md §B.3, seed 004).

Create answers one generation object; the poll answers a JSON *array* of them. The v1 lineage says
pending/processing/completed, the v2 docs queued/dreaming/completed/failed: both are accepted (§C #9).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import ConfigError, ProviderProtocolError, ProviderRejectedError, is_moderation_reason
from bot.providers import ProviderContext
from bot.providers.base import ALL_ASPECT_RATIOS, Capabilities
from bot.providers.http import HttpTransport

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.umamiai.xyz"
QUEUED_STATES = frozenset({"pending", "queued"})
RUNNING_STATES = frozenset({"processing", "dreaming"})
MAX_FIRST_WAIT = 300.0  # an estimate above this is not trusted for the first poll
MISSING_LIMIT = 30  # consecutive polls where our id is absent from the array before giving up (~2 min)
GONE = "generation no longer exists"


class UmamiProvider:
    name = "umami"
    display_name = "UmamiAI"
    poll_interval = 4.0
    # The legacy v1 API has no model, resolution, duration or loop field; the seed shows only 16:9, and
    # the Luma web-app API it wraps takes the same seven ratios as the official one.
    capabilities = Capabilities(
        models=("luma-v1",),
        default_model="luma-v1",
        aspect_ratios=ALL_ASPECT_RATIOS,
        resolutions=("720p",),
        durations=("5s",),
        loop=False,
        start_image=True,
        end_image=True,
        extend=True,
        enhance=True,
        cancel=False,
    )

    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport
        self._misses: dict[str, int] = {}

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        path = "/v1/luma-ai/generations"
        if request.extend_of:
            path += f"/{quote(request.extend_of, safe='')}/extend"
        body = await self.transport.request_json("POST", path, json_body=request_body(request))
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderProtocolError("umami: create answered without a generation id", provider=self.name)
        status = to_status(body, str(body["id"]))
        return replace(status, poll_after=estimate_seconds(body.get("estimate_wait_seconds")))

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        try:
            body = await self.transport.request_json("GET", "/v1/luma-ai/generation", params={"ids": provider_job_id})
        except ProviderRejectedError as error:
            if error.status != 404:
                raise
            self._misses.pop(provider_job_id, None)
            return ProviderStatus(ProviderState.FAILED, provider_job_id, failure_reason=GONE, raw_state="404")
        item = find_generation(body, provider_job_id)
        if item is None:
            return self._missing(provider_job_id)
        self._misses.pop(provider_job_id, None)
        return to_status(item, provider_job_id)

    def _missing(self, job_id: str) -> ProviderStatus:
        """Our id absent from the array: usually a listing lag, so keep polling, but not forever."""
        count = self._misses[job_id] = self._misses.get(job_id, 0) + 1
        log.warning("umami: generation %s missing from the poll answer (%d/%d)", job_id, count, MISSING_LIMIT)
        if count >= MISSING_LIMIT:
            del self._misses[job_id]
            return ProviderStatus(ProviderState.FAILED, job_id, failure_reason=GONE, raw_state="missing")
        return ProviderStatus(ProviderState.RUNNING, job_id, raw_state="not listed by UmamiAI yet")

    async def cancel(self, provider_job_id: str) -> None:
        """UmamiAI has no cancel or delete call."""
        self._misses.pop(provider_job_id, None)

    async def fetch_credits(self) -> str | None:
        return None


def request_body(request: VideoRequest) -> dict[str, Any]:
    prompt = request.prompt
    if request.camera:  # no concepts in v1: the camera move goes into the prompt
        prompt = f"{prompt}, camera {request.camera.replace('_', ' ')}"
    body: dict[str, Any] = {
        "user_prompt": prompt,
        "aspect_ratio": request.aspect_ratio,
        "expand_prompt": request.enhance,
    }
    if request.start_image_url:
        body["image_url"] = request.start_image_url
    if request.end_image_url:
        body["image_end_url"] = request.end_image_url
    return body


def find_generation(body: Any, job_id: str) -> dict[str, Any] | None:
    """The object with our id from the poll answer (an array; a bare object is tolerated)."""
    items = body
    if isinstance(body, dict):
        items = body.get("data") or body.get("generations") or [body]
    if not isinstance(items, list):
        raise ProviderProtocolError("umami: the poll answer is not a list of generations", provider="umami")
    for item in items:
        if isinstance(item, dict) and str(item.get("id")) == job_id:
            return item
    return None


def to_status(item: dict[str, Any], job_id: str) -> ProviderStatus:
    raw = item.get("state")
    if not isinstance(raw, str) or not raw.strip():
        raise ProviderProtocolError("umami: generation without a state", provider="umami")
    state = raw.strip().lower()
    if state in QUEUED_STATES:
        return ProviderStatus(ProviderState.QUEUED, job_id, raw_state=raw)
    if state in RUNNING_STATES:
        return ProviderStatus(ProviderState.RUNNING, job_id, raw_state=raw)
    if state == "completed":
        video = item.get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ProviderProtocolError("umami: completed generation without video.url", provider="umami")
        return ProviderStatus(ProviderState.COMPLETED, job_id, video_url=url, raw_state=raw)
    if state == "failed":
        reason = failure_reason(item)
        return ProviderStatus(
            ProviderState.FAILED, job_id, failure_reason=reason, user_fault=is_moderation_reason(reason), raw_state=raw
        )
    return ProviderStatus(ProviderState.RUNNING, job_id, raw_state=raw)  # a word we don't know yet


def failure_reason(item: dict[str, Any]) -> str:
    for key in ("failure_reason", "error", "failure", "message", "detail"):
        value = item.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("detail")
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return "the provider reported a failure"


def estimate_seconds(value: Any) -> float | None:
    """`estimate_wait_seconds` is typed "text" in the seed: accept numbers and numeric strings."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer too large for a float
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(seconds, MAX_FIRST_WAIT)


def create(config: ProviderConfig, context: ProviderContext) -> UmamiProvider:
    if not config.api_key:
        raise ConfigError(["the umami provider needs UMAMI_API_KEY"])
    base = (config.base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
    transport = HttpTransport(
        context.session,
        provider="umami",
        base_url=base,
        headers={"Authorization": f"Bearer {config.api_key.get()}", "Accept": "application/json"},
        clock=context.clock,
    )
    return UmamiProvider(transport)
