"""`check` proves the Discord side offline: the command sync payload against Discord's spec and its limits."""

from __future__ import annotations

import copy

import discord
import pytest
from discord import app_commands

import bot.__main__ as cli
import bot.client
from bot.client import command_payloads
from bot.command_spec import command_problems
from tests.unit.test_main import TOKEN, fake_discord, serve_in_thread


@pytest.fixture
def demo_env(tmp_path):
    return {"VIDEO_PROVIDERS": "demo", "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "DATA_DIR": str(tmp_path)}


@pytest.fixture
async def payloads(demo_env):
    return await command_payloads(demo_env)


async def test_the_bots_own_tree_passes_globally_and_on_a_dev_server(payloads, demo_env):
    """Every command the bot syncs matches the bulk-overwrite schema and the documented limits."""
    assert {p["name"] for p in payloads} >= {"video", "quota", "history", "job", "videoadmin"}
    assert command_problems(payloads) == []
    guild_payloads = await command_payloads({**demo_env, "DISCORD_DEV_GUILD_ID": "123456789012345678"})
    assert command_problems(guild_payloads, guild=True) == []


def tree_with(command: app_commands.Command) -> list[dict]:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    tree.add_command(command)
    return [c.to_dict(tree) for c in tree.get_commands()]


def test_an_integer_bound_beyond_2_53_is_reported_with_its_field():
    """The bug that kept the bot off real Discord: `Range[int, 1, 2**62]` is named, field and rule."""

    @app_commands.command(name="job", description="Show a job")
    @app_commands.describe(id="The job number")
    async def job(interaction: discord.Interaction, id: app_commands.Range[int, 1, 2**62]) -> None: ...

    problems = command_problems(tree_with(job))
    assert any(p.startswith("/job id: max_value") and "[schema: maximum]" in p for p in problems), problems
    assert "/job id: max_value 4611686018427387904 is outside ±(2^53-1) [limit: max_value]" in problems


def option(name="opt", **extra):
    return {"type": 3, "name": name, "description": "An option", **extra}


BAD_COMMANDS = {
    "description over 100": ({"description": "x" * 101}, "/cmd: description"),
    "upper-case name": ({"name": "Video"}, "must be 1-32 lowercase"),
    "26 options": ({"options": [option(f"o{i}") for i in range(26)]}, "options"),
    "26 choices": ({"options": [option(choices=[{"name": f"c{i}", "value": f"v{i}"} for i in range(26)])]}, "choices"),
    "choice value over 100": ({"options": [option(choices=[{"name": "c", "value": "v" * 101}])]}, "choices"),
    "autocomplete with choices": ({"options": [option(autocomplete=True, choices=[{"name": "c", "value": "v"}])]},
                                  "[limit: autocomplete]"),
    "required after optional": ({"options": [option("a"), option("b", required=True)]}, "[limit: required]"),
    "duplicate option names": ({"options": [option("a"), option("a")]}, "[limit: unique names]"),
    "max_length over 6000": ({"options": [option(max_length=6001)]}, "max_length"),
    "min_value below -2^53": ({"options": [{"type": 10, "name": "n", "description": "A number", "min_value": -(2**60)}]},
                              "min_value"),
    "over 4000 characters": ({"options": [option(f"o{i}", description="d" * 100,
                                                  choices=[{"name": "n" * 100, "value": "v" * 100}] * 2)
                                          for i in range(10)]}, "[limit: total text]"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_COMMANDS, ids=str)
def test_each_documented_limit_is_reported(case):
    """A deliberately bad command is reported, naming the command, the field and the rule."""
    change, expected = BAD_COMMANDS[case]
    command = {"type": 1, "name": "cmd", "description": "A command", **copy.deepcopy(change)}
    problems = command_problems([command])
    assert any(expected in p for p in problems), problems


def test_duplicate_commands_and_too_many_global_commands_are_reported():
    """Two commands of one name, or more than 100 global slash commands, would be refused."""
    command = {"type": 1, "name": "cmd", "description": "A command"}
    assert any("[limit: unique names]" in p for p in command_problems([command, dict(command)]))
    many = [{**command, "name": f"c{i}"} for i in range(101)]
    assert any("101 global slash commands" in p for p in command_problems(many))
    assert not any("global slash commands" in p for p in command_problems(many, guild=True))


def test_check_reports_the_commands_ok(capsys):
    """`python -m bot check` says the commands match Discord's spec and limits."""
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(["check"], environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo",
                                            "DISCORD_API_BASE": f"{base}/api/v10"})  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[ ok ] slash commands: 7 commands match Discord's API spec and limits" in out


def test_check_fails_on_a_command_discord_would_refuse(monkeypatch, capsys):
    """A command Discord would refuse fails `check` (exit 1) with the command and field, before any sync."""
    real = bot.client.command_payloads

    async def with_a_bad_bound(env):
        payloads = await real(env)
        job = next(p for p in payloads if p["name"] == "job")
        job["options"][0]["max_value"] = 2**62
        return payloads

    monkeypatch.setattr(bot.client, "command_payloads", with_a_bad_bound)
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(["check"], environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo",
                                            "DISCORD_API_BASE": f"{base}/api/v10"})  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] slash commands: Discord would refuse the sync: /job id: max_value" in out
