"""Luma Dream Machine (dream-machine/v1): create, poll, delete, credits (docs/protocols.md §A)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.clock import Clock
from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    ConfigError,
    InvalidRequestError,
    ProviderError,
    ProviderProtocolError,
    ProviderRejectedError,
    is_moderation_reason,
)
from bot.providers import ProviderContext
from bot.providers.base import ALL_ASPECT_RATIOS, Capabilities
from bot.providers.http import HttpTransport

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.lumalabs.ai/dream-machine/v1"
API_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5)
CONCEPTS_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
CONCEPTS_RETRY_AFTER_FAILURE = 600.0  # seconds the fallback list is used before asking Luma again
LIST_PAGE, LIST_PAGES = 100, 5  # find_submitted looks back at most 500 generations

# protocols.md §A.3: published with Ray 2 (third-party); used when /generations/concepts/list fails
FALLBACK_CONCEPTS = (
    "truck_left", "pan_right", "pedestal_down", "low_angle", "pedestal_up", "selfie", "pan_left",
    "roll_right", "zoom_in", "over_the_shoulder", "orbit_right", "orbit_left", "static", "tiny_planet",
    "high_angle", "bolt_cam", "dolly_zoom", "overhead", "zoom_out", "handheld", "roll_left", "pov",
    "aerial_drone", "push_in", "crane_down", "truck_right", "tilt_down", "elevator_doors", "tilt_up",
    "ground_level", "pull_out", "aerial", "crane_up", "eye_level",
)  # fmt: skip

CAPABILITIES = Capabilities(
    models=("ray-2", "ray-flash-2"),
    default_model="ray-2",
    aspect_ratios=ALL_ASPECT_RATIOS,
    resolutions=("540p", "720p", "1080p", "4k"),
    durations=("5s", "9s"),
    loop=True,
    start_image=True,
    end_image=True,
    extend=True,
    enhance=False,
    cancel=True,
    concepts=True,
    # §A.10: every action on a finished generation; extend backward and bridge are keyframes of generations
    actions=frozenset({"upscale", "audio", "modify", "reframe", "extend", "bridge"}),
    upscale_resolutions=("1080p", "4k"),
    video_upload=True,  # modify/reframe read `media.url`: an uploaded video's link is passed at once
)
MEDIA_ACTIONS = {"modify": ("/generations/video/modify", "modify_video"),
                 "reframe": ("/generations/video/reframe", "reframe_video")}  # fmt: skip

# Luma's states (plus the synonyms its gateways use) → ours
STATES = {
    "queued": ProviderState.QUEUED,
    "pending": ProviderState.QUEUED,
    "dreaming": ProviderState.RUNNING,
    "processing": ProviderState.RUNNING,
    "completed": ProviderState.COMPLETED,
    "failed": ProviderState.FAILED,
}


def concept_key(camera: str) -> str:
    """'Pan left' → 'pan_left', the shape of Luma's concept keys."""
    return "_".join(camera.strip().lower().replace("-", " ").split())


class LumaProvider:
    name = "luma"
    display_name = "Luma Dream Machine"
    capabilities = CAPABILITIES
    poll_interval = 3.0

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        clock: Clock,
        base_url: str = DEFAULT_BASE_URL,
        timeout: aiohttp.ClientTimeout | None = None,
        retries: int = 4,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._clock = clock
        self._http = HttpTransport(
            session, provider=self.name, base_url=base_url, headers=headers, clock=clock,
            timeout=timeout or API_TIMEOUT, retries=retries,
        )  # fmt: skip
        # concepts are a nicety: ask once, quickly, and fall back rather than delay a submit
        self._concepts_http = HttpTransport(
            session, provider=self.name, base_url=base_url, headers=headers, clock=clock,
            timeout=timeout or CONCEPTS_TIMEOUT, retries=1, rate_limit_patience=5.0,
        )  # fmt: skip
        self._concepts: list[str] | None = None
        self._concepts_expire: float | None = None  # set while the fallback list stands in
        self._concepts_lock = asyncio.Lock()

    async def fetch_concepts(self) -> list[str]:
        """Luma's concept keys, fetched once and cached; the built-in list when the call fails."""
        async with self._concepts_lock:
            expired = self._concepts_expire is not None and self._clock.monotonic() >= self._concepts_expire
            if self._concepts is None or expired:
                try:
                    data = await self._concepts_http.request_json("GET", "/generations/concepts/list")
                    if not isinstance(data, list) or not all(isinstance(k, str) for k in data):
                        raise ProviderProtocolError("luma: concepts list is not a list of strings")
                    self._concepts, self._concepts_expire = list(data), None
                except ProviderError as error:
                    log.warning("luma: concepts list unavailable (%s); using the built-in list", error.code)
                    self._concepts = list(FALLBACK_CONCEPTS)
                    self._concepts_expire = self._clock.monotonic() + CONCEPTS_RETRY_AFTER_FAILURE
            return list(self._concepts)

    async def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON for POST /generations/video."""
        if request.extend_of and request.start_image_url:
            raise InvalidRequestError(
                "extend with a start image", public_message="An extension can't also have a start image."
            )
        model = request.model or self.capabilities.default_model
        if model not in self.capabilities.models:  # lumaai 1.21.0 types `model` as Literal["ray-2", "ray-flash-2"]
            raise InvalidRequestError(
                f"luma model {model!r}",
                public_message=f"Luma has no model `{model}`; choose `ray-2` or `ray-flash-2`. Nothing was charged.",
            )
        prompt = request.prompt.strip()
        body: dict[str, Any] = {
            "generation_type": "video",
            "model": model,
            "aspect_ratio": request.aspect_ratio,
            "loop": request.loop,
            "resolution": request.resolution,
            "duration": request.duration,
        }
        keyframes: dict[str, Any] = {}
        if request.extend_of:
            keyframes["frame0"] = {"type": "generation", "id": request.extend_of}
        elif request.start_image_url:
            keyframes["frame0"] = {"type": "image", "url": request.start_image_url}
        if request.end_of:  # extend backward (the new clip ends where the old one starts), or a bridge's end
            keyframes["frame1"] = {"type": "generation", "id": request.end_of}
        elif request.end_image_url:
            keyframes["frame1"] = {"type": "image", "url": request.end_image_url}
        if keyframes:
            body["keyframes"] = keyframes
        if request.camera:
            key = concept_key(request.camera)
            if key in await self.fetch_concepts():
                body["concepts"] = [{"key": key}]
            else:
                prompt = f"{prompt}, camera: {request.camera}" if prompt else f"camera: {request.camera}"
        if prompt:
            body["prompt"] = prompt
        return body

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        body = await self.build_body(request)
        data = await self._http.request_json("POST", "/generations/video", json_body=body, idempotent=False)
        return self._status(data)

    # --- ClipActions (§A.10) ---------------------------------------------------------------------------

    def action_call(self, request: VideoRequest) -> tuple[str, dict[str, Any]]:
        """(path, JSON body) of the action `request` asks for."""
        action = request.action or ""
        if action in ("upscale", "audio"):
            if not request.action_of:
                raise InvalidRequestError(f"luma {action} without a generation",
                                          public_message=f"Luma can only {action} one of its own clips.")  # fmt: skip
            path = f"/generations/{quote(request.action_of, safe='')}/{action}"
            if action == "upscale":
                return path, {"generation_type": "upscale_video", "resolution": request.resolution}
            body: dict[str, Any] = {"generation_type": "add_audio", "prompt": request.prompt.strip()}
            if request.negative_prompt:
                body["negative_prompt"] = request.negative_prompt.strip()
            return path, body
        if action not in MEDIA_ACTIONS:
            raise InvalidRequestError(f"luma action {action!r}", public_message=f"Luma can't {action} clips.")
        if not request.source_video_url:  # a finished generation's own assets.video is reachable by Luma (§A.10)
            raise InvalidRequestError(f"luma {action} without a video link",
                                      public_message=f"This clip has no video link Luma could {action}.")  # fmt: skip
        path, generation_type = MEDIA_ACTIONS[action]
        model = request.model if request.model in self.capabilities.models else self.capabilities.default_model
        body = {"generation_type": generation_type, "model": model, "media": {"url": request.source_video_url}}
        if action == "modify":
            body["mode"] = request.strength or "flex_1"
        else:
            body["aspect_ratio"] = request.aspect_ratio
        if request.prompt.strip():
            body["prompt"] = request.prompt.strip()
        return path, body

    async def start_action(self, request: VideoRequest) -> ProviderStatus:
        path, body = self.action_call(request)
        data = await self._http.request_json("POST", path, json_body=body, idempotent=False)
        return self._status(data)

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        try:
            data = await self._http.request_json("GET", f"/generations/{quote(provider_job_id, safe='')}")
        except ProviderRejectedError as error:
            if error.status != 404:
                raise
            return ProviderStatus(
                ProviderState.FAILED, provider_job_id, failure_reason="generation no longer exists at Luma"
            )
        return self._status(data)

    async def cancel(self, provider_job_id: str) -> None:
        try:
            await self._http.request_json("DELETE", f"/generations/{quote(provider_job_id, safe='')}")
        except ProviderRejectedError as error:
            if error.status != 404:
                raise

    async def find_submitted(
        self, request: VideoRequest, since: datetime, until: datetime, *, exclude: Collection[str] = ()
    ) -> ProviderStatus | None:
        """The generation a create request made when its answer never reached us (a restart mid-create): the
        oldest one created between `since` and `until` whose request (prompt and options) is `request`'s, and
        whose id is not in `exclude` (generations other jobs already own). Pages through GET /generations
        (newest first) until it passes `since`, at most LIST_PAGES pages."""
        body = self.action_call(request)[1] if request.action else await self.build_body(request)
        wanted = _comparable(body)  # an action's generation records its own body (FakeLuma, like Luma's `request`)
        found: tuple[datetime, dict[str, Any]] | None = None
        for page in range(LIST_PAGES):
            data = await self._http.request_json(
                "GET", "/generations", params={"limit": LIST_PAGE, "offset": page * LIST_PAGE}
            )
            generations = data.get("generations") if isinstance(data, dict) else None
            if not isinstance(generations, list):
                raise ProviderProtocolError("luma: generation list without `generations`", provider=self.name)
            passed_since = False
            for gen in generations:
                created = _created_at(gen)
                if created is None:
                    continue
                passed_since |= created < since
                matches = since <= created <= until and gen.get("id") not in exclude
                if matches and _comparable(gen.get("request")) == wanted and (found is None or created < found[0]):
                    found = (created, gen)
            if passed_since or not data.get("has_more"):
                break
        return None if found is None else self._status(found[1])

    async def fetch_credits(self) -> str | None:
        data = await self._http.request_json("GET", "/credits")
        cents = data.get("credit_balance") if isinstance(data, dict) else None
        if isinstance(cents, bool) or not isinstance(cents, int | float):
            raise ProviderProtocolError("luma: /credits has no numeric credit_balance", provider=self.name)
        shown = int(cents) if float(cents).is_integer() else round(cents, 2)
        return f"${cents / 100:,.2f} ({shown} credits)"

    def _status(self, data: Any) -> ProviderStatus:
        """A Generation object → ProviderStatus; anything unreadable → ProviderProtocolError."""
        if not isinstance(data, dict):
            raise ProviderProtocolError("luma: generation is not a JSON object", provider=self.name)
        job_id, raw_state = data.get("id"), data.get("state")
        if not isinstance(job_id, str) or not job_id or not isinstance(raw_state, str) or raw_state not in STATES:
            raise ProviderProtocolError(
                f"luma: generation without a usable id/state (state={str(raw_state)[:40]!r})", provider=self.name
            )
        state = STATES[raw_state]
        extra: dict[str, str] = {}
        # contradiction #4: old responses say `version`/`type` where new ones say `model`/`generation_type`
        for key, name in (("model", "model"), ("version", "model"), ("generation_type", "type"), ("type", "type")):
            if isinstance(data.get(key), str):
                extra.setdefault(name, data[key])
        found = data.get("assets")
        assets: dict[str, Any] = found if isinstance(found, dict) else {}
        if isinstance(assets.get("image"), str):
            extra["thumbnail_url"] = assets["image"]
        if state is ProviderState.COMPLETED:
            video = assets.get("video")
            if not isinstance(video, str) or not video.startswith(("http://", "https://")):
                raise ProviderProtocolError("luma: completed generation has no assets.video", provider=self.name)
            return ProviderStatus(state, job_id, video_url=video, raw_state=raw_state, extra=extra)
        if state is ProviderState.FAILED:
            reason = data.get("failure_reason")
            reason = reason if isinstance(reason, str) and reason else None
            return ProviderStatus(
                state, job_id, failure_reason=reason, user_fault=is_moderation_reason(reason),
                raw_state=raw_state, extra=extra,
            )  # fmt: skip
        return ProviderStatus(state, job_id, raw_state=raw_state, extra=extra)


# What identifies a create request in a generation's stored `request` (generation_type, callback_url aside).
REQUEST_KEYS = ("prompt", "model", "aspect_ratio", "resolution", "duration", "loop", "keyframes", "concepts")


def _comparable(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    shape = {key: body.get(key) for key in REQUEST_KEYS}
    shape["loop"] = bool(shape["loop"])
    return shape


def _created_at(gen: Any) -> datetime | None:
    raw = gen.get("created_at") if isinstance(gen, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        created = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def create(config: ProviderConfig, context: ProviderContext) -> LumaProvider:
    if not config.api_key:
        raise ConfigError(["luma is enabled but LUMAAI_API_KEY is not set"])
    return LumaProvider(
        context.session, api_key=config.api_key.get(), clock=context.clock, base_url=config.base_url or DEFAULT_BASE_URL
    )
