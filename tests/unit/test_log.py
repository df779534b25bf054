"""Logging: one line per event, JSON for shippers, configured secrets redacted everywhere."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings

import pytest

from bot.log import REDACTED, RedactingFilter, Redactor, setup_logging

TOKEN = "MTIzNDU2.discord-token.SECRETxyz"
KEY = "luma-sk-4f9a8b7c6d5e"


@pytest.fixture
def restore_logging():
    """Put the root logger, excepthook and warnings capture back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hook = sys.excepthook
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in root.handlers:
        for f in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(f)
    root.setLevel(level)
    sys.excepthook = hook
    logging.captureWarnings(False)


@pytest.fixture
def text_log(restore_logging):
    stream = io.StringIO()
    setup_logging("DEBUG", "text", [TOKEN, KEY], stream=stream)
    return stream


@pytest.fixture
def json_log(restore_logging):
    stream = io.StringIO()
    setup_logging("DEBUG", "json", [TOKEN, KEY], stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_secret_in_message_and_percent_args_is_redacted_at_debug(text_log):
    """A secret written into the message or passed as a %-arg never reaches the output, even at DEBUG."""
    log = logging.getLogger("bot.test")
    log.debug("connecting with token %s and key %r", TOKEN, KEY)
    log.debug(f"inline {TOKEN}")
    log.debug("headers %(auth)s", {"auth": f"Bot {TOKEN}"})
    out = text_log.getvalue()
    assert TOKEN not in out and KEY not in out
    assert out.count(REDACTED) == 4
    assert "connecting with token *** and key '***'" in out
    assert len(lines(text_log)) == 3


def test_secret_inside_exception_traceback_is_redacted(text_log):
    """The exception text and the traceback's source lines are redacted, and the event stays one line."""
    log = logging.getLogger("bot.providers.luma")
    try:
        raise RuntimeError(f"HTTP 401 for Authorization: Bearer {KEY}")
    except RuntimeError:
        log.exception("request failed")
    out = text_log.getvalue()
    assert KEY not in out
    assert "RuntimeError: HTTP 401 for Authorization: Bearer ***" in out
    assert "Traceback (most recent call last)" in out
    assert len(lines(text_log)) == 1


def test_secret_in_stack_info_and_url_encoded_form_is_redacted(text_log):
    """stack_info is redacted, and so is a secret that appears URL-encoded (e.g. in a query string)."""
    weird = "a/b+c=d"
    stream = io.StringIO()
    setup_logging("DEBUG", "text", [weird], stream=stream)
    logging.getLogger("bot").warning("GET /x?key=a%2Fb%2Bc%3Dd and a/b+c=d", stack_info=True)
    out = stream.getvalue()
    assert "a%2Fb%2Bc%3Dd" not in out and weird not in out
    assert "key=*** and ***" in out


def test_discord_py_loggers_go_through_the_redacting_handler(text_log):
    """discord.py's own loggers propagate to our handler and are redacted like ours."""
    logging.getLogger("discord.http").debug("PATCH /webhooks/1/%s with %s", TOKEN, {"content": "hi"})
    logging.getLogger("discord.gateway").info("identify token=%s", TOKEN)
    out = text_log.getvalue()
    assert TOKEN not in out
    assert "discord.http: PATCH /webhooks/1/***" in out
    assert "discord.gateway: identify token=***" in out
    assert logging.getLogger("discord").handlers == []


def test_other_root_handlers_also_get_the_filter(restore_logging, caplog):
    """A handler someone else put on the root logger (here pytest's caplog) sees redacted records too."""
    caplog.set_level(logging.DEBUG)
    setup_logging("DEBUG", "text", [TOKEN], stream=io.StringIO())
    logging.getLogger("bot.x").debug("token %s", TOKEN)
    assert [r.getMessage() for r in caplog.records] == ["token ***"]


def test_extra_fields_in_text_format(text_log):
    """job_id, user_id and provider passed with `extra=` are shown as key=value on the same line."""
    logging.getLogger("bot.jobs").info("submitted", extra={"job_id": 42, "user_id": 7, "provider": "luma"})
    (line,) = lines(text_log)
    assert line.endswith("INFO    bot.jobs: submitted job_id=42 user_id=7 provider=luma")
    assert line[:4].isdigit() and "T" in line.split()[0] and line.split()[0].endswith("Z")


def test_json_format_has_fields_extras_and_redacted_exception(json_log):
    """LOG_FORMAT=json: one object per line with ts, level, logger, msg, extras when present, and exc."""
    log = logging.getLogger("bot.jobs")
    log.info("job %s done", 5, extra={"job_id": 5, "user_id": 99, "provider": "demo"})
    log.warning("multi\nline %s", KEY)
    try:
        raise ValueError(TOKEN)
    except ValueError:
        log.error("boom", exc_info=True)
    records = [json.loads(line) for line in lines(json_log)]
    assert len(records) == 3
    first, second, third = records
    assert set(first) == {"ts", "level", "logger", "msg", "job_id", "user_id", "provider"}
    assert first["level"] == "INFO" and first["logger"] == "bot.jobs" and first["msg"] == "job 5 done"
    assert (first["job_id"], first["user_id"], first["provider"]) == (5, 99, "demo")
    assert first["ts"].endswith("Z")
    assert set(second) == {"ts", "level", "logger", "msg"}
    assert second["msg"] == "multi\nline ***"
    assert third["exc"].startswith("Traceback") and "ValueError: ***" in third["exc"]
    assert TOKEN not in json_log.getvalue() and KEY not in json_log.getvalue()


def test_setup_twice_replaces_its_handler(restore_logging):
    """Calling setup_logging again does not duplicate output; the newer secrets apply."""
    first, second = io.StringIO(), io.StringIO()
    setup_logging("INFO", "text", ["one-secret"], stream=first)
    setup_logging("INFO", "text", ["two-secret"], stream=second)
    logging.getLogger("bot").info("one-secret two-secret")
    assert first.getvalue() == ""
    assert second.getvalue().count("\n") == 1 and "one-secret ***" in second.getvalue()


def test_level_is_applied(restore_logging):
    """LOG_LEVEL=WARNING hides info lines."""
    stream = io.StringIO()
    setup_logging("warning", "text", [], stream=stream)
    logging.getLogger("bot").info("hidden")
    logging.getLogger("bot").warning("shown")
    assert lines(stream)[0].endswith("bot: shown") and len(lines(stream)) == 1


def test_warnings_and_uncaught_exceptions_are_logged_redacted(text_log):
    """Python warnings and the last-resort excepthook go through the redacting handler."""
    warnings.warn(f"deprecated with {KEY}", UserWarning, stacklevel=1)
    try:
        raise KeyError(TOKEN)
    except KeyError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    out = text_log.getvalue()
    assert KEY not in out and TOKEN not in out
    assert "py.warnings" in out and "unhandled exception" in out


def test_bad_format_args_do_not_lose_the_event(text_log):
    """A log call whose args don't match its format is still written (redacted), not dropped."""
    logging.getLogger("bot").info("two %s %s", TOKEN)
    out = text_log.getvalue()
    assert "unformattable" in out and TOKEN not in out


def test_redactor_handles_overlapping_and_empty_secrets():
    """Longer secrets are replaced whole; empty values are ignored."""
    redact = Redactor(["abc", "abcdef", ""])
    assert redact("x abcdef y abc") == "x *** y ***"
    assert not Redactor([""])


def test_unknown_format_is_refused(restore_logging):
    """Only text and json exist."""
    with pytest.raises(ValueError):
        setup_logging("INFO", "xml", [])
