"""The finished clip, made ready to post: the file a sync provider left, or a download capped at the
channel's upload limit; over the limit, the provider's link instead of the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot import media
from bot.domain import ProviderStatus
from bot.errors import MediaError

FILE_SCHEME = "file://"


def video_location(status: ProviderStatus) -> str | None:
    """What to store as the job's video: the provider's URL, or file:// for bytes a provider handed over."""
    if status.video_file is not None:
        return FILE_SCHEME + str(status.video_file)
    return status.video_url


@dataclass(frozen=True, slots=True)
class Clip:
    """What to post (`path` to upload, else `url` to link) and the temp file to remove afterwards."""

    path: Path | None
    url: str | None
    size: int | None
    temp: Path | None


async def fetch_clip(
    session: aiohttp.ClientSession, location: str | None, temp_dir: Path, *, limit: int, max_download_bytes: int
) -> Clip:
    """The clip at `location`, downloaded into `temp_dir` when it is a URL. On error nothing is left behind."""
    if not location:
        raise MediaError("the provider reported success without a video")
    url: str | None = None
    size: int | None = None
    if location.startswith(FILE_SCHEME):  # a sync provider already handed us the bytes
        temp = Path(location[len(FILE_SCHEME) :])
        path: Path | None = temp
        try:
            size = await media.file_size(temp)
        except OSError:
            raise MediaError("the finished clip was lost in a restart") from None
    else:
        url = location
        temp = media.new_temp_path(temp_dir)
        path = temp
    try:
        if url is not None:
            try:
                size = await media.download(session, url, temp, max_bytes=min(limit, max_download_bytes))
            except media.MediaTooLargeError:
                path = None  # over the upload limit: post the link instead of the file
        if path is not None and size is not None and size > limit:
            if url is None:
                raise MediaError(f"clip of {size} bytes is over this channel's upload limit and the provider gave no link")
            path = None
    except BaseException:
        await media.remove_quietly(temp)
        raise
    return Clip(path, url, size, temp)
