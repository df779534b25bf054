"""Contract: LumaProvider against FakeLuma over a real socket (docs/protocols.md §A, §E.1)."""

from __future__ import annotations

import logging
from pathlib import Path

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
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers.luma import FALLBACK_CONCEPTS, LumaProvider
from tests.fakes.clock import ManualClock
from tests.fakes.luma import FakeLuma

KEY = "luma-test-k3y-DO-NOT-LEAK"
CREATE = "/generations/video"


@pytest.fixture
async def luma_session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def luma_fake():
    async with FakeLuma(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def luma_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def luma(luma_session, luma_fake, luma_clock) -> LumaProvider:
    return LumaProvider(luma_session, api_key=KEY, base_url=luma_fake.base_url, clock=luma_clock)


async def run_to_end(provider: LumaProvider, job_id: str, limit: int = 10):
    statuses = []
    for _ in range(limit):
        status = await provider.poll(job_id)
        statuses.append(status)
        if status.done:
            break
    return statuses


# --- the happy path -------------------------------------------------------------------------------


async def test_text_to_video_moves_by_poll_count_and_downloads(luma, luma_fake, luma_session, tmp_path: Path):
    """A text prompt is queued, dreams on poll 1, completes on poll 2, and its assets.video downloads as MP4."""
    luma_fake.video_size = 300_000
    first = await luma.submit(VideoRequest(prompt="a red fox running through snow"))
    assert first.state is ProviderState.QUEUED and first.provider_job_id in luma_fake.generations

    statuses = await run_to_end(luma, first.provider_job_id)
    assert [(s.state, s.raw_state) for s in statuses] == [
        (ProviderState.RUNNING, "dreaming"),
        (ProviderState.COMPLETED, "completed"),
    ]
    done = statuses[-1]
    assert done.video_url == f"{luma_fake.base_url}/assets/{first.provider_job_id}.mp4"
    assert done.extra["model"] == "ray-2"

    dest = tmp_path / "clip.mp4"
    assert await media.download(luma_session, done.video_url, dest) == 300_000
    assert dest.read_bytes()[4:8] == b"ftyp"


async def test_provider_satisfies_protocol_and_factory(luma_session, luma_fake, luma_clock, tmp_path):
    """`create(config, context)` builds a VideoProvider with Luma's capability table; no key is a ConfigError."""
    context = ProviderContext(session=luma_session, clock=luma_clock, temp_dir=tmp_path)
    provider = build_provider(ProviderConfig("luma", Secret(KEY), luma_fake.base_url), context)
    assert isinstance(provider, VideoProvider)
    assert (provider.name, provider.display_name, provider.poll_interval) == ("luma", "Luma Dream Machine", 3.0)
    caps = provider.capabilities
    assert caps.models == ("ray-2", "ray-flash-2") and caps.default_model == "ray-2"
    assert caps.resolutions == ("540p", "720p", "1080p", "4k") and caps.durations == ("5s", "9s")
    assert caps.extend and caps.cancel and caps.concepts and not caps.enhance
    assert (await provider.submit(VideoRequest(prompt="a calm lake"))).state is ProviderState.QUEUED
    with pytest.raises(ConfigError):
        build_provider(ProviderConfig("luma", None, luma_fake.base_url), context)


# --- request shape ----------------------------------------------------------------------------------


async def test_create_body_for_text_to_video(luma, luma_fake):
    """The create is one POST /generations/video with a Bearer key and every option, no keyframes."""
    request = VideoRequest(
        prompt="neon city at night", aspect_ratio="9:16", loop=True, resolution="1080p", duration="9s",
        model="ray-flash-2",
    )  # fmt: skip
    await luma.submit(request)
    (sent,) = luma_fake.requests_to("POST")
    assert sent.path == CREATE
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "generation_type": "video",
        "model": "ray-flash-2",
        "prompt": "neon city at night",
        "aspect_ratio": "9:16",
        "loop": True,
        "resolution": "1080p",
        "duration": "9s",
    }


async def test_start_and_end_images_become_image_keyframes(luma, luma_fake):
    """start_image_url → frame0 image, end_image_url → frame1 image."""
    await luma.submit(VideoRequest(prompt="morph", start_image_url="https://cdn/a.png", end_image_url="https://cdn/b.png"))
    (sent,) = luma_fake.requests_to("POST", CREATE)
    assert sent.json["keyframes"] == {
        "frame0": {"type": "image", "url": "https://cdn/a.png"},
        "frame1": {"type": "image", "url": "https://cdn/b.png"},
    }


async def test_extend_sends_generation_keyframe(luma, luma_fake):
    """Extend continues a completed Luma generation via frame0 {type: generation, id}."""
    source = await luma.submit(VideoRequest(prompt="a paper boat on a river"))
    await run_to_end(luma, source.provider_job_id)
    extended = await luma.submit(VideoRequest(prompt="it drifts into the sea", extend_of=source.provider_job_id))
    assert extended.provider_job_id != source.provider_job_id
    sent = luma_fake.requests_to("POST", CREATE)[-1]
    assert sent.json["keyframes"] == {"frame0": {"type": "generation", "id": source.provider_job_id}}


async def test_known_camera_is_a_concept_unknown_goes_into_prompt(luma, luma_fake):
    """A camera that is a concept key is sent as concepts; any other camera text is appended to the prompt."""
    await luma.submit(VideoRequest(prompt="a lighthouse", camera="Orbit left"))
    await luma.submit(VideoRequest(prompt="a lighthouse", camera="slow spiral"))
    concept, text = (r.json for r in luma_fake.requests_to("POST", CREATE))
    assert concept["concepts"] == [{"key": "orbit_left"}] and concept["prompt"] == "a lighthouse"
    assert "concepts" not in text and text["prompt"] == "a lighthouse, camera: slow spiral"
    assert len(luma_fake.requests_to("GET", "/generations/concepts/list")) == 1  # fetched once, cached


async def test_concepts_fall_back_to_builtin_list_when_endpoint_fails(luma, luma_fake):
    """When /generations/concepts/list answers 500, the built-in list is used and submits still work."""
    luma_fake.fail_next("GET", "/generations/concepts/list", 500, times=5)
    assert await luma.fetch_concepts() == list(FALLBACK_CONCEPTS)
    await luma.submit(VideoRequest(prompt="a lighthouse", camera="zoom_in"))
    assert luma_fake.requests_to("POST", CREATE)[-1].json["concepts"] == [{"key": "zoom_in"}]


async def test_concepts_come_from_the_live_list(luma, luma_fake):
    """Only keys in Luma's live list are sent as concepts (a key missing there goes into the prompt)."""
    luma_fake.concepts = ["bolt_cam"]
    assert await luma.fetch_concepts() == ["bolt_cam"]
    await luma.submit(VideoRequest(prompt="a race car", camera="zoom_in"))
    sent = luma_fake.requests_to("POST", CREATE)[-1].json
    assert "concepts" not in sent and sent["prompt"] == "a race car, camera: zoom_in"


# --- rejections and failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "detail"),
    [
        (VideoRequest(prompt="hi"), "Prompt is too short, minimum length is 3 characters"),
        (VideoRequest(prompt="x" * 5001), "Prompt is too long, maximum length is 5000 characters"),
        (VideoRequest(prompt="a loop", loop=True, end_image_url="https://cdn/b.png"),
         "Loop is not supported for end frame"),
        (VideoRequest(prompt="a loop", loop=True, start_image_url="https://cdn/a.png",
                      end_image_url="https://cdn/b.png"), "Loop is not supported for keyframes"),
        (VideoRequest(prompt="too sharp", resolution="8k"), "Invalid resolution"),
        (VideoRequest(prompt="more please", extend_of="00000000-0000-4000-8000-000000000000"), "not found"),
    ],
)  # fmt: skip
async def test_luma_validation_errors_surface_as_rejected(luma, luma_fake, request_, detail):
    """Luma's 400/404 `detail` reaches the user in ProviderRejectedError.public_message; nothing is created."""
    with pytest.raises(ProviderRejectedError) as caught:
        await luma.submit(request_)
    assert detail in caught.value.public_message
    assert caught.value.status in (400, 404)
    assert luma_fake.generations == {} and len(luma_fake.requests_to("POST", CREATE)) == 1


async def test_a_model_the_sdk_does_not_know_is_refused_before_sending(luma, luma_fake):
    """lumaai 1.21.0 allows only ray-2/ray-flash-2: `ray-1-6` is refused locally (InvalidRequestError), nothing sent."""
    with pytest.raises(InvalidRequestError) as caught:
        await luma.submit(VideoRequest(prompt="old model", model="ray-1-6"))
    assert "ray-2" in caught.value.public_message and "Nothing was charged" in caught.value.public_message
    assert luma_fake.requests_to("POST") == []


async def test_extend_of_unfinished_generation_is_rejected(luma, luma_fake):
    """Extending a generation that is not completed yet is refused by Luma with a readable reason."""
    source = await luma.submit(VideoRequest(prompt="a paper boat"))
    with pytest.raises(ProviderRejectedError, match="not completed"):
        await luma.submit(VideoRequest(prompt="and then", extend_of=source.provider_job_id))


@pytest.mark.parametrize(
    ("reason", "user_fault"),
    [
        ("Advanced prompt moderation failed", True),
        ("Advanced moderation failed", True),
        ("Contains blacklisted words", True),
        ("Job failed", False),
        ("Failed to read user input frames", False),
    ],
)
async def test_failed_generation_carries_reason_and_fault(luma, luma_fake, reason, user_fault):
    """A failed generation reports Luma's failure_reason; moderation reasons are the user's fault."""
    luma_fake.fail_next_generation(reason)
    job = await luma.submit(VideoRequest(prompt="something"))
    final = (await run_to_end(luma, job.provider_job_id))[-1]
    assert final.state is ProviderState.FAILED
    assert (final.failure_reason, final.user_fault) == (reason, user_fault)


async def test_forced_failure_and_vanished_generation(luma, luma_fake):
    """A state forced to failed is read as FAILED; a 404 on poll means the generation is gone."""
    job = await luma.submit(VideoRequest(prompt="something"))
    luma_fake.set_state(job.provider_job_id, "failed", "Prompt processing failed")
    status = await luma.poll(job.provider_job_id)
    assert (status.state, status.failure_reason, status.user_fault) == (
        ProviderState.FAILED, "Prompt processing failed", False,
    )  # fmt: skip
    gone = await luma.poll("4a1b2c3d-0000-4000-8000-000000000000")
    assert gone.state is ProviderState.FAILED and gone.failure_reason == "generation no longer exists at Luma"


async def test_bad_key_is_auth_error_and_never_leaks(luma_session, luma_fake, luma_clock, caplog):
    """A refused key is ProviderAuthError; the key is in no error text and no log line."""
    caplog.set_level(logging.DEBUG)
    wrong = "luma-wrong-SECRET-value"
    provider = LumaProvider(luma_session, api_key=wrong, base_url=luma_fake.base_url, clock=luma_clock)
    for call in (provider.submit(VideoRequest(prompt="a cat")), provider.poll("x"), provider.fetch_credits()):
        with pytest.raises(ProviderAuthError) as caught:
            await call
        error = caught.value
        assert "Invalid API key is provided" in str(error)
        for text in (str(error), repr(error), error.public_message, error.detail):
            assert wrong not in text
    assert wrong not in caplog.text
    assert luma_fake.requests[0].headers["Authorization"] == f"Bearer {wrong}"  # it was sent, only there


# --- transport behaviour ----------------------------------------------------------------------------


async def test_rate_limited_create_waits_retry_after_then_succeeds(luma, luma_fake, luma_clock):
    """A 429 with retry-after on create is waited out (on the injected clock) and the create is resent once."""
    luma_fake.fail_next("POST", CREATE, 429, {"detail": "Too many requests"}, headers={"retry-after": "7"})
    status = await luma.submit(VideoRequest(prompt="a busy street"))
    assert status.state is ProviderState.QUEUED
    assert luma_clock.sleeps == [7.0]
    assert len(luma_fake.requests_to("POST", CREATE)) == 2 and len(luma_fake.generations) == 1


async def test_concurrency_limit_429_gives_up_without_creating(luma_session, luma_clock):
    """With Luma's active-generation limit reached, the create ends in ProviderRateLimitError, nothing created."""
    async with FakeLuma(api_key=KEY, max_active=1, rate_limit_retry_after=1) as fake:
        provider = LumaProvider(luma_session, api_key=KEY, base_url=fake.base_url, clock=luma_clock)
        await provider.submit(VideoRequest(prompt="first one"))
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.submit(VideoRequest(prompt="second one"))
        assert caught.value.retry_after == 1.0
        assert len(fake.generations) == 1 and fake.active_count == 1


async def test_server_error_on_create_is_not_retried(luma, luma_fake, luma_clock):
    """A 500 on create is ProviderUnavailableError after exactly one POST: never a double charge."""
    luma_fake.fail_next("POST", CREATE, 500, times=3)
    with pytest.raises(ProviderUnavailableError):
        await luma.submit(VideoRequest(prompt="a storm"))
    assert len(luma_fake.requests_to("POST", CREATE)) == 1
    assert luma_clock.sleeps == []


async def test_server_error_burst_on_poll_is_retried(luma, luma_fake, luma_clock):
    """A burst of 500/503 on GET is retried with backoff and the poll then succeeds."""
    job = await luma.submit(VideoRequest(prompt="a storm"))
    luma_fake.fail_next("GET", "/generations/", 503, times=2)
    luma_fake.fail_next("GET", "/generations/", 500, times=1)
    status = await luma.poll(job.provider_job_id)
    assert status.state is ProviderState.RUNNING
    assert len(luma_fake.requests_to("GET", f"/generations/{job.provider_job_id}")) == 4
    assert len(luma_clock.sleeps) == 3


async def test_malformed_json_on_poll_is_protocol_error(luma, luma_fake):
    """A poll answer that is not valid JSON (even after retries) is ProviderProtocolError."""
    job = await luma.submit(VideoRequest(prompt="a storm"))
    luma_fake.malformed_next("GET", "/generations/", times=10)
    with pytest.raises(ProviderProtocolError):
        await luma.poll(job.provider_job_id)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"id": "abc"},
        {"id": "abc", "state": ["completed"]},
        {"id": "abc", "state": "exploded"},
        {"id": 5, "state": "queued"},
        {"id": "abc", "state": "completed", "assets": None},
        {"id": "abc", "state": "completed", "assets": {"video": 42}},
    ],
)
async def test_unexpected_generation_shapes_are_protocol_errors(luma_session, luma_fake, luma_clock, body):
    """A Generation missing its id/state or a completed one without assets.video is ProviderProtocolError."""
    provider = LumaProvider(luma_session, api_key=KEY, base_url=luma_fake.base_url, clock=luma_clock, retries=0)
    luma_fake.fail_next("GET", "/generations/abc", 200, body)
    with pytest.raises(ProviderProtocolError):
        await provider.poll("abc")


async def test_legacy_field_names_are_read(luma, luma_fake):
    """An old-style Generation (`type`, `version`) still parses (contradiction #4)."""
    body = {"id": "abc", "type": "video", "version": "v1.6", "state": "completed",
            "assets": {"video": "https://cdn/x.mp4"}}  # fmt: skip
    luma_fake.fail_next("GET", "/generations/abc", 200, body)
    status = await luma.poll("abc")
    assert status.state is ProviderState.COMPLETED and status.video_url == "https://cdn/x.mp4"
    assert status.extra == {"model": "v1.6", "type": "video"}


async def test_hung_create_times_out_once(luma_session, luma_fake, luma_clock):
    """A create that never gets an answer is ProviderUnavailableError after the timeout, sent only once."""
    provider = LumaProvider(
        luma_session, api_key=KEY, base_url=luma_fake.base_url, clock=luma_clock,
        timeout=aiohttp.ClientTimeout(total=0.3),
    )  # fmt: skip
    luma_fake.hang_next("POST", CREATE)
    with pytest.raises(ProviderUnavailableError):
        await provider.submit(VideoRequest(prompt="waiting"))
    assert len(luma_fake.requests_to("POST", CREATE)) == 1


async def test_hung_poll_is_retried(luma_session, luma_fake, luma_clock):
    """A poll that hangs times out and is retried; a persistently hung poll is ProviderUnavailableError."""
    provider = LumaProvider(
        luma_session, api_key=KEY, base_url=luma_fake.base_url, clock=luma_clock, retries=1,
        timeout=aiohttp.ClientTimeout(total=0.3),
    )  # fmt: skip
    job = await provider.submit(VideoRequest(prompt="waiting"))
    luma_fake.hang_next("GET", "/generations/")
    assert (await provider.poll(job.provider_job_id)).state is ProviderState.RUNNING
    luma_fake.hang_next("GET", "/generations/", times=2)
    with pytest.raises(ProviderUnavailableError):
        await provider.poll(job.provider_job_id)


# --- cancel, credits, assets ------------------------------------------------------------------------


async def test_cancel_deletes_the_generation(luma, luma_fake):
    """cancel sends DELETE /generations/{id}; a second cancel (404) is fine; later polls report it gone."""
    job = await luma.submit(VideoRequest(prompt="never mind"))
    await luma.cancel(job.provider_job_id)
    await luma.cancel(job.provider_job_id)
    deletes = luma_fake.requests_to("DELETE")
    assert [d.path for d in deletes] == [f"/generations/{job.provider_job_id}"] * 2
    assert job.provider_job_id not in luma_fake.generations and luma_fake.active_count == 0
    assert (await luma.poll(job.provider_job_id)).state is ProviderState.FAILED


async def test_credits_are_cents_formatted_as_dollars(luma, luma_fake):
    """GET /credits' balance is USD cents, shown as dollars and credits; each create lowers it."""
    luma_fake.credit_balance = 1234
    assert await luma.fetch_credits() == "$12.34 (1234 credits)"
    luma_fake.cost_per_generation = 34
    await luma.submit(VideoRequest(prompt="spend some"))
    assert await luma.fetch_credits() == "$12.00 (1200 credits)"
    luma_fake.credit_balance = 123456.25
    assert await luma.fetch_credits() == "$1,234.56 (123456.25 credits)"


async def test_credits_without_balance_is_protocol_error(luma, luma_fake):
    """A /credits answer without a numeric credit_balance is ProviderProtocolError, not a KeyError."""
    luma_fake.fail_next("GET", "/credits", 200, {"balance": "lots"})
    with pytest.raises(ProviderProtocolError):
        await luma.fetch_credits()


@pytest.mark.parametrize("fault", ["missing", "truncated"])
async def test_broken_asset_download_is_media_error(luma, luma_fake, luma_session, tmp_path, fault):
    """An assets.video URL that 404s or is cut off mid-body ends in MediaError."""
    luma_fake.polls_to_complete = 1
    job = await luma.submit(VideoRequest(prompt="a short clip"))
    done = await luma.poll(job.provider_job_id)
    if fault == "missing":
        luma_fake.assets_status = 404
    else:
        luma_fake.video_size = 1_000_000
        luma_fake.truncate_assets = True
    with pytest.raises(MediaError):
        await media.download(luma_session, done.video_url, tmp_path / "clip.mp4")


# --- the fake itself --------------------------------------------------------------------------------


async def test_fake_accepts_legacy_path_and_closes_connections(luma_session, luma_fake):
    """The fake takes POST /generations too, answers ping/list, and closes every connection."""
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "ray-2", "prompt": "legacy path"}
    async with luma_session.post(f"{luma_fake.base_url}/generations", json=body, headers=auth) as resp:
        assert resp.status == 201 and resp.headers["Connection"] == "close"
        created = await resp.json()
    assert created["state"] == "queued" and created["assets"] is None and created["request"] == body
    async with luma_session.get(f"{luma_fake.base_url}/generations?limit=1", headers=auth) as resp:
        listing = await resp.json()
    assert listing["count"] == 1 and listing["generations"][0]["id"] == created["id"]
    assert listing["has_more"] is False and listing["limit"] == 1
    async with luma_session.get(f"{luma_fake.base_url}/ping", headers=auth) as resp:
        assert await resp.json() == {"message": "pong"}
    async with luma_session.post(f"{luma_fake.base_url}/generations", json={"model": "ray-2", "keyframes": {}},
                                 headers=auth) as resp:  # fmt: skip
        assert resp.status == 400 and (await resp.json())["detail"] == "No keyframes provided"


async def test_fake_creates_per_minute_limit(luma_session):
    """The fake refuses the 21st create within 60 s (by its injected monotonic clock) and allows it after."""
    now = [0.0]
    async with FakeLuma(api_key=KEY, max_active=None, monotonic=lambda: now[0]) as fake:
        auth = {"Authorization": f"Bearer {KEY}"}
        body = {"model": "ray-2", "prompt": "again"}
        statuses = []
        for _ in range(21):
            async with luma_session.post(f"{fake.base_url}{CREATE}", json=body, headers=auth) as resp:
                statuses.append(resp.status)
        assert statuses == [201] * 20 + [429]
        now[0] = 60.0
        async with luma_session.post(f"{fake.base_url}{CREATE}", json=body, headers=auth) as resp:
            assert resp.status == 201
