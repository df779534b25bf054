"""Video files: streamed downloads with a size cap, MP4 sniffing, temp files. Never a whole clip in RAM.

Temp files are named `reel-*` in the bot's temp directory (DATA_DIR/tmp); at start-up `remove_stale_temp_files`
deletes the ones a crash left behind: only files with that prefix, never one an unfinished job still points
to, and none touched in the last hour (another process sharing the directory may be writing it). A write
that fails for lack of space is a DiskFullError ("the bot's disk is full") and an ERROR in the log."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from bot import netguard
from bot.errors import DiskFullError, MediaError

log = logging.getLogger(__name__)

T = TypeVar("T")

CHUNK = 64 * 1024
TEMP_PREFIX = "reel-"
STALE_AFTER_S = 3600
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class MediaTooLargeError(MediaError):
    code = "media_too_large"


def looks_like_video(head: bytes) -> bool:
    """ISO-BMFF (MP4/MOV: `ftyp` at offset 4) or WebM/Matroska (EBML magic)."""
    return (len(head) >= 8 and head[4:8] == b"ftyp") or head[:4] == b"\x1a\x45\xdf\xa3"


def new_temp_path(directory: Path | None = None, suffix: str = ".mp4") -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=directory)
    except OSError as error:
        raise _disk_error(error, directory) from None
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
    try:
        handle = await _run_blocking(open, dest, "wb")
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLargeError(f"video exceeds the {max_bytes} byte cap")
                await _run_blocking(handle.write, chunk)
        finally:
            await _run_blocking(handle.close)
    except OSError as error:
        raise _disk_error(error, dest) from None
    if size == 0:
        raise MediaError("the provider sent an empty video")
    head = await _run_blocking(_read_head, dest)
    if not looks_like_video(head):
        raise MediaError("the provider's file is not a video")
    return size


def _disk_error(error: OSError, where: object) -> MediaError:
    if error.errno in DISK_FULL:
        log.error("the disk is full: writing %s failed (%s)", where, os.strerror(error.errno))
        return DiskFullError(f"disk full writing {where}: {os.strerror(error.errno)}")
    return MediaError(f"writing the video failed: {type(error).__name__}: {error.strerror or error}")


def _remove_stale(directory: Path, keep: list[Path], now: float) -> int:
    kept = {path.resolve() for path in keep}
    removed = 0
    for path in directory.glob(f"{TEMP_PREFIX}*"):
        try:
            if path.resolve() in kept or not path.is_file() or now - path.stat().st_mtime < STALE_AFTER_S:
                continue
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


async def remove_stale_temp_files(directory: Path, keep: Iterable[Path] = ()) -> int:
    """Delete the temp files a crash left in `directory` (ours by prefix, not in `keep`, idle for an hour);
    returns how many."""
    removed = await _run_blocking(_remove_stale, directory, [Path(path) for path in keep], time.time())
    if removed:
        log.info("removed %d temp file(s) left by an earlier run in %s", removed, directory)
    return removed


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
    """Download `url` to `dest`; returns the size. Raises MediaError for anything unusable.

    The bot passes a session from `bot.netguard.open_download_session`: then the URL and every redirect hop
    (followed here, at most MAX_REDIRECTS) must be an allowed scheme and a public address."""
    policy = netguard.policy_of(session)
    target = URL(url)
    try:
        for _ in range(netguard.MAX_REDIRECTS + 1):
            if policy is not None:
                policy.check(target)
            async with session.get(
                target, timeout=timeout or aiohttp.ClientTimeout(total=600, sock_read=60), allow_redirects=False
            ) as resp:
                if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                    target = target.join(URL(resp.headers["Location"]))
                    continue
                if resp.status != 200:
                    raise MediaError(f"video download answered HTTP {resp.status}")
                return await stream_response_to_file(resp, dest, max_bytes=max_bytes)
        raise MediaError(f"video download redirected more than {netguard.MAX_REDIRECTS} times")
    except netguard.UnsafeUrlError:
        raise
    except aiohttp.ClientConnectorError as error:
        if isinstance(error.os_error, netguard.UnsafeUrlError):
            raise error.os_error from None
        raise MediaError(f"video download failed: {type(error).__name__}") from None
    except (TimeoutError, aiohttp.ClientError, ValueError) as error:
        raise MediaError(f"video download failed: {type(error).__name__}") from None


async def remove_quietly(path: Path | None) -> None:
    if path is not None:
        await _run_blocking(_unlink, path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def file_size(path: Path) -> int:
    return (await _run_blocking(os.stat, path)).st_size
