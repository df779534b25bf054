"""/videoadmin, /quota and the server policy end to end: admin-only in code, limits at four levels, budget,
cooldown, cost weights, channels, blocklist, stats, cancel, forget, the fair queue and the day boundary."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import discord
import pytest
import simcord

from tests.e2e.helpers import advance_until, reply_of, results, title

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a paper boat drifting down a rainy street"


@pytest.fixture
def admin(simcord_env, world):
    """A member whose role has Manage Server (and nothing else special)."""
    guild = world[0]
    role = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(simcord_env.create_user("root"), roles=[role])


def db(tmp_path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "reelbot.db")


def refusals(tmp_path) -> list[tuple[int, str]]:
    with db(tmp_path) as conn:
        return conn.execute("SELECT user_id, reason FROM refusals ORDER BY id").fetchall()


def job_count(tmp_path) -> int:
    with db(tmp_path) as conn:
        return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


async def quota_text(actor, channel, /, **options) -> str:
    result = await actor.slash(channel, "quota", **options)
    assert reply_of(result).ephemeral
    return reply_of(result).embeds[0].description if reply_of(result).embeds else reply_of(result).content


async def run(actor, where, command: str, /, **options) -> str:
    """Run an admin command; it must answer ephemerally. Returns its text (content, else embed description)."""
    result = await actor.slash(where, command, **options)
    assert reply_of(result).ephemeral, f"/{command} answered publicly"
    response = result.followups[-1] if result.followups else reply_of(result)
    return response.content or (response.embeds[0].description or "" if response.embeds else "")


# --- admin only, in code --------------------------------------------------------------------------------


async def test_videoadmin_is_hidden_from_members_by_default(simcord_env, world, admin):
    """default_permissions(manage_guild) keeps /videoadmin out of a plain member's command list."""
    _, channel, alice, _ = world
    assert not [name for name in alice.available_commands(channel) if name.startswith("videoadmin")]
    assert "videoadmin limits show" in admin.available_commands(channel)
    with pytest.raises(simcord.SetupError):
        await alice.slash(channel, "videoadmin limits show")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("videoadmin limits show", {}),
        ("videoadmin limits server", {"daily": 50}),
        ("videoadmin limits block", {"user": "alice"}),
        ("videoadmin channels deny", {"channel": "general"}),
        ("videoadmin blocklist add", {"pattern": "fox"}),
        ("videoadmin stats", {}),
        ("videoadmin cancel", {"job": 1}),
        ("videoadmin forget", {"user": "alice"}),
    ],
)
async def test_member_let_in_by_an_override_is_still_refused_in_code(simcord_env, world, tmp_path, command, options):
    """Even when a server admin shows /videoadmin to Bob (a command override), every subcommand refuses him and
    changes nothing: default_permissions is only a hint."""
    guild, channel, alice, bob = world
    command_id = simcord_env.backend.find_command("videoadmin", guild.id)["id"]
    guild.set_command_permissions(int(command_id), {bob: True})
    handles = {"alice": alice, "general": channel}
    result = await bob.slash(channel, command, **{k: handles.get(v, v) for k, v in options.items()})
    assert reply_of(result).ephemeral and "Only server admins" in reply_of(result).content
    with db(tmp_path) as conn:
        for table in ("guild_settings", "user_limits", "channel_rules", "blocklist"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral, "alice was not blocked"


async def test_quota_of_another_member_is_for_admins_only(simcord_env, world, admin):
    """/quota user: shows another member's quota to an admin, and refuses a plain member."""
    _, channel, alice, bob = world
    await alice.slash(channel, "video", prompt=PROMPT)
    refused = await bob.slash(channel, "quota", user=alice)
    assert reply_of(refused).ephemeral and "Only server admins" in reply_of(refused).content
    text = await quota_text(admin, channel, user=alice)
    assert "1 of 5 videos used" in text


# --- limits at four levels ------------------------------------------------------------------------------


@pytest.mark.bot_env(QUOTA_DAILY="1", QUOTA_CONCURRENT="5")
async def test_role_tiers_most_generous_role_wins_and_user_override_beats_roles(simcord_env, world, admin):
    """Server default 1; Patrons 3, VIPs 6: a member with both gets 6, a Patron 3, a plain member 1; an override
    of 2 beats the member's roles; limits apply to the very next command."""
    guild, channel, alice, bob = world
    patrons, vips = guild.create_role("Patrons"), guild.create_role("VIPs")
    pat = guild.add_member(simcord_env.create_user("pat"), roles=[patrons])
    vic = guild.add_member(simcord_env.create_user("vic"), roles=[patrons, vips])
    assert "Limits for" in await run(admin, channel, "videoadmin limits role", role=patrons, daily=3)
    await run(admin, channel, "videoadmin limits role", role=vips, daily=6, concurrent=4)

    assert "of 3 videos used" in await quota_text(pat, channel)
    assert "of 6 videos used" in await quota_text(vic, channel) and "of 4 at a time" in await quota_text(vic, channel)
    assert "of 1 videos used" in await quota_text(alice, channel)

    for _ in range(2):
        assert not reply_of(await pat.slash(channel, "video", prompt=PROMPT)).ephemeral
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral
    again = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(again).ephemeral and "used 1 of 1 videos today" in reply_of(again).content

    await run(admin, channel, "videoadmin limits user", user=vic, daily=2)
    text = await quota_text(vic, channel)
    assert "of 2 videos used" in text and "set for you" in text and "of 4 at a time" in text
    await run(admin, channel, "videoadmin limits server", daily=10)
    assert "of 10 videos used" in await quota_text(bob, channel), "server setting replaces QUOTA_DAILY"
    assert "of 3 videos used" in await quota_text(pat, channel), "a role still beats the server default"
    await run(admin, channel, "videoadmin limits role", role=patrons, reset=True)
    assert "of 10 videos used" in await quota_text(pat, channel)
    show = await run(admin, channel, "videoadmin limits show")
    assert vips.mention in show and vic.mention in show and "10 per day" in show


async def test_blocked_member_is_refused_and_audited_until_unblocked(simcord_env, world, admin, fake_luma, tmp_path):
    """A blocked member's /video is refused ephemerally before anything is charged or sent; unblocking restores it."""
    _, channel, _, bob = world
    await run(admin, channel, "videoadmin limits block", user=bob)
    refused = await bob.slash(channel, "video", prompt=PROMPT)
    answer = reply_of(refused)
    assert answer.ephemeral and "blocked" in answer.content and "Nothing was charged" in answer.content
    assert fake_luma.requests_to("POST", "/generations") == [] and job_count(tmp_path) == 0
    assert refusals(tmp_path) == [(bob.id, "blocked")]
    assert "Blocked" in await quota_text(admin, channel, user=bob)
    await run(admin, channel, "videoadmin limits unblock", user=bob)
    assert not reply_of(await bob.slash(channel, "video", prompt=PROMPT)).ephemeral


@pytest.mark.bot_env(QUOTA_DAILY="5", QUOTA_CONCURRENT="5")
async def test_server_budget_caps_the_whole_server_and_resets_at_midnight(simcord_env, world, admin, fake_luma, tmp_path):
    """With a budget of 2 units, Alice and Bob take them and Carol is refused naming the server budget; the
    budget is back the next day."""
    guild, channel, alice, bob = world
    carol = guild.add_member(simcord_env.create_user("carol"))
    assert "2 units per day" in await run(admin, channel, "videoadmin limits budget", units=2)
    await alice.slash(channel, "video", prompt=PROMPT)
    await bob.slash(channel, "video", prompt=PROMPT)
    refused = await carol.slash(channel, "video", prompt=PROMPT)
    assert reply_of(refused).ephemeral and "server has used 2 of its 2" in reply_of(refused).content
    assert refusals(tmp_path) == [(carol.id, "budget")]
    assert "Server today:** 2 of 2 units" in await quota_text(carol, channel)
    await advance_until(simcord_env, lambda: len(results(channel)) == 2)
    await simcord_env.advance_time(24 * 3600)
    assert not reply_of(await carol.slash(channel, "video", prompt=PROMPT)).ephemeral
    await run(admin, channel, "videoadmin limits budget", units=0)
    assert "Server today" not in await quota_text(carol, channel)


@pytest.mark.bot_env(QUOTA_CONCURRENT="3")
async def test_cooldown_between_a_members_videos(simcord_env, world, admin, fake_luma, tmp_path):
    """With a 60 s cooldown a second /video right away is refused with when to retry; after 60 s it works."""
    _, channel, alice, bob = world
    await run(admin, channel, "videoadmin limits cooldown", seconds=60)
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral
    early = await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(early).ephemeral and "60s cooldown" in reply_of(early).content and "<t:" in reply_of(early).content
    assert not reply_of(await bob.slash(channel, "video", prompt=PROMPT)).ephemeral, "the cooldown is per member"
    await simcord_env.advance_time(61)
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral
    assert [reason for _, reason in refusals(tmp_path)] == ["cooldown"]
    await run(admin, channel, "videoadmin limits cooldown", seconds=0)
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral


@pytest.mark.bot_env(QUOTA_DAILY="5", QUOTA_CONCURRENT="5")
async def test_cost_weights_make_a_clip_count_for_more(simcord_env, world, admin, fake_luma, tmp_path):
    """9s weighs 2 and 4k 3: a 9s 4k clip (6 units) is refused against 5; a 9s 720p one takes 2; /quota shows videos,
    units and what each option costs."""
    _, channel, alice, _ = world
    await run(admin, channel, "videoadmin limits weight", option="9s", units=2)
    text = await run(admin, channel, "videoadmin limits weight", option="4k", units=3)
    assert "4k ×3" in text and "9s ×2" in text
    big = await alice.slash(channel, "video", prompt=PROMPT, duration="9s", resolution="4k")
    assert reply_of(big).ephemeral and "this one costs 6" in reply_of(big).content
    assert fake_luma.requests_to("POST", "/generations") == []
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT, duration="9s")).ephemeral
    text = await quota_text(alice, channel)
    assert "2 of 5 units used" in text and "1 video(s) made" in text and "9s ×2" in text and "4k ×3" in text
    with db(tmp_path) as conn:
        assert conn.execute("SELECT cost, units FROM jobs").fetchall() == [(2, 2)]


# --- channels and the blocklist -----------------------------------------------------------------------------


async def test_channel_allow_list_points_to_the_allowed_channels_and_charges_nothing(
    simcord_env, world, admin, fake_luma, tmp_path
):
    """With an allow list, /video elsewhere is refused ephemerally naming the allowed channels; nothing is
    charged or sent; a denied channel is refused too."""
    guild, general, alice, _ = world
    studio = guild.create_text_channel("studio")
    await run(admin, general, "videoadmin channels allow", channel=studio)
    refused = await alice.slash(general, "video", prompt=PROMPT)
    assert reply_of(refused).ephemeral and studio.mention in reply_of(refused).content
    assert "0 of 5 videos used" in await quota_text(alice, general)
    assert fake_luma.requests_to("POST", "/generations") == [] and job_count(tmp_path) == 0
    assert refusals(tmp_path) == [(alice.id, "channel")]
    assert not reply_of(await alice.slash(studio, "video", prompt=PROMPT)).ephemeral

    summary = await run(admin, general, "videoadmin channels deny", channel=studio)
    assert "Refused in" in summary and studio.mention in summary
    assert reply_of(await alice.slash(studio, "video", prompt=PROMPT)).ephemeral
    await run(admin, general, "videoadmin channels remove", channel=studio)
    assert "every channel" in await run(admin, general, "videoadmin channels list")


async def test_blocklist_refuses_words_and_patterns_before_charging(simcord_env, world, admin, fake_luma, tmp_path):
    """A banned word (whole word, any case) and a regex refuse the prompt ephemerally with nothing charged;
    unsafe or broken regexes are refused with the reason; remove lifts the ban."""
    _, channel, alice, _ = world
    assert "added" in await run(admin, channel, "videoadmin blocklist add", pattern="  Gore ")
    assert "added" in await run(admin, channel, "videoadmin blocklist add", pattern=r"n[a@]zi\w*", regex=True)
    backref = await run(admin, channel, "videoadmin blocklist add", pattern=r"(\w)\1", regex=True)
    assert "Not added" in backref and "Backreferences" in backref
    broken = await run(admin, channel, "videoadmin blocklist add", pattern="[abc", regex=True)
    assert "not a valid regular expression" in broken and "missing ]" in broken
    complex_ = await run(admin, channel, "videoadmin blocklist add", pattern=r"(\d{0,25}){0,25}", regex=True)
    assert "Not added" in complex_ and "too complex" in complex_

    for prompt in ("so much GORE in the rain", "a N@ZIS parade"):
        refused = await alice.slash(channel, "video", prompt=prompt)
        assert reply_of(refused).ephemeral and "does not allow" in reply_of(refused).content
    allowed = await alice.slash(channel, "video", prompt="gorgeous mountains at dawn")
    assert not reply_of(allowed).ephemeral, "whole words only"
    assert [reason for _, reason in refusals(tmp_path)] == ["blocklist", "blocklist"]
    assert len(fake_luma.requests_to("POST", "/generations")) <= 1 and job_count(tmp_path) == 1
    listing = await run(admin, channel, "videoadmin blocklist list")
    assert "word: `gore`" in listing and "regex: `n[a@]zi\\w*`" in listing
    assert "removed" in await run(admin, channel, "videoadmin blocklist remove", pattern="GORE")
    await advance_until(simcord_env, lambda: results(channel))
    assert not reply_of(await alice.slash(channel, "video", prompt="so much gore in the rain")).ephemeral


async def test_limit_command_without_values_changes_nothing(simcord_env, world, admin, tmp_path):
    """`limits server` with no value says what to give and writes nothing; out-of-range values never reach the bot."""
    _, channel, *_ = world
    text = await run(admin, channel, "videoadmin limits server")
    assert "Give `daily` and/or `concurrent`" in text and "Nothing was changed" in text
    with pytest.raises(simcord.OptionError):
        await admin.slash(channel, "videoadmin limits server", concurrent=0)
    with db(tmp_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM guild_settings").fetchone()[0] == 0


# --- stats, cancel, forget ----------------------------------------------------------------------------------


@pytest.mark.bot_env(PRICE_TABLE="luma:ray-2=1.00,luma:ray-flash-2=0.50", QUOTA_CONCURRENT="5", QUOTA_DAILY="3")
async def test_stats_count_jobs_users_failures_and_estimated_spend(simcord_env, world, admin, fake_luma):
    """Stats over the period: 4 jobs by 2 members, 1 failed, 1 refused; spend = 2 * $1.00 (ray-2, 5 s) +
    $0.50 * 9/5 (ray-flash-2, 9 s) = $2.90."""
    _, channel, alice, bob = world
    await alice.slash(channel, "video", prompt=PROMPT)
    await alice.slash(channel, "video", prompt=PROMPT, model="ray-2")
    await alice.slash(channel, "video", prompt=PROMPT, model="ray-flash-2", duration="9s")
    await advance_until(simcord_env, lambda: len(results(channel)) == 3)
    fake_luma.fail_next_generation("Job failed")
    failed = await bob.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: title(reply_of(failed)) == "❌ Failed")
    assert reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral  # over QUOTA_DAILY: refused

    result = await admin.slash(channel, "videoadmin stats", days=7)
    assert reply_of(result).ephemeral
    embed = reply_of(result).embeds[0]
    assert "**Jobs:** 4 by 2 member(s) · 3 completed · 1 failed" in embed.description
    assert "**Refused before starting:** 1" in embed.description
    assert "**Estimated spend:** $2.90" in embed.description
    fields = {f.name: f.value for f in embed.fields}
    assert "3 jobs, 2 completed, 1 failed" in fields["luma · ray-2"] and "≈ $2.00" in fields["luma · ray-2"]
    assert "≈ $0.90" in fields["luma · ray-flash-2"]
    await simcord_env.advance_time(8 * 24 * 3600)
    later = (await admin.slash(channel, "videoadmin stats", days=7)).response.embeds[0].description
    assert "**Jobs:** 0 by 0" in later


async def test_admin_cancels_any_members_job(simcord_env, world, admin, fake_luma):
    """/videoadmin cancel stops Alice's running job at Luma, refunds it and says so on her status message."""
    fake_luma.polls_to_complete = None
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: fake_luma.generations, step=1)
    text = await run(admin, channel, "videoadmin cancel", job=1)
    assert "cancelled and refunded" in text
    assert title(reply_of(started)) == "🚫 Cancelled" and "server admin" in reply_of(started).embeds[0].description
    assert len(fake_luma.requests_to("DELETE")) == 1
    assert "0 of 5 videos used" in await quota_text(alice, channel)
    assert "already cancelled" in await run(admin, channel, "videoadmin cancel", job=1)
    assert "no job #99" in await run(admin, channel, "videoadmin cancel", job=99)


async def test_forget_deletes_a_members_jobs_and_refusals(simcord_env, world, admin, fake_luma, tmp_path):
    """/videoadmin forget deletes Alice's jobs and refused requests (cancelling unfinished ones first), not Bob's."""
    fake_luma.polls_to_complete = None
    _, channel, alice, bob = world
    await alice.slash(channel, "video", prompt=PROMPT)
    assert reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral  # concurrent limit: a refusal
    await bob.slash(channel, "video", prompt=PROMPT)
    text = await run(admin, channel, "videoadmin forget", user=alice)
    assert "Deleted 1 job(s) and 1 refused request(s)" in text and "1 cancelled first" in text
    with db(tmp_path) as conn:
        assert conn.execute("SELECT DISTINCT user_id FROM jobs").fetchall() == [(bob.id,)]
        assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE user_id = ?", (alice.id,)).fetchone()[0] == 0
    history = await alice.slash(channel, "history")
    assert "not made any videos" in reply_of(history).embeds[0].description


# --- audit, the fair queue, the day boundary ----------------------------------------------------------------


@pytest.mark.bot_env(QUOTA_DAILY="1")
async def test_audit_log_records_every_request_accepted_or_refused(simcord_env, world, fake_luma, tmp_path):
    """The audit view has who, where, prompt, options, provider, outcome, units and duration for every request."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, resolution="1080p")
    await advance_until(simcord_env, lambda: results(channel))
    await alice.slash(channel, "video", prompt="a second one")
    with db(tmp_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY created_at, kind")]
    job, refusal = rows
    assert (job["kind"], job["user_id"], job["channel_id"], job["prompt"]) == ("job", alice.id, channel.id, PROMPT)
    assert '"resolution": "1080p"' in job["options"] and job["provider"] == "luma"
    assert job["outcome"] == "completed" and job["units"] == 1 and job["duration_s"] >= 0
    assert (refusal["kind"], refusal["prompt"], refusal["outcome"], refusal["reason"]) == (
        "refusal", "a second one", "refused", "quota",
    )  # fmt: skip


@pytest.mark.bot_env(MAX_ACTIVE_JOBS="1", QUOTA_CONCURRENT="5", QUOTA_DAILY="10")
async def test_fair_queue_one_job_of_b_starts_second_not_sixth(simcord_env, world, fake_luma):
    """A queues 5, then B queues 1 with one provider slot: B's job starts second, its status says position 1,
    and A's waiting jobs' positions move as the queue drains."""
    fake_luma.polls_to_complete = None
    _, channel, alice, bob = world
    a_jobs = [await alice.slash(channel, "video", prompt=f"alice clip {n}") for n in range(5)]
    b_job = await bob.slash(channel, "video", prompt="bob clip")
    await simcord_env.advance_time(6)  # status edits are throttled to one per 5 s

    def position(result) -> str:
        return reply_of(result).embeds[0].description

    assert "Position **1**" in position(b_job)
    assert "Position **5**" in position(a_jobs[4])
    assert [r.json["prompt"] for r in fake_luma.requests_to("POST", "/generations")] == ["alice clip 0"]

    fake_luma.set_state(next(iter(fake_luma.generations)), "completed")
    await advance_until(simcord_env, lambda: len(fake_luma.requests_to("POST", "/generations")) == 2)
    assert fake_luma.requests_to("POST", "/generations")[1].json["prompt"] == "bob clip"
    await simcord_env.advance_time(6)
    assert "Position **1**" in position(a_jobs[1])
    assert "Position **4**" in position(a_jobs[4])


@pytest.mark.bot_env(QUOTA_DAILY="1")
async def test_day_boundary_on_the_virtual_clock(simcord_env, world, fake_luma, tmp_path):
    """A video at 23:59:40 UTC counts for that day; /quota says it resets at midnight; at 00:00 the member can
    make another, charged to the new day."""
    _, channel, alice, _ = world
    now = simcord_env.now()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    for _ in range(int((midnight - now).total_seconds() - 20) // 3600):
        await simcord_env.advance_time(3600)
    await simcord_env.advance_time((midnight - simcord_env.now()).total_seconds() - 20)
    await alice.slash(channel, "video", prompt=PROMPT)
    text = await quota_text(alice, channel)
    assert "1 of 1 videos used" in text and f"<t:{int(midnight.timestamp())}:R>" in text
    assert reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral
    await advance_until(simcord_env, lambda: results(channel), step=5)
    await simcord_env.advance_time((midnight - simcord_env.now()).total_seconds() + 1)
    assert "0 of 1 videos used" in await quota_text(alice, channel)
    assert not reply_of(await alice.slash(channel, "video", prompt=PROMPT)).ephemeral
    with db(tmp_path) as conn:
        days = [d for (d,) in conn.execute("SELECT day FROM jobs ORDER BY id")]
    assert days == [(midnight - timedelta(days=1)).date().isoformat(), midnight.date().isoformat()]
