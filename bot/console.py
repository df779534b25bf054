"""What `python -m bot` and its `check` and `generate` commands share: exit codes and console messages."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from bot.config import PROVIDER_KEYS, Settings
from bot.errors import ConfigError
from bot.log import Redactor

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """Secret values straight from the mapping, for redacting even when Settings could not be built."""
    names = ("DISCORD_TOKEN", *PROVIDER_KEYS.values())
    return [env[n].strip() for n in names if (env.get(n) or "").strip()]


def print_config_error(error: ConfigError, env: Mapping[str, str]) -> int:
    print(Redactor(env_secrets(env))(str(error)), file=sys.stderr)
    return EXIT_CONFIG


def quiet_level(settings: Settings) -> str:
    """Console commands log warnings only, unless the operator asked for DEBUG."""
    return "DEBUG" if settings.log_level == "DEBUG" else "WARNING"


def describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
