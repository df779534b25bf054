"""The fake Agents API (tests/fakes/luma_agents.py) is proven with Luma's official `luma-agents` 0.5.0 SDK: its
AsyncLuma client, with strict response validation, creates, polls, uploads files both ways and meets the
documented errors as the SDK's own exception classes. If the fake's shapes drift from Luma's, this fails."""

from __future__ import annotations

import httpx
import luma_agents
import pytest
from luma_agents.types import CreateFileResponse, File, Generation

from tests.fakes.luma_agents import FakeLumaAgents

KEY = "luma-api-sdk-conformance-5e1c"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
async def fake():
    async with FakeLumaAgents(api_key=KEY) as server:
        yield server


@pytest.fixture
async def client(fake):
    sdk = luma_agents.AsyncLuma(auth_token=KEY, base_url=fake.base_url, max_retries=0, _strict_response_validation=True)
    yield sdk
    await sdk.close()


async def test_create_and_poll_to_completed_under_strict_validation(client, fake):
    """generations.create answers a queued Generation; get walks processing → completed with a video output."""
    created = await client.generations.create(
        model="ray-3.2", type="video", prompt="a greenhouse at sunrise", aspect_ratio="16:9",
        video={"resolution": "720p", "duration": "5s"}, user_id="u_abc",
    )  # fmt: skip
    assert isinstance(created, Generation) and created.state == "queued" and created.output is None
    states = [(await client.generations.get(created.id)).state for _ in range(2)]
    assert states == ["processing", "completed"]
    done = await client.generations.get(created.id)
    assert {o.type for o in done.output or []} == {"video", "image"}
    async with httpx.AsyncClient() as http:
        video = next(o.url for o in done.output or [] if o.type == "video")
        assert (await http.get(video)).content[4:8] == b"ftyp"


async def test_every_get_mints_fresh_urls_and_expired_ones_are_refused(client, fake):
    """Presigned output URLs expire (403); a new GET of the generation gives working ones again."""
    created = await client.generations.create(model="ray-3.2", type="video", prompt="waves at night")
    for _ in range(2):
        await client.generations.get(created.id)
    first = next(o.url for o in (await client.generations.get(created.id)).output or [] if o.type == "video")
    fake.expire_outputs()
    second = next(o.url for o in (await client.generations.get(created.id)).output or [] if o.type == "video")
    async with httpx.AsyncClient() as http:
        assert (await http.get(first)).status_code == 403
        assert (await http.get(second)).status_code == 200
    assert first != second


async def test_failure_code_is_read_by_the_sdk(client, fake):
    """A failed generation carries a failure_code from the SDK's GenerationFailureCode literal."""
    fake.fail_next_generation("content_moderated", "Prompt violated content guidelines")
    created = await client.generations.create(model="ray-3.2", type="video", prompt="something refused")
    for _ in range(2):
        done = await client.generations.get(created.id)
    assert done.state == "failed" and done.failure_code == "content_moderated"


async def test_multipart_upload_goes_pending_then_ready(client, fake):
    """POST /files as multipart (the inline flow) returns a pending CreateFileResponse; GET /files/{id} is ready."""
    answer = await client.post(
        "/files", cast_to=CreateFileResponse,
        body={"mime_type": "image/png", "size_bytes": str(len(PNG)), "purpose": "input"},
        files=[("file", ("start.png", PNG, "image/png"))],
        options={"headers": {"Content-Type": "multipart/form-data"}},
    )  # fmt: skip
    assert answer.state == "pending" and answer.upload is None and answer.file.size_bytes == len(PNG)
    ready = await client.files.get(answer.id)
    assert isinstance(ready, File) and ready.state == "ready"
    assert fake.files[answer.id].data == PNG


async def test_presigned_upload_put_then_complete(client, fake):
    """files.create (JSON) gives a PUT envelope; after the PUT, files.complete starts ingest; then ready."""
    answer = await client.files.create(mime_type="image/jpeg", size_bytes=len(PNG), filename="a.jpg")
    assert answer.upload is not None and answer.upload.method == "PUT"
    async with httpx.AsyncClient() as http:
        put = await http.put(answer.upload.url, content=PNG, headers=answer.upload.headers or {})
    assert put.status_code == 200
    completed = await client.files.complete(answer.id)
    assert completed.state == "pending"
    assert (await client.files.get(answer.id)).state == "ready"
    listing = await client.files.list(limit=5)
    assert [f.id for f in listing.data] == [answer.id]
    await client.files.delete(answer.id)
    assert (await client.files.get(answer.id)).state == "deleted"


async def test_a_ready_file_is_usable_as_a_start_frame(client, fake):
    """A generation may reference a ready file by file_id; a pending one is refused with 422."""
    answer = await client.files.create(mime_type="image/png", size_bytes=len(PNG))
    with pytest.raises(luma_agents.UnprocessableEntityError):
        await client.generations.create(model="ray-3.2", type="video", prompt="animate it",
                                        video={"start_frame": {"file_id": answer.id}})  # fmt: skip
    fake.files[answer.id].state = "ready"
    created = await client.generations.create(model="ray-3.2", type="video", prompt="animate it",
                                              video={"start_frame": {"file_id": answer.id}})  # fmt: skip
    assert created.state == "queued"


@pytest.mark.parametrize(
    ("video", "aspect", "error"),
    [
        ({"duration": "10s", "start_frame": {"url": "https://e.com/a.png"}}, "16:9", luma_agents.UnprocessableEntityError),
        ({"duration": "10s", "loop": True}, "16:9", luma_agents.UnprocessableEntityError),
        ({"resolution": "360p", "hdr": True}, "16:9", luma_agents.UnprocessableEntityError),
        ({"hdr": True, "loop": True}, "16:9", luma_agents.UnprocessableEntityError),
        ({"hdr": True, "duration": "10s"}, "16:9", luma_agents.UnprocessableEntityError),
        ({"exr_export": True}, "16:9", luma_agents.UnprocessableEntityError),
        ({"keyframes": [{"url": "https://example.com/a.png"}], "keyframe_indexes": [0],
          "start_frame": {"url": "https://example.com/b.png"}}, "16:9", luma_agents.UnprocessableEntityError),
        ({}, "9:21", luma_agents.UnprocessableEntityError),
        ({"resolution": "4k"}, "16:9", luma_agents.BadRequestError),
    ],
    ids=["10s-start-frame", "loop-10s", "hdr-360p", "hdr-loop", "hdr-10s", "exr-without-hdr",
         "keyframes-and-start-frame", "ratio-9:21", "resolution-4k"],
)  # fmt: skip
async def test_documented_combination_rules_are_refused(client, video, aspect, error):
    """Each combination §F.2/§F.6 forbids is refused with the status the SDK maps to the right exception."""
    with pytest.raises(error):
        await client.generations.create(model="ray-3.2", type="video", prompt="x y z", aspect_ratio=aspect, video=video)


async def test_errors_map_to_the_sdks_exceptions(fake):
    """Bad key → 401, no HDR access → 403, empty balance → 402, concurrency → 429 with Retry-After."""
    fake.hdr_enabled, fake.max_active, fake.balance_cents = False, 1, 30
    bad = luma_agents.AsyncLuma(auth_token="luma-api-wrong", base_url=fake.base_url, max_retries=0)
    sdk = luma_agents.AsyncLuma(auth_token=KEY, base_url=fake.base_url, max_retries=0, _strict_response_validation=True)
    try:
        with pytest.raises(luma_agents.AuthenticationError):
            await bad.generations.create(model="ray-3.2", type="video", prompt="abc")
        with pytest.raises(luma_agents.PermissionDeniedError) as denied:
            await sdk.generations.create(model="ray-3.2", type="video", prompt="abc", video={"hdr": True})
        assert "HDR" in str(denied.value)
        await sdk.generations.create(model="ray-3.2", type="video", prompt="abc")  # 30 cents: the balance
        fake.max_active = 5
        with pytest.raises(luma_agents.APIStatusError) as broke:
            await sdk.generations.create(model="ray-3.2", type="video", prompt="abc")
        assert broke.value.status_code == 402
        fake.balance_cents, fake.max_active = None, 1
        with pytest.raises(luma_agents.RateLimitError) as limited:
            await sdk.generations.create(model="ray-3.2", type="video", prompt="abc")
        assert limited.value.response.headers["retry-after"] == "2"
        with pytest.raises(luma_agents.NotFoundError):
            await sdk.generations.get("00000000-0000-0000-0000-000000000000")
    finally:
        await bad.close()
        await sdk.close()


async def test_rpm_limit_answers_429_and_posts_echo_the_allowance(fake):
    """The RPM window refuses the 21st create in a minute; successful POSTs carry X-RateLimit-Limit."""
    fake.max_active = None
    sdk = luma_agents.AsyncLuma(auth_token=KEY, base_url=fake.base_url, max_retries=0)
    try:
        raw = await sdk.generations.with_raw_response.create(model="ray-3.2", type="video", prompt="abc")
        assert raw.headers["x-ratelimit-limit"] == "20" and raw.headers["x-request-id"].startswith("req_")
        for _ in range(19):
            await sdk.generations.create(model="ray-3.2", type="video", prompt="abc")
        with pytest.raises(luma_agents.RateLimitError):
            await sdk.generations.create(model="ray-3.2", type="video", prompt="abc")
    finally:
        await sdk.close()
