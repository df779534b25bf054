"""Reading simcord's record of the bot's REST calls for bench/bench_burst.py: who could see what an interaction's
answers showed, and how often each message was edited. Pure functions over (method, path, json, when) calls, in the
order the bot made them (`when`: time.perf_counter() as the call entered simcord's router).

Visibility follows Discord's rules (as simcord 3.2.1 models them): a type-4 or type-5 callback creates the
interaction's original message, public unless its flags carry 64 (EPHEMERAL); a type-5 original shows
"thinking…" until completed, and while it does, a follow-up POST is an edit of it (the original's flag wins);
after that each follow-up POST is a message of its own, public unless flagged 64. Edits and deletions change no
one's view of whether something was shown: a public message deleted later was still seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

EPHEMERAL = 64
MESSAGE, DEFERRED = 4, 5
PUBLIC_THINKING = "public 'thinking…'"

Call = tuple[str, str, Any, float]  # method, path, json body (None when there is none), when


def interaction_token(path: str, tokens: Mapping[str, str]) -> str | None:
    """The interaction (its id) whose token appears in an /interactions/… or /webhooks/… path."""
    for segment in path.split("/"):
        if segment in tokens:
            return tokens[segment]
    return None


def by_interaction(calls: Iterable[Call], tokens: Mapping[str, str]) -> dict[str, list[Call]]:
    """Calls grouped by the interaction (id) they answer; `tokens` maps each interaction token to its id."""
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        owner = interaction_token(call[1], tokens)
        if owner is not None:
            grouped.setdefault(owner, []).append(call)
    return grouped


def _flags(body: Any, nested: bool) -> int:
    if not isinstance(body, dict):
        return 0
    data = (body.get("data") or {}) if nested else body
    try:
        return int(data.get("flags") or 0)
    except (TypeError, ValueError):
        return 0


def public_shown(calls: Iterable[Call]) -> list[tuple[float, str]]:
    """What these calls (one interaction's, in order) showed to the whole channel, and when: [] when nothing."""
    shown: list[tuple[float, str]] = []
    loading = False
    for method, path, body, when in calls:
        segments = path.strip("/").split("/")
        if method == "POST" and segments[0] == "interactions" and segments[-1] == "callback":
            kind = body.get("type") if isinstance(body, dict) else None
            if kind in (MESSAGE, DEFERRED):
                if not _flags(body, nested=True) & EPHEMERAL:
                    shown.append((when, PUBLIC_THINKING if kind == DEFERRED else "public answer"))
                loading = kind == DEFERRED
        elif segments[0] == "webhooks" and len(segments) == 3 and method == "POST":
            if loading:
                loading = False  # completes the original: its own flag decides, counted above
            elif not _flags(body, nested=False) & EPHEMERAL:
                shown.append((when, "public follow-up"))
        elif segments[0] == "webhooks" and segments[-1] == "@original" and method == "PATCH":
            loading = False
    return shown


def public_content_at(calls: Iterable[Call]) -> float | None:
    """When these calls (one interaction's) first showed the channel a message with content: a public answer, a
    public follow-up, or the completion of a public "thinking…" (which itself has none). None if never."""
    loading = original_public = False
    for method, path, body, when in calls:
        segments = path.strip("/").split("/")
        if method == "POST" and segments[0] == "interactions" and segments[-1] == "callback":
            kind = body.get("type") if isinstance(body, dict) else None
            original_public = kind in (MESSAGE, DEFERRED) and not _flags(body, nested=True) & EPHEMERAL
            if kind == MESSAGE and original_public:
                return when
            loading = kind == DEFERRED
        elif segments[0] == "webhooks" and len(segments) == 3 and method == "POST":
            if loading:
                loading = False
                if original_public:
                    return when
            elif not _flags(body, nested=False) & EPHEMERAL:
                return when
        elif segments[0] == "webhooks" and segments[-1] == "@original" and method == "PATCH" and loading:
            loading = False
            if original_public:
                return when
    return None


def answered(calls: Iterable[Call]) -> bool:
    """Whether the requester got an answer with content (to anyone's eyes): a type-4 callback, a follow-up, or
    an edit of the original. A bare "thinking…" (or one deleted unanswered) is no answer."""
    for method, path, body, _ in calls:
        segments = path.strip("/").split("/")
        if method == "POST" and segments[0] == "interactions" and segments[-1] == "callback":
            if isinstance(body, dict) and body.get("type") == MESSAGE:
                return True
        elif segments[0] == "webhooks" and (
            (method == "POST" and len(segments) == 3) or (method == "PATCH" and segments[-1] == "@original")
        ):
            return True
    return False


def mentions(calls: Iterable[Call], user_ids: set[int]) -> Counter[int]:
    """Channel messages (POST /channels/…/messages) mentioning each of `user_ids`."""
    found: Counter[int] = Counter()
    for method, path, body, _ in calls:
        segments = path.strip("/").split("/")
        if method != "POST" or segments[0] != "channels" or segments[-1] != "messages" or not isinstance(body, dict):
            continue
        content = str(body.get("content") or "")
        for user_id in user_ids:
            if f"<@{user_id}>" in content or f"<@!{user_id}>" in content:
                found[user_id] += 1
    return found


def edits_by_message(calls: Iterable[Call], originals: Mapping[str, int | None]) -> Counter[int]:
    """PATCHes per message id, whichever route edited it: /channels/{c}/messages/{id},
    /webhooks/{app}/{token}/messages/{id}, or …/messages/@original (resolved through `originals`: interaction
    token → the id of that interaction's original message)."""
    edits: Counter[int] = Counter()
    for method, path, _, _ in calls:
        if method != "PATCH":
            continue
        segments = path.strip("/").split("/")
        if len(segments) == 4 and segments[0] == "channels" and segments[2] == "messages":
            edits[int(segments[3])] += 1
        elif len(segments) == 5 and segments[0] == "webhooks" and segments[3] == "messages":
            if segments[4] == "@original":
                original = originals.get(segments[2])
                if original is not None:
                    edits[original] += 1
            elif segments[4].isdigit():
                edits[int(segments[4])] += 1
    return edits
