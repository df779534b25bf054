"""Unit: generate's progress display is one redrawn line fitted to a terminal's width, plain lines when piped."""

from __future__ import annotations

import io
import re

from rich.console import Console

from bot.domain import ProviderState, ProviderStatus
from bot.log import Redactor
from bot.providers.demo import DEMO_EXTRA, DEMO_NOTICE
from bot.terminal import TerminalProgress
from tests.fakes.clock import ManualClock

LONG = "dreaming up the scene with a very long provider status text " * 4
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def running(progress: float | None, state: str = LONG, **fields) -> ProviderStatus:
    return ProviderStatus(ProviderState.RUNNING, "job-1", raw_state=state, progress=progress, **fields)


def frames(text: str) -> list[str]:
    """What a terminal shows after each redraw: the text between carriage returns, control codes removed."""
    return [CONTROL.sub("", part) for part in text.replace("\n", "\r").split("\r") if CONTROL.sub("", part).strip()]


def test_on_a_terminal_one_line_is_redrawn_and_fitted_to_the_width():
    """At 100 columns a long status is cut to fit: every redraw stays one line of at most 100 characters."""
    out = io.StringIO()
    clock = ManualClock()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with TerminalProgress(console, clock) as bar:
        bar.show("luma", None)
        for step in range(1, 5):
            clock.advance(15)
            bar.show("luma", running(step / 4))
    text = out.getvalue()
    assert text.count("\n") == 1  # the finished bar is left on screen; every redraw replaced the line
    shown = frames(text)
    assert len(shown) >= 5 and all(len(line) <= 100 for line in shown)
    assert "…" in shown[-1] and "100%" in shown[-1] and "0:01:00" in shown[-1] and shown[-1].startswith("luma")


def test_on_a_terminal_the_demo_notice_is_printed_once_above_the_bar():
    """The demo's hint appears once, on its own line above the bar, not inside every redraw."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with TerminalProgress(console, ManualClock()) as bar:
        for fraction in (0.0, 0.5, 1.0):
            bar.show("demo", ProviderStatus(ProviderState.RUNNING, "d-1", raw_state=DEMO_NOTICE, progress=fraction,
                                            extra=dict(DEMO_EXTRA)))  # fmt: skip
    lines = [CONTROL.sub("", line).split("\r")[-1] for line in out.getvalue().split("\n")]
    bar_at = next(i for i, line in enumerate(lines) if line.startswith("demo "))
    assert "".join(lines[:bar_at]).rstrip() == DEMO_NOTICE  # wrapped at the terminal's width, whole, above the bar
    assert out.getvalue().count("LUMAAI_API_KEY") == 1
    assert "demo running" not in out.getvalue() and "demo demo" not in out.getvalue()


def test_piped_each_change_is_one_plain_line():
    """Into a pipe: no control codes, a line per change (an unchanged status is not repeated), nothing cut."""
    out = io.StringIO()
    clock = ManualClock()
    console = Console(file=out, width=100)
    with TerminalProgress(console, clock, Redactor(["sk-secret"])) as bar:
        bar.show("luma", None)
        bar.show("luma", running(0.25, "dreaming sk-secret"))
        bar.show("luma", running(0.25, "dreaming sk-secret"))
        clock.advance(75)
        bar.show("luma", running(0.5, LONG))
        bar.say("luma is unavailable; trying the next provider")
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    assert lines[0] == "[------------------------]   ?  0:00 luma submitting"
    assert lines[1] == "[######------------------]  25% 0:00 luma dreaming ***"
    assert lines[2] == f"[############------------]  50% 1:15 luma {LONG}"
    assert lines[3] == "luma is unavailable; trying the next provider" and len(lines) == 4
