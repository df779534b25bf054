"""Video files: streamed downloads with a size cap, MP4 sniffing, temp files. Never a whole clip in RAM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.errors import MediaError

T = TypeVar("T")

CHUNK = 64 * 1024
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class MediaTooLargeError(MediaError):
    code = "media_too_large"


def looks_like_video(head: bytes) -> bool:
    """ISO-BMFF (MP4/MOV: `ftyp` at offset 4) or WebM/Matroska (EBML magic)."""
    return (len(head) >= 8 and head[4:8] == b"ftyp") or head[:4] == b"\x1a\x45\xdf\xa3"


def new_temp_path(directory: Path | None = None, suffix: str = ".mp4") -> Path:
    fd, name = tempfile.mkstemp(prefix="reel-", suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


async def _run_blocking(func: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


async def stream_response_to_file(
    response: aiohttp.ClientResponse, dest: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> int:
    """Copy a response body to `dest` chunk by chunk; refuse bodies over `max_bytes` or not video."""
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise MediaTooLargeError(f"video is {declared} bytes, over the {max_bytes} cap")
    size = 0
    handle = await _run_blocking(open, dest, "wb")
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise MediaTooLargeError(f"video exceeds the {max_bytes} byte cap")
            await _run_blocking(handle.write, chunk)
    finally:
        await _run_blocking(handle.close)
    if size == 0:
        raise MediaError("the provider sent an empty video")
    head = await _run_blocking(_read_head, dest)
    if not looks_like_video(head):
        raise MediaError("the provider's file is not a video")
    return size


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(16)


async def download(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: aiohttp.ClientTimeout | None = None,
) -> int:
    """Download `url` to `dest`; returns the size. Raises MediaError for anything unusable."""
    try:
        async with session.get(url, timeout=timeout or aiohttp.ClientTimeout(total=600, sock_read=60)) as resp:
            if resp.status != 200:
                raise MediaError(f"video download answered HTTP {resp.status}")
            return await stream_response_to_file(resp, dest, max_bytes=max_bytes)
    except (TimeoutError, aiohttp.ClientError) as error:
        raise MediaError(f"video download failed: {type(error).__name__}") from None


async def remove_quietly(path: Path | None) -> None:
    if path is not None:
        await _run_blocking(_unlink, path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def file_size(path: Path) -> int:
    return (await _run_blocking(os.stat, path)).st_size
