"""A local 1min.ai (docs/protocols.md §E.3): the synchronous `POST /api/features`, the Asset API, and a
presigned-S3 stand-in that serves the clips.

    async with FakeOneMin(api_key="k") as fake:
        provider = OneMinProvider(context, api_key="k", base_url=fake.base_url)
        fake.hold = True                      # generation calls wait in the fake until fake.release()
        fake.inject("features", "failed", message="Video generation failed")

The fake also serves test images under `/cdn/{name}` (a stand-in for Discord's CDN, where start images
come from). Every request is logged in `fake.requests`; every response carries `Connection: close`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes._server import serve_local

FEATURES = ("TEXT_TO_VIDEO", "IMAGE_TO_VIDEO")
MODEL_NAMES = ("ray-v1", "ray-v2", "ray-v2-flash", "ray-v3", "ray-v3-reasoning")
DURATIONS = ("5s", "10s")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("720p", "1080p")
ROUTES = ("features", "assets", "s3")
# inject() accepts an HTTP status or one of these: a record with status FAILED and no URL, a SUCCESS record
# without temporaryUrl, an empty `{}` answer (the stale doc's example), cut-off JSON, a request that never
# answers, and a connection dropped while the client waits.
SPECIALS = ("failed", "no-url", "empty", "malformed", "hang", "drop")
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + bytes(64)
S3_DENIED = "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>AccessDenied</Code></Error>"


def mp4_bytes(size: int = 4096) -> bytes:
    """A plausible MP4: an `ftyp` box, then an `mdat` box padded to `size`."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + max(size - 24, 8).to_bytes(4, "big") + b"mdat"
    return head + bytes(max(0, size - len(head)))


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, tuple[str | None, str, int]] = field(default_factory=dict)  # name → (filename, type, size)


RECORD = web.RequestKey("record", RecordedRequest)


@dataclass
class _Injection:
    what: int | str
    message: str | None
    times: int


class FakeOneMin:
    def __init__(
        self,
        api_key: str = "onemin-test-key-0123456789",
        *,
        video_size: int = 4096,
        credit_limit: int = 100_000_000,
        cost: int = 250_000,
    ) -> None:
        self.api_key = api_key
        self.video_size = video_size
        self.credit_limit = credit_limit
        self.used_credit = 0
        self.cost = cost  # credits each successful generation uses
        self.hold = False  # generation calls wait for release() (explicit control, no wall clock)
        self.delay = 0.0  # or sleep this many real seconds before answering
        self.arrived = asyncio.Event()  # set when a generation call starts waiting
        self.urls_expired = False  # presigned URLs answer 403, as after their 7 days
        self.cdn_files: dict[str, tuple[bytes, str]] = {"start.png": (PNG_BYTES, "image/png")}
        self.requests: list[RecordedRequest] = []
        self.assets: dict[str, int] = {}  # asset key → size, as handed out by POST /api/assets
        self.records: dict[str, dict[str, Any]] = {}
        self.creates = 0  # generation calls that passed validation (each one charged)
        self.base_url = ""
        self._signatures: dict[str, str] = {}  # S3 key → the signature its temporaryUrl carries
        self._release = asyncio.Event()
        self._closing = asyncio.Event()
        self._injections: dict[str, list[_Injection]] = {route: [] for route in ROUTES}
        self._runner: web.AppRunner | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/api/features", self._features)
        app.router.add_post("/api/assets", self._upload)
        app.router.add_get("/s3/{key:.+}", self._s3)
        app.router.add_get("/cdn/{name}", self._cdn)
        self._runner, self.base_url = await serve_local(app)
        return self.base_url

    async def close(self) -> None:
        self._closing.set()  # let hung handlers finish
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOneMin:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- knobs -----------------------------------------------------------------------------------

    def inject(self, route: str, what: int | str, *, times: int = 1, message: str | None = None) -> None:
        """The next `times` requests on `route` (one of ROUTES) answer `what`: an HTTP status with
        {"message": message}, or one of SPECIALS."""
        if route not in ROUTES or not (isinstance(what, int) or what in SPECIALS):
            raise ValueError(f"bad injection {route!r} {what!r}")
        self._injections[route].append(_Injection(what, message, times))

    def release(self) -> None:
        """Let every held generation call answer."""
        self._release.set()

    def cdn_url(self, name: str = "start.png") -> str:
        return f"{self.base_url}/cdn/{name}"

    def bare_result_url(self, record_uuid: str) -> str:
        """The record's `resultObject` path on the bucket without a signature (the private-bucket case)."""
        return f"{self.base_url}/s3/asset.1min.ai/{self.records[record_uuid]['aiRecordDetail']['resultObject'][0]}"

    def posts(self, path: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    # --- handlers --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        record = RecordedRequest(request.method, request.path, dict(request.headers))
        if request.content_type == "application/json":
            try:
                record.json = await request.json()
            except ValueError:
                record.json = await request.text()
        self.requests.append(record)
        request[RECORD] = record
        if request.path.startswith("/api/") and request.headers.get("API-KEY") != self.api_key:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    def _take(self, route: str) -> _Injection | None:
        queue = self._injections[route]
        if not queue:
            return None
        injection = queue[0]
        injection.times -= 1
        if injection.times <= 0:
            queue.pop(0)
        return injection

    async def _hold(self) -> None:
        if self.hold:
            self.arrived.set()
            await self._release.wait()
        if self.delay:
            await asyncio.sleep(self.delay)

    async def _features(self, request: web.Request) -> web.StreamResponse:
        body = request[RECORD].json
        injection = self._take("features")
        if injection is not None and isinstance(injection.what, int):
            return web.json_response({"message": injection.message or f"HTTP {injection.what}"},
                                     status=injection.what)  # fmt: skip
        problem = self._validate(body)
        if problem:
            return web.json_response({"message": problem}, status=400)
        self.creates += 1
        await self._hold()
        what = injection.what if injection is not None else None
        if what == "hang":
            await self._closing.wait()
            return web.Response(status=504)
        if what == "drop":
            assert request.transport is not None
            request.transport.close()
            await self._closing.wait()
            return web.Response(status=500)
        if what == "malformed":
            return web.Response(text='{"aiRecord": {"uuid": "', content_type="application/json")
        if what == "empty":
            return web.json_response({})
        record = self._record(body, failed=what == "failed", message=injection.message if injection else None)
        if what == "no-url":
            record["temporaryUrl"] = None
        return web.json_response({"aiRecord": record})

    def _validate(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Request body must be a JSON object"
        feature = body.get("type")
        if feature not in FEATURES or body.get("model") != "luma":
            return f"Invalid model {body.get('model')} for AI feature {feature}"
        prompt = body.get("promptObject")
        if not isinstance(prompt, dict):
            return "promptObject is required"
        if not isinstance(prompt.get("prompt"), str) or not prompt["prompt"].strip():
            return "promptObject.prompt is required"
        if prompt.get("modelName") not in MODEL_NAMES:
            return f"Invalid modelName {prompt.get('modelName')}"
        if prompt.get("duration") not in DURATIONS:
            return "duration must be 5s or 10s"
        if prompt.get("aspectRatio", "16:9") not in ASPECT_RATIOS:
            return f"Invalid aspectRatio {prompt.get('aspectRatio')}"
        if prompt.get("resolution", "720p") not in RESOLUTIONS:
            return f"Invalid resolution {prompt.get('resolution')}"
        if "loop" in prompt and not isinstance(prompt["loop"], bool):
            return "loop must be a boolean"
        if feature == "IMAGE_TO_VIDEO" and prompt.get("imageUrl") not in self.assets:
            return "imageUrl must be a key returned by the Asset API"
        return None

    def _record(self, body: dict[str, Any], *, failed: bool, message: str | None) -> dict[str, Any]:
        record_uuid = str(uuid.uuid4())
        now = datetime.now(UTC)
        key = f"development/videos/{now:%Y_%m_%d_%H_%M_%S}_{record_uuid[:6]}.mp4"
        url = None
        if not failed:
            self.used_credit += self.cost
            signature = hashlib.sha256(key.encode()).hexdigest()
            self._signatures[key] = signature
            url = (
                f"{self.base_url}/s3/asset.1min.ai/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Date={now:%Y%m%dT%H%M%SZ}&X-Amz-Expires=604800&X-Amz-Signature={signature}"
                "&X-Amz-SignedHeaders=host&x-id=GetObject"
            )
        record = {
            "uuid": record_uuid, "userId": "user-1", "teamId": "team-1",
            "teamUser": {"teamId": "team-1", "userId": "user-1", "creditLimit": self.credit_limit,
                         "usedCredit": self.used_credit},
            "model": "luma", "type": body["type"], "metadata": None, "conversationId": None,
            "status": "FAILED" if failed else "SUCCESS", "createdAt": now.isoformat(timespec="milliseconds"),
            "aiRecordDetail": {
                "promptObject": body["promptObject"], "resultObject": [] if failed else [key],
                "responseObject": {"error": message} if failed and message else {},
            },
            "additionalData": None, "temporaryUrl": url,
        }  # fmt: skip
        self.records[record_uuid] = record
        return record

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        injection = self._take("assets")
        if injection is not None:
            return web.json_response({"message": injection.message or f"HTTP {injection.what}"},
                                     status=int(injection.what))  # fmt: skip
        if not request.content_type.startswith("multipart/"):
            return web.json_response({"message": "multipart/form-data expected"}, status=400)
        form = await request.post()
        record = request[RECORD]
        for name, value in form.items():
            if isinstance(value, web.FileField):
                record.form[name] = (value.filename, value.content_type, len(value.file.read()))
            else:
                record.form[name] = (None, "text/plain", len(str(value)))
        upload = form.get("asset")
        if not isinstance(upload, web.FileField):
            return web.json_response({"message": "asset file is required"}, status=400)
        key = f"images/{datetime.now(UTC):%Y_%m_%d_%H_%M_%S}_{uuid.uuid4().hex[:6]}_{upload.filename}"
        self.assets[key] = record.form["asset"][2]
        return web.json_response({
            "asset": {"key": key, "location": f"https://s3.us-east-1.amazonaws.com/asset.1min.ai/{key}",
                      "bucket": "asset.1min.ai", "mimeType": upload.content_type},
            "fileContent": {"path": key, "size": self.assets[key], "name": upload.filename},
        })  # fmt: skip

    async def _s3(self, request: web.Request) -> web.StreamResponse:
        """Presigned GETs work until expiry; the bare key (no signature) is the private bucket: 403."""
        injection = self._take("s3")
        if injection is not None:
            return web.Response(status=int(injection.what), text=S3_DENIED, content_type="application/xml")
        key = request.match_info["key"].removeprefix("asset.1min.ai/")
        signature = request.query.get("X-Amz-Signature")
        if self.urls_expired or signature is None or self._signatures.get(key) != signature:
            return web.Response(status=403, text=S3_DENIED, content_type="application/xml")
        return web.Response(body=mp4_bytes(self.video_size), content_type="video/mp4")

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        found = self.cdn_files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

