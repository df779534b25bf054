"""Actions on a clip as data: the capability table's refusals, the stored request round trip, prices, and the
menu's entries, each derived from a provider's `capabilities.actions`."""

from __future__ import annotations

from bot.config import DEFAULT_PRICE_TABLE, parse_price_table
from bot.domain import VideoRequest
from bot.policy import estimate_spend, price_for
from bot.providers import luma, luma_agents
from bot.providers.base import Capabilities
from bot.storage.rows import request_from_json, request_to_json
from cogs._clip_menu import menu_options

NONE = Capabilities(models=("m",), default_model="m")


def test_an_action_request_round_trips_through_the_stored_json():
    """Every action field survives the job row's JSON, so a restart resumes the same action."""
    request = VideoRequest("p", action="modify", action_of="gen-1", strength="flex_3", negative_prompt="no music",
                           source_video_url="https://x/v.mp4", source_video_file="f-1", extend_provider="luma",
                           end_of="gen-2")  # fmt: skip
    assert request_from_json(request_to_json(request)) == request


def test_the_table_refuses_what_a_provider_cannot_do_and_names_what_it_can():
    """No actions: refused outright; Ray 3.2 audio: refused naming its actions; bad strength/ratio/resolution named."""
    assert NONE.problems(VideoRequest("p", action="upscale", action_of="g")) == ["`upscale` is not possible"]
    [audio] = luma_agents.CAPABILITIES.problems(VideoRequest("p", action="audio", action_of="g"))
    assert "`upscale`, `modify`, `reframe`, `extend`, `bridge`" in audio
    v1 = luma.CAPABILITIES
    assert "strength must be one of" in v1.problems(VideoRequest("p", action="modify", action_of="g", strength="x"))[0]
    assert "aspect ratio `5:4`" in v1.problems(VideoRequest("p", action="reframe", action_of="g", aspect_ratio="5:4"))[0]
    assert v1.problems(VideoRequest("p", action="upscale", action_of="g", resolution="4k")) == []
    assert "needs a finished clip" in v1.problems(VideoRequest("p", action="upscale"))[0]


def test_backward_and_bridge_follow_the_frame_rules():
    """On Ray 3.2 an extension backward or a bridge is a framed clip: 5 s and SDR only."""
    caps = luma_agents.CAPABILITIES
    assert caps.problems(VideoRequest("p", end_of="g", duration="5s")) == []
    assert any("needs duration" in p for p in caps.problems(VideoRequest("p", end_of="g", duration="10s")))
    assert any("SDR only" in p for p in caps.problems(VideoRequest("p", extend_of="a", end_of="b", hdr=True)))
    assert any("backward" in p for p in NONE.problems(VideoRequest("p", end_of="g")))


def test_modify_has_a_default_price_and_other_actions_fall_back_to_the_clip():
    """luma:modify is Luma's published $1.75; an upscale is estimated as a clip of its provider and model."""
    prices = dict(parse_price_table(DEFAULT_PRICE_TABLE, []))
    assert price_for(prices, "luma", "ray-2", "720p", action="modify") == 1.75
    assert price_for(prices, "luma", "ray-2", "4k", action="upscale") == 0.71
    assert price_for(prices, "luma-agents", "ray-3.2", "1080p", action="upscale") == 1.20
    [line] = estimate_spend([{"provider": "luma", "model": "ray-2", "duration": "5s", "resolution": "720p",
                              "jobs": 2, "completed": 2, "failed": 0, "action": "modify"}], prices, {})  # fmt: skip
    assert line.estimate == 3.50


def test_the_menu_lists_exactly_the_providers_actions():
    """Luma v1 lists all seven entries, Ray 3.2 no audio and one upscale tier, a provider without actions none."""
    assert [o.value for o in menu_options(luma.CAPABILITIES)] == [
        "upscale:1080p", "upscale:4k", "audio", "modify", "reframe", "extend:backward", "bridge"]  # fmt: skip
    ray = menu_options(luma_agents.CAPABILITIES)
    assert [o.value for o in ray] == ["upscale:1080p", "modify", "reframe", "extend:backward", "bridge"]
    assert "no upscaler" in (ray[0].description or "")
    assert menu_options(NONE) == []
