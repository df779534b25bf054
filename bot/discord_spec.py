"""Discord's official OpenAPI 3.1 spec (vendored in bot/specs/) as JSON Schema validators for request bodies.

The spec is discord/discord-api-spec at 74fda0f (MIT, see bot/specs/LICENSE). Its schemas are JSON Schema
Draft 2020-12; they are validated with `jsonschema` through a `referencing` registry holding the whole
document, so every `#/components/schemas/…` reference resolves inside it. The document is loaded and
each validator built once per process.

Where the spec is narrower than what Discord documents and accepts, the difference is listed in
SPEC_ARTEFACTS with the reason; nothing else is loosened.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, relevance  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_FILE = Path(__file__).with_name("specs") / "discord-openapi.json.gz"
SPEC_URI = "urn:discord:openapi:v10"
SPEC_SOURCE = "discord/discord-api-spec@74fda0f (2026-07-18)"
JSON = "application/json"
SNOWFLAKE_MAX = 2**64 - 1


def _snowflakes_as_integers(schemas: dict[str, Any]) -> None:
    # The spec types a snowflake as a decimal string (that is how Discord *answers*, to spare JavaScript
    # clients from 64-bit integers), but Discord accepts a JSON integer in requests and discord.py sends
    # ids that way (allowed_mentions.users, attachments[].id = the upload's index, ...). Still an
    # unsigned 64-bit value: a negative, fractional or oversized id fails.
    schemas["SnowflakeType"] = {
        "anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0, "maximum": SNOWFLAKE_MAX}]
    }


def _guild_media_channel_type(schemas: dict[str, Any]) -> None:
    # GUILD_MEDIA (16) is a documented channel type (resources/channel.mdx) and discord.py lists it in a
    # channel option's channel_types for any guild channel; the spec's ChannelTypes enum predates it.
    schemas["ChannelTypes"]["oneOf"].append({"title": "GUILD_MEDIA", "const": 16})


# (what, patch) — each a place where the spec is stricter than Discord's documented, accepted behaviour.
SPEC_ARTEFACTS: tuple[tuple[str, Callable[[dict[str, Any]], None]], ...] = (
    ("snowflakes sent as JSON integers", _snowflakes_as_integers),
    ("channel type 16 (GUILD_MEDIA)", _guild_media_channel_type),
)


@functools.cache
def load_spec() -> dict[str, Any]:
    """The spec document with SPEC_ARTEFACTS applied (read once per process)."""
    spec: dict[str, Any] = json.loads(gzip.decompress(SPEC_FILE.read_bytes()))
    for _, patch in SPEC_ARTEFACTS:
        patch(spec["components"]["schemas"])
    return spec


@functools.cache
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(load_spec()))
    return registry


@functools.cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at JSON pointer `pointer` (e.g. '/components/schemas/RichEmbed')."""
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=_registry())


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class SchemaViolation:
    field: str  # where in the body, e.g. "[4].options[0].channel_types[6]" ("" for the body itself)
    rule: str  # the JSON Schema keyword that failed, e.g. "maxLength"
    message: str

    def __str__(self) -> str:
        return f"{self.field or '(body)'}: {self.message} [schema: {self.rule}]"


def field_name(path: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _wrong_kind(errors: list[ValidationError]) -> bool:
    # A union branch for another kind of object: its `type` discriminator (enum/const) did not match.
    return any(list(e.path) == ["type"] and e.validator in ("enum", "const") for e in errors)


def _mere_mismatch(errors: list[ValidationError]) -> bool:
    # A branch that failed only because the value is another constant or JSON type (`null` in a nullable
    # union, one constant of an enum-like oneOf): nothing inside it to point at.
    return all(not e.path and e.validator in ("const", "enum", "type") for e in errors)


def _innermost(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf the useful failure is inside the branch meant for this kind of object (the one whose
    `type` matched), else the most relevant one."""
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for inner in error.context:
            branches.setdefault(inner.relative_schema_path[0], []).append(inner)
        fitting = [errors for errors in branches.values() if not _wrong_kind(errors) and not _mere_mismatch(errors)]
        if not fitting:  # every branch just named another value or type: the union's own message says it best
            return error
        error = max((e for errors in fitting for e in errors), key=relevance)
    return error


def schema_violations(pointer: str, instance: Any) -> list[SchemaViolation]:
    """Every way `instance` breaks the schema at `pointer`, each named by field and keyword."""
    found = []
    for error in validator(pointer).iter_errors(instance):
        inner = _innermost(error)
        if inner.validator in ("maxLength", "minLength", "maxItems", "minItems") and hasattr(inner.instance, "__len__"):
            bound = "at most" if inner.validator.startswith("max") else "at least"
            message = f"length {len(inner.instance)}; {bound} {inner.validator_value}"
        else:
            message = inner.message if len(inner.message) <= 200 else inner.message[:197] + "..."
        found.append(SchemaViolation(field_name(inner.absolute_path), str(inner.validator), message))
    return found


@functools.lru_cache(maxsize=8192)
def _cached_violations(pointer: str, canonical: str) -> tuple[SchemaViolation, ...]:
    return tuple(schema_violations(pointer, json.loads(canonical)))


ANNOTATIONS = frozenset({"title", "description", "format"})


@functools.cache
def _shape(pointer: str) -> tuple[str, str, Any, Any] | None:
    """How the schema at `pointer` (through one $ref) splits into parts that validate alone with the same
    result: ("object", target, property names, required names) for an object of `properties`/`required`
    only, ("array", target, minItems, maxItems) for an array of `items` and its bounds only; else None."""
    schema = _at(pointer)
    if set(schema) == {"$ref"} and schema["$ref"].startswith("#/"):
        return _shape(schema["$ref"][1:])
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    keys = set(schema) - ANNOTATIONS
    if "object" in kinds and "properties" in keys and keys <= {"type", "properties", "required"}:
        return "object", pointer, frozenset(schema["properties"]), frozenset(schema.get("required", ()))
    if "array" in kinds and "items" in keys and keys <= {"type", "items", "minItems", "maxItems"}:
        return "array", pointer, schema.get("minItems"), schema.get("maxItems")
    union = next((k for k in ("oneOf", "anyOf") if k in keys), None)
    if union is not None and keys <= {union, "x-discord-union"}:
        branches = tuple(f"{pointer}/{union}/{i}" for i in range(len(schema[union])))
        return "union", pointer, branches, tuple(_discriminator(b) for b in branches)
    return None


def _at(pointer: str) -> Any:
    node: Any = load_spec()
    for token in pointer.strip("/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _resolve(pointer: str) -> Any:
    schema = _at(pointer)
    while isinstance(schema, dict) and set(schema) == {"$ref"}:
        schema = _at(schema["$ref"][1:])
    return schema


def _discriminator(pointer: str) -> frozenset[Any] | None:
    """The values of `type` a union branch admits (an object whose `type` has enum/const); {None} for a
    `null` branch; None when the branch says nothing about it."""
    schema = _resolve(pointer)
    if schema.get("type") == "null":
        return frozenset({None})
    kind = (schema.get("properties") or {}).get("type") or {}
    if "enum" in kind:
        return frozenset(kind["enum"])
    return frozenset({kind["const"]}) if "const" in kind else None


def _only_branch(branches: tuple[str, ...], kinds: tuple[Any, ...], instance: Any) -> str | None:
    """The one branch that can match `instance` when every other one is ruled out for sure: a `null` branch
    for a non-null value, or a branch whose `type` discriminator does not admit the value's `type`."""
    key = instance.get("type", _MISSING) if isinstance(instance, dict) else _MISSING
    possible = []
    for branch, kind in zip(branches, kinds, strict=True):
        if kind == frozenset({None}):
            if instance is None:
                possible.append(branch)
        elif kind is None or key is _MISSING or key in kind:
            possible.append(branch)
    return possible[0] if len(possible) == 1 else None


_MISSING = object()


def _canonical(instance: Any) -> str:
    return json.dumps(instance, sort_keys=True, separators=(",", ":"))


def _join(prefix: str, v: SchemaViolation) -> SchemaViolation:
    joiner = "." if prefix and v.field and not v.field.startswith("[") else ""
    return SchemaViolation(f"{prefix}{joiner}{v.field}", v.rule, v.message)


def schema_violations_cached(pointer: str, instance: Any) -> tuple[SchemaViolation, ...]:
    """schema_violations, memoised on canonical JSON: the same value gets the same answer. Plain objects
    and arrays are split into their properties and items, and a union into the one branch that can
    match (by `null` or the `type` discriminator): the same verdict, keyword for keyword, naming each
    failing field. A status edit whose progress text changed so reuses the answers for its unchanged
    fields and buttons: bots send near-identical bodies many times."""
    shape = _shape(pointer)
    if shape is not None and shape[0] == "object" and isinstance(instance, dict):
        _, target, properties, required = shape
        missing = sorted(required - set(instance))
        found = [SchemaViolation("", "required", f"{name!r} is a required property") for name in missing]
        for name in sorted(set(instance) & properties):
            inner = schema_violations_cached(f"{target}/properties/{_escape(name)}", instance[name])
            found += (_join(name, v) for v in inner)
        return tuple(found)
    if shape is not None and shape[0] == "array" and isinstance(instance, list):
        _, target, low, high = shape
        found = []
        if high is not None and len(instance) > high:
            found.append(SchemaViolation("", "maxItems", f"length {len(instance)}; at most {high}"))
        if low is not None and len(instance) < low:
            found.append(SchemaViolation("", "minItems", f"length {len(instance)}; at least {low}"))
        for index, item in enumerate(instance):
            found += (_join(f"[{index}]", v) for v in schema_violations_cached(f"{target}/items", item))
        return tuple(found)
    if shape is not None and shape[0] == "union":
        only = _only_branch(shape[2], shape[3], instance)
        if only is not None:  # every other branch fails for sure, so the union means this branch
            return schema_violations_cached(only, instance)
    return _cached_violations(pointer, _canonical(instance))


# --- operations ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the spec's template, e.g. "/channels/{channel_id}/messages"
    operation_id: str
    body_pointers: dict[str, str]  # content type → pointer to the request body schema
    query: frozenset[str]  # documented query parameter names

    def body_pointer(self, content_type: str = JSON) -> str | None:
        return self.body_pointers.get(content_type) or self.body_pointers.get(JSON)


def _operations_of(spec: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], Operation]]:
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            base = f"/paths/{_escape(path)}/{method}/requestBody/content"
            pointers = {kind: f"{base}/{_escape(kind)}/schema" for kind in content}
            query = frozenset(p["name"] for p in (*shared, *op.get("parameters", [])) if p.get("in") == "query")
            yield tuple(path.strip("/").split("/")), Operation(method.upper(), path, op["operationId"], pointers, query)


@functools.cache
def _operations() -> tuple[tuple[tuple[str, ...], Operation], ...]:
    return tuple(_operations_of(load_spec()))


@functools.lru_cache(maxsize=1024)
def _find(method: str, segments: tuple[str, ...]) -> Operation | None:
    best: tuple[int, Operation] | None = None
    for template, operation in _operations():
        if operation.method != method or len(template) != len(segments):
            continue
        literals = 0
        for part, segment in zip(template, segments, strict=True):
            if part == segment:
                literals += 1
            elif not (part.startswith("{") and part.endswith("}")):
                break
        else:
            # The most literal match wins: ".../messages/@original" over ".../messages/{message_id}".
            if best is None or literals > best[0]:
                best = (literals, operation)
    return best[1] if best else None


def find_operation(method: str, path: str) -> Operation | None:
    """The spec's operation for a concrete request path such as '/channels/123/messages' (no /api/v10)."""
    return _find(method.upper(), tuple(path.split("?", 1)[0].strip("/").split("/")))


def bulk_overwrite_pointer(guild: bool) -> str:
    """The request schema of PUT …/commands (bulk overwrite): what `CommandTree.sync` sends."""
    path = "/applications/{application_id}" + ("/guilds/{guild_id}" if guild else "") + "/commands"
    return f"/paths/{_escape(path)}/put/requestBody/content/{_escape(JSON)}/schema"
