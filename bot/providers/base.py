"""What every provider adapter offers: a capability table and four coroutines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bot.domain import ACTION_NAMES, MODIFY_STRENGTHS, ProviderStatus, VideoRequest
from bot.errors import InvalidRequestError

ALL_ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Data, not code: `/video` validates and autocompletes from this before anything is charged."""

    models: tuple[str, ...]
    default_model: str
    aspect_ratios: tuple[str, ...] = ALL_ASPECT_RATIOS
    resolutions: tuple[str, ...] = ("720p",)
    durations: tuple[str, ...] = ("5s",)
    loop: bool = True
    start_image: bool = False
    end_image: bool = False
    extend: bool = False
    enhance: bool = False
    cancel: bool = False
    concepts: bool = False  # camera presets as provider concepts; otherwise camera goes into the prompt
    hdr: bool = False
    hdr_resolutions: tuple[str, ...] = ()
    hdr_durations: tuple[str, ...] = ()
    hdr_loop: bool = True  # HDR may be combined with loop
    hdr_extend: bool = True  # HDR may be combined with extending a clip
    frame_durations: tuple[str, ...] | None = None  # durations possible with a start/end image or an extension
    loop_durations: tuple[str, ...] | None = None  # durations possible with loop (None: every duration)
    expiring_urls: bool = False  # result links expire soon: re-read the generation for a fresh one before a late download
    # Actions on a finished clip (ACTION_NAMES: upscale, audio, modify, reframe, extend, bridge) this provider can
    # run; upscale/audio/modify/reframe through its `ClipActions.start_action`, extend (both directions) and bridge
    # as a generation from its own clips (`extend_of`/`end_of`). /clip and the result menu ask this, never names.
    actions: frozenset[str] = frozenset()
    upscale_resolutions: tuple[str, ...] = ()  # what `upscale` can make
    video_upload: bool = False  # modify/reframe also take an uploaded video (not only one of its own clips)
    action_notes: dict[str, str] = field(default_factory=dict)  # action → how this provider does it, for users
    # model → resolutions/durations it supports, where narrower than the provider-wide lists
    model_resolutions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    model_durations: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def resolutions_for(self, model: str) -> tuple[str, ...]:
        return self.model_resolutions.get(model, self.resolutions)

    def durations_for(self, model: str) -> tuple[str, ...]:
        return self.model_durations.get(model, self.durations)

    def problems(self, request: VideoRequest) -> list[str]:
        """Every reason this provider cannot do `request` (empty when it can)."""
        if request.action:
            return self._action_problems(request)
        out: list[str] = []
        model = request.model or self.default_model
        if model not in self.models:
            out.append(f"model `{model}` is not offered; choose one of {_list(self.models)}")
        if request.aspect_ratio not in self.aspect_ratios:
            out.append(f"aspect ratio `{request.aspect_ratio}` is not possible; use {_list(self.aspect_ratios)}")
        resolutions = self.resolutions_for(model)
        if request.resolution not in resolutions:
            out.append(f"resolution `{request.resolution}` is not possible; use {_list(resolutions)}")
        durations = self.durations_for(model)
        if request.duration not in durations:
            out.append(f"duration `{request.duration}` is not possible; use {_list(durations)}")
        if request.loop and not self.loop:
            out.append("looping is not possible")
        if (request.start_image_url or request.start_image_file) and not self.start_image:
            out.append("a start image is not possible")
        if (request.end_image_url or request.end_image_file) and not self.end_image:
            out.append("an end image is not possible")
        if request.extend_of and not self.extend:
            out.append("extending a clip is not possible")
        if request.end_of and not request.extend_of and "extend" not in self.actions:
            out.append("extending a clip backward is not possible")
        if request.end_of and request.extend_of and "bridge" not in self.actions:
            out.append("bridging two clips is not possible")
        if request.loop and (request.end_image_url or request.end_image_file):
            out.append("loop cannot be combined with an end image (Luma: 'Loop is not supported for end frame')")
        out += self._combination_problems(request)
        return out

    def _combination_problems(self, request: VideoRequest) -> list[str]:
        """The rules that tie options together (Luma Ray 3.2, protocols.md §F.2), each naming what is possible."""
        out: list[str] = []
        framed = bool(request.start_image_url or request.start_image_file or request.end_image_url
                      or request.end_image_file or request.extend_of or request.end_of)  # fmt: skip
        if framed and self.frame_durations is not None and request.duration not in self.frame_durations:
            out.append(f"a start/end image or an extension needs duration {_list(self.frame_durations)} "
                       f"(`{request.duration}` is text-to-video only)")  # fmt: skip
        if request.loop and self.loop_durations is not None and request.duration not in self.loop_durations:
            out.append(f"loop needs duration {_list(self.loop_durations)}")
        if not request.hdr:
            return out
        if not self.hdr:
            return [*out, "HDR is not possible (Luma Ray 3.2 on `luma-agents` offers it)"]
        if request.resolution not in self.hdr_resolutions:
            out.append(f"HDR needs resolution {_list(self.hdr_resolutions)} (`{request.resolution}` is SDR only)")
        if request.duration not in self.hdr_durations:
            out.append(f"HDR needs duration {_list(self.hdr_durations)}")
        if request.loop and not self.hdr_loop:
            out.append("HDR cannot be combined with loop; choose one")
        if (request.extend_of or request.end_of) and not self.hdr_extend:
            out.append("an extension is SDR only; leave HDR off")
        return out


    def _action_problems(self, request: VideoRequest) -> list[str]:
        """What stands in the way of an action on a finished clip (its output follows the source otherwise)."""
        action = request.action or ""
        if action not in self.actions:
            can = [a for a in ACTION_NAMES if a in self.actions]
            return [f"`{action}` is not possible" + (f" (it can: {_list(tuple(can))})" if can else "")]
        out: list[str] = []
        if not (request.action_of or request.source_video_url or request.source_video_file):
            out.append(f"`{action}` needs a finished clip")
        if request.action_of is None and not self.video_upload:
            out.append("an uploaded video is not possible; act on one of its clips")
        if action == "upscale" and request.resolution not in self.upscale_resolutions:
            out.append(f"upscale goes to {_list(self.upscale_resolutions)}, not `{request.resolution}`")
        if action == "reframe" and request.aspect_ratio not in self.aspect_ratios:
            out.append(f"aspect ratio `{request.aspect_ratio}` is not possible; use {_list(self.aspect_ratios)}")
        if action == "modify" and request.strength not in MODIFY_STRENGTHS:
            out.append(f"strength must be one of {_list(MODIFY_STRENGTHS)}")
        return out


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def check_request(capabilities: Capabilities, provider_name: str, request: VideoRequest) -> None:
    problems = capabilities.problems(request)
    if problems:
        raise InvalidRequestError(
            "; ".join(problems),
            public_message=f"{provider_name} can't do that: " + "; ".join(problems) + ". Nothing was charged.",
        )


@runtime_checkable
class StoresFiles(Protocol):
    """A provider that keeps uploaded inputs itself (Luma's Files API), so a job's keyframes outlive Discord's
    CDN links. Absent where the provider only takes URLs."""

    async def upload_image(self, data: bytes, *, mime_type: str, filename: str, requester_id: int | None) -> str:
        """Store one keyframe image; returns the id that `VideoRequest.start_image_file`/`end_image_file` carry."""


@runtime_checkable
class ClipActions(Protocol):
    """Actions on a finished clip that are not a new generation (`VideoRequest.action`: upscale, audio, modify,
    reframe), for the names in `capabilities.actions`; absent where a provider can do none. Each action is a new
    generation polled like any other (`poll`)."""

    async def start_action(self, request: VideoRequest) -> ProviderStatus:
        """Send `request.action` on `request.action_of` (or the uploaded source video) once; the first status."""


@runtime_checkable
class StoresVideos(Protocol):
    """A provider that takes an uploaded source video for modify/reframe as a stored file (Luma's Files API)."""

    async def upload_video(self, data: bytes, *, mime_type: str, filename: str, requester_id: int | None) -> str:
        """Store one source video; returns the id `VideoRequest.source_video_file` carries."""


@runtime_checkable
class VideoProvider(Protocol):
    name: str  # config name: luma, segmind, onemin, umami, demo
    display_name: str
    capabilities: Capabilities
    poll_interval: float  # seconds between polls of a running job

    async def submit(self, request: VideoRequest) -> ProviderStatus:
        """Send the create request once (never retried blindly). Returns the first status; sync providers
        return a finished status with `video_file` or `video_url` set."""

    async def poll(self, provider_job_id: str) -> ProviderStatus:
        """One idempotent status read."""

    async def cancel(self, provider_job_id: str) -> None:
        """Stop or delete a running generation where the provider can; a no-op otherwise."""

    async def fetch_credits(self) -> str | None:
        """A human-readable balance, or None where the provider has no such call."""
