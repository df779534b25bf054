"""The transport every adapter shares: timeouts, status → error, retries with jitter, Retry-After.

Reads (polls, deletes) are retried on 5xx, timeouts and 429. A job-creating POST is sent once and
only repeated when the provider said 429 (it refused, so nothing was created) or the connection was
never made; anything else could charge twice.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot import metrics
from bot.clock import Clock
from bot.errors import (
    ProviderAuthError,
    ProviderCreditsError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimitError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 60.0
# Provider answers are small JSON documents (a generation, a page of them). Anything larger is not an answer:
# the cap counts the bytes after aiohttp's transparent gzip/deflate/br decoding, so a compressed bomb stops
# at the same point as an endless body.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64
READ_CHUNK = 64 * 1024


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff (attempt 0 → up to `base`)."""
    uniform = rng.uniform if rng is not None else random.uniform
    return uniform(0, min(cap, base * (2**attempt)))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` or `retry-after` in seconds, honoured when 0..60 s (as Luma's SDK does)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if 0 <= value <= MAX_RETRY_AFTER:
            return value
    return None


def error_detail(body: Any) -> str:
    """The message a provider put in its error body: Luma `detail`, Segmind `error`, 1min.ai `message`."""
    if isinstance(body, dict):
        for key in ("detail", "error", "message", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:500]
            if isinstance(value, dict | list) and value:
                return json.dumps(value)[:500]
    if isinstance(body, str):
        return body[:500]
    return ""


def error_for_status(
    provider: str, status: int, body: Any, headers: Mapping[str, str], secrets: tuple[str, ...] = ()
) -> ProviderError:
    detail = redact(error_detail(body), secrets) or f"HTTP {status}"
    kw: dict[str, Any] = {"provider": provider, "status": status}
    if status in (401, 403):
        return ProviderAuthError(f"{provider}: HTTP {status}: {detail}", **kw)
    if status in (402, 406):
        return ProviderCreditsError(f"{provider}: HTTP {status}: {detail}", **kw)
    if status == 429:
        return ProviderRateLimitError(
            f"{provider}: rate limited: {detail}", retry_after=parse_retry_after(headers), **kw
        )
    if status >= 500 or status == 408:
        return ProviderUnavailableError(f"{provider}: HTTP {status}: {detail}", **kw)
    return ProviderRejectedError(
        f"{provider}: HTTP {status}: {detail}",
        public_message=f"The video service refused the request: {detail}",
        **kw,
    )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """A provider that echoes our key in an error body must not put it in front of users."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credential parts of our own request headers (the key itself and 'Bearer <key>')."""
    values: list[str] = []
    for name, value in headers.items():
        if name.lower() in ("authorization", "x-api-key", "api-key") and value:
            values += [value, value.split(" ", 1)[-1]]
    return tuple(v for v in sorted(set(values), key=len, reverse=True) if len(v) >= 6)


class HttpTransport:
    """One provider's view of the shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        clock: Clock,
        timeout: aiohttp.ClientTimeout | None = None,
        retries: int = 4,
        rate_limit_patience: float = 120.0,
    ) -> None:
        self.session = session
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.secrets = _header_secrets(self.headers)
        self.clock = clock
        self.timeout = timeout or aiohttp.ClientTimeout(total=60, connect=5)
        self.retries = retries
        self.rate_limit_patience = rate_limit_patience

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        accept_status: tuple[int, ...] = (),
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Any:
        """Send, classify, retry where safe; returns the parsed JSON (None for an empty body). `form` builds a
        multipart body (afresh for each attempt: aiohttp sends a FormData only once) instead of `json_body`."""
        idempotent = method.upper() in ("GET", "DELETE", "HEAD") if idempotent is None else idempotent
        attempt = 0
        waited_for_rate_limit = 0.0
        while True:
            try:
                body = form() if form is not None else json_body
                return await self._timed(method, path, body, params, timeout, accept_status)
            except ProviderRateLimitError as error:
                # A 429 means nothing was created, so even a create may be repeated after the wait.
                delay = error.retry_after if error.retry_after is not None else backoff_delay(attempt + 2)
                if waited_for_rate_limit + delay > self.rate_limit_patience or attempt >= self.retries + 4:
                    raise
                waited_for_rate_limit += delay
            except aiohttp.ClientConnectorError as error:
                # The connection was never made: nothing reached the provider.
                if attempt >= self.retries:
                    raise ProviderUnavailableError(
                        f"{self.provider}: cannot connect ({type(error).__name__})", provider=self.provider
                    ) from None
                delay = backoff_delay(attempt)
            except ProviderError as error:
                if not (idempotent and error.retryable) or attempt >= self.retries:
                    raise
                delay = backoff_delay(attempt)
            log.debug("%s %s: retrying in %.2fs (attempt %d)", self.provider, method, delay, attempt + 1)
            attempt += 1
            await self.clock.sleep(delay)

    async def _timed(self, method: str, path: str, json_body: Any, params: Any, timeout: Any,
                     accept_status: tuple[int, ...]) -> Any:  # fmt: skip
        """One attempt, measured for /metrics in wall-clock seconds (not the injected clock: an operator
        wants the real latency) and counted by error code when it fails."""
        call = metrics.call_label(method, path)
        started = time.perf_counter()
        try:
            return await self._once(method, path, json_body, params, timeout, accept_status)
        except ProviderError as error:
            metrics.PROVIDER_ERRORS.inc(provider=self.provider, code=error.code)
            raise
        except aiohttp.ClientConnectorError:
            metrics.PROVIDER_ERRORS.inc(provider=self.provider, code="connect")
            raise
        finally:
            metrics.PROVIDER_LATENCY.observe(time.perf_counter() - started, provider=self.provider, call=call)

    async def _once(self, method: str, path: str, json_body: Any, params: Any, timeout: Any,
                    accept_status: tuple[int, ...]) -> Any:  # fmt: skip
        try:
            async with self.session.request(
                method,
                self.url(path),
                json=None if isinstance(json_body, aiohttp.FormData) else json_body,
                data=json_body if isinstance(json_body, aiohttp.FormData) else None,
                params=params,
                headers=self.headers,
                timeout=timeout or self.timeout,
            ) as response:
                raw = await read_capped(response, MAX_BODY_BYTES)
                status = response.status
                headers = response.headers
        except aiohttp.ClientConnectorError:
            raise
        except (TimeoutError, aiohttp.ClientError) as error:
            raise ProviderTimeoutError(
                f"{self.provider}: {type(error).__name__} on {method} {path}", provider=self.provider
            ) from None
        if raw is None:
            raise ProviderProtocolError(
                f"{self.provider}: answer to {method} {path} is over {MAX_BODY_BYTES} bytes",
                provider=self.provider, status=status,
            )
        text = raw.decode("utf-8", errors="replace")  # bytes that aren't UTF-8 are malformed, not a crash
        body = parse_body(text)
        if status >= 400 and status not in accept_status:
            raise error_for_status(self.provider, status, body, headers, self.secrets)
        if text and (body is _MALFORMED or isinstance(body, str)):
            raise ProviderProtocolError(
                f"{self.provider}: malformed JSON from {method} {path}", provider=self.provider, status=status
            )
        return None if not text else body


_MALFORMED: Any = object()


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The (decoded) body, or None as soon as it passes `limit` bytes; the rest is never read."""
    declared = response.content_length
    if declared is not None and declared > limit:
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def parse_body(text: str) -> Any:
    if not text:
        return None
    try:
        body = json.loads(text)
    except RecursionError:  # nesting deeper than the interpreter's stack: a protocol error, not a crash
        return _MALFORMED
    except ValueError:
        return _MALFORMED if text.lstrip().startswith(("{", "[")) else text
    return body if _depth_within(body, MAX_JSON_DEPTH) else _MALFORMED


def _depth_within(value: Any, limit: int) -> bool:
    """True if `value` nests containers at most `limit` deep (iterative: deep input can't overflow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True
