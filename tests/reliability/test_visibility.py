"""Job numbers reveal nothing: /job, /history, /quota and /videoadmin cancel show or reach only jobs of the
current server that are the caller's own or in a channel the caller can view. Anything else is answered
exactly like a number that was never used."""

from __future__ import annotations

import discord
import pytest

from tests.e2e.helpers import advance_until, reply_of, results
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a secret garden behind a locked gate"
HIDDEN = discord.PermissionOverwrite(view_channel=False)
SHOWN = discord.PermissionOverwrite(view_channel=True)


def answer(result):
    return result.followups[-1] if result.followups else reply_of(result)


def text_of(result) -> str:
    shown = answer(result)
    return (shown.content or "") + " ".join((e.title or "") + (e.description or "") for e in shown.embeds)


def member_with(env, guild, name: str, **permissions: bool):
    """A new member of `guild` whose one role grants `permissions`."""
    role = guild.create_role(f"{name}-role", permissions=discord.Permissions(**permissions))
    return guild.add_member(env.create_user(name), roles=[role])


@pytest.fixture
def private(simcord_env, world):
    """A channel only alice (and the bot) can view; carol is let in by an overwrite; mod has Manage Server but
    no view of it; owner has Administrator."""
    guild, _, alice, bob = world
    carol = guild.add_member(simcord_env.create_user("carol"))
    mod = member_with(simcord_env, guild, "mod", manage_guild=True)
    owner = member_with(simcord_env, guild, "owner", administrator=True)
    secret = guild.create_text_channel(
        "secret", overwrites={guild.default_role: HIDDEN, alice: SHOWN, carol: SHOWN, guild.me: SHOWN}
    )
    return secret, alice, bob, carol, mod, owner


async def test_job_in_a_private_channel_is_not_found_by_those_who_cant_view_it(simcord_env, world, private, fake_luma):
    """/job of a private channel's job: its requester, a member let in, and an Administrator see it; a member
    and a Manage Server admin who can't view the channel get the answer of a number never used."""
    _, general, *_ = world
    secret, alice, bob, carol, mod, owner = private
    await alice.slash(secret, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: results(secret))
    for who in (alice, carol, owner):
        seen = await who.slash(general, "job", id=1)
        assert seen.ephemeral and "Job #1: completed" in text_of(seen), who
    never_used = text_of(await bob.slash(general, "job", id=2))
    for who in (bob, mod):
        hidden = await who.slash(general, "job", id=1)
        assert hidden.ephemeral and PROMPT not in text_of(hidden)
        assert text_of(hidden) == never_used.replace("#2", "#1"), "indistinguishable from an unused number"


async def test_another_servers_job_is_not_found_by_job_or_admin_cancel(simcord_env, world, fake_luma, bot_env):
    """A job of server A: in server B, /job and an admin's /videoadmin cancel answer as for an unused number,
    and the job runs on untouched."""
    _, general, alice, _ = world
    fake_luma.polls_to_complete = None
    await alice.slash(general, "video", prompt=PROMPT)
    other = simcord_env.create_guild("elsewhere")
    lobby = other.create_text_channel("lobby")
    boss = member_with(simcord_env, other, "boss", administrator=True)
    never_used = text_of(await boss.slash(lobby, "job", id=2))
    assert text_of(await boss.slash(lobby, "job", id=1)) == never_used.replace("#2", "#1")
    cancel_unused = text_of(await boss.slash(lobby, "videoadmin cancel", job=2))
    cancel = await boss.slash(lobby, "videoadmin cancel", job=1)
    assert cancel.ephemeral and text_of(cancel) == cancel_unused.replace("#2", "#1")
    assert [row["state"] for row in jobs(bot_env)] in (["submitting"], ["running"], ["queued"])
    assert PROMPT not in text_of(await boss.slash(lobby, "history"))


async def test_admin_cancel_does_not_reach_a_private_channel_it_cant_view(simcord_env, world, private, fake_luma, bot_env):
    """A Manage Server admin who can't view the private channel can't cancel (or learn of) a job there; an
    Administrator can."""
    _, general, *_ = world
    secret, alice, _, _, mod, owner = private
    fake_luma.polls_to_complete = None
    await alice.slash(secret, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    never_used = text_of(await mod.slash(general, "videoadmin cancel", job=2))
    refused = await mod.slash(general, "videoadmin cancel", job=1)
    assert text_of(refused) == never_used.replace("#2", "#1")
    assert jobs(bot_env)[0]["state"] == "running"
    cancelled = await owner.slash(general, "videoadmin cancel", job=1)
    assert "cancelled and refunded" in text_of(cancelled)
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    assert jobs(bot_env)[0]["state"] == "cancelled"


async def test_an_admins_quota_view_of_a_member_lists_only_jobs_it_may_see(simcord_env, world, private, fake_luma):
    """/quota user: lists the member's running jobs; one in a channel the admin can't view is left out."""
    _, general, *_ = world
    secret, alice, _, _, mod, owner = private
    fake_luma.polls_to_complete = None
    await alice.slash(secret, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    assert PROMPT in text_of(await owner.slash(general, "quota", user=alice))
    seen_by_mod = text_of(await mod.slash(general, "quota", user=alice))
    assert "Running:" in seen_by_mod and PROMPT not in seen_by_mod


@pytest.mark.bot_env(QUOTA_CONCURRENT="3")
async def test_history_lists_only_the_callers_jobs_of_this_server(simcord_env, world, fake_luma, bot_env):
    """/history in a server shows the caller's own jobs made there, not those made in another server."""
    _, general, alice, bob = world
    other = simcord_env.create_guild("elsewhere")
    lobby = other.create_text_channel("lobby")
    alice_there = other.add_member(alice.user)
    await alice.slash(general, "video", prompt="made in the first server")
    await alice_there.slash(lobby, "video", prompt="made in the second server")
    await bob.slash(general, "video", prompt="made by bob")
    await advance_until(simcord_env, lambda: all_terminal(bot_env))
    here = text_of(await alice.slash(general, "history"))
    assert "made in the first server" in here and "second server" not in here and "by bob" not in here
    there = text_of(await alice_there.slash(lobby, "history"))
    assert "made in the second server" in there and "first server" not in there
