"""The bot's Prometheus metrics, through `prometheus_client`, one CollectorRegistry per bot.

A `Metrics` holds a registry of its own (never prometheus_client's global default: tests build many bots
in one process) and the families below. `bot.health` serves `Metrics.render()` on `/metrics`.

The instrumented modules call the module-level names (`metrics.JOBS.inc(state=…, provider=…)`); they
record into the *active* bot's metrics (`activate`, called by the bot at start; one bot per process in
production). Label sets per family are capped (MAX_SERIES) so a bug feeding ids into a label cannot
eat memory: later label sets fold into one "other" series.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

# `*_created` timestamps per series double the output and are not part of our documented metrics.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

MAX_SERIES = 500
OTHER = "other"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
DEFAULT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

Family = Counter | Gauge | Histogram


class Metrics:
    """Every reelbot metric in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._seen: dict[str, set[tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        r = self.registry
        self.jobs = Counter(
            "reelbot_jobs_total", "Jobs entering each state, by provider (queued jobs have provider \"none\").",
            ("state", "provider"), registry=r,
        )  # fmt: skip
        self.queue_length = Gauge("reelbot_queue_length", "Jobs waiting for a provider slot.", registry=r)
        self.jobs_in_flight = Gauge(
            "reelbot_jobs_in_flight", "Jobs holding a provider slot (MAX_ACTIVE_JOBS caps it).", registry=r
        )
        self.runner_alive = Gauge("reelbot_runner_alive", "1 while the job runner's dispatcher is running.", registry=r)
        self.gateway_connected = Gauge(
            "reelbot_gateway_connected", "1 while the Discord gateway is connected.", registry=r
        )
        self.provider_latency = Histogram(
            "reelbot_provider_request_seconds",
            "Wall-clock duration of HTTP calls to video providers, by provider and call (method + path pattern).",
            ("provider", "call"), buckets=DEFAULT_BUCKETS, registry=r,
        )  # fmt: skip
        self.provider_errors = Counter(
            "reelbot_provider_errors_total", "Failed HTTP calls to video providers, by provider and error code.",
            ("provider", "code"), registry=r,
        )  # fmt: skip
        self.quota_refusals = Counter(
            "reelbot_quota_refusals_total",
            "Requests refused before anything was charged, by reason (quota, concurrent, budget, quota_exceeded for "
            "a cooldown, policy_refused for a server rule).",
            ("reason",), registry=r,
        )  # fmt: skip
        self.discord_errors = Counter(
            "reelbot_discord_errors_total", "Discord REST errors met while showing or delivering jobs.",
            ("action", "status", "code"), registry=r,
        )  # fmt: skip

    def child(self, family: Family, labels: dict[str, object]) -> Family:
        """`family.labels(...)`, with label sets past MAX_SERIES folded into one "other" series."""
        names: Sequence[str] = family._labelnames  # prometheus_client keeps them only privately
        if not names:
            if labels:
                raise ValueError(f"{family._name} takes no labels, got {tuple(labels)}")
            return family
        if set(labels) != set(names):
            raise ValueError(f"{family._name} takes labels {tuple(names)}, got {tuple(labels)}")
        key = tuple(str(labels[n]) for n in names)
        with self._lock:
            seen = self._seen.setdefault(family._name, set())
            if key not in seen:
                if len(seen) >= MAX_SERIES:
                    key = tuple(OTHER for _ in names)
                seen.add(key)
        return family.labels(*key)

    def value(self, name: str, **labels: object) -> float:
        """The current value of sample `name` (0 when it was never set), e.g. for tests and `check`."""
        found = self.registry.get_sample_value(name, {k: str(v) for k, v in labels.items()})
        return found or 0.0

    def total(self, name: str) -> float:
        """The sum of sample `name` over all its label sets."""
        return sum(
            sample.value for metric in self.registry.collect() for sample in metric.samples if sample.name == name
        )

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (0.0.4)."""
        return generate_latest(self.registry)


_active = Metrics()  # until a bot activates its own: `python -m bot generate`, unit tests


def activate(bot_metrics: Metrics) -> None:
    """Make `bot_metrics` the one the module-level families below record into."""
    global _active
    _active = bot_metrics


def active() -> Metrics:
    return _active


class _Recorder:
    """A module-level handle on one family of the active Metrics, so call sites need no bot reference."""

    def __init__(self, attribute: str, sample: str) -> None:
        self._attribute = attribute
        self._sample = sample

    def _child(self, labels: dict[str, object]) -> Any:  # a Counter, Gauge or Histogram child
        current = _active
        return current.child(getattr(current, self._attribute), labels)

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        self._child(labels).inc(amount)

    def set(self, value: float, **labels: object) -> None:
        self._child(labels).set(value)

    def observe(self, value: float, **labels: object) -> None:
        self._child(labels).observe(value)

    def value(self, **labels: object) -> float:
        return _active.value(self._sample, **labels)

    def total(self) -> float:
        return _active.total(self._sample)

    def count(self, **labels: object) -> int:
        return int(_active.value(f"{self._sample}_count", **labels))


JOBS = _Recorder("jobs", "reelbot_jobs_total")
QUEUE_LENGTH = _Recorder("queue_length", "reelbot_queue_length")
JOBS_IN_FLIGHT = _Recorder("jobs_in_flight", "reelbot_jobs_in_flight")
RUNNER_ALIVE = _Recorder("runner_alive", "reelbot_runner_alive")
GATEWAY_CONNECTED = _Recorder("gateway_connected", "reelbot_gateway_connected")
PROVIDER_LATENCY = _Recorder("provider_latency", "reelbot_provider_request_seconds")
PROVIDER_ERRORS = _Recorder("provider_errors", "reelbot_provider_errors_total")
QUOTA_REFUSALS = _Recorder("quota_refusals", "reelbot_quota_refusals_total")
DISCORD_ERRORS = _Recorder("discord_errors", "reelbot_discord_errors_total")

_ID_SEGMENT = re.compile(r"^(?=.*\d)[0-9A-Za-z_.:=-]{8,}$|^\d+$")


def call_label(method: str, path: str) -> str:
    """`GET /generations/{id}` from `GET http://host/generations/0f3c…`: ids folded so labels stay few."""
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    path = path.split("?", 1)[0]
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)[:80]}"
