"""Unit: video sniffing and capped, streamed downloads from a local server over a real socket."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.errors import MediaError
from bot.media import MediaTooLargeError, download, looks_like_video
from tests.fakes.luma import mp4_header

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00"
MiB = 1024 * 1024


def mp4_bytes(size: int) -> bytes:
    head = mp4_header(min(size, 32))
    return head + bytes(size - len(head))


# --- sniffing ----------------------------------------------------------------------------------------


def test_mp4_ftyp_is_video():
    """An ISO-BMFF file (`ftyp` at offset 4: MP4/MOV) is recognised as video."""
    assert looks_like_video(MP4_HEAD)
    assert looks_like_video(b"\x00\x00\x00\x20ftypqt  ")  # QuickTime


def test_webm_magic_is_video():
    """A WebM/Matroska file (EBML magic) is recognised as video."""
    assert looks_like_video(WEBM_HEAD)


@pytest.mark.parametrize(
    "head",
    [
        JPEG_HEAD,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"<html><body>Access denied</body>",
        b'{"detail": "Not found"}',
        b"ftyp",  # the magic in the wrong place
        b"\x00\x00\x00",
        b"",
    ],
)
def test_non_video_is_refused(head):
    """JPEG, PNG, HTML, JSON, truncated and empty heads are not videos."""
    assert not looks_like_video(head)


# --- download over a real socket -------------------------------------------------------------------


class TinyServer:
    """A one-route aiohttp server on 127.0.0.1:0 answering with the scripted `handler`."""

    def __init__(self) -> None:
        self.handler: Callable | None = None
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        self.sent = 0  # bytes the handler managed to write

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        assert self.handler is not None
        return await self.handler(request)

    async def __aenter__(self) -> TinyServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def server():
    async with TinyServer() as srv:
        yield srv


async def stream_chunked(request: web.Request, total: int, server: TinyServer) -> web.StreamResponse:
    """Answer `total` bytes of MP4 with chunked transfer encoding (no Content-Length)."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    response.content_type = "video/mp4"
    await response.prepare(request)
    chunk = bytes(256 * 1024)
    head = mp4_header(32)
    await response.write(head)
    server.sent = len(head)
    try:
        while server.sent < total:
            part = chunk[: min(len(chunk), total - server.sent)]
            await response.write(part)
            server.sent += len(part)
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        return response
    await response.write_eof()
    return response


async def test_download_writes_the_file_and_returns_its_size(server, http_session, tmp_path: Path):
    """A 200 MP4 is written to `dest` byte for byte and its size returned."""
    payload = mp4_bytes(300_000)

    async def handler(request):
        return web.Response(body=payload, content_type="video/mp4")

    server.handler = handler
    dest = tmp_path / "clip.mp4"
    size = await download(http_session, f"{server.base_url}/v.mp4", dest)
    assert size == len(payload)
    assert dest.read_bytes() == payload


async def test_download_of_webm_succeeds(server, http_session, tmp_path: Path):
    """A WebM clip is accepted too."""
    payload = WEBM_HEAD + bytes(10_000)

    async def handler(request):
        return web.Response(body=payload, content_type="video/webm")

    server.handler = handler
    assert await download(http_session, f"{server.base_url}/v.webm", tmp_path / "v.webm") == len(payload)


async def test_chunked_download_under_the_cap_succeeds(server, http_session, tmp_path: Path):
    """A streamed body without Content-Length is accepted when it stays under the cap."""

    async def handler(request):
        return await stream_chunked(request, 3 * MiB, server)

    server.handler = handler
    dest = tmp_path / "clip.mp4"
    assert await download(http_session, server.base_url, dest, max_bytes=4 * MiB) == 3 * MiB
    assert dest.stat().st_size == 3 * MiB


async def test_over_cap_by_content_length_is_refused_before_reading(server, http_session, tmp_path: Path):
    """A declared Content-Length over the cap raises MediaTooLargeError without writing the body."""

    async def handler(request):
        return web.Response(body=mp4_bytes(2 * MiB), content_type="video/mp4")

    server.handler = handler
    dest = tmp_path / "clip.mp4"
    with pytest.raises(MediaTooLargeError):
        await download(http_session, server.base_url, dest, max_bytes=1 * MiB)
    assert not dest.exists() or dest.stat().st_size == 0


async def test_over_cap_by_streamed_size_is_refused_without_buffering(server, http_session, tmp_path: Path):
    """A chunked body with no Content-Length that grows past the cap stops at the cap: MediaTooLargeError,
    at most about a cap's worth on disk, and memory use far below the body's size."""

    async def handler(request):
        return await stream_chunked(request, 200 * MiB, server)

    server.handler = handler
    dest = tmp_path / "clip.mp4"
    cap = 2 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(MediaTooLargeError):
            await download(http_session, server.base_url, dest, max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dest.stat().st_size <= cap
    assert peak < 16 * MiB  # the whole 200 MiB body was never held in memory
    assert server.sent < 100 * MiB  # the download was abandoned, not read to the end


async def test_not_found_is_media_error(server, http_session, tmp_path: Path):
    """A 404 for the clip raises MediaError naming the status."""

    async def handler(request):
        return web.json_response({"detail": "Not found"}, status=404)

    server.handler = handler
    with pytest.raises(MediaError, match="404") as caught:
        await download(http_session, server.base_url, tmp_path / "clip.mp4")
    assert not isinstance(caught.value, MediaTooLargeError)


async def test_non_video_bytes_are_media_error(server, http_session, tmp_path: Path):
    """A 200 that is actually a JPEG (or an HTML error page) raises MediaError."""

    async def handler(request):
        return web.Response(body=JPEG_HEAD + bytes(5000), content_type="video/mp4")

    server.handler = handler
    with pytest.raises(MediaError, match="not a video"):
        await download(http_session, server.base_url, tmp_path / "clip.mp4")


async def test_empty_body_is_media_error(server, http_session, tmp_path: Path):
    """A 200 with an empty body raises MediaError rather than posting an empty clip."""

    async def handler(request):
        return web.Response(body=b"", content_type="video/mp4")

    server.handler = handler
    with pytest.raises(MediaError, match="empty"):
        await download(http_session, server.base_url, tmp_path / "clip.mp4")


async def test_connection_refused_is_media_error(http_session, tmp_path: Path):
    """An unreachable host raises MediaError, not a raw aiohttp exception."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MediaError, match="failed"):
        await download(http_session, f"http://127.0.0.1:{port}/v.mp4", tmp_path / "clip.mp4")


async def test_slow_download_times_out_as_media_error(server, http_session, tmp_path: Path):
    """A download slower than its timeout raises MediaError."""
    import asyncio

    async def handler(request):
        await asyncio.sleep(2)
        return web.Response(body=mp4_bytes(100))

    server.handler = handler
    with pytest.raises(MediaError, match="Timeout"):
        await download(http_session, server.base_url, tmp_path / "c.mp4", timeout=aiohttp.ClientTimeout(total=0.2))
