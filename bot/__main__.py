"""`python -m bot [check | generate PROMPT …]` — run the bot, check the setup, or make one video.

`.env` (in the current directory) is read once; the process environment wins over it. The
resulting mapping is the only configuration source: nothing below reads `os.environ` again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import discord
from dotenv import dotenv_values

from bot.clock import Clock, SystemClock
from bot.config import PROVIDER_KEYS, ProviderConfig, Settings, load_settings
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    ConfigError,
    GenerationFailedError,
    InvalidRequestError,
    JobTimeoutError,
    MediaError,
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ReelbotError,
)
from bot.jobs import FALLBACK_ERRORS, fit_request
from bot.log import Redactor, setup_logging
from bot.media import download, looks_like_video
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers.base import ALL_ASPECT_RATIOS, check_request
from bot.storage import is_postgres_url

log = logging.getLogger("reelbot")

DISCORD_API_BASE = "https://discord.com/api/v10"
INVITE_SCOPES = "bot+applications.commands"
PROMPT_MIN, PROMPT_MAX = 3, 5000
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s", "10s")
SHUTDOWN_GRACE_S = 9.0  # SIGTERM → closed within 10 s
CHECK_TIMEOUT_S = 30.0

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


# (discord.Permissions flag, name in Discord's UI): everything the bot needs, nothing more.
REQUIRED_PERMISSIONS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("send_messages_in_threads", "Send Messages in Threads"),
    ("embed_links", "Embed Links"),
    ("attach_files", "Attach Files"),
    ("read_message_history", "Read Message History"),
)


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


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """Secret values straight from the mapping, for redacting even when Settings could not be built."""
    names = ("DISCORD_TOKEN", *PROVIDER_KEYS.values())
    return [env[n].strip() for n in names if (env.get(n) or "").strip()]


def _print_config_error(error: ConfigError, env: Mapping[str, str]) -> int:
    print(Redactor(env_secrets(env))(str(error)), file=sys.stderr)
    return EXIT_CONFIG


def _quiet_level(settings: Settings) -> str:
    """Console commands log warnings only, unless the operator asked for DEBUG."""
    return "DEBUG" if settings.log_level == "DEBUG" else "WARNING"


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="reelbot: a Discord bot that turns a prompt into a video. Without a command, runs the bot.",
    )
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
            return asyncio.run(run_check(env))
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
        return _print_config_error(error, env)
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    from bot.client import create_bot  # lazily: the composition root imports every cog

    # The bot never joins voice: skip discord.py's start-up warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False

    try:
        bot = create_bot(env)
    except ConfigError as error:
        return _print_config_error(error, env)
    assert settings.discord_token is not None  # require_token=True
    try:
        return asyncio.run(serve(bot, settings.discord_token.get()))
    except discord.LoginFailure:
        log.critical("Discord refused DISCORD_TOKEN; reset it in the Developer Portal → Bot and update .env")
    except discord.PrivilegedIntentsRequired:
        log.critical("the bot asked for a privileged intent that is not enabled in the Developer Portal")
    except (aiohttp.ClientConnectionError, TimeoutError) as error:
        log.critical("cannot reach Discord (%s); check the network and try again", _describe(error))
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


# --- check --------------------------------------------------------------------------------------------


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


async def run_check(env: Mapping[str, str]) -> int:
    try:
        settings = load_settings(env, require_token=True)
    except ConfigError as error:
        return _print_config_error(error, env)
    setup_logging(_quiet_level(settings), settings.log_format, settings.secrets())
    report = _Report(Redactor(settings.secrets()))
    report.good(f"configuration: providers in order {', '.join(settings.provider_names)}")
    await _check_database(settings, report)
    app_id: str | None = None
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with tempfile.TemporaryDirectory(prefix="reelbot-check-") as tmp:
            context = ProviderContext(session, SystemClock(), Path(tmp), settings.max_download_bytes)
            for config in settings.providers:
                await _check_provider(config, context, report)
        assert settings.discord_token is not None
        base = (env.get("DISCORD_API_BASE") or DISCORD_API_BASE).strip().rstrip("/")
        app_id = await _check_discord(session, base, settings.discord_token.get(), report)
    if app_id is not None:
        names = ", ".join(label for _, label in REQUIRED_PERMISSIONS)
        print(f"\nInvite the bot (scopes bot + applications.commands; permissions: {names}):")
        print(invite_url(app_id))
        if settings.dev_guild_id:
            print(f"Commands sync to the development server {settings.dev_guild_id} only (DISCORD_DEV_GUILD_ID).")
    print("\nEverything is usable." if report.ok else "\nSome checks failed; see [FAIL] above.")
    return EXIT_OK if report.ok else EXIT_FAILED


async def _check_database(settings: Settings, report: _Report) -> None:
    if is_postgres_url(settings.database_url):
        from bot.storage_pg import probe

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
    label = f"{config.name} ({provider.display_name})"
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
        report.fail(f"{label}: not reachable at {config.base_url or 'its API'} ({_describe(error)})")
    except Exception as error:
        report.fail(f"{label}: unexpected error ({_describe(error)})")
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
        report.fail(f"discord: not reachable at {base} ({_describe(error)})")
        return None
    if app.get("bot_require_code_grant"):
        report.fail("discord: 'Requires OAuth2 Code Grant' is on (Developer Portal → Bot); turn it off to invite")
    elif not app.get("bot_public", True):
        report.note("discord: 'Public Bot' is off: only the application's owner can invite it")
    return str(app["id"])


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- generate -----------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, a line per change otherwise."""

    WIDTH = 24

    def __init__(self, stream: TextIO, label: str, redact: Redactor | None = None) -> None:
        self.stream = stream
        self.label = label
        self.redact = redact or Redactor(())
        self.tty = stream.isatty()
        self._last_line = ""
        self._last_key: tuple[Any, ...] = ()

    def show(self, status: ProviderStatus | None, elapsed: float, note: str = "") -> None:
        state = "submitting" if status is None else (status.raw_state or status.state.value)
        fraction = None if status is None else status.progress
        if status is not None and status.state is ProviderState.COMPLETED:
            fraction = 1.0
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
            filled = round(fraction * self.WIDTH)
            bar, percent = "#" * filled + "-" * (self.WIDTH - filled), f"{fraction:4.0%}"
        else:  # indeterminate: a marker bouncing with elapsed time
            span = self.WIDTH - 3
            step = int(elapsed) % (2 * span)
            pos = step if step <= span else 2 * span - step
            bar, percent = " " * pos + "<=>" + " " * (span - pos), "  ? "
        minutes, seconds = divmod(int(elapsed), 60)
        line = f"[{bar}] {percent} {minutes:d}:{seconds:02d} {self.label} {state}"
        if note:
            line += f" ({note})"
        line = self.redact(line)
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._last_line)))
            self.stream.flush()
        else:
            key = (state, percent if fraction is not None else None, note, int(elapsed) // 30)
            if key != self._last_key:
                self.stream.write(line + "\n")
                self._last_key = key
        self._last_line = line

    def say(self, text: str) -> None:
        """A message of its own on the next line (the bar is finished first)."""
        self.done()
        self.stream.write(self.redact(text) + "\n")
        self.stream.flush()
        self._last_line = ""

    def done(self) -> None:
        if self.tty and self._last_line:
            self.stream.write("\n")
            self.stream.flush()


async def run_generate(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    env = dict(env)
    if args.provider:
        env["VIDEO_PROVIDERS"] = args.provider.strip().lower()
    try:
        settings = load_settings(env)
    except ConfigError as error:
        return _print_config_error(error, env)
    setup_logging(_quiet_level(settings), settings.log_format, settings.secrets())
    redact = Redactor(settings.secrets())

    def fail(message: str, code: int = EXIT_FAILED) -> int:
        print(redact(f"error: {message}"), file=sys.stderr)
        return code

    prompt = args.prompt.strip()
    if not PROMPT_MIN <= len(prompt) <= PROMPT_MAX:
        return fail(f"the prompt must be {PROMPT_MIN} to {PROMPT_MAX} characters, got {len(prompt)}", EXIT_CONFIG)
    request = VideoRequest(
        prompt=prompt,
        aspect_ratio=args.aspect_ratio,
        loop=args.loop,
        resolution=args.resolution,
        duration=args.duration,
        model=args.model,
        camera=args.camera,
        start_image_url=args.start_image,
        end_image_url=args.end_image,
        enhance=args.enhance,
    )
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        return fail(f"the output directory {output.parent} does not exist", EXIT_CONFIG)
    work_dir = output.parent if output is not None else Path.cwd()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30)) as session:
        with tempfile.TemporaryDirectory(prefix=".reelbot-", dir=work_dir) as tmp:
            context = ProviderContext(session, clock, Path(tmp), settings.max_download_bytes)
            try:
                providers = [build_provider(config, context) for config in settings.providers]
            except ImportError as error:
                return fail(f"provider adapter not available ({error.name or error})")
            able = [p for p in providers if fit_request(request, p) is not None]
            if not able:  # name what is possible, as /video does
                owner = next((p for p in providers if request.model in p.capabilities.models), providers[0])
                try:
                    check_request(owner.capabilities, owner.display_name, request)
                except InvalidRequestError as error:
                    return fail(error.public_message.replace(" Nothing was charged.", ""), EXIT_CONFIG)
                return fail("no configured provider can do that", EXIT_CONFIG)
            try:
                saved, provider, job_id, elapsed = await _generate(able, request, context, settings, output)
            except GenerationFailedError as error:
                return fail(f"the generation failed: {error.reason or 'no reason given'}")
            except JobTimeoutError:
                return fail(f"not finished after JOB_TIMEOUT_S={settings.job_timeout_s} s; gave up")
            except ProviderAuthError as error:
                key = PROVIDER_KEYS.get(error.provider, "the provider's key")
                return fail(f"{error.provider}: the key was refused (HTTP {error.status}); check {key}")
            except ProviderCreditsError as error:
                return fail(f"{error.provider}: the account is out of credits")
            except (ProviderError, MediaError) as error:
                return fail(_describe(error))
    size_mb = saved.stat().st_size / (1024 * 1024)
    print(
        redact(f"saved {saved} ({size_mb:.1f} MB) from {provider.display_name} job {job_id} in {elapsed:.0f} s"),
        file=sys.stderr,
    )
    print(saved)
    return EXIT_OK


async def _generate(
    providers: list[VideoProvider],
    request: VideoRequest,
    context: ProviderContext,
    settings: Settings,
    output: Path | None,
) -> tuple[Path, VideoProvider, str, float]:
    clock = context.clock
    started = clock.monotonic()
    deadline = started + settings.job_timeout_s
    status: ProviderStatus | None = None
    provider = providers[0]
    progress = Progress(sys.stderr, provider.name, Redactor(settings.secrets()))
    try:
        provider, status = await _submit_with_fallback(providers, request, progress, clock, started, deadline)
        progress.label = provider.name
        job_id = status.provider_job_id or "-"
        note = ""
        while not status.done:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise JobTimeoutError(f"{provider.name} job {job_id} still {status.raw_state or status.state}")
            if not status.provider_job_id:
                raise ProviderProtocolError(f"{provider.name} gave no job id to poll", provider=provider.name)
            wait = status.poll_after if status.poll_after is not None else provider.poll_interval
            await _sleep_showing(clock, min(max(wait, 0.0), remaining), progress, status, started, note)
            try:
                status = await asyncio.wait_for(provider.poll(status.provider_job_id), max(1.0, remaining))
                note = ""
            except ProviderRateLimitError as error:
                note = "rate limited, waiting"
                await clock.sleep(min(error.retry_after or provider.poll_interval, max(0.0, remaining)))
                continue
            except ProviderError as error:
                if not error.retryable:
                    raise
                note = f"retrying: {type(error).__name__}"
            except TimeoutError:
                raise JobTimeoutError(f"{provider.name} job {job_id} poll did not answer") from None
            progress.show(status, clock.monotonic() - started, note)
        progress.done()
        if status.state is ProviderState.FAILED:
            raise GenerationFailedError(status.failure_reason or "", user_fault=status.user_fault, provider=provider.name)
        target = output or Path(f"reel-{_safe_name(job_id)}.mp4")
        await _save(status, target, context, provider)
        return target, provider, job_id, clock.monotonic() - started
    except BaseException as error:
        progress.done()
        if isinstance(error, ProviderError) and not error.provider:
            error.provider = provider.name
        if status is not None and not status.done and status.provider_job_id and provider.capabilities.cancel:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(provider.cancel(status.provider_job_id)), 10)
        raise


async def _submit_with_fallback(
    providers: list[VideoProvider],
    request: VideoRequest,
    progress: Progress,
    clock: Clock,
    started: float,
    deadline: float,
) -> tuple[VideoProvider, ProviderStatus]:
    """Submit to the first provider that can do the request; fall back to the next one only while the
    earlier one is down, busy or out of credits *before* it accepted the job (the bot's rule)."""
    last_error: ProviderError | None = None
    for provider in providers:
        progress.label = provider.name
        progress.show(None, clock.monotonic() - started)
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            break
        try:
            return provider, await asyncio.wait_for(provider.submit(request), remaining)
        except FALLBACK_ERRORS as error:
            last_error = error
            progress.say(f"{provider.name} is unavailable ({_describe(error)}); trying the next provider")
        except TimeoutError:
            raise JobTimeoutError(f"{provider.name} did not answer the create request") from None
    if last_error is not None:
        raise last_error
    raise JobTimeoutError("no time left to submit")


async def _sleep_showing(
    clock: Clock, seconds: float, progress: Progress, status: ProviderStatus, started: float, note: str
) -> None:
    """Sleep in slices of at most a second on a terminal, so elapsed time keeps ticking."""
    if not progress.tty:
        await clock.sleep(seconds)
        return
    end = clock.monotonic() + seconds
    while (left := end - clock.monotonic()) > 0:
        await clock.sleep(min(1.0, left))
        progress.show(status, clock.monotonic() - started, note)


async def _save(status: ProviderStatus, target: Path, context: ProviderContext, provider: VideoProvider) -> None:
    loop = asyncio.get_running_loop()
    part = context.temp_dir / "download.part"
    if status.video_file is not None:
        if not looks_like_video(await loop.run_in_executor(None, _head, status.video_file)):
            raise MediaError(f"{provider.name} returned a file that is not a video")
        await loop.run_in_executor(None, shutil.move, str(status.video_file), str(part))
    elif status.video_url:
        await download(context.session, status.video_url, part, max_bytes=context.max_download_bytes)
    else:
        raise ProviderProtocolError(f"{provider.name} finished without a video", provider=provider.name)
    await loop.run_in_executor(None, shutil.move, str(part), str(target))
    await loop.run_in_executor(None, os.chmod, target, 0o644)  # temp files are created 0600


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(16)


def _safe_name(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:64].strip("-")
    return cleaned or "video"


if __name__ == "__main__":
    sys.exit(main())
