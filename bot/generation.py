"""The provider side of one job, shared by the runner and `python -m bot generate`: pick the providers
that can do a request, start it (falling over only while none accepted it), poll it to the end.

What a job asks for is data on its `VideoRequest` (a prompt, keyframes, an extension of an earlier
clip, …); `start` is the one place that turns it into a provider call, so a new kind of work is a field
there and a provider method, never a branch in the runner or the terminal command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.domain import ProviderState, ProviderStatus, VideoRequest
from bot.errors import (
    GenerationFailedError,
    InvalidRequestError,
    JobTimeoutError,
    ProviderCreditsError,
    ProviderError,
    ProviderRateLimitError,
    ProviderUnavailableError,
    ReelbotError,
)
from bot.providers.base import ClipActions, VideoProvider, check_request

log = logging.getLogger(__name__)

# Errors that mean "this provider is down", so an unaccepted job may move to the next provider.
FALLBACK_ERRORS = (ProviderUnavailableError, ProviderRateLimitError, ProviderCreditsError)
MAX_POLL_BACKOFF_S = 60.0


def fit_request(request: VideoRequest, provider: VideoProvider) -> VideoRequest | None:
    """`request` if `provider` can run it as asked, else None. A model the user chose is never swapped, and
    an extension or any other action on a clip only goes to the provider that made the clip (no other one knows
    its generation id)."""
    caps = provider.capabilities
    if request.model is not None and request.model not in caps.models:
        return None
    if (request.extend_of or request.end_of or request.action) and request.extend_provider != provider.name:
        return None
    if request.action and not isinstance(provider, ClipActions):
        return None
    return None if caps.problems(request) else request


def validate(request: VideoRequest, providers: Iterable[VideoProvider]) -> None:
    """Raise InvalidRequestError naming what is possible unless one of `providers` can do `request`."""
    candidates = list(providers)
    if any(fit_request(request, provider) is not None for provider in candidates):
        return
    owner = next((p for p in candidates if request.model in p.capabilities.models), candidates[0])
    check_request(owner.capabilities, owner.display_name, request)
    raise InvalidRequestError("no provider can do this", public_message="No configured provider can do that.")


def offered_models(providers: Iterable[VideoProvider]) -> list[str]:
    """Every model `providers` offer, in their order, each once."""
    seen: list[str] = []
    for provider in providers:
        seen += [m for m in provider.capabilities.models if m not in seen]
    return seen


async def start(provider: VideoProvider, request: VideoRequest) -> ProviderStatus:
    """Ask `provider` to start whatever `request` describes (sent once: a create is never repeated): an action
    on a finished clip through its ClipActions, anything else (extensions and bridges too) as a generation."""
    if request.action:
        if not isinstance(provider, ClipActions):
            raise InvalidRequestError(f"{provider.name} has no actions", public_message=(
                f"{provider.display_name} can't {request.action} clips. Nothing was charged."))  # fmt: skip
        return await provider.start_action(request)
    return await provider.submit(request)


Attempt = Callable[[VideoProvider], Awaitable[None]]
Skipped = Callable[[VideoProvider, ReelbotError], Awaitable[None]]


async def start_with_fallback(
    providers: Iterable[VideoProvider], request: VideoRequest, *, attempt: Attempt, skipped: Skipped
) -> tuple[VideoProvider, ProviderStatus]:
    """Start `request` at the first provider that can do it and accepts it. The next one is tried only
    while the earlier one is down, busy or out of credits *before* accepting: a provider that may have
    accepted it (and charged) is never followed by another. `attempt` runs before each create request
    (it may raise to stop), `skipped` after a provider was passed over."""
    last_error: ReelbotError | None = None
    for provider in providers:
        fitted = fit_request(request, provider)
        if fitted is None:
            continue
        await attempt(provider)
        try:
            return provider, await start(provider, fitted)
        except FALLBACK_ERRORS as error:
            if getattr(error, "maybe_accepted", False):
                raise  # it may be running (and charged) there: another provider would charge twice
            last_error = error
            await skipped(provider, error)
    raise last_error or ProviderError("no provider can do this request")


async def poll_until_done(
    provider: VideoProvider,
    provider_job_id: str,
    status: ProviderStatus | None,
    *,
    clock: Clock,
    deadline: datetime,
    on_status: Callable[[ProviderStatus], Awaitable[None]],
    what: str,
    timeout_message: str,
    log_extra: Mapping[str, Any] | None = None,
) -> ProviderStatus:
    """Poll until the generation is done or `deadline` passes (JobTimeoutError). Waits the provider's poll
    interval (or its longer `poll_after`); a failed read backs off exponentially. Raises
    GenerationFailedError when the provider reports a failure."""
    failures = 0
    while status is None or not status.done:
        wait = provider.poll_interval
        if status is not None and status.poll_after:
            wait = max(wait, status.poll_after)
        if failures:
            wait = min(MAX_POLL_BACKOFF_S, provider.poll_interval * 2**failures)
        remaining = (deadline - clock.now()).total_seconds()
        if remaining <= 0:
            raise JobTimeoutError(timeout_message)
        await clock.sleep(min(wait, remaining))
        if (deadline - clock.now()).total_seconds() <= 0:
            raise JobTimeoutError(timeout_message)
        try:
            status = await provider.poll(provider_job_id)
            failures = 0
            if status.restarted_as:  # the provider retried a failed generation as a new one: poll that
                provider_job_id = status.restarted_as
        except ProviderError as error:
            if not error.retryable:
                raise
            failures += 1
            log.warning("poll of %s failed (%s); backing off", what, error.code,
                        extra=dict(log_extra or {}, provider=provider.name))  # fmt: skip
            continue
        await on_status(status)
    if status.state is ProviderState.FAILED:
        raise failure(status)
    return status


def failure(status: ProviderStatus) -> GenerationFailedError:
    return GenerationFailedError(status.failure_reason or "", user_fault=status.user_fault)


async def cancel_quietly(provider: VideoProvider, provider_job_id: str | None, what: str) -> None:
    """Stop a generation at the provider; a refusal is logged, never raised (the job is over either way)."""
    if not provider_job_id:
        return
    try:
        await provider.cancel(provider_job_id)
    except ReelbotError as error:
        log.warning("could not cancel %s at %s: %s", what, provider.name, error)
    except Exception:  # a bug in an adapter's cancel must not stop the job's bookkeeping
        log.exception("cancelling %s at %s crashed", what, provider.name)
    else:
        log.info("cancelled %s at %s", what, provider.name)
