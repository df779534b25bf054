"""Unit: the pieces behind the result buttons — extensions stay on their provider, the Edit modal's
prompt split, and the extension request built from a finished job."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.domain import Job, JobState, VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import fit_request
from bot.providers.base import Capabilities
from bot.providers.luma import CAPABILITIES as LUMA
from cogs._modals import MORE_MAX, PART_MAX, join_prompt, split_prompt
from cogs._views import extension_request, result_view

CAN_EXTEND = replace(LUMA, models=("luma-v1",), default_model="luma-v1", resolutions=("720p",), durations=("5s",))
NO_EXTEND = Capabilities(models=("ray-2",), default_model="ray-2", extend=False)


class Provider:
    def __init__(self, name: str, capabilities: Capabilities) -> None:
        self.name = name
        self.display_name = name.title()
        self.capabilities = capabilities


class Runner:
    def __init__(self, *providers: Provider) -> None:
        self.providers = {p.name: p for p in providers}


def finished(**fields) -> Job:
    base = dict(
        id=7, guild_id=1, channel_id=2, user_id=3, state=JobState.COMPLETED, created_at=datetime(2026, 1, 1, tzinfo=UTC),
        request=VideoRequest(prompt="a fox", start_image_url="https://cdn/x.png", end_image_url="https://cdn/y.png"),
        provider="luma", provider_job_id="gen-1",
    )  # fmt: skip
    return Job(**{**base, **fields})


def test_an_extension_fits_only_the_provider_that_made_the_clip():
    """extend_of with extend_provider=umami fits UmamiAI, never Luma, though Luma can extend too."""
    request = VideoRequest(prompt="more", extend_of="gen-1", extend_provider="umami")
    assert fit_request(request, Provider("umami", CAN_EXTEND)) is request
    assert fit_request(request, Provider("luma", LUMA)) is None


def test_an_extension_without_a_known_provider_fits_nowhere():
    """A generation id with no provider recorded is sent nowhere rather than guessed."""
    assert fit_request(VideoRequest(prompt="more", extend_of="gen-1"), Provider("luma", LUMA)) is None


def test_extension_request_continues_the_clip_without_image_keyframes():
    """Extend keeps prompt and options, points at the clip's generation on its provider and drops images."""
    request = extension_request(finished(), Runner(Provider("luma", LUMA)))
    assert (request.extend_of, request.extend_provider) == ("gen-1", "luma")
    assert request.prompt == "a fox" and request.start_image_url is None and request.end_image_url is None


@pytest.mark.parametrize(
    ("job", "runner", "says"),
    [
        (finished(provider="segmind"), Runner(Provider("segmind", NO_EXTEND)), "Segmind can't extend clips"),
        (finished(provider="gone"), Runner(Provider("luma", LUMA)), "no longer uses"),
        (finished(state=JobState.FAILED), Runner(Provider("luma", LUMA)), "Only a finished clip"),
        (finished(provider_job_id=None), Runner(Provider("luma", LUMA)), "Only a finished clip"),
    ],
)
def test_extension_request_explains_why_not(job, runner, says):
    """A clip that can't be extended gets a reason a user can read."""
    with pytest.raises(InvalidRequestError) as caught:
        extension_request(job, runner)
    assert says in caught.value.public_message


def test_result_view_shows_extend_only_when_possible():
    """The Extend button is left out where the provider can't continue the clip."""
    with_extend = [item.item.label for item in result_view(5, extendable=True).children]
    without = [item.item.label for item in result_view(5, extendable=False).children]
    assert with_extend == ["Re-roll", "Edit prompt", "Extend", "Delete"]
    assert without == ["Re-roll", "Edit prompt", "Delete"]


@pytest.mark.parametrize("length", [3, 3999, 4000, 4001, 4600, 5000])
def test_prompt_split_fits_the_modal_and_joins_back(length):
    """Any prompt up to 5000 characters fits the two text inputs (4000 + 1000) and joins back unchanged."""
    prompt = ("word " * 1000)[:length].strip() or "abc"
    head, tail = split_prompt(prompt)
    assert len(head) <= PART_MAX and len(tail) <= MORE_MAX
    assert join_prompt(head, tail) == prompt


def test_join_prompt_adds_what_was_typed_in_the_second_box():
    """Text typed into the empty second box is appended with a space."""
    assert join_prompt(" a fox ", " at dusk ") == "a fox at dusk"
    assert join_prompt("a fox", None) == "a fox"
