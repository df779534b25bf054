"""Discord's limits, in one place (docs/protocols.md §D.3 and D.4).

Out: every embed and message text the bot sends goes through `fit_embed` / `fit_content`, which cut what
is too long with an ellipsis, so no prompt, option or provider text can make Discord refuse a message
(400 / 50035) — least of all the one carrying a paid clip.
In: `check_request_text` refuses over-long free text before anything is charged. Discord enforces the
declared `max_length` of an option in its client, but a modified client can send anything, so the caps
are checked in code as well.
"""

from __future__ import annotations

import copy
from typing import Any

import discord

from bot.domain import VideoRequest
from bot.errors import InvalidRequestError

CONTENT = 2000
TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 256, 4096, 25, 256, 1024
FOOTER, AUTHOR, TOTAL = 2048, 256, 6000
NEGATIVE_MAX = 1000  # /clip audio's negative prompt
CHOICE = 100  # a choice's (and so an autocomplete answer's) name and value
LINK_IN_TEXT = 1900  # the longest link a result's text carries (2000 with the mention and the words around it)
ELLIPSIS = "…"
BLANK = "\u200b"  # Discord refuses an empty field name or value

PROMPT_MAX = 5000  # Luma's limit
CAMERA_MAX = CHOICE  # the camera presets are choices of an autocomplete; free text gets as much
PATTERN_MAX = 200  # a blocklist word or regular expression
# The free-text fields of a request and their caps; the prompt's lower bound is checked with it (cogs/video.py).
REQUEST_CAPS = {"prompt": PROMPT_MAX, "camera": CAMERA_MAX, "model": CHOICE, "aspect_ratio": CHOICE,
                "resolution": CHOICE, "duration": CHOICE, "negative_prompt": NEGATIVE_MAX,
                "strength": CHOICE}  # fmt: skip


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and an ellipsis, `limit` characters in all."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def fit_content(text: str | None) -> str | None:
    return None if text is None else cut(text, CONTENT)


def fit_embed(embed: discord.Embed, *, total: int = TOTAL) -> discord.Embed:
    """A copy of `embed` within every limit: each text cut to its own limit, at most 25 fields, and the
    longest texts shortened further (the short ones kept whole) until all of it fits in `total`."""
    data: dict[str, Any] = copy.deepcopy(dict(embed.to_dict()))  # to_dict shares the field dicts with `embed`
    data["fields"] = data.get("fields", [])[:FIELDS]
    slots: list[tuple[dict[str, Any], str, int]] = [(data, "title", TITLE), (data, "description", DESCRIPTION)]
    for field in data["fields"]:
        slots += [(field, "name", FIELD_NAME), (field, "value", FIELD_VALUE)]
        for key in ("name", "value"):
            field[key] = str(field.get(key) or "") or BLANK
    slots += [(data.get("footer") or {}, "text", FOOTER), (data.get("author") or {}, "name", AUTHOR)]
    slots = [(holder, key, limit) for holder, key, limit in slots if isinstance(holder.get(key), str)]
    for holder, key, limit in slots:
        holder[key] = cut(holder[key], limit)
    cap = share_cap([len(holder[key]) for holder, key, _ in slots], total)
    for holder, key, _ in slots:
        holder[key] = cut(holder[key], cap)
    return discord.Embed.from_dict(data)


def share_cap(lengths: list[int], total: int) -> int:
    """The largest length cap c with sum(min(length, c)) <= total: texts shorter than c stay whole, the
    longer ones are cut to c (water-filling, so one huge text can't starve the others)."""
    if sum(lengths) <= total:
        return max(lengths, default=0)
    remaining, left = total, len(lengths)
    for length in sorted(lengths):
        share = remaining // left
        if length > share:
            return share
        remaining -= length
        left -= 1
    return remaining  # unreachable: the sum exceeded total


def check_request_text(request: VideoRequest) -> None:
    """Refuse (before anything is charged) a request whose free text is longer than its cap."""
    for name, cap in REQUEST_CAPS.items():
        check_length(name.replace("_", " "), getattr(request, name), cap)


def check_length(what: str, value: str | None, cap: int) -> None:
    if value is not None and len(value) > cap:
        raise InvalidRequestError(
            f"{what} too long ({len(value)} characters)",
            public_message=f"The {what} may be at most {cap} characters (yours has {len(value)}). Nothing was charged.",
        )
