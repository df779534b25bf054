"""`python -m bot generate PROMPT …`: make one video from the terminal through the same provider code as the bot."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot.clock import Clock
from bot.config import PROVIDER_KEYS, Settings, load_settings
from bot.console import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, describe, print_config_error, quiet_level
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
)
from bot.jobs import FALLBACK_ERRORS, fit_request
from bot.log import Redactor, setup_logging
from bot.media import download, looks_like_video
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.providers.base import check_request

PROMPT_MIN, PROMPT_MAX = 3, 5000


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
        return print_config_error(error, env)
    setup_logging(quiet_level(settings), settings.log_format, settings.secrets())
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
        hdr=args.hdr,
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
                return fail(describe(error))
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
            progress.say(f"{provider.name} is unavailable ({describe(error)}); trying the next provider")
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
