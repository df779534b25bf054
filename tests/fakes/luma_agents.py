"""A local fake of the Luma Agents API (Ray 3.2; docs/protocols.md §F.6), for contract and e2e tests.

    async with FakeLumaAgents(api_key="luma-api-test") as fake:
        provider = LumaAgentsProvider(session, api_key="luma-api-test", base_url=fake.base_url, clock=clock)

It speaks the shapes of the official `luma-agents` 0.5.0 SDK (tests/contract/test_luma_agents_sdk.py drives
it with that SDK under strict response validation). Generations walk queued → processing → completed by GET
poll count. Every GET of a completed generation mints fresh presigned output URLs; `expire_outputs()` (or
`url_ttl` on the injected monotonic clock) makes the old ones answer 403 like an expired S3 link. Files:
multipart upload → `pending` → `ready` after `file_polls_to_ready` GETs; the JSON flow (presigned PUT, then
`/complete`) as the SDK's `files.create` does it. Knobs: failure codes, 402 balance, 403 HDR access, 429 by
RPM and by concurrency with Retry-After, injected statuses and hangs. Every request is in `fake.requests`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes._server import serve_local
from tests.fakes.luma import RecordedRequest, mp4_header

MODEL = "ray-3.2"
TYPES = ("video", "video_edit", "video_reframe")
EDIT_STRENGTHS = tuple(f"{kind}_{n}" for kind in ("adhere", "flex", "reimagine") for n in (1, 2, 3))
FILE_TYPES = ("image/png", "image/jpeg", "image/webp", "video/mp4", "video/quicktime")
ASPECT_RATIOS = ("9:16", "3:4", "1:1", "4:3", "16:9", "21:9")  # Ray 3.2's set (§F.2); the SDK type allows more
RESOLUTIONS = ("360p", "540p", "720p", "1080p")
DURATIONS = ("5s", "10s")
VIDEO_FIELDS = {"resolution", "duration", "loop", "hdr", "exr_export", "start_frame", "end_frame", "keyframes",
                "keyframe_indexes", "edit", "source_position"}  # fmt: skip
TOP_FIELDS = {"prompt", "model", "type", "aspect_ratio", "video", "user_id", "source", "image_ref", "style",
              "output_format", "web_search", "layering"}  # fmt: skip
REF_KEYS = ("url", "data", "generation_id", "file_id")
PRICES = {"360p": 6, "540p": 15, "720p": 30, "1080p": 120}  # cents per 5 s SDR block (HDR doubles)
AUTH_DETAIL = "Invalid API key"
HDR_DETAIL = "HDR generation is not enabled for this account; contact Luma to enable HDR access"
_JSON: Any = web.RequestKey("json", object) if hasattr(web, "RequestKey") else "json"


@dataclass
class FakeGeneration:
    id: str
    body: dict[str, Any]
    created_at: str
    state: str = "queued"
    polls: int = 0
    failure_code: str | None = None
    failure_reason: str | None = None
    fail_with: tuple[str, str] | None = None
    cost: int = 0

    def to_json(self, outputs: list[dict[str, str]] | None) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "created_at": self.created_at, "model": MODEL,
                                "type": self.body.get("type", "video"), "state": self.state}  # fmt: skip
        if self.state == "failed":
            data["failure_code"] = self.failure_code
            data["failure_reason"] = self.failure_reason
        if outputs is not None:
            data["output"] = outputs
        return data


@dataclass
class FakeFile:
    id: str
    mime_type: str
    size_bytes: int
    purpose: str
    created_at: str
    filename: str | None = None
    user_id: str | None = None
    state: str = "pending"
    uploaded: bool = False  # bytes received (multipart at once; presigned after the PUT)
    completed: bool = False
    polls: int = 0
    failure_reason: str | None = None
    data: bytes = b""

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "created_at": self.created_at, "mime_type": self.mime_type, "purpose": self.purpose,
               "size_bytes": self.size_bytes, "state": self.state, "filename": self.filename,
               "user_id": self.user_id}  # fmt: skip
        if self.state == "failed":
            out["failure_reason"] = self.failure_reason
        return out


@dataclass
class _Injection:
    method: str
    path_prefix: str
    times: int
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class _Rejected(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class FakeLumaAgents:
    def __init__(
        self,
        api_key: str = "luma-api-test",
        *,
        polls_to_process: int = 1,
        polls_to_complete: int | None = 2,
        video_size: int = 64 * 1024,
        hdr_enabled: bool = True,
        balance_cents: int | None = None,  # None: unlimited
        max_active: int | None = 10,
        max_rpm: int | None = 20,
        retry_after: float = 2.0,
        file_polls_to_ready: int = 1,
        url_ttl: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.polls_to_process = polls_to_process
        self.polls_to_complete = polls_to_complete  # None: never completes on its own (use set_state)
        self.video_size = video_size
        self.hdr_enabled = hdr_enabled
        self.balance_cents = balance_cents
        self.max_active = max_active
        self.max_rpm = max_rpm
        self.retry_after = retry_after
        self.file_polls_to_ready = file_polls_to_ready
        self.url_ttl = url_ttl
        self.monotonic = monotonic
        self.generations: dict[str, FakeGeneration] = {}
        self.files: dict[str, FakeFile] = {}
        self.requests: list[RecordedRequest] = []
        self.minted: dict[str, tuple[str, float]] = {}  # token → (generation id or thumb:<id>, expires at)
        self.downloads: list[str] = []  # generation ids whose video was downloaded
        self._creates: deque[float] = deque()
        self._failures: deque[tuple[str, str]] = deque()
        self._file_failures: deque[str] = deque()
        self._injections: list[_Injection] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/generations", self._create)
        app.router.add_get("/generations/{id}", self._get)
        app.router.add_post("/files", self._create_file)
        app.router.add_get("/files", self._list_files)
        app.router.add_get("/files/{id}", self._get_file)
        app.router.add_delete("/files/{id}", self._delete_file)
        app.router.add_post("/files/{id}/complete", self._complete_file)
        app.router.add_put("/uploads/{id}", self._put_upload)
        app.router.add_get("/outputs/{token}", self._output)
        self._runner, self.base_url = await serve_local(app)
        return self.base_url

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLumaAgents:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- knobs -----------------------------------------------------------------------------------

    def fail_next(self, method: str, path_prefix: str, status: int, body: Any = None, *, times: int = 1,
                  headers: dict[str, str] | None = None) -> None:  # fmt: skip
        """The next `times` matching requests answer `status` with `body` (dict → JSON, str → raw text,
        None → {"detail": ...})."""
        self._injections.append(_Injection(method.upper(), path_prefix, times, status, body, dict(headers or {})))

    def hang_next(self, method: str, path_prefix: str, *, times: int = 1) -> None:
        self._injections.append(_Injection(method.upper(), path_prefix, times, hang=True))

    def malformed_next(self, method: str, path_prefix: str) -> None:
        self.fail_next(method, path_prefix, 200, '{"id": "broken", "state": ', headers={"Content-Type": "application/json"})

    def fail_next_generation(self, code: str = "generation_failed", reason: str = "Internal model error", *,
                             times: int = 1) -> None:  # fmt: skip
        """The next `times` created generations end `failed` with this failure_code where they would complete."""
        self._failures.extend([(code, reason)] * times)

    def fail_next_file(self, reason: str = "Image failed moderation") -> None:
        self._file_failures.append(reason)

    def set_state(self, generation_id: str, state: str) -> None:
        self.generations[generation_id].state = state

    def expire_outputs(self) -> None:
        """Every output URL minted so far stops working (a presigned link past its hour)."""
        self.minted.clear()

    def requests_to(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix)]

    @property
    def active(self) -> list[FakeGeneration]:
        return [g for g in self.generations.values() if g.state in ("queued", "processing")]

    # --- plumbing --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        body: Any = None
        multipart = request.content_type.startswith("multipart/")
        if request.can_read_body and not multipart and not request.path.startswith("/uploads/"):
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        request[_JSON] = body
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body,
                                             dict(request.query)))  # fmt: skip
        injected = self._take_injection(request.method, request.path)
        if injected is not None:
            if injected.hang:
                await self._release.wait()
                return _detail(503, "fake closed")
            return _injected(injected)
        public = request.path.startswith(("/outputs/", "/uploads/"))  # presigned: the signature is the credential
        if not public and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _detail(401, AUTH_DETAIL)
        try:
            response = await handler(request)
        except _Rejected as rejected:
            return _detail(rejected.status, rejected.detail, rejected.headers)
        response.headers["X-Request-Id"] = f"req_{uuid.uuid4().hex[:16]}"
        response.headers["X-API-Version"] = "2026-08-01"
        return response

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.method == method and path.startswith(injection.path_prefix):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _advance(self, gen: FakeGeneration) -> None:
        gen.polls += 1
        if gen.state in ("completed", "failed"):
            return
        if self.polls_to_complete is not None and gen.polls >= self.polls_to_complete:
            if gen.fail_with is not None:
                gen.state, (gen.failure_code, gen.failure_reason) = "failed", gen.fail_with
                if self.balance_cents is not None and gen.failure_code != "budget_exhausted":
                    self.balance_cents += gen.cost  # a failed generation is not billed
            else:
                gen.state = "completed"
        elif gen.polls >= self.polls_to_process:
            gen.state = "processing"

    def _mint(self, subject: str) -> str:
        token = hashlib.sha256(f"{subject}:{uuid.uuid4()}".encode()).hexdigest()[:32]
        self.minted[token] = (subject, self.monotonic() + self.url_ttl)
        return f"{self.base_url}/outputs/{token}?X-Amz-Expires={int(self.url_ttl)}&X-Amz-Signature={token[:16]}"

    def _limits(self) -> None:
        if self.max_active is not None and len(self.active) >= self.max_active:
            raise _Rejected(429, f"Too many concurrent generations (limit {self.max_active})",
                            {"Retry-After": f"{self.retry_after:g}"})  # fmt: skip
        if self.max_rpm is not None:
            now = self.monotonic()
            while self._creates and now - self._creates[0] >= 60:
                self._creates.popleft()
            if len(self._creates) >= self.max_rpm:
                raise _Rejected(429, f"Rate limit exceeded: {self.max_rpm} requests per minute",
                                {"Retry-After": f"{self.retry_after:g}"})  # fmt: skip

    # --- generations -----------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = request[_JSON]
        if not isinstance(body, dict):
            raise _Rejected(400, "Request body must be a JSON object")
        self._limits()
        cost = self._validate(body)
        if self.balance_cents is not None:
            if self.balance_cents < cost:
                raise _Rejected(402, "Insufficient balance: add funds at platform.lumalabs.ai")
            self.balance_cents -= cost
        gen = FakeGeneration(
            id=str(uuid.uuid4()), body=body, cost=cost,
            created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            fail_with=self._failures.popleft() if self._failures else None,
        )  # fmt: skip
        self.generations[gen.id] = gen
        self._creates.append(self.monotonic())
        response = web.json_response(gen.to_json(None), status=201)
        if self.max_rpm is not None:
            response.headers["X-RateLimit-Limit"] = str(self.max_rpm)
        return response

    def _validate(self, body: dict[str, Any]) -> int:
        """Raise the documented 400/403/422 for a bad create; returns its price in cents."""
        unknown = set(body) - TOP_FIELDS
        if unknown:
            raise _Rejected(400, f"Unknown field(s): {', '.join(sorted(unknown))}")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Rejected(400, "prompt is required")
        if body.get("model") != MODEL:
            raise _Rejected(400, f"model must be {MODEL} for video (got {body.get('model')!r})")
        if body.get("type") not in TYPES:
            raise _Rejected(400, f"type {body.get('type')!r} is not supported by this fake (video types only)")
        if body["type"] != "video":
            return self._validate_edit(body)
        if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
            raise _Rejected(422, f"aspect_ratio {body.get('aspect_ratio')!r} is not supported for {MODEL}; "
                                 f"use one of {', '.join(ASPECT_RATIOS)}")  # fmt: skip
        if "user_id" in body and not isinstance(body["user_id"], str | None):
            raise _Rejected(400, "user_id must be a string")
        video = body.get("video") or {}
        if not isinstance(video, dict) or set(video) - VIDEO_FIELDS:
            raise _Rejected(400, f"Unknown video field(s): {', '.join(sorted(set(video) - VIDEO_FIELDS))}")
        resolution, duration = video.get("resolution", "720p"), video.get("duration", "5s")
        if resolution not in RESOLUTIONS:
            raise _Rejected(400, f"video.resolution must be one of {', '.join(RESOLUTIONS)}")
        if duration not in DURATIONS:
            raise _Rejected(400, f"video.duration must be one of {', '.join(DURATIONS)}")
        for flag in ("loop", "hdr", "exr_export"):
            if not isinstance(video.get(flag, False), bool | None):
                raise _Rejected(400, f"video.{flag} must be a boolean")
        loop, hdr = bool(video.get("loop")), bool(video.get("hdr"))
        frames = [video[k] for k in ("start_frame", "end_frame") if video.get(k) is not None]
        for ref in frames:
            self._check_ref(ref)
        keyframes = video.get("keyframes")
        if keyframes is not None:
            self._check_keyframes(keyframes, video.get("keyframe_indexes"), duration)
            if frames:
                raise _Rejected(422, "video.keyframes is mutually exclusive with start_frame / end_frame")
            if loop:
                raise _Rejected(422, "video.keyframes cannot be combined with loop")
        if frames and duration == "10s":
            raise _Rejected(422, "duration 10s is text-to-video only: start_frame / end_frame need 5s")
        if loop and video.get("end_frame") is not None:
            raise _Rejected(422, "loop is not supported with end_frame")
        if loop and duration == "10s":
            raise _Rejected(422, "loop is not supported with duration 10s")
        if video.get("exr_export") and not hdr:
            raise _Rejected(422, "exr_export requires hdr=true")
        if hdr:
            if loop:
                raise _Rejected(422, "loop is not supported with hdr=true")
            if resolution not in ("720p", "1080p"):
                raise _Rejected(422, f"hdr requires 720p or 1080p ({resolution} is SDR only)")
            if duration != "5s":
                raise _Rejected(422, "hdr is only available for 5s clips")
            if any(isinstance(ref, dict) and ref.get("generation_id") for ref in [*frames, *(keyframes or [])]):
                raise _Rejected(422, "extend is standard dynamic range only")
            if not self.hdr_enabled:
                raise _Rejected(403, HDR_DETAIL)
        blocks = 2 if duration == "10s" else 1
        return PRICES[resolution] * blocks * (2 if hdr else 1)

    def _validate_edit(self, body: dict[str, Any]) -> int:
        """video_edit / video_reframe: one source video (a completed generation, a ready video file, or a URL with
        a video media_type); output follows the source's duration. Priced like a 5 s clip of its resolution."""
        source = body.get("source")
        self._check_ref(source)
        if source.get("file_id") and not self.files[source["file_id"]].mime_type.startswith("video/"):
            raise _Rejected(422, "source file is not a video")
        if (source.get("url") or source.get("data")) and not str(source.get("media_type", "")).startswith("video/"):
            raise _Rejected(422, "source.media_type must be a video/* MIME type for video_edit / video_reframe")
        video = body.get("video") or {}
        if not isinstance(video, dict) or set(video) - VIDEO_FIELDS:
            raise _Rejected(400, f"Unknown video field(s): {', '.join(sorted(set(video) - VIDEO_FIELDS))}")
        for name in ("loop", "start_frame", "end_frame", "keyframes", "keyframe_indexes"):
            if video.get(name) is not None:
                raise _Rejected(422, f"video.{name} is only valid for type=video")
        resolution = video.get("resolution", "720p")
        if resolution not in RESOLUTIONS:
            raise _Rejected(400, f"video.resolution must be one of {', '.join(RESOLUTIONS)}")
        edit = video.get("edit")
        if body["type"] == "video_edit":
            if video.get("source_position") is not None:
                raise _Rejected(422, "video.source_position is only valid for type=video_reframe")
            if edit is not None and (not isinstance(edit, dict) or edit.get("strength", "flex_1") not in EDIT_STRENGTHS):
                raise _Rejected(400, f"video.edit.strength must be one of {', '.join(EDIT_STRENGTHS)}")
        else:
            if edit is not None:
                raise _Rejected(422, "video.edit is only valid for type=video_edit")
            if video.get("hdr"):
                raise _Rejected(422, "hdr is not supported for video_reframe")
            if resolution == "1080p":
                raise _Rejected(422, "video_reframe at 1080p is coming soon")
            if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
                raise _Rejected(422, f"aspect_ratio {body.get('aspect_ratio')!r} is not supported for {MODEL}")
        return PRICES[resolution]

    def _check_ref(self, ref: Any) -> None:
        if not isinstance(ref, dict) or sum(1 for k in REF_KEYS if ref.get(k)) != 1:
            raise _Rejected(400, f"An ImageRef needs exactly one of {', '.join(REF_KEYS)}")
        if ref.get("data") and not ref.get("media_type"):
            raise _Rejected(400, "media_type is required with data")
        if ref.get("file_id"):
            file = self.files.get(ref["file_id"])
            if file is None or file.state == "deleted":
                raise _Rejected(422, f"file {ref['file_id']} not found")
            if file.state != "ready":
                raise _Rejected(422, f"file {ref['file_id']} is {file.state}, not ready")
        if ref.get("generation_id"):
            gen = self.generations.get(ref["generation_id"])
            if gen is None:
                raise _Rejected(422, f"generation {ref['generation_id']} not found")
            if gen.state != "completed":
                raise _Rejected(422, f"generation {ref['generation_id']} is not completed")

    def _check_keyframes(self, keyframes: Any, indexes: Any, duration: str) -> None:
        last = 240 if duration == "10s" else 120
        if not isinstance(keyframes, list) or not 1 <= len(keyframes) <= 64:
            raise _Rejected(422, "video.keyframes takes 1 to 64 ImageRefs")
        if not isinstance(indexes, list) or len(indexes) != len(keyframes):
            raise _Rejected(422, "video.keyframe_indexes must match video.keyframes in length")
        if len(set(indexes)) != len(indexes) or not all(isinstance(i, int) and 0 <= i <= last for i in indexes):
            raise _Rejected(422, f"keyframe_indexes must be unique frames in 0..{last}")
        for ref in keyframes:
            self._check_ref(ref)

    async def _get(self, request: web.Request) -> web.Response:
        gen = self.generations.get(request.match_info["id"])
        if gen is None:
            raise _Rejected(404, "Generation not found")
        self._advance(gen)
        outputs = None
        if gen.state == "completed":  # presigned for url_ttl: each read mints fresh ones
            outputs = [{"type": "video", "url": self._mint(gen.id)}, {"type": "image", "url": self._mint(f"thumb:{gen.id}")}]
        return web.json_response(gen.to_json(outputs))

    async def _output(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        subject, expires = self.minted.get(token, ("", 0.0))
        if not subject or self.monotonic() >= expires:
            expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return web.Response(status=403, content_type="application/xml", text=expired)
        if subject.startswith("thumb:"):
            return web.Response(body=b"\xff\xd8\xff\xe0fake-jpeg", content_type="image/jpeg")
        self.downloads.append(subject)
        return web.Response(body=mp4_header(self.video_size) + bytes(max(0, self.video_size - 32)), content_type="video/mp4")

    # --- files -----------------------------------------------------------------------------------

    async def _create_file(self, request: web.Request) -> web.Response:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        if request.content_type.startswith("multipart/"):
            fields: dict[str, str] = {}
            data = b""
            async for part in await request.multipart():
                if part.name == "file":
                    data = await part.read()
                    fields.setdefault("mime_type", part.headers.get("Content-Type", ""))
                    fields.setdefault("filename", part.filename or "")
                elif part.name:
                    fields[part.name] = (await part.read()).decode()
            if not data:
                raise _Rejected(400, "multipart upload needs a file part")
            file = self._new_file(fields.get("mime_type", ""), len(data), fields, now)
            file.data, file.uploaded, file.completed = data, True, True
            answer = {"id": file.id, "state": file.state, "file": file.to_json(), "upload": None}
            return web.json_response(answer, status=201)
        body = request[_JSON]
        if not isinstance(body, dict) or not isinstance(body.get("size_bytes"), int):
            raise _Rejected(400, "mime_type and size_bytes are required")
        file = self._new_file(body.get("mime_type", ""), body["size_bytes"], body, now)
        upload = {"url": f"{self.base_url}/uploads/{file.id}", "method": "PUT", "expires_at": now,
                  "headers": {"Content-Type": file.mime_type}}  # fmt: skip
        return web.json_response({"id": file.id, "state": file.state, "file": file.to_json(), "upload": upload}, status=201)

    def _new_file(self, mime_type: str, size: int, fields: dict[str, Any], now: str) -> FakeFile:
        if mime_type not in FILE_TYPES:
            raise _Rejected(422, f"unsupported mime_type {mime_type!r}")
        if size > 50 * 1024 * 1024:
            raise _Rejected(413, "Input media exceeds size limit")
        purpose = fields.get("purpose") or "input"
        if purpose not in ("input", "reference"):
            raise _Rejected(400, "purpose must be input or reference")
        file = FakeFile(id=str(uuid.uuid4()), mime_type=mime_type, size_bytes=size, purpose=purpose, created_at=now,
                        filename=fields.get("filename") or None, user_id=fields.get("user_id") or None)  # fmt: skip
        if self._file_failures:
            file.failure_reason = self._file_failures.popleft()
        self.files[file.id] = file
        return file

    def _file(self, request: web.Request) -> FakeFile:
        file = self.files.get(request.match_info["id"])
        if file is None:
            raise _Rejected(404, "File not found")
        return file

    async def _get_file(self, request: web.Request) -> web.Response:
        file = self._file(request)
        if file.state == "pending" and file.completed:
            file.polls += 1
            if file.polls >= self.file_polls_to_ready:
                file.state, file.polls = ("failed", file.polls) if file.failure_reason else ("ready", file.polls)
        return web.json_response(file.to_json())

    async def _list_files(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "25"))
        files = sorted(self.files.values(), key=lambda f: f.created_at, reverse=True)
        page = [f.to_json() for f in files[:limit]]
        return web.json_response({"data": page, "has_more": len(files) > limit, "next_cursor": None})

    async def _delete_file(self, request: web.Request) -> web.Response:
        self._file(request).state = "deleted"
        return web.Response(status=204)

    async def _put_upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["id"])
        if file is None:
            return web.Response(status=404)
        file.data, file.uploaded = await request.read(), True
        return web.Response(status=200)

    async def _complete_file(self, request: web.Request) -> web.Response:
        file = self._file(request)
        if not file.uploaded:
            raise _Rejected(409, "No bytes were uploaded for this file")
        file.completed = True
        return web.json_response(file.to_json())


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


def _injected(injection: _Injection) -> web.Response:
    if isinstance(injection.body, str):
        return web.Response(status=injection.status, text=injection.body, headers=injection.headers)
    body = injection.body if injection.body is not None else {"detail": f"Injected HTTP {injection.status}"}
    return web.json_response(body, status=injection.status, headers=injection.headers)
