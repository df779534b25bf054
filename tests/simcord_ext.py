"""One small extension of simcord 3.2.1's settlement: a bot task waiting on an asyncio primitive
(Queue.get, Event.wait, Lock/Semaphore acquire, Condition.wait) counts as parked.

Only another task can wake such a wait, and settling still waits for everything runnable or doing
real I/O, so treating it as parked is sound. Without it every `slash`/`advance_time` times out on
an ordinary job runner. Re-check this when simcord is upgraded (testing.md, "Pitfalls").
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from datetime import timedelta
from pathlib import PurePath

import discord
import simcord
from simcord import _settlement
from simcord.http._helpers import message_response

from tests import simcord_limits

SIMCORD_VERSION = "3.2.1"
PRIMITIVE_MODULES = ("asyncio/locks.py", "asyncio/queues.py")
PARK_REASON = "asyncio primitive (woken only by another task)"

_original_park_reason = _settlement._park_reason


def innermost_frame_file(task: asyncio.Task) -> str | None:
    """The file of the innermost coroutine frame the task is suspended in."""
    coro = task.get_coro()
    file = None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        file = frame.f_code.co_filename
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return file


def waits_on_primitive(task: asyncio.Task) -> bool:
    file = innermost_frame_file(task)
    if file is None:
        return False
    posix = PurePath(file).as_posix()
    return any(posix.endswith(module) for module in PRIMITIVE_MODULES)


def _park_reason(state, task, deadline, seen=None):
    reason = _original_park_reason(state, task, deadline, seen)
    if reason is None and not task.done() and waits_on_primitive(task):
        waiter = getattr(task, "_fut_waiter", None)
        if waiter is not None and not waiter.done():
            return PARK_REASON
    return reason


def install() -> None:
    if simcord.__version__ != SIMCORD_VERSION:
        raise RuntimeError(f"simcord_ext was written for simcord {SIMCORD_VERSION}; re-check it for {simcord.__version__}")
    _settlement._park_reason = _park_reason
    install_discord_behaviour()
    simcord_limits.install()  # and refuse over-long messages as Discord does (tests/simcord_limits.py)


def speed_up_settling(idle: float = 0.005) -> None:
    """simcord re-checks quiescence every 50 ms; a few ms makes long virtual-time tests much faster."""
    from simcord.env import Env

    original = Env._settle_internal
    if getattr(original, "_reelbot_fast", False):
        return

    async def settle_internal(self, *, timeout=None, idle=idle, dispatch=None, _deadline=None):
        return await original(self, timeout=timeout, idle=idle, dispatch=dispatch, _deadline=_deadline)

    settle_internal._reelbot_fast = True  # type: ignore[attr-defined]
    Env._settle_internal = settle_internal


# --- Discord behaviour simcord 3.2.1 does not model (the spec wins) ---------------------------------------

NONCE_WINDOW = timedelta(minutes=5)  # Discord: "checked for uniqueness in the past few minutes"


def _send_message_once(original):
    """POST /channels/{id}/messages with `nonce` and `enforce_nonce: true`: if the same author created a message
    with that nonce in the last few minutes, that message is returned and no new one is created (Discord's
    Create Message docs, `enforce_nonce`). simcord ignores both fields."""

    def send_message(ctx):
        body = ctx.body()
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return original(ctx)
        channel_id = ctx.int_arg("channel_id")
        seen = ctx.backend.__dict__.setdefault("_reelbot_nonces", {})
        key = (channel_id, ctx.backend.bot_user.id, str(nonce))
        earlier = seen.get(key)
        if earlier is not None and discord.utils.utcnow() - discord.utils.snowflake_time(earlier) < NONCE_WINDOW:
            with contextlib.suppress(Exception):  # deleted since: a new message is created
                return message_response(ctx, ctx.backend.get_message(channel_id, earlier))
        response = original(ctx)
        seen[key] = int(response["id"])
        return response

    return send_message


def _history_after_is_the_oldest_page(original):
    """GET /channels/{id}/messages?after=X: Discord returns the `limit` messages right after X (newest first
    within the page), so discord.py can page forward; simcord 3.2.1 returns the newest `limit` of the whole
    channel after X, skipping the middle of a busy channel."""

    def get_history(ctx):
        params = ctx.params
        if "after" not in params or "before" in params or "around" in params:
            return original(ctx)
        limit = int(params.get("limit", 50))
        page = original(_with_params(ctx, {**params, "limit": 1_000_000}))
        return page[-limit:]  # newest first: the last `limit` are the oldest after X

    return get_history


def _with_params(ctx, params):
    clone = copy.copy(ctx)
    clone.params = params
    return clone


def install_discord_behaviour() -> None:
    """Swap in the two route handlers above (idempotent)."""
    from simcord.http import router

    routes = router._ROUTES
    for method, wrap in (("POST", _send_message_once), ("GET", _history_after_is_the_oldest_page)):
        for index, (template, handler) in enumerate(routes[method]):
            if template == ["channels", "{channel_id}", "messages"] and not getattr(handler, "_reelbot", False):
                patched = wrap(handler)
                patched._reelbot = True  # type: ignore[attr-defined]
                routes[method][index] = (template, patched)


ADVANCE_STEP_S = 10.0
MAX_STEPS = 24  # days-long advances (quota resets, links expiring) would otherwise take thousands of steps


def chunked(original, step: float = ADVANCE_STEP_S, max_steps: int = MAX_STEPS):
    """`original` (Env.advance_time) called in steps of `step` virtual seconds, or in `max_steps` equal
    steps when that would take more."""

    async def advance_time(self, seconds):
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= step:
            return await original(self, seconds)  # simcord validates (and refuses) odd values itself
        size = max(step, seconds / max_steps)
        remaining = float(seconds)
        while remaining > size:
            await original(self, size)
            remaining -= size
        await original(self, remaining)

    advance_time._reelbot_chunked = True  # type: ignore[attr-defined]
    return advance_time


def chunk_advances(step: float = ADVANCE_STEP_S) -> None:
    """simcord gives one advance_time call settle_timeout of real time in all. Advancing 16 minutes past an
    interaction token means hundreds of polls inside that one budget, which a busy machine misses; in steps,
    each step has its own budget, and the same timers fire in the same order."""
    from simcord.env import Env

    if not getattr(Env.advance_time, "_reelbot_chunked", False):
        Env.advance_time = chunked(Env.advance_time, step)
