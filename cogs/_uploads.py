"""Keyframe images stored at the provider (Luma's Files API) at /video time, so the job's request keeps an id
that outlives the Discord CDN link: a re-roll or an edit weeks later still has its input."""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.domain import VideoRequest
from bot.jobs import JobRunner, fit_request
from bot.providers.base import StoresFiles


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
