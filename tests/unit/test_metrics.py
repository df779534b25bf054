"""The metrics registry and its Prometheus text exposition."""

from __future__ import annotations

import pytest

from bot import metrics
from bot.metrics import Registry, call_label


def test_counter_gauge_histogram_render_in_prometheus_text_format():
    """Each metric renders HELP, TYPE and its samples; histogram buckets are cumulative with +Inf, sum, count."""
    registry = Registry()
    jobs = registry.counter("t_jobs_total", "Jobs.", ("state",))
    queue = registry.gauge("t_queue", "Queue.")
    latency = registry.histogram("t_seconds", "Latency.", ("call",), buckets=(0.1, 1.0))
    jobs.inc(state="completed")
    jobs.inc(2, state="completed")
    queue.set(3)
    for value in (0.05, 0.5, 5.0):
        latency.observe(value, call="GET /x")
    text = registry.render()
    assert text.endswith("\n")
    assert "# HELP t_jobs_total Jobs.\n# TYPE t_jobs_total counter\n" in text
    assert 't_jobs_total{state="completed"} 3\n' in text
    assert "# TYPE t_queue gauge\nt_queue 3\n" in text
    assert 't_seconds_bucket{call="GET /x",le="0.1"} 1\n' in text
    assert 't_seconds_bucket{call="GET /x",le="1"} 2\n' in text
    assert 't_seconds_bucket{call="GET /x",le="+Inf"} 3\n' in text
    assert 't_seconds_sum{call="GET /x"} 5.55\n' in text
    assert 't_seconds_count{call="GET /x"} 3\n' in text


def test_label_values_are_escaped_and_series_are_capped():
    """Quotes, backslashes and newlines in labels are escaped; past MAX_SERIES new label sets fold into one."""
    registry = Registry()
    errors = registry.counter("t_errors_total", "Errors.", ("code",))
    errors.inc(code='a"b\\c\nd')
    assert 't_errors_total{code="a\\"b\\\\c\\nd"} 1' in registry.render()
    for i in range(metrics.MAX_SERIES + 10):
        errors.inc(code=str(i))
    assert errors.value(code=metrics.OTHER) == 11
    assert len(errors.samples()) == metrics.MAX_SERIES + 1


def test_misuse_is_refused():
    """Wrong label names, negative counter steps and duplicate names raise instead of corrupting output."""
    registry = Registry()
    counter = registry.counter("t_total", "T.", ("a",))
    with pytest.raises(ValueError):
        counter.inc(b="x")
    with pytest.raises(ValueError):
        counter.inc(-1, a="x")
    with pytest.raises(ValueError):
        registry.counter("t_total", "again")
    with pytest.raises(ValueError):
        registry.gauge("bad name", "x")


def test_a_gauge_read_from_a_function_survives_a_failing_reader():
    """A gauge read at scrape time shows NaN instead of breaking the scrape when its reader raises."""
    registry = Registry()
    gauge = registry.gauge("t_g", "G.")
    gauge.set_function(lambda: 7)
    assert "t_g 7\n" in registry.render()
    gauge.set_function(lambda: 1 / 0)
    assert "t_g NaN\n" in registry.render()


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("POST", "/generations/video", "POST /generations/video"),
        ("GET", "/generations/0f3c2a1b-1111-2222-3333-444455556666", "GET /generations/{id}"),
        ("GET", "http://127.0.0.1:8080/v2/requests/abc123def456/status?x=1", "GET /v2/requests/{id}/status"),
        ("get", "/v1/luma-ai/generation", "GET /v1/luma-ai/generation"),
        ("DELETE", "/generations/12", "DELETE /generations/{id}"),
    ],
)
def test_call_labels_fold_ids_so_series_stay_few(method, path, label):
    """Provider call labels keep the route shape and drop ids, hosts and query strings."""
    assert call_label(method, path) == label
