"""What every fake provider server shares: serve an aiohttp app on 127.0.0.1 (a free port) and close
each connection after its response, so clients never wait on keep-alive between polls."""

from __future__ import annotations

from aiohttp import web


async def close_connection(request: web.Request, response: web.StreamResponse) -> None:
    response.force_close()  # drop the connection after this response...
    response.headers["Connection"] = "close"  # ...and say so (aiohttp ≥3.10 fills headers before this hook)


async def serve_local(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 with a free port; returns the runner (to clean up) and the base URL."""
    app.on_response_prepare.append(close_connection)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"
