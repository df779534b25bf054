"""What Discord would say about the slash commands before they are synced, checked offline.

The payload is the JSON body of the bulk overwrite (`PUT /applications/{id}[/guilds/{id}]/commands`) that
`CommandTree.sync` sends. It is validated against that operation's request schema in Discord's vendored
OpenAPI spec (bot/discord_spec.py), then against the documented limits the schema does not express
(protocols.md §D.4, Discord's interactions/application-commands.mdx).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from bot.discord_spec import bulk_overwrite_pointer, schema_violations

MAX_GLOBAL_CHAT_COMMANDS = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_DESCRIPTION = 100
MAX_CHOICE_TEXT = 100
# All name, description and choice text of one command, its subcommands and options. Discord's page has
# said 4000 for years (newer copies say 8000); the lower figure is kept so a tree that passes here passes
# whichever limit a given API edge enforces.
MAX_COMMAND_TEXT = 4000
MAX_STRING_LENGTH = 6000
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's safe integers: the bound on integer/number option values
CHAT_INPUT = 1
SUBCOMMAND, SUBCOMMAND_GROUP, STRING, INTEGER, NUMBER = 1, 2, 3, 4, 10
# Discord's CHAT_INPUT name rule (`^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`, lowercase where a
# letter has a lowercase form); \w is Python's Unicode letters, digits and underscore.
CHAT_NAME = re.compile(r"[-_'\w]{1,32}")


def command_problems(payloads: Sequence[dict[str, Any]], *, guild: bool = False) -> list[str]:
    """Each reason Discord would refuse this bulk overwrite, naming the command and the field."""
    problems = [
        f"{_where(payloads, v.field)}: {v.message} [schema: {v.rule}]"
        for v in schema_violations(bulk_overwrite_pointer(guild), list(payloads))
    ]
    chat = [p for p in payloads if p.get("type", CHAT_INPUT) == CHAT_INPUT]
    if not guild and len(chat) > MAX_GLOBAL_CHAT_COMMANDS:
        problems.append(f"{len(chat)} global slash commands: at most {MAX_GLOBAL_CHAT_COMMANDS} [limit]")
    problems += _duplicates(payloads, "command")
    for payload in payloads:
        name = f"/{payload.get('name', '?')}"
        total = _text_length(payload)
        if total > MAX_COMMAND_TEXT:
            problems.append(f"{name}: {total} characters of names, descriptions and choices; "
                            f"at most {MAX_COMMAND_TEXT} [limit: total text]")  # fmt: skip
        problems += (f"{name}{problem}" for problem in _node_problems(payload, chat=payload in chat, path=""))
    return problems


def _node_problems(node: dict[str, Any], *, chat: bool, path: str) -> Iterator[str]:
    name = str(node.get("name", ""))
    if chat and not (CHAT_NAME.fullmatch(name) and name == name.lower()):
        yield f"{path}: name {name!r} must be 1-32 lowercase letters, digits, - _ or ' [limit: name]"
    if chat and not 1 <= len(node.get("description") or "") <= MAX_DESCRIPTION:
        yield f"{path}: description must be 1-{MAX_DESCRIPTION} characters [limit: description]"
    options = node.get("options") or []
    if len(options) > MAX_OPTIONS:
        yield f"{path}: {len(options)} options; at most {MAX_OPTIONS} [limit: options]"
    yield from (f"{path}{p}" for p in _duplicates(options, "option"))
    seen_optional = False
    for index, option in enumerate(options):
        where = f"{path} {option.get('name', index)}"
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            yield from _node_problems(option, chat=True, path=where)
            continue
        yield from _option_problems(option, where)
        if option.get("required"):
            if seen_optional:
                yield f"{where}: a required option must come before every optional one [limit: required]"
        else:
            seen_optional = True


def _option_problems(option: dict[str, Any], where: str) -> Iterator[str]:
    name = str(option.get("name", ""))
    if not (CHAT_NAME.fullmatch(name) and name == name.lower()):
        yield f"{where}: name {name!r} must be 1-32 lowercase letters, digits, - _ or ' [limit: name]"
    if not 1 <= len(option.get("description") or "") <= MAX_DESCRIPTION:
        yield f"{where}: description must be 1-{MAX_DESCRIPTION} characters [limit: description]"
    choices = option.get("choices") or []
    if len(choices) > MAX_CHOICES:
        yield f"{where}: {len(choices)} choices; at most {MAX_CHOICES} [limit: choices]"
    if choices and option.get("autocomplete"):
        yield f"{where}: autocomplete and choices cannot both be set [limit: autocomplete]"
    for choice in choices:
        if not 1 <= len(str(choice.get("name", ""))) <= MAX_CHOICE_TEXT:
            yield f"{where}: choice name {choice.get('name')!r} must be 1-{MAX_CHOICE_TEXT} characters [limit: choices]"
        if isinstance(choice.get("value"), str) and len(choice["value"]) > MAX_CHOICE_TEXT:
            yield f"{where}: choice value {choice['value'][:20]!r}… over {MAX_CHOICE_TEXT} characters [limit: choices]"
    if option.get("type") in (INTEGER, NUMBER):
        for bound in ("min_value", "max_value"):
            value = option.get(bound)
            if isinstance(value, int | float) and abs(value) > MAX_SAFE_INTEGER:
                yield f"{where}: {bound} {value} is outside ±(2^53-1) [limit: {bound}]"
    if option.get("type") == STRING:
        for bound, low in (("min_length", 0), ("max_length", 1)):
            value = option.get(bound)
            if isinstance(value, int) and not low <= value <= MAX_STRING_LENGTH:
                yield f"{where}: {bound} {value} must be {low}-{MAX_STRING_LENGTH} [limit: {bound}]"


def _duplicates(items: Sequence[dict[str, Any]], kind: str) -> list[str]:
    # Commands are unique per type (a slash command and a context menu may share a name); options per level.
    keys = [(item.get("type", CHAT_INPUT) if kind == "command" else 0, item.get("name")) for item in items]
    twice = sorted({str(name) for key in keys if keys.count(key) > 1 for name in key[1:]})
    return [f": {kind} name {name} is used twice [limit: unique names]" for name in twice]


def _text_length(node: dict[str, Any]) -> int:
    total = len(node.get("name") or "") + len(node.get("description") or "")
    for key in ("name_localizations", "description_localizations"):
        total += sum(len(text) for text in (node.get(key) or {}).values())
    for choice in node.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
        total += sum(len(text) for text in (choice.get("name_localizations") or {}).values())
    return total + sum(_text_length(option) for option in node.get("options") or [])


def _where(payloads: Sequence[dict[str, Any]], field: str) -> str:
    """'[4].options[0].options[1].max_value' → '/videoadmin channels deny: max_value'."""
    match = re.match(r"\[(\d+)\]", field)
    if not match or int(match.group(1)) >= len(payloads):
        return field or "(payload)"
    node: Any = payloads[int(match.group(1))]
    label = f"/{node.get('name', '?')}"
    rest = field[match.end() :]
    while (step := re.match(r"\.options\[(\d+)\]", rest)) and int(step.group(1)) < len(node.get("options") or []):
        node = node["options"][int(step.group(1))]
        label += f" {node.get('name', '?')}"
        rest = rest[step.end() :]
    return f"{label}: {rest.lstrip('.') or '(itself)'}"
