"""FakeLuma driven by Luma's own client: `lumaai` 1.21.0 `AsyncLumaAI` over the fake's real local socket, with
strict response validation, so every answer the fake gives parses into the SDK's pydantic models
(protocols.md §A, §A.10, §E.1). If the fake's shapes drifted from the real API, these tests fail."""

from __future__ import annotations

import lumaai
import pydantic
import pytest
from lumaai import AsyncLumaAI
from lumaai.types import Generation, GenerationListResponse

from tests.fakes.luma import FakeLuma

KEY = "luma-sdk-contract-key-1b7e"


@pytest.fixture
async def fake():
    async with FakeLuma(api_key=KEY) as server:
        yield server


@pytest.fixture
async def client(fake):
    async with AsyncLumaAI(
        auth_token=KEY, base_url=fake.base_url, _strict_response_validation=True, max_retries=2, timeout=10
    ) as sdk:
        yield sdk


@pytest.fixture
def retry_waits(client) -> list[float]:
    """The waits the SDK computes between retries (from Retry-After or its backoff), recorded and skipped."""
    waits: list[float] = []
    compute = client._calculate_retry_timeout

    def record(*args, **kwargs) -> float:
        waits.append(compute(*args, **kwargs))
        return 0.0

    client._calculate_retry_timeout = record  # type: ignore[method-assign]
    return waits


def extra_fields(value: object, path: str = "") -> list[str]:
    """Fields the fake sent that the SDK's models don't declare (they allow extras, so strict parsing alone
    would let an invented field through)."""
    if isinstance(value, pydantic.BaseModel):
        found = [f"{path}.{key}" for key in (value.model_extra or {})]
        return found + [e for name in type(value).model_fields for e in extra_fields(getattr(value, name), f"{path}.{name}")]
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in extra_fields(item, f"{path}[{i}]")]
    return []


def real_shape(value):
    """`value` after checking it holds no field the SDK doesn't know."""
    assert extra_fields(value) == [], extra_fields(value)
    return value


async def finished(client: AsyncLumaAI, generation_id: str, limit: int = 10) -> Generation:
    for _ in range(limit):
        generation = real_shape(await client.generations.get(generation_id))
        if generation.state in ("completed", "failed"):
            return generation
    raise AssertionError(f"{generation_id} did not finish in {limit} polls")


# --- create, get/poll, list, delete ---------------------------------------------------------------


async def test_create_answers_a_queued_generation_the_sdk_parses(client, fake):
    """generations.create → 201 with a Generation that validates strictly: uuid id, queued, the request echoed."""
    generation = real_shape(await client.generations.create(
        model="ray-2", prompt="a red fox in snow", aspect_ratio="16:9", resolution="720p", duration="5s", loop=False,
        concepts=[{"key": "orbit_left"}],
    ))  # fmt: skip
    assert isinstance(generation, Generation)
    assert generation.state == "queued" and generation.id in fake.generations
    assert generation.generation_type == "video" and generation.model == "ray-2" and generation.assets is None
    assert generation.created_at is not None and generation.created_at.tzinfo is not None
    echoed = generation.request
    assert isinstance(echoed, lumaai.types.generation.RequestGenerationRequest)
    assert (echoed.prompt, echoed.concepts[0].key) == ("a red fox in snow", "orbit_left")
    (sent,) = fake.requests_to("POST", "/generations/video")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


async def test_polling_with_get_reaches_completed_with_assets(client, fake):
    """generations.get moves queued → dreaming → completed; the completed one carries assets.video and image."""
    created = await client.generations.create(model="ray-flash-2", prompt="a paper boat on a river")
    first = await client.generations.get(created.id)
    assert first.state == "dreaming"
    done = await finished(client, created.id)
    assert done.state == "completed" and done.failure_reason is None
    assert done.assets.video == f"{fake.base_url}/assets/{created.id}.mp4"
    assert done.assets.image.endswith(".jpg")


async def test_failed_generation_has_a_failure_reason(client, fake):
    """A generation that fails is `failed` with a documented failure_reason, still a valid Generation."""
    fake.fail_next_generation("Advanced prompt moderation failed")
    created = await client.generations.create(model="ray-2", prompt="something refused")
    done = await finished(client, created.id)
    assert (done.state, done.failure_reason, done.assets) == ("failed", "Advanced prompt moderation failed", None)


async def test_image_and_generation_keyframes_round_trip(client, fake):
    """Keyframes of both kinds (image url, generation id) are accepted and echoed as the SDK's discriminated union."""
    source = await client.generations.create(model="ray-2", prompt="a lighthouse at dusk")
    await finished(client, source.id)
    extended = await client.generations.create(
        model="ray-2", prompt="the light turns on",
        keyframes={"frame0": {"type": "generation", "id": source.id},
                   "frame1": {"type": "image", "url": "https://cdn.example/end.png"}},
    )  # fmt: skip
    frames = extended.request.keyframes
    assert (frames.frame0.type, frames.frame0.id) == ("generation", source.id)
    assert (frames.frame1.type, frames.frame1.url) == ("image", "https://cdn.example/end.png")


async def test_list_pages_with_limit_and_offset(client, fake):
    """generations.list(limit, offset) pages newest first with count/has_more/limit/offset as the SDK types them."""
    ids = [(await client.generations.create(model="ray-2", prompt=f"clip number {n}")).id for n in range(5)]
    first = real_shape(await client.generations.list(limit=2, offset=0))
    assert isinstance(first, GenerationListResponse)
    assert [g.id for g in first.generations] == ids[::-1][:2]
    assert (first.count, first.has_more, first.limit, first.offset) == (2, True, 2, 0)
    last = await client.generations.list(limit=2, offset=4)
    assert [g.id for g in last.generations] == ids[:1] and last.has_more is False
    everything = await client.generations.list()
    assert (everything.limit, everything.offset, len(everything.generations)) == (100, 0, 5)
    assert fake.requests_to("GET", "/generations")[-1].query == {}
    assert fake.requests_to("GET", "/generations")[0].query == {"limit": "2", "offset": "0"}


async def test_list_finds_a_generation_by_its_request(client, fake):
    """What issue 11 relies on: a job caught mid-submit is matched to its generation by the echoed request."""
    await client.generations.create(model="ray-2", prompt="unrelated")
    mine = await client.generations.create(model="ray-2", prompt="job 42: a castle in fog")
    page = await client.generations.list(limit=10)
    matches = [g for g in page.generations if getattr(g.request, "prompt", None) == "job 42: a castle in fog"]
    assert [g.id for g in matches] == [mine.id]


async def test_delete_is_204_and_then_get_is_not_found(client, fake):
    """generations.delete returns None (204, sent with Accept: */*); the generation is then a NotFoundError."""
    created = await client.generations.create(model="ray-2", prompt="a short-lived clip")
    assert await client.generations.delete(created.id) is None
    assert fake.requests_to("DELETE")[-1].headers["Accept"] == "*/*"
    with pytest.raises(lumaai.NotFoundError) as caught:
        await client.generations.get(created.id)
    assert caught.value.status_code == 404 and caught.value.body == {"detail": "Generation not found"}


async def test_concepts_credits_and_ping_parse(client, fake):
    """concepts.list is a list of strings; credits.get a float balance that creating lowers; ping says pong."""
    concepts = await client.generations.concepts.list()
    assert "orbit_left" in concepts and all(isinstance(c, str) for c in concepts)
    before = (await client.credits.get()).credit_balance
    await client.generations.create(model="ray-2", prompt="costs credits")
    assert (await client.credits.get()).credit_balance == before - fake.cost_per_generation
    assert (await client.ping.check()).message == "pong"


async def test_strict_validation_is_on_so_a_wrong_shape_would_fail(client, fake):
    """The oracle bites: a state Luma never sends fails strict parsing; an invented field is caught as extra."""
    created = await client.generations.create(model="ray-2", prompt="a valid one first")
    fake.fail_next("GET", f"/generations/{created.id}", 200, {"id": created.id, "state": "processing"})
    with pytest.raises(lumaai.APIResponseValidationError):
        await client.generations.get(created.id)
    fake.fail_next("GET", f"/generations/{created.id}", 200, {"id": created.id, "state": "queued", "assets": {"mp4": "x"}})
    assert extra_fields(await client.generations.get(created.id)) == [".assets.mp4"]


# --- errors and the SDK's retries ------------------------------------------------------------------


async def test_bad_key_is_an_authentication_error_without_retry(fake):
    """A wrong key → 401 {detail}: the SDK raises AuthenticationError at once (401 is not retried)."""
    async with AsyncLumaAI(auth_token="luma-wrong", base_url=fake.base_url, _strict_response_validation=True) as bad:
        with pytest.raises(lumaai.AuthenticationError) as caught:
            await bad.generations.create(model="ray-2", prompt="hello there")
    assert caught.value.body == {"detail": "Invalid API key is provided"}
    assert len(fake.requests_to("POST")) == 1


async def test_429_with_retry_after_is_retried_after_the_given_wait(client, fake, retry_waits):
    """429 + Retry-After: the SDK waits what the fake said and retries; the retry creates the generation."""
    fake.fail_next("POST", "/generations/video", 429, {"detail": "Too many requests"}, headers={"retry-after": "7"})
    generation = await client.generations.create(model="ray-2", prompt="after the rate limit")
    assert generation.state == "queued"
    assert retry_waits == [7.0]
    assert len(fake.requests_to("POST", "/generations/video")) == 2


async def test_rate_limit_past_the_retries_is_a_rate_limit_error(client, fake, retry_waits):
    """More concurrent generations than the limit: 429 on every try, then RateLimitError after 2 retries."""
    fake.max_active = 1
    fake.rate_limit_retry_after = 3
    await client.generations.create(model="ray-2", prompt="the first one")
    with pytest.raises(lumaai.RateLimitError) as caught:
        await client.generations.create(model="ray-2", prompt="one too many")
    assert "limit 1" in caught.value.body["detail"]
    assert retry_waits == [3.0, 3.0]


async def test_5xx_is_retried_with_backoff_then_raised(client, fake, retry_waits):
    """503 then success: one retry after the SDK's own backoff; 500 three times: InternalServerError."""
    fake.fail_next("GET", "/generations/", 503)
    created = await client.generations.create(model="ray-2", prompt="flaky server")
    assert (await client.generations.get(created.id)).id == created.id
    assert len(retry_waits) == 1 and 0 < retry_waits[0] <= 0.5
    fake.fail_next("GET", "/credits", 500, times=3)
    with pytest.raises(lumaai.InternalServerError):
        await client.credits.get()
    assert len(fake.requests_to("GET", "/credits")) == 3


async def test_400_validation_errors_are_bad_requests_with_the_documented_detail(client, fake, retry_waits):
    """Values the SDK's open types let through but Luma refuses → 400 {detail}, BadRequestError, never retried."""
    cases = [
        ({"model": "ray-2", "prompt": "hi"}, "Prompt is too short, minimum length is 3 characters"),
        ({"model": "ray-2", "prompt": "a clip", "resolution": "8k"}, "Invalid resolution '8k'"),
        ({"model": "ray-2", "keyframes": {"frame1": {"type": "image", "url": "https://x/y.png"}}, "loop": True},
         "Loop is not supported for end frame"),
        ({"model": "ray-2", "keyframes": {}}, "No keyframes provided"),
        ({"model": "ray-2"}, "Prompt is required"),
    ]  # fmt: skip
    for params, detail in cases:
        with pytest.raises(lumaai.BadRequestError) as caught:
            await client.generations.create(**params)
        assert caught.value.status_code == 400 and caught.value.body["detail"].startswith(detail), params
    assert retry_waits == [] and fake.create_count == 0


async def test_unknown_generation_keyframe_is_not_found(client, fake):
    """Extending a generation the account never made → 404 NotFoundError with {detail}."""
    with pytest.raises(lumaai.NotFoundError):
        await client.generations.create(
            model="ray-2", prompt="continue it", keyframes={"frame0": {"type": "generation", "id": "no-such-id"}}
        )


# --- §A.10 actions ---------------------------------------------------------------------------------


@pytest.fixture
async def source(client, fake) -> Generation:
    created = await client.generations.create(model="ray-2", prompt="a koi pond in the rain")
    return await finished(client, created.id)


async def test_upscale_creates_a_new_generation_from_a_completed_one(client, fake, source):
    """generations.upscale(id, resolution) → a new queued Generation echoing an upscale request; it completes."""
    upscaled = real_shape(await client.generations.upscale(source.id, generation_type="upscale_video", resolution="4k"))
    assert upscaled.id != source.id and upscaled.state == "queued"
    assert isinstance(upscaled.request, lumaai.types.generation.RequestUpscaleVideoGenerationRequest)
    assert (upscaled.request.generation_type, upscaled.request.resolution) == ("upscale_video", "4k")
    assert fake.generations[upscaled.id].source_id == source.id
    assert (await finished(client, upscaled.id)).assets.video.endswith(f"{upscaled.id}.mp4")


async def test_add_audio_creates_a_new_generation(client, fake, source):
    """generations.audio(id, prompt, negative_prompt) → a queued Generation echoing an add_audio request."""
    voiced = await client.generations.audio(
        source.id, generation_type="add_audio", prompt="rain on water, distant thunder", negative_prompt="music"
    )
    assert isinstance(voiced.request, lumaai.types.generation.RequestAudioGenerationRequest)
    assert (voiced.request.prompt, voiced.request.negative_prompt) == ("rain on water, distant thunder", "music")
    sent = fake.requests_to("POST", f"/generations/{source.id}/audio")[-1]
    assert sent.json["generation_type"] == "add_audio"


async def test_actions_need_a_completed_known_source(client, fake):
    """Upscale/audio of an unknown id → 404; of a generation still dreaming → 400; nothing is created."""
    with pytest.raises(lumaai.NotFoundError):
        await client.generations.upscale("no-such-generation", resolution="1080p")
    running = await client.generations.create(model="ray-2", prompt="still rendering")
    with pytest.raises(lumaai.BadRequestError):
        await client.generations.audio(running.id, prompt="birdsong")
    assert fake.create_count == 1


async def test_modify_video_takes_media_mode_and_model(client, fake, source):
    """video.modify(media, mode, model) → 201 Generation echoing a modify_video request; a bad mode is 400."""
    modified = real_shape(await client.generations.video.modify(
        generation_type="modify_video", media={"url": source.assets.video}, mode="flex_2", model="ray-2",
        prompt="as a watercolour painting", first_frame={"url": "https://cdn.example/first.png"},
    ))  # fmt: skip
    assert isinstance(modified.request, lumaai.types.generation.RequestModifyVideoRequest)
    assert (modified.request.mode, modified.request.media.url) == ("flex_2", source.assets.video)
    assert (await finished(client, modified.id)).state == "completed"
    with pytest.raises(lumaai.BadRequestError) as caught:
        await client.generations.video.modify(
            generation_type="modify_video", media={"url": source.assets.video}, mode="wild_9", model="ray-2"  # type: ignore[arg-type]
        )
    assert "mode" in caught.value.body["detail"]


async def test_reframe_video_takes_aspect_ratio_and_crop_bounds(client, fake, source):
    """video.reframe(aspect_ratio, media, model, crop ints) → 201 Generation echoing a reframe_video request."""
    reframed = real_shape(await client.generations.video.reframe(
        aspect_ratio="9:16", generation_type="reframe_video", media={"url": source.assets.video}, model="ray-flash-2",
        grid_position_x=10, grid_position_y=0, x_start=0, x_end=720, y_start=0, y_end=1280,
    ))  # fmt: skip
    assert isinstance(reframed.request, lumaai.types.generation.RequestReframeVideoRequest)
    assert (reframed.request.aspect_ratio, reframed.request.x_end, reframed.model) == ("9:16", 720, "ray-flash-2")
    with pytest.raises(lumaai.BadRequestError):
        await client.generations.video.reframe(
            aspect_ratio="2:1", generation_type="reframe_video", media={"url": source.assets.video}, model="ray-2"  # type: ignore[arg-type]
        )


async def test_extend_backwards_and_interpolate_use_generation_keyframes(client, fake, source):
    """Reverse extend (frame1 = generation) and interpolate (both frames generations) are plain creates."""
    other = await finished(client, (await client.generations.create(model="ray-2", prompt="the koi leap")).id)
    before = await client.generations.create(
        model="ray-2", prompt="clouds gather", keyframes={"frame1": {"type": "generation", "id": source.id}}
    )
    bridge = await client.generations.create(
        model="ray-2", prompt="from rain to leap",
        keyframes={"frame0": {"type": "generation", "id": source.id}, "frame1": {"type": "generation", "id": other.id}},
    )  # fmt: skip
    assert before.request.keyframes.frame1.id == source.id
    assert (bridge.request.keyframes.frame0.id, bridge.request.keyframes.frame1.id) == (source.id, other.id)
    with pytest.raises(lumaai.BadRequestError) as caught:
        await client.generations.create(
            model="ray-2", prompt="looped bridge", loop=True,
            keyframes={"frame0": {"type": "generation", "id": source.id}, "frame1": {"type": "generation", "id": other.id}},
        )  # fmt: skip
    assert caught.value.body["detail"] == "Loop is not supported for interpolate between two videos"
