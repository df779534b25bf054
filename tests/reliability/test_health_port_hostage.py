"""The health port can't be held hostage: a slowloris client (request head sent slowly, or nothing at all)
is disconnected, connections over the cap are closed at once, and the port still answers afterwards.
Raw sockets against the real HealthServer on 127.0.0.1; assertions are on what the server does."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.config import load_settings
from bot.health import HealthServer

WATCHDOG_S = 30  # only so a broken server fails the test instead of hanging it


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before closing the connection."""
    try:
        return await asyncio.wait_for(reader.read(), WATCHDOG_S)
    except ConnectionResetError:
        return b""


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status


async def test_a_slow_or_idle_client_is_disconnected_without_an_answer():
    """A client that sends half a request head and then dribbles, and one that sends nothing, are both
    closed by the server with nothing answered; a normal probe still gets 200."""
    server = HealthServer({"ok": lambda: True}, port=0, header_timeout=0.2)
    port = await server.start()
    try:
        slow_reader, slow_writer = await connect(port)
        slow_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
        idle_reader, _idle_writer = await connect(port)
        assert await closed_by_server(slow_reader) == b""
        assert await closed_by_server(idle_reader) == b""
        assert server.guard is not None and server.guard.timed_out == 2
        assert await healthz(port) == 200
    finally:
        await server.stop()


async def test_connections_over_the_cap_are_closed_at_once():
    """With the cap reached by idle connections, one more is closed immediately (long before any timeout);
    when they go, the port answers again."""
    server = HealthServer({"ok": lambda: True}, port=0, max_connections=3, header_timeout=600)
    port = await server.start()
    try:
        held = [await connect(port) for _ in range(3)]
        await asyncio.sleep(0)
        extra_reader, _ = await connect(port)
        assert await closed_by_server(extra_reader) == b""
        assert server.guard is not None and server.guard.refused == 1 and server.guard.open == 3
        for _, writer in held:
            writer.close()
        while server.guard.open:
            await asyncio.sleep(0.01)
        assert await healthz(port) == 200
    finally:
        await server.stop()


def test_health_host_defaults_to_loopback():
    """HEALTH_HOST is 127.0.0.1 unless set; the Docker image sets 0.0.0.0."""
    assert load_settings({"VIDEO_PROVIDERS": "demo"}).health_host == "127.0.0.1"
    assert load_settings({"VIDEO_PROVIDERS": "demo", "HEALTH_HOST": "0.0.0.0"}).health_host == "0.0.0.0"
    assert HealthServer({}).host == "127.0.0.1"
