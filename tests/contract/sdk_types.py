"""Check a JSON body against an official SDK's parameter TypedDict, strictly.

`lumaai` describes every request body as a `TypedDict` (lumaai/types/*_params.py) but never checks what
it is given at run time. `violations(body, VideoCreateParams)` does: a key the TypedDict doesn't declare,
a missing `Required` key, a value outside a `Literal`, a wrong JSON type, or a nested object that matches
no member of a `Union` is reported with its path (`keyframes.frame0.type`), so an adapter that sends a
field name, enum value or nesting the SDK doesn't know fails its test.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any

import typing_extensions

_LITERALS = (typing.Literal, typing_extensions.Literal)
_UNIONS = (typing.Union, types.UnionType)
_SEQUENCES = (list, collections.abc.Iterable, collections.abc.Sequence, typing.List)  # noqa: UP006
_WRAPPERS = (typing_extensions.Required, typing_extensions.NotRequired, typing.Required, typing.NotRequired)


def is_typeddict(tp: Any) -> bool:
    return typing_extensions.is_typeddict(tp)


def violations(value: Any, tp: Any, path: str = "body") -> list[str]:
    """Every way `value` (parsed JSON) breaks the type `tp`; empty when it conforms."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated or origin in _WRAPPERS:
        return violations(value, args[0], path)
    if tp is Any:
        return []
    if is_typeddict(tp):
        return _typeddict_violations(value, tp, path)
    if origin in _LITERALS:
        return [] if any(value == a and type(value) is type(a) for a in args) else [
            f"{path}: {value!r} is not one of {', '.join(repr(a) for a in args)}"
        ]
    if origin in _UNIONS:
        attempts = [violations(value, member, path) for member in args]
        if any(not found for found in attempts):
            return []
        return [f"{path}: matches no member of {_name(tp)}: " + " | ".join("; ".join(a) for a in attempts)]
    if origin in _SEQUENCES:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        (item,) = args or (Any,)
        return [v for i, element in enumerate(value) for v in violations(element, item, f"{path}[{i}]")]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r}"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    raise TypeError(f"{path}: the checker does not know the type {tp!r}")


def _typeddict_violations(value: Any, tp: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({tp.__name__}), got {type(value).__name__}"]
    hints = typing.get_type_hints(tp, include_extras=True)
    out = [f"{path}.{key}: {tp.__name__} has no field {key!r}" for key in value if key not in hints]
    out += [f"{path}.{key}: required by {tp.__name__} but missing" for key in _required(tp, hints) if key not in value]
    for key, hint in hints.items():
        if key in value:
            out += violations(value[key], hint, f"{path}.{key}")
    return out


def _required(tp: Any, hints: dict[str, Any]) -> list[str]:
    """Required keys, read from the resolved hints too: under `from __future__ import annotations` (as in lumaai's
    generated files) `__required_keys__` misses `Required[...]` written inside a total=False TypedDict."""
    wrapped = {key: typing.get_origin(hint) for key, hint in hints.items()}
    return [
        key for key in hints
        if wrapped[key] in (typing.Required, typing_extensions.Required)
        or (key in tp.__required_keys__ and wrapped[key] not in (typing.NotRequired, typing_extensions.NotRequired))
    ]  # fmt: skip


def _name(tp: Any) -> str:
    return " | ".join(getattr(a, "__name__", repr(a)) for a in typing.get_args(tp))
