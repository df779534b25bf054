"""Unit: capability tables refuse impossible options up front, all at once, before anything is charged."""

from __future__ import annotations

import pytest

from bot.domain import VideoRequest
from bot.errors import InvalidRequestError
from bot.jobs import fit_request
from bot.providers.base import Capabilities, check_request
from bot.providers.luma import CAPABILITIES as LUMA

NARROW = Capabilities(
    models=("fast-1", "big-2"),
    default_model="fast-1",
    aspect_ratios=("16:9", "9:16"),
    resolutions=("720p", "1080p"),
    durations=("5s", "10s"),
    loop=False,
    start_image=False,
    end_image=False,
    model_resolutions={"fast-1": ("720p",)},
    model_durations={"big-2": ("10s",)},
)


class Provider:
    """The least a provider needs for fit_request: a name and a capability table."""

    def __init__(self, name: str, capabilities: Capabilities) -> None:
        self.name = name
        self.display_name = name.title()
        self.capabilities = capabilities


def test_possible_request_has_no_problems():
    """A request within the table has no problems and passes check_request."""
    request = VideoRequest(prompt="p", aspect_ratio="9:16", resolution="1080p", duration="9s", model="ray-2", loop=True)
    assert LUMA.problems(request) == []
    check_request(LUMA, "Luma", request)


def test_default_model_is_used_when_none_is_chosen():
    """With no model chosen, the default model's narrower lists apply (fast-1 only does 720p)."""
    assert NARROW.problems(VideoRequest(prompt="p", resolution="720p")) == []
    assert NARROW.problems(VideoRequest(prompt="p", resolution="1080p")) == [
        "resolution `1080p` is not possible; use `720p`"
    ]


def test_problems_lists_every_problem_at_once():
    """A request wrong in six ways gets six problems, in one answer, each naming what is possible."""
    request = VideoRequest(
        prompt="p", model="ray-9", aspect_ratio="2:1", resolution="8k", duration="30s", loop=True,
        end_image_url="https://x/end.png", start_image_url="https://x/start.png",
    )  # fmt: skip
    problems = NARROW.problems(request)
    assert problems == [
        "model `ray-9` is not offered; choose one of `fast-1`, `big-2`",
        "aspect ratio `2:1` is not possible; use `16:9`, `9:16`",
        "resolution `8k` is not possible; use `720p`, `1080p`",
        "duration `30s` is not possible; use `5s`, `10s`",
        "looping is not possible",
        "a start image is not possible",
        "an end image is not possible",
        "loop cannot be combined with an end image (Luma: 'Loop is not supported for end frame')",
    ]


def test_per_model_durations_apply():
    """A model with its own duration list is checked against it, not the provider-wide one."""
    assert NARROW.problems(VideoRequest(prompt="p", model="big-2", duration="5s")) == [
        "duration `5s` is not possible; use `10s`"
    ]
    assert NARROW.problems(VideoRequest(prompt="p", model="big-2", duration="10s", resolution="1080p")) == []


def test_luma_refuses_ten_seconds():
    """Luma offers 5s and 9s: 10s is refused and the refusal names both."""
    assert LUMA.problems(VideoRequest(prompt="p", duration="10s")) == ["duration `10s` is not possible; use `5s`, `9s`"]


def test_loop_with_end_image_is_refused_even_where_both_exist():
    """Luma has loop and end images, but not together."""
    problems = LUMA.problems(VideoRequest(prompt="p", loop=True, end_image_url="https://x/e.png"))
    assert len(problems) == 1 and "loop cannot be combined with an end image" in problems[0]
    assert LUMA.problems(VideoRequest(prompt="p", loop=True, start_image_url="https://x/s.png")) == []


def test_extend_refused_where_not_offered():
    """Extending a clip is refused by a provider without extend."""
    assert NARROW.problems(VideoRequest(prompt="p", extend_of="gen-1")) == ["extending a clip is not possible"]
    assert LUMA.problems(VideoRequest(prompt="p", extend_of="gen-1")) == []


def test_check_request_public_message_names_options_and_says_nothing_charged():
    """The user's refusal names the provider, every problem with its alternatives, and that nothing was charged."""
    request = VideoRequest(prompt="p", duration="10s", resolution="8k")
    with pytest.raises(InvalidRequestError) as caught:
        check_request(LUMA, "Luma Dream Machine", request)
    message = caught.value.public_message
    assert message.startswith("Luma Dream Machine can't do that: ")
    assert "resolution `8k` is not possible; use `540p`, `720p`, `1080p`, `4k`" in message
    assert "duration `10s` is not possible; use `5s`, `9s`" in message
    assert message.endswith("Nothing was charged.")
    assert caught.value.code == "invalid_request"


def test_fit_request_returns_the_request_when_possible():
    """A provider that can do the request gets it unchanged."""
    request = VideoRequest(prompt="p", model="ray-flash-2")
    assert fit_request(request, Provider("luma", LUMA)) is request


def test_fit_request_never_swaps_a_chosen_model():
    """A user-chosen model another provider lacks is not replaced by that provider's default: None."""
    request = VideoRequest(prompt="p", model="ray-2")
    assert fit_request(request, Provider("narrow", NARROW)) is None


def test_fit_request_without_model_uses_the_providers_default():
    """With no model chosen, any provider that can do the options fits, keeping model=None."""
    request = VideoRequest(prompt="p", resolution="720p", duration="5s")
    assert fit_request(request, Provider("narrow", NARROW)) is request
    assert fit_request(request, Provider("luma", LUMA)) is request


def test_fit_request_none_when_options_impossible():
    """A provider that cannot do an option (loop here) does not fit."""
    assert fit_request(VideoRequest(prompt="p", loop=True), Provider("narrow", NARROW)) is None
