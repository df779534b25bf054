"""LumaAgentsProvider (Ray 3.2) against the fake Agents API: request bodies that fit the official SDK's param
types, Files API inputs, a keyed user_id, every documented combination rule (refused by the capability table
before anything is sent, and by the fake when sent anyway), failure codes, fresh URLs and no cancel."""

from __future__ import annotations

from dataclasses import replace

import pytest
from luma_agents.types import generation_create_params

from bot import media
from bot.domain import ProviderState, VideoRequest
from bot.errors import ProviderAuthError, ProviderCreditsError, ProviderRejectedError
from bot.providers.base import StoresFiles, check_request
from bot.providers.luma_agents import CAPABILITIES, LumaAgentsProvider, user_tag
from tests.contract import sdk_types
from tests.fakes.clock import ManualClock
from tests.fakes.luma_agents import FakeLumaAgents

KEY = "luma-api-contract-key-41d0"
PROMPT = "a paper boat drifting down a rain gutter"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(128)
USER = 123456789012345678


@pytest.fixture
async def fake():
    async with FakeLumaAgents(api_key=KEY) as server:
        yield server


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def provider(http_session, fake, clock):
    return LumaAgentsProvider(http_session, api_key=KEY, clock=clock, base_url=fake.base_url)


def assert_fits_sdk(body: dict) -> None:
    assert sdk_types.violations(body, generation_create_params.GenerationCreateParams) == []


async def finish(provider: LumaAgentsProvider, job_id: str, polls: int = 5):
    for _ in range(polls):
        status = await provider.poll(job_id)
        if status.done:
            return status
    raise AssertionError("not done")


async def completed_generation(provider) -> str:
    status = await provider.submit(VideoRequest(PROMPT))
    assert (await finish(provider, status.provider_job_id)).state is ProviderState.COMPLETED
    return status.provider_job_id


# --- request bodies -------------------------------------------------------------------------------------


async def test_text_to_video_body_fits_the_sdk_and_tags_the_user(provider, fake):
    """A t2v create is model ray-3.2, type video, options under `video`, user_id a keyed hash (never the raw id)."""
    await provider.submit(VideoRequest(PROMPT, aspect_ratio="9:16", resolution="360p", duration="10s",
                                       requester_id=USER))  # fmt: skip
    [create] = fake.requests_to("POST", "/generations")
    assert create.json == {
        "model": "ray-3.2", "type": "video", "prompt": PROMPT, "aspect_ratio": "9:16",
        "video": {"resolution": "360p", "duration": "10s"}, "user_id": user_tag(KEY, USER),
    }  # fmt: skip
    assert_fits_sdk(create.json)
    assert str(USER) not in str(create.json)


def test_user_tag_is_stable_distinct_and_keyed():
    """The same user always gets the same tag; another user or another API key gets a different one."""
    assert user_tag(KEY, USER) == user_tag(KEY, USER)
    assert user_tag(KEY, USER) != user_tag(KEY, USER + 1)
    assert user_tag(KEY, USER) != user_tag("luma-api-other", USER)
    assert str(USER) not in user_tag(KEY, USER) and len(user_tag(KEY, USER)) == 34


async def test_image_to_video_goes_through_the_files_api(provider, fake, clock):
    """An uploaded keyframe is referenced by file_id; submit waits (on the clock) until Luma marks it ready."""
    fake.file_polls_to_ready = 2
    assert isinstance(provider, StoresFiles)
    start = await provider.upload_image(PNG, mime_type="image/png", filename="start.png", requester_id=USER)
    end = await provider.upload_image(PNG, mime_type="image/png", filename="end.png", requester_id=USER)
    assert fake.files[start].data == PNG and fake.files[start].user_id == user_tag(KEY, USER)
    request = VideoRequest(PROMPT, start_image_url="https://cdn.discordapp.com/x.png", start_image_file=start,
                           end_image_file=end, requester_id=USER)  # fmt: skip
    status = await provider.submit(request)
    assert status.state is ProviderState.QUEUED
    [create] = fake.requests_to("POST", "/generations")
    assert create.json["video"]["start_frame"] == {"file_id": start}
    assert create.json["video"]["end_frame"] == {"file_id": end}
    assert_fits_sdk(create.json)
    assert clock.sleeps == [2.0, 2.0]  # one wait per file still pending


async def test_a_url_keyframe_is_sent_as_a_url(provider, fake):
    """Without a stored file, the start image travels as its URL."""
    await provider.submit(VideoRequest(PROMPT, start_image_url="https://example.com/a.png", loop=True))
    [create] = fake.requests_to("POST", "/generations")
    assert create.json["video"] == {"resolution": "720p", "duration": "5s", "loop": True,
                                    "start_frame": {"url": "https://example.com/a.png"}}  # fmt: skip
    assert_fits_sdk(create.json)


async def test_hdr_with_images_uses_keyframes_pinned_to_first_and_last_frame(provider, fake):
    """HDR i2v goes through video.keyframes (the surface that takes HDR), pinned at frames 0 and 120."""
    status = await provider.submit(VideoRequest(PROMPT, hdr=True, resolution="1080p", start_image_url="https://e.com/a.png",
                                                end_image_url="https://e.com/b.png"))  # fmt: skip
    [create] = fake.requests_to("POST", "/generations")
    assert create.json["video"] == {
        "resolution": "1080p", "duration": "5s", "hdr": True,
        "keyframes": [{"url": "https://e.com/a.png"}, {"url": "https://e.com/b.png"}], "keyframe_indexes": [0, 120],
    }  # fmt: skip
    assert_fits_sdk(create.json)
    assert (await finish(provider, status.provider_job_id)).state is ProviderState.COMPLETED


async def test_extend_continues_a_generation_by_id(provider, fake):
    """Extend sends video.start_frame.generation_id of the finished clip (images dropped)."""
    source = await completed_generation(provider)
    await provider.submit(VideoRequest(PROMPT, extend_of=source, extend_provider="luma-agents"))
    create = fake.requests_to("POST", "/generations")[-1]
    assert create.json["video"]["start_frame"] == {"generation_id": source}
    assert_fits_sdk(create.json)


async def test_camera_goes_into_the_prompt(provider, fake):
    """Ray 3.2 has no concepts: a camera move is written into the prompt."""
    await provider.submit(VideoRequest(PROMPT, camera="orbit_left"))
    [create] = fake.requests_to("POST", "/generations")
    assert create.json["prompt"] == f"{PROMPT}, camera: orbit_left"


# --- combination rules ----------------------------------------------------------------------------------

IMG = "https://example.com/a.png"
REFUSED = [
    pytest.param(VideoRequest(PROMPT, duration="10s", start_image_url=IMG), "needs duration `5s`", id="10s-start-image"),
    pytest.param(VideoRequest(PROMPT, duration="10s", end_image_url=IMG), "needs duration `5s`", id="10s-end-image"),
    pytest.param(VideoRequest(PROMPT, duration="10s", loop=True), "loop needs duration `5s`", id="10s-loop"),
    pytest.param(VideoRequest(PROMPT, hdr=True, resolution="360p"), "HDR needs resolution", id="hdr-360p"),
    pytest.param(VideoRequest(PROMPT, hdr=True, resolution="540p"), "HDR needs resolution", id="hdr-540p"),
    pytest.param(VideoRequest(PROMPT, hdr=True, duration="10s"), "HDR needs duration `5s`", id="hdr-10s"),
    pytest.param(VideoRequest(PROMPT, hdr=True, loop=True), "HDR cannot be combined with loop", id="hdr-loop"),
    pytest.param(VideoRequest(PROMPT, aspect_ratio="9:21"), "aspect ratio `9:21`", id="ratio-9:21"),
    pytest.param(VideoRequest(PROMPT, resolution="4k"), "resolution `4k`", id="resolution-4k"),
    pytest.param(VideoRequest(PROMPT, duration="9s"), "duration `9s`", id="duration-9s"),
    pytest.param(
        VideoRequest(PROMPT, loop=True, end_image_url=IMG), "loop cannot be combined with an end image", id="loop-end-image"
    ),
]


@pytest.mark.sends_refused_bodies
@pytest.mark.parametrize(("request_", "named"), REFUSED)
async def test_each_combination_rule_is_refused_before_sending_and_by_luma(provider, fake, request_, named):
    """The capability table refuses it, naming what is possible, before any request; sent anyway, the fake
    (Luma's documented rules) refuses the same body too: the table and the server agree."""
    with pytest.raises(Exception) as caught:
        check_request(CAPABILITIES, "Luma Ray 3.2", request_)
    assert named in caught.value.public_message and "Nothing was charged" in caught.value.public_message
    assert fake.requests == []
    body = provider.build_body(request_)
    answer = await provider.transport.session.post(f"{fake.base_url}/generations", json=body,
                                                   headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert answer.status in (400, 422), await answer.text()


async def test_extend_rules_hdr_and_10s(provider, fake):
    """An extension is SDR only and 5s: both refused by the table, and by the fake when sent."""
    source = await completed_generation(provider)
    for request, named in (
        (VideoRequest(PROMPT, extend_of=source, hdr=True), "an extension is SDR only"),
        (VideoRequest(PROMPT, extend_of=source, duration="10s"), "needs duration `5s`"),
    ):
        assert any(named in p for p in CAPABILITIES.problems(request))
        answer = await provider.transport.session.post(
            f"{fake.base_url}/generations", json=provider.build_body(request), headers={"Authorization": f"Bearer {KEY}"}
        )
        assert answer.status == 422


ALLOWED = [
    pytest.param(VideoRequest(PROMPT, hdr=True, resolution="720p"), id="hdr-720p"),
    pytest.param(VideoRequest(PROMPT, hdr=True, resolution="1080p", start_image_url=IMG), id="hdr-1080p-start"),
    pytest.param(VideoRequest(PROMPT, resolution="360p", duration="10s"), id="360p-10s-t2v"),
    pytest.param(VideoRequest(PROMPT, loop=True, start_image_url=IMG), id="loop-start-image"),
    pytest.param(VideoRequest(PROMPT, start_image_url=IMG, end_image_url=IMG, resolution="540p"), id="start-end-540p"),
    pytest.param(VideoRequest(PROMPT, aspect_ratio="21:9", resolution="1080p", duration="10s"), id="21:9-1080p-10s"),
]


@pytest.mark.parametrize("request_", ALLOWED)
async def test_allowed_combinations_pass_the_table_and_the_fake(provider, fake, request_):
    """What the table allows, the fake accepts (and the body fits the SDK's types)."""
    assert CAPABILITIES.problems(request_) == []
    status = await provider.submit(request_)
    assert status.state is ProviderState.QUEUED
    assert_fits_sdk(fake.requests_to("POST", "/generations")[-1].json)


async def test_hdr_on_an_account_without_it_is_a_clear_refunded_refusal(provider, fake):
    """Luma's 403 "HDR not enabled" becomes "Your Luma plan has no HDR", refunded."""
    fake.hdr_enabled = False
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.submit(VideoRequest(PROMPT, hdr=True))
    assert "Your Luma plan has no HDR" in caught.value.public_message and caught.value.refund
    assert len(fake.requests_to("POST", "/generations")) == 1


async def test_a_403_without_hdr_stays_an_auth_error(provider, fake):
    """A 403 that is not about HDR (a suspended client) is ProviderAuthError."""
    fake.fail_next("POST", "/generations", 403, {"detail": "Client suspended"})
    with pytest.raises(ProviderAuthError):
        await provider.submit(VideoRequest(PROMPT, hdr=True))


# --- failures, URLs, cancel, check ----------------------------------------------------------------------


async def test_content_moderated_is_the_users_fault(provider, fake):
    """failure_code content_moderated: FAILED with the reason, user_fault (no refund), no retry."""
    fake.fail_next_generation("content_moderated", "Prompt violated content guidelines")
    status = await finish(provider, (await provider.submit(VideoRequest(PROMPT))).provider_job_id)
    assert status.state is ProviderState.FAILED and status.user_fault
    assert status.failure_reason == "Prompt violated content guidelines"
    assert len(fake.requests_to("POST", "/generations")) == 1


async def test_budget_exhausted_is_the_operators_refunded_credits_error(provider, fake):
    """failure_code budget_exhausted raises ProviderCreditsError (refund; the runner logs it as an admin error)."""
    fake.fail_next_generation("budget_exhausted", "Ran out of funds mid-generation")
    job = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    with pytest.raises(ProviderCreditsError) as caught:
        await finish(provider, job)
    assert caught.value.refund and "ran out of funds" in caught.value.public_message


@pytest.mark.parametrize("code", ["generation_failed", "output_not_found"])
async def test_a_model_error_is_retried_once_as_a_new_generation(provider, fake, code):
    """The first failure sends the same body again (restarted_as the new id); a second one is final."""
    fake.fail_next_generation(code, "Internal model error", times=2)
    first = (await provider.submit(VideoRequest(PROMPT, requester_id=USER))).provider_job_id
    await provider.poll(first)
    retried = await provider.poll(first)
    assert retried.restarted_as and retried.restarted_as != first and retried.state is ProviderState.QUEUED
    creates = fake.requests_to("POST", "/generations")
    assert len(creates) == 2 and creates[0].json == creates[1].json
    final = await finish(provider, retried.restarted_as)
    assert final.state is ProviderState.FAILED and not final.user_fault and final.restarted_as is None
    assert len(fake.requests_to("POST", "/generations")) == 2


async def test_after_a_restart_a_model_error_is_not_retried(http_session, fake, clock, provider):
    """A new process does not know the request (the API does not echo it), so the failure is final: refunded."""
    fake.fail_next_generation("generation_failed", "Internal model error")
    job = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    restarted = LumaAgentsProvider(http_session, api_key=KEY, clock=clock, base_url=fake.base_url)
    status = await finish(restarted, job)
    assert status.state is ProviderState.FAILED and not status.user_fault
    assert len(fake.requests_to("POST", "/generations")) == 1


async def test_input_failure_codes_read_as_a_plain_reason(provider, fake):
    """image_too_large (an input problem, not moderation) reads as words and is refunded."""
    fake.fail_next_generation("image_too_large", "")
    status = await finish(provider, (await provider.submit(VideoRequest(PROMPT))).provider_job_id)
    assert status.failure_reason == "an input image is too large" and not status.user_fault


async def test_each_get_gives_fresh_urls_and_the_thumbnail(provider, fake, http_session, tmp_path):
    """A late re-GET returns a working URL even after the first one expired; the thumbnail is exposed."""
    job = await completed_generation(provider)
    old = (await provider.poll(job)).video_url
    fake.expire_outputs()
    with pytest.raises(media.MediaError):
        await media.download(http_session, old, tmp_path / "old.mp4")
    fresh = await provider.poll(job)
    assert fresh.video_url != old and fresh.extra["thumbnail_url"].startswith(fake.base_url)
    await media.download(http_session, fresh.video_url, tmp_path / "new.mp4")
    assert (tmp_path / "new.mp4").read_bytes()[4:8] == b"ftyp"


async def test_cancel_sends_nothing(provider, fake):
    """There is no cancel endpoint: cancel() makes no request; the capability table says so."""
    job = (await provider.submit(VideoRequest(PROMPT))).provider_job_id
    before = len(fake.requests)
    await provider.cancel(job)
    assert len(fake.requests) == before and CAPABILITIES.cancel is False


async def test_fetch_credits_proves_the_key_and_explains_there_is_no_balance(provider, fake, http_session, clock):
    """check's call: a file listing proves the key; the answer says there is no balance call."""
    assert "no balance call" in (await provider.fetch_credits() or "")
    wrong = LumaAgentsProvider(http_session, api_key="luma-api-wrong", clock=clock, base_url=fake.base_url)
    with pytest.raises(ProviderAuthError):
        await wrong.fetch_credits()


@pytest.mark.parametrize("how", ["moderated", "deleted"])
async def test_a_refused_or_deleted_file_fails_the_submit_with_a_refund(provider, fake, how):
    """A file Luma rejected, or one deleted since, refuses the job (refunded) before any generation."""
    if how == "moderated":
        fake.fail_next_file("Image failed moderation")
    file_id = await provider.upload_image(PNG, mime_type="image/png", filename="s.png", requester_id=None)
    if how == "deleted":
        fake.files[file_id].state = "deleted"
    with pytest.raises(ProviderRejectedError) as caught:
        await provider.submit(VideoRequest(PROMPT, start_image_file=file_id))
    assert "Luma could not use the start image" in caught.value.public_message and caught.value.refund
    assert fake.requests_to("POST", "/generations") == []


async def test_a_reroll_weeks_later_reuses_the_stored_file(provider, fake):
    """The stored request keeps the file id: a re-roll sends the same file_id, no new upload."""
    file_id = await provider.upload_image(PNG, mime_type="image/png", filename="s.png", requester_id=USER)
    request = VideoRequest(PROMPT, start_image_url="https://cdn.discordapp.com/expired.png", start_image_file=file_id)
    await provider.submit(request)
    await provider.submit(replace(request))
    creates = fake.requests_to("POST", "/generations")
    assert [c.json["video"]["start_frame"] for c in creates] == [{"file_id": file_id}] * 2
    assert len(fake.requests_to("POST", "/files")) == 1
