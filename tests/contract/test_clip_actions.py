"""Actions on a finished clip (upscale, audio, modify, reframe, extend both ways, bridge) through both Luma
adapters against their fakes: the calls protocols.md §A.10 / §F.2 name, bodies checked against the official
SDKs' param types (the autouse checker in conftest), each new generation polled to a downloadable clip, and
every action a provider can't do refused by its capability table before anything is sent."""

from __future__ import annotations

import pytest

from bot import generation
from bot.domain import ACTION_NAMES, ProviderState, VideoRequest
from bot.providers.base import ClipActions, StoresVideos, check_request
from bot.providers.luma import LumaProvider
from bot.providers.luma_agents import LumaAgentsProvider
from tests.fakes.clock import ManualClock
from tests.fakes.luma import FakeLuma, mp4_header
from tests.fakes.luma_agents import FakeLumaAgents

KEY = "luma-clip-actions-key"
PROMPT = "a lighthouse in a storm, waves crashing"
MP4 = mp4_header(4096) + bytes(4096)


@pytest.fixture
async def v1(http_session):
    async with FakeLuma(api_key=KEY) as fake:
        yield LumaProvider(http_session, api_key=KEY, clock=ManualClock(), base_url=fake.base_url), fake


@pytest.fixture
async def ray(http_session):
    async with FakeLumaAgents(api_key=KEY) as fake:
        yield LumaAgentsProvider(http_session, api_key=KEY, clock=ManualClock(), base_url=fake.base_url), fake


async def done(provider, job_id: str):
    for _ in range(6):
        status = await provider.poll(job_id)
        if status.done:
            assert status.state is ProviderState.COMPLETED, status.failure_reason
            return status
    raise AssertionError("never finished")


async def finished_clip(provider) -> tuple[str, str]:
    """(generation id, video link) of a finished text-to-video clip."""
    first = await provider.submit(VideoRequest(PROMPT))
    status = await done(provider, first.provider_job_id)
    return status.provider_job_id, status.video_url


def action(name: str, gen: str, url: str | None, provider: str, **fields) -> VideoRequest:
    return VideoRequest(fields.pop("prompt", PROMPT), action=name, action_of=gen, source_video_url=url,
                        extend_provider=provider, **fields)  # fmt: skip


async def run(provider, request: VideoRequest):
    check_request(provider.capabilities, provider.display_name, request)
    first = await generation.start(provider, request)
    return await done(provider, first.provider_job_id)


# --- Luma v1 ----------------------------------------------------------------------------------------


async def test_v1_upscale_posts_to_the_generation(v1):
    """Upscale is POST /generations/{id}/upscale with upscale_video and the resolution; the new clip finishes."""
    provider, fake = v1
    gen, url = await finished_clip(provider)
    await run(provider, action("upscale", gen, url, "luma", resolution="4k"))
    [call] = fake.requests_to("POST", f"/generations/{gen}/upscale")
    assert call.json == {"generation_type": "upscale_video", "resolution": "4k"}


async def test_v1_audio_sends_prompt_and_negative(v1):
    """Add audio is POST /generations/{id}/audio with the prompt and the negative prompt."""
    provider, fake = v1
    gen, url = await finished_clip(provider)
    await run(provider, action("audio", gen, url, "luma", prompt="thunder and gulls", negative_prompt="music"))
    [call] = fake.requests_to("POST", f"/generations/{gen}/audio")
    assert call.json == {"generation_type": "add_audio", "prompt": "thunder and gulls", "negative_prompt": "music"}


async def test_v1_modify_reads_the_clip_by_url_with_its_strength(v1):
    """Modify is /generations/video/modify: media.url the clip's own link, mode the strength, the source's model."""
    provider, fake = v1
    gen, url = await finished_clip(provider)
    await run(provider, action("modify", gen, url, "luma", prompt="as a watercolour", strength="reimagine_2",
                               model="ray-flash-2"))  # fmt: skip
    [call] = fake.requests_to("POST", "/generations/video/modify")
    assert call.json == {"generation_type": "modify_video", "model": "ray-flash-2", "media": {"url": url},
                         "mode": "reimagine_2", "prompt": "as a watercolour"}  # fmt: skip


async def test_v1_reframe_of_an_uploaded_video_passes_its_link(v1):
    """Reframe is /generations/video/reframe with the aspect ratio; an upload (no generation) goes as its URL."""
    provider, fake = v1
    _, url = await finished_clip(provider)
    await run(provider, action("reframe", None, url, "luma", aspect_ratio="9:16", prompt=""))
    [call] = fake.requests_to("POST", "/generations/video/reframe")
    assert call.json == {"generation_type": "reframe_video", "model": "ray-2", "media": {"url": url},
                         "aspect_ratio": "9:16"}  # fmt: skip


@pytest.mark.parametrize(("fields", "frames"), [
    ({"extend_of": "A"}, {"frame0": "A"}),
    ({"end_of": "A"}, {"frame1": "A"}),
    ({"extend_of": "A", "end_of": "B"}, {"frame0": "A", "frame1": "B"}),
])  # fmt: skip
async def test_v1_extend_both_ways_and_bridge_are_generation_keyframes(v1, fields, frames):
    """Extend forward = frame0 the generation, backward = frame1, bridge = frame0 A and frame1 B (§A.10)."""
    provider, fake = v1
    ids = {"A": (await finished_clip(provider))[0], "B": (await finished_clip(provider))[0]}
    request = VideoRequest(PROMPT, extend_provider="luma", **{k: ids[v] for k, v in fields.items()})
    await run(provider, request)
    body = fake.requests_to("POST", "/generations/video")[-1].json
    assert body["keyframes"] == {name: {"type": "generation", "id": ids[v]} for name, v in frames.items()}


# --- Luma Ray 3.2 -----------------------------------------------------------------------------------


async def test_ray_modify_is_a_video_edit_of_the_generation(ray):
    """Modify is type video_edit, source the generation id, the strength under video.edit, the user tagged."""
    provider, fake = ray
    gen, _ = await finished_clip(provider)
    await run(provider, action("modify", gen, None, "luma-agents", prompt="neon noir", strength="adhere_3",
                               requester_id=42))  # fmt: skip
    body = fake.requests_to("POST", "/generations")[-1].json
    assert body == {"model": "ray-3.2", "type": "video_edit", "prompt": "neon noir", "source": {"generation_id": gen},
                    "video": {"edit": {"strength": "adhere_3"}, "resolution": "720p"},
                    "user_id": provider.user_id(42)}  # fmt: skip


async def test_ray_reframe_is_a_video_reframe_with_the_aspect_ratio(ray):
    """Reframe is type video_reframe with the new aspect ratio; 1080p (still rolling out at Luma) asks 720p."""
    provider, fake = ray
    gen, _ = await finished_clip(provider)
    await run(provider, action("reframe", gen, None, "luma-agents", aspect_ratio="1:1", resolution="1080p"))
    body = fake.requests_to("POST", "/generations")[-1].json
    assert body["type"] == "video_reframe" and body["aspect_ratio"] == "1:1"
    assert body["source"] == {"generation_id": gen} and body["video"] == {"resolution": "720p"}


async def test_ray_upscale_is_a_close_edit_at_1080p(ray):
    """Ray 3.2 has no upscaler: upscale is a video_edit at adhere_1 rendered at 1080p; 4k is refused unsent."""
    provider, fake = ray
    gen, _ = await finished_clip(provider)
    await run(provider, action("upscale", gen, None, "luma-agents", resolution="1080p"))
    body = fake.requests_to("POST", "/generations")[-1].json
    assert body["type"] == "video_edit"
    assert body["video"] == {"resolution": "1080p", "edit": {"strength": "adhere_1"}}
    sent = len(fake.requests_to("POST", "/generations"))
    with pytest.raises(Exception, match="1080p"):
        check_request(provider.capabilities, provider.display_name,
                      action("upscale", gen, None, "luma-agents", resolution="4k"))  # fmt: skip
    assert len(fake.requests_to("POST", "/generations")) == sent


async def test_ray_modify_of_an_uploaded_video_goes_through_the_files_api(ray):
    """An uploaded MP4 is stored with POST /files (video/mp4) and referenced as source.file_id once ready."""
    provider, fake = ray
    assert isinstance(provider, StoresVideos)
    file_id = await provider.upload_video(MP4, mime_type="video/mp4", filename="mine.mp4", requester_id=7)
    assert fake.files[file_id].mime_type == "video/mp4"
    await run(provider, VideoRequest("claymation", action="modify", source_video_file=file_id, strength="flex_2",
                                     extend_provider="luma-agents"))  # fmt: skip
    assert fake.requests_to("POST", "/generations")[-1].json["source"] == {"file_id": file_id}


@pytest.mark.parametrize(("fields", "frames"), [
    ({"extend_of": "A"}, {"start_frame": "A"}),
    ({"end_of": "A"}, {"end_frame": "A"}),
    ({"extend_of": "A", "end_of": "B"}, {"start_frame": "A", "end_frame": "B"}),
])  # fmt: skip
async def test_ray_extend_both_ways_and_bridge_are_frame_generation_ids(ray, fields, frames):
    """Extend forward = start_frame.generation_id, backward = end_frame, bridge = both (§F.2)."""
    provider, fake = ray
    ids = {"A": (await finished_clip(provider))[0], "B": (await finished_clip(provider))[0]}
    await run(provider, VideoRequest(PROMPT, extend_provider="luma-agents", **{k: ids[v] for k, v in fields.items()}))
    video = fake.requests_to("POST", "/generations")[-1].json["video"]
    assert {k: video[k] for k in ("start_frame", "end_frame") if k in video} == {
        name: {"generation_id": ids[v]} for name, v in frames.items()
    }


async def test_ray_has_no_audio_and_says_what_it_can(ray):
    """Add audio is not on Ray 3.2: the table refuses it before sending, naming the actions it has."""
    provider, fake = ray
    request = action("audio", "some-gen", None, "luma-agents")
    problems = provider.capabilities.problems(request)
    assert problems and "upscale" in problems[0] and "modify" in problems[0] and "audio" in problems[0]
    assert not fake.requests_to("POST", "/generations")


def test_both_adapters_offer_their_actions_as_data():
    """Capabilities list each adapter's actions by name; the adapters implement ClipActions for them."""
    from bot.providers import luma, luma_agents

    assert luma.CAPABILITIES.actions == frozenset(ACTION_NAMES)
    assert luma_agents.CAPABILITIES.actions == frozenset(ACTION_NAMES) - {"audio"}
    assert issubclass(LumaProvider, ClipActions) and issubclass(LumaAgentsProvider, ClipActions)
