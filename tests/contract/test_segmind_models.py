"""Segmind: the slugs offered and what each takes (the capability table in bot/providers/segmind.py), and a clip
read from every shape a v2 `output` may take, or kept as a failure that says where the clip may be (issue 10 §4)."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from bot import media
from bot.domain import ProviderState, VideoRequest
from bot.errors import GenerationFailedError, InvalidRequestError
from bot.providers import ProviderContext
from bot.providers.segmind import SegmindProvider, find_video_url
from tests.fakes.clock import ManualClock
from tests.fakes.segmind import OUTPUT_SHAPES, FakeSegmind

KEY = "segmind-models-key-8d1a44"
PROMPT = "a lighthouse in a storm, waves crashing"
START, END = "https://cdn.example/start.png", "https://cdn.example/end.png"


@pytest.fixture
async def fake():
    async with FakeSegmind(api_key=KEY, video_size=4096) as server:
        yield server


@pytest.fixture
async def provider(fake, tmp_path):
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session=session, clock=ManualClock(), temp_dir=tmp_path)
        yield SegmindProvider(context, api_key=KEY, base_url=fake.base_url, mode="async")


async def run(provider: SegmindProvider, request: VideoRequest):
    status = await provider.submit(request)
    for _ in range(10):
        status = await provider.poll(status.provider_job_id)
        if status.done:
            return status
    raise AssertionError(f"not done: {status}")


# --- the capability table -----------------------------------------------------------------------------


async def test_ray_flash_2_sends_an_integer_duration_and_both_images(provider, fake):
    """ray-flash-2 → /v2/ray-flash-2-720p with duration 9 (an integer, as the page types it) and start/end URLs."""
    request = VideoRequest(PROMPT, model="ray-flash-2", duration="9s", start_image_url=START, end_image_url=END)
    assert (await run(provider, request)).state is ProviderState.COMPLETED
    [post] = fake.posts()
    assert post.path == "/v2/ray-flash-2-720p"
    assert post.json == {
        "prompt": PROMPT, "aspect_ratio": "16:9", "loop": False, "duration": 9,
        "start_image_url": START, "end_image_url": END,
    }  # fmt: skip


async def test_ray_flash_2_text_only_sends_no_image_fields(provider, fake):
    """Without images ray-flash-2 sends just prompt/aspect_ratio/loop/duration (5 by default)."""
    await provider.submit(VideoRequest(PROMPT, model="ray-flash-2", aspect_ratio="21:9", loop=True))
    assert fake.posts()[0].json == {"prompt": PROMPT, "aspect_ratio": "21:9", "loop": True, "duration": 5}


async def test_ray_with_a_start_image_uses_the_img_2_video_slug(provider, fake):
    """luma-ray + start image → /v2/luma-ray-img-2-video with the image as `start_frame` and the resolution."""
    await provider.submit(VideoRequest(PROMPT, start_image_url=START, aspect_ratio="9:16", resolution="1080p"))
    [post] = fake.posts()
    assert post.path == "/v2/luma-ray-img-2-video"
    expected = {"prompt": PROMPT, "aspect_ratio": "9:16", "loop": False, "resolution": "1080p", "start_frame": START}
    assert post.json == expected


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (VideoRequest(PROMPT, model="luma-v1", start_image_url=START), "a start image is not possible with `luma-v1`"),
        (VideoRequest(PROMPT, start_image_url=START, end_image_url=END), "an end image is not possible with `luma-ray`"),
        (VideoRequest(PROMPT, start_image_url=START, aspect_ratio="4:3"), "with a start image `luma-ray` takes"),
        (VideoRequest(PROMPT, model="ray-flash-2", resolution="1080p"), "resolution `1080p` is not possible"),
        (VideoRequest(PROMPT, model="luma-ray", duration="9s"), "duration `9s` is not possible"),
        (VideoRequest(PROMPT, model="ray-flash-2", loop=True, end_image_url=END), "loop cannot be combined"),
    ],
)  # fmt: skip
async def test_combinations_a_slug_cannot_do_are_refused_before_any_request(provider, fake, request_, reason):
    """Each per-model rule of the table is checked locally, names what is possible, and sends nothing."""
    assert any(reason in p for p in provider.capabilities.problems(request_)), provider.capabilities.problems(request_)
    with pytest.raises(InvalidRequestError) as caught:
        await provider.submit(request_)
    assert "Nothing was charged" in caught.value.public_message
    assert fake.requests == []


# --- every shape of a v2 result -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [s for s in OUTPUT_SHAPES if s != "unknown"])
async def test_the_clip_is_found_in_every_documented_output_shape(provider, fake, shape, tmp_path):
    """String, list, nested list, {video|url|video_url|output}, a list of objects, a key beside `output`: all read."""
    fake.output_shape = shape
    status = await run(provider, VideoRequest(PROMPT))
    assert status.state is ProviderState.COMPLETED
    assert status.video_url.startswith(f"{fake.base_url}/files/")
    assert await media.download(provider._context.session, status.video_url, tmp_path / "clip.mp4") == 4096


async def test_a_result_with_no_readable_video_keeps_the_answer_and_says_a_clip_may_exist(provider, fake, caplog):
    """COMPLETED without a video URL fails (refunded) with Segmind's answer and the request id in the job's
    failure detail, saying a clip may exist at Segmind; the log keeps the answer too, never the key."""
    fake.output_shape = "unknown"
    with caplog.at_level(logging.ERROR, logger="bot.providers.segmind"):
        status = await run(provider, VideoRequest(PROMPT))
    [request_id] = fake.v2_requests
    assert status.state is ProviderState.FAILED and not status.user_fault
    assert "a clip may exist at Segmind" in status.failure_reason
    assert request_id in status.failure_reason and '"artifact_id": "a1b2"' in status.failure_reason
    shown = GenerationFailedError(status.failure_reason).public_message
    assert len(shown) <= 500 and shown.endswith("Your quota was refunded.")  # jobs.py keeps 500 characters
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert request_id in logged and "artifact_id" in logged and KEY not in logged


@pytest.mark.parametrize(
    ("answer", "state", "reason"),
    [
        ({"output": {"video_url": "URL"}}, ProviderState.COMPLETED, None),
        (["URL"], ProviderState.COMPLETED, None),
        ({"error": "Prompt flagged by moderation"}, ProviderState.FAILED, "Prompt flagged by moderation"),
        ({"status": "COMPLETED", "output": {"artifact": 1}}, ProviderState.FAILED, "a clip may exist at Segmind"),
    ],
)  # fmt: skip
async def test_a_sync_200_in_json_is_read_not_lost(fake, tmp_path, answer, state, reason):
    """v1 answering 200 JSON (as the current pages' examples expect): a URL in any shape is the clip; an `error`
    is the failure reason; anything else fails keeping the answer and saying a clip may exist."""
    url = f"{fake.base_url}/files/sync.mp4"
    answer = json.loads(json.dumps(answer).replace('"URL"', json.dumps(url)))
    fake.inject("v1", "json", body=answer)
    async with aiohttp.ClientSession() as session:
        context = ProviderContext(session=session, clock=ManualClock(), temp_dir=tmp_path)
        status = await SegmindProvider(context, api_key=KEY, base_url=fake.base_url, mode="sync").submit(
            VideoRequest(PROMPT)
        )
    assert status.state is state
    if state is ProviderState.COMPLETED:
        assert status.video_url == url and status.video_file is None
    else:
        assert reason in status.failure_reason
    assert list(tmp_path.glob("reel-*")) == []  # no temp file left behind


def test_a_huge_unreadable_answer_is_kept_bounded(provider):
    """A megabyte of unknown output is cut to a bounded excerpt (ending in …) in the failure detail."""
    big = {"status": "COMPLETED", "output": {"frames": ["x" * 1000] * 1000}}
    status = provider._unreadable_result("v2:req-1", "request req-1", big)
    assert status.state is ProviderState.FAILED and status.failure_reason.endswith("…")
    assert len(status.failure_reason) < 450


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"output": "https://cdn/v.mp4"}, "https://cdn/v.mp4"),
        ({"output": ["not a url", "https://cdn/v.mp4"]}, "https://cdn/v.mp4"),
        ({"output": [[["https://cdn/deep.mp4"]]]}, "https://cdn/deep.mp4"),
        ({"output": {"video": {"url": "https://cdn/obj.mp4"}}}, "https://cdn/obj.mp4"),
        ({"output": None, "video": "https://cdn/top.mp4"}, "https://cdn/top.mp4"),
        ({"output": [[[[["https://cdn/too-deep.mp4"]]]]]}, None),
        ({"output": ["x"] * 50 + ["https://cdn/late.mp4"]}, None),
        ({"output": "ftp://cdn/v.mp4"}, None),
        ({"output": "https://cdn/has space.mp4"}, None),
        ({"output": {"seed": 4}}, None),
        ("https://cdn/not-an-object.mp4", None),
    ],
)  # fmt: skip
def test_find_video_url_reads_nested_shapes_within_bounds(result, expected):
    """The search is bounded (4 levels, 20 items per list) and only trusts http(s) URLs without spaces."""
    assert find_video_url(result) == expected
