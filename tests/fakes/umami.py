"""A local UmamiAI server (Luma AI v1 legacy behind a gateway) for contract tests: protocols.md §E.4.

Generations advance by poll count, never by wall clock: each GET that lists a generation counts as one
poll, and every `polls_per_state` polls it moves one step along `states`. Usage:

    async with FakeUmami(api_key="k", vocabulary="v2") as fake:
        provider = umami.create(ProviderConfig("umami", Secret("k"), fake.base_url), context)
        fake.inject("poll", 500, times=2)
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes._server import serve_local

DEFAULT_KEY = "umami-test-key-0123456789"
VOCABULARIES = {"v1": ("pending", "processing", "completed"), "v2": ("queued", "dreaming", "completed")}
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
BODY_FIELDS = {"user_prompt", "aspect_ratio", "expand_prompt", "image_url", "image_end_url"}
ROUTES = ("create", "extend", "poll", "video")


def mp4_bytes(size: int = 4096) -> bytes:
    """A well-formed ISO-BMFF prefix: a real `ftyp` box, then an `mdat` box padding up to `size`."""
    ftyp = struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 0x200) + b"isomiso2"
    mdat_size = max(8, size - len(ftyp))
    return ftyp + struct.pack(">I4s", mdat_size, b"mdat") + bytes(mdat_size - 8)


@dataclass
class LoggedRequest:
    route: str  # create, extend, poll, video, other
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    json: Any = None


@dataclass
class Injection:
    status: int
    times: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # sent verbatim as application/json (malformed bodies)


@dataclass
class FakeGeneration:
    id: str
    body: dict[str, Any]
    created_at: str
    polls: int = 0
    extended_from: str | None = None


class FakeUmami:
    """Knobs are plain attributes and may be changed between polls."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        vocabulary: str = "v1",
        states: tuple[str, ...] | None = None,
        polls_per_state: int = 1,
        estimate_wait_seconds: Any = None,
        fail: bool = False,
        failure_reason: str | None = None,
        unknown_ids: str = "omit",
        drop_video_url: bool = False,
        video_size: int = 4096,
        video_missing: bool = False,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.states = states or VOCABULARIES[vocabulary]  # the last one is where a generation rests
        self.polls_per_state = polls_per_state
        self.estimate_wait_seconds = estimate_wait_seconds  # echoed as given (the seed types it "text")
        self.fail = fail  # a generation that reaches the last state reports `failed` + video null instead
        self.failure_reason = failure_reason  # added as `failure_reason` to failed objects when set
        self.unknown_ids = unknown_ids  # "omit": left out of the array; "404": the whole answer is 404
        self.drop_video_url = drop_video_url  # completed objects carry video without `url`
        self.video_size = video_size
        self.video_missing = video_missing  # video.url answers 404
        self.latency = latency  # real seconds before each answer (slow-answer tests only)
        self.generations: dict[str, FakeGeneration] = {}
        self.requests: list[LoggedRequest] = []
        self._injections: dict[str, list[Injection]] = {route: [] for route in ROUTES}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- control ------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v1/luma-ai/generations", self._create)
        app.router.add_post("/v1/luma-ai/generations/{task_id}/extend", self._extend)
        app.router.add_get("/v1/luma-ai/generation", self._poll)
        app.router.add_get("/videos/{gen_id}.mp4", self._video)
        self._runner, self.base_url = await serve_local(app)
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUmami:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def inject(
        self,
        route: str,
        status: int = 500,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> None:
        """The next `times` requests to `route` (create, extend, poll, video) get this answer instead."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {ROUTES}")
        if body is None and raw is None:
            body = {"message": f"injected HTTP {status}"}
        self._injections[route].append(Injection(status, times, body, dict(headers or {}), raw))

    def log_for(self, route: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.route == route]

    def state_of(self, gen_id: str) -> str:
        gen = self.generations[gen_id]
        state = self.states[min(gen.polls // self.polls_per_state, len(self.states) - 1)]
        if self.fail and state == self.states[-1]:
            return "failed"
        return state

    # --- wire ---------------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        route = _route_of(request)
        try:
            payload = await request.json() if request.body_exists else None
        except ValueError:
            payload = "<malformed>"
        self.requests.append(
            LoggedRequest(route, request.method, request.path, list(request.query.items()), dict(request.headers), payload)
        )
        if self.latency:
            await asyncio.sleep(self.latency)
        return await self._answer(request, route, handler)

    async def _answer(self, request: web.Request, route: str, handler) -> web.StreamResponse:
        if route != "video" and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"message": "Unauthorized: invalid or missing API key"}, status=401)
        queue = self._injections.get(route)
        if queue:
            injection = queue[0]
            injection.times -= 1
            if injection.times <= 0:
                queue.pop(0)
            if injection.raw is not None:
                return web.Response(
                    text=injection.raw,
                    status=injection.status,
                    content_type="application/json",
                    headers=injection.headers,
                )
            return web.json_response(injection.body, status=injection.status, headers=injection.headers)
        return await handler(request)

    async def _create(self, request: web.Request) -> web.Response:
        body, problem = await _validated(request)
        if problem:
            return web.json_response({"message": problem}, status=400)
        return web.json_response(self._new_generation(body))

    async def _extend(self, request: web.Request) -> web.Response:
        source_id = request.match_info["task_id"]
        if source_id not in self.generations:
            return web.json_response({"message": f"generation {source_id} not found"}, status=404)
        if self.state_of(source_id) != "completed":
            return web.json_response({"message": "only completed generations can be extended"}, status=400)
        body, problem = await _validated(request)
        if problem:
            return web.json_response({"message": problem}, status=400)
        return web.json_response(self._new_generation(body, extended_from=source_id))

    async def _poll(self, request: web.Request) -> web.Response:
        ids = requested_ids(request.query.items())
        if not ids:
            return web.json_response({"message": "ids is required"}, status=400)
        unknown = [i for i in ids if i not in self.generations]
        if unknown and self.unknown_ids == "404":
            return web.json_response({"message": f"generation {unknown[0]} not found"}, status=404)
        out = []
        for gen_id in ids:
            if gen_id in self.generations:
                self.generations[gen_id].polls += 1
                out.append(self._object(self.generations[gen_id]))
        return web.json_response(out)

    async def _video(self, request: web.Request) -> web.Response:
        gen_id = request.match_info["gen_id"]
        if self.video_missing or gen_id not in self.generations:
            return web.json_response({"message": "not found"}, status=404)
        return web.Response(body=mp4_bytes(self.video_size), content_type="video/mp4")

    def _new_generation(self, body: dict[str, Any], extended_from: str | None = None) -> dict[str, Any]:
        gen = FakeGeneration(str(uuid.uuid4()), body, "2026-01-01T12:00:00.000000Z", extended_from=extended_from)
        self.generations[gen.id] = gen
        return self._object(gen)

    def _object(self, gen: FakeGeneration) -> dict[str, Any]:
        state = self.state_of(gen.id)
        video = None
        if state == "completed":
            video = {
                "url": f"{self.base_url}/videos/{gen.id}.mp4",
                "width": 1360,
                "height": 752,
                "thumbnail": f"{self.base_url}/thumbnails/{gen.id}.jpg",
            }
            if self.drop_video_url:
                del video["url"]
        obj = {
            "id": gen.id,
            "created_at": gen.created_at,
            "estimate_wait_seconds": self.estimate_wait_seconds,
            "liked": None,
            "prompt": gen.body.get("user_prompt"),
            "state": state,
            "video": video,
        }
        if state == "failed" and self.failure_reason:
            obj["failure_reason"] = self.failure_reason
        return obj


def requested_ids(query) -> list[str]:
    """`ids=<id>`, repeated `ids`, `ids[]=`, `ids[0]=` and comma-separated values, in order."""
    out: list[str] = []
    for key, value in query:
        if key in ("ids", "ids[]") or re.fullmatch(r"ids\[\d+\]", key):
            out += [part.strip() for part in value.split(",") if part.strip()]
    return out


async def _validated(request: web.Request) -> tuple[dict[str, Any], str | None]:
    try:
        body = json.loads(await request.text())
    except ValueError:
        return {}, "request body is not JSON"
    if not isinstance(body, dict):
        return {}, "request body must be an object"
    extra = set(body) - BODY_FIELDS
    if extra:
        return body, f"unknown fields: {', '.join(sorted(extra))}"
    prompt = body.get("user_prompt")
    if not (isinstance(prompt, str) and prompt.strip()) and not body.get("image_url"):
        return body, "user_prompt is required"
    if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        return body, f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
    if "expand_prompt" in body and not isinstance(body["expand_prompt"], bool):
        return body, "expand_prompt must be a boolean"
    return body, None


def _route_of(request: web.Request) -> str:
    path = request.path
    if path.startswith("/videos/"):
        return "video"
    if path == "/v1/luma-ai/generation":
        return "poll"
    if path.endswith("/extend"):
        return "extend"
    if path == "/v1/luma-ai/generations":
        return "create"
    return "other"
