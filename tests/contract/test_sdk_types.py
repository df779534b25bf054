"""The strict SDK-parameter checker (tests/contract/sdk_types.py) catches what it should and passes real bodies."""

from __future__ import annotations

import pytest
from lumaai.types import GenerationUpscaleParams
from lumaai.types.generations import VideoCreateParams, VideoModifyParams, VideoReframeParams

from tests.contract.conftest import luma_body_type
from tests.contract.sdk_types import violations
from tests.fakes.segmind import SLUGS

GOOD_CREATE = {
    "generation_type": "video", "model": "ray-2", "prompt": "a fox", "aspect_ratio": "16:9", "loop": False,
    "resolution": "720p", "duration": "5s", "concepts": [{"key": "orbit_left"}],
    "keyframes": {"frame0": {"type": "generation", "id": "g1"}, "frame1": {"type": "image", "url": "https://x/y.png"}},
}  # fmt: skip


def test_a_full_valid_create_body_passes():
    """Every field the SDK knows, both keyframe kinds and a concept: no violations."""
    assert violations(GOOD_CREATE, VideoCreateParams) == []
    assert violations({"model": "ray-flash-2"}, VideoCreateParams) == []
    assert violations({"model": "ray-2", "resolution": "2160p", "duration": "7s"}, VideoCreateParams) == []  # open str


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**GOOD_CREATE, "modell": "ray-2"}, "body.modell: VideoCreateParams has no field 'modell'"),
        ({"prompt": "no model"}, "body.model: required by VideoCreateParams but missing"),
        ({"model": "ray-1-6"}, "body.model: 'ray-1-6' is not one of 'ray-2', 'ray-flash-2'"),
        ({"model": "ray-2", "aspect_ratio": "2:1"}, "body.aspect_ratio: '2:1' is not one of"),
        ({"model": "ray-2", "loop": "true"}, "body.loop: expected a boolean"),
        ({"model": "ray-2", "duration": 5}, "body.duration: matches no member"),
        ({"model": "ray-2", "concepts": {"key": "pan_left"}}, "body.concepts: expected a list"),
        ({"model": "ray-2", "concepts": [{"name": "pan_left"}]}, "body.concepts[0].name: Concept has no field"),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "video", "id": "g"}}}, "body.keyframes.frame0: matches no"),
        ({"model": "ray-2", "keyframes": {"frame0": {"type": "image", "uri": "https://x"}}}, "body.keyframes.frame0"),
        ({"model": "ray-2", "keyframes": {"start": {"type": "image", "url": "https://x"}}}, "body.keyframes.start"),
        ({"model": "ray-2", "keyframes": {"frame0": {"url": "https://x"}}}, "body.keyframes.frame0"),
        (["model", "ray-2"], "body: expected an object (VideoCreateParams), got list"),
    ],
)
def test_each_kind_of_mistake_is_caught_and_named(body, expected):
    """Unknown field, missing Required, bad Literal, wrong JSON type, wrong nesting: each named by its path."""
    found = violations(body, VideoCreateParams)
    assert found, body
    assert any(v.startswith(expected) for v in found), found


def test_action_bodies_are_checked_too():
    """Modify needs media+mode+model; reframe's crop bounds are integers; upscale's generation_type is a Literal."""
    modify = {"generation_type": "modify_video", "media": {"url": "https://x/v.mp4"}, "mode": "adhere_1", "model": "ray-2"}
    assert violations(modify, VideoModifyParams) == []
    assert violations({**modify, "mode": "adhere"}, VideoModifyParams)
    assert violations({k: v for k, v in modify.items() if k != "media"}, VideoModifyParams)
    reframe = {"generation_type": "reframe_video", "media": {"url": "https://x"}, "model": "ray-2", "aspect_ratio": "1:1"}
    assert violations({**reframe, "x_start": 0, "y_end": 720}, VideoReframeParams) == []
    assert violations({**reframe, "x_start": 0.5}, VideoReframeParams) == ["body.x_start: expected an integer, got 0.5"]
    assert violations({**reframe, "x_start": True}, VideoReframeParams)
    assert violations({"generation_type": "upscale"}, GenerationUpscaleParams)


def test_segmind_slug_types_follow_the_pages():
    """The fake's per-slug types: ray-flash-2-720p's duration is an integer 5|9; img-2-video needs start_frame."""
    flash = SLUGS["ray-flash-2-720p"]
    assert violations({"prompt": "p", "duration": 9, "end_image_url": "https://x/e.png"}, flash) == []
    assert violations({"prompt": "p", "duration": "9"}, flash)
    assert violations({"prompt": "p", "resolution": "720p"}, flash)
    img = SLUGS["luma-ray-img-2-video"]
    assert violations({"prompt": "p"}, img) == ["body.start_frame: required by LumaRayImg2VideoParams but missing"]
    assert violations({"prompt": "p", "start_frame": "https://x/a.png", "aspect_ratio": "4:3"}, img)
    assert violations({"prompt": "p", "resolution": "1080p"}, SLUGS["luma-txt-2-video"])


def test_body_types_are_found_by_path():
    """The contract suite picks the SDK type from the request path; GETs and unknown paths are not checked."""
    assert luma_body_type("POST", "/generations/video") is VideoCreateParams
    assert luma_body_type("POST", "/generations") is VideoCreateParams
    assert luma_body_type("POST", "/generations/video/modify") is VideoModifyParams
    assert luma_body_type("POST", "/generations/abc/upscale") is GenerationUpscaleParams
    assert luma_body_type("GET", "/generations/video") is None
    assert luma_body_type("POST", "/credits") is None
