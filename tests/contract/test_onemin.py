"""1min.ai adapter against a local fake that speaks its synchronous feature and asset APIs (protocols.md §B.2)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot import media
from bot.config import ProviderConfig, Secret
from bot.domain import ProviderState, VideoRequest
from bot.errors import (
    ConfigError,
    InvalidRequestError,
    MediaError,
    ProviderAuthError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from bot.providers import ProviderContext, onemin
from bot.providers.onemin import OneMinProvider
from tests.fakes.clock import ManualClock
from tests.fakes.onemin import FakeOneMin

KEY = "onemin-contract-key-91b3d0"
PROMPT = "a majestic lion walking through golden savanna at sunset"


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def fake():
    async with FakeOneMin(api_key=KEY, video_size=8192) as server:
        yield server


@pytest.fixture
def make_provider(session, clock, tmp_path, fake):
    def make(**kwargs) -> OneMinProvider:
        kwargs.setdefault("api_key", KEY)
        context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
        return OneMinProvider(context, base_url=fake.base_url, **kwargs)

    return make


# --- the happy path ----------------------------------------------------------------------------------


async def test_text_to_video_sends_api_key_header_and_documented_body(make_provider, fake):
    """One POST /api/features with `API-KEY` (not Bearer) and the seed's promptObject shape."""
    request = VideoRequest(PROMPT, aspect_ratio="21:9", resolution="1080p", duration="10s", model="ray-v3")
    await make_provider().submit(request)
    [post] = fake.posts()
    assert post.path == "/api/features"
    assert post.headers["API-KEY"] == KEY
    assert "Authorization" not in post.headers
    assert post.json == {
        "type": "TEXT_TO_VIDEO",
        "model": "luma",
        "promptObject": {
            "prompt": PROMPT, "modelName": "ray-v3", "duration": "10s", "aspectRatio": "21:9",
            "resolution": "1080p", "loop": False,
        },
    }  # fmt: skip


async def test_default_model_loop_and_camera(make_provider, fake):
    """No model means ray-v2; loop is sent as a bool; a camera move is written into the prompt."""
    await make_provider().submit(VideoRequest(PROMPT, loop=True, camera="push_in"))
    prompt_object = fake.posts()[0].json["promptObject"]
    assert prompt_object["modelName"] == "ray-v2"
    assert prompt_object["loop"] is True
    assert prompt_object["prompt"] == PROMPT + ", camera push in"


async def test_success_is_completed_with_the_temporary_url_which_downloads(make_provider, fake, session, tmp_path):
    """SUCCESS + temporaryUrl → COMPLETED with that URL and the record uuid; the clip downloads as MP4."""
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.COMPLETED
    assert status.provider_job_id in fake.records
    assert status.video_url == fake.records[status.provider_job_id]["temporaryUrl"]
    assert status.extra == {"credits_left": str(100_000_000 - 250_000)}
    assert await media.download(session, status.video_url, tmp_path / "clip.mp4") == 8192


async def test_private_bucket_path_and_expired_urls_do_not_download(make_provider, fake, session, tmp_path):
    """The bare resultObject key is a private bucket (403), and so is an expired presigned URL."""
    status = await make_provider().submit(VideoRequest(PROMPT))
    with pytest.raises(MediaError):
        await media.download(session, fake.bare_result_url(status.provider_job_id), tmp_path / "a.mp4")
    fake.urls_expired = True
    with pytest.raises(MediaError):
        await media.download(session, status.video_url, tmp_path / "b.mp4")


async def test_the_call_is_held_open_until_the_fake_answers(make_provider, fake):
    """submit() waits on the one long POST (the fake holds it) and answers only once released."""
    fake.hold = True
    task = asyncio.create_task(make_provider().submit(VideoRequest(PROMPT)))
    await fake.arrived.wait()
    await asyncio.sleep(0)
    assert not task.done()
    fake.release()
    assert (await task).state is ProviderState.COMPLETED
    assert len(fake.posts()) == 1


async def test_generation_timeout_defaults_to_fifteen_minutes(make_provider):
    """The generation call gets its own long timeout, well past aiohttp's 300 s default."""
    timeout = make_provider().generation_timeout
    assert timeout.total == 900
    assert timeout.sock_read is None


# --- start images through the Asset API ----------------------------------------------------------------


async def test_start_image_is_uploaded_as_an_asset_and_its_key_sent(make_provider, fake):
    """A start image is fetched, uploaded as multipart field `asset`, and its key becomes imageUrl."""
    status = await make_provider().submit(VideoRequest(PROMPT, start_image_url=fake.cdn_url("start.png")))
    assert status.state is ProviderState.COMPLETED
    upload, generate = fake.posts()
    assert upload.path == "/api/assets" and upload.headers["API-KEY"] == KEY
    filename, content_type, size = upload.form["asset"]
    assert (filename, content_type) == ("start.png", "image/png") and size > 0
    assert generate.json["type"] == "IMAGE_TO_VIDEO"
    assert generate.json["promptObject"]["imageUrl"] in fake.assets
    cdn_get = next(r for r in fake.requests if r.path.startswith("/cdn/"))
    assert "API-KEY" not in cdn_get.headers  # the key goes to 1min.ai only


async def test_oversized_start_image_is_refused_before_anything_is_sent(make_provider, fake):
    """An image over the cap is an InvalidRequestError; neither the asset nor the generation call is made."""
    with pytest.raises(InvalidRequestError) as caught:
        await make_provider(max_image_bytes=32).submit(VideoRequest(PROMPT, start_image_url=fake.cdn_url()))
    assert "too large" in caught.value.public_message
    assert fake.posts() == []


async def test_start_image_that_is_not_an_image_is_refused(make_provider, fake):
    """A start image URL serving text (or a 404) is refused before 1min.ai is called."""
    fake.cdn_files["notes.png"] = (b"hello, not an image at all", "image/png")
    provider = make_provider()
    for url in (fake.cdn_url("notes.png"), fake.cdn_url("missing.png")):
        with pytest.raises(InvalidRequestError):
            await provider.submit(VideoRequest(PROMPT, start_image_url=url))
    assert fake.posts() == []


async def test_asset_upload_5xx_is_unavailable_and_nothing_is_generated(make_provider, fake):
    """If the asset upload fails with 500, the job is not generated (and may fall back: nothing charged)."""
    fake.inject("assets", 500)
    with pytest.raises(ProviderUnavailableError):
        await make_provider().submit(VideoRequest(PROMPT, start_image_url=fake.cdn_url()))
    assert fake.posts("/api/features") == []


async def test_options_1min_cannot_do_are_refused_before_any_request(make_provider, fake):
    """An end image, an extend, 4k or 9s is refused locally; nothing reaches 1min.ai."""
    provider = make_provider()
    for request in (
        VideoRequest(PROMPT, end_image_url=fake.cdn_url()),
        VideoRequest(PROMPT, extend_of="abc"),
        VideoRequest(PROMPT, resolution="4k"),
        VideoRequest(PROMPT, duration="9s"),
    ):
        with pytest.raises(InvalidRequestError):
            await provider.submit(request)
    assert fake.requests == []


# --- failures -----------------------------------------------------------------------------------------


async def test_status_failed_without_url_is_a_failed_status_with_the_message(make_provider, fake):
    """A record with status FAILED and no temporaryUrl is FAILED, carrying 1min.ai's message."""
    fake.inject("features", "failed", message="Luma generation failed: upstream error")
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.FAILED
    assert status.failure_reason == "Luma generation failed: upstream error"
    assert status.user_fault is False
    assert status.provider_job_id in fake.records


async def test_moderation_failure_is_the_users_fault(make_provider, fake):
    """A failure whose message names moderation is marked user_fault (no refund)."""
    fake.inject("features", "failed", message="Prompt blocked by content moderation")
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.FAILED and status.user_fault is True


async def test_success_without_a_url_is_failed(make_provider, fake):
    """SUCCESS but no temporaryUrl is still a failure (nothing to download), with a clear reason."""
    fake.inject("features", "no-url")
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.FAILED
    assert "without a video" in status.failure_reason


async def test_bad_key_is_an_auth_error_that_never_shows_the_key(make_provider, fake):
    """401 → ProviderAuthError; neither the real nor the wrong key appears in any error text."""
    wrong = "onemin-wrong-key-44ce"
    with pytest.raises(ProviderAuthError) as caught:
        await make_provider(api_key=wrong).submit(VideoRequest(PROMPT))
    text = f"{caught.value} {caught.value.detail} {caught.value.public_message} {caught.value!r}"
    assert wrong not in text and KEY not in text


async def test_a_key_echoed_by_1min_is_redacted(make_provider, fake):
    """A key quoted back in a 400 message or a FAILED record never reaches user-facing text."""
    fake.inject("features", 400, message=f"API-KEY {KEY} is not enabled for video")
    with pytest.raises(ProviderRejectedError) as caught:
        await make_provider().submit(VideoRequest(PROMPT))
    assert KEY not in f"{caught.value} {caught.value.public_message}"
    fake.inject("features", "failed", message=f"quota exceeded for {KEY}")
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.FAILED and KEY not in status.failure_reason


async def test_400_carries_the_message_field(make_provider, fake):
    """A 400 {"message"} is ProviderRejectedError whose public message quotes it."""
    fake.inject("features", 400, message="Invalid model luma for AI feature TEXT_TO_VIDEO")
    with pytest.raises(ProviderRejectedError) as caught:
        await make_provider().submit(VideoRequest(PROMPT))
    assert "Invalid model luma" in caught.value.public_message


@pytest.mark.parametrize("code", [500, 502, 503])
async def test_5xx_posts_exactly_once(make_provider, fake, code):
    """A 5xx on the generating POST is ProviderUnavailableError after exactly one POST (no double charge)."""
    fake.inject("features", code, times=5)
    with pytest.raises(ProviderUnavailableError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


async def test_a_429_is_repeated_only_because_nothing_was_created(make_provider, fake, clock):
    """A 429 refused the job, so the shared transport repeats it once after a backoff; one generation results."""
    fake.inject("features", 429)
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.COMPLETED
    assert len(fake.posts()) == 2 and fake.creates == 1 and len(clock.sleeps) == 1


async def test_persistent_429_is_a_rate_limit_error(make_provider, fake):
    """Past the transport's patience a 429 surfaces as ProviderRateLimitError (the runner may fall back)."""
    fake.inject("features", 429, times=50)
    with pytest.raises(ProviderRateLimitError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert fake.creates == 0


async def test_slow_answer_times_out_as_unavailable_and_is_not_resent(make_provider, fake):
    """A call that outlives its (injected) timeout is ProviderUnavailableError after one POST."""
    fake.hold = True
    provider = make_provider(generation_timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(ProviderUnavailableError):
        await provider.submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


async def test_connection_dropped_mid_wait_is_unavailable_and_not_resent(make_provider, fake):
    """A connection closed while 1min.ai renders is ProviderUnavailableError after one POST."""
    fake.inject("features", "drop")
    with pytest.raises(ProviderUnavailableError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


@pytest.mark.parametrize("answer", ["malformed", "empty"])
async def test_unreadable_answers_are_protocol_errors_sent_once(make_provider, fake, answer):
    """Cut-off JSON, or `{}` (the stale doc's example answer), is ProviderProtocolError after one POST."""
    fake.inject("features", answer)
    with pytest.raises(ProviderProtocolError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


# --- no polling, no credits, construction ------------------------------------------------------------


async def test_poll_after_a_restart_reports_a_clear_failure_without_a_request(make_provider, fake):
    """There is no status endpoint: poll() says FAILED with the reason and sends nothing."""
    status = await make_provider().poll("06e92293-ee32-47d7-85f2-fd4b59482b91")
    assert status.state is ProviderState.FAILED
    assert "no status endpoint" in status.failure_reason
    assert fake.requests == []


async def test_fetch_credits_is_none_and_cancel_is_a_no_op(make_provider, fake):
    """1min.ai has no balance or cancel call: fetch_credits is None and cancel sends nothing."""
    provider = make_provider()
    assert await provider.fetch_credits() is None
    await provider.cancel("anything")
    assert fake.requests == []


async def test_create_builds_from_config_and_requires_a_key(session, clock, tmp_path, fake):
    """The module factory reads the key and base URL from ProviderConfig; no key is a ConfigError."""
    context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
    provider = onemin.create(ProviderConfig("onemin", Secret(KEY), fake.base_url), context)
    caps = provider.capabilities
    assert (provider.name, provider.display_name, caps.default_model) == ("onemin", "1min.ai", "ray-v2")
    assert caps.start_image and not caps.end_image and not caps.extend and not caps.cancel
    assert (await provider.submit(VideoRequest(PROMPT))).state is ProviderState.COMPLETED
    with pytest.raises(ConfigError):
        onemin.create(ProviderConfig("onemin", None, fake.base_url), context)
