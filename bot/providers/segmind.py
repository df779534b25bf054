"""Segmind gateway: Luma Ray 2, Ray Flash 2 and Luma's first model (protocols.md §B.1).

Two transports. v2 (async): `POST /v2/{slug}` answers at once with a request id; we poll
`/v2/requests/{id}/status` and read the clip URL from `/v2/requests/{id}`. v1 (sync, the seed endpoints):
one POST holds the connection for a minute or more and answers with the raw video bytes. Segmind calls
v1 "maintenance mode", but that luma slugs exist on v2 is only inferred, so in "auto" mode a v2 404/405
(nothing was created) falls back to v1 for that slug.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot import media
from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderProtocolError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    is_moderation_reason,
)
from bot.providers import ProviderContext
from bot.providers.base import ALL_ASPECT_RATIOS, Capabilities, check_request
from bot.providers.http import HttpTransport, error_detail, error_for_status, parse_body, redact

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.segmind.com"
MODES = ("auto", "async", "sync")
# v1 holds the connection while the clip renders (~62 s typical, minutes on a cold boot).
SYNC_TIMEOUT = aiohttp.ClientTimeout(total=900, connect=10, sock_read=600)
V2_STATES = {"QUEUED": ProviderState.QUEUED, "PROCESSING": ProviderState.RUNNING}
CREDITS_HEADER = "x-remaining-credits"
RAW_ANSWER_LIMIT = 200  # characters of an unreadable result kept in the job's failure detail (and 2000 in the log)

# Segmind's Luma slugs and what each takes. `segmind` 1.3.0 has no per-model types (`run(slug, **params)`
# forwards the body verbatim), so the model pages are the source:
#   luma-ray-txt-2-video  prompt, aspect_ratio (7), loop, resolution (default 720p; the page prints no list:
#                         1080p is Ray 2's own, unconfirmed at Segmind)
#                         https://platform-website-v4-ocsh07i9o-segmind.vercel.app/models/luma-ray-txt-2-video/api
#   luma-ray-img-2-video  prompt, start_frame (an image URL), aspect_ratio (1:1 16:9 2:3 3:2 4:5 5:4 9:16 9:21 21:9:
#                         no 4:3/3:4), loop, resolution, concepts — https://www.segmind.com/models/luma-ray-img-2-video/api
#   ray-flash-2-720p      prompt, aspect_ratio (7), duration 5|9 (an integer), loop, start_image_url, end_image_url;
#                         also on v2 — https://www.segmind.com/models/ray-flash-2-720p/api,
#                         https://segmind.com/models/ray-flash-2-720p/api ("POST /v2/ray-flash-2-720p")
#   luma-txt-2-video      prompt, aspect_ratio (7), loop; Luma's first model, still listed ($0.95)
#                         https://www.segmind.com/models/luma-txt-2-video/api
# Not offered: luma-ray-3-2 exists (https://www.segmind.com/models/luma-ray-3-2/api, v2) but the stored page's
# parameter list is cut off; Ray 3.2 is served by the luma-agents provider.
TEXT_SLUGS = {"luma-ray": "luma-ray-txt-2-video", "ray-flash-2": "ray-flash-2-720p", "luma-v1": "luma-txt-2-video"}
IMAGE_SLUGS = {"luma-ray": "luma-ray-img-2-video", "ray-flash-2": "ray-flash-2-720p"}  # with a start image
END_IMAGE_MODELS = ("ray-flash-2",)
IMG2VIDEO_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "9:21", "21:9")  # luma-ray-img-2-video's list ∩ ours


@dataclass(frozen=True)
class SegmindCapabilities(Capabilities):
    """The provider-wide table plus the per-model image rules the shared one has no column for."""

    def problems(self, request: VideoRequest) -> list[str]:
        out = Capabilities.problems(self, request)
        model = request.model or self.default_model
        if model not in self.models:
            return out
        if request.start_image_url and model not in IMAGE_SLUGS:
            out.append(f"a start image is not possible with `{model}`; use {_names(tuple(IMAGE_SLUGS))}")
        if request.end_image_url and model not in END_IMAGE_MODELS:
            out.append(f"an end image is not possible with `{model}`; use {_names(END_IMAGE_MODELS)}")
        if model == "luma-ray" and request.start_image_url and request.aspect_ratio not in IMG2VIDEO_ASPECT_RATIOS:
            out.append(f"with a start image `luma-ray` takes aspect ratio {_names(IMG2VIDEO_ASPECT_RATIOS)}")
        return out


def _names(values: tuple[str, ...]) -> str:
    return ", ".join(f"`{v}`" for v in values)


class SegmindProvider:
    name = "segmind"
    display_name = "Segmind"
    capabilities = SegmindCapabilities(
        models=tuple(TEXT_SLUGS),
        default_model="luma-ray",
        aspect_ratios=ALL_ASPECT_RATIOS,
        resolutions=("720p", "1080p"),
        durations=("5s", "9s"),
        loop=True,
        start_image=True,  # luma-ray and ray-flash-2 (SegmindCapabilities refuses it on luma-v1)
        end_image=True,  # ray-flash-2 only
        model_resolutions={"luma-v1": ("720p",), "ray-flash-2": ("720p",)},
        model_durations={"luma-ray": ("5s",), "luma-v1": ("5s",)},  # only ray-flash-2-720p takes `duration`
    )
    # A clip takes about a minute; polling every 5 s costs little latency and respects the free tier's 5 RPM.
    poll_interval = 5.0

    def __init__(
        self,
        context: ProviderContext,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        mode: str = "auto",
        timeout: aiohttp.ClientTimeout | None = None,
        sync_timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Segmind mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self._context = context
        self._base = base_url.rstrip("/")
        self._headers = {"x-api-key": api_key}
        self._http = HttpTransport(
            context.session, provider=self.name, base_url=self._base, headers=self._headers,
            clock=context.clock, timeout=timeout,
        )  # fmt: skip
        self._sync_timeout = sync_timeout or SYNC_TIMEOUT
        self._v1_only: set[str] = set()  # slugs whose v2 endpoint answered 404/405
        self.remaining_credits: str | None = None  # last `x-remaining-credits` seen

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        check_request(self.capabilities, self.display_name, request)
        model = request.model or self.capabilities.default_model
        slug = IMAGE_SLUGS[model] if request.start_image_url else TEXT_SLUGS[model]
        body = _body(slug, request)
        try:
            if self.mode == "sync" or slug in self._v1_only:
                return await self._submit_sync(slug, body)
            try:
                return await self._submit_async(slug, body)
            except ProviderRejectedError as error:
                if self.mode != "auto" or error.status not in (404, 405):
                    raise
                log.info("segmind: /v2/%s answered %s; using the v1 sync endpoint", slug, error.status)
                self._v1_only.add(slug)
                return await self._submit_sync(slug, body)
        except ProviderCreditsError as error:
            log.error("Segmind account is OUT OF CREDITS (%s): top it up at segmind.com; the users "
                      "whose jobs failed were refunded", error.detail)  # fmt: skip
            raise

    async def _submit_async(self, slug: str, body: dict[str, Any]) -> ProviderStatus:
        answer = await self._http.request_json("POST", f"/v2/{slug}", json_body=body, idempotent=False)
        request_id = answer.get("request_id") if isinstance(answer, dict) else None
        if not isinstance(request_id, str) or not request_id or " " in request_id:
            raise ProviderProtocolError("segmind: v2 submit gave no request_id", provider=self.name)
        job_id = f"v2:{request_id}"
        # Keep the server's URLs only when they differ from the documented pattern and stay on our host
        # (the key is sent to them); the id alone must let poll() work after a restart.
        status_url, response_url = answer.get("status_url"), answer.get("response_url")
        if (status_url, response_url) != self._v2_urls(request_id) and self._same_origin(status_url, response_url):
            job_id += f" {status_url} {response_url}"
        raw = str(answer.get("status") or "QUEUED")
        return ProviderStatus(ProviderState.QUEUED, provider_job_id=job_id, raw_state=raw, extra=self._extra())

    async def _submit_sync(self, slug: str, body: dict[str, Any]) -> ProviderStatus:
        """One POST, never retried: the answer is the clip itself, streamed to a temp file."""
        dest = media.new_temp_path(self._context.temp_dir)
        try:
            async with self._context.session.post(
                self._http.url(f"/v1/{slug}"), json=body, headers=self._headers, timeout=self._sync_timeout
            ) as response:
                self._note_credits(response.headers)
                kind = response.headers.get("Content-Type", "")
                if response.status != 200 or "json" in kind:  # an answer about the job, not the clip
                    answer = parse_body((await response.content.read(64 * 1024)).decode("utf-8", "replace"))
                    if response.status != 200:
                        raise error_for_status(self.name, response.status, answer, response.headers, self._http.secrets)
                    await media.remove_quietly(dest)
                    return self._sync_json_answer(slug, answer)
                if not kind.startswith(("video/", "application/octet-stream")):
                    # The seed pages say "image/jpeg" (a template leftover): the magic bytes decide.
                    log.warning("segmind: v1 answered Content-Type %r; checking the bytes", kind)
                await media.stream_response_to_file(response, dest, max_bytes=self._context.max_download_bytes)
        except aiohttp.ClientConnectorError as error:  # never reached Segmind: nothing was accepted
            await media.remove_quietly(dest)
            raise ProviderUnavailableError(
                f"segmind: {type(error).__name__} before the v1 sync call", provider=self.name
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            await media.remove_quietly(dest)
            raise ProviderTimeoutError(
                f"segmind: {type(error).__name__} during the v1 sync call", provider=self.name
            ) from None
        except BaseException:
            await media.remove_quietly(dest)
            raise
        return ProviderStatus(ProviderState.COMPLETED, video_file=dest, raw_state="COMPLETED", extra=self._extra())

    def _sync_json_answer(self, slug: str, answer: object) -> ProviderStatus:
        """A v1 200 in JSON (the current pages' examples read `response.json()`): a clip URL, an error, or an answer
        about a paid clip we can't read, which is kept rather than lost."""
        if not isinstance(answer, dict | list | str):  # cut off mid-object, or empty
            raise ProviderProtocolError("segmind: v1 answered unreadable JSON, not a video", provider=self.name)
        video_url = find_video_url(answer if isinstance(answer, dict) else {"output": answer})
        if video_url is not None:
            return ProviderStatus(ProviderState.COMPLETED, video_url=video_url, raw_state="COMPLETED", extra=self._extra())
        if isinstance(answer, dict) and answer.get("error"):
            reason = redact(error_detail(answer), self._http.secrets)
            return ProviderStatus(
                ProviderState.FAILED, failure_reason=reason, user_fault=is_moderation_reason(reason), raw_state="FAILED"
            )
        return self._unreadable_result(None, f"the sync call to {slug}", answer)

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        kind, _, rest = provider_job_id.partition(":")
        if kind != "v2" or not rest:
            return ProviderStatus(
                ProviderState.FAILED, provider_job_id=provider_job_id,
                failure_reason="a Segmind sync (v1) call cannot be resumed after a restart",
            )  # fmt: skip
        request_id, *urls = rest.split(" ")
        status_url, response_url = urls if len(urls) == 2 else self._v2_urls(request_id)
        status = self._v2_status(provider_job_id, await self._get_v2(status_url))
        if status.state is not ProviderState.COMPLETED:
            return status
        result = await self._get_v2(response_url)
        status = self._v2_status(provider_job_id, result)
        if status.state is not ProviderState.COMPLETED:
            return status
        video_url = find_video_url(result)
        if video_url is None:
            return self._unreadable_result(provider_job_id, f"request {request_id}", result)
        return ProviderStatus(
            ProviderState.COMPLETED, provider_job_id=provider_job_id, video_url=video_url,
            raw_state="COMPLETED", extra=self._extra(),
        )  # fmt: skip

    def _unreadable_result(self, job_id: str | None, where: str, result: object) -> ProviderStatus:
        """COMPLETED with no video we can find: the clip was paid for, so keep Segmind's answer in the job and say
        where the clip may still be, instead of failing as if nothing happened."""
        raw = redact(json.dumps(result, default=str)[:2000], self._http.secrets)
        log.error("segmind: %s COMPLETED but no video URL in its answer (a clip may exist at Segmind): %s",
                  where, raw)  # fmt: skip
        detail = raw if len(raw) <= RAW_ANSWER_LIMIT else raw[: RAW_ANSWER_LIMIT - 1] + "…"
        return ProviderStatus(
            ProviderState.FAILED, provider_job_id=job_id, raw_state="COMPLETED",
            failure_reason=f"Segmind finished {where}, but its answer holds no video the bot can read; "
                           f"a clip may exist at Segmind (kept 1 hour). Segmind answered: {detail}",
        )  # fmt: skip

    async def _get_v2(self, url: str) -> object:
        """FAILED arrives with HTTP 422 (read the body, not the code); 404 means the result expired."""
        try:
            return await self._http.request_json("GET", url, accept_status=(422,))
        except ProviderRejectedError as error:
            if error.status != 404:
                raise
            return {"status": "FAILED", "error": "Segmind no longer has this request (results are kept 1 hour)"}

    def _v2_status(self, job_id: str, body: object) -> ProviderStatus:
        if not isinstance(body, dict):
            raise ProviderProtocolError("segmind: v2 status is not a JSON object", provider=self.name)
        raw = str(body.get("status") or "")
        reason = redact(str(body.get("error") or body.get("message") or ""), self._http.secrets)
        if raw == "COMPLETED":
            return ProviderStatus(ProviderState.COMPLETED, provider_job_id=job_id, raw_state=raw)
        if raw in V2_STATES:
            return ProviderStatus(V2_STATES[raw], provider_job_id=job_id, raw_state=raw, extra=self._extra())
        if raw == "FAILED" or reason:
            return ProviderStatus(
                ProviderState.FAILED, provider_job_id=job_id, failure_reason=reason or "Segmind reported FAILED",
                user_fault=is_moderation_reason(reason), raw_state=raw or "FAILED",
            )  # fmt: skip
        if not raw:
            raise ProviderProtocolError("segmind: v2 status body has no `status`", provider=self.name)
        log.warning("segmind: unknown v2 status %r; treating it as still running", raw)
        return ProviderStatus(ProviderState.RUNNING, provider_job_id=job_id, raw_state=raw)

    async def cancel(self, provider_job_id: str) -> None:
        """Segmind has no cancel call."""

    async def fetch_credits(self) -> str | None:
        try:
            body = await self._http.request_json("GET", "/v1/get-user-credits")
        except ProviderError as error:
            if self.remaining_credits is None or isinstance(error, ProviderAuthError):
                raise
            return f"{self.remaining_credits} credits (from the last generation's header)"
        if not isinstance(body, dict) or "credits" not in body:
            raise ProviderProtocolError("segmind: get-user-credits gave no `credits`", provider=self.name)
        return f"{body['credits']} credits, {body.get('free-credits', 0)} free credits"

    def _v2_urls(self, request_id: str) -> tuple[str, str]:
        return f"{self._base}/v2/requests/{request_id}/status", f"{self._base}/v2/requests/{request_id}"

    def _same_origin(self, *urls: object) -> bool:
        base = urlsplit(self._base)
        return all(
            isinstance(u, str) and " " not in u and urlsplit(u)[:2] == (base.scheme, base.netloc) for u in urls
        )

    def _note_credits(self, headers: Mapping[str, str]) -> None:
        if headers.get(CREDITS_HEADER) is not None:
            self.remaining_credits = headers[CREDITS_HEADER]

    def _extra(self) -> dict[str, str]:
        return {"remaining_credits": self.remaining_credits} if self.remaining_credits is not None else {}


def _body(slug: str, request: VideoRequest) -> dict[str, Any]:
    prompt = request.prompt
    if request.camera:  # no concepts API: Segmind's page says to write the camera move into the prompt
        prompt += f", camera {request.camera.replace('_', ' ')}"
    # Always send `loop`: one doc says it defaults to false, another "1" (contradiction #6).
    body: dict[str, Any] = {"prompt": prompt, "aspect_ratio": request.aspect_ratio, "loop": bool(request.loop)}
    if slug in ("luma-ray-txt-2-video", "luma-ray-img-2-video"):
        body["resolution"] = request.resolution
    if slug == "luma-ray-img-2-video":
        body["start_frame"] = request.start_image_url
    if slug == "ray-flash-2-720p":
        body["duration"] = int(request.duration.removesuffix("s"))  # the page types it as an integer: 5 or 9
        if request.start_image_url:
            body["start_image_url"] = request.start_image_url
        if request.end_image_url:
            body["end_image_url"] = request.end_image_url
    return body


VIDEO_KEYS = ("video", "video_url", "url", "output", "videos", "outputs")
_MAX_DEPTH = 4
_MAX_ITEMS = 20


def find_video_url(result: object) -> str | None:
    """The clip's URL in a v2 result. The SDK says `output` is model-specific: a URL string, a list of them (also
    nested), or an object under `video`/`video_url`/`url`/`output`; some models put those keys beside `output`."""
    found = _output_url(result.get("output")) if isinstance(result, dict) else None
    if found is None and isinstance(result, dict):
        found = _output_url({k: result[k] for k in VIDEO_KEYS if k != "output" and k in result})
    return found


def _output_url(output: object, depth: int = 0) -> str | None:
    """The first http(s) URL in `output`, looking through lists and the video keys, at most 4 levels deep."""
    if isinstance(output, str):
        return output if output.startswith(("http://", "https://")) and " " not in output else None
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(output, list):
        for item in output[:_MAX_ITEMS]:
            if (found := _output_url(item, depth + 1)) is not None:
                return found
    elif isinstance(output, dict):
        for key in VIDEO_KEYS:
            if (found := _output_url(output.get(key), depth + 1)) is not None:
                return found
    return None


def create(config: ProviderConfig, context: ProviderContext) -> SegmindProvider:
    if not config.api_key:
        raise ConfigError(["segmind is enabled but SEGMIND_API_KEY is not set"])
    # SEGMIND_MODE (auto|async|sync) is honoured once config.py gives ProviderConfig a `mode`; until then auto.
    mode = getattr(config, "mode", None) or "auto"
    return SegmindProvider(
        context, api_key=config.api_key.get(), base_url=config.base_url or DEFAULT_BASE_URL, mode=mode
    )
