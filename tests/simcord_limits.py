"""Make simcord 3.2.1 refuse what Discord refuses: a message whose content or embeds break Discord's
limits (docs/protocols.md §D.3) is answered 400 / 50035 "Invalid Form Body", as the real API does.

simcord stores any length; without this a bot that overruns a field passes every test offline and loses
the clip in production. Installed by simcord_ext.install() for every end-to-end and reliability test;
`refusals(backend)` lists what was refused (route and problems), for tests that look.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from simcord.backend.errors import BackendError
from simcord.http import router
from simcord.types import HttpLogEntry

CONTENT, EMBEDS = 2000, 10
TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER, AUTHOR, TOTAL = 256, 4096, 25, 256, 1024, 2048, 256, 6000
INVALID_FORM_BODY = 50035
# Routes that create or edit a message, directly or through an interaction/webhook token.
MESSAGE_ROUTES = ("/channels/*/messages", "/channels/*/messages/*", "/webhooks/*/*", "/webhooks/*/*/messages/*",
                  "/interactions/*/*/callback")  # fmt: skip
MESSAGE_CALLBACKS = (4, 7)  # CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE: their `data` is a message

_original_dispatch = router.dispatch


def embed_problems(embed: dict[str, Any], where: str) -> tuple[list[str], int]:
    """What in one embed breaks a per-item limit, and the embed's characters towards the 6000 total."""
    problems: list[str] = []

    def text(value: Any, limit: int, name: str, *, required: bool = False) -> int:
        size = len(value) if isinstance(value, str) else 0
        if size > limit:
            problems.append(f"{where}.{name}: {size} > {limit}")
        if required and size == 0:
            problems.append(f"{where}.{name}: empty")
        return size

    total = text(embed.get("title"), TITLE, "title") + text(embed.get("description"), DESCRIPTION, "description")
    fields = embed.get("fields") or []
    if len(fields) > FIELDS:
        problems.append(f"{where}.fields: {len(fields)} > {FIELDS}")
    for n, field in enumerate(fields):
        total += text(field.get("name"), FIELD_NAME, f"fields[{n}].name", required=True)
        total += text(field.get("value"), FIELD_VALUE, f"fields[{n}].value", required=True)
    total += text((embed.get("footer") or {}).get("text"), FOOTER, "footer.text")
    total += text((embed.get("author") or {}).get("name"), AUTHOR, "author.name")
    return problems, total


def message_problems(message: dict[str, Any]) -> list[str]:
    """Every way `message` (a create/edit body) breaks Discord's content and embed limits; [] when none."""
    problems: list[str] = []
    content = message.get("content")
    if isinstance(content, str) and len(content) > CONTENT:
        problems.append(f"content: {len(content)} > {CONTENT}")
    embeds = message.get("embeds") or []
    if len(embeds) > EMBEDS:
        problems.append(f"embeds: {len(embeds)} > {EMBEDS}")
    total = 0
    for n, embed in enumerate(embeds):
        found, size = embed_problems(embed, f"embeds[{n}]")
        problems += found
        total += size
    if total > TOTAL:
        problems.append(f"embeds: {total} characters in all > {TOTAL}")
    return problems


def _message_of(method: str, path: str, json: Any) -> dict[str, Any] | None:
    if method not in ("POST", "PATCH") or not isinstance(json, dict):
        return None
    if not any(fnmatch.fnmatch(path, pattern) for pattern in MESSAGE_ROUTES):
        return None
    if path.endswith("/callback"):
        data = json.get("data")
        return data if json.get("type") in MESSAGE_CALLBACKS and isinstance(data, dict) else None
    return json


def refusals(backend: Any) -> list[tuple[str, list[str]]]:
    """(method and path, problems) of every message this backend refused for breaking the limits."""
    return backend.__dict__.setdefault("_reelbot_limit_refusals", [])


def dispatch(backend: Any, method: str, path: str, *, json: Any | None = None, **kwargs: Any) -> Any:
    message = _message_of(method, path, json)
    problems = message_problems(message) if message is not None else []
    if problems:
        backend.http_requests.append(HttpLogEntry(method, path, copy.deepcopy(kwargs.get("params") or {}),
                                                  copy.deepcopy(json), kwargs.get("reason")))  # fmt: skip
        refusals(backend).append((f"{method} {path}", problems))
        raise BackendError(400, INVALID_FORM_BODY, "Invalid Form Body", errors={"_errors": problems})
    return _original_dispatch(backend, method, path, json=json, **kwargs)


def install() -> None:
    router.dispatch = dispatch
