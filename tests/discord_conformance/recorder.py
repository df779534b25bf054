"""Every REST request the bot makes under simcord, captured where simcord replaces discord.py's transports.

simcord 3.2.1 swaps discord.py's `HTTPClient` for `FakeHTTPClient` (channel messages, command sync, …) and
the async webhook adapter for `FakeWebhookAdapter` (interaction callbacks, `@original` edits, follow-ups).
Both `request` methods receive exactly what discord.py built — the JSON body, or the multipart form with
its `payload_json` part and the file parts — so wrapping them sees every request as it would go out.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simcord.http import client as simcord_http

JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class UploadedFile:
    part: str  # the form field, "files[0]"
    filename: str
    size: int


@dataclass
class Request:
    method: str
    path: str  # without /api/v10 and the query string
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    content_type: str | None = None
    files: list[UploadedFile] = field(default_factory=list)
    size: int = 0  # bytes on the wire: the JSON body or payload_json plus every file

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _file_size(fp: Any) -> int:
    if isinstance(fp, bytes | bytearray):
        return len(fp)
    if isinstance(fp, io.IOBase | io.BufferedIOBase) or hasattr(fp, "seek"):
        start = fp.tell()
        end = fp.seek(0, io.SEEK_END)
        fp.seek(start)
        return end - start
    return 0


def from_form(method: str, path: str, params: dict[str, Any] | None, form: list[dict[str, Any]]) -> Request:
    """A multipart request as discord.py builds it: a `payload_json` part and one part per file."""
    body, size, files = None, 0, []
    for part in form:
        if part.get("name") == "payload_json":
            body = json.loads(part["value"])
            size += len(part["value"].encode())
        elif "filename" in part:
            upload = UploadedFile(part["name"], part["filename"], _file_size(part["value"]))
            files.append(upload)
            size += upload.size
        else:
            size += len(str(part.get("value", "")).encode())
    return Request(method, path, dict(params or {}), body, MULTIPART, files, size)


def from_json(method: str, path: str, params: dict[str, Any] | None, body: Any) -> Request:
    if body is None:
        return Request(method, path, dict(params or {}))
    text = json.dumps(body)  # as sent; also a copy the bot can no longer change
    return Request(method, path, dict(params or {}), json.loads(text), JSON, [], len(text.encode()))


def install(observe: Callable[[Request], None]) -> Callable[[], None]:
    """Call `observe` with every request either transport sends, before simcord answers it. Returns undo."""
    http_request = simcord_http.FakeHTTPClient.request
    webhook_request = simcord_http.FakeWebhookAdapter.request

    @functools.wraps(http_request)
    async def recorded_http(self, route, *, files=None, form=None, **kwargs):
        path, params = simcord_http._path_of(route.url), kwargs.get("params")
        if form is not None:
            observe(from_form(route.method, path, params, list(form)))
        else:
            observe(from_json(route.method, path, params, kwargs.get("json")))
        return await http_request(self, route, files=files, form=form, **kwargs)

    @functools.wraps(webhook_request)
    async def recorded_webhook(self, route, session, *, payload=None, multipart=None, files=None, params=None, **kw):
        path = simcord_http._path_of(route.url)
        if multipart:
            observe(from_form(route.method, path, params, list(multipart)))
        else:
            observe(from_json(route.method, path, params, payload))
        return await webhook_request(self, route, session, payload=payload, multipart=multipart, files=files,
                                     params=params, **kw)  # fmt: skip

    simcord_http.FakeHTTPClient.request = recorded_http  # type: ignore[method-assign]
    simcord_http.FakeWebhookAdapter.request = recorded_webhook  # type: ignore[method-assign]

    def undo() -> None:
        simcord_http.FakeHTTPClient.request = http_request  # type: ignore[method-assign]
        simcord_http.FakeWebhookAdapter.request = webhook_request  # type: ignore[method-assign]

    return undo
