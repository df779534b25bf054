"""Unit: the shared provider transport — Retry-After, backoff, status → error, and retry rules over a real socket."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from bot.errors import (
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from bot.providers.http import HttpTransport, backoff_delay, error_for_status, parse_retry_after
from tests.fakes.clock import ManualClock

KEY = "sk-test-SECRET-key-0123456789"

# --- parse_retry_after -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "60"}, 60.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise header wins
        ({"retry-after-ms": "garbage", "retry-after": "3"}, 3.0),  # a bad -ms falls back to seconds
        ({"retry-after-ms": "90000", "retry-after": "2"}, 2.0),  # 90 s in ms is ignored
    ],
)
def test_parse_retry_after_honours_headers(headers, expected):
    """retry-after-ms (ms) is preferred, retry-after (s) is the fallback, both honoured within 0..60 s."""
    assert parse_retry_after(headers) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": "61"},
        {"retry-after": "3600"},
        {"retry-after-ms": "60001"},
        {"retry-after": "-1"},
        {"retry-after": "soon"},
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        {"retry-after": ""},
    ],
)
def test_parse_retry_after_ignores_long_negative_or_garbage(headers):
    """A wait over 60 s, a negative one, an HTTP date or garbage gives None (the caller backs off itself)."""
    assert parse_retry_after(headers) is None


def test_parse_retry_after_reads_case_insensitive_aiohttp_headers():
    """Real aiohttp response headers (CIMultiDict) are read regardless of the header's case."""
    from multidict import CIMultiDict, CIMultiDictProxy

    assert parse_retry_after(CIMultiDictProxy(CIMultiDict({"Retry-After": "4"}))) == 4.0


# --- backoff_delay -----------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(10))
def test_backoff_delay_within_full_jitter_bounds(attempt):
    """Delay for attempt n lies in [0, min(cap, base·2ⁿ)] and actually varies (jitter)."""
    rng = random.Random(1234 + attempt)
    bound = min(8.0, 0.5 * 2**attempt)
    delays = [backoff_delay(attempt, rng=rng) for _ in range(300)]
    assert all(0 <= d <= bound for d in delays)
    assert max(delays) > bound * 0.8 and min(delays) < bound * 0.2  # spread over the range, not a constant
    assert len(set(delays)) > 250


def test_backoff_delay_is_deterministic_with_a_seeded_rng():
    """The same seed gives the same delays (so tests and benches can be reproducible)."""
    a, b = random.Random(7), random.Random(7)
    assert [backoff_delay(i, rng=a) for i in range(6)] == [backoff_delay(i, rng=b) for i in range(6)]


def test_backoff_delay_respects_custom_base_and_cap():
    """base and cap arguments bound the delay."""
    rng = random.Random(3)
    assert all(0 <= backoff_delay(20, base=1.0, cap=2.5, rng=rng) <= 2.5 for _ in range(200))
    assert all(0 <= backoff_delay(0, base=0.1, rng=rng) <= 0.1 for _ in range(200))


# --- error_for_status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (402, ProviderCreditsError),
        (406, ProviderCreditsError),
        (429, ProviderRateLimitError),
        (500, ProviderUnavailableError),
        (502, ProviderUnavailableError),
        (503, ProviderUnavailableError),
        (504, ProviderUnavailableError),
        (408, ProviderUnavailableError),
        (400, ProviderRejectedError),
        (404, ProviderRejectedError),
        (422, ProviderRejectedError),
    ],
)
def test_error_for_status_maps_by_cause(status, kind):
    """Each status maps to exactly the error class for its cause, carrying the provider and status."""
    error = error_for_status("luma", status, {"detail": "x"}, {})
    assert type(error) is kind
    assert error.provider == "luma" and error.status == status


def test_only_transient_errors_are_retryable():
    """5xx and 429 may be retried; auth, credits and rejections never are."""
    assert error_for_status("p", 503, None, {}).retryable
    assert error_for_status("p", 429, None, {}).retryable
    for status in (400, 401, 402, 403, 406, 422):
        assert not error_for_status("p", status, None, {}).retryable


def test_error_for_status_429_carries_retry_after():
    """A 429 error remembers the Retry-After the provider sent (None when absent or too long)."""
    assert error_for_status("luma", 429, None, {"retry-after": "12"}).retry_after == 12.0
    assert error_for_status("luma", 429, None, {"retry-after-ms": "800"}).retry_after == pytest.approx(0.8)
    assert error_for_status("luma", 429, None, {"retry-after": "600"}).retry_after is None
    assert error_for_status("luma", 429, None, {}).retry_after is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"detail": "Prompt is too short"}, "Prompt is too short"),  # Luma
        ({"error": "Invalid aspect ratio"}, "Invalid aspect ratio"),  # Segmind
        ({"message": "Insufficient parameters"}, "Insufficient parameters"),  # 1min.ai
        ({"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}, "field required"),  # FastAPI list
        ("plain text refusal", "plain text refusal"),
    ],
)
def test_rejected_error_shows_provider_detail(body, detail):
    """A 400 names the provider's own reason in both the log text and the user's message."""
    error = error_for_status("luma", 400, body, {})
    assert isinstance(error, ProviderRejectedError)
    assert detail in str(error)
    assert detail in error.public_message and error.public_message.startswith("The video service refused")


def test_rejected_error_without_body_says_the_status():
    """No body → the detail falls back to `HTTP <status>`."""
    error = error_for_status("segmind", 400, None, {})
    assert "HTTP 400" in str(error) and "HTTP 400" in error.public_message


def test_error_detail_is_bounded():
    """A huge error body never yields a huge message."""
    error = error_for_status("luma", 400, {"detail": "x" * 100_000}, {})
    assert len(str(error)) < 700 and len(error.public_message) < 700


# --- HttpTransport over a real socket ---------------------------------------------------------------


class TinyServer:
    """A one-route aiohttp server on 127.0.0.1:0; each test scripts `handler` and reads `requests`."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.handler: Callable | None = None
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.requests.append(request)
        assert self.handler is not None
        return await self.handler(request, len(self.requests))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def server():
    srv = TinyServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def transport(session, base_url: str, clock: ManualClock, **kw) -> HttpTransport:
    return HttpTransport(
        session, provider="luma", base_url=base_url, clock=clock,
        headers={"Authorization": f"Bearer {KEY}"}, **kw,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_key(error: BaseException) -> None:
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in repr(error.args)
    if isinstance(error, ProviderError):
        assert KEY not in error.public_message and KEY not in (error.detail or "")
    if error.__cause__ is not None:
        assert KEY not in str(error.__cause__)


async def test_get_retried_through_two_503s(server, clock, http_session):
    """A poll that meets 503, 503 then 200 returns the 200's JSON after two jittered backoff sleeps."""

    async def handler(request, n):
        if n <= 2:
            return web.json_response({"detail": "overloaded"}, status=503)
        return web.json_response({"id": "gen-1", "state": "dreaming"})

    server.handler = handler
    body = await transport(http_session, server.base_url, clock).request_json("GET", "/generations/gen-1")
    assert body == {"id": "gen-1", "state": "dreaming"}
    assert len(server.requests) == 3
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


async def test_get_gives_up_after_retries(server, clock, http_session):
    """A poll that keeps meeting 502 is tried 1 + retries times, then raises ProviderUnavailableError."""

    async def handler(request, n):
        return web.json_response({"detail": "bad gateway"}, status=502)

    server.handler = handler
    with pytest.raises(ProviderUnavailableError) as caught:
        await transport(http_session, server.base_url, clock, retries=2).request_json("GET", "/x")
    assert len(server.requests) == 3 and len(clock.sleeps) == 2
    assert_no_key(caught.value)


async def test_post_not_retried_on_500(server, clock, http_session):
    """A create POST that meets a 500 is sent exactly once (it might have been charged) and raises."""

    async def handler(request, n):
        return web.json_response({"detail": "internal"}, status=500)

    server.handler = handler
    with pytest.raises(ProviderUnavailableError) as caught:
        await transport(http_session, server.base_url, clock).request_json("POST", "/generations", json_body={"p": 1})
    assert len(server.requests) == 1
    assert clock.sleeps == []
    assert caught.value.status == 500
    assert_no_key(caught.value)


async def test_post_not_retried_on_malformed_json(server, clock, http_session):
    """A create POST whose 200 answer is unreadable is not repeated (the job may exist)."""

    async def handler(request, n):
        return web.Response(text='{"id": "gen-1", ', content_type="application/json")

    server.handler = handler
    with pytest.raises(ProviderProtocolError):
        await transport(http_session, server.base_url, clock).request_json("POST", "/generations", json_body={})
    assert len(server.requests) == 1


async def test_post_retried_after_429_with_retry_after(server, clock, http_session):
    """A create POST refused with 429 + Retry-After waits exactly that long, then is sent again and succeeds."""

    async def handler(request, n):
        if n == 1:
            return web.json_response({"detail": "Too many requests"}, status=429, headers={"Retry-After": "7"})
        return web.json_response({"id": "gen-1", "state": "queued"}, status=201)

    server.handler = handler
    body = await transport(http_session, server.base_url, clock).request_json(
        "POST", "/generations", json_body={"prompt": "a fox"}
    )
    assert body == {"id": "gen-1", "state": "queued"}
    assert len(server.requests) == 2
    assert clock.sleeps == [7.0]


async def test_429_retry_after_ms_is_honoured(server, clock, http_session):
    """retry-after-ms is obeyed to the millisecond."""

    async def handler(request, n):
        if n == 1:
            return web.json_response({}, status=429, headers={"retry-after-ms": "1250"})
        return web.json_response({"ok": True})

    server.handler = handler
    assert await transport(http_session, server.base_url, clock).request_json("GET", "/x") == {"ok": True}
    assert clock.sleeps == [pytest.approx(1.25)]


async def test_429_gives_up_when_patience_runs_out(server, clock, http_session):
    """Repeated 429s stop once the total wait would exceed the rate-limit patience, raising the 429."""

    async def handler(request, n):
        return web.json_response({"detail": "slow down"}, status=429, headers={"Retry-After": "50"})

    server.handler = handler
    with pytest.raises(ProviderRateLimitError) as caught:
        await transport(http_session, server.base_url, clock, rate_limit_patience=120).request_json(
            "POST", "/generations", json_body={}
        )
    assert clock.sleeps == [50.0, 50.0]  # a third 50 s wait would exceed 120 s
    assert len(server.requests) == 3
    assert caught.value.retry_after == 50.0
    assert_no_key(caught.value)


async def test_malformed_json_is_a_protocol_error(server, clock, http_session):
    """A 200 whose JSON is cut off raises ProviderProtocolError (after retrying the read)."""

    async def handler(request, n):
        return web.Response(text='{"state": "dream', content_type="application/json")

    server.handler = handler
    with pytest.raises(ProviderProtocolError) as caught:
        await transport(http_session, server.base_url, clock, retries=1).request_json("GET", "/x")
    assert caught.value.status == 200
    assert len(server.requests) == 2
    assert_no_key(caught.value)


async def test_non_json_200_is_a_protocol_error(server, clock, http_session):
    """An HTML page with status 200 (a proxy's error page) raises ProviderProtocolError."""

    async def handler(request, n):
        return web.Response(text="<html><body>Bad gateway</body></html>", content_type="text/html")

    server.handler = handler
    with pytest.raises(ProviderProtocolError) as caught:
        await transport(http_session, server.base_url, clock, retries=0).request_json("GET", "/x")
    assert_no_key(caught.value)


async def test_empty_200_body_is_none(server, clock, http_session):
    """A 204/empty answer (e.g. a DELETE) returns None rather than raising."""

    async def handler(request, n):
        return web.Response(status=204)

    server.handler = handler
    assert await transport(http_session, server.base_url, clock).request_json("DELETE", "/generations/g") is None


async def test_accept_status_returns_the_error_body(server, clock, http_session):
    """A status listed in accept_status is returned as data, not raised."""

    async def handler(request, n):
        return web.json_response({"detail": "Not found"}, status=404)

    server.handler = handler
    body = await transport(http_session, server.base_url, clock).request_json("GET", "/g", accept_status=(404,))
    assert body == {"detail": "Not found"}


async def test_bad_key_is_auth_error_without_the_key(server, clock, http_session):
    """A 401 raises ProviderAuthError, once, and neither the log text nor the user's message holds the key."""

    async def handler(request, n):
        return web.json_response({"detail": "Invalid API key is provided"}, status=401)

    server.handler = handler
    with pytest.raises(ProviderAuthError) as caught:
        await transport(http_session, server.base_url, clock).request_json("GET", "/x")
    assert len(server.requests) == 1
    assert "Invalid API key is provided" in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connection_refused_is_unavailable(method, clock, http_session):
    """A closed port raises ProviderUnavailableError after retries; even a POST may retry (nothing was sent)."""
    port = closed_port()
    t = transport(http_session, f"http://127.0.0.1:{port}", clock, retries=2)
    with pytest.raises(ProviderUnavailableError) as caught:
        await t.request_json(method, "/generations", json_body={} if method == "POST" else None)
    assert len(clock.sleeps) == 2
    assert "cannot connect" in str(caught.value)
    assert_no_key(caught.value)


async def test_timeout_is_unavailable(server, clock, http_session):
    """An answer slower than the ClientTimeout raises ProviderUnavailableError; a poll is retried first."""

    async def handler(request, n):
        await asyncio.wait_for(server.release.wait(), 5)
        return web.json_response({})

    server.handler = handler
    t = transport(http_session, server.base_url, clock, retries=1, timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(ProviderUnavailableError) as caught:
        await t.request_json("GET", "/slow")
    assert len(server.requests) == 2
    assert "Timeout" in str(caught.value)
    assert_no_key(caught.value)


async def test_timeout_on_post_is_not_retried(server, clock, http_session):
    """A create POST that times out is sent once only (the provider may have accepted it)."""

    async def handler(request, n):
        await asyncio.wait_for(server.release.wait(), 5)
        return web.json_response({})

    server.handler = handler
    t = transport(http_session, server.base_url, clock, timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(ProviderUnavailableError):
        await t.request_json("POST", "/generations", json_body={})
    await asyncio.sleep(0.05)
    assert len(server.requests) == 1
    assert clock.sleeps == []


async def test_server_dropping_the_connection_is_unavailable(server, clock, http_session):
    """A connection closed mid-answer raises ProviderUnavailableError, not a raw aiohttp error."""

    async def handler(request, n):
        request.transport.close()
        return web.Response(text="")

    server.handler = handler
    with pytest.raises(ProviderUnavailableError):
        await transport(http_session, server.base_url, clock, retries=0).request_json("GET", "/x")


async def test_key_echoed_in_an_error_body_is_redacted():
    """A provider that repeats our key in its error body never gets it into the user-facing message."""
    from aiohttp import web

    from bot.errors import ProviderRejectedError
    from bot.providers.http import HttpTransport
    from tests.fakes.clock import ManualClock

    key = "sk-live-abcdef0123456789"

    async def echo(request):
        return web.json_response({"detail": f"key {request.headers['Authorization']} is malformed"}, status=400)

    app = web.Application()
    app.router.add_post("/x", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            transport = HttpTransport(session, provider="p", base_url=f"http://127.0.0.1:{port}",
                                      headers={"Authorization": f"Bearer {key}"}, clock=ManualClock())
            with pytest.raises(ProviderRejectedError) as caught:
                await transport.request_json("POST", "/x", json_body={})
        assert key not in str(caught.value) and key not in caught.value.public_message
        assert "***" in caught.value.public_message
    finally:
        await runner.cleanup()
