"""One harness per network adapter, so a single contract suite can drive every provider against its fake.

A harness knows, for its fake server: how to start it and build the provider (through the production
factory, or with short timeouts for the slow-answer case), which header carries the key and in what scheme,
where the create body puts the prompt and the aspect ratio, how to make the *create* route answer a given
HTTP status, a malformed body or nothing at all, how to make a generation fail with a reason, and how to
drive a job to its end (submit, then poll for async providers; sync providers finish inside submit).
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from bot.config import ProviderConfig, Secret
from bot.domain import ProviderStatus, VideoRequest
from bot.errors import is_moderation_reason
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers.luma import LumaProvider
from bot.providers.luma_agents import LumaAgentsProvider
from bot.providers.onemin import OneMinProvider
from bot.providers.segmind import SegmindProvider
from tests.fakes.luma import FakeLuma
from tests.fakes.luma_agents import FakeLumaAgents
from tests.fakes.onemin import FakeOneMin
from tests.fakes.segmind import FakeSegmind
from tests.fakes.umami import FakeUmami

SHORT_TIMEOUT = aiohttp.ClientTimeout(total=0.25)  # the slow-answer case: far below any fake's hang
POLL_LIMIT = 10


class Harness:
    """What the shared suite needs to know about one adapter and its fake. Subclasses fill it in."""

    id: ClassVar[str]  # the test id
    name: ClassVar[str]  # the adapter's config name (VideoProvider.name)
    key: ClassVar[str]
    auth_header: ClassVar[str]
    sync: ClassVar[bool]  # submit() returns the finished clip; there is nothing to poll
    prompt_field: ClassVar[tuple[str, ...]]  # path to the prompt in the create body
    aspect_field: ClassVar[tuple[str, ...]]  # path to the aspect ratio in the create body
    credits_status: ClassVar[int]  # the HTTP status this provider uses for "out of credits"
    # A 429 on create means nothing was created, so the shared transport repeats it after Retry-After.
    repeats_create_after_429: ClassVar[bool] = True
    # A model error is sent once more as a new generation (Luma Agents: failure_code generation_failed).
    retries_failed_generation: ClassVar[bool] = False
    mode: ClassVar[str | None] = None

    def __init__(self, session: aiohttp.ClientSession, clock, temp_dir) -> None:
        self.session = session
        self.clock = clock
        self.context = ProviderContext(session=session, clock=clock, temp_dir=temp_dir)
        self.fake: Any = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def make_fake(self) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        self.fake = self.make_fake()
        await self.fake.start()

    async def close(self) -> None:
        await self.fake.close()

    def provider(self, key: str | None = None) -> VideoProvider:
        """The adapter as the bot builds it: through build_provider() from a ProviderConfig."""
        config = ProviderConfig(self.name, Secret(key or self.key), self.fake.base_url, self.mode)
        return build_provider(config, self.context)

    def slow_provider(self) -> VideoProvider:
        """The adapter with a create timeout of SHORT_TIMEOUT."""
        raise NotImplementedError

    # --- what the fake saw ------------------------------------------------------------------------------

    def expected_auth(self) -> str:
        return self.key

    def creates(self) -> list[Any]:
        """Every create request that reached the fake (each has `.headers` and `.json`)."""
        raise NotImplementedError

    # --- injections on the create route -------------------------------------------------------------

    def inject_status(self, status: int, message: str, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The next `times` creates answer `status` with `message` in the provider's error field."""
        raise NotImplementedError

    def inject_malformed(self) -> None:
        """The next create answers 200 with a body the adapter cannot read."""
        raise NotImplementedError

    def inject_hang(self) -> None:
        """The next create gets no answer within SHORT_TIMEOUT."""
        raise NotImplementedError

    def fail_generation(self, reason: str) -> None:
        """The next generation ends in failure with `reason` (async: on a poll; sync: in the create's answer)."""
        raise NotImplementedError

    # --- driving a job ------------------------------------------------------------------------------------

    async def run(self, provider: VideoProvider, request: VideoRequest) -> ProviderStatus:
        """Submit, then (async providers) poll until the job is done."""
        status = await provider.submit(request)
        if self.sync:
            assert status.done, f"{self.name}: a sync submit returned {status.state}"
            return status
        assert not status.done and status.provider_job_id, f"{self.name}: an async submit returned {status}"
        for _ in range(POLL_LIMIT):
            status = await provider.poll(status.provider_job_id)
            if status.done:
                return status
        raise AssertionError(f"{self.name}: not done after {POLL_LIMIT} polls: {status}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


class LumaHarness(Harness):
    id = "luma"
    name = "luma"
    key = "luma-shared-contract-key-7a41"
    auth_header = "Authorization"
    sync = False
    prompt_field = ("prompt",)
    aspect_field = ("aspect_ratio",)
    credits_status = 402  # Luma documents no code for an empty balance; 402 is the generic one
    CREATE = "/generations/video"

    def make_fake(self) -> FakeLuma:
        return FakeLuma(api_key=self.key)

    def slow_provider(self) -> VideoProvider:
        return LumaProvider(
            self.session, api_key=self.key, clock=self.clock, base_url=self.fake.base_url, timeout=SHORT_TIMEOUT
        )

    def expected_auth(self) -> str:
        return f"Bearer {self.key}"

    def creates(self) -> list[Any]:
        return self.fake.requests_to("POST", self.CREATE)

    def inject_status(self, status, message, *, times=1, headers=None) -> None:
        self.fake.fail_next("POST", self.CREATE, status, {"detail": message}, times=times, headers=headers)

    def inject_malformed(self) -> None:
        self.fake.malformed_next("POST", self.CREATE)

    def inject_hang(self) -> None:
        self.fake.hang_next("POST", self.CREATE)

    def fail_generation(self, reason: str) -> None:
        self.fake.fail_next_generation(reason)


class LumaAgentsHarness(LumaHarness):
    id = "luma-agents"
    name = "luma-agents"
    key = "luma-api-shared-contract-key-b83e"
    CREATE = "/generations"
    retries_failed_generation = True

    def make_fake(self) -> FakeLumaAgents:
        return FakeLumaAgents(api_key=self.key)

    def slow_provider(self) -> VideoProvider:
        return LumaAgentsProvider(
            self.session, api_key=self.key, clock=self.clock, base_url=self.fake.base_url, timeout=SHORT_TIMEOUT
        )

    def fail_generation(self, reason: str) -> None:
        # The Agents API says whose fault by failure_code; a model error fails its one retry too here.
        if is_moderation_reason(reason):
            self.fake.fail_next_generation("content_moderated", reason)
        else:
            self.fake.fail_next_generation("generation_failed", reason, times=2)


class SegmindHarness(Harness):
    """Segmind in async (v2) mode: submit answers a request id, polls read status and result."""

    id = "segmind-async"
    name = "segmind"
    key = "segmind-shared-contract-key-3c9d"
    auth_header = "x-api-key"
    sync = False
    prompt_field = ("prompt",)
    aspect_field = ("aspect_ratio",)
    credits_status = 406  # Segmind's documented "Not enough credits"
    mode = "async"
    route: ClassVar[str] = "v2"  # the fake's injection route for creates

    def make_fake(self) -> FakeSegmind:
        return FakeSegmind(api_key=self.key, video_size=8192)

    def slow_provider(self) -> VideoProvider:
        return SegmindProvider(
            self.context, api_key=self.key, base_url=self.fake.base_url, mode=self.mode,
            timeout=SHORT_TIMEOUT, sync_timeout=SHORT_TIMEOUT,
        )  # fmt: skip

    def creates(self) -> list[Any]:
        return self.fake.posts()  # POSTs to /v1/* and /v2/*: a v2 create quietly redone on v1 counts too

    def inject_status(self, status, message, *, times=1, headers=None) -> None:
        self.fake.inject(self.route, status, times=times, message=message, headers=headers)

    def inject_malformed(self) -> None:
        # 200, application/json, cut off mid-object. For v1 that is also a 200 that is not the video; a 200
        # JPEG is refused as MediaError instead (test_segmind.py::test_sync_image_jpeg_answer_is_rejected).
        self.fake.inject(self.route, "malformed")

    def inject_hang(self) -> None:
        self.fake.inject(self.route, "hang")

    def fail_generation(self, reason: str) -> None:
        self.fake.v2_failure = reason  # FAILED with HTTP 422 on the status poll


class SegmindSyncHarness(SegmindHarness):
    """Segmind in sync (v1) mode: one POST held open, answered with the video bytes themselves."""

    id = "segmind-sync"
    sync = True
    mode = "sync"
    route = "v1"
    repeats_create_after_429 = False  # the adapter never repeats a v1 POST, not even after a 429

    def fail_generation(self, reason: str) -> None:
        # v1 documents no failure status: a render that failed can only come back as an HTTP error.
        self.fake.inject(self.route, 500, message=reason)


class _FakeOneMinWithRetryAfter(FakeOneMin):
    """FakeOneMin whose injected 429s can carry a Retry-After header (its inject() takes no headers)."""

    retry_after: str | None = None

    async def _features(self, request):
        response = await super()._features(request)
        if response.status == 429 and self.retry_after is not None:
            response.headers["Retry-After"] = self.retry_after
        return response


class OneMinHarness(Harness):
    id = "onemin"
    name = "onemin"
    key = "onemin-shared-contract-key-e05b"
    auth_header = "API-KEY"
    sync = True
    prompt_field = ("promptObject", "prompt")
    aspect_field = ("promptObject", "aspectRatio")
    credits_status = 402  # 1min.ai documents no code; the adapter maps 402 (and 406) to ProviderCreditsError

    def make_fake(self) -> FakeOneMin:
        return _FakeOneMinWithRetryAfter(api_key=self.key, video_size=8192)

    def slow_provider(self) -> VideoProvider:
        return OneMinProvider(self.context, api_key=self.key, base_url=self.fake.base_url, generation_timeout=SHORT_TIMEOUT)

    def creates(self) -> list[Any]:
        return self.fake.posts("/api/features")

    def inject_status(self, status, message, *, times=1, headers=None) -> None:
        headers = dict(headers or {})
        if "retry-after" in {name.lower() for name in headers}:
            self.fake.retry_after = next(v for k, v in headers.items() if k.lower() == "retry-after")
        self.fake.inject("features", status, times=times, message=message)

    def inject_malformed(self) -> None:
        self.fake.inject("features", "malformed")

    def inject_hang(self) -> None:
        self.fake.inject("features", "hang")

    def fail_generation(self, reason: str) -> None:
        self.fake.inject("features", "failed", message=reason)  # a FAILED aiRecord without temporaryUrl


class UmamiHarness(Harness):
    id = "umami"
    name = "umami"
    key = "umami-shared-contract-key-9f12"
    auth_header = "Authorization"
    sync = False
    prompt_field = ("user_prompt",)
    aspect_field = ("aspect_ratio",)
    credits_status = 402  # UmamiAI documents no codes; protocols.md says handle 402 as credits

    def make_fake(self) -> FakeUmami:
        return FakeUmami(api_key=self.key)

    def slow_provider(self) -> VideoProvider:
        provider = self.provider()
        provider.transport.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
        return provider

    def expected_auth(self) -> str:
        return f"Bearer {self.key}"

    def creates(self) -> list[Any]:
        return self.fake.log_for("create")

    def inject_status(self, status, message, *, times=1, headers=None) -> None:
        self.fake.inject("create", status, times=times, body={"message": message}, headers=headers)

    def inject_malformed(self) -> None:
        self.fake.inject("create", 200, raw='{"id": "gen-1", "state": ')

    def inject_hang(self) -> None:
        self.fake.latency = 1.0  # FakeUmami has no per-route hang: every answer waits a real second

    def fail_generation(self, reason: str) -> None:
        self.fake.fail = True
        self.fake.failure_reason = reason


HARNESSES: tuple[type[Harness], ...] = (
    LumaAgentsHarness, LumaHarness, SegmindHarness, SegmindSyncHarness, OneMinHarness, UmamiHarness)
