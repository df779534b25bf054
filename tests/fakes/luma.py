"""A local fake of Luma Dream Machine's v1 API (docs/protocols.md §E.1), for contract tests and benches.

    async with FakeLuma(api_key="luma-test") as fake:
        provider = LumaProvider(session, api_key="luma-test", base_url=fake.base_url, clock=clock)

Generations move queued → dreaming → completed by the number of GET polls they receive, never by the
wall clock. Knobs inject HTTP errors, hung requests, malformed JSON and broken asset downloads; every
request is logged in `fake.requests`. Every response carries `Connection: close`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes._server import serve_local

MODELS = ("ray-2", "ray-flash-2")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s")
STATES = ("queued", "dreaming", "completed", "failed")
MODIFY_MODES = tuple(f"{kind}_{n}" for kind in ("adhere", "flex", "reimagine") for n in (1, 2, 3))
REFRAME_INTS = (
    "grid_position_x", "grid_position_y", "resized_height", "resized_width", "x_end", "x_start", "y_end", "y_start",
)  # fmt: skip
# protocols.md §A.3 (third-party list; the live one comes from /generations/concepts/list)
CONCEPTS = (
    "truck_left", "pan_right", "pedestal_down", "low_angle", "pedestal_up", "selfie", "pan_left",
    "roll_right", "zoom_in", "over_the_shoulder", "orbit_right", "orbit_left", "static", "tiny_planet",
    "high_angle", "bolt_cam", "dolly_zoom", "overhead", "zoom_out", "handheld", "roll_left", "pov",
    "aerial_drone", "push_in", "crane_down", "truck_right", "tilt_down", "elevator_doors", "tilt_up",
    "ground_level", "pull_out", "aerial", "crane_up", "eye_level",
)  # fmt: skip
AUTH_DETAIL = "Invalid API key is provided"
CHUNK = 64 * 1024
_ZEROS = bytes(CHUNK)
_JSON: Any = web.RequestKey("json", object) if hasattr(web, "RequestKey") else "json"  # aiohttp <3.12: str


def mp4_header(size: int) -> bytes:
    """The first bytes of a plausible MP4: a 24-byte `ftyp` box, then an `mdat` box filling the rest."""
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    mdat = (max(size - len(ftyp), 8) & 0xFFFFFFFF).to_bytes(4, "big") + b"mdat"
    return (ftyp + mdat)[:size]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    query: dict[str, str]


@dataclass
class FakeGeneration:
    id: str
    model: str
    request: dict[str, Any]
    created_at: str
    state: str = "queued"
    failure_reason: str | None = None
    polls: int = 0
    pinned: bool = False  # set_state() was used: no automatic progression
    fail_with: str | None = None  # fail instead of completing
    source_id: str | None = None  # the generation an upscale/audio action works on

    def to_json(self, base_url: str) -> dict[str, Any]:
        assets = None
        if self.state == "completed":
            assets = {"video": f"{base_url}/assets/{self.id}.mp4", "image": f"{base_url}/assets/{self.id}.jpg"}
        return {
            "id": self.id,
            "generation_type": "video",
            "state": self.state,
            "failure_reason": self.failure_reason,
            "created_at": self.created_at,
            "assets": assets,
            "model": self.model,
            "request": self.request,
        }


@dataclass
class _Injection:
    method: str
    path_prefix: str
    times: int
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    gate: asyncio.Event | None = None  # wait for it, then answer as usual


class _Rejected(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class FakeLuma:
    def __init__(
        self,
        api_key: str = "luma-test",
        *,
        polls_to_dream: int = 1,
        polls_to_complete: int | None = 2,
        video_size: int = 64 * 1024,
        credit_balance: float = 100_000.0,
        cost_per_generation: float = 100.0,
        max_active: int | None = 10,
        max_creates_per_minute: int | None = 20,
        rate_limit_retry_after: float | None = None,
        concepts: tuple[str, ...] = CONCEPTS,
        log_requests: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.polls_to_dream = polls_to_dream
        self.polls_to_complete = polls_to_complete  # None: never completes on its own (use set_state)
        self.video_size = video_size
        self.credit_balance = credit_balance
        self.cost_per_generation = cost_per_generation
        self.max_active = max_active  # None: unlimited
        self.max_creates_per_minute = max_creates_per_minute  # None: unlimited
        self.rate_limit_retry_after = rate_limit_retry_after
        self.concepts = list(concepts)
        self.log_requests = log_requests
        self.monotonic = monotonic
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)  # created_at stamps (a test may use its clock)
        self.assets_status = 200  # e.g. 404 to break every asset URL
        self.truncate_assets = False  # promise the full Content-Length, send half, drop the connection
        self.asset_body: bytes | None = None  # serve these bytes as the video (e.g. an HTML error page)
        # Seeded random 5xx on API requests (never on /assets): `fault_rate` of them fail, reproducibly.
        self.fault_rate = 0.0
        self.fault_statuses: tuple[int, ...] = (500, 502, 503)
        self.fault_rng = random.Random(0)
        self.faults: list[tuple[str, str, int]] = []  # (method, path, status) of every random fault served
        self.peak_active = 0  # the most generations queued/dreaming at once
        self.generations: dict[str, FakeGeneration] = {}
        self.requests: list[RecordedRequest] = []
        self.create_count = 0
        self._active: set[str] = set()
        self._create_times: deque[float] = deque()
        self._failures: deque[str] = deque()
        self._injections: list[_Injection] = []
        self._garbled_creates = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/generations/video", self._create)
        app.router.add_post("/generations", self._create)
        app.router.add_get("/generations", self._list)
        app.router.add_get("/generations/concepts/list", self._concepts)
        app.router.add_get("/generations/{id}", self._get)
        app.router.add_delete("/generations/{id}", self._delete)
        # §A.10: actions on a finished generation (lumaai 1.21.0 `generations.upscale/audio`, `video.modify/reframe`)
        app.router.add_post("/generations/{id}/upscale", self._upscale)
        app.router.add_post("/generations/{id}/audio", self._audio)
        app.router.add_post("/generations/video/modify", self._modify)
        app.router.add_post("/generations/video/reframe", self._reframe)
        app.router.add_get("/credits", self._credits)
        app.router.add_get("/ping", self._ping)
        app.router.add_get("/assets/{name}", self._asset)
        self._runner, self.base_url = await serve_local(app)
        return self.base_url

    async def close(self) -> None:
        self._release.set()  # let hung handlers finish
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLuma:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- knobs -----------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` matching requests get `status` with `body` (a dict/list as JSON, a str as raw
        text, None as {"detail": ...}) instead of the real answer."""
        self._injections.append(_Injection(method.upper(), path_prefix, times, status, body, dict(headers or {})))

    def hang_next(self, method: str, path_prefix: str, *, times: int = 1) -> None:
        """The next `times` matching requests never get an answer (until the fake closes)."""
        self._injections.append(_Injection(method.upper(), path_prefix, times, hang=True))

    def gate_next(self, method: str, path_prefix: str, *, times: int = 1) -> asyncio.Event:
        """The next `times` matching requests wait until the returned event is set, then get the real answer
        (a create on the wire: it is carried out even if the client gave up meanwhile, as at Luma)."""
        gate = asyncio.Event()
        self._injections.append(_Injection(method.upper(), path_prefix, times, gate=gate))
        return gate

    def garble_next_create(self, *, times: int = 1) -> None:
        """The next `times` creates are carried out (and billed) but answered with a body cut off mid-object."""
        self._garbled_creates += times

    def malformed_next(self, method: str, path_prefix: str, *, times: int = 1, status: int = 200) -> None:
        """The next `times` matching requests get a JSON body cut off mid-object."""
        self.fail_next(method, path_prefix, status, '{"id": "broken", "state": ', times=times,
                       headers={"Content-Type": "application/json"})  # fmt: skip

    def random_faults(self, rate: float, *, seed: int = 0, statuses: tuple[int, ...] = (500, 502, 503)) -> None:
        """From now on a seeded `rate` of API requests (not asset downloads) get a random 5xx from `statuses`."""
        self.fault_rate = rate
        self.fault_rng = random.Random(seed)
        self.fault_statuses = statuses

    def fail_next_generation(self, reason: str = "Job failed", *, times: int = 1) -> None:
        """The next `times` created generations end `failed` with `reason` where they would complete."""
        self._failures.extend([reason] * times)

    def set_state(self, generation_id: str, state: str, failure_reason: str | None = None) -> None:
        """Force a generation's state; it then stays there (no automatic progression)."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        gen = self.generations[generation_id]
        gen.pinned = True
        self._move(gen, state, failure_reason)

    @property
    def active_count(self) -> int:
        return len(self._active)

    def requests_to(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix)]

    # --- plumbing --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        request[_JSON] = body
        if self.log_requests:
            self.requests.append(
                RecordedRequest(request.method, request.path, dict(request.headers), body, dict(request.query))
            )
        if self.fault_rate and not request.path.startswith("/assets/") and self.fault_rng.random() < self.fault_rate:
            status = self.fault_rng.choice(self.fault_statuses)
            self.faults.append((request.method, request.path, status))
            return _detail(status, f"Random fault (HTTP {status})")
        injected = self._take_injection(request.method, request.path)
        if injected is not None and injected.gate is not None:
            await injected.gate.wait()
            injected = None
        if injected is not None:
            if injected.hang:
                await self._release.wait()
                return _detail(503, "fake closed")
            return _injected_response(injected)
        authorized = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        if not authorized and not request.path.startswith("/assets/"):
            return _detail(401, AUTH_DETAIL)
        try:
            return await handler(request)
        except _Rejected as rejected:
            return _detail(rejected.status, rejected.detail, rejected.headers)

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.method == method and path.startswith(injection.path_prefix):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _move(self, gen: FakeGeneration, state: str, failure_reason: str | None = None) -> None:
        was_active = gen.id in self._active
        gen.state = state
        gen.failure_reason = failure_reason if state == "failed" else None
        if state in ("queued", "dreaming"):
            self._active.add(gen.id)
            self.peak_active = max(self.peak_active, len(self._active))
        else:
            self._active.discard(gen.id)
        if state == "failed" and was_active:
            self.credit_balance += self.cost_per_generation  # Luma refunds failed generations

    def _advance(self, gen: FakeGeneration) -> None:
        gen.polls += 1
        if gen.pinned or gen.state in ("completed", "failed"):
            return
        if self.polls_to_complete is not None and gen.polls >= self.polls_to_complete:
            if gen.fail_with is not None:
                self._move(gen, "failed", gen.fail_with)
            else:
                self._move(gen, "completed")
        elif gen.polls >= self.polls_to_dream:
            self._move(gen, "dreaming")

    def _check_rate_limits(self) -> None:
        if self.max_active is not None and len(self._active) >= self.max_active:
            raise _Rejected(429, f"Too many concurrent generations (limit {self.max_active})")
        if self.max_creates_per_minute is not None:
            now = self.monotonic()
            while self._create_times and now - self._create_times[0] >= 60:
                self._create_times.popleft()
            if len(self._create_times) >= self.max_creates_per_minute:
                raise _Rejected(429, f"Too many requests (limit {self.max_creates_per_minute} per minute)")

    # --- handlers --------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = self._body(request)
        self._validate(body)
        return self._accept(body, body["model"], status=201)

    def _body(self, request: web.Request) -> dict[str, Any]:
        """The JSON object of a create, after the rate limits (which answer 429 with an optional retry-after)."""
        try:
            self._check_rate_limits()
        except _Rejected as rejected:
            headers = {}
            if self.rate_limit_retry_after is not None:
                headers["retry-after"] = f"{self.rate_limit_retry_after:g}"
            raise _Rejected(429, rejected.detail, headers) from None
        body = request[_JSON]
        if not isinstance(body, dict):
            raise _Rejected(400, "Request body must be a JSON object")
        return body

    def _accept(self, body: dict[str, Any], model: str, *, status: int, source: str | None = None) -> web.Response:
        """Create (and charge) a queued generation for a validated request; answer with it."""
        gen = FakeGeneration(
            id=str(uuid.uuid4()),
            model=model,
            request=body,
            created_at=self.now().isoformat().replace("+00:00", "Z"),
            fail_with=self._failures.popleft() if self._failures else None,
            source_id=source,
        )
        self.generations[gen.id] = gen
        self._active.add(gen.id)
        self.peak_active = max(self.peak_active, len(self._active))
        self.create_count += 1
        self._create_times.append(self.monotonic())
        self.credit_balance -= self.cost_per_generation
        if self._garbled_creates:
            self._garbled_creates -= 1
            return web.Response(status=status, text='{"id": "' + gen.id[:8], content_type="application/json")
        return web.json_response(gen.to_json(self.base_url), status=status)

    # --- §A.10 actions ---------------------------------------------------------------------------

    async def _upscale(self, request: web.Request) -> web.Response:
        source = self._completed_source(request.match_info["id"])
        body = self._body(request)
        _only(body, ("generation_type", "resolution", "callback_url"))
        _expect(body, "generation_type", ("upscale_video",), required=False)
        _expect(body, "resolution", RESOLUTIONS, required=False)
        return self._accept(body, source.model, status=200, source=source.id)

    async def _audio(self, request: web.Request) -> web.Response:
        source = self._completed_source(request.match_info["id"])
        body = self._body(request)
        _only(body, ("generation_type", "prompt", "negative_prompt", "callback_url"))
        _expect(body, "generation_type", ("add_audio",), required=False)
        for name in ("prompt", "negative_prompt"):
            if name in body and not isinstance(body[name], str):
                raise _Rejected(400, f"{name} must be a string")
        return self._accept(body, source.model, status=200, source=source.id)

    async def _modify(self, request: web.Request) -> web.Response:
        body = self._body(request)
        _only(body, ("generation_type", "media", "mode", "model", "callback_url", "first_frame", "prompt"))
        _expect(body, "generation_type", ("modify_video",))
        _expect(body, "mode", MODIFY_MODES)
        _expect(body, "model", MODELS)
        _media(body, "media", required=True)
        _media(body, "first_frame", required=False)
        return self._accept(body, body["model"], status=201)

    async def _reframe(self, request: web.Request) -> web.Response:
        body = self._body(request)
        allowed = ("aspect_ratio", "generation_type", "media", "model", "callback_url", "first_frame", "prompt")
        _only(body, allowed + REFRAME_INTS)
        _expect(body, "generation_type", ("reframe_video",))
        _expect(body, "aspect_ratio", ASPECT_RATIOS)
        _expect(body, "model", MODELS)
        _media(body, "media", required=True)
        _media(body, "first_frame", required=False)
        for name in REFRAME_INTS:
            if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int)):
                raise _Rejected(400, f"{name} must be an integer")
        return self._accept(body, body["model"], status=201)

    def _completed_source(self, generation_id: str) -> FakeGeneration:
        source = self.generations.get(generation_id)
        if source is None:
            raise _Rejected(404, f"Generation {generation_id} not found")
        if source.state != "completed":
            raise _Rejected(400, f"Generation {source.id} is not completed")
        return source

    def _validate(self, body: dict[str, Any]) -> None:
        if body.get("generation_type", "video") != "video":
            raise _Rejected(400, "Unknown request type")
        if body.get("model") not in MODELS:
            raise _Rejected(400, f"Invalid model {body.get('model')!r}; expected one of {', '.join(MODELS)}")
        for name, allowed in (("aspect_ratio", ASPECT_RATIOS), ("resolution", RESOLUTIONS), ("duration", DURATIONS)):
            if name in body and body[name] not in allowed:
                raise _Rejected(400, f"Invalid {name} {body[name]!r}; expected one of {', '.join(allowed)}")
        if not isinstance(body.get("loop", False), bool):
            raise _Rejected(400, "loop must be a boolean")
        frame0, frame1 = self._keyframes(body)
        has_image = "image" in (frame0, frame1)
        prompt = body.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise _Rejected(400, "Prompt must be a string")
        if not prompt and not has_image:
            raise _Rejected(400, "Prompt is required")
        if prompt and len(prompt) < 3:
            raise _Rejected(400, "Prompt is too short, minimum length is 3 characters")
        if prompt and len(prompt) > 5000:
            raise _Rejected(400, "Prompt is too long, maximum length is 5000 characters")
        if body.get("loop"):
            message = {
                (None, "image"): "Loop is not supported for end frame",
                ("image", "image"): "Loop is not supported for keyframes",
                (None, "generation"): "Loop is not supported for extend reverse",
                ("generation", "image"): "Loop is not supported for interpolate video to image",
                ("image", "generation"): "Loop is not supported for interpolate image to video",
                ("generation", "generation"): "Loop is not supported for interpolate between two videos",
            }.get((frame0, frame1))
            if message:
                raise _Rejected(400, message)
        concepts = body.get("concepts")
        if concepts is not None:
            if not isinstance(concepts, list) or not all(isinstance(c, dict) for c in concepts):
                raise _Rejected(400, "concepts must be a list of {key} objects")
            for concept in concepts:
                if concept.get("key") not in self.concepts:
                    raise _Rejected(400, f"Unknown concept {concept.get('key')!r}")

    def _keyframes(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """The keyframe types (image/generation/None) of frame0 and frame1, after validating them."""
        if body.get("keyframes") is None:
            return None, None
        keyframes = body["keyframes"]
        if not isinstance(keyframes, dict):
            raise _Rejected(400, "keyframes must be an object")
        kinds: list[str | None] = []
        for name in ("frame0", "frame1"):
            frame = keyframes.get(name)
            if frame is None:
                kinds.append(None)
            elif not isinstance(frame, dict):
                raise _Rejected(400, f"{name} must be an object")
            elif frame.get("type") == "image":
                if not isinstance(frame.get("url"), str) or not frame["url"]:
                    raise _Rejected(400, f"{name}: an image keyframe needs a url")
                kinds.append("image")
            elif frame.get("type") == "generation":
                source = self.generations.get(frame.get("id"))  # type: ignore[arg-type]
                if source is None:
                    raise _Rejected(404, f"Generation {frame.get('id')} not found")
                if source.state != "completed":
                    raise _Rejected(400, f"Generation {source.id} is not completed")
                kinds.append("generation")
            else:
                raise _Rejected(400, f"{name}: unknown keyframe type {frame.get('type')!r}")
        if kinds == [None, None]:
            raise _Rejected(400, "No keyframes provided")
        return kinds[0], kinds[1]

    async def _get(self, request: web.Request) -> web.Response:
        gen = self._find(request)
        self._advance(gen)
        return web.json_response(gen.to_json(self.base_url))

    async def _delete(self, request: web.Request) -> web.Response:
        gen = self._find(request)
        self._active.discard(gen.id)
        del self.generations[gen.id]
        return web.Response(status=204)

    def _find(self, request: web.Request) -> FakeGeneration:
        gen = self.generations.get(request.match_info["id"])
        if gen is None:
            raise _Rejected(404, "Generation not found")
        return gen

    async def _list(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", 100))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            raise _Rejected(400, "limit and offset must be integers") from None
        if limit < 1 or offset < 0:
            raise _Rejected(400, "limit must be positive and offset not negative")
        newest_first = list(reversed(self.generations.values()))
        page = newest_first[offset : offset + limit]
        return web.json_response({
            "generations": [g.to_json(self.base_url) for g in page],
            "count": len(page),
            "has_more": offset + limit < len(newest_first),
            "limit": limit,
            "offset": offset,
        })  # fmt: skip

    async def _concepts(self, request: web.Request) -> web.Response:
        return web.json_response(self.concepts)

    async def _credits(self, request: web.Request) -> web.Response:
        return web.json_response({"credit_balance": self.credit_balance})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "pong"})

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        gen_id, _, ext = name.rpartition(".")
        gen = self.generations.get(gen_id)
        if self.assets_status != 200 or gen is None or gen.state != "completed" or ext not in ("mp4", "jpg"):
            return web.Response(status=self.assets_status if self.assets_status != 200 else 404, text="Not Found")
        if ext == "jpg":
            return web.Response(body=b"\xff\xd8\xff\xe0fake-thumbnail\xff\xd9", content_type="image/jpeg")
        if self.asset_body is not None:
            return web.Response(body=self.asset_body, headers={"Content-Type": "video/mp4"})
        size = self.video_size
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = size
        await response.prepare(request)
        to_send = size // 2 if self.truncate_assets else size
        head = mp4_header(min(size, to_send))
        await response.write(head)
        sent = len(head)
        while sent < to_send:
            chunk = _ZEROS[: min(CHUNK, to_send - sent)]
            await response.write(chunk)
            sent += len(chunk)
        if self.truncate_assets and request.transport is not None:
            request.transport.close()  # cut off before the promised Content-Length
            return response
        await response.write_eof()
        return response


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _Rejected(400, f"Unknown field(s): {', '.join(unknown)}")


def _expect(body: dict[str, Any], name: str, allowed: tuple[str, ...], *, required: bool = True) -> None:
    if name not in body and not required:
        return
    if body.get(name) not in allowed:
        raise _Rejected(400, f"Invalid {name} {body.get(name)!r}; expected one of {', '.join(allowed)}")


def _media(body: dict[str, Any], name: str, *, required: bool) -> None:
    """`media` / `first_frame`: {url} that Luma's servers can fetch."""
    if name not in body and not required:
        return
    entity = body.get(name)
    url = entity.get("url") if isinstance(entity, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or set(entity) != {"url"}:
        raise _Rejected(400, f"{name} must be an object with an http(s) url")


def _injected_response(injection: _Injection) -> web.Response:
    headers = dict(injection.headers)
    if injection.body is None:
        return _detail(injection.status, f"Injected HTTP {injection.status}", headers)
    if isinstance(injection.body, str):
        headers.setdefault("Content-Type", "text/plain")
        return web.Response(status=injection.status, text=injection.body, headers=headers)
    return web.json_response(injection.body, status=injection.status, headers=headers)

