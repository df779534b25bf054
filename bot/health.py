"""The optional operator port (HEALTH_PORT): `/healthz` for Docker's HEALTHCHECK and `/metrics` for Prometheus.

The server knows nothing of Discord: the composition root hands it named checks (callables returning a
bool, sync or async) and a hook that refreshes gauges before a scrape. `/healthz` answers 200 only when
every check passes, else 503 naming the failed ones. Every response closes its connection, so no
keep-alive waits linger in the process (and an offline Discord simulator sees no stray waits).
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
        host: str = "0.0.0.0",  # noqa: S104 - the port is opt-in and serves no secrets; containers need it
        port: int = 0,
        registry: metrics.Metrics | None = None,
        before_scrape: Callable[[], None] | None = None,
        check_timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.checks = dict(checks)
        self.host = host
        self.requested_port = port
        self.registry = registry if registry is not None else metrics.active()
        self.before_scrape = before_scrape
        self.check_timeout = check_timeout
        self.port: int | None = None  # the bound port once started (HEALTH_PORT=0 picks a free one)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.on_response_prepare.append(_close_connection)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses  # the bound (host, port, …) of each listening socket
        self.port = int(addresses[0][1]) if addresses else self.requested_port
        log.info("health and metrics on http://%s:%s/healthz and /metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
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
