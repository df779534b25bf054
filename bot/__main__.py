"""`python -m bot [check | generate PROMPT …]` — run the bot, check the setup, or make one video.

`.env` (in the current directory) is read once; the process environment wins over it. The
resulting mapping is the only configuration source: nothing below reads `os.environ` again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import discord
from dotenv import dotenv_values

from bot.check import REQUIRED_PERMISSIONS, run_check
from bot.clock import Clock, SystemClock
from bot.config import load_settings
from bot.console import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    describe,
    print_config_error,
)
from bot.errors import ConfigError
from bot.generate import PROMPT_MAX, PROMPT_MIN, run_generate
from bot.log import setup_logging
from bot.providers.base import ALL_ASPECT_RATIOS

log = logging.getLogger("reelbot")

INVITE_SCOPES = "bot+applications.commands"
RESOLUTIONS = ("360p", "540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s", "10s")
SHUTDOWN_GRACE_S = 9.0  # SIGTERM → closed within 10 s


def required_permissions() -> discord.Permissions:
    """Exactly what the bot needs in a channel where `/video` is used.

    Status messages are interaction responses and their edits (no channel permission needed), but a
    result that outlives the 15-minute interaction token is posted with `channel.send`: that needs
    View Channel + Send Messages (+ Send Messages in Threads when `/video` ran in a thread), Attach
    Files for the MP4 and Embed Links for its embed. Read Message History lets the bot look at recent
    messages after a restart so it never posts a result twice. Mentioning the requester needs nothing
    (Mention Everyone is only for @everyone/@here/roles); the bot uses no custom emoji or reactions.
    """
    return discord.Permissions(**{flag: True for flag, _ in REQUIRED_PERMISSIONS})


def invite_url(application_id: int | str) -> str:
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={INVITE_SCOPES}&permissions={required_permissions().value}"
    )


# --- configuration ------------------------------------------------------------------------------------


def load_env(environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """`.env` values overlaid by the environment (the environment wins), as one plain dict.

    Equivalent to `load_dotenv(override=False)` followed by reading `os.environ`, without changing the
    process environment.
    """
    env: dict[str, str] = {}
    path = Path(dotenv_path)
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


# --- arguments ----------------------------------------------------------------------------------------


def _duration(value: str) -> str:
    value = value.strip().lower()
    if value.isdigit():
        value += "s"
    if value not in DURATIONS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(DURATIONS)}")
    return value


def _resolution(value: str) -> str:
    value = value.strip().lower()
    if value.isdigit():
        value += "p"
    if value not in RESOLUTIONS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(RESOLUTIONS)}")
    return value


def program_name(argv0: str | None = None) -> str:
    """What the user typed: `reelbot` for the installed script, `python -m bot` for the module."""
    name = Path(argv0 if argv0 is not None else sys.argv[0]).name
    return "python -m bot" if name in ("__main__.py", "") else name


def version() -> str:
    try:
        return importlib.metadata.version("reelbot")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed; pip install -e .)"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or program_name(),
        description="reelbot: a Discord bot that turns a prompt into a video. Without a command, runs the bot.",
    )
    parser.add_argument("--version", action="version", version=f"reelbot {version()}")
    commands = parser.add_subparsers(dest="command", metavar="{check,generate}")
    commands.add_parser(
        "check",
        help="validate the configuration, reach every provider and Discord, print the invite URL",
        description="Validate the configuration, reach every configured provider and Discord, print the "
        "invite URL. Exit code 0 only when everything is usable.",
    )
    gen = commands.add_parser(
        "generate",
        help="make one video from the terminal through the same provider code",
        description="Make one video from the terminal, through the same provider code as the bot.",
    )
    gen.add_argument("prompt", help=f"what the video shows ({PROMPT_MIN}-{PROMPT_MAX} characters)")
    gen.add_argument("--aspect-ratio", choices=ALL_ASPECT_RATIOS, default="16:9")
    gen.add_argument("--resolution", type=_resolution, default="720p", help=", ".join(RESOLUTIONS))
    gen.add_argument("--duration", type=_duration, default="5s", help=", ".join(DURATIONS))
    gen.add_argument("--model", help="a model the provider offers (default: the provider's best)")
    gen.add_argument("--loop", action="store_true", help="make the clip loop seamlessly")
    gen.add_argument("--camera", help="a camera motion / concept, e.g. orbit_left")
    gen.add_argument("--start-image", metavar="URL", help="keyframe image URL to start from")
    gen.add_argument("--end-image", metavar="URL", help="keyframe image URL to end on")
    gen.add_argument("--enhance", action="store_true", help="let the provider expand the prompt")
    gen.add_argument("--hdr", action="store_true", help="HDR output (Luma Ray 3.2: 720p/1080p, 5s)")
    gen.add_argument("--provider", help="use this provider instead of the first in VIDEO_PROVIDERS")
    gen.add_argument("-o", "--output", metavar="FILE", help="where to save the MP4 (default: reel-<id>.mp4)")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> int:
    """Entry point of `python -m bot` and the `reelbot` script. Returns the process exit code.

    `environ` replaces `os.environ` and `clock` the system clock (tests).
    """
    args = build_parser().parse_args(argv)
    env = load_env(environ)
    try:
        if args.command == "check":
            from bot.client import command_payloads  # lazily: the composition root imports every cog

            return asyncio.run(run_check(env, invite_url, command_payloads))
        if args.command == "generate":
            return asyncio.run(run_generate(args, env, clock or SystemClock()))
        return run_bot(env)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# --- run ----------------------------------------------------------------------------------------------


def run_bot(env: Mapping[str, str]) -> int:
    try:
        settings = load_settings(env, require_token=True)
    except ConfigError as error:
        return print_config_error(error, env)
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    from bot.client import create_bot  # lazily: the composition root imports every cog

    # The bot never joins voice: skip discord.py's start-up warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False

    try:
        bot = create_bot(env)
    except ConfigError as error:
        return print_config_error(error, env)
    assert settings.discord_token is not None  # require_token=True
    try:
        return asyncio.run(serve(bot, settings.discord_token.get()))
    except discord.LoginFailure:
        log.critical("Discord refused DISCORD_TOKEN; reset it in the Developer Portal → Bot and update .env")
    except discord.PrivilegedIntentsRequired:
        log.critical("the bot asked for a privileged intent that is not enabled in the Developer Portal")
    except (aiohttp.ClientConnectionError, TimeoutError) as error:
        log.critical("cannot reach Discord (%s); check the network and try again", describe(error))
    except Exception:
        log.critical("the bot stopped with an error", exc_info=True)
    return EXIT_FAILED


async def serve(bot: Any, token: str, *, grace: float = SHUTDOWN_GRACE_S) -> int:
    """Run `bot` until it closes or SIGTERM/SIGINT arrives; then close it within `grace` seconds.

    `bot.close()` is where the bot stops taking new jobs and keeps every job's state for the next start.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    runner = asyncio.create_task(bot.start(token), name="reelbot-runner")
    stopper = asyncio.create_task(stop.wait(), name="reelbot-stop")
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        if stop.is_set():
            log.info("stop signal received: closing (new jobs refused, running jobs resume on next start)")
        if not bot.is_closed():
            try:
                await asyncio.wait_for(asyncio.shield(bot.close()), grace)
            except TimeoutError:
                log.warning("closing took longer than %.0f s; exiting anyway", grace)
        if not runner.done():
            runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    if not runner.cancelled() and runner.exception() is not None:
        raise runner.exception()  # type: ignore[misc]
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
