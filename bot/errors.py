"""The exception tree. Each error has a stable `code`, a `public_message` safe to show a user,
and a `refund` flag saying whether the user's quota comes back when a job ends with it."""

from __future__ import annotations

from typing import Any


class ReelbotError(Exception):
    code = "error"
    public_message = "Something went wrong."
    refund = True

    def __init__(self, detail: str = "", *, public_message: str | None = None) -> None:
        super().__init__(detail or self.public_message)
        self.detail = detail
        if public_message is not None:
            self.public_message = public_message


# --- policy / input: shown ephemerally, nothing charged -------------------------------------------


class InvalidRequestError(ReelbotError):
    """The user's options are not possible (with this provider): refused before anything is charged."""

    code = "invalid_request"


class QuotaExceededError(ReelbotError):
    code = "quota_exceeded"
    reason: str | None = None  # which limit: quota, concurrent, budget (metrics and the audit)


class PolicyRefusedError(ReelbotError):
    """A server rule refused the request (channel, blocklist, a blocked user): nothing is charged."""

    code = "policy_refused"


class ConfigError(ReelbotError):
    """Configuration problems, all listed at once."""

    code = "config"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        return "Configuration problems:\n" + "\n".join(f"  - {p}" for p in self.problems)


# --- providers --------------------------------------------------------------------------------------


class ProviderError(ReelbotError):
    """Anything a provider answered or failed to answer."""

    code = "provider"
    public_message = "The video service had a problem. Your quota was refunded."
    retryable = False  # safe to repeat a *read* (poll); creates are never blindly repeated

    def __init__(self, detail: str = "", *, provider: str = "", status: int | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.provider = provider
        self.status = status


class ProviderAuthError(ProviderError):
    code = "provider_auth"
    public_message = "The bot's video service key was refused. An admin has been told; your quota was refunded."


class ProviderCreditsError(ProviderError):
    code = "provider_credits"
    public_message = "The bot's video service account is out of credits. An admin has been told; your quota was refunded."


class ProviderRateLimitError(ProviderError):
    code = "provider_rate_limited"
    public_message = "The video service is busy right now. Your quota was refunded; please try again later."
    retryable = True

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class ProviderUnavailableError(ProviderError):
    """Connection error, timeout or 5xx: the provider is down or flaky."""

    code = "provider_unavailable"
    public_message = "The video service is unavailable right now. Your quota was refunded."
    retryable = True


class ProviderTimeoutError(ProviderUnavailableError):
    """The request was sent but no complete answer came (timeout, dropped connection): the provider may
    have accepted it, so a create is neither repeated nor handed to a fallback provider."""

    code = "provider_timeout"
    public_message = (
        "The video service did not answer in time. The request was not sent again (that could charge twice). "
        "Your quota was refunded."
    )
    maybe_accepted = True


class ProviderRejectedError(ProviderError):
    """4xx on a request: the provider refused the parameters."""

    code = "provider_rejected"
    public_message = "The video service refused the request."


class ProviderProtocolError(ProviderError):
    """The provider answered something we cannot understand (malformed JSON, missing fields)."""

    code = "provider_protocol"
    public_message = "The video service sent an answer the bot could not read. Your quota was refunded."
    retryable = True


class GenerationFailedError(ProviderError):
    """The provider accepted the job and then reported it failed."""

    code = "generation_failed"

    def __init__(self, reason: str, *, user_fault: bool = False, **kw: Any) -> None:
        shown = reason or "no reason given"
        if user_fault:
            public = f"The video service refused this prompt: {shown}. Quota is not refunded for refused prompts."
        else:
            public = f"The generation failed: {shown}. Your quota was refunded."
        super().__init__(reason, public_message=public, **kw)
        self.reason = reason
        self.refund = not user_fault


class MediaError(ReelbotError):
    code = "media"
    public_message = "The finished video could not be downloaded. Your quota was refunded."


class DiskFullError(MediaError):
    """Writing the clip to the bot's disk failed for lack of space (ENOSPC, a quota or a file size limit)."""

    code = "disk_full"
    public_message = (
        "The video could not be saved because the bot's disk is full. An admin has been told; your quota was refunded."
    )


class JobTimeoutError(ReelbotError):
    code = "job_timeout"
    public_message = "The video took too long and was given up. Your quota was refunded."


MODERATION_MARKERS = ("moderation", "blacklist", "prohibited", "nsfw", "content policy", "unsafe")


def is_moderation_reason(reason: str | None) -> bool:
    """Luma's wording varies in the field, so classify by substring (protocols.md §A.6)."""
    text = (reason or "").lower()
    return any(marker in text for marker in MODERATION_MARKERS)


class DeliveryError(ReelbotError):
    """The clip was ready but Discord would not take it (permissions, size, a deleted channel)."""

    code = "delivery"
    public_message = "The video was ready but could not be posted here. Your quota was refunded."


class DeliveryLookupError(ReelbotError):
    """Whether a result was already posted could not be checked (Discord answered with an error): try again
    later rather than post, which could post it twice."""

    code = "delivery_lookup"
    public_message = (
        "The video was ready, but the bot could not check whether it was already posted here, so it did not post "
        "it again. Your quota was refunded."
    )
