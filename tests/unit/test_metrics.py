"""The bot's metrics through prometheus_client: per-bot registries, names, labels and the text exposition."""

from __future__ import annotations

import pytest

from bot import metrics
from bot.metrics import Metrics, call_label


@pytest.fixture
def bot_metrics():
    """A fresh Metrics made active for the module-level recorders, the previous one restored after."""
    previous = metrics.active()
    fresh = Metrics()
    metrics.activate(fresh)
    yield fresh
    metrics.activate(previous)


def test_every_documented_metric_renders_in_prometheus_text_format(bot_metrics):
    """Counters, gauges and the latency histogram render HELP, TYPE and samples with the documented labels."""
    metrics.JOBS.inc(state="completed", provider="luma")
    metrics.JOBS.inc(2, state="completed", provider="luma")
    metrics.QUEUE_LENGTH.set(3)
    for value in (0.04, 0.5, 5.0):
        metrics.PROVIDER_LATENCY.observe(value, provider="luma", call="GET /x")
    metrics.DISCORD_ERRORS.inc(action="deliver", status=403, code=50013)
    text = bot_metrics.render().decode()
    assert text.endswith("\n")
    assert "# TYPE reelbot_jobs_total counter\n" in text
    assert 'reelbot_jobs_total{provider="luma",state="completed"} 3.0\n' in text
    assert "reelbot_queue_length 3.0\n" in text
    assert "reelbot_runner_alive 0.0\n" in text and "reelbot_gateway_connected 0.0\n" in text
    assert 'reelbot_provider_request_seconds_bucket{call="GET /x",le="0.05",provider="luma"} 1.0\n' in text
    assert 'reelbot_provider_request_seconds_bucket{call="GET /x",le="+Inf",provider="luma"} 3.0\n' in text
    assert 'reelbot_provider_request_seconds_count{call="GET /x",provider="luma"} 3.0\n' in text
    assert 'reelbot_discord_errors_total{action="deliver",code="50013",status="403"} 1.0\n' in text
    assert "_created" not in text
    assert metrics.PROVIDER_LATENCY.count(provider="luma", call="GET /x") == 3
    assert metrics.JOBS.value(state="completed", provider="luma") == 3


def test_each_bot_counts_into_its_own_registry(bot_metrics):
    """Two Metrics never share values, and the module-level recorders follow the active one."""
    other = Metrics()
    metrics.QUOTA_REFUSALS.inc(reason="quota")
    assert bot_metrics.total("reelbot_quota_refusals_total") == 1
    assert other.total("reelbot_quota_refusals_total") == 0
    metrics.activate(other)
    metrics.QUOTA_REFUSALS.inc(reason="budget")
    assert other.value("reelbot_quota_refusals_total", reason="budget") == 1
    assert bot_metrics.value("reelbot_quota_refusals_total", reason="budget") == 0


def test_label_values_are_escaped_and_series_are_capped(bot_metrics):
    """Quotes, backslashes and newlines in labels are escaped; past MAX_SERIES new label sets fold into one."""
    metrics.PROVIDER_ERRORS.inc(provider="luma", code='a"b\\c\nd')
    assert 'code="a\\"b\\\\c\\nd"' in bot_metrics.render().decode()
    for i in range(metrics.MAX_SERIES + 10):
        metrics.PROVIDER_ERRORS.inc(provider="luma", code=str(i))
    assert metrics.PROVIDER_ERRORS.value(provider=metrics.OTHER, code=metrics.OTHER) == 11
    samples = [line for line in bot_metrics.render().decode().splitlines() if line.startswith("reelbot_provider_errors")]
    assert len(samples) == metrics.MAX_SERIES + 1


def test_misuse_is_refused(bot_metrics):
    """Wrong label names and negative counter steps raise instead of corrupting the output."""
    with pytest.raises(ValueError):
        metrics.JOBS.inc(state="queued")
    with pytest.raises(ValueError):
        metrics.JOBS.inc(-1, state="queued", provider="none")
    with pytest.raises(ValueError):
        metrics.QUEUE_LENGTH.set(1, state="x")


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
