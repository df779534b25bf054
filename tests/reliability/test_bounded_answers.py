"""Provider answers are bounded: a gzip bomb, an endless chunked body and 100k-deep JSON nesting, sent by a
real server on 127.0.0.1, end in a ProviderProtocolError (retried on reads, like malformed JSON) without the
body growing the process's memory. Memory is measured with tracemalloc (allocations, not time)."""

from __future__ import annotations

import gzip
import tracemalloc

import aiohttp
import pytest
from aiohttp import web

from bot.errors import ProviderProtocolError
from bot.providers.http import MAX_BODY_BYTES, HttpTransport
from tests.fakes.clock import ManualClock

BOMB_BYTES = 256 * 1024 * 1024  # what the bomb inflates to
MEMORY_CEILING = 3 * MAX_BODY_BYTES  # the cap, plus room for aiohttp's buffers


class Hostile:
    """A provider that answers every GET with one kind of hostile body, counting the requests."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.requests = 0
        self._bomb = gzip.compress(b" " * BOMB_BYTES, compresslevel=9) if kind == "bomb" else b""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.kind == "bomb":
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            return web.Response(body=self._bomb, headers=headers)
        if self.kind == "deep":
            depth = 100_000
            return web.Response(body=b"[" * depth + b"]" * depth, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"state": "')
        try:
            while True:  # endless: until the client hangs up
                await response.write(b"x" * 65536)
        except (ConnectionError, RuntimeError):
            pass
        return response


@pytest.fixture
async def hostile_server(request):
    hostile = Hostile(request.param)
    app = web.Application()
    app.router.add_get("/{tail:.*}", hostile.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield hostile, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("hostile_server", ["bomb", "endless", "deep"], indirect=True)
async def test_hostile_bodies_are_protocol_errors_retried_without_growing_memory(hostile_server):
    """Each hostile answer to a poll is a ProviderProtocolError (the read is retried, then given up), and
    the process never holds much more than the body cap while reading it."""
    hostile, base_url = hostile_server
    async with aiohttp.ClientSession() as session:
        transport = HttpTransport(session, provider="luma", base_url=base_url, headers={}, clock=ManualClock(),
                                  retries=1, timeout=aiohttp.ClientTimeout(total=60))  # fmt: skip
        tracemalloc.start()
        try:
            with pytest.raises(ProviderProtocolError):
                await transport.request_json("GET", "/generations/1")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert hostile.requests == 2, "a protocol error on a read is retried like malformed JSON"
    assert peak < MEMORY_CEILING, f"peak {peak} bytes while reading a hostile body"
