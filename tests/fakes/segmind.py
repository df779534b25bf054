"""A local Segmind (docs/protocols.md §E.2): the v1 sync endpoints, the v2 async API and the credits call.

    async with FakeSegmind(api_key="k") as fake:
        provider = SegmindProvider(context, api_key="k", base_url=fake.base_url)
        fake.inject("v1", 406)                # the next v1 create answers 406 {"error": ...}
        fake.hold_sync = True                 # v1 creates wait in the fake until fake.release_sync()

v2 requests advance by the number of status polls they receive, never by the wall clock: the first poll
says QUEUED, later ones PROCESSING, and poll number `polls_to_complete` says COMPLETED (or FAILED with
HTTP 422 when `v2_failure` was set at submit time). Every request is logged in `fake.requests`; every
response carries `Connection: close`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Required, TypedDict

from aiohttp import web

from tests.contract.sdk_types import violations
from tests.fakes._server import serve_local

Aspect = Literal["1:1", "16:9", "4:3", "3:4", "9:16", "9:21", "21:9"]
Resolution = Literal["720p", "1080p"]


# Each slug's parameters as the model pages cited in bot/providers/segmind.py list them (segmind 1.3.0 itself has
# no per-model types): a field, value or type not listed here is a 400 from the fake.
class LumaTxt2VideoParams(TypedDict, total=False):
    prompt: Required[str]
    aspect_ratio: Aspect
    loop: bool


class LumaRayTxt2VideoParams(LumaTxt2VideoParams, total=False):
    resolution: Resolution


class LumaRayImg2VideoParams(TypedDict, total=False):
    prompt: Required[str]
    start_frame: Required[str]
    aspect_ratio: Literal["1:1", "16:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21", "21:9"]
    loop: bool
    resolution: Resolution
    concepts: list[str]


class RayFlash2720pParams(LumaTxt2VideoParams, total=False):
    duration: Literal[5, 9]
    start_image_url: str
    end_image_url: str


SLUGS: dict[str, type] = {
    "luma-txt-2-video": LumaTxt2VideoParams,
    "luma-ray-txt-2-video": LumaRayTxt2VideoParams,
    "luma-ray-img-2-video": LumaRayImg2VideoParams,
    "ray-flash-2-720p": RayFlash2720pParams,
}
# The shapes a v2 result's `output` may take ("model-specific", segmind/v2.py): fake.output_shape picks one.
OUTPUT_SHAPES: dict[str, Any] = {
    "string": lambda url: {"output": url},
    "list": lambda url: {"output": [url]},
    "nested-list": lambda url: {"output": [[url]]},
    "video": lambda url: {"output": {"video": url}},
    "url": lambda url: {"output": {"url": url}},
    "video_url": lambda url: {"output": {"video_url": url}},
    "output": lambda url: {"output": {"output": url}},
    "list-of-objects": lambda url: {"output": [{"video_url": url, "seed": 7}]},
    "beside-output": lambda url: {"output": None, "video_url": url},
    "unknown": lambda url: {"output": {"artifact_id": "a1b2", "kind": "mp4"}},
}
ROUTES = ("v1", "v2", "status", "result", "credits")
# What inject() accepts besides an HTTP status: a raw non-JSON body, a 200 JPEG, a 200 MP4 labelled
# image/jpeg (the seed's template leftover), a request that never answers, a connection dropped mid-wait.
SPECIALS = ("malformed", "jpeg", "mp4-as-jpeg", "hang", "drop", "json")  # "json": 200 with inject(body=...)
ERROR_TEXT = {
    400: "Invalid parameters", 401: "Unauthorized: invalid or missing API key", 403: "Forbidden",
    404: "Model not found", 405: "Method not allowed", 406: "Not enough credits", 429: "Too many requests",
    500: "Internal server error", 502: "Bad gateway", 504: "Gateway timeout",
}  # fmt: skip


def mp4_bytes(size: int = 4096) -> bytes:
    """A plausible MP4: an `ftyp` box, then an `mdat` box padded to `size`."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + max(size - 24, 8).to_bytes(4, "big") + b"mdat"
    return head + bytes(max(0, size - len(head)))


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(200) + b"\xff\xd9"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None


RECORD = web.RequestKey("record", RecordedRequest)


@dataclass
class V2Request:
    id: str
    slug: str
    body: dict[str, Any]
    failure: str | None = None
    polls: int = 0
    expired: bool = False
    state: str = "QUEUED"


@dataclass
class _Injection:
    what: int | str
    message: str | None
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakeSegmind:
    def __init__(
        self,
        api_key: str = "segmind-test-key-0123456789",
        *,
        credits: float = 100.0,
        free_credits: float = 5.0,
        cost: float = 0.95,
        video_size: int = 4096,
        polls_to_complete: int = 3,
        v2_slugs: tuple[str, ...] | None = None,
        v2_missing_status: int = 404,
    ) -> None:
        self.api_key = api_key
        self.credits = credits
        self.free_credits = free_credits
        self.cost = cost  # credits taken by each successful create
        self.video_size = video_size
        self.polls_to_complete = polls_to_complete
        self.v2_slugs = set(SLUGS if v2_slugs is None else v2_slugs)  # slugs the v2 API knows
        self.v2_missing_status = v2_missing_status  # the answer to /v2/{slug} for other slugs (404 or 405)
        self.v2_failure: str | None = None  # v2 requests submitted while set end FAILED with this error
        self.output_shape = "string"  # how a COMPLETED result carries the clip's URL (a key of OUTPUT_SHAPES)
        # Where the submit answer's status_url/response_url point: another origin (e.g. "http://localhost:<port>")
        # or another path than the documented /v2/requests; both are served.
        self.v2_url_base: str | None = None
        self.v2_url_path = "/v2/requests"
        self.hold_sync = False  # v1 creates wait for release_sync() (explicit control, no wall clock)
        self.sync_delay = 0.0  # or sleep this many real seconds before answering
        self.sync_arrived = asyncio.Event()  # set when a v1 create starts waiting
        self.requests: list[RecordedRequest] = []
        self.v2_requests: dict[str, V2Request] = {}
        self.creates = 0  # create POSTs that passed validation (each one charged)
        self.base_url = ""
        self._release = asyncio.Event()
        self._closing = asyncio.Event()
        self._injections: dict[str, list[_Injection]] = {route: [] for route in ROUTES}
        self._runner: web.AppRunner | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v1/{slug}", self._v1_create)
        app.router.add_get("/v1/get-user-credits", self._credits)
        app.router.add_post("/v2/{slug}", self._v2_create)
        app.router.add_get("/v2/{kind}/{id}/status", self._v2_status)
        app.router.add_get("/v2/{kind}/{id}", self._v2_result)
        app.router.add_get("/files/{name}", self._file)
        self._runner, self.base_url = await serve_local(app)
        return self.base_url

    async def close(self) -> None:
        self._closing.set()  # let hung handlers finish
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSegmind:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- knobs -----------------------------------------------------------------------------------

    def inject(
        self, route: str, what: int | str, *, times: int = 1, message: str | None = None,
        headers: dict[str, str] | None = None, body: Any = None,
    ) -> None:  # fmt: skip
        """The next `times` requests on `route` (one of ROUTES) answer `what`: an HTTP status with
        {"error": message}, or one of SPECIALS ("json" answers 200 with `body` as JSON)."""
        if route not in ROUTES or not (isinstance(what, int) or what in SPECIALS):
            raise ValueError(f"bad injection {route!r} {what!r}")
        self._injections[route].append(_Injection(what, message, times, dict(headers or {}), body))

    def release_sync(self) -> None:
        """Let every held v1 create answer."""
        self._release.set()

    def expire(self, request_id: str | None = None) -> None:
        """Simulate the 1-hour result retention passing (for one request, or all)."""
        for request in self.v2_requests.values():
            if request_id in (None, request.id):
                request.expired = True

    def posts(self, prefix: str = "/v") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.startswith(prefix)]

    # --- handlers --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        record = RecordedRequest(request.method, request.path, dict(request.headers))
        if request.can_read_body:
            try:
                record.json = await request.json()
            except ValueError:
                record.json = await request.text()
        self.requests.append(record)
        request[RECORD] = record
        if request.headers.get("x-api-key") != self.api_key and not request.path.startswith("/files/"):
            return _error(401)
        return await handler(request)

    async def _injected(self, route: str, request: web.Request) -> web.StreamResponse | None:
        queue = self._injections[route]
        if not queue:
            return None
        injection = queue[0]
        injection.times -= 1
        if injection.times <= 0:
            queue.pop(0)
        what = injection.what
        if what == "hang":
            await self._closing.wait()
            return _error(504)
        if what == "drop":
            assert request.transport is not None
            request.transport.close()
            await self._closing.wait()
            return _error(500)
        if what == "malformed":
            return web.Response(status=200, text='{"status": "QUE', content_type="application/json")
        if what == "json":
            return web.json_response(injection.body, headers={"x-remaining-credits": f"{self.credits:.2f}"})
        if what == "jpeg":
            return self._bytes(JPEG_BYTES, "image/jpeg")
        if what == "mp4-as-jpeg":
            return self._bytes(mp4_bytes(self.video_size), "image/jpeg")
        return _error(int(what), injection.message, injection.headers)

    def _validate(self, slug: str, body: Any) -> str | None:
        if slug not in SLUGS:
            return "Model not found"
        problems = violations(body, SLUGS[slug])
        if isinstance(body, dict) and isinstance(body.get("prompt"), str) and not body["prompt"].strip():
            problems.append("body.prompt: empty")
        return "Invalid parameters: " + "; ".join(problems) if problems else None

    def _bytes(self, data: bytes, content_type: str) -> web.Response:
        return web.Response(
            body=data, content_type=content_type, headers={"x-remaining-credits": f"{self.credits:.2f}"}
        )

    async def _v1_create(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        body = request[RECORD].json
        injected = await self._injected("v1", request)
        if injected is not None:
            return injected
        problem = self._validate(slug, body)
        if problem:
            return _error(404 if problem == "Model not found" else 400, problem)
        self.creates += 1
        if self.hold_sync:
            self.sync_arrived.set()
            await self._release.wait()
        if self.sync_delay:
            await asyncio.sleep(self.sync_delay)
        self.credits -= self.cost
        return self._bytes(mp4_bytes(self.video_size), "video/mp4")

    async def _v2_create(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        injected = await self._injected("v2", request)
        if injected is not None:
            return injected
        if slug not in self.v2_slugs:
            return _error(self.v2_missing_status, "Model not found" if self.v2_missing_status == 404 else None)
        problem = self._validate(slug, request[RECORD].json)
        if problem:
            return _error(400, problem)
        self.creates += 1
        self.credits -= self.cost
        request_id = str(uuid.uuid4())
        self.v2_requests[request_id] = V2Request(request_id, slug, request[RECORD].json, self.v2_failure)
        base = f"{self.v2_url_base or self.base_url}{self.v2_url_path}/{request_id}"
        return web.json_response({
            "request_id": request_id, "status": "QUEUED", "poll_url": f"{self.base_url}/v1/requests/{request_id}",
            "status_url": f"{base}/status", "response_url": base,
        })  # fmt: skip

    def _lookup(self, request: web.Request) -> V2Request | None:
        found = self.v2_requests.get(request.match_info["id"])
        return None if found is None or found.expired else found

    async def _v2_status(self, request: web.Request) -> web.StreamResponse:
        injected = await self._injected("status", request)
        if injected is not None:
            return injected
        job = self._lookup(request)
        if job is None:
            return _error(404, "Request not found")
        job.polls += 1
        if job.polls >= self.polls_to_complete:
            job.state = "FAILED" if job.failure else "COMPLETED"
        else:
            job.state = "QUEUED" if job.polls == 1 else "PROCESSING"
        base = f"{self.v2_url_base or self.base_url}{self.v2_url_path}/{job.id}"
        body: dict[str, Any] = {
            "status": job.state, "request_id": job.id, "status_url": f"{base}/status", "response_url": base, "metrics": {},
        }  # fmt: skip
        if job.state == "FAILED":
            return web.json_response({**body, "error": job.failure}, status=422)
        return web.json_response(body)

    async def _v2_result(self, request: web.Request) -> web.StreamResponse:
        injected = await self._injected("result", request)
        if injected is not None:
            return injected
        job = self._lookup(request)
        if job is None:
            return _error(404, "Request not found")
        if job.state == "FAILED":
            return web.json_response({"status": "FAILED", "error": job.failure, "metrics": {}}, status=422)
        if job.state != "COMPLETED":
            return web.json_response({"status": job.state, "metrics": {}})
        shaped = OUTPUT_SHAPES[self.output_shape](f"{self.base_url}/files/{job.id}.mp4")
        return web.json_response({"status": "COMPLETED", "metrics": {"inference_time": 62.18}, **shaped})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        request_id = request.match_info["name"].removesuffix(".mp4")
        if request_id not in self.v2_requests:
            return web.Response(status=404)
        return web.Response(body=mp4_bytes(self.video_size), content_type="video/mp4")

    async def _credits(self, request: web.Request) -> web.StreamResponse:
        injected = await self._injected("credits", request)
        if injected is not None:
            return injected
        return web.json_response({"credits": round(self.credits, 2), "free-credits": self.free_credits})


def _error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    text = message or ERROR_TEXT.get(status, f"HTTP {status}")
    return web.json_response({"error": text}, status=status, headers=headers)

