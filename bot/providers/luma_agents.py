"""Luma Agents API (Ray 3.2): create, poll, Files API uploads (docs/protocols.md §F, SDK luma-agents 0.5.0).

The Agents API has no cancel, delete or balance call. Output URLs are presigned for one hour, so a late
delivery re-reads the generation (every GET mints fresh URLs). Failed generations carry a `failure_code`
that decides who pays: moderation is the user's, an empty budget the operator's, and a model error is
retried once as a new generation: the Agents docs call generation_failed/output_not_found "retry same request",
and Luma refunds failed generations (its Dream Machine FAQ; the Agents API exposes no billing field to check).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.clock import Clock
from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderProtocolError,
    ProviderRejectedError,
    ProviderUnavailableError,
    is_moderation_reason,
)
from bot.providers import ProviderContext
from bot.providers.base import Capabilities
from bot.providers.http import HttpTransport

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://agents.lumalabs.ai/v1"
API_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5)
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=5)
MODEL = "ray-3.2"
FRAMES_PER_SECOND = 24  # keyframe_indexes sit on the 24 fps grid: 5s → 0..120
FILE_READY_WAIT_S = 60.0  # how long a submit waits for an uploaded image to finish Luma's ingest
FILE_POLL_S = 2.0
REMEMBERED_BODIES = 2000  # create bodies kept to retry a failed generation once (lost on restart: then refunded)
RETRY_ONCE_CODES = ("generation_failed", "output_not_found")  # [ADOCS] /guides/error-handling/: "retry same request"
INPUT_CODES = {
    "image_too_large": "an input image is too large",
    "unsupported_format": "an input image is in a format Luma can't read",
    "corrupt_input": "an input image could not be decoded",
}

RESOLUTIONS = ("360p", "540p", "720p", "1080p")
REFRAME_RESOLUTIONS = ("360p", "540p", "720p")  # [AGT] video_reframe at 1080p "is still rolling out"

CAPABILITIES = Capabilities(
    models=(MODEL,),
    default_model=MODEL,
    aspect_ratios=("16:9", "1:1", "9:16", "4:3", "3:4", "21:9"),  # no 9:21 on Ray 3.2 (§F.2)
    resolutions=RESOLUTIONS,
    durations=("5s", "10s"),
    loop=True,
    start_image=True,
    end_image=True,
    extend=True,  # video.start_frame = {generation_id}
    cancel=False,  # no cancel endpoint: Cancel stops waiting, Luma may still bill the clip
    hdr=True,
    hdr_resolutions=("720p", "1080p"),  # 360p is SDR only; HDR also needs the account's access (a 403/422 says)
    hdr_durations=("5s",),
    hdr_loop=False,
    hdr_extend=False,  # an extension is standard dynamic range only
    frame_durations=("5s",),  # 10s is text-to-video only
    loop_durations=("5s",),
    expiring_urls=True,
    # video_edit = modify, video_reframe = reframe, start_frame/end_frame generation ids = extend both ways and
    # bridge. No audio call exists. Upscale: the Agents API has no upscaler, so it is a video_edit at `adhere_1`
    # (the strength that keeps closest to the source) rendered at 1080p, Ray 3.2's top tier: the way to promote a
    # 360p/540p/720p draft to a final. It is a re-render, billed as a new 1080p clip, and fine detail may differ
    # from the draft; 4k is not possible. (Offering nothing would leave Ray 3.2's draft tier without a way up.)
    actions=frozenset({"upscale", "modify", "reframe", "extend", "bridge"}),
    upscale_resolutions=("1080p",),
    video_upload=True,  # an uploaded video goes through the Files API: source = {file_id}
    action_notes={"upscale": "re-rendered at 1080p as a close edit (adhere_1): Ray 3.2 has no upscaler"},
)
UPSCALE_STRENGTH = "adhere_1"
VIDEO_TYPES = {"modify": "video_edit", "upscale": "video_edit", "reframe": "video_reframe"}

STATES = {
    "queued": ProviderState.QUEUED,
    "processing": ProviderState.RUNNING,
    "completed": ProviderState.COMPLETED,
    "failed": ProviderState.FAILED,
}


def user_tag(secret: str, discord_user_id: int) -> str:
    """A stable, opaque `user_id` for Luma: HMAC-SHA256 of the Discord id under a key derived from the API key.
    Not reversible without the key, and carries no PII. (A new API key gives every user a new tag.)"""
    key = hashlib.sha256(b"reelbot user_id v1\0" + secret.encode()).digest()
    return "u_" + hmac.new(key, str(discord_user_id).encode(), hashlib.sha256).hexdigest()[:32]


def hdr_not_enabled(status: int | None, detail: str) -> bool:
    text = detail.lower()
    return status in (403, 422) and "hdr" in text and any(w in text for w in ("enable", "access", "plan", "allow"))


class LumaAgentsProvider:
    name = "luma-agents"
    display_name = "Luma Ray 3.2"
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
        self._api_key = api_key
        self._clock = clock
        self.transport = HttpTransport(
            session, provider=self.name, base_url=base_url, headers=headers, clock=clock,
            timeout=timeout or API_TIMEOUT, retries=retries,
        )  # fmt: skip
        self._bodies: OrderedDict[str, tuple[dict[str, Any], bool]] = OrderedDict()  # id → (body, is a retry)

    # --- the request ---------------------------------------------------------------------------------

    def user_id(self, discord_user_id: int) -> str:
        return user_tag(self._api_key, discord_user_id)

    def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON for POST /generations (GenerationCreateParams, type=video)."""
        prompt = request.prompt.strip()
        if request.camera:
            prompt = f"{prompt}, camera: {request.camera}"
        video: dict[str, Any] = {"resolution": request.resolution, "duration": request.duration}
        if request.loop:
            video["loop"] = True
        if request.hdr:
            video["hdr"] = True
        start = _image_ref(request.start_image_file, request.start_image_url)
        if request.extend_of:
            start = {"generation_id": request.extend_of}
        end = _image_ref(request.end_image_file, request.end_image_url)
        if request.end_of:  # extend backward, or the end of a bridge
            end = {"generation_id": request.end_of}
        if request.hdr and (start or end) and not (request.extend_of or request.end_of):
            # start_frame/end_frame are the legacy two-frame surface; keyframes take HDR [AGT VideoOptionsParam]
            last = int(request.duration.rstrip("s")) * FRAMES_PER_SECOND
            pinned = [(ref, index) for ref, index in ((start, 0), (end, last)) if ref]
            video["keyframes"] = [ref for ref, _ in pinned]
            video["keyframe_indexes"] = [index for _, index in pinned]
        else:
            if start:
                video["start_frame"] = start
            if end:
                video["end_frame"] = end
        body: dict[str, Any] = {
            "model": request.model or MODEL,
            "type": "video",
            "prompt": prompt,
            "aspect_ratio": request.aspect_ratio,
            "video": video,
        }
        if request.requester_id is not None:
            body["user_id"] = self.user_id(request.requester_id)
        return body

    def action_body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON for POST /generations of an action on a finished clip (type video_edit / video_reframe)."""
        action = request.action or ""
        if action not in VIDEO_TYPES:
            raise ProviderRejectedError(f"luma-agents action {action!r}", provider=self.name,
                                        public_message=f"Luma Ray 3.2 can't {action} clips.")  # fmt: skip
        if request.action_of:
            source: dict[str, str] = {"generation_id": request.action_of}
        elif request.source_video_file:
            source = {"file_id": request.source_video_file}
        else:
            raise ProviderRejectedError(f"luma-agents {action} without a source", provider=self.name,
                                        public_message=f"There is no video to {action}.")  # fmt: skip
        video: dict[str, Any] = {}
        if action == "reframe":
            video["resolution"] = request.resolution if request.resolution in REFRAME_RESOLUTIONS else "720p"
        elif action == "upscale":
            video = {"resolution": request.resolution, "edit": {"strength": UPSCALE_STRENGTH}}
        else:
            video = {"edit": {"strength": request.strength or "flex_1"}}
            if request.resolution in RESOLUTIONS:
                video["resolution"] = request.resolution
        body: dict[str, Any] = {"model": MODEL, "type": VIDEO_TYPES[action], "prompt": request.prompt.strip(),
                                "source": source, "video": video}  # fmt: skip
        if action == "reframe":
            body["aspect_ratio"] = request.aspect_ratio
        if request.requester_id is not None:
            body["user_id"] = self.user_id(request.requester_id)
        return body

    # --- VideoProvider ---------------------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        start_file = None if request.extend_of else request.start_image_file
        for file_id, which in ((start_file, "start image"), (request.end_image_file, "end image")):
            if file_id:
                await self._wait_until_ready(file_id, which)
        return await self._create(self.build_body(request), request)

    async def start_action(self, request: VideoRequest) -> ProviderStatus:
        """ClipActions: modify/upscale (video_edit), reframe (video_reframe) on a generation or an uploaded video."""
        if request.source_video_file and not request.action_of:
            await self._wait_until_ready(request.source_video_file, "source video")
        return await self._create(self.action_body(request), request)

    async def _create(self, body: dict[str, Any], request: VideoRequest) -> ProviderStatus:
        try:
            data = await self.transport.request_json("POST", "/generations", json_body=body, idempotent=False)
        except (ProviderRejectedError, ProviderAuthError) as error:
            raise _refined(error, request) from None
        status = self._status(data)
        self._remember(status.provider_job_id, body, retry=False)
        return status

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        try:
            data = await self.transport.request_json("GET", f"/generations/{quote(provider_job_id, safe='')}")
        except ProviderRejectedError as error:
            if error.status != 404:
                raise
            return ProviderStatus(
                ProviderState.FAILED, provider_job_id, failure_reason="generation no longer exists at Luma"
            )
        status = self._status(data)
        if status.state is ProviderState.FAILED and status.extra.get("failure_code") in RETRY_ONCE_CODES:
            return await self._retry_once(provider_job_id, status)
        return status

    async def cancel(self, provider_job_id: str) -> None:
        """The Agents API has no cancel or delete: the generation runs on (and may be billed)."""
        self._bodies.pop(provider_job_id, None)

    async def fetch_credits(self) -> str | None:
        """No balance endpoint exists; a one-item file listing proves the key instead."""
        await self.transport.request_json("GET", "/files", params={"limit": "1"})
        return "not available (the Luma Agents API has no balance call; see platform.lumalabs.ai for spend)"

    # --- Files API (StoresFiles) ----------------------------------------------------------------------

    async def upload_image(self, data: bytes, *, mime_type: str, filename: str, requester_id: int | None) -> str:
        """POST /files as multipart (the inline flow for small files); returns the file id. Luma ingests it
        asynchronously (`pending` → `ready`); submit() waits for `ready`."""
        return await self._upload(data, mime_type=mime_type, filename=filename, requester_id=requester_id,
                                  what="image")  # fmt: skip

    async def upload_video(self, data: bytes, *, mime_type: str, filename: str, requester_id: int | None) -> str:
        """StoresVideos: a source video for modify/reframe, through the same Files API flow."""
        return await self._upload(data, mime_type=mime_type, filename=filename, requester_id=requester_id,
                                  what="video")  # fmt: skip

    async def _upload(self, data: bytes, *, mime_type: str, filename: str, requester_id: int | None, what: str) -> str:
        fields = {"mime_type": mime_type, "size_bytes": str(len(data)), "purpose": "input", "filename": filename}
        if requester_id is not None:
            fields["user_id"] = self.user_id(requester_id)

        def form() -> aiohttp.FormData:
            built = aiohttp.FormData()
            for name, value in fields.items():
                built.add_field(name, value)
            built.add_field("file", data, filename=filename, content_type=mime_type)
            return built

        answer = await self.transport.request_json(
            "POST", "/files", form=form, idempotent=True, timeout=UPLOAD_TIMEOUT
        )  # a repeated upload only leaves a spare file behind: nothing is billed
        file = answer.get("file") if isinstance(answer, dict) else None
        if not isinstance(file, dict) or not isinstance(file.get("id"), str) or not file["id"]:
            raise ProviderProtocolError("luma-agents: POST /files answered no file id", provider=self.name)
        if file.get("state") == "failed":
            raise _file_refused(what, file.get("failure_reason"))
        return str(file["id"])

    async def _wait_until_ready(self, file_id: str, which: str) -> None:
        waited = 0.0
        while True:
            try:
                file = await self.transport.request_json("GET", f"/files/{quote(file_id, safe='')}")
            except ProviderRejectedError as error:
                if error.status != 404:
                    raise
                file = {"state": "deleted"}
            state = file.get("state") if isinstance(file, dict) else None
            if state == "ready":
                return
            if state in ("failed", "deleted"):
                reason = file.get("failure_reason") if state == "failed" else "it is no longer stored at Luma"
                raise _file_refused(which, reason)
            if waited >= FILE_READY_WAIT_S:  # nothing was created yet, so another provider may take the job
                raise ProviderUnavailableError(f"luma-agents: {which} still {state} after {waited:.0f}s",
                                               provider=self.name)  # fmt: skip
            await self._clock.sleep(FILE_POLL_S)
            waited += FILE_POLL_S

    # --- reading answers ------------------------------------------------------------------------------

    def _remember(self, generation_id: str | None, body: dict[str, Any], *, retry: bool) -> None:
        if generation_id:
            self._bodies[generation_id] = (body, retry)
            while len(self._bodies) > REMEMBERED_BODIES:
                self._bodies.popitem(last=False)

    async def _retry_once(self, failed_id: str, status: ProviderStatus) -> ProviderStatus:
        """A model error: send the same request once more as a new generation, if this process sent the first
        one (the Agents API does not echo the request, so after a restart the failure stands and is refunded)."""
        body, was_retry = self._bodies.pop(failed_id, (None, True))
        if body is None or was_retry:
            return status
        log.warning("luma-agents: generation %s failed (%s); retrying once as a new generation",
                    failed_id, status.extra.get("failure_code"))  # fmt: skip
        data = await self.transport.request_json("POST", "/generations", json_body=body, idempotent=False)
        fresh = self._status(data)
        self._remember(fresh.provider_job_id, body, retry=True)
        return ProviderStatus(
            fresh.state, fresh.provider_job_id, raw_state="retrying", restarted_as=fresh.provider_job_id,
            extra={**fresh.extra, "retry_of": failed_id},
        )  # fmt: skip

    def _status(self, data: Any) -> ProviderStatus:
        """A Generation → ProviderStatus; anything unreadable → ProviderProtocolError."""
        if not isinstance(data, dict):
            raise ProviderProtocolError("luma-agents: generation is not a JSON object", provider=self.name)
        job_id, raw_state = data.get("id"), data.get("state")
        if not isinstance(job_id, str) or not job_id or raw_state not in STATES:
            raise ProviderProtocolError(
                f"luma-agents: generation without a usable id/state (state={str(raw_state)[:40]!r})",
                provider=self.name,
            )
        state = STATES[raw_state]
        extra: dict[str, str] = {"model": str(data.get("model") or MODEL)}
        outputs = [o for o in data.get("output") or [] if isinstance(o, dict) and isinstance(o.get("url"), str)]
        video = next((o["url"] for o in outputs if o.get("type") == "video"), None)
        image = next((o["url"] for o in outputs if o.get("type") == "image"), None)
        if image:
            extra["thumbnail_url"] = image
        if state is ProviderState.COMPLETED:
            if not video or not video.startswith(("http://", "https://")):
                raise ProviderProtocolError("luma-agents: completed generation has no video output", provider=self.name)
            return ProviderStatus(state, job_id, video_url=video, raw_state=raw_state, extra=extra)
        if state is ProviderState.FAILED:
            return self._failed(job_id, data, extra)
        return ProviderStatus(state, job_id, raw_state=raw_state, extra=extra)

    def _failed(self, job_id: str, data: dict[str, Any], extra: dict[str, str]) -> ProviderStatus:
        code = data.get("failure_code") if isinstance(data.get("failure_code"), str) else None
        reason = data.get("failure_reason") if isinstance(data.get("failure_reason"), str) else None
        if code == "budget_exhausted":  # the operator's problem: refund, and an ERROR line for the admin
            raise ProviderCreditsError(
                f"luma-agents: generation {job_id} stopped: budget_exhausted ({reason or 'no reason'})",
                provider=self.name,
                public_message="The bot's Luma account ran out of funds during this clip. An admin has been told; "
                "your quota was refunded.",
            )
        if code:
            extra["failure_code"] = code
        shown = INPUT_CODES.get(code or "", reason) or code or None
        user_fault = code == "content_moderated" or (code is None and is_moderation_reason(reason))
        return ProviderStatus(ProviderState.FAILED, job_id, failure_reason=shown, user_fault=user_fault,
                              raw_state="failed", extra=extra)  # fmt: skip


def _image_ref(file_id: str | None, url: str | None) -> dict[str, str] | None:
    """ImageRef: exactly one of file_id (preferred: it outlives the CDN link) or url."""
    if file_id:
        return {"file_id": file_id}
    return {"url": url} if url else None


def _file_refused(which: str, reason: Any) -> ProviderRejectedError:
    shown = str(reason)[:200] if reason else "no reason given"
    return ProviderRejectedError(
        f"luma-agents: {which} refused: {shown}", provider="luma-agents",
        public_message=f"Luma could not use the {which}: {shown}. Your quota was refunded.",
    )  # fmt: skip


def _refined(error: ProviderError, request: VideoRequest) -> ProviderError:
    """A create Luma refused (400/403/422); an HDR request on an account without HDR gets its own clear answer
    (a 403 is otherwise an auth problem: the key lacks access)."""
    if request.hdr and hdr_not_enabled(error.status, error.detail):
        return ProviderRejectedError(
            error.detail, provider=error.provider, status=error.status,
            public_message="Your Luma plan has no HDR: this bot's Luma account can't make HDR clips. Try again "
            "without `hdr`. Nothing was charged: your quota was refunded.",
        )  # fmt: skip
    return error


def create(config: ProviderConfig, context: ProviderContext) -> LumaAgentsProvider:
    if not config.api_key:
        raise ConfigError(["luma-agents is enabled but LUMA_AGENTS_API_KEY is not set"])
    return LumaAgentsProvider(
        context.session, api_key=config.api_key.get(), clock=context.clock, base_url=config.base_url or DEFAULT_BASE_URL
    )
