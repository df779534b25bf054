"""pytest plugin: every REST request the bot sends under simcord is checked against Discord's OpenAPI spec
and documented limits (rules.py). A violation fails the test that caused it, naming the request, the
field and the rule. The terminal summary says how many requests were validated (summed over xdist
workers). Loaded from tests/conftest.py, so it covers every test that runs a bot in simcord."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from bot.discord_spec import find_operation, load_spec
from tests.discord_conformance import recorder, rules

COUNT_KEY = "discord_conformance_validated"
SECONDS_KEY = "discord_conformance_seconds"
OPERATIONS_KEY = "discord_conformance_operations"


class ConformanceError(AssertionError):
    """The bot sent Discord a request Discord would refuse (or that breaks a documented limit)."""


class Conformance:
    def __init__(self) -> None:
        self.validated = 0
        self.seconds = 0.0  # spent validating, reported so the checker's cost stays visible
        self.operations: Counter[str] = Counter()
        self.recorded: list[recorder.Request] = []  # requests of the running test, not yet validated
        self.pending: list[str] = []  # violations not yet reported to a test
        self._undo = None

    # --- recording ---------------------------------------------------------------------------------

    def observe(self, request: recorder.Request) -> None:
        # Only recorded here; validated when the test phase ends, so the check never costs the bot real
        # time inside simcord's settling (its timeouts are wall-clock).
        self.recorded.append(request)

    def _validate(self, request: recorder.Request) -> None:
        try:
            found = rules.violations(request)
        except Exception as error:  # a checker bug must be loud, never a silent pass
            found = [f"(checker): {type(error).__name__}: {error}"]
        operation = find_operation(request.method, request.path)
        self.validated += 1
        self.operations[operation.operation_id if operation else f"{request.method} {request.path}"] += 1
        self.pending += (f"{request}: {violation}" for violation in found)

    def raise_pending(self, phase: str) -> None:
        recorded, self.recorded = self.recorded, []
        started = time.perf_counter()
        for request in recorded:
            self._validate(request)
        self.seconds += time.perf_counter() - started
        if self.pending:
            found, self.pending = self.pending, []
            lines = "\n  ".join(found)
            raise ConformanceError(f"Discord would refuse {len(found)} request(s) sent during {phase}:\n  {lines}")

    # --- pytest hooks ------------------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        load_spec()  # once per session (per xdist worker): the spec is parsed before the first test
        self._undo = recorder.install(self.observe)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._undo is not None:
            self._undo()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        self.recorded, self.pending = [], []
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item):
        # Requests made while fixtures started the bot (the command sync) are reported here too, so the
        # test fails rather than errors.
        try:
            return (yield)
        finally:
            self.raise_pending("the test (and its setup)")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item):
        try:
            return (yield)
        finally:
            self.raise_pending("teardown")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: hand the figures to the controller
            workeroutput[COUNT_KEY] = self.validated
            workeroutput[SECONDS_KEY] = self.seconds
            workeroutput[OPERATIONS_KEY] = dict(self.operations)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", {})
        self.validated += output.get(COUNT_KEY, 0)
        self.seconds += output.get(SECONDS_KEY, 0.0)
        self.operations.update(output.get(OPERATIONS_KEY, {}))

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if getattr(config, "workerinput", None) is not None:
            return
        top = ", ".join(f"{name} {count}" for name, count in self.operations.most_common())
        terminalreporter.write_sep("-", "Discord conformance")
        terminalreporter.write_line(
            f"{self.validated} REST requests validated against Discord's OpenAPI spec and documented limits "
            f"in {self.seconds:.1f} s" + (f" ({top})" if top else "")
        )


def pytest_configure(config: pytest.Config) -> None:
    # pytest_configure is historic: the registered plugin's own pytest_configure runs at once.
    if not config.pluginmanager.has_plugin("discord-conformance"):
        config.pluginmanager.register(Conformance(), "discord-conformance")
