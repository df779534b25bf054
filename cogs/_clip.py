"""Actions on a finished clip, shared by /clip, the result's "More…" menu and anything else that starts one
(a board's Final): find the job the caller may act on, build the action's request from it, start it as a new
job on the shared /video path (`Video.start_job`: validation, quota, status message, queue).

An action is data on the new job's request (bot.domain: `action`/`action_of`, `extend_of`/`end_of`), so the
runner treats it like any job, and a restart resumes it like one. Only the provider that made a clip can work
on it; what it can do is its `capabilities.actions`, never its name.
"""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.domain import ACTION_NAMES, Job, JobState, VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import JobRunner
from bot.providers.base import VideoProvider
from cogs._perms import may_see_job
from cogs._views import extension_request, may_manage

JOB_MAX = 2**53 - 1  # Discord's bound for an integer option
VIDEO_TYPES = ("video/mp4",)
VIDEO_MAX_BYTES = 100 * 1024 * 1024  # Luma's modify-video limit (protocols.md §A.10)
LABELS = {"upscale": "upscale", "audio": "add audio to", "modify": "modify", "reframe": "reframe",
          "extend": "extend", "bridge": "bridge"}  # fmt: skip
NOTHING = "Nothing was charged."
RESOLUTION_ORDER = ("360p", "540p", "720p", "1080p", "4k")


def refuse(message: str) -> InvalidRequestError:
    return InvalidRequestError(message[:200], public_message=message)


async def find_job(interaction: discord.Interaction, job_id: int, action: str) -> Job:
    """The job `job_id` if the caller may see it and act on it; otherwise a refusal (an unknown or invisible
    job is answered alike, so numbers reveal nothing)."""
    job: Job | None = await interaction.client.storage.get_job(job_id)  # type: ignore[attr-defined]
    if job is None or not may_see_job(interaction, job):
        raise refuse(f"There is no job #{job_id} in this server.")
    if not may_manage(interaction, job.user_id):
        raise refuse(f"Only the person who made job #{job_id} (or a server admin) can {LABELS[action]} it.")
    return job


def can_do(provider: VideoProvider) -> str:
    names = [f"`{a}`" for a in ACTION_NAMES if a in provider.capabilities.actions]
    return ", ".join(names) if names else "nothing of the kind"


def source_provider(runner: JobRunner, job: Job, action: str) -> VideoProvider:
    """The provider that made `job`'s finished clip, if it can run `action` on it."""
    if job.state is not JobState.COMPLETED or not job.provider_job_id:
        raise refuse(f"Job #{job.id} has no finished clip to {LABELS[action]}. {NOTHING}")
    provider = runner.providers.get(job.provider or "")
    if provider is None:
        raise refuse(f"Job #{job.id} was made by `{job.provider}`, which this bot no longer uses, and only the "
                     f"service that made a clip can work on it. {NOTHING}")  # fmt: skip
    caps = provider.capabilities
    if action not in caps.actions and not (action == "extend" and caps.extend):  # forward: the Extend button's
        raise refuse(f"{provider.display_name}, which made job #{job.id}, can't {LABELS[action]} clips; it can do: "
                     f"{can_do(provider)}. {NOTHING}")  # fmt: skip
    return provider


def upload_provider(runner: JobRunner, action: str) -> VideoProvider:
    """The first configured provider that can `action` an uploaded video."""
    for provider in runner.providers.values():
        if action in provider.capabilities.actions and provider.capabilities.video_upload:
            return provider
    raise refuse(f"No configured provider can {LABELS[action]} an uploaded video. {NOTHING}")


def check_video(attachment: discord.Attachment) -> None:
    kind = (attachment.content_type or "").split(";")[0].strip().lower()
    if kind not in VIDEO_TYPES:
        raise refuse(f"The video must be an MP4 (got {kind or 'an unknown type'}). {NOTHING}")
    if attachment.size > VIDEO_MAX_BYTES:
        raise refuse(f"The video is {attachment.size // 1024 // 1024} MB; the limit is 100 MB. {NOTHING}")


def action_request(
    runner: JobRunner, job: Job, action: str, *, prompt: str | None = None, negative: str | None = None,
    strength: str | None = None, resolution: str | None = None, aspect_ratio: str | None = None,
    direction: str = "forward", to: Job | None = None,
) -> tuple[VideoRequest, str]:
    """(request, parent kind) of `action` on `job`'s clip; refused where its provider can't do it."""
    provider = source_provider(runner, job, action)
    base = job.request
    if action in ("extend", "bridge"):
        request = extension_request(job, runner)
        if prompt:
            request = replace(request, prompt=prompt)
        if action == "bridge":
            if to is None:
                raise refuse(f"A bridge needs a second job. {NOTHING}")
            other = source_provider(runner, to, action)
            if other.name != provider.name:
                raise refuse(f"Job #{job.id} was made by {provider.display_name} and job #{to.id} by "
                             f"{other.display_name}: only clips of one service can be bridged. {NOTHING}")  # fmt: skip
            return replace(request, end_of=to.provider_job_id, loop=False), "bridge"
        if direction == "backward":  # the new clip ends where the old one starts
            return replace(request, extend_of=None, end_of=job.provider_job_id, loop=False), "extend backward"
        return request, "extend"
    if action == "upscale" and resolution in RESOLUTION_ORDER and base.resolution in RESOLUTION_ORDER \
            and RESOLUTION_ORDER.index(base.resolution) >= RESOLUTION_ORDER.index(resolution):  # fmt: skip
        raise refuse(f"Job #{job.id} is already {base.resolution}; upscale it to a higher resolution. {NOTHING}")
    request = replace(
        base, action=action, action_of=job.provider_job_id, extend_provider=provider.name,
        source_video_url=job.video_url, source_video_file=None, extend_of=None, end_of=None,
        start_image_url=None, end_image_url=None, start_image_file=None, end_image_file=None, loop=False, hdr=False,
        prompt=prompt if prompt is not None else base.prompt, strength=strength, negative_prompt=negative or None,
        resolution=resolution or base.resolution, aspect_ratio=aspect_ratio or base.aspect_ratio,
    )  # fmt: skip
    return request, action


async def start_clip_action(interaction: discord.Interaction, action: str, job: Job, **params: object) -> Job:
    """Start `action` on `job`'s clip as a new job credited to it ("upscale of #12"); the one way in for
    /clip, the result menu and other features. Refusals raise InvalidRequestError before anything is charged."""
    runner = interaction.client.runner  # type: ignore[attr-defined]
    request, kind = action_request(runner, job, action, **params)  # type: ignore[arg-type]
    video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
    started: Job = await video.start_job(interaction, request, parent=job, kind=kind)
    return started


async def start_upload_action(
    interaction: discord.Interaction, action: str, attachment: discord.Attachment, *, prompt: str,
    strength: str | None = None, aspect_ratio: str | None = None,
) -> Job:
    """Modify/reframe an uploaded MP4 on the first provider that takes one (stored there if it keeps files)."""
    runner = interaction.client.runner  # type: ignore[attr-defined]
    check_video(attachment)
    provider = upload_provider(runner, action)
    request = VideoRequest(
        prompt=prompt, action=action, strength=strength, aspect_ratio=aspect_ratio or "16:9",
        source_video_url=attachment.url, extend_provider=provider.name,
    )  # fmt: skip
    video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
    started: Job = await video.start_job(interaction, request, kind=action, video=attachment)
    return started
