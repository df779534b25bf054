"""Unit: SHARD_COUNT / SHARD_IDS parsing, and the bot class they choose."""

from __future__ import annotations

import pytest
from discord.ext import commands

from bot.client import ReelBot, ShardedReelBot, create_bot
from bot.config import load_settings
from bot.errors import ConfigError

PG = "postgresql://reelbot@db:5432/reelbot"


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return caught.value.problems


def test_unsharded_by_default():
    """Without SHARD_COUNT the bot is one plain gateway connection."""
    settings = load_settings({})
    assert (settings.sharded, settings.shard_count, settings.shard_ids) == (False, None, None)


def test_shard_count_alone_runs_every_shard_here():
    """SHARD_COUNT=4 without SHARD_IDS: this process runs all four (fine on SQLite: one process)."""
    settings = load_settings({"SHARD_COUNT": "4"})
    assert (settings.sharded, settings.shard_count, settings.shard_ids) == (True, 4, None)


def test_shard_ids_are_parsed_sorted():
    """SHARD_IDS is a comma list, spaces allowed, kept sorted."""
    settings = load_settings({"SHARD_COUNT": "4", "SHARD_IDS": " 3, 1 ", "DATABASE_URL": PG})
    assert settings.shard_ids == (1, 3)


def test_every_shard_problem_is_reported_at_once():
    """Bad numbers, duplicates and shards out of range are all listed together."""
    found = problems({"SHARD_COUNT": "2", "SHARD_IDS": "0,x,0,2", "DATABASE_URL": PG})
    assert any("'x'" in p for p in found)
    assert any("shard 0 twice" in p for p in found)
    assert any("shard 2" in p and "0 to 1" in p for p in found)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_shard_count_must_be_a_positive_number(value):
    """SHARD_COUNT below 1 or not a number is refused."""
    assert any("SHARD_COUNT" in p for p in problems({"SHARD_COUNT": value}))


def test_shard_ids_need_shard_count():
    """SHARD_IDS alone is refused: discord.py needs the total number of shards."""
    assert any("needs SHARD_COUNT" in p for p in problems({"SHARD_IDS": "0"}))


def test_some_shards_need_postgresql():
    """Running only some shards means other processes run the rest: SQLite cannot be shared, so it is refused."""
    assert any("postgresql" in p for p in problems({"SHARD_COUNT": "2", "SHARD_IDS": "1"}))
    assert load_settings({"SHARD_COUNT": "2", "SHARD_IDS": "0,1"}).shard_ids == (0, 1)


def test_create_bot_picks_the_class_by_sharding():
    """create_bot builds an AutoShardedBot with the configured shards only when SHARD_COUNT is set."""
    plain = create_bot({"VIDEO_PROVIDERS": "demo"})
    assert type(plain) is ReelBot and not isinstance(plain, commands.AutoShardedBot)
    sharded = create_bot({"VIDEO_PROVIDERS": "demo", "SHARD_COUNT": "3", "SHARD_IDS": "2", "DATABASE_URL": PG})
    assert isinstance(sharded, ShardedReelBot) and isinstance(sharded, commands.AutoShardedBot)
    assert isinstance(sharded, ReelBot)
    assert (sharded.shard_count, sharded.shard_ids) == (3, [2])


def test_sharding_variables_are_documented():
    """.env.example and the README's configuration table name SHARD_COUNT and SHARD_IDS."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    example, readme = (root / ".env.example").read_text(), (root / "README.md").read_text()
    for name in ("SHARD_COUNT", "SHARD_IDS"):
        assert f"# {name}=" in example and f"| `{name}` |" in readme, name
