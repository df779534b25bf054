"""Plain data the whole core shares: requests, jobs and their states. No I/O, no Discord."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path


class JobState(enum.StrEnum):
    QUEUED = "queued"  # stored, waiting for a free provider slot
    SUBMITTING = "submitting"  # the create request is on the wire; no provider id yet
    RUNNING = "running"  # accepted by the provider; polled until it ends
    DELIVERING = "delivering"  # the clip is ready; posting it into Discord
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def active(self) -> bool:
        return not self.terminal


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SUBMITTING, JobState.FAILED, JobState.CANCELLED}),
    JobState.SUBMITTING: frozenset(
        {JobState.RUNNING, JobState.DELIVERING, JobState.QUEUED, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.RUNNING: frozenset({JobState.DELIVERING, JobState.FAILED, JobState.CANCELLED}),
    JobState.DELIVERING: frozenset({JobState.COMPLETED, JobState.FAILED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def can_transition(old: JobState, new: JobState) -> bool:
    return new in ALLOWED_TRANSITIONS[old]


@dataclass(frozen=True, slots=True)
class VideoRequest:
    """What the user asked for, already validated against the provider's capabilities."""

    prompt: str
    aspect_ratio: str = "16:9"
    loop: bool = False
    resolution: str = "720p"
    duration: str = "5s"
    model: str | None = None  # None: the provider's default
    camera: str | None = None
    start_image_url: str | None = None
    end_image_url: str | None = None
    enhance: bool = False
    extend_of: str | None = None  # provider generation id to continue (Extend; the first frame of a bridge)
    # The provider that made the source clip(s) (`extend_of`, `end_of`, `action_of`): the only one that can work
    # on them (no other knows their generation ids).
    extend_provider: str | None = None
    end_of: str | None = None  # provider generation id the new clip ends on (extend backward; the bridge's end)
    # An action on a finished clip other than a new generation (CLIP_ACTIONS: upscale, audio, modify, reframe).
    # It works on the generation `action_of`, or on an uploaded video (`source_video_url`/`source_video_file`);
    # `prompt`, `resolution` (upscale) and `aspect_ratio` (reframe) are its parameters, with these two:
    action: str | None = None
    action_of: str | None = None
    strength: str | None = None  # modify: adhere_1..3, flex_1..3, reimagine_1..3
    negative_prompt: str | None = None  # audio: what the soundtrack should not have
    source_video_url: str | None = None  # the source clip's link (Luma v1 reads media by URL)
    source_video_file: str | None = None  # an uploaded video stored at the provider (Luma's Files API)
    hdr: bool = False  # HDR output (Luma Ray 3.2)
    # The keyframes as files stored at a provider (Luma's Files API): they outlive the Discord CDN links above,
    # so a re-roll weeks later still has its input. The URLs stay for providers that only take links.
    start_image_file: str | None = None
    end_image_file: str | None = None
    requester_id: int | None = None  # who asked (set at submit, never stored): providers tag it as an opaque hash

    def with_model(self, model: str) -> VideoRequest:
        return replace(self, model=model)

    def options_summary(self) -> str:
        if self.action:
            return " · ".join(p for p in (self.action, self.strength, self.action_detail()) if p)
        parts = [self.aspect_ratio, self.resolution, self.duration]
        if self.loop:
            parts.append("loop")
        if self.hdr:
            parts.append("HDR")
        if self.camera:
            parts.append(f"camera {self.camera}")
        if self.start_image_url or self.end_image_url or self.start_image_file or self.end_image_file:
            parts.append("keyframes")
        if self.enhance:
            parts.append("enhanced")
        if self.end_of:
            parts.append("bridge" if self.extend_of else "extended backward")
        return " · ".join(parts)

    def action_detail(self) -> str | None:
        return {"upscale": f"to {self.resolution}", "reframe": f"to {self.aspect_ratio}"}.get(self.action or "")


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    request: VideoRequest
    state: JobState
    created_at: datetime
    cost: int = 1  # quota units this job holds; 0 once refunded
    provider: str | None = None
    provider_job_id: str | None = None
    status_message_id: int | None = None
    result_message_id: int | None = None
    video_url: str | None = None
    failure_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parent_job_id: int | None = None
    parent_kind: str | None = None  # "re-roll", "edit", "extend", or an action: "upscale", "bridge", …
    delivery_started_at: datetime | None = None  # set just before the result is posted (the delivery intent)
    delivery_nonce: str | None = None  # the Discord message nonce that post carries
    idea_id: int | None = None  # the idea (brainstorming) it belongs to: its first job's id
    take: int | None = None  # 1..n when one /video asked for several takes


# Actions on a finished clip that are not a new generation (extend and bridge are: `extend_of`/`end_of`).
CLIP_ACTIONS = ("upscale", "audio", "modify", "reframe")
# Every name a provider's `capabilities.actions` may hold: the /clip subcommands and the result menu's entries.
ACTION_NAMES = (*CLIP_ACTIONS, "extend", "bridge")
MODIFY_STRENGTHS = tuple(f"{kind}_{n}" for kind in ("adhere", "flex", "reimagine") for n in (1, 2, 3))


class ProviderState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """One observation of a generation at a provider, in the bot's own vocabulary."""

    state: ProviderState
    provider_job_id: str | None = None
    video_url: str | None = None  # where the finished clip can be downloaded
    video_file: Path | None = None  # sync providers that answered with the bytes themselves
    failure_reason: str | None = None
    user_fault: bool = False  # the prompt/input was refused (moderation): no refund
    raw_state: str | None = None  # the provider's own word, for the status line
    progress: float | None = None  # 0..1 when the provider reports one
    poll_after: float | None = None  # seconds the provider suggests waiting before the next poll
    # The provider replaced a failed generation with a new one (a retry it knows is safe): poll this id from now on.
    restarted_as: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state in (ProviderState.COMPLETED, ProviderState.FAILED)
