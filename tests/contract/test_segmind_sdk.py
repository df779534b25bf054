"""FakeSegmind driven by Segmind's own client, `segmind` 1.3.0 (protocols.md §B.1, §E.2).

The SDK is synchronous (httpx.Client), so each call runs in a worker thread while the fake answers on this
test's event loop over a real local socket. It has no response models: what it checks is what it parses
(`submit_async` insists on request_id/status_url/response_url; `AsyncJob` reads FAILED bodies served with 422;
`SegmindError` reads the `error` key), and these tests then check the dicts it returns. It has no retries.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import segmind
from segmind import InferenceFailed, SegmindClient, SegmindError

from bot.domain import VideoRequest
from bot.providers.segmind import IMAGE_SLUGS, TEXT_SLUGS, _body, find_video_url
from tests.fakes.segmind import OUTPUT_SHAPES, FakeSegmind

KEY = "segmind-sdk-contract-key-44c0"
PROMPT = "a teddy bear in sunglasses playing electric guitar"


@pytest.fixture
async def fake():
    async with FakeSegmind(api_key=KEY, video_size=4096, polls_to_complete=3) as server:
        yield server


@pytest.fixture
def client(fake):
    sdk = SegmindClient(api_key=KEY, base_url=f"{fake.base_url}/v1", timeout=10)
    yield sdk
    sdk._client.close()


def call(function, *args, **kwargs):
    """Run a blocking SDK call in a thread so the fake keeps answering on the loop."""
    return asyncio.to_thread(function, *args, **kwargs)


async def test_submit_async_returns_a_job_handle_with_the_three_urls(client, fake):
    """POST /v2/{slug} answers what submit_async insists on: request_id, status_url, response_url (on our host)."""
    job = await call(client.submit_async, "luma-ray-txt-2-video", prompt=PROMPT, aspect_ratio="16:9", loop=False)
    assert job.request_id in fake.v2_requests
    assert job.status_url == f"{fake.base_url}/v2/requests/{job.request_id}/status"
    assert job.response_url == f"{fake.base_url}/v2/requests/{job.request_id}"
    assert job.submit_response["status"] == "QUEUED"
    assert job.submit_response["poll_url"] == f"{fake.base_url}/v1/requests/{job.request_id}"
    [post] = fake.posts()
    assert (post.path, post.headers["x-api-key"], post.headers["X-Initiator"]) == ("/v2/luma-ray-txt-2-video", KEY, "SDK-PY")


async def test_status_moves_queued_processing_completed_and_result_has_output(client, fake):
    """job.status() walks QUEUED → PROCESSING → COMPLETED; job.result() has status, metrics and the output URL."""
    job = await call(client.submit_async, "luma-txt-2-video", prompt=PROMPT)
    states = [(await call(job.status))["status"] for _ in range(3)]
    assert states == ["QUEUED", "PROCESSING", "COMPLETED"]
    result = await call(job.result)
    assert result["status"] == "COMPLETED" and "inference_time" in result["metrics"]
    assert result["output"] == f"{fake.base_url}/files/{job.request_id}.mp4"


async def test_wait_returns_the_result_the_adapter_can_read_in_every_shape(client, fake):
    """job.wait() returns the COMPLETED body; for every output shape the fake serves, the adapter's reader finds
    the clip in what the SDK returned (and nothing in the unknown shape)."""
    for shape, make in OUTPUT_SHAPES.items():
        fake.output_shape = shape
        job = await call(client.submit_async, "ray-flash-2-720p", prompt=PROMPT, duration=5)
        result = await call(job.wait, timeout=30, interval=0)
        expected = make(f"{fake.base_url}/files/{job.request_id}.mp4")
        assert {k: result[k] for k in expected} == expected
        found = find_video_url(result)
        assert found == (None if shape == "unknown" else f"{fake.base_url}/files/{job.request_id}.mp4"), shape


async def test_failed_request_is_inference_failed_with_the_error(client, fake):
    """FAILED arrives with HTTP 422 and {status, error}: the SDK reads the body and raises InferenceFailed(detail)."""
    fake.v2_failure = "NSFW content detected"
    job = await call(client.submit_async, "luma-ray-txt-2-video", prompt=PROMPT)
    with pytest.raises(InferenceFailed) as caught:
        await call(job.wait, timeout=30, interval=0)
    assert caught.value.detail == "NSFW content detected"
    assert caught.value.status_body["status"] == "FAILED"
    assert (await call(job.result))["error"] == "NSFW content detected"  # the response URL serves it under 422 too


async def test_run_sync_returns_the_video_bytes_and_the_credits_header(client, fake):
    """run_sync (v1) answers 200 video/mp4 with the MP4 itself and x-remaining-credits, decremented."""
    response = await call(client.run_sync, "luma-txt-2-video", prompt=PROMPT, aspect_ratio="1:1", loop=True)
    assert isinstance(response, httpx.Response) and response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp" and len(response.content) == 4096
    assert float(response.headers["x-remaining-credits"]) == pytest.approx(100 - fake.cost)


async def test_every_adapter_body_is_accepted_by_its_slug_through_the_sdk(client, fake):
    """The adapter's body for each model (text and image) sent with the SDK's own submit passes the slug's types."""
    requests = [
        VideoRequest(PROMPT, model="luma-ray", resolution="1080p"),
        VideoRequest(PROMPT, model="luma-ray", start_image_url="https://cdn.example/a.png", aspect_ratio="9:16"),
        VideoRequest(PROMPT, model="ray-flash-2", duration="9s", start_image_url="https://cdn.example/a.png",
                     end_image_url="https://cdn.example/b.png"),
        VideoRequest(PROMPT, model="luma-v1", loop=True),
    ]  # fmt: skip
    for request in requests:
        slug = (IMAGE_SLUGS if request.start_image_url else TEXT_SLUGS)[request.model]
        job = await call(client.submit_async, slug, **_body(slug, request))
        assert job.request_id in fake.v2_requests
    assert {r.slug for r in fake.v2_requests.values()} == set(TEXT_SLUGS.values()) | set(IMAGE_SLUGS.values())


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, None), (406, "Not enough credits"), (429, "Too many requests"), (500, "Internal server error"),
     (502, None), (400, "Invalid parameters")],
)  # fmt: skip
async def test_http_errors_become_segmind_error_with_status_and_detail(client, fake, status, message):
    """Each documented error status is a SegmindError carrying the status and the body's `error`; the SDK does
    not retry (one request each, Retry-After included)."""
    fake.inject("v2", status, message=message, headers={"Retry-After": "3"} if status == 429 else None)
    with pytest.raises(SegmindError) as caught:
        await call(client.submit_async, "luma-ray-txt-2-video", prompt=PROMPT)
    assert caught.value.status == status
    assert caught.value.detail == (message or {401: "Unauthorized: invalid or missing API key", 502: "Bad gateway"}[status])
    assert len(fake.posts()) == 1


async def test_wrong_key_and_invalid_parameters_come_from_the_fake_itself(fake):
    """Without injection: a bad key is 401 {error}; a parameter the slug's page doesn't list is 400 naming it."""
    bad = SegmindClient(api_key="wrong", base_url=f"{fake.base_url}/v1")
    with pytest.raises(SegmindError) as caught:
        await call(bad.run_sync, "luma-txt-2-video", prompt=PROMPT)
    assert caught.value.status == 401
    good = SegmindClient(api_key=KEY, base_url=f"{fake.base_url}/v1")
    with pytest.raises(SegmindError) as caught:
        await call(good.submit_async, "ray-flash-2-720p", prompt=PROMPT, duration="9")
    assert caught.value.status == 400 and "body.duration" in caught.value.detail
    with pytest.raises(SegmindError) as caught:
        await call(good.run_sync, "luma-txt-2-video", prompt=PROMPT, resolution="1080p")
    assert caught.value.status == 400 and "has no field 'resolution'" in caught.value.detail
    with pytest.raises(SegmindError) as caught:
        await call(good.submit_async, "luma-ray-9", prompt=PROMPT)
    assert caught.value.status == 404
    bad._client.close()
    good._client.close()


async def test_an_expired_request_is_not_found(client, fake):
    """After the 1-hour retention the status URL is 404, a SegmindError (not a FAILED body)."""
    job = await call(client.submit_async, "luma-txt-2-video", prompt=PROMPT)
    fake.expire(job.request_id)
    with pytest.raises(SegmindError) as caught:
        await call(job.status)
    assert caught.value.status == 404


async def test_credits_through_the_sdk_transport(client, fake):
    """GET /v1/get-user-credits through the SDK's own request path: {credits, free-credits}."""
    response = await call(client._request, "GET", "/get-user-credits")
    assert response.json() == {"credits": 100.0, "free-credits": 5.0}
    assert segmind.__version__ == "1.3.0"
