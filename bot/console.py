"""What `python -m bot` and its `check` and `generate` commands share: exit codes and console messages."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from bot.config import PROVIDER_KEYS, Settings
from bot.errors import ConfigError
from bot.log import Redactor

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """Secret values straight from the mapping, for redacting even when Settings could not be built."""
    names = ("DISCORD_TOKEN", *PROVIDER_KEYS.values())
    return [env[n].strip() for n in names if (env.get(n) or "").strip()]


def print_config_error(error: ConfigError, env: Mapping[str, str]) -> int:
    text = str(error)
    if any(problem.startswith("DISCORD_TOKEN is required") for problem in error.problems):
        text += "\n" + missing_token_hint()
    print(Redactor(env_secrets(env))(text), file=sys.stderr)
    return EXIT_CONFIG


def missing_token_hint(dotenv: Path | None = None) -> str:
    """Where DISCORD_TOKEN was looked for (the environment and `.env` in the current directory), and how to
    start one from the example."""
    path = (dotenv or Path(".env")).absolute()
    found = "exists but has no DISCORD_TOKEN" if path.is_file() else "does not exist"
    return (
        f"DISCORD_TOKEN was looked for in the environment and in {path} ({found}).\n"
        "Start from the example: cp .env.example .env, then put your bot token in it."
    )


def quiet_level(settings: Settings) -> str:
    """Console commands log warnings only, unless the operator asked for DEBUG."""
    return "DEBUG" if settings.log_level == "DEBUG" else "WARNING"


def describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
