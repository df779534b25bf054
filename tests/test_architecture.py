"""The layout's rules: import direction, extension setup, descriptions on every command and option."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.client import EXTENSIONS, create_bot

ROOT = Path(__file__).resolve().parents[1]
DISCORD_ALLOWED = {"bot/client.py", "bot/__main__.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def core_files() -> list[Path]:
    return sorted(p for p in (ROOT / "bot").rglob("*.py") if p.relative_to(ROOT).as_posix() not in DISCORD_ALLOWED)


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_core_never_imports_discord_or_cogs(path):
    """The core (bot/, but the composition root) knows nothing of Discord or the cogs."""
    bad = {m for m in imported_modules(path) if m.split(".")[0] in ("discord", "cogs")}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "providers").glob("*.py")), ids=lambda p: p.name)
def test_providers_know_nothing_of_storage_or_jobs(path):
    """Provider adapters speak HTTP only: no storage, no job runner, no quotas."""
    bad = {m for m in imported_modules(path) if m in ("bot.storage", "bot.jobs", "bot.quotas")}
    assert not bad, f"{path.name} imports {bad}"


def test_nothing_uses_blocking_http():
    """`requests` (which would block the event loop) is imported nowhere."""
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]:
        assert "requests" not in {m.split(".")[0] for m in imported_modules(path)}, path


@pytest.mark.parametrize("name", EXTENSIONS)
def test_every_extension_has_setup(name):
    """Each loaded extension module defines an async setup(bot)."""
    module = importlib.import_module(name)
    assert callable(getattr(module, "setup", None))


def test_helper_modules_are_never_loaded_as_extensions():
    """Underscore modules are helpers, not extensions."""
    assert not [name for name in EXTENSIONS if name.rsplit(".", 1)[-1].startswith("_")]


def walk_commands(commands):
    for command in commands:
        yield command
        if isinstance(command, app_commands.Group):
            yield from walk_commands(command.commands)


async def test_every_command_and_option_has_a_description(tmp_path):
    """Every slash command, subcommand and option carries a real description (Discord shows them)."""
    bot = create_bot({"VIDEO_PROVIDERS": "demo", "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
                      "DATA_DIR": str(tmp_path)})  # fmt: skip
    try:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        commands = list(walk_commands(bot.tree.get_commands()))
        assert {c.name for c in commands} >= {"video", "quota"}
        for command in commands:
            assert command.description and command.description != "…", command.qualified_name
            if isinstance(command, app_commands.Command):
                for parameter in command.parameters:
                    assert parameter.description and parameter.description != "…", (
                        f"/{command.qualified_name} {parameter.name}"
                    )
    finally:
        await bot.close()


def test_discord_py_is_the_pinned_version():
    """simcord patches discord.py internals, so the pair is pinned together."""
    assert discord.__version__.startswith("2.7.")


MODULE_LINES = 420  # "a module over ~400 lines is split" (architecture.md)
COG_LINES = 270  # a cog (an extension module) stays under ~250
# Known debt, pinned at today's size so it can only shrink: the runner gained the robustness paths of issue 11
# (mid-submit matching, delivery lookups, write retries) and is due to be split along them.
OVER_BUDGET = {"bot/jobs.py": 560}


def python_modules() -> list[Path]:
    return sorted(p for folder in ("bot", "cogs") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_stay_small(path):
    """Modules stay under ~400 lines and cogs under ~250, so each does one thing."""
    name = path.relative_to(ROOT).as_posix()
    is_cog = name.startswith("cogs/") and not path.name.startswith("_")
    budget = OVER_BUDGET.get(name, COG_LINES if is_cog else MODULE_LINES)
    lines = len(path.read_text().splitlines())
    assert lines <= budget, f"{name} has {lines} lines (budget {budget}): split it"
