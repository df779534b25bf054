"""Bad input never crashes the bot: any configuration mapping ends in Settings or ConfigError, and any
answer a provider can send ends in a status or a typed error (a ReelbotError), never another exception.

Pure parsers get arbitrary JSON-like values directly. The adapters' network calls (whose parsing is
inline) are driven through one tiny aiohttp server on 127.0.0.1 that answers with hypothesis-generated
status codes and bodies; the transport's retry sleeps use an instant clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import PROVIDER_BASE_URLS, PROVIDER_KEYS, Settings, load_settings
from bot.domain import ProviderStatus, VideoRequest
from bot.errors import ConfigError, ReelbotError
from bot.providers import ProviderContext, luma, onemin, segmind, umami
from bot.providers import http as transport
from bot.providers.http import HttpTransport

# --- configuration ---------------------------------------------------------------------------------

KNOWN = sorted(
    {
        "DISCORD_TOKEN", "DISCORD_DEV_GUILD_ID", "VIDEO_PROVIDERS", "DATABASE_URL", "QUOTA_DAILY",
        "QUOTA_CONCURRENT", "MAX_ACTIVE_JOBS", "JOB_TIMEOUT_S", "MAX_DOWNLOAD_MB", "HEALTH_PORT", "LOG_LEVEL",
        "HEALTH_HOST", "ALLOW_LOCAL_PROVIDER_URLS",
        "LOG_FORMAT", "DATA_DIR", "SEGMIND_MODE", "PRICE_TABLE", "SHARD_COUNT", "SHARD_IDS",
        *PROVIDER_KEYS.values(), *(var for var, _ in PROVIDER_BASE_URLS.values()),
    }
)  # fmt: skip
TRICKY = st.sampled_from(
    [
        "", " ", "0", "-1", "1", "5", "65536", "1e3", "1_000", "0x10", "²", "٣", "１２", "9" * 5000, "nan", "inf",
        "luma", "demo", "luma,luma", "LUMA, demo,", ",", "segmind,onemin,umami", "sqlite:///x.db", "postgresql://h/db",
        "http://", "https://[::1", "ftp://x", "luma=abc", "luma:ray-2=1e400", "default=-1", "=", "a=1,=2", "0,1,a",
        "1,1", "3", "json", "TEXT", "debug", "sync", "\x00", "\n", "k" * 200,
    ]
)  # fmt: skip
VALUES = st.one_of(
    TRICKY, st.text(max_size=40), st.integers(-(10**20), 10**20).map(str), st.lists(TRICKY, max_size=4).map(",".join),
    st.tuples(st.sampled_from(["luma", "luma:ray-2", "default", "demo", "x"]), TRICKY).map("=".join),
)  # fmt: skip
ENVS = st.dictionaries(st.one_of(st.sampled_from(KNOWN), st.text(max_size=12)), VALUES, max_size=14)


@settings(max_examples=400, deadline=None)
@given(env=ENVS, require_token=st.booleans())
def test_any_configuration_mapping_gives_settings_or_a_config_error(env, require_token):
    """load_settings on any mapping of strings returns Settings or raises ConfigError listing problems."""
    try:
        result = load_settings(env, require_token=require_token)
    except ConfigError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        return
    assert isinstance(result, Settings)


# --- arbitrary JSON-like values ------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**400), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["queued", "dreaming", "completed", "failed", "pending", "processing", "QUEUED", "PROCESSING",
                     "COMPLETED", "FAILED", "SUCCESS", "http://x/v.mp4", "https://[::1", "v2:abc", "id-1", ""]),
)  # fmt: skip
KEYS = st.one_of(
    st.sampled_from(
        ["id", "state", "status", "assets", "video", "url", "failure_reason", "error", "message", "detail",
         "request_id", "status_url", "response_url", "output", "aiRecord", "uuid", "temporaryUrl",
         "aiRecordDetail", "responseObject", "teamUser", "creditLimit", "usedCredit", "credit_balance", "credits",
         "free-credits", "data", "generations", "estimate_wait_seconds", "image", "model", "version", "type"]
    ),
    st.text(max_size=8),
)  # fmt: skip
JSON = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=20,
)  # fmt: skip
IDS = st.one_of(st.sampled_from(["id-1", "v2:abc", "v2:abc http://127.0.0.1/s http://127.0.0.1/r"]), st.text(max_size=20))


def typed_errors_only():
    return suppress(ReelbotError)


class _Instant:
    """A clock whose sleeps return at once (retries and backoff cost nothing)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def _luma() -> luma.LumaProvider:
    return luma.LumaProvider(None, api_key="k", clock=_Instant())  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(data=JSON, job_id=IDS)
def test_every_pure_response_parser_gives_a_status_or_a_typed_error(data, job_id):
    """Each adapter's parse functions turn any JSON value into a result or a ReelbotError."""
    parsers = [
        lambda: _luma()._status(data),
        lambda: umami.find_generation(data, job_id),
        lambda: umami.to_status(data, job_id) if isinstance(data, dict) else None,
        lambda: umami.failure_reason(data) if isinstance(data, dict) else None,
        lambda: umami.estimate_seconds(data),
        lambda: segmind._output_url(data),
        lambda: transport.error_detail(data),
        lambda: transport.error_for_status("p", 418, data, {}),
    ]
    for parse in parsers:
        with typed_errors_only():
            parse()


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=60), JSON.map(json.dumps)), status=st.integers(100, 599),
       headers=st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms", "x"]), st.text(max_size=12)))  # fmt: skip
def test_transport_helpers_accept_any_body_and_headers(text, status, headers):
    """Body parsing, error classification and Retry-After reading never raise on odd input."""
    body = transport.parse_body(text)
    assert isinstance(transport.error_for_status("p", status, body, headers), ReelbotError)
    transport.parse_retry_after(headers)


# --- the adapters' network calls against a server answering generated bodies ----------------------------


class GeneratedAnswers:
    """An aiohttp server on its own loop thread that answers every request with `self.answer`."""

    def __init__(self, tmp: Path) -> None:
        self.answer: tuple[int, bytes, str] = (200, b"{}", "application/json")
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.base_url, self.session, self.runner = self.call(self._start())

    def call(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}", aiohttp.ClientSession(), runner

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        status, body, kind = self.answer
        return web.Response(status=status, body=body, headers={"Content-Type": kind, "Connection": "close"})

    def adapters(self):
        context = ProviderContext(session=self.session, clock=_Instant(), temp_dir=self.tmp, max_download_bytes=1 << 20)
        timeout = aiohttp.ClientTimeout(total=5)
        lum = luma.LumaProvider(self.session, api_key="k", clock=_Instant(), base_url=self.base_url, retries=1)
        seg = segmind.SegmindProvider(context, api_key="k", base_url=self.base_url, mode="async", timeout=timeout)
        one = onemin.OneMinProvider(context, api_key="k", base_url=self.base_url, timeout=timeout,
                                    generation_timeout=timeout)  # fmt: skip
        uma = umami.UmamiProvider(HttpTransport(self.session, provider="umami", base_url=self.base_url,
                                                headers={}, clock=_Instant(), retries=1))  # fmt: skip
        return lum, seg, one, uma

    def close(self) -> None:
        async def stop():
            await self.session.close()
            await self.runner.cleanup()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    server = GeneratedAnswers(tmp_path_factory.mktemp("answers"))
    yield server
    server.close()


REQUEST = VideoRequest(prompt="a lighthouse in a storm")
BODIES = st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40), st.just(b""))
STATUSES = st.one_of(st.just(200), st.just(201), st.just(422), st.sampled_from([400, 401, 402, 404, 429, 500, 503]))
KINDS = st.sampled_from(["application/json", "text/plain", "video/mp4"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=STATUSES, body=BODIES, kind=KINDS, job_id=IDS)
def test_every_adapter_call_gives_a_result_or_a_typed_error(answers, status, body, kind, job_id):
    """submit, poll and fetch_credits of every adapter, answered with any status and body, end typed."""
    answers.answer = (status, body, kind)
    lum, seg, one, uma = answers.adapters()
    calls = [
        lum.submit(REQUEST), lum.poll(job_id or "x"), lum.fetch_credits(), lum.fetch_concepts(),
        seg.submit(VideoRequest(prompt="a lighthouse", model="luma-ray")), seg.poll(job_id), seg.fetch_credits(),
        one.submit(VideoRequest(prompt="a lighthouse", model="ray-v2")),
        uma.submit(REQUEST), uma.poll(job_id or "x"),
    ]  # fmt: skip
    for call in calls:
        try:
            result = answers.call(call)
        except ReelbotError:
            continue
        assert result is None or isinstance(result, ProviderStatus | str | list)
