"""Contract: the UmamiAI adapter against a local fake speaking protocols.md §B.3 / §E.4."""

from __future__ import annotations

import aiohttp
import pytest

from bot import media
from bot.config import ProviderConfig, Secret
from bot.domain import ProviderState, VideoRequest
from bot.errors import (
    ConfigError,
    MediaError,
    ProviderAuthError,
    ProviderCreditsError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers import umami as umami_module
from tests.fakes.clock import ManualClock
from tests.fakes.umami import DEFAULT_KEY, FakeUmami, requested_ids

KEY = DEFAULT_KEY


@pytest.fixture
async def fake():
    async with FakeUmami() as server:
        yield server


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def context(session, clock, tmp_path):
    return ProviderContext(session=session, clock=clock, temp_dir=tmp_path)


def make_provider(fake, context, key=KEY):
    return umami_module.create(ProviderConfig("umami", Secret(key), fake.base_url), context)


@pytest.fixture
def provider(fake, context):
    return make_provider(fake, context)


async def run_to_end(provider, job_id, limit=20):
    """Poll until a terminal status; returns every status seen."""
    seen = []
    for _ in range(limit):
        status = await provider.poll(job_id)
        seen.append(status)
        if status.done:
            return seen
    raise AssertionError(f"not done after {limit} polls: {seen[-1]}")


# --- identity and the wire --------------------------------------------------------------------------


async def test_factory_builds_a_video_provider(fake, context):
    """build_provider finds the adapter by name and it satisfies the VideoProvider protocol."""
    provider = build_provider(ProviderConfig("umami", Secret(KEY), fake.base_url), context)
    assert isinstance(provider, VideoProvider)
    assert (provider.name, provider.display_name, provider.poll_interval) == ("umami", "UmamiAI", 4.0)
    caps = provider.capabilities
    assert caps.models == ("luma-v1",) and caps.default_model == "luma-v1"
    assert len(caps.aspect_ratios) == 7 and caps.resolutions == ("720p",) and caps.durations == ("5s",)
    assert caps.start_image and caps.end_image and caps.extend and caps.enhance
    assert not caps.loop and not caps.cancel


async def test_missing_key_is_a_config_error(context):
    """Without UMAMI_API_KEY the factory refuses to build, naming the variable."""
    with pytest.raises(ConfigError, match="UMAMI_API_KEY"):
        umami_module.create(ProviderConfig("umami", None, None), context)


async def test_base_url_with_v1_suffix_is_not_doubled(fake, context):
    """A base URL given as …/v1 still reaches /v1/luma-ai/generations."""
    provider = umami_module.create(ProviderConfig("umami", Secret(KEY), fake.base_url + "/v1/"), context)
    await provider.submit(VideoRequest(prompt="a fox"))
    assert fake.log_for("create")[0].path == "/v1/luma-ai/generations"


async def test_submit_sends_bearer_and_the_v1_body(provider, fake):
    """Create carries `Authorization: Bearer <key>` and exactly user_prompt/aspect_ratio/expand_prompt."""
    await provider.submit(VideoRequest(prompt="Flying jellyfish", aspect_ratio="9:16", enhance=True))
    (logged,) = fake.log_for("create")
    assert logged.method == "POST"
    assert logged.headers["Authorization"] == f"Bearer {KEY}"
    assert logged.json == {"user_prompt": "Flying jellyfish", "aspect_ratio": "9:16", "expand_prompt": True}


async def test_keyframes_become_image_url_and_image_end_url(provider, fake):
    """Start and end images are sent as image_url and image_end_url."""
    request = VideoRequest(
        prompt="sunset", start_image_url="https://img.example/a.jpg", end_image_url="https://img.example/b.jpg"
    )
    await provider.submit(request)
    body = fake.log_for("create")[0].json
    assert body["image_url"] == "https://img.example/a.jpg"
    assert body["image_end_url"] == "https://img.example/b.jpg"
    assert body["expand_prompt"] is False


async def test_camera_goes_into_the_prompt(provider, fake):
    """v1 has no concepts, so a camera move is appended to user_prompt."""
    await provider.submit(VideoRequest(prompt="a lighthouse", camera="orbit_left"))
    assert fake.log_for("create")[0].json["user_prompt"] == "a lighthouse, camera orbit left"


async def test_poll_asks_with_ids_query(provider, fake):
    """The poll is GET /v1/luma-ai/generation?ids=<id> with the Bearer header."""
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    await provider.poll(job_id)
    (logged,) = fake.log_for("poll")
    assert logged.query == [("ids", job_id)]
    assert logged.headers["Authorization"] == f"Bearer {KEY}"


async def test_fake_answers_with_connection_close(fake, session):
    """The fake closes each connection, so tests never wait on keep-alive."""
    async with session.get(
        f"{fake.base_url}/v1/luma-ai/generation?ids=x", headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.headers.get("Connection", "").lower() == "close"


@pytest.mark.parametrize(
    "query",
    [
        [("ids", "{a}")],
        [("ids[]", "{a}"), ("ids[]", "{b}")],
        [("ids[0]", "{a}"), ("ids[1]", "{b}")],
        [("ids", "{a},{b}")],
    ],
)
async def test_fake_accepts_every_ids_query_form(fake, session, query):
    """ids=, ids[]=, ids[0]= and comma-separated ids all answer a JSON array of the known generations."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    ids = []
    for _ in range(2):
        async with session.post(
            f"{fake.base_url}/v1/luma-ai/generations", json={"user_prompt": "x"}, headers=headers
        ) as resp:
            ids.append((await resp.json())["id"])
    params = [(k, v.format(a=ids[0], b=ids[1])) for k, v in query]
    async with session.get(f"{fake.base_url}/v1/luma-ai/generation", params=params, headers=headers) as resp:
        answer = await resp.json()
    assert isinstance(answer, list)
    assert [item["id"] for item in answer] == requested_ids(params)


# --- lifecycle ----------------------------------------------------------------------------------------


async def test_submit_returns_pending_as_queued_with_id(provider):
    """Create's `pending` object becomes a QUEUED status carrying the generation id."""
    status = await provider.submit(VideoRequest(prompt="a fox"))
    assert status.state is ProviderState.QUEUED
    assert status.provider_job_id and status.raw_state == "pending"
    assert status.poll_after is None  # the fake's default estimate is null


@pytest.mark.parametrize(("estimate", "expected"), [("42", 42.0), (17, 17.0), (99999, 300.0), ("soon", None)])
async def test_estimate_wait_seconds_schedules_the_first_poll(provider, fake, estimate, expected):
    """estimate_wait_seconds (text or number, capped) becomes poll_after on the submit status."""
    fake.estimate_wait_seconds = estimate
    status = await provider.submit(VideoRequest(prompt="a fox"))
    assert status.poll_after == expected


async def test_v1_vocabulary_pending_processing_completed(provider, fake):
    """pending → processing → completed maps to QUEUED → RUNNING → COMPLETED with video.url."""
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    seen = await run_to_end(provider, job_id)
    assert [s.raw_state for s in seen] == ["processing", "completed"]
    assert [s.state for s in seen] == [ProviderState.RUNNING, ProviderState.COMPLETED]
    assert seen[-1].video_url == f"{fake.base_url}/videos/{job_id}.mp4"


async def test_v2_vocabulary_queued_dreaming_completed(context):
    """queued → dreaming → completed is accepted just the same (contradiction #9)."""
    async with FakeUmami(vocabulary="v2", polls_per_state=2) as fake:
        provider = make_provider(fake, context)
        first = await provider.submit(VideoRequest(prompt="a fox"))
        assert (first.state, first.raw_state) == (ProviderState.QUEUED, "queued")
        seen = await run_to_end(provider, first.provider_job_id)
    assert [s.raw_state for s in seen] == ["queued", "dreaming", "dreaming", "completed"]
    assert seen[1].state is ProviderState.RUNNING and seen[-1].state is ProviderState.COMPLETED


async def test_unknown_state_keeps_running_and_reports_the_word(context):
    """A state word nobody documented keeps the job RUNNING with the raw word shown."""
    async with FakeUmami(states=("pending", "upscaling", "completed")) as fake:
        provider = make_provider(fake, context)
        job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
        seen = await run_to_end(provider, job_id)
    assert (seen[0].state, seen[0].raw_state) == (ProviderState.RUNNING, "upscaling")
    assert seen[-1].state is ProviderState.COMPLETED


async def test_failed_without_reason_gets_a_generic_one(provider, fake):
    """state failed + video null → FAILED with a generic reason, refundable."""
    fake.fail = True
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    final = (await run_to_end(provider, job_id))[-1]
    assert final.state is ProviderState.FAILED
    assert final.failure_reason == "the provider reported a failure"
    assert not final.user_fault and final.video_url is None


async def test_failed_with_moderation_reason_is_the_users_fault(provider, fake):
    """A failure_reason is passed through, and a moderation wording marks it user_fault."""
    fake.fail, fake.failure_reason = True, "Advanced moderation failed"
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    final = (await run_to_end(provider, job_id))[-1]
    assert final.failure_reason == "Advanced moderation failed" and final.user_fault


async def test_completed_without_video_url_is_a_protocol_error(provider, fake):
    """completed with no video.url cannot be delivered: ProviderProtocolError."""
    fake.drop_video_url = True
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    await provider.poll(job_id)
    with pytest.raises(ProviderProtocolError):
        await provider.poll(job_id)


async def test_missing_from_array_keeps_polling_then_gives_up(provider, fake):
    """An id absent from the array is a listing lag (RUNNING) until MISSING_LIMIT polls in a row."""
    statuses = [await provider.poll("lost-id") for _ in range(umami_module.MISSING_LIMIT)]
    assert all(s.state is ProviderState.RUNNING for s in statuses[:-1])
    assert "not listed" in statuses[0].raw_state
    assert statuses[-1].state is ProviderState.FAILED
    assert statuses[-1].failure_reason == "generation no longer exists"


async def test_explicit_404_on_poll_fails_the_generation(context):
    """A 404 for our id means the generation is gone: FAILED at once, refundable."""
    async with FakeUmami(unknown_ids="404") as fake:
        status = await make_provider(fake, context).poll("gone-id")
    assert status.state is ProviderState.FAILED
    assert status.failure_reason == "generation no longer exists" and not status.user_fault


# --- extend -------------------------------------------------------------------------------------------


async def test_extend_posts_to_the_extend_path_with_the_same_body(provider, fake):
    """extend_of sends the v1 body to /v1/luma-ai/generations/{id}/extend and returns a new generation."""
    source = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    await run_to_end(provider, source)
    status = await provider.submit(VideoRequest(prompt="the fox jumps", extend_of=source))
    (logged,) = fake.log_for("extend")
    assert logged.path == f"/v1/luma-ai/generations/{source}/extend"
    assert logged.json == {"user_prompt": "the fox jumps", "aspect_ratio": "16:9", "expand_prompt": False}
    assert status.state is ProviderState.QUEUED and status.provider_job_id != source
    assert fake.generations[status.provider_job_id].extended_from == source


async def test_extend_of_unfinished_or_unknown_source_is_rejected(provider):
    """Extending a generation that is not completed (400) or unknown (404) is refused, not retried."""
    source = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    with pytest.raises(ProviderRejectedError) as not_done:
        await provider.submit(VideoRequest(prompt="more", extend_of=source))
    assert not_done.value.status == 400
    with pytest.raises(ProviderRejectedError) as unknown:
        await provider.submit(VideoRequest(prompt="more", extend_of="no-such-id"))
    assert unknown.value.status == 404


# --- errors -------------------------------------------------------------------------------------------


async def test_bad_key_is_an_auth_error_without_the_key(fake, context):
    """A refused key raises ProviderAuthError whose text never contains the key."""
    secret = "umami-wrong-secret-987654"
    with pytest.raises(ProviderAuthError) as caught:
        await make_provider(fake, context, key=secret).submit(VideoRequest(prompt="a fox"))
    error = caught.value
    assert error.status == 401
    for text in (str(error), repr(error), error.detail, error.public_message):
        assert secret not in text and KEY not in text


async def test_402_is_a_credits_error(provider, fake):
    """402 on create raises ProviderCreditsError and is not repeated."""
    fake.inject("create", 402, body={"message": "insufficient tokens"})
    with pytest.raises(ProviderCreditsError):
        await provider.submit(VideoRequest(prompt="a fox"))
    assert len(fake.log_for("create")) == 1


async def test_429_with_retry_after_waits_then_succeeds(provider, fake, clock):
    """429 on create is honoured: the adapter waits Retry-After on the clock and sends again."""
    fake.inject("create", 429, headers={"Retry-After": "7"})
    status = await provider.submit(VideoRequest(prompt="a fox"))
    assert status.state is ProviderState.QUEUED
    assert clock.sleeps == [7.0]
    assert len(fake.log_for("create")) == 2


async def test_429_past_patience_raises_rate_limit(provider, fake):
    """A 429 that outlasts the transport's patience surfaces as ProviderRateLimitError with retry_after."""
    fake.inject("create", 429, times=100, headers={"Retry-After": "60"})
    with pytest.raises(ProviderRateLimitError) as caught:
        await provider.submit(VideoRequest(prompt="a fox"))
    assert caught.value.retry_after == 60.0


async def test_5xx_on_poll_is_retried(provider, fake):
    """A burst of 500s on the (idempotent) poll is retried and the poll then succeeds."""
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    fake.inject("poll", 500, times=2)
    status = await provider.poll(job_id)
    assert status.state is ProviderState.RUNNING
    assert len(fake.log_for("poll")) == 3


async def test_5xx_on_create_is_not_repeated(provider, fake):
    """A 500 on create may have created something, so it is raised, never sent twice."""
    fake.inject("create", 500)
    with pytest.raises(ProviderUnavailableError):
        await provider.submit(VideoRequest(prompt="a fox"))
    assert len(fake.log_for("create")) == 1


async def test_malformed_json_on_poll_is_a_protocol_error(provider, fake):
    """A truncated JSON body on every poll attempt ends as ProviderProtocolError."""
    fake.inject("poll", 200, times=10, raw='[{"id": "x", "state": ')
    with pytest.raises(ProviderProtocolError):
        await provider.poll("x")


async def test_non_array_poll_answer_is_a_protocol_error(provider, fake):
    """A poll answer that is neither an array nor a generation object is a ProviderProtocolError."""
    fake.inject("poll", 200, body=42)
    with pytest.raises(ProviderProtocolError):
        await provider.poll("x")


async def test_create_without_id_is_a_protocol_error(provider, fake):
    """A create answer without an id cannot be tracked: ProviderProtocolError."""
    fake.inject("create", 200, body={"state": "pending"})
    with pytest.raises(ProviderProtocolError):
        await provider.submit(VideoRequest(prompt="a fox"))


# --- the result ---------------------------------------------------------------------------------------


async def test_result_downloads_as_a_real_mp4(provider, fake, session, tmp_path):
    """video.url of a completed generation downloads through bot.media.download as an MP4."""
    fake.video_size = 50_000
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    final = (await run_to_end(provider, job_id))[-1]
    dest = tmp_path / "clip.mp4"
    size = await media.download(session, final.video_url, dest)
    assert size == 50_000 and dest.read_bytes()[4:8] == b"ftyp"


async def test_video_url_404_is_a_media_error(provider, fake, session, tmp_path):
    """A video.url that answers 404 makes the download fail with MediaError."""
    fake.video_missing = True
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    final = (await run_to_end(provider, job_id))[-1]
    with pytest.raises(MediaError):
        await media.download(session, final.video_url, tmp_path / "clip.mp4")


async def test_credits_and_cancel_are_absent(provider, fake):
    """UmamiAI has no balance or cancel call: fetch_credits is None and cancel sends nothing."""
    assert await provider.fetch_credits() is None
    await provider.cancel("anything")
    assert fake.requests == []
