"""The optional operator port (HEALTH_PORT): `/healthz` for Docker's HEALTHCHECK and `/metrics` for Prometheus.

The server knows nothing of Discord: the composition root hands it named checks (callables returning a
bool, sync or async) and a hook that refreshes gauges before a scrape. `/healthz` answers 200 only when
every check passes, else 503 naming the failed ones. Every response closes its connection, so no
keep-alive waits linger in the process (and an offline Discord simulator sees no stray waits).

The port can't be held hostage: it listens on HEALTH_HOST (127.0.0.1 unless told otherwise), takes at most
`max_connections` connections at once (more are closed at once), and a connection that has not sent a
complete request head within `header_timeout` seconds (a slowloris, or one that just sits idle) is closed.
aiohttp's server has no header timeout of its own, so each connection's protocol is wrapped to add one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot import metrics

log = logging.getLogger(__name__)

Check = Callable[[], bool | Awaitable[bool]]
CHECK_TIMEOUT_S = 3.0
HEADER_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 32
MAX_HEAD_BYTES = 16 * 1024  # a health probe's request head is a few hundred bytes


class _GuardedConnection(asyncio.Protocol):
    """Wraps aiohttp's per-connection protocol: refuses connections over the cap and closes a connection
    whose request head (up to the blank line) is not complete within the deadline."""

    def __init__(self, inner: asyncio.Protocol, guard: _Guard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.head = b""
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP server's connections are stream transports
        self.transport = transport
        if self.guard.open >= self.guard.max_connections:
            self.guard.refused += 1
            transport.abort()
            return
        self.guard.open += 1
        self.counted = True
        self.timer = asyncio.get_running_loop().call_later(self.guard.header_timeout, self._expire)
        self.inner.connection_made(transport)

    def _expire(self) -> None:
        self.guard.timed_out += 1
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            self.head = (self.head + data)[-MAX_HEAD_BYTES:]
            if b"\r\n\r\n" in self.head:
                self.timer.cancel()
                self.timer, self.head = None, b""
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.counted:
            self.counted = False
            self.guard.open -= 1
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Guard:
    def __init__(self, factory: Callable[[], asyncio.Protocol], *, max_connections: int, header_timeout: float) -> None:
        self.factory = factory
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open = 0
        self.refused = 0
        self.timed_out = 0

    def __call__(self) -> asyncio.Protocol:
        return _GuardedConnection(self.factory(), self)


async def run_check(check: Check, timeout: float = CHECK_TIMEOUT_S) -> bool:
    """True only when `check` returns a truthy value in time; an exception or a timeout is a failure."""
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, timeout)
        return bool(result)
    except Exception:
        log.debug("health check raised", exc_info=True)
        return False


class HealthServer:
    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: metrics.Metrics | None = None,
        before_scrape: Callable[[], None] | None = None,
        check_timeout: float = CHECK_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_S,
    ) -> None:
        self.checks = dict(checks)
        self.host = host
        self.requested_port = port
        self.registry = registry if registry is not None else metrics.active()
        self.before_scrape = before_scrape
        self.check_timeout = check_timeout
        self.port: int | None = None  # the bound port once started (HEALTH_PORT=0 picks a free one)
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.guard: _Guard | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.on_response_prepare.append(_close_connection)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        assert runner.server is not None
        self.guard = _Guard(runner.server, max_connections=self.max_connections, header_timeout=self.header_timeout)
        try:
            server = await asyncio.get_running_loop().create_server(self.guard, self.host, self.requested_port)
        except OSError:
            await runner.cleanup()
            raise
        self._runner, self._server = runner, server
        self.port = server.sockets[0].getsockname()[1] if server.sockets else self.requested_port
        log.info("health and metrics on http://%s:%s/healthz and /metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def status(self) -> tuple[bool, dict[str, bool]]:
        names = list(self.checks)
        results = await asyncio.gather(*(run_check(self.checks[n], self.check_timeout) for n in names))
        outcome = dict(zip(names, results, strict=True))
        return all(results), outcome

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, outcome = await self.status()
        body = {
            "status": "ok" if healthy else "unhealthy",
            "checks": {name: "ok" if passed else "failing" for name, passed in outcome.items()},
            "failing": [name for name, passed in outcome.items() if not passed],
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.before_scrape is not None:
            try:
                self.before_scrape()
            except Exception:
                log.exception("refreshing gauges before a scrape failed")
        return web.Response(body=self.registry.render(), headers={"Content-Type": metrics.CONTENT_TYPE})


async def _close_connection(request: web.Request, response: web.StreamResponse) -> None:
    response.force_close()
    response.headers["Connection"] = "close"
