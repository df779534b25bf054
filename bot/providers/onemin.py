"""1min.ai gateway (protocols.md §B.2): one synchronous `POST /api/features` that holds the connection for
minutes and answers with the finished `aiRecord`; the clip is at `aiRecord.temporaryUrl`, a presigned S3 URL
good for 7 days (`resultObject` names a private bucket and cannot be fetched). Start images go through the
Asset API first. There is no status endpoint and no balance call.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.config import ProviderConfig
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    ConfigError,
    InvalidRequestError,
    ProviderProtocolError,
    ProviderUnavailableError,
    is_moderation_reason,
)
from bot.providers import ProviderContext
from bot.providers.base import ALL_ASPECT_RATIOS, Capabilities, check_request
from bot.providers.http import (
    MAX_BODY_BYTES,
    HttpTransport,
    error_detail,
    error_for_status,
    parse_body,
    read_capped,
    redact,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.1min.ai"
# The docs' example took ~7.5 minutes between createdAt and the URL's signature, and aiohttp's default total
# timeout is 300 s: give the generation call its own 15 minutes, with no per-read limit while it renders.
GENERATION_TIMEOUT = aiohttp.ClientTimeout(total=900, connect=10)
IMAGE_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


class OneMinProvider:
    name = "onemin"
    display_name = "1min.ai"
    capabilities = Capabilities(
        models=("ray-v2", "ray-v2-flash", "ray-v3", "ray-v3-reasoning", "ray-v1"),
        default_model="ray-v2",  # the Ray generation Luma and Segmind serve too; Ray 3 stays selectable
        aspect_ratios=ALL_ASPECT_RATIOS,
        resolutions=("720p", "1080p"),
        durations=("5s", "10s"),
        loop=True,
        start_image=True,
    )
    poll_interval = 5.0  # unused in practice: submit() returns the finished record

    def __init__(
        self,
        context: ProviderContext,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: aiohttp.ClientTimeout | None = None,
        generation_timeout: aiohttp.ClientTimeout = GENERATION_TIMEOUT,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self._context = context
        self._headers = {"API-KEY": api_key}  # 1min.ai's own header, not Bearer
        self._http = HttpTransport(
            context.session, provider=self.name, base_url=base_url, headers=self._headers,
            clock=context.clock, timeout=timeout,
        )  # fmt: skip
        self.generation_timeout = generation_timeout
        self.max_image_bytes = max_image_bytes

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        """Send the one generating POST. The transport repeats it only after a 429 or a connection that was
        never made (nothing was created); anything else could charge twice."""
        check_request(self.capabilities, self.display_name, request)
        prompt = request.prompt
        if request.camera:  # no concepts API: write the camera move into the prompt
            prompt += f", camera {request.camera.replace('_', ' ')}"
        prompt_object: dict[str, Any] = {
            "prompt": prompt, "modelName": request.model or self.capabilities.default_model,
            "duration": request.duration, "aspectRatio": request.aspect_ratio,
            "resolution": request.resolution, "loop": bool(request.loop),
        }  # fmt: skip
        feature = "TEXT_TO_VIDEO"
        if request.start_image_url:
            prompt_object["imageUrl"] = await self._upload_image(request.start_image_url)
            feature = "IMAGE_TO_VIDEO"
        body = {"type": feature, "model": "luma", "promptObject": prompt_object}
        answer = await self._http.request_json(
            "POST", "/api/features", json_body=body, idempotent=False, timeout=self.generation_timeout
        )
        return self._status(answer)

    def _status(self, answer: object) -> ProviderStatus:
        record = answer.get("aiRecord") if isinstance(answer, dict) else None
        if not isinstance(record, dict):  # e.g. `{}`, the stale doc version's example answer
            raise ProviderProtocolError("1min.ai: the answer has no aiRecord", provider=self.name)
        job_id = str(record["uuid"]) if record.get("uuid") else None
        raw = str(record.get("status") or "")
        url = record.get("temporaryUrl")
        extra = _credits_left(record)
        if raw == "SUCCESS" and isinstance(url, str) and url.startswith(("http://", "https://")):
            return ProviderStatus(
                ProviderState.COMPLETED, provider_job_id=job_id, video_url=url, raw_state=raw, extra=extra
            )
        detail = record.get("aiRecordDetail")
        reason = error_detail(record) or error_detail(answer)
        if not reason and isinstance(detail, dict):
            reason = error_detail(detail.get("responseObject"))
        reason = redact(reason, self._http.secrets) or f"1min.ai answered status {raw or 'none'} without a video"
        log.warning("1min.ai record %s ended %s: %s", job_id, raw or "?", reason)
        return ProviderStatus(
            ProviderState.FAILED, provider_job_id=job_id, failure_reason=reason,
            user_fault=is_moderation_reason(reason), raw_state=raw or None, extra=extra,
        )  # fmt: skip

    async def _upload_image(self, image_url: str) -> str:
        """Fetch the start image (size-capped) and hand it to the Asset API; 1min.ai wants the asset key."""
        data, content_type = await self._fetch_image(image_url)
        form = aiohttp.FormData()
        name = PurePosixPath(urlsplit(image_url).path).name or "start-image"
        form.add_field("asset", data, filename=name, content_type=content_type)
        try:
            async with self._context.session.post(
                self._http.url("/api/assets"), data=form, headers=self._headers, timeout=self._http.timeout
            ) as response:
                raw, status, headers = await read_capped(response, MAX_BODY_BYTES), response.status, response.headers
        except (TimeoutError, aiohttp.ClientError) as error:
            raise ProviderUnavailableError(f"1min.ai: asset upload failed ({type(error).__name__})",
                                           provider=self.name) from None  # fmt: skip
        if raw is None:
            raise ProviderProtocolError("1min.ai: the asset upload's answer is too large", provider=self.name)
        body = parse_body(raw.decode("utf-8", "replace"))
        if status >= 400:
            raise error_for_status(self.name, status, body, headers, self._http.secrets)
        asset = body.get("asset") if isinstance(body, dict) else None
        content = body.get("fileContent") if isinstance(body, dict) else None
        key = (asset or {}).get("key") or (content or {}).get("path")
        if not isinstance(key, str) or not key:
            raise ProviderProtocolError("1min.ai: the asset upload gave no key", provider=self.name)
        return key

    async def _fetch_image(self, url: str) -> tuple[bytes, str]:
        """The image is small (capped), so it is held in memory; never a video."""
        refused = "The start image could not be used: {}. Nothing was charged."
        try:
            async with self._context.session.get(url, timeout=IMAGE_TIMEOUT) as response:
                if response.status != 200:
                    raise InvalidRequestError(f"start image: HTTP {response.status}",
                                              public_message=refused.format("it could not be downloaded"))
                if (response.content_length or 0) > self.max_image_bytes:
                    raise InvalidRequestError("start image too large", public_message=refused.format("too large"))
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > self.max_image_bytes:
                        raise InvalidRequestError("start image too large",
                                                  public_message=refused.format("too large"))
        except (TimeoutError, aiohttp.ClientError) as error:
            raise InvalidRequestError(f"start image: {type(error).__name__}",
                                      public_message=refused.format("it could not be downloaded")) from None
        for magic, content_type in IMAGE_MAGIC:
            if data.startswith(magic) and (magic != b"RIFF" or data[8:12] == b"WEBP"):
                return bytes(data), content_type
        raise InvalidRequestError("start image is not PNG/JPEG/WebP",
                                  public_message=refused.format("it is not a PNG, JPEG or WebP image"))  # fmt: skip

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        """1min.ai has no status endpoint: the generating POST is the only way to learn the result, and
        submit() already returned it. A job interrupted mid-call (a restart) cannot be recovered, so this
        reports FAILED with that reason rather than guessing."""
        return ProviderStatus(
            ProviderState.FAILED, provider_job_id=provider_job_id,
            failure_reason="1min.ai has no status endpoint, so this job cannot be followed after a restart",
        )  # fmt: skip

    async def cancel(self, provider_job_id: str) -> None:
        """1min.ai has no cancel call."""

    async def fetch_credits(self) -> str | None:
        """1min.ai documents no balance call (each record carries the team's credits; see `extra`)."""
        return None


def _credits_left(record: dict[str, Any]) -> dict[str, str]:
    team = record.get("teamUser")
    if isinstance(team, dict) and isinstance(team.get("creditLimit"), int | float):
        used = team.get("usedCredit") or 0
        if isinstance(used, int | float):
            return {"credits_left": str(team["creditLimit"] - used)}
    return {}


def create(config: ProviderConfig, context: ProviderContext) -> OneMinProvider:
    if not config.api_key:
        raise ConfigError(["onemin is enabled but ONEMIN_API_KEY is not set"])
    return OneMinProvider(context, api_key=config.api_key.get(), base_url=config.base_url or DEFAULT_BASE_URL)
