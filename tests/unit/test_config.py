"""Configuration parsed from plain dicts: defaults, provider order, every problem at once, masked secrets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import PROVIDER_BASE_URLS, Secret, load_settings
from bot.errors import ConfigError

TOKEN = "MTIz.discord.SECRET"


def problems_of(env: dict[str, str], **kw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, **kw)
    return caught.value.problems


def test_defaults_from_an_empty_mapping():
    """With nothing set the bot runs the demo provider on SQLite with interface.md's defaults."""
    s = load_settings({})
    assert s.discord_token is None and s.dev_guild_id is None
    assert s.provider_names == ("demo",)
    assert s.providers[0].api_key is None and s.providers[0].base_url is None
    assert s.database_url == "sqlite:///data/reelbot.db" and s.sqlite_path == "data/reelbot.db"
    assert (s.quota_daily, s.quota_concurrent, s.max_active_jobs, s.job_timeout_s) == (5, 1, 10, 1200)
    assert (s.log_level, s.log_format) == ("INFO", "text")
    assert s.max_download_bytes == 512 * 1024 * 1024
    assert s.health_port is None and s.data_dir == "data"
    assert s.secrets() == []


def test_default_providers_are_those_with_keys_in_fixed_order():
    """Without VIDEO_PROVIDERS: every provider that has a key, in the order luma, segmind, onemin, umami."""
    s = load_settings({"UMAMI_API_KEY": "u", "LUMAAI_API_KEY": "l", "ONEMIN_API_KEY": " "})
    assert s.provider_names == ("luma", "umami")
    assert [p.api_key.get() for p in s.providers] == ["l", "u"]


def test_explicit_order_is_kept_and_names_are_normalised():
    """VIDEO_PROVIDERS is an ordered list (later ones are fallbacks); case and spaces don't matter."""
    s = load_settings({"VIDEO_PROVIDERS": " Umami , luma,demo", "LUMAAI_API_KEY": "l", "UMAMI_API_KEY": "u"})
    assert s.provider_names == ("umami", "luma", "demo")


def test_every_problem_is_reported_in_one_error():
    """Unknown provider, provider without key, non-numbers, bad ids and levels: all in one ConfigError."""
    problems = problems_of(
        {
            "VIDEO_PROVIDERS": "luma,sora,segmind,luma",
            "SEGMIND_API_KEY": "seg",
            "QUOTA_DAILY": "five",
            "MAX_ACTIVE_JOBS": "0",
            "JOB_TIMEOUT_S": "1.5",
            "DISCORD_DEV_GUILD_ID": "my-server",
            "LOG_LEVEL": "loud",
            "LOG_FORMAT": "xml",
            "HEALTH_PORT": "70000",
            "DATABASE_URL": "mysql://x",
        },
        require_token=True,
    )
    text = "\n".join(problems)
    for expected in (
        "DISCORD_TOKEN is required",
        "unknown provider 'sora'",
        "'luma' but LUMAAI_API_KEY is not set",
        "'luma' twice",
        "QUOTA_DAILY must be a whole number, got 'five'",
        "MAX_ACTIVE_JOBS must be at least 1",
        "JOB_TIMEOUT_S must be a whole number",
        "DISCORD_DEV_GUILD_ID must be a numeric server id",
        "LOG_LEVEL must be one of",
        "LOG_FORMAT must be text or json",
        "HEALTH_PORT must be a port number",
        "DATABASE_URL must start with",
    ):
        assert expected in text
    assert len(problems) == 12


def test_config_error_message_lists_each_problem_on_its_own_line():
    """str(ConfigError) is what the operator sees: a header and one bullet per problem."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"QUOTA_DAILY": "x", "QUOTA_CONCURRENT": "y"})
    assert str(caught.value).splitlines() == [
        "Configuration problems:",
        "  - QUOTA_DAILY must be a whole number, got 'x'",
        "  - QUOTA_CONCURRENT must be a whole number, got 'y'",
    ]


def test_token_only_required_when_asked():
    """`check`/run need DISCORD_TOKEN; `generate` and tests don't."""
    assert load_settings({}).discord_token is None
    assert load_settings({"DISCORD_TOKEN": TOKEN}, require_token=True).discord_token.get() == TOKEN
    assert problems_of({"DISCORD_TOKEN": "  "}, require_token=True)[0].startswith("DISCORD_TOKEN is required")


def test_secret_repr_and_str_are_masked():
    """Secrets never show in repr/str/f-strings of the Secret or of Settings itself."""
    s = load_settings({"DISCORD_TOKEN": TOKEN, "LUMAAI_API_KEY": "luma-key-123"})
    for text in (repr(s), str(s), f"{s.discord_token}", repr(s.providers), str(s.providers[0].api_key)):
        assert TOKEN not in text and "luma-key-123" not in text
    assert repr(Secret("x")) == "Secret('***')"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b") and not Secret("")
    assert sorted(s.secrets()) == sorted([TOKEN, "luma-key-123"])


@pytest.mark.parametrize("name", ["luma", "segmind", "onemin", "umami"])
def test_base_url_defaults_and_overrides(name):
    """Each gateway's base URL has interface.md's default and can point at a local fake."""
    var, default = PROVIDER_BASE_URLS[name]
    key = {"luma": "LUMAAI_API_KEY", "segmind": "SEGMIND_API_KEY", "onemin": "ONEMIN_API_KEY"}.get(name, "UMAMI_API_KEY")
    assert load_settings({key: "k"}).providers[0].base_url == default
    overridden = load_settings({key: "k", var: "http://127.0.0.1:8123/v1"})
    assert overridden.providers[0].base_url == "http://127.0.0.1:8123/v1"
    assert any(var in p for p in problems_of({key: "k", var: "ftp://example"}))


def test_numbers_and_units():
    """Numbers parse with surrounding spaces; MAX_DOWNLOAD_MB is turned into bytes; HEALTH_PORT optional."""
    s = load_settings(
        {
            "QUOTA_DAILY": " 0 ",
            "QUOTA_CONCURRENT": "3",
            "MAX_ACTIVE_JOBS": "25",
            "JOB_TIMEOUT_S": "600",
            "MAX_DOWNLOAD_MB": "100",
            "HEALTH_PORT": "8080",
            "DISCORD_DEV_GUILD_ID": "123456789012345678",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "JSON",
            "DATA_DIR": "/data",
        }
    )
    assert (s.quota_daily, s.quota_concurrent, s.max_active_jobs, s.job_timeout_s) == (0, 3, 25, 600)
    assert s.max_download_bytes == 100 * 1024 * 1024
    assert s.health_port == 8080 and s.dev_guild_id == 123456789012345678
    assert (s.log_level, s.log_format, s.data_dir) == ("DEBUG", "json", "/data")


def test_database_urls():
    """SQLite paths are relative with three slashes and absolute with four; PostgreSQL URLs are accepted."""
    assert load_settings({"DATABASE_URL": "sqlite:////data/reelbot.db"}).sqlite_path == "/data/reelbot.db"
    pg = load_settings({"DATABASE_URL": "postgresql://bot@127.0.0.1/reelbot"})
    assert pg.sqlite_path is None


def test_empty_provider_list_is_a_problem():
    """VIDEO_PROVIDERS set to nothing but commas names no provider."""
    assert "VIDEO_PROVIDERS is set but names no provider" in problems_of({"VIDEO_PROVIDERS": " , "})


def test_non_ascii_digits_in_guild_id_are_a_config_problem():
    """'²' passes str.isdigit() but is no number: it must be reported, not crash with ValueError."""
    assert "DISCORD_DEV_GUILD_ID" in problems_of({"DISCORD_DEV_GUILD_ID": "²"})[0]


NAMES = st.sampled_from(
    [
        "DISCORD_DEV_GUILD_ID",
        "VIDEO_PROVIDERS",
        "LUMAAI_API_KEY",
        "SEGMIND_API_KEY",
        "QUOTA_DAILY",
        "QUOTA_CONCURRENT",
        "MAX_ACTIVE_JOBS",
        "JOB_TIMEOUT_S",
        "HEALTH_PORT",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "DATABASE_URL",
        "MAX_DOWNLOAD_MB",
        "LUMAAI_BASE_URL",
    ]
)


@given(st.dictionaries(NAMES, st.text(max_size=20)))
def test_any_input_gives_settings_or_a_config_error(env):
    """Whatever strings are configured, parsing ends in Settings or a ConfigError with problems listed."""
    try:
        s = load_settings(env)
    except ConfigError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
    else:
        assert s.providers and s.quota_concurrent >= 1 and s.max_active_jobs >= 1


DOCUMENTED = [
    "DISCORD_TOKEN",
    "DISCORD_DEV_GUILD_ID",
    "VIDEO_PROVIDERS",
    "LUMAAI_API_KEY",
    "LUMAAI_BASE_URL",
    "SEGMIND_API_KEY",
    "SEGMIND_BASE_URL",
    "ONEMIN_API_KEY",
    "ONEMIN_BASE_URL",
    "UMAMI_API_KEY",
    "UMAMI_BASE_URL",
    "DATABASE_URL",
    "QUOTA_DAILY",
    "QUOTA_CONCURRENT",
    "MAX_ACTIVE_JOBS",
    "JOB_TIMEOUT_S",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "HEALTH_PORT",
    "MAX_DOWNLOAD_MB",
    "DATA_DIR",
]


def test_env_example_and_readme_document_every_variable():
    """.env.example names every variable (no values for secrets) and parses to valid defaults; the README
    configuration table lists each one too."""
    import re
    from pathlib import Path

    from dotenv import dotenv_values

    root = Path(__file__).resolve().parents[2]
    example = (root / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert set(DOCUMENTED) <= named
    values = {k: v for k, v in dotenv_values(root / ".env.example").items() if v is not None}
    assert all(values[k] == "" for k in values if k.endswith(("_TOKEN", "_KEY")))
    assert load_settings(values).provider_names == ("demo",)
    readme = (root / "README.md").read_text()
    for name in DOCUMENTED:
        assert f"| `{name}` |" in readme, name


def test_segmind_mode_is_read_and_validated():
    """SEGMIND_MODE picks the Segmind transport (auto by default); a wrong value is a listed problem."""
    from bot.config import load_settings

    settings = load_settings({"SEGMIND_API_KEY": "k" * 12, "SEGMIND_MODE": "sync"})
    assert settings.providers[0].mode == "sync"
    assert load_settings({"SEGMIND_API_KEY": "k" * 12}).providers[0].mode == "auto"
    problems = problems_of({"SEGMIND_API_KEY": "k" * 12, "SEGMIND_MODE": "fast"})
    assert "SEGMIND_MODE must be one of auto, async, sync" in problems[0]
