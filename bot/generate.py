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
from datetime import timedelta
from pathlib import Path

import aiohttp
from rich.console import Console

from bot.clock import Clock
from bot.config import PROVIDER_KEYS, PROVIDER_ORDER, Settings, load_settings
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
    ReelbotError,
)
from bot.generation import failure, poll_until_done, start_with_fallback, validate
from bot.log import Redactor, setup_logging
from bot.media import download, looks_like_video
from bot.providers import ProviderContext, VideoProvider, build_provider
from bot.terminal import TerminalProgress

PROMPT_MIN, PROMPT_MAX = 3, 5000


async def run_generate(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    env = dict(env)
    if args.provider:
        name = args.provider.strip().lower()
        if name not in PROVIDER_ORDER:
            known = ", ".join(PROVIDER_ORDER)
            print(f"error: --provider {args.provider!r} is not a provider; choose from {known}", file=sys.stderr)
            return EXIT_CONFIG
        env["VIDEO_PROVIDERS"] = name
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
            try:  # name what is possible, as /video does
                validate(request, providers)
            except InvalidRequestError as error:
                return fail(error.public_message.replace(" Nothing was charged.", ""), EXIT_CONFIG)
            try:
                saved, provider, job_id, elapsed = await _generate(providers, request, context, settings, output)
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
    """Start, poll and save one generation through the bot's own steps (bot.generation)."""
    clock = context.clock
    started = clock.monotonic()
    deadline = clock.now() + timedelta(seconds=settings.job_timeout_s)
    console = Console(stderr=True, force_terminal=sys.stderr.isatty(), highlight=False)
    status: ProviderStatus | None = None
    provider = providers[0]
    with TerminalProgress(console, clock, Redactor(settings.secrets())) as progress:

        async def attempt(candidate: VideoProvider) -> None:
            progress.show(candidate.name, None)

        async def skipped(candidate: VideoProvider, error: ReelbotError) -> None:
            progress.say(f"{candidate.name} is unavailable ({describe(error)}); trying the next provider")

        async def changed(new: ProviderStatus) -> None:
            nonlocal status
            status = new
            progress.show(provider.name, new)

        try:
            provider, status = await start_with_fallback(providers, request, attempt=attempt, skipped=skipped)
            job_id = status.provider_job_id or "-"
            progress.show(provider.name, status)
            if not status.done:
                if not status.provider_job_id:
                    raise ProviderProtocolError(f"{provider.name} gave no job id to poll", provider=provider.name)
                status = await poll_until_done(
                    provider, status.provider_job_id, status, clock=clock, deadline=deadline, on_status=changed,
                    what=f"{provider.name} job {job_id}",
                    timeout_message=f"{provider.name} job {job_id} still {status.raw_state or status.state.value}",
                )  # fmt: skip
            elif status.state is ProviderState.FAILED:
                raise failure(status)
        except BaseException as error:
            if isinstance(error, ProviderError) and not error.provider:
                error.provider = provider.name
            if status is not None and not status.done and status.provider_job_id and provider.capabilities.cancel:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(provider.cancel(status.provider_job_id)), 10)
            raise
    target = output or Path(f"reel-{_safe_name(job_id)}.mp4")
    await _save(status, target, context, provider)
    return target, provider, job_id, clock.monotonic() - started


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
