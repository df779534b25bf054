"""Every request body an adapter sends to a fake in the contract suite is checked against the official SDK's
parameter type for that call (lumaai/types/*_params.py); Segmind's fake checks its own per-slug types itself.
A field name, enum value or nesting the SDK doesn't know fails the test that sent it, naming the field."""

from __future__ import annotations

import re

import pytest
from luma_agents.types import FileCreateParams
from luma_agents.types.generation_create_params import GenerationCreateParams
from lumaai.types import GenerationAudioParams, GenerationUpscaleParams
from lumaai.types.generations import VideoCreateParams, VideoModifyParams, VideoReframeParams

from tests.contract.sdk_types import violations
from tests.fakes.luma import FakeLuma
from tests.fakes.luma_agents import FakeLumaAgents

# (method, path pattern) of each Luma v1 call with a JSON body → the SDK's TypedDict for that body
LUMA_BODY_TYPES = (
    (re.compile(r"/generations(/video)?"), VideoCreateParams),  # /generations: the legacy create path
    (re.compile(r"/generations/video/modify"), VideoModifyParams),
    (re.compile(r"/generations/video/reframe"), VideoReframeParams),
    (re.compile(r"/generations/[^/]+/upscale"), GenerationUpscaleParams),
    (re.compile(r"/generations/[^/]+/audio"), GenerationAudioParams),
)


def luma_body_type(method: str, path: str) -> type | None:
    if method != "POST":
        return None
    return next((tp for pattern, tp in LUMA_BODY_TYPES if pattern.fullmatch(path)), None)


def adapter_violations(fake: FakeLuma) -> list[str]:
    """What the adapter's (not the SDK's own: those carry X-Stainless-Lang) Luma bodies got wrong."""
    found: list[str] = []
    for request in fake.requests:
        body_type = luma_body_type(request.method, request.path)
        if body_type is None or "X-Stainless-Lang" in request.headers:
            continue
        found += [f"{request.method} {request.path}: {v}" for v in violations(request.json, body_type)]
    return found


def agents_violations(fake: FakeLumaAgents) -> list[str]:
    """What the adapter's Agents API bodies (creates of every type, JSON file creates) got wrong."""
    found: list[str] = []
    for request in fake.requests:
        if request.method != "POST" or "X-Stainless-Lang" in request.headers or not isinstance(request.json, dict):
            continue
        body_type = {"/generations": GenerationCreateParams, "/files": FileCreateParams}.get(request.path)
        if body_type is not None:
            found += [f"{request.method} {request.path}: {v}" for v in violations(request.json, body_type)]
    return found


def pytest_configure(config):
    config.addinivalue_line("markers", "sends_refused_bodies: the test sends bodies past the capability table on "
                            "purpose, to prove the fake refuses them too (the Agents API SDK check is off)")


@pytest.fixture(autouse=True)
def luma_bodies_match_the_sdk(monkeypatch, request):
    started: list[FakeLuma | FakeLumaAgents] = []
    on_purpose = request.node.get_closest_marker("sends_refused_bodies") is not None
    for fake_type in (FakeLuma,) if on_purpose else (FakeLuma, FakeLumaAgents):
        monkeypatch.setattr(fake_type, "start", _recording(fake_type.start, started))
    yield started
    problems = [v for fake in started
                for v in (adapter_violations(fake) if isinstance(fake, FakeLuma) else agents_violations(fake))]
    if problems:
        pytest.fail("request bodies the lumaai SDK's types reject:\n" + "\n".join(problems), pytrace=False)


def _recording(start, started: list):
    async def recording_start(self) -> str:
        started.append(self)
        return await start(self)

    return recording_start
