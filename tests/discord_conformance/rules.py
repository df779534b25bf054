"""What Discord would say about one request: its operation's request schema in Discord's OpenAPI spec, then
the documented limits the schema cannot express (protocols.md §D.3, Discord's message.mdx, components
reference and reference.mdx "Uploading Files")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.discord_spec import field_name, find_operation, schema_violations_cached
from tests.discord_conformance.recorder import Request

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX, FIELD_VALUE_MAX = 256, 1024
FOOTER_TEXT_MAX, AUTHOR_NAME_MAX = 2048, 256
ACTION_ROWS_MAX, ROW_WIDTH, COMPONENTS_MAX, COMPONENTS_V2_MAX = 5, 5, 25, 40
CUSTOM_ID_MAX = 100
REQUEST_MAX = 25 * 1024 * 1024
COMPONENTS_V2 = 1 << 15
ACTION_ROW, SELECT_TYPES = 1, {3, 5, 6, 7, 8}
UPLOAD_INDEX_MAX = 1 << 22  # a new upload's attachment id is its files[n] index; an existing one is a snowflake
# Operations whose body (for a callback: its `data`) is a message.
MESSAGE_OPERATIONS = {"create_message", "update_message", "execute_webhook", "update_original_webhook_message",
                      "update_webhook_message"}  # fmt: skip
MESSAGE_CALLBACKS = {4, 7}  # CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE (5 and 6 carry at most flags)
MODAL_CALLBACK = 9


def violations(request: Request) -> list[str]:
    """Every rule `request` breaks, each as 'field: what [rule]'."""
    operation = find_operation(request.method, request.path)
    if operation is None:
        return [f"(route): {request.method} {request.path} is no operation in Discord's spec [spec: paths]"]
    found = [f"(query) {name}: not a parameter of {operation.operation_id} [spec: parameters]"
             for name in request.params if name not in operation.query]  # fmt: skip
    pointer = operation.body_pointer()
    if request.body is not None:
        if pointer is None:
            found.append(f"(body): {operation.operation_id} takes no request body [spec: requestBody]")
        else:
            found += (str(v) for v in schema_violations_cached(pointer, request.body))
    if request.size > REQUEST_MAX:
        found.append(f"(request): {request.size} bytes; at most {REQUEST_MAX} (25 MiB) [limit: request size]")
    message, prefix = _message_of(operation.operation_id, request.body)
    if message is not None:
        found += (f"{prefix}{v}" for v in message_violations(message, request))
    elif _is_modal(operation.operation_id, request.body):
        found += (f"data.{v}" for v in _custom_id_violations(request.body["data"].get("components") or []))
    return found


def _is_modal(operation_id: str, body: Any) -> bool:
    return (operation_id == "create_interaction_response" and isinstance(body, dict)
            and body.get("type") == MODAL_CALLBACK and isinstance(body.get("data"), dict))  # fmt: skip


def _message_of(operation_id: str, body: Any) -> tuple[dict[str, Any] | None, str]:
    if not isinstance(body, dict):
        return None, ""
    if operation_id in MESSAGE_OPERATIONS:
        return body, ""
    if operation_id == "create_interaction_response" and body.get("type") in MESSAGE_CALLBACKS:
        data = body.get("data")
        return (data, "data.") if isinstance(data, dict) else (None, "")
    return None, ""


def message_violations(message: dict[str, Any], request: Request | None = None) -> list[str]:
    found = []
    content = message.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        found.append(f"content: {len(content)} characters; at most {CONTENT_MAX} [limit: content]")
    found += _embed_violations(message.get("embeds") or [])
    components = message.get("components") or []
    found += _component_violations(components, v2=bool((message.get("flags") or 0) & COMPONENTS_V2))
    found += _custom_id_violations(components)
    if request is not None:
        found += _attachment_violations(message.get("attachments"), request)
    return found


def _embed_violations(embeds: list[Any]) -> Iterator[str]:
    if len(embeds) > EMBEDS_MAX:
        yield f"embeds: {len(embeds)} embeds; at most {EMBEDS_MAX} [limit: embeds]"
    total = 0
    for index, embed in enumerate(e for e in embeds if isinstance(e, dict)):
        where = f"embeds[{index}]"
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                yield f"{where}.{key}: {len(text)} characters; at most {limit} [limit: embed {key}]"
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            yield f"{where}.fields: {len(fields)} fields; at most {EMBED_FIELDS_MAX} [limit: embed fields]"
        for i, item in enumerate(fields):
            name, value = str(item.get("name") or ""), str(item.get("value") or "")
            total += len(name) + len(value)
            if len(name) > FIELD_NAME_MAX:
                yield f"{where}.fields[{i}].name: {len(name)} characters; at most {FIELD_NAME_MAX} [limit: field name]"
            if len(value) > FIELD_VALUE_MAX:
                yield f"{where}.fields[{i}].value: {len(value)} characters; at most {FIELD_VALUE_MAX} [limit: field value]"
        for key, inner, limit in (("footer", "text", FOOTER_TEXT_MAX), ("author", "name", AUTHOR_NAME_MAX)):
            text = str((embed.get(key) or {}).get(inner) or "")
            total += len(text)
            if len(text) > limit:
                yield f"{where}.{key}.{inner}: {len(text)} characters; at most {limit} [limit: embed {key} {inner}]"
    if total > EMBED_TOTAL_MAX:
        yield f"embeds: {total} characters of embed text in all; at most {EMBED_TOTAL_MAX} [limit: embed total]"


def _walk(components: list[Any], path: str = "components") -> Iterator[tuple[str, dict[str, Any]]]:
    for index, component in enumerate(components):
        if isinstance(component, dict):
            where = f"{path}[{index}]"
            yield where, component
            for key in ("components", "accessory", "component"):
                child = component.get(key)
                children = child if isinstance(child, list) else [child] if isinstance(child, dict) else []
                yield from _walk(children, f"{where}.{key}")


def _component_violations(components: list[Any], *, v2: bool) -> Iterator[str]:
    count = sum(1 for _ in _walk(components))
    if v2:
        if count > COMPONENTS_V2_MAX:
            yield f"components: {count} components; at most {COMPONENTS_V2_MAX} with Components V2 [limit: components]"
        return
    if len(components) > ACTION_ROWS_MAX:
        yield f"components: {len(components)} rows; at most {ACTION_ROWS_MAX} action rows [limit: action rows]"
    items = 0
    for index, row in enumerate(components):
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            yield f"components[{index}]: only action rows at the top without Components V2 [limit: action rows]"
            continue
        children = row.get("components") or []
        items += len(children)
        selects = sum(1 for c in children if isinstance(c, dict) and c.get("type") in SELECT_TYPES)
        if len(children) > ROW_WIDTH or (selects and len(children) > 1):
            yield f"components[{index}]: {len(children)} items; a row holds 5 buttons or one select [limit: row width]"
    if items > COMPONENTS_MAX:
        yield f"components: {items} components; at most {COMPONENTS_MAX} [limit: components]"


def _custom_id_violations(components: list[Any]) -> Iterator[str]:
    seen: dict[str, str] = {}
    for where, component in _walk(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if not 1 <= len(str(custom_id)) <= CUSTOM_ID_MAX:
            yield f"{where}.custom_id: {len(str(custom_id))} characters; 1-{CUSTOM_ID_MAX} [limit: custom_id]"
        if custom_id in seen:
            yield f"{where}.custom_id: {custom_id!r} is also used by {seen[custom_id]} [limit: unique custom_id]"
        seen.setdefault(custom_id, where)


def _attachment_violations(attachments: Any, request: Request) -> Iterator[str]:
    named = {upload.part: upload for upload in request.files}
    entries = [a for a in attachments or [] if isinstance(a, dict)]
    referenced = set()
    for index, entry in enumerate(entries):
        ident = entry.get("id")
        try:
            number = int(ident)
        except (TypeError, ValueError):
            continue  # a schema violation already
        if number >= UPLOAD_INDEX_MAX:
            continue  # an attachment the message already has, kept by this edit
        upload = named.get(f"files[{number}]")
        where = field_name(["attachments", index])
        if upload is None:
            yield f"{where}.id: {number} names no uploaded file (files[{number}]) [limit: files ↔ attachments]"
            continue
        referenced.add(upload.part)
        if entry.get("filename") not in (None, upload.filename):
            yield (f"{where}.filename: {entry['filename']!r} but files[{number}] is {upload.filename!r} "
                   "[limit: files ↔ attachments]")  # fmt: skip
    # v10: an edit's `attachments` lists everything the message keeps, new uploads included; a create
    # without the array attaches every file.
    for part in sorted(named):
        if part not in referenced and (attachments is not None or request.method == "PATCH"):
            yield f"{part}: {named[part].filename!r} has no attachments entry (id {part[6:-1]}) [limit: files ↔ attachments]"
