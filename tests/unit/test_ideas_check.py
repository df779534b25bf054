"""`check` and the invite link ask for Create Public Threads only once a server has turned threads on."""

from __future__ import annotations

import asyncio

import discord

import bot.__main__ as cli
from bot.storage import Storage
from tests.unit.test_main import APP_ID, PERMISSIONS, TOKEN, fake_discord, serve_in_thread

THREADS = discord.Permissions(create_public_threads=True).value


def test_invite_adds_create_public_threads_only_when_asked():
    """invite_url(…, threads=True) adds exactly Create Public Threads to the usual permissions."""
    assert cli.invite_url(42).endswith(f"permissions={PERMISSIONS}")
    assert cli.invite_url(42, threads=True).endswith(f"permissions={PERMISSIONS | THREADS}")


def run_check(tmp_path, capsys) -> str:
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(["check"], environ={
            "DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo", "DISCORD_API_BASE": f"{base}/api/v10",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'reelbot.db'}",
        })  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_check_asks_for_threads_once_a_server_uses_them(tmp_path, capsys):
    """Before any server turns threads on, the invite lacks Create Public Threads and check says when it is
    needed; after one does, check says so and its invite asks for it."""
    out = run_check(tmp_path, capsys)
    assert "`/videoadmin threads mode:on` needs Create Public Threads" in out
    assert f"client_id={APP_ID}&scope=bot+applications.commands&permissions={PERMISSIONS}\n" in out

    async def turn_on() -> None:
        storage = Storage(str(tmp_path / "reelbot.db"))
        await storage.open()
        await storage.set_guild_settings(7, threads=1)
        await storage.close()

    asyncio.run(turn_on())
    out = run_check(tmp_path, capsys)
    assert "threads: 1 server(s) open a thread per idea" in out
    assert f"permissions={PERMISSIONS | THREADS}" in out
    assert "Create Public Threads):" in out
