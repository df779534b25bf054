"""Keyframe images stored at the provider (Luma's Files API) at /video time, so the job's request keeps an id
that outlives the Discord CDN link: a re-roll or an edit weeks later still has its input."""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.domain import VideoRequest
from bot.jobs import JobRunner, fit_request
from bot.providers.base import StoresFiles, StoresVideos


def file_store(runner: JobRunner, request: VideoRequest) -> StoresFiles | None:
    """The first configured provider that keeps files and can run this request (None: links only)."""
    for provider in runner.providers.values():
        if isinstance(provider, StoresFiles) and fit_request(request, provider) is not None:
            return provider
    return None


async def store_keyframes(
    store: StoresFiles,
    request: VideoRequest,
    start: discord.Attachment | None,
    end: discord.Attachment | None,
    user_id: int,
) -> VideoRequest:
    """Upload each given image once; the request keeps both the link (for link-only fallbacks) and the id."""
    ids: dict[str, str] = {}
    for field, attachment in (("start_image_file", start), ("end_image_file", end)):
        if attachment is not None:
            data = await attachment.read()  # size and type were checked before: at most 10 MB
            mime = (attachment.content_type or "image/png").split(";")[0].strip().lower()
            ids[field] = await store.upload_image(data, mime_type=mime, filename=attachment.filename,
                                                  requester_id=user_id)  # fmt: skip
    return replace(request, start_image_file=ids.get("start_image_file", request.start_image_file),
                   end_image_file=ids.get("end_image_file", request.end_image_file))


def video_file_store(runner: JobRunner, request: VideoRequest) -> StoresVideos | None:
    """The provider an action on an uploaded video goes to, if it keeps files (else the link is passed on)."""
    provider = runner.providers.get(request.extend_provider or "")
    return provider if isinstance(provider, StoresVideos) else None


async def store_video(store: StoresVideos, request: VideoRequest, video: discord.Attachment, user_id: int) -> VideoRequest:
    """Upload an action's source video once (type and size were checked: an MP4 of at most 100 MB)."""
    data = await video.read()
    mime = (video.content_type or "video/mp4").split(";")[0].strip().lower()
    file_id = await store.upload_video(data, mime_type=mime, filename=video.filename, requester_id=user_id)
    return replace(request, source_video_file=file_id)
