"""Contract: the demo provider works offline and hands out copies of a real shipped MP4."""

from __future__ import annotations

import aiohttp
import pytest

from bot import media
from bot.config import ProviderConfig
from bot.domain import ProviderState, VideoRequest
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers import demo as demo_module
from tests.fakes.clock import ManualClock

PACKAGED = demo_module.packaged_clip()


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def closed_session():
    """A session that is already closed: any network use by the provider would raise."""
    session = aiohttp.ClientSession()
    await session.close()
    return session


@pytest.fixture
def provider(closed_session, clock, tmp_path):
    context = ProviderContext(session=closed_session, clock=clock, temp_dir=tmp_path / "tmp")
    return build_provider(ProviderConfig("demo", None, None), context)


def test_packaged_clip_is_a_small_real_mp4():
    """bot/assets/demo.mp4 exists, is under 300 KB and starts with an ISO-BMFF ftyp box."""
    data = PACKAGED.read_bytes()
    assert 10_000 < len(data) < 300_000
    assert media.looks_like_video(data[:16]) and data[4:8] == b"ftyp"
    assert b"moov" in data and b"mdat" in data


def test_identity_and_generous_capabilities(provider):
    """The demo satisfies VideoProvider and offers every option so the whole UI can be tried."""
    assert isinstance(provider, VideoProvider)
    assert (provider.name, provider.display_name) == ("demo", "Demo (free sample clip)")
    assert provider.poll_interval == 3.0
    caps = provider.capabilities
    assert caps.models == ("demo",) and len(caps.aspect_ratios) == 7
    assert set(caps.resolutions) == {"540p", "720p", "1080p", "4k"} and set(caps.durations) == {"5s", "9s", "10s"}
    assert all((caps.loop, caps.start_image, caps.end_image, caps.extend, caps.enhance, caps.cancel))
    request = VideoRequest(
        prompt="x",
        aspect_ratio="21:9",
        resolution="4k",
        duration="10s",
        loop=True,
        start_image_url="https://img.example/a.jpg",
        extend_of="demo-1",
        enhance=True,
    )
    assert caps.problems(request) == []


async def test_submit_poll_completes_with_a_copy_of_the_clip(provider, clock, tmp_path):
    """submit → QUEUED, RUNNING until 6 s of clock time, then COMPLETED with a fresh MP4 copy."""
    first = await provider.submit(VideoRequest(prompt="a fox"))
    assert first.state is ProviderState.QUEUED and first.provider_job_id.startswith("demo-")
    clock.advance(3)
    running = await provider.poll(first.provider_job_id)
    assert running.state is ProviderState.RUNNING and running.progress == pytest.approx(0.5)
    clock.advance(3)
    done = await provider.poll(first.provider_job_id)
    assert done.state is ProviderState.COMPLETED and done.video_url is None
    clip = done.video_file
    assert clip.parent == tmp_path / "tmp" and clip.suffix == ".mp4"
    assert clip.resolve() != PACKAGED.resolve()
    assert clip.read_bytes() == PACKAGED.read_bytes() and clip.read_bytes()[4:8] == b"ftyp"


async def test_every_status_says_it_is_a_demo(provider, clock):
    """Each status carries extra demo=true and a raw_state telling how to configure a real provider."""
    first = await provider.submit(VideoRequest(prompt="a fox"))
    running = await provider.poll(first.provider_job_id)
    clock.advance(10)
    done = await provider.poll(first.provider_job_id)
    for status in (first, running, done):
        assert status.extra == {"demo": "true"}
        assert "free sample clip" in status.raw_state and "LUMAAI_API_KEY" in status.raw_state


async def test_deleting_the_delivered_copy_keeps_the_packaged_clip(provider, clock):
    """Callers delete the file after delivery; the packaged clip survives and the next job gets its own."""
    job_a = (await provider.submit(VideoRequest(prompt="a"))).provider_job_id
    job_b = (await provider.submit(VideoRequest(prompt="b"))).provider_job_id
    clock.advance(6)
    clip_a = (await provider.poll(job_a)).video_file
    assert clip_a.resolve() != PACKAGED.resolve()  # never delete the shipped asset, even if the code is wrong
    await media.remove_quietly(clip_a)
    clip_b = (await provider.poll(job_b)).video_file
    assert not clip_a.exists() and clip_b.exists() and clip_a != clip_b
    assert PACKAGED.is_file()


async def test_unknown_id_after_restart_completes(provider):
    """An id this process never saw (the bot restarted mid-job) simply completes."""
    status = await provider.poll("demo-from-before-the-restart")
    assert status.state is ProviderState.COMPLETED and status.video_file.is_file()


async def test_cancel_forgets_the_job(provider):
    """cancel drops the pending job without error; cancelling twice is harmless."""
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    assert provider.is_pending(job_id)
    await provider.cancel(job_id)
    await provider.cancel(job_id)
    assert not provider.is_pending(job_id)


async def test_credits_say_demo_mode(provider):
    """fetch_credits answers without any network call."""
    assert await provider.fetch_credits() == "costs nothing"


async def test_no_network_is_used(closed_session, clock, tmp_path):
    """A whole job runs with a closed HTTP session, so nothing can have gone over the network."""
    provider = demo_module.create(
        ProviderConfig("demo", None, None), ProviderContext(session=closed_session, clock=clock, temp_dir=tmp_path)
    )
    job_id = (await provider.submit(VideoRequest(prompt="a fox"))).provider_job_id
    clock.advance(6)
    assert (await provider.poll(job_id)).state is ProviderState.COMPLETED
    assert await provider.fetch_credits()
    assert closed_session.closed
