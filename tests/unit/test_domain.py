"""Unit: job states, their allowed transitions, and the options line of a request."""

from __future__ import annotations

import pytest

from bot.domain import ALLOWED_TRANSITIONS, TERMINAL_STATES, JobState, VideoRequest, can_transition

S = JobState

# The life of a job, stated here independently of the table in bot/domain.py.
EXPECTED_ALLOWED = {
    (S.QUEUED, S.SUBMITTING), (S.QUEUED, S.FAILED), (S.QUEUED, S.CANCELLED),
    (S.SUBMITTING, S.RUNNING), (S.SUBMITTING, S.DELIVERING), (S.SUBMITTING, S.QUEUED),
    (S.SUBMITTING, S.FAILED), (S.SUBMITTING, S.CANCELLED),
    (S.RUNNING, S.DELIVERING), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED),
    (S.DELIVERING, S.COMPLETED), (S.DELIVERING, S.FAILED),
}  # fmt: skip


def test_every_state_has_a_transition_entry():
    """The transition table covers every state, so can_transition never raises KeyError."""
    assert set(ALLOWED_TRANSITIONS) == set(JobState)


@pytest.mark.parametrize("old", list(JobState))
@pytest.mark.parametrize("new", list(JobState))
def test_transition_allowed_exactly_as_the_lifecycle_says(old, new):
    """can_transition accepts exactly the lifecycle's edges and refuses every other pair (self-loops included)."""
    assert can_transition(old, new) is ((old, new) in EXPECTED_ALLOWED)


def test_terminal_states_are_completed_failed_cancelled():
    """Completed, failed and cancelled are terminal; the other four states are active."""
    assert {s for s in JobState if s.terminal} == {S.COMPLETED, S.FAILED, S.CANCELLED} == TERMINAL_STATES
    assert {s for s in JobState if s.active} == {S.QUEUED, S.SUBMITTING, S.RUNNING, S.DELIVERING}


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_terminal_states_lead_nowhere(state):
    """A finished job can never move again (no resurrection, no double delivery)."""
    assert not any(can_transition(state, new) for new in JobState)


def test_delivering_cannot_be_cancelled():
    """Once the clip is being posted, Cancel is too late: delivering → cancelled is refused."""
    assert not can_transition(S.DELIVERING, S.CANCELLED)
    assert not can_transition(S.QUEUED, S.RUNNING)  # no skipping the submit step


def test_states_serialise_as_their_lowercase_names():
    """JobState values are the words stored in the database."""
    assert [s.value for s in JobState] == [
        "queued", "submitting", "running", "delivering", "completed", "failed", "cancelled",
    ]  # fmt: skip
    assert JobState("running") is S.RUNNING


def test_options_summary_defaults():
    """A plain request summarises as ratio · resolution · duration."""
    assert VideoRequest(prompt="a fox").options_summary() == "16:9 · 720p · 5s"


def test_options_summary_lists_every_option_in_order():
    """Loop, camera, keyframes and enhance are all named, after the three basics."""
    request = VideoRequest(
        prompt="a fox", aspect_ratio="9:16", resolution="1080p", duration="9s", loop=True,
        camera="orbit_left", start_image_url="https://x/a.png", enhance=True,
    )  # fmt: skip
    assert request.options_summary() == "9:16 · 1080p · 9s · loop · camera orbit_left · keyframes · enhanced"


def test_options_summary_end_image_alone_counts_as_keyframes():
    """An end image without a start image still shows `keyframes`."""
    summary = VideoRequest(prompt="p", end_image_url="https://x/b.png").options_summary()
    assert summary.endswith(" · keyframes")
    assert "loop" not in summary and "camera" not in summary and "enhanced" not in summary


def test_with_model_returns_a_copy():
    """with_model changes only the model and leaves the frozen original untouched."""
    original = VideoRequest(prompt="p", loop=True)
    changed = original.with_model("ray-flash-2")
    assert changed.model == "ray-flash-2" and changed.loop and changed.prompt == "p"
    assert original.model is None
