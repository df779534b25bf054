"""The composition root: build the bot, its resources and its job runner from a settings mapping."""

from __future__ import annotations

import gc
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot import media, metrics, netguard
from bot.clock import SystemClock
from bot.config import Settings, load_settings
from bot.delivery import FILE_SCHEME
from bot.domain import JobState
from bot.health import HealthServer
from bot.jobs import JobRunner
from bot.providers import ProviderContext, build_providers
from bot.quotas import Quotas
from bot.storage import Storage, is_postgres_url, open_storage

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.errors", "cogs.video", "cogs.clip", "cogs.quota", "cogs.history", "cogs.admin", "cogs.board")


def discord_clock() -> SystemClock:
    """Time that an offline simulator can drive: discord.utils.utcnow and time.monotonic, looked up
    on every call so a patched clock is seen."""
    return SystemClock(now=lambda: discord.utils.utcnow(), monotonic=lambda: time.monotonic())


def worker_id() -> str:
    """A name for this process among the workers sharing a PostgreSQL queue: unique, and readable in the
    jobs table (host, pid, a random suffix so a restarted process never mistakes old leases for its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ReelBot(commands.Bot):
    def __init__(self, settings: Settings, **gateway: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels, roles and boost tier (upload limits) from the cache
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **gateway,
        )
        self.settings = settings
        self.clock = discord_clock()
        self.http_session: aiohttp.ClientSession | None = None
        self.download_session: aiohttp.ClientSession | None = None
        self.storage: Storage | None = None
        self.quotas: Quotas | None = None
        self.runner: JobRunner | None = None
        self._runner_started = False
        self.health: HealthServer | None = None
        self.metrics = metrics.Metrics()  # this bot's own registry, served on /metrics
        self.gateway_connected = False
        for event, up in (("on_connect", True), ("on_ready", True), ("on_resumed", True), ("on_disconnect", False)):
            self.add_listener(self._gateway_listener(up), event)

    async def setup_hook(self) -> None:
        settings = self.settings
        metrics.activate(self.metrics)
        data_dir = Path(settings.data_dir)
        temp_dir = data_dir / "tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.http_session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60, connect=10),
            headers={"User-Agent": "reelbot/0.1 (+discord bot)"},
        )
        # Provider-named result URLs are fetched through their own session: https, public addresses only.
        self.download_session = netguard.open_download_session(
            allow_local=settings.allow_local_provider_urls,
            headers={"User-Agent": "reelbot/0.1 (+discord bot)"},
        )
        self.storage = await open_storage(settings.database_url)
        await self._remove_stale_temp_files(temp_dir)
        self.quotas = Quotas(
            self.storage, self.clock, daily=settings.quota_daily, concurrent=settings.quota_concurrent
        )
        context = ProviderContext(
            session=self.http_session,
            clock=self.clock,
            temp_dir=temp_dir,
            max_download_bytes=settings.max_download_bytes,
        )
        providers = build_providers(settings, context)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        observer = self.get_cog("Video").observer  # type: ignore[union-attr]
        self.runner = JobRunner(
            storage=self.storage,
            quotas=self.quotas,
            providers=providers,
            clock=self.clock,
            session=self.download_session,
            observer=observer,
            temp_dir=temp_dir,
            max_active=settings.max_active_jobs,
            timeout_s=settings.job_timeout_s,
            max_download_bytes=settings.max_download_bytes,
            # PostgreSQL: several processes share the queue, each a worker claiming jobs under a lease.
            worker_id=worker_id() if is_postgres_url(settings.database_url) else None,
        )
        await self.sync_commands()
        log.info("providers: %s", ", ".join(p.name for p in providers))
        if settings.health_port is not None:
            await self.start_health(settings.health_port)

    async def _remove_stale_temp_files(self, temp_dir: Path) -> None:
        """Temp files a crash left behind go; a clip an unfinished job still points to stays."""
        assert self.storage is not None
        unfinished = await self.storage.jobs_in_states(tuple(s for s in JobState if not s.terminal))
        files = [j.video_url for j in unfinished if j.video_url and j.video_url.startswith(FILE_SCHEME)]
        keep = [Path(url[len(FILE_SCHEME) :]) for url in files]
        await media.remove_stale_temp_files(temp_dir, keep)

    # --- operator port (HEALTH_PORT) -----------------------------------------------------------------

    def _gateway_listener(self, up: bool) -> Callable[[], Coroutine[Any, Any, None]]:
        async def listener() -> None:
            self.gateway_connected = up

        return listener

    async def start_health(self, port: int) -> None:
        """Serve /healthz (gateway connected, database writable, runner alive) and /metrics on `port`."""
        self.health = HealthServer(
            {
                "gateway": lambda: self.gateway_connected and not self.is_closed(),
                "database": lambda: self.storage is not None and self.storage.writable(),
                "runner": lambda: self.runner is not None and self.runner.alive,
            },
            host=self.settings.health_host,
            port=port,
            registry=self.metrics,
            before_scrape=self._refresh_gauges,
        )
        await self.health.start()

    def _refresh_gauges(self) -> None:
        runner, gauges = self.runner, self.metrics
        gauges.queue_length.set(runner.queue_length if runner else 0)
        gauges.jobs_in_flight.set(runner.in_flight if runner else 0)
        gauges.runner_alive.set(1 if runner is not None and runner.alive else 0)
        gauges.gateway_connected.set(1 if self.gateway_connected and not self.is_closed() else 0)

    async def sync_commands(self) -> bool:
        """Send the command tree to Discord. A refused sync (say 400 Invalid Form Body, 50035, or 403 without
        the applications.commands scope) is logged as an ERROR and the bot keeps running: Discord goes on
        serving the commands it already has, and every other part of the bot is fine. True when synced."""
        guild = discord.Object(id=self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            await self.tree.sync(guild=guild)
        except discord.HTTPException as error:
            where = f"to server {guild.id}" if guild is not None else "globally"
            reason = str(error) if not error.text or error.text in str(error) else f"{error} ({error.text})"
            log.error(
                "slash-command sync %s was refused by Discord: %s. The bot keeps running with the commands Discord "
                "already has; `python -m bot check` shows what Discord would reject.", where, reason,
            )  # fmt: skip
            return False
        return True

    async def on_ready(self) -> None:
        # on_ready fires again after reconnects; unfinished jobs are resumed once per process.
        if self.runner is not None and not self._runner_started:
            self._runner_started = True
            await self.runner.start()
            # Everything alive now (modules, caches, the resumed jobs) lives as long as the process:
            # moving it out of the collector's view keeps full collections short while many jobs run.
            gc.freeze()
            log.info("ready as %s; job runner started", self.user)

    async def close(self) -> None:
        self.gateway_connected = False
        if self.health is not None:
            await self.health.stop()
        if self.runner is not None:
            await self.runner.stop()
        if self.storage is not None:
            await self.storage.close()
        for session in (self.http_session, self.download_session):
            if session is not None:
                await session.close()
        await super().close()


class ShardedReelBot(ReelBot, commands.AutoShardedBot):
    """The same bot as an AutoShardedBot: SHARD_COUNT shards in all, this process running SHARD_IDS (all of
    them when unset). Other processes run the other shards against the same PostgreSQL; any of them may
    deliver any job, since delivery falls back to REST channel messages (cogs/_delivery.py)."""

    def __init__(self, settings: Settings) -> None:
        ids = list(settings.shard_ids) if settings.shard_ids is not None else None
        super().__init__(settings, shard_count=settings.shard_count, shard_ids=ids)


def create_bot(env: Mapping[str, str]) -> ReelBot:
    """An unstarted bot built from `env` alone (never os.environ). Raises ConfigError on bad config.
    With SHARD_COUNT it is a ShardedReelBot (a commands.AutoShardedBot), else a plain commands.Bot."""
    settings = load_settings(env)
    return ShardedReelBot(settings) if settings.sharded else ReelBot(settings)


async def command_payloads(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The slash commands exactly as setup_hook would sync them (the body of the bulk overwrite), built
    offline: the cogs are loaded into an unstarted bot, nothing is opened or sent."""
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # it never joins voice
    bot = create_bot(env)
    try:
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        guild = discord.Object(id=bot.settings.dev_guild_id) if bot.settings.dev_guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        tree, translator = bot.tree, bot.tree.translator
        commands_ = tree.get_commands(guild=guild)
        if translator is not None:
            return [await command.get_translated_payload(tree, translator) for command in commands_]
        return [command.to_dict(tree) for command in commands_]
    finally:
        await bot.close()

