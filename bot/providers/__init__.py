"""Build the enabled providers from Settings, in fallback order."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.clock import Clock
from bot.config import ProviderConfig, Settings
from bot.providers.base import Capabilities, VideoProvider

__all__ = ["Capabilities", "ProviderContext", "VideoProvider", "build_provider", "build_providers"]

ADAPTER_MODULES = {
    "luma-agents": "bot.providers.luma_agents",
    "luma": "bot.providers.luma",
    "segmind": "bot.providers.segmind",
    "onemin": "bot.providers.onemin",
    "umami": "bot.providers.umami",
    "demo": "bot.providers.demo",
}


@dataclass(frozen=True)
class ProviderContext:
    """What adapters share: one aiohttp session, the injected clock, where temp files go."""

    session: aiohttp.ClientSession
    clock: Clock
    temp_dir: Path
    max_download_bytes: int = 512 * 1024 * 1024


def build_provider(config: ProviderConfig, context: ProviderContext) -> VideoProvider:
    module = importlib.import_module(ADAPTER_MODULES[config.name])
    provider: VideoProvider = module.create(config, context)
    return provider


def build_providers(settings: Settings, context: ProviderContext) -> list[VideoProvider]:
    return [build_provider(config, context) for config in settings.providers]
