"""The test fixture's extension of simcord: long virtual-time advances are made in steps."""

from __future__ import annotations

from tests import simcord_ext


async def test_a_long_advance_is_made_in_steps_that_add_up():
    """advance_time(65) becomes six 10 s steps and one of 5 s: each step gets simcord's settle budget."""
    calls: list[float] = []

    async def original(env, seconds):
        calls.append(seconds)

    await simcord_ext.chunked(original, step=10)(object(), 65)
    assert calls == [10, 10, 10, 10, 10, 10, 5.0]


async def test_a_days_long_advance_takes_a_bounded_number_of_steps():
    """Eight days are 24 equal steps, not 69,120 steps of 10 s."""
    calls: list[float] = []

    async def original(env, seconds):
        calls.append(seconds)

    await simcord_ext.chunked(original, step=10)(object(), 8 * 24 * 3600)
    assert len(calls) == 24 and sum(calls) == 8 * 24 * 3600


async def test_short_and_odd_advances_go_to_simcord_unchanged():
    """A short advance is one call; a value simcord must refuse (negative, not a number) reaches it as given."""
    calls: list[object] = []

    async def original(env, seconds):
        calls.append(seconds)

    advance = simcord_ext.chunked(original, step=10)
    for value in (3, 10, -1, "soon", True):
        await advance(object(), value)
    assert calls == [3, 10, -1, "soon", True]


def test_the_extension_is_installed_once():
    """Installing twice does not wrap twice."""
    from simcord.env import Env

    simcord_ext.chunk_advances()
    first = Env.advance_time
    simcord_ext.chunk_advances()
    assert Env.advance_time is first and first._reelbot_chunked
