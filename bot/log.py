"""Logging: one line per event, text or JSON, and every configured secret redacted.

`setup_logging` installs one handler on the root logger. discord.py's loggers (and aiohttp's, asyncio's)
propagate to the root, so they go through the same handler and the same redaction filter — start the
bot with `log_handler=None` (or `bot.start`) so discord.py does not add a handler of its own.

The filter runs on the handler, before formatting: it renders the message with its %-args, the
exception traceback and the stack, replaces every secret value with `***`, and stores the redacted
text back on the record, so nothing formatted later can bring the raw value back.

Interaction tokens are not configured secrets but are as good as one for 15 minutes (they post as the bot),
and discord.py logs them at DEBUG: in webhook URLs (`/webhooks/{app_id}/{token}`), interaction callback URLs
(`/interactions/{id}/{token}/callback`) and gateway payloads (`INTERACTION_CREATE` with `"token": "..."`).
Those shapes are redacted too, by pattern (simple linear regexes on the rendered text).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote

REDACTED = "***"

# Record attributes shown when a log call passes them with `extra=` (the job runner, cogs, providers).
EXTRA_FIELDS = ("job_id", "user_id", "guild_id", "provider")

_MARK = "_reelbot_handler"

# (pattern, replacement): the id before a token is kept (useful when debugging), the token is not.
TOKEN_SHAPES = (
    (re.compile(r"(/webhooks/\d+/)[^/?\s'\"]+"), r"\1" + REDACTED),
    (re.compile(r"(/interactions/\d+/)[^/?\s'\"]+"), r"\1" + REDACTED),
    (re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]*"""), r"\1" + REDACTED),
)


def redact_token_shapes(text: str) -> str:
    if "token" not in text and "/webhooks/" not in text and "/interactions/" not in text:
        return text
    for pattern, replacement in TOKEN_SHAPES:
        text = pattern.sub(replacement, text)
    return text


class Redactor:
    """Replaces every configured secret value (and its URL-encoded form) with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            values.add(secret)
            values.add(quote(secret, safe=""))
        # longest first, so a secret that contains another is replaced whole
        self._values = sorted(values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)  # configured secrets; token shapes are redacted either way

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return redact_token_shapes(text)


class RedactingFilter(logging.Filter):
    """Redacts secrets in a record's message, %-args, exception text, stack and extra fields.

    Never drops a record. The redacted message replaces `msg` and `args` becomes empty, so any
    formatter (ours or another handler's running later) sees only the redacted text.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.redact = Redactor(secrets)
        self._exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what we can, never lose the event
            message = f"{record.msg!s} (unformattable args: {record.args!r})"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _exception_text(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    text = record.exc_text
    if not text and record.exc_info:
        text = formatter.formatException(record.exc_info)
    if record.stack_info:
        text = f"{text}\n{record.stack_info}" if text else record.stack_info
    return text or ""


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in EXTRA_FIELDS if getattr(record, name, None) is not None}


def _one_line(text: str) -> str:
    return text.replace("\r", "").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`2026-01-01T12:00:00.000Z INFO bot.jobs: message job_id=1 user_id=2 provider=luma`.

    Newlines (multi-line messages, tracebacks) are written as a literal `\\n`, so every event is one line.
    """

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        if extras:
            line = f"{line} {extras}"
        exc = _exception_text(record, self)
        if exc:
            line = f"{line} | {exc}"
        return _one_line(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then job_id/user_id/guild_id/provider and exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        exc = _exception_text(record, self)
        if exc:
            entry["exc"] = exc
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(
    level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = (), *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record (ours, discord.py's, aiohttp's) to one redacting handler on stderr.

    Calling it again replaces the handler it installed before (tests, `check` after `run`).
    Returns the handler.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, got {fmt!r}")
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _MARK, False):
            root.removeHandler(old)
            old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    # Handlers someone else put on the root (pytest, an embedding program) must not leak either.
    for other in root.handlers:
        for stale in [f for f in other.filters if isinstance(f, RedactingFilter)]:
            other.removeFilter(stale)
        other.addFilter(redactor)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # discord.py: no handler of its own; its records reach ours through propagation.
    discord_logger = logging.getLogger("discord")
    for old in list(discord_logger.handlers):
        discord_logger.removeHandler(old)
    discord_logger.propagate = True
    logging.captureWarnings(True)
    _install_excepthook()
    return handler


def _install_excepthook() -> None:
    """Uncaught exceptions are logged (and so redacted) instead of printed raw by the interpreter."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("reelbot").critical("unhandled exception", exc_info=(exc_type, exc, tb))

    sys.excepthook = hook


def format_exception_safely(error: BaseException, secrets: Iterable[str]) -> str:
    """A one-line, redacted description of `error` for console output."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return _one_line(Redactor(secrets)(text))
