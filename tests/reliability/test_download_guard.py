"""The bot downloads only what a provider may name: https, public addresses (every resolved address
checked, the connection made to the checked one), redirects re-checked on every hop. The offline suites
serve results over http on 127.0.0.1 with ALLOW_LOCAL_PROVIDER_URLS=true; here it is off where refusal
is the point."""

from __future__ import annotations

import pytest
from aiohttp import web
from yarl import URL

from bot import media
from bot.netguard import UnsafeUrlError, UrlPolicy, is_public_address, open_download_session
from tests.e2e.helpers import advance_until, reply_of, title
from tests.reliability.helpers import all_terminal, jobs

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.1.1", "0.0.0.0",
     "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fd00:ec2::254", "fc00::1", "::ffff:127.0.0.1", "ff02::1"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    """Loopback, private, link-local, multicast, reserved, unspecified and metadata addresses are not public."""
    assert not is_public_address(address)
    with pytest.raises(UnsafeUrlError):
        UrlPolicy(allow_local=False).check(URL(f"https://{'[' + address + ']' if ':' in address else address}/v.mp4"))


def test_only_https_to_public_addresses_unless_local_is_allowed():
    """https to a public address passes; http, file: and ftp: are refused; the setting allows http."""
    strict = UrlPolicy(allow_local=False)
    strict.check(URL("https://8.8.8.8/clip.mp4"))
    strict.check(URL("https://cdn.example.com/clip.mp4"))
    for url in ("http://cdn.example.com/clip.mp4", "file:///etc/passwd", "ftp://cdn.example.com/x"):
        with pytest.raises(UnsafeUrlError):
            strict.check(URL(url))
    UrlPolicy(allow_local=True).check(URL("http://127.0.0.1:8080/clip.mp4"))


@pytest.fixture
async def clip_server():
    """Serves /clip.mp4, /hop/N (redirects N more times, then to the clip) and /to-file (redirects to file:)."""

    async def clip(request):
        return web.Response(body=MP4, content_type="video/mp4")

    async def hop(request):
        left = int(request.match_info["n"])
        raise web.HTTPFound(f"/hop/{left - 1}" if left > 1 else "/clip.mp4")

    async def to_file(request):
        raise web.HTTPFound("file:///etc/passwd")

    app = web.Application()
    app.router.add_get("/clip.mp4", clip)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/to-file", to_file)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]
    await runner.cleanup()


async def test_a_host_name_resolving_to_loopback_is_refused_before_connecting(clip_server, tmp_path):
    """`localhost` resolves to a loopback address: refused on resolving, nothing downloaded."""
    async with open_download_session(allow_local=False) as session:
        with pytest.raises(UnsafeUrlError, match="non-public"):
            await session.get(f"https://localhost:{clip_server}/clip.mp4")
        with pytest.raises(UnsafeUrlError):
            await media.download(session, f"http://localhost:{clip_server}/clip.mp4", tmp_path / "a.mp4")
        with pytest.raises(UnsafeUrlError):
            await media.download(session, f"https://127.0.0.1:{clip_server}/clip.mp4", tmp_path / "b.mp4")
    assert not (tmp_path / "a.mp4").exists() or (tmp_path / "a.mp4").stat().st_size == 0


async def test_redirects_are_followed_by_hand_rechecked_and_capped(clip_server, tmp_path):
    """Three hops are followed to the clip; a hop to file: is refused; more than five hops are refused."""
    base = f"http://127.0.0.1:{clip_server}"
    async with open_download_session(allow_local=True) as session:
        assert await media.download(session, f"{base}/hop/3", tmp_path / "ok.mp4") == len(MP4)
        with pytest.raises(UnsafeUrlError, match="file"):
            await media.download(session, f"{base}/to-file", tmp_path / "f.mp4")
        with pytest.raises(media.MediaError, match="redirected more than"):
            await media.download(session, f"{base}/hop/9", tmp_path / "many.mp4")


@pytest.mark.simcord(settle_timeout=1)
@pytest.mark.bot_env(ALLOW_LOCAL_PROVIDER_URLS="false")
async def test_the_bot_refuses_a_result_url_on_a_local_address(simcord_env, simcord_bot, bot_env, world, fake_luma):
    """With the setting off, a provider naming a clip on 127.0.0.1 over http gets the job failed and
    refunded: the bot never fetches it."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt="a lighthouse in a storm at night")
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0, row
    assert title(reply_of(started)) == "❌ Failed"
    assert "could not be downloaded" in reply_of(started).embeds[0].description
    assert fake_luma.requests_to("GET", "/assets") == [], "the clip was never fetched"

