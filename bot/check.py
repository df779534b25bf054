"""`python -m bot check`: validate the configuration, reach every provider and Discord, print the invite URL."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from bot.clock import SystemClock
from bot.command_spec import command_problems
from bot.config import PROVIDER_KEYS, ProviderConfig, Settings, load_settings
from bot.console import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, describe, print_config_error, quiet_level
from bot.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderRateLimitError,
    ReelbotError,
)
from bot.log import Redactor, setup_logging
from bot.providers import ProviderContext, build_provider
from bot.storage import is_postgres_url

DISCORD_API_BASE = "https://discord.com/api/v10"
CHECK_TIMEOUT_S = 30.0

# (discord.Permissions flag, name in Discord's UI): everything the bot needs, nothing more.
REQUIRED_PERMISSIONS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("send_messages_in_threads", "Send Messages in Threads"),
    ("embed_links", "Embed Links"),
    ("attach_files", "Attach Files"),
    ("read_message_history", "Read Message History"),
)


class _Report:
    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.ok = True

    def line(self, tag: str, text: str) -> None:
        print(self.redact(f"[{tag:^4}] {text}"), file=sys.stdout, flush=True)

    def good(self, text: str) -> None:
        self.line("ok", text)

    def note(self, text: str) -> None:
        self.line("--", text)

    def warn(self, text: str) -> None:
        self.line("warn", text)

    def fail(self, text: str) -> None:
        self.ok = False
        self.line("FAIL", text)


CommandPayloads = Callable[[Mapping[str, str]], Awaitable[list[dict[str, Any]]]]


async def run_check(
    env: Mapping[str, str], invite_url: Callable[[str], str], command_payloads: CommandPayloads | None = None
) -> int:
    """`invite_url(application_id)` builds the invite link and `command_payloads(env)` the slash commands the
    bot would sync (both need discord.py, so the caller supplies them)."""
    try:
        settings = load_settings(env, require_token=True)
        token_missing = False
    except ConfigError as error:
        try:  # only the token is missing: say so, and still check everything else
            settings = load_settings(env)
        except ConfigError:
            return print_config_error(error, env)
        print_config_error(error, env)
        token_missing = True
    setup_logging(quiet_level(settings), settings.log_format, settings.secrets())
    report = _Report(Redactor(settings.secrets()))
    report.good(f"configuration: providers in order {', '.join(settings.provider_names)}")
    if command_payloads is not None:
        await _check_commands(env, settings, command_payloads, report)
    await _check_database(settings, report)
    app_id: str | None = None
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with tempfile.TemporaryDirectory(prefix="reelbot-check-") as tmp:
            context = ProviderContext(session, SystemClock(), Path(tmp), settings.max_download_bytes)
            for config in settings.providers:
                await _check_provider(config, context, report)
        if settings.discord_token is None:
            report.fail("discord: DISCORD_TOKEN is not set, so the token and the invite URL were not checked")
        else:
            base = (env.get("DISCORD_API_BASE") or DISCORD_API_BASE).strip().rstrip("/")
            app_id = await _check_discord(session, base, settings.discord_token.get(), report)
    if app_id is not None:
        names = ", ".join(label for _, label in REQUIRED_PERMISSIONS)
        print(f"\nInvite the bot (scopes bot + applications.commands; permissions: {names}):")
        print(invite_url(app_id))
        if settings.dev_guild_id:
            print(f"Commands sync to the development server {settings.dev_guild_id} only (DISCORD_DEV_GUILD_ID).")
    print("\nEverything is usable." if report.ok else "\nSome checks failed; see [FAIL] above.")
    if token_missing:
        return EXIT_CONFIG
    return EXIT_OK if report.ok else EXIT_FAILED


async def _check_commands(env: Mapping[str, str], settings: Settings, build: CommandPayloads, report: _Report) -> None:
    """The command sync, offline: what Discord's spec and limits say about it before Discord does."""
    payloads = await build(env)
    problems = command_problems(payloads, guild=settings.dev_guild_id is not None)
    for problem in problems:
        report.fail(f"slash commands: Discord would refuse the sync: {problem}")
    if not problems:
        report.good(f"slash commands: {len(payloads)} commands match Discord's API spec and limits")


async def _check_database(settings: Settings, report: _Report) -> None:
    if is_postgres_url(settings.database_url):
        from bot.storage.postgres import probe

        usable, found = await probe(settings.database_url, timeout=CHECK_TIMEOUT_S)
        (report.good if usable else report.fail)(f"database: {found}")
        return
    path = settings.sqlite_path
    if path is None:
        report.fail("database: DATABASE_URL must be sqlite:///… or postgresql://…")
        return
    target = await asyncio.to_thread(lambda: Path(path).resolve())
    if await asyncio.to_thread(_can_write, target):
        report.good(f"database: SQLite at {target} is writable")
    else:
        report.fail(f"database: cannot write SQLite at {target} (check the directory and its owner)")


def _can_write(target: Path) -> bool:
    """Probe for real (permission bits lie to root and on read-only mounts): a temp file in the nearest
    existing directory, and an append-open of the database file when it exists. Changes nothing."""
    directory = next((p for p in (target.parent, *target.parent.parents) if p.exists()), None)
    try:
        if directory is None or not directory.is_dir():
            return False
        with tempfile.TemporaryFile(dir=directory):
            pass
        if target.exists():
            with open(target, "ab"):
                pass
    except OSError:
        return False
    return True


async def _check_provider(config: ProviderConfig, context: ProviderContext, report: _Report) -> None:
    try:
        provider = build_provider(config, context)
    except ImportError as error:
        report.fail(f"{config.name}: adapter not available ({error.name or error})")
        return
    except ReelbotError as error:
        report.fail(f"{config.name}: {error}")
        return
    shown = provider.display_name
    label = shown if shown.lower().startswith(config.name) else f"{config.name} ({shown})"  # not "demo (Demo …)"
    try:
        credits = await asyncio.wait_for(provider.fetch_credits(), CHECK_TIMEOUT_S)
    except ProviderAuthError as error:
        key = PROVIDER_KEYS.get(config.name, "its key")
        report.fail(f"{label}: the key was refused (HTTP {error.status}); check {key}")
    except ProviderCreditsError:
        report.fail(f"{label}: the account is out of credits")
    except ProviderRateLimitError:
        report.warn(f"{label}: reachable but rate limited right now; the key was not verified")
    except (ProviderError, TimeoutError, aiohttp.ClientError) as error:
        report.fail(f"{label}: not reachable at {config.base_url or 'its API'} ({describe(error)})")
    except Exception as error:
        report.fail(f"{label}: unexpected error ({describe(error)})")
    else:
        if config.api_key is None:
            report.good(f"{label}: ready (needs no key){f'; {credits}' if credits else ''}")
        elif credits is not None:
            report.good(f"{label}: key accepted; balance {credits}")
        else:
            report.note(f"{label}: no balance call; key not verified")


async def _check_discord(session: aiohttp.ClientSession, base: str, token: str, report: _Report) -> str | None:
    headers = {"Authorization": f"Bot {token}", "User-Agent": "DiscordBot (reelbot, 0.1)"}
    try:
        async with session.get(f"{base}/users/@me", headers=headers) as response:
            if response.status == 401:
                report.fail("discord: DISCORD_TOKEN was refused (401); reset it in the Developer Portal → Bot")
                return None
            if response.status != 200:
                report.fail(f"discord: /users/@me answered HTTP {response.status}")
                return None
            me = await response.json()
        user = f"{me.get('username', '?')} (id {me.get('id', '?')})"
        if not me.get("bot"):
            report.fail(f"discord: the token belongs to {user}, which is not a bot account")
            return None
        report.good(f"discord: token accepted; logged in as {user}")
        async with session.get(f"{base}/oauth2/applications/@me", headers=headers) as response:
            if response.status != 200:
                report.warn(f"discord: /oauth2/applications/@me answered HTTP {response.status}; using the bot's id")
                return str(me["id"])
            app = await response.json()
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as error:
        report.fail(f"discord: not reachable at {base} ({describe(error)})")
        return None
    if app.get("bot_require_code_grant"):
        report.fail("discord: 'Requires OAuth2 Code Grant' is on (Developer Portal → Bot); turn it off to invite")
    elif not app.get("bot_public", True):
        report.note("discord: 'Public Bot' is off: only the application's owner can invite it")
    return str(app["id"])
