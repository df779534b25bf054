"""Settings parsed from a mapping (the environment, `.env`, or a test's dict). Every problem is
collected so the operator sees them all at once; secrets are wrapped so they never print."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import ConfigError

PROVIDER_ORDER = ("luma-agents", "luma", "segmind", "onemin", "umami", "demo")

# Unset VIDEO_PROVIDERS: every provider with a key, in this order (the best model first).
PROVIDER_KEYS = {
    "luma-agents": "LUMA_AGENTS_API_KEY",
    "luma": "LUMAAI_API_KEY",
    "segmind": "SEGMIND_API_KEY",
    "onemin": "ONEMIN_API_KEY",
    "umami": "UMAMI_API_KEY",
}

PROVIDER_BASE_URLS = {
    # not the SDK's own LUMA_BASE_URL: too close to LUMAAI_BASE_URL, which points at the other API
    "luma-agents": ("LUMA_AGENTS_BASE_URL", "https://agents.lumalabs.ai/v1"),
    "luma": ("LUMAAI_BASE_URL", "https://api.lumalabs.ai/dream-machine/v1"),
    "segmind": ("SEGMIND_BASE_URL", "https://api.segmind.com"),
    "onemin": ("ONEMIN_BASE_URL", "https://api.1min.ai"),
    "umami": ("UMAMI_BASE_URL", "https://api.umamiai.xyz"),
}

SEGMIND_MODES = ("auto", "async", "sync")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Estimated USD per 5-second clip, for /videoadmin stats (longer clips scale with their length). Keys:
# `provider:model`, `provider`, or `default`. Luma's figures are its published API rates for a 5 s 720p
# clip; the gateways' depend on the plan, so they fall back to `default`. Override with PRICE_TABLE.
# Ray 3.2 (luma-agents) is priced per 5 s block by resolution and dynamic range, `provider:model:resolution`
# and `…:resolution-hdr` (protocols.md §F.5: docs.agents.lumalabs.ai/guides/pricing/, as mirrored by
# runware.ai/docs/models/luma-ray3-2); a 10 s clip is two blocks. The bare `luma-agents:ray-3.2` is 720p SDR.
# Actions on a clip are `provider:action` where Luma publishes a price: v1 modify is $0.01582 per million pixels,
# $1.75 for a 720p 5 s 16:9 clip (docs.lumalabs.ai/docs/modify-video). The other actions (v1 upscale, audio,
# reframe; Ray 3.2 edits, reframes and the 1080p re-render that is its upscale) have no published figure of their
# own here and are estimated as a clip of their provider, model and resolution; extend and bridge are clips.
DEFAULT_PRICE_TABLE = (
    "luma-agents:ray-3.2=0.30,luma-agents:ray-3.2:360p=0.06,luma-agents:ray-3.2:540p=0.15,"
    "luma-agents:ray-3.2:720p=0.30,luma-agents:ray-3.2:1080p=1.20,"
    "luma-agents:ray-3.2:720p-hdr=0.60,luma-agents:ray-3.2:1080p-hdr=2.40,"
    "luma:ray-2=0.71,luma:ray-flash-2=0.24,luma:ray-1-6=0.50,luma:modify=1.75,demo=0,default=0.50"
)


class Secret:
    """A string that shows as `***` in repr/str, so a stray log or traceback cannot leak it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    api_key: Secret | None
    base_url: str | None
    mode: str | None = None  # SEGMIND_MODE: auto (v2 async, v1 sync where v2 lacks the model), async, sync


@dataclass(frozen=True)
class Settings:
    discord_token: Secret | None
    dev_guild_id: int | None
    providers: tuple[ProviderConfig, ...]
    database_url: str = "sqlite:///data/reelbot.db"
    quota_daily: int = 5
    quota_concurrent: int = 1
    max_active_jobs: int = 10
    job_timeout_s: int = 1200
    log_level: str = "INFO"
    log_format: str = "text"
    max_download_bytes: int = 512 * 1024 * 1024
    health_port: int | None = None
    health_host: str = "127.0.0.1"  # HEALTH_HOST: the interface the operator port listens on
    allow_local_provider_urls: bool = False  # ALLOW_LOCAL_PROVIDER_URLS: http and private addresses (tests)
    data_dir: str = "data"
    price_table: tuple[tuple[str, float], ...] = ()  # PRICE_TABLE parsed: (key, USD per 5 s clip)
    shard_count: int | None = None  # SHARD_COUNT: run as an AutoShardedBot with this many shards in all
    shard_ids: tuple[int, ...] | None = None  # SHARD_IDS: the shards this process runs (None: all of them)

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    @property
    def prices(self) -> dict[str, float]:
        return dict(self.price_table)

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.providers)

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        values = [self.discord_token.get()] if self.discord_token else []
        values += [p.api_key.get() for p in self.providers if p.api_key]
        return [v for v in values if v]

    @property
    def sqlite_path(self) -> str | None:
        url = self.database_url
        if url.startswith("sqlite:///"):
            return url[len("sqlite:///") :]
        if url.startswith("sqlite://"):
            return url[len("sqlite://") :]
        return None


def _int(env: Mapping[str, str], name: str, default: int, problems: list[str], *, minimum: int = 0) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if value < minimum:
        problems.append(f"{name} must be at least {minimum}, got {value}")
        return default
    return value


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    raw = (env.get(name) or "").strip()
    return Secret(raw) if raw else None


def _shards(env: Mapping[str, str], database_url: str, problems: list[str]) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT (shards in all) and SHARD_IDS (comma list: the ones this process runs)."""
    count: int | None = None
    if (env.get("SHARD_COUNT") or "").strip():
        count = _int(env, "SHARD_COUNT", 0, problems, minimum=1) or None
    raw_ids = (env.get("SHARD_IDS") or "").strip()
    if not raw_ids:
        return count, None
    ids: list[int] = []
    for part in (p.strip() for p in raw_ids.split(",")):
        # "²".isdigit() is true but int("²") fails, and int() refuses over 4300 digits
        if not (part.isascii() and part.isdigit() and len(part) <= 9):
            problems.append(f"SHARD_IDS must be comma-separated shard numbers, got {part!r}")
        elif int(part) in ids:
            problems.append(f"SHARD_IDS names shard {part} twice")
        elif count is not None and int(part) >= count:
            problems.append(f"SHARD_IDS names shard {part}, but SHARD_COUNT={count} means shards 0 to {count - 1}")
        else:
            ids.append(int(part))
    if count is None:
        problems.append("SHARD_IDS needs SHARD_COUNT (the number of shards across every process)")
    elif ids and len(ids) < count and not database_url.startswith(("postgresql://", "postgres://")):
        problems.append(
            "SHARD_IDS runs only some shards in this process, so other processes run the rest: they must share "
            "quotas and jobs through DATABASE_URL=postgresql://…, not SQLite"
        )
    return count, tuple(sorted(ids)) or None


def parse_price_table(raw: str, problems: list[str]) -> tuple[tuple[str, float], ...]:
    """`key=price,...` where key is `provider:model`, `provider` or `default`, and price is USD (>= 0)."""
    prices: dict[str, float] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        key = key.lower()
        provider = key.split(":", 1)[0]
        if not sep or not key:
            problems.append(f"PRICE_TABLE entries look like luma:ray-2=0.71, got {part!r}")
            continue
        if provider != "default" and provider not in PROVIDER_ORDER:
            problems.append(f"PRICE_TABLE names unknown provider {provider!r}; known: {', '.join(PROVIDER_ORDER)}")
            continue
        try:
            price = float(value)
        except ValueError:
            problems.append(f"PRICE_TABLE price for {key!r} must be a number, got {value!r}")
            continue
        if not price >= 0 or price == float("inf"):
            problems.append(f"PRICE_TABLE price for {key!r} must be zero or more, got {value!r}")
            continue
        prices[key] = price
    return tuple(prices.items())


def load_settings(env: Mapping[str, str], *, require_token: bool = False) -> Settings:
    """Parse `env`; raise ConfigError listing every problem found."""
    problems: list[str] = []
    token = _secret(env, "DISCORD_TOKEN")
    if require_token and token is None:
        problems.append("DISCORD_TOKEN is required: create a bot at https://discord.com/developers/applications")

    dev_guild: int | None = None
    raw_guild = (env.get("DISCORD_DEV_GUILD_ID") or "").strip()
    if raw_guild:
        if raw_guild.isascii() and raw_guild.isdigit() and len(raw_guild) <= 20:  # a snowflake fits 20 digits
            dev_guild = int(raw_guild)
        else:
            problems.append(f"DISCORD_DEV_GUILD_ID must be a numeric server id, got {raw_guild!r}")

    raw_providers = (env.get("VIDEO_PROVIDERS") or "").strip()
    if raw_providers:
        names = [n.strip().lower() for n in raw_providers.split(",") if n.strip()]
    else:
        names = [n for n, key in PROVIDER_KEYS.items() if (env.get(key) or "").strip()] or ["demo"]
    seen: list[str] = []
    providers: list[ProviderConfig] = []
    for name in names:
        if name not in PROVIDER_ORDER:
            problems.append(f"VIDEO_PROVIDERS names unknown provider {name!r}; known: {', '.join(PROVIDER_ORDER)}")
            continue
        if name in seen:
            problems.append(f"VIDEO_PROVIDERS names {name!r} twice")
            continue
        seen.append(name)
        key = _secret(env, PROVIDER_KEYS[name]) if name in PROVIDER_KEYS else None
        if name in PROVIDER_KEYS and key is None:
            problems.append(f"VIDEO_PROVIDERS names {name!r} but {PROVIDER_KEYS[name]} is not set")
        base = None
        if name in PROVIDER_BASE_URLS:
            var, default = PROVIDER_BASE_URLS[name]
            base = (env.get(var) or "").strip() or default
            if not base.startswith(("http://", "https://")):
                problems.append(f"{var} must be an http(s) URL, got {base!r}")
        mode = None
        if name == "segmind":
            mode = (env.get("SEGMIND_MODE") or "auto").strip().lower()
            if mode not in SEGMIND_MODES:
                problems.append(f"SEGMIND_MODE must be one of {', '.join(SEGMIND_MODES)}, got {mode!r}")
        providers.append(ProviderConfig(name=name, api_key=key, base_url=base, mode=mode))
    if raw_providers and not names:
        problems.append("VIDEO_PROVIDERS is set but names no provider")

    database_url = (env.get("DATABASE_URL") or "").strip() or "sqlite:///data/reelbot.db"
    if not database_url.startswith(("sqlite:", "postgresql://", "postgres://")):
        problems.append(f"DATABASE_URL must start with sqlite:/// or postgresql://, got {database_url.split(':')[0]!r}")

    quota_daily = _int(env, "QUOTA_DAILY", 5, problems)
    quota_concurrent = _int(env, "QUOTA_CONCURRENT", 1, problems, minimum=1)
    max_active = _int(env, "MAX_ACTIVE_JOBS", 10, problems, minimum=1)
    job_timeout = _int(env, "JOB_TIMEOUT_S", 1200, problems, minimum=30)
    max_download = _int(env, "MAX_DOWNLOAD_MB", 512, problems, minimum=1) * 1024 * 1024

    health_port: int | None = None
    if (env.get("HEALTH_PORT") or "").strip():
        health_port = _int(env, "HEALTH_PORT", 0, problems, minimum=0)
        if health_port > 65535:
            problems.append(f"HEALTH_PORT must be a port number (0-65535), got {health_port}")

    health_host = (env.get("HEALTH_HOST") or "").strip() or "127.0.0.1"
    allow_local = (env.get("ALLOW_LOCAL_PROVIDER_URLS") or "false").strip().lower()
    if allow_local not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"ALLOW_LOCAL_PROVIDER_URLS must be true or false, got {allow_local!r}")

    shard_count, shard_ids = _shards(env, database_url, problems)

    # The operator's entries on top of the defaults, so naming one model keeps the others' estimates.
    price_table = tuple({**dict(parse_price_table(DEFAULT_PRICE_TABLE, problems)),
                         **dict(parse_price_table(env.get("PRICE_TABLE") or "", problems))}.items())  # fmt: skip

    log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        log_level = "INFO"
    log_format = (env.get("LOG_FORMAT") or "text").strip().lower()
    if log_format not in ("text", "json"):
        problems.append(f"LOG_FORMAT must be text or json, got {log_format!r}")
        log_format = "text"

    if problems:
        raise ConfigError(problems)
    return Settings(
        discord_token=token,
        dev_guild_id=dev_guild,
        providers=tuple(providers),
        database_url=database_url,
        quota_daily=quota_daily,
        quota_concurrent=quota_concurrent,
        max_active_jobs=max_active,
        job_timeout_s=job_timeout,
        log_level=log_level,
        log_format=log_format,
        max_download_bytes=max_download,
        health_port=health_port,
        health_host=health_host,
        allow_local_provider_urls=allow_local in ("true", "1", "yes"),
        data_dir=(env.get("DATA_DIR") or "data").strip(),
        price_table=price_table,
        shard_count=shard_count,
        shard_ids=shard_ids,
    )
