"""The progress of one generation on the terminal (`python -m bot generate`).

On a terminal, rich redraws one line in place, the status text cut to the width so it never wraps into a
stack of lines; piped, a plain line per change. Notices (the demo's "set a key" hint) are printed once,
above the bar.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

from bot.clock import Clock
from bot.domain import ProviderState, ProviderStatus
from bot.log import Redactor

BAR_WIDTH = 24
PLAIN_REPEAT_S = 30  # piped: an unchanged status is repeated this often, so a log shows it is alive


class TerminalProgress:
    def __init__(self, console: Console, clock: Clock, redact: Redactor | None = None) -> None:
        self.console = console
        self.clock = clock
        self.redact = redact or Redactor(())
        self.live = console.is_terminal
        self._started = clock.monotonic()
        self._notices: set[str] = set()
        self._last_key: tuple[object, ...] = ()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> TerminalProgress:
        if self.live:
            self._bar = Progress(
                TextColumn("{task.fields[label]}", markup=False),
                BarColumn(bar_width=BAR_WIDTH),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}", markup=False,
                           table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
                console=self.console, expand=True, get_time=self.clock.monotonic,
                redirect_stdout=False, redirect_stderr=False,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task("starting", total=None, label="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def show(self, label: str, status: ProviderStatus | None, note: str = "") -> None:
        """Draw the state of the generation at provider `label` (None: the create request is on its way)."""
        if status is not None and status.extra.get("demo") and status.raw_state:
            self.notice(status.raw_state)  # the demo's hint is its raw state: say it once, not on every line
            state = status.state.value
        else:
            state = "submitting" if status is None else (status.raw_state or status.state.value)
        fraction = None if status is None else status.progress
        if status is not None and status.state is ProviderState.COMPLETED:
            fraction = 1.0
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        text = self.redact(f"{state} ({note})" if note else state)
        if self._bar is not None and self._task is not None:
            total = None if fraction is None else 1.0
            self._bar.update(self._task, description=text, label=label, total=total, completed=fraction or 0.0)
            self._bar.refresh()
            return
        elapsed = self.clock.monotonic() - self._started
        key = (label, state, fraction, note, int(elapsed) // PLAIN_REPEAT_S)
        if key != self._last_key:
            self._last_key = key
            self._print(f"{_plain_bar(fraction)} {_clock(elapsed)} {label} {text}")

    def notice(self, text: str) -> None:
        """A message printed once, above the bar."""
        if text not in self._notices:
            self._notices.add(text)
            self.say(text)

    def say(self, text: str) -> None:
        """A message of its own, above the bar."""
        self._print(self.redact(text))

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=not self.live)


def _plain_bar(fraction: float | None) -> str:
    if fraction is None:
        return f"[{'-' * BAR_WIDTH}]   ? "
    filled = round(fraction * BAR_WIDTH)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction:4.0%}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:d}:{rest:02d}"
