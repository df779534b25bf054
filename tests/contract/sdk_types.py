"""Check a JSON body against an official SDK's request TypedDict (luma-agents' GenerationCreateParams, …):
unknown keys, missing Required keys and values outside a Literal are all reported, recursively."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import typing_extensions
from typing_extensions import get_type_hints


def problems(value: Any, expected: Any, path: str = "body") -> list[str]:
    """Every way `value` does not fit the SDK type `expected` (empty when it fits)."""
    origin = get_origin(expected)
    if origin in (typing.Required, typing.NotRequired, typing_extensions.Required, typing_extensions.NotRequired):
        return problems(value, get_args(expected)[0], path)
    if origin in (typing.Annotated, typing_extensions.Annotated):
        return problems(value, get_args(expected)[0], path)
    if origin in (Union, types.UnionType):
        options = get_args(expected)
        results = [problems(value, option, path) for option in options]
        return [] if any(not r for r in results) else min(results, key=len)
    if expected is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r}"]
    if origin is Literal:
        return [] if value in get_args(expected) else [f"{path}: {value!r} not in {get_args(expected)}"]
    if typing_extensions.is_typeddict(expected):
        return _typed_dict(value, expected, path)
    if origin in (collections.abc.Iterable, list, collections.abc.Sequence):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        (item,) = get_args(expected)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{path}[{i}]")]
    if expected is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a bool, got {value!r}"]
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an int, got {value!r}"]
    if expected in (str, float):
        return [] if isinstance(value, expected) else [f"{path}: expected {expected.__name__}, got {value!r}"]
    if expected is Any or expected is object:
        return []
    return [f"{path}: unchecked type {expected!r}"]


def _typed_dict(value: Any, expected: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    hints = get_type_hints(expected, include_extras=True)
    out = [f"{path}.{key}: not a field of {expected.__name__}" for key in value if key not in hints]
    out += [f"{path}.{key}: required by {expected.__name__}" for key in expected.__required_keys__ if key not in value]
    for key, item in value.items():
        if key in hints:
            out += problems(item, hints[key], f"{path}.{key}")
    return out
