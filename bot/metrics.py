"""A tiny in-process metrics registry with Prometheus text exposition (format 0.0.4).

Counters, gauges and histograms with labels; no dependency, no Discord. The instrumented modules
update the module-level metrics below; `bot.health` serves `REGISTRY.render()` on `/metrics`.
Label sets per metric are capped (MAX_SERIES) so a bug feeding ids into a label cannot eat memory.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence

MAX_SERIES = 500  # distinct label sets per metric; later ones are folded into one "other" series
OTHER = "other"
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LabelKey = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra is not None:
        pairs.append(f'{extra[0]}="{_escape(extra[1])}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__"):
                raise ValueError(f"bad label name {label!r}")
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, object], existing: dict[LabelKey, object]) -> LabelKey:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        key = tuple(str(labels[n]) for n in self.labelnames)
        if key in existing or len(existing) < MAX_SERIES:
            return key
        return tuple(OTHER for _ in self.labelnames)

    def header(self) -> list[str]:
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        return [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up (restarts at 0 with the process, as Prometheus expects)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelKey, float] = {}

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            key = self._key(labels, self._values)
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: object) -> float:
        key = tuple(str(labels[n]) for n in self.labelnames)
        return self._values.get(key, 0.0)

    def total(self) -> float:
        return sum(self._values.values())

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, key)} {_number(v)}" for key, v in items]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class Gauge(_Metric):
    """A value that goes up and down; or read from a function at each scrape (`set_function`)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelKey, float] = {}
        self._function: Callable[[], float] | None = None

    def set(self, value: float, **labels: object) -> None:
        with self._lock:
            self._values[self._key(labels, self._values)] = float(value)

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        with self._lock:
            key = self._key(labels, self._values)
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: object) -> None:
        self.inc(-amount, **labels)

    def set_function(self, function: Callable[[], float] | None) -> None:
        """Read an unlabelled gauge from `function()` at every scrape (None to stop)."""
        if self.labelnames:
            raise ValueError("only an unlabelled gauge can be read from a function")
        self._function = function

    def value(self, **labels: object) -> float:
        if self._function is not None:
            return float(self._function())
        return self._values.get(tuple(str(labels[n]) for n in self.labelnames), 0.0)

    def samples(self) -> list[str]:
        if self._function is not None:
            try:
                value = float(self._function())
            except Exception:
                value = math.nan  # a broken reader must not break the whole scrape
            return [f"{self.name} {_number(value)}"]
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.labelnames, key)} {_number(v)}" for key, v in items]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
        self._function = None


DEFAULT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their count and sum."""

    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        if "le" in labelnames:
            raise ValueError("`le` is reserved for histogram buckets")
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
        self._series: dict[LabelKey, list[float]] = {}  # bucket counts (non-cumulative) + [+Inf, sum, count]

    def observe(self, value: float, **labels: object) -> None:
        with self._lock:
            key = self._key(labels, self._series)
            series = self._series.setdefault(key, [0.0] * (len(self.buckets) + 3))
            index = next((i for i, bound in enumerate(self.buckets) if value <= bound), len(self.buckets))
            series[index] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, **labels: object) -> int:
        series = self._series.get(tuple(str(labels[n]) for n in self.labelnames))
        return int(series[-1]) if series else 0

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((key, list(series)) for key, series in self._series.items())
        lines: list[str] = []
        for key, series in items:
            running = 0.0
            for bound, count in zip((*self.buckets, math.inf), series[: len(self.buckets) + 1], strict=True):
                running += count
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, ('le', _number(bound)))} {_number(running)}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(series[-2])}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {_number(series[-1])}")
        return lines

    def clear(self) -> None:
        with self._lock:
            self._series.clear()


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: _Metric) -> _Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help_text, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self.register(Gauge(name, help_text, labelnames))  # type: ignore[return-value]

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        return self.register(Histogram(name, help_text, labelnames, buckets))  # type: ignore[return-value]

    def get(self, name: str) -> _Metric | None:
        return self._metrics.get(name)

    def render(self) -> str:
        """Every metric in the Prometheus text format, ending with a newline."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"

    def clear(self) -> None:
        """Forget every value (tests)."""
        for metric in self._metrics.values():
            metric.clear()


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = Registry()

JOBS = REGISTRY.counter(
    "reelbot_jobs_total", "Jobs entering each state, by provider (queued jobs have provider \"none\").",
    ("state", "provider"),
)  # fmt: skip
QUEUE_LENGTH = REGISTRY.gauge("reelbot_queue_length", "Jobs waiting for a provider slot.")
JOBS_IN_FLIGHT = REGISTRY.gauge("reelbot_jobs_in_flight", "Jobs holding a provider slot (MAX_ACTIVE_JOBS caps it).")
RUNNER_ALIVE = REGISTRY.gauge("reelbot_runner_alive", "1 while the job runner's dispatcher is running.")
GATEWAY_CONNECTED = REGISTRY.gauge("reelbot_gateway_connected", "1 while the Discord gateway is connected.")
PROVIDER_LATENCY = REGISTRY.histogram(
    "reelbot_provider_request_seconds",
    "Wall-clock duration of HTTP calls to video providers, by provider and call (method + path pattern).",
    ("provider", "call"),
)
PROVIDER_ERRORS = REGISTRY.counter(
    "reelbot_provider_errors_total", "Failed HTTP calls to video providers, by provider and error code.",
    ("provider", "code"),
)  # fmt: skip
QUOTA_REFUSALS = REGISTRY.counter(
    "reelbot_quota_refusals_total",
    "Requests refused before anything was charged, by reason (quota, concurrent, budget, quota_exceeded for a "
    "cooldown, policy_refused for a server rule).",
    ("reason",),
)
DISCORD_ERRORS = REGISTRY.counter(
    "reelbot_discord_errors_total", "Discord REST errors met while showing or delivering jobs.",
    ("action", "status", "code"),
)  # fmt: skip

_ID_SEGMENT = re.compile(r"^(?=.*\d)[0-9A-Za-z_.:=-]{8,}$|^\d+$")


def call_label(method: str, path: str) -> str:
    """`GET /generations/{id}` from `GET http://host/generations/0f3c…`: ids folded so labels stay few."""
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    path = path.split("?", 1)[0]
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)[:80]}"
