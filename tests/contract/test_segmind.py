"""Segmind adapter against a local fake that speaks its v1 sync and v2 async protocols (protocols.md §B.1)."""

from __future__ import annotations

import asyncio
import logging

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
    ProviderCreditsError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from bot.providers import ProviderContext, segmind
from bot.providers.segmind import SegmindProvider
from tests.fakes.clock import ManualClock
from tests.fakes.segmind import FakeSegmind

KEY = "segmind-contract-key-5f2e9c"
PROMPT = "a teddy bear in sunglasses playing electric guitar"


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def fake():
    async with FakeSegmind(api_key=KEY, video_size=8192) as server:
        yield server


@pytest.fixture
def make_provider(session, clock, tmp_path, fake):
    def make(**kwargs) -> SegmindProvider:
        kwargs.setdefault("api_key", KEY)
        context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
        return SegmindProvider(context, base_url=fake.base_url, **kwargs)

    return make


async def poll_to_end(provider: SegmindProvider, job_id: str, limit: int = 10):
    states = []
    for _ in range(limit):
        status = await provider.poll(job_id)
        states.append(status.state)
        if status.done:
            return status, states
    raise AssertionError(f"never finished: {states}")


def temp_files(tmp_path):
    return sorted(tmp_path.glob("reel-*"))


# --- v2 async (the default) --------------------------------------------------------------------------


async def test_v2_submit_sends_key_header_and_documented_body(make_provider, fake):
    """A Ray submit goes to /v2/luma-ray-txt-2-video with x-api-key and prompt/aspect_ratio/loop/resolution."""
    status = await make_provider().submit(VideoRequest(PROMPT, aspect_ratio="9:16", resolution="1080p"))
    assert status.state is ProviderState.QUEUED
    assert status.provider_job_id.startswith("v2:")
    [post] = fake.posts()
    assert post.path == "/v2/luma-ray-txt-2-video"
    assert post.headers["x-api-key"] == KEY
    assert "Authorization" not in post.headers
    assert post.json == {"prompt": PROMPT, "aspect_ratio": "9:16", "loop": False, "resolution": "1080p"}


async def test_luma_v1_model_sends_loop_explicitly_and_no_resolution(make_provider, fake):
    """Luma's first model uses its own slug, never gets `resolution`, and `loop` is always sent."""
    await make_provider().submit(VideoRequest(PROMPT, model="luma-v1", loop=True, camera="orbit_left"))
    [post] = fake.posts()
    assert post.path == "/v2/luma-txt-2-video"
    assert post.json == {"prompt": PROMPT + ", camera orbit left", "aspect_ratio": "16:9", "loop": True}


async def test_v2_poll_progresses_to_completed_and_the_clip_downloads(make_provider, fake, session, tmp_path):
    """Status moves QUEUED → RUNNING → COMPLETED by poll count; the output URL downloads as an MP4."""
    provider = make_provider()
    job_id = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    status, states = await poll_to_end(provider, job_id)
    assert states == [ProviderState.QUEUED, ProviderState.RUNNING, ProviderState.COMPLETED]
    assert status.video_url.startswith(fake.base_url + "/files/")
    size = await media.download(session, status.video_url, tmp_path / "clip.mp4")
    assert size == 8192


async def test_poll_works_from_the_stored_id_after_a_restart(make_provider, fake):
    """A fresh provider instance (a restarted bot) can poll a job from its provider_job_id alone."""
    job_id = (await make_provider().submit(VideoRequest(PROMPT))).provider_job_id
    status, _ = await poll_to_end(make_provider(), job_id)
    assert status.state is ProviderState.COMPLETED


async def test_undocumented_result_urls_on_our_host_are_kept_in_the_job_id(make_provider, fake):
    """status/response URLs off the documented path are stored in the job id, so a restart still polls them."""
    fake.v2_url_path = "/v2/jobs"
    job_id = (await make_provider().submit(VideoRequest(PROMPT))).provider_job_id
    assert f"{fake.base_url}/v2/jobs/" in job_id
    status, _ = await poll_to_end(make_provider(), job_id)
    assert status.state is ProviderState.COMPLETED
    assert {r.path.split("/")[2] for r in fake.requests if r.method == "GET" and r.path.startswith("/v2/")} == {"jobs"}


async def test_result_urls_on_another_host_never_get_the_key(make_provider, fake):
    """URLs pointing at another origin are ignored: polls go to the configured base, where the key belongs."""
    fake.v2_url_base = fake.base_url.replace("127.0.0.1", "localhost")
    job_id = (await make_provider().submit(VideoRequest(PROMPT))).provider_job_id
    assert " " not in job_id
    status, _ = await poll_to_end(make_provider(), job_id)
    assert status.state is ProviderState.COMPLETED
    assert all(r.headers["Host"].startswith("127.0.0.1") for r in fake.requests)


async def test_v2_failure_arrives_with_422_and_is_read_from_the_body(make_provider, fake):
    """FAILED served with HTTP 422 becomes a FAILED status carrying Segmind's error, not an exception."""
    fake.v2_failure = "CUDA out of memory"
    provider = make_provider()
    status, _ = await poll_to_end(provider, (await provider.submit(VideoRequest(PROMPT))).provider_job_id)
    assert status.state is ProviderState.FAILED
    assert status.failure_reason == "CUDA out of memory"
    assert status.user_fault is False


async def test_v2_moderation_failure_is_the_users_fault(make_provider, fake):
    """A FAILED whose error names moderation is marked user_fault (no refund)."""
    fake.v2_failure = "Prompt failed content moderation"
    provider = make_provider()
    status, _ = await poll_to_end(provider, (await provider.submit(VideoRequest(PROMPT))).provider_job_id)
    assert status.state is ProviderState.FAILED and status.user_fault is True


async def test_expired_v2_request_is_failed_not_an_error(make_provider, fake):
    """A 404 after the 1-hour retention is a FAILED status saying the result is gone."""
    provider = make_provider()
    job_id = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    fake.expire()
    status = await provider.poll(job_id)
    assert status.state is ProviderState.FAILED
    assert "no longer" in status.failure_reason


async def test_5xx_on_a_poll_is_retried(make_provider, fake, clock):
    """Polls are reads: a 502 burst is retried with backoff through the injected clock."""
    provider = make_provider()
    job_id = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    fake.inject("status", 502, times=2)
    status = await provider.poll(job_id)
    assert status.state is ProviderState.QUEUED
    assert len([r for r in fake.requests if r.path.endswith("/status")]) == 3
    assert len(clock.sleeps) == 2


# --- fallback to v1 and forced modes -----------------------------------------------------------------


@pytest.mark.parametrize("missing", [404, 405])
async def test_v2_404_or_405_falls_back_to_v1_sync_once(session, clock, tmp_path, missing):
    """When /v2/{slug} does not exist, the v1 seed endpoint serves the job, and later jobs skip v2."""
    async with FakeSegmind(api_key=KEY, v2_slugs=(), v2_missing_status=missing) as server:
        context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
        provider = SegmindProvider(context, api_key=KEY, base_url=server.base_url)
        first = await provider.submit(VideoRequest(PROMPT))
        second = await provider.submit(VideoRequest(PROMPT))
        assert [p.path for p in server.posts()] == [
            "/v2/luma-ray-txt-2-video", "/v1/luma-ray-txt-2-video", "/v1/luma-ray-txt-2-video",
        ]  # fmt: skip
        assert server.creates == 2
        for status in (first, second):
            assert status.state is ProviderState.COMPLETED
            assert media.looks_like_video(status.video_file.read_bytes()[:16])


async def test_forced_async_mode_does_not_fall_back(session, clock, tmp_path):
    """mode="async" reports a missing v2 slug instead of silently switching transport."""
    async with FakeSegmind(api_key=KEY, v2_slugs=()) as server:
        context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
        provider = SegmindProvider(context, api_key=KEY, base_url=server.base_url, mode="async")
        with pytest.raises(ProviderRejectedError):
            await provider.submit(VideoRequest(PROMPT))
        assert [p.path for p in server.posts()] == ["/v2/luma-ray-txt-2-video"]


# --- v1 sync ------------------------------------------------------------------------------------------


async def test_sync_call_streams_the_video_to_a_temp_file_and_records_credits(make_provider, fake, tmp_path):
    """mode="sync" holds one POST until the fake answers, writes the bytes under temp_dir, keeps the header."""
    fake.hold_sync = True
    provider = make_provider(mode="sync")
    task = asyncio.create_task(provider.submit(VideoRequest(PROMPT, model="luma-v1")))
    await fake.sync_arrived.wait()
    assert not task.done()
    fake.release_sync()
    status = await task
    assert status.state is ProviderState.COMPLETED
    assert status.video_file.parent == tmp_path
    assert status.video_file.stat().st_size == 8192
    assert provider.remaining_credits == "99.05"
    assert status.extra == {"remaining_credits": "99.05"}
    [post] = fake.posts()
    assert post.path == "/v1/luma-txt-2-video" and post.headers["x-api-key"] == KEY


async def test_sync_image_jpeg_answer_is_rejected(make_provider, fake, tmp_path):
    """A 200 image/jpeg (the seed's 'RESPONSE image/jpeg') that is not a video is refused; no temp file left."""
    fake.inject("v1", "jpeg")
    with pytest.raises(MediaError):
        await make_provider(mode="sync").submit(VideoRequest(PROMPT))
    assert temp_files(tmp_path) == []


async def test_sync_mp4_mislabelled_as_jpeg_is_accepted(make_provider, fake):
    """The bytes decide: real MP4 bytes under a wrong image/jpeg label still deliver."""
    fake.inject("v1", "mp4-as-jpeg")
    status = await make_provider(mode="sync").submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.COMPLETED


async def test_sync_json_answer_is_a_protocol_error(make_provider, fake, tmp_path):
    """A 200 carrying JSON instead of video bytes is ProviderProtocolError; no temp file is left."""
    fake.inject("v1", "malformed")
    with pytest.raises(ProviderProtocolError):
        await make_provider(mode="sync").submit(VideoRequest(PROMPT))
    assert temp_files(tmp_path) == []


async def test_slow_sync_answer_times_out_as_unavailable(make_provider, fake, tmp_path):
    """A v1 call that outlives its (injected) timeout is ProviderUnavailableError; the temp file is removed."""
    fake.hold_sync = True
    provider = make_provider(mode="sync", sync_timeout=aiohttp.ClientTimeout(total=0.2))
    with pytest.raises(ProviderUnavailableError):
        await provider.submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1
    assert temp_files(tmp_path) == []


async def test_sync_connection_dropped_mid_wait_is_unavailable(make_provider, fake):
    """A connection closed while the clip renders is ProviderUnavailableError and is not re-sent."""
    fake.inject("v1", "drop")
    with pytest.raises(ProviderUnavailableError):
        await make_provider(mode="sync").submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


# --- errors on create ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "sync"])
async def test_bad_key_is_an_auth_error_that_never_shows_the_key(make_provider, fake, mode):
    """401 → ProviderAuthError; neither the real nor the wrong key appears in any error text."""
    wrong = "segmind-wrong-key-77aa"
    with pytest.raises(ProviderAuthError) as caught:
        await make_provider(api_key=wrong, mode=mode).submit(VideoRequest(PROMPT))
    text = f"{caught.value} {caught.value.detail} {caught.value.public_message} {caught.value!r}"
    assert wrong not in text and KEY not in text
    assert caught.value.status == 401


@pytest.mark.parametrize("route,mode", [("v2", "auto"), ("v1", "sync")])
async def test_a_key_echoed_in_an_error_body_is_redacted(make_provider, fake, route, mode):
    """If Segmind quotes our key back in an error body, the error the user sees shows *** instead."""
    fake.inject(route, 403, message=f"key {KEY} has no access to this model")
    with pytest.raises(ProviderAuthError) as caught:
        await make_provider(mode=mode).submit(VideoRequest(PROMPT))
    assert KEY not in f"{caught.value} {caught.value.public_message}"
    assert "***" in str(caught.value)


async def test_a_key_echoed_in_a_v2_failure_is_redacted(make_provider, fake):
    """A FAILED error that quotes our key never reaches the failure reason shown to users."""
    fake.v2_failure = f"worker rejected request signed with {KEY}"
    provider = make_provider()
    status, _ = await poll_to_end(provider, (await provider.submit(VideoRequest(PROMPT))).provider_job_id)
    assert status.state is ProviderState.FAILED and KEY not in status.failure_reason


@pytest.mark.parametrize("route,mode", [("v2", "auto"), ("v1", "sync")])
async def test_406_is_out_of_credits_with_a_polite_message_and_an_admin_log(make_provider, fake, caplog, route, mode):
    """406 → ProviderCreditsError: the user sees a polite refund message, the log tells the admin plainly."""
    fake.inject(route, 406)
    with caplog.at_level(logging.ERROR, logger="bot.providers.segmind"), pytest.raises(ProviderCreditsError) as caught:
        await make_provider(mode=mode).submit(VideoRequest(PROMPT))
    assert "refunded" in caught.value.public_message
    assert "Not enough credits" not in caught.value.public_message
    assert any("out of credits" in r.getMessage().lower() and r.levelno == logging.ERROR for r in caplog.records)
    assert len(fake.posts()) == 1


@pytest.mark.parametrize("route,mode", [("v2", "auto"), ("v1", "sync")])
@pytest.mark.parametrize("code", [500, 502, 504])
async def test_5xx_on_create_posts_exactly_once(make_provider, fake, route, mode, code):
    """A 5xx on a job-creating POST is ProviderUnavailableError after exactly one POST (no double charge)."""
    fake.inject(route, code, times=5)
    with pytest.raises(ProviderUnavailableError):
        await make_provider(mode=mode).submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


async def test_429_on_v2_create_is_retried_because_nothing_was_created(make_provider, fake, clock):
    """A 429 refused the job, so the v2 submit is repeated after a backoff and then succeeds."""
    fake.inject("v2", 429)
    status = await make_provider().submit(VideoRequest(PROMPT))
    assert status.state is ProviderState.QUEUED
    assert len(fake.posts()) == 2 and fake.creates == 1
    assert len(clock.sleeps) == 1


async def test_persistent_429_is_a_rate_limit_error(make_provider, fake):
    """Past the transport's patience a 429 surfaces as ProviderRateLimitError (the runner may fall back)."""
    fake.inject("v2", 429, times=50, headers={"retry-after": "30"})
    with pytest.raises(ProviderRateLimitError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert fake.creates == 0


async def test_429_on_a_sync_create_is_not_repeated(make_provider, fake):
    """The v1 POST is never repeated, not even after a 429."""
    fake.inject("v1", 429)
    with pytest.raises(ProviderRateLimitError):
        await make_provider(mode="sync").submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


async def test_400_carries_segminds_error_message(make_provider, fake):
    """A 400 is ProviderRejectedError whose public message quotes Segmind's `error`."""
    fake.inject("v2", 400, message="prompt contains unsupported characters")
    with pytest.raises(ProviderRejectedError) as caught:
        await make_provider().submit(VideoRequest(PROMPT))
    assert "unsupported characters" in caught.value.public_message


async def test_malformed_submit_body_is_a_protocol_error_sent_once(make_provider, fake):
    """A 200 whose JSON is cut off is ProviderProtocolError, and the create is not repeated."""
    fake.inject("v2", "malformed")
    with pytest.raises(ProviderProtocolError):
        await make_provider().submit(VideoRequest(PROMPT))
    assert len(fake.posts()) == 1


async def test_options_segmind_cannot_do_are_refused_before_any_request(make_provider, fake):
    """1080p on Luma's first model, or a 9s clip, is refused locally: nothing reaches Segmind."""
    provider = make_provider()
    for request in (VideoRequest(PROMPT, model="luma-v1", resolution="1080p"), VideoRequest(PROMPT, duration="9s")):
        with pytest.raises(InvalidRequestError):
            await provider.submit(request)
    assert fake.requests == []


# --- credits and construction -------------------------------------------------------------------------


async def test_fetch_credits_reads_get_user_credits(make_provider, fake):
    """fetch_credits shows both balances from GET /v1/get-user-credits, with the key header."""
    assert await make_provider().fetch_credits() == "100.0 credits, 5.0 free credits"
    assert fake.requests[-1].path == "/v1/get-user-credits"
    assert fake.requests[-1].headers["x-api-key"] == KEY


async def test_fetch_credits_falls_back_to_the_last_header(make_provider, fake):
    """With the credits call down, the last x-remaining-credits header is reported instead."""
    provider = make_provider(mode="sync")
    await provider.submit(VideoRequest(PROMPT))
    fake.inject("credits", 503, times=10)
    assert "99.05" in await provider.fetch_credits()


async def test_create_builds_from_config_and_requires_a_key(session, clock, tmp_path, fake):
    """The module factory reads the key and base URL from ProviderConfig; no key is a ConfigError."""
    context = ProviderContext(session=session, clock=clock, temp_dir=tmp_path)
    provider = segmind.create(ProviderConfig("segmind", Secret(KEY), fake.base_url), context)
    assert provider.name == "segmind" and provider.capabilities.default_model == "luma-ray"
    caps = provider.capabilities
    assert caps.models == ("luma-ray", "ray-flash-2", "luma-v1")
    assert caps.loop and caps.start_image and caps.end_image and not caps.cancel
    with pytest.raises(ConfigError):
        segmind.create(ProviderConfig("segmind", None, fake.base_url), context)
