"""`python -m bot`, `check` and `generate`: the operator's commands, end to end through main()."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord
import pytest
from aiohttp import web

import bot.__main__ as cli
import bot.check
import bot.generate
from bot.domain import ProviderState, ProviderStatus
from bot.errors import ProviderAuthError, ProviderUnavailableError
from bot.providers.base import Capabilities
from tests.fakes.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5.fake-bot-token.SECRET"
APP_ID = "112233445566778899"
PERMISSIONS = 274878024704  # View Channel, Send Messages (+ in Threads), Embed Links, Attach Files, Read History
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Run every command in an empty directory (no stray .env) and restore logging afterwards."""
    monkeypatch.chdir(tmp_path)
    import logging

    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in root.handlers:
        handler.filters.clear()
    root.setLevel(level)
    sys.excepthook = hook
    logging.captureWarnings(False)


# --- a tiny Discord API fake on 127.0.0.1, served from its own thread (main() runs its own loop) ------


@contextlib.contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def fake_discord(token: str = TOKEN, *, code_grant: bool = False) -> web.Application:
    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {token}"

    async def me(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"id": "998877", "username": "reelbot", "bot": True})

    async def application(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"id": APP_ID, "name": "reelbot", "bot_public": True, "bot_require_code_grant": code_grant})

    app = web.Application()
    app.router.add_get("/api/v10/users/@me", me)
    app.router.add_get("/api/v10/oauth2/applications/@me", application)
    return app


# --- a scripted provider, swapped in for build_provider ------------------------------------------------


class StubProvider:
    poll_interval = 3.0

    def __init__(self, name: str, context, script: list, *, credits=None, caps: Capabilities | None = None):
        self.name = name
        self.display_name = f"Stub {name}"
        self.context = context
        self.script = list(script)
        self.credits = credits
        self.capabilities = caps or Capabilities(models=("stub-1",), default_model="stub-1", cancel=True)
        self.submitted: list = []
        self.polled: list[str] = []
        self.cancelled: list[str] = []

    def _next(self):
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        return item(self.context) if callable(item) else item

    async def submit(self, request):
        self.submitted.append(request)
        return self._next()

    async def poll(self, provider_job_id):
        self.polled.append(provider_job_id)
        return self._next()

    async def cancel(self, provider_job_id):
        self.cancelled.append(provider_job_id)

    async def fetch_credits(self):
        if isinstance(self.credits, BaseException):
            raise self.credits
        return self.credits


def finished_with_file(context) -> ProviderStatus:
    path = context.temp_dir / "clip.mp4"
    path.write_bytes(MP4)
    return ProviderStatus(ProviderState.COMPLETED, "job-1", video_file=path, progress=1.0)


def install(monkeypatch, **providers: StubProvider) -> dict[str, StubProvider]:
    """Make build_provider return the given stubs by config name (binding each to the real context)."""

    def build(config, context):
        stub = providers[config.name]
        stub.context = context
        return stub

    monkeypatch.setattr(bot.check, "build_provider", build)
    monkeypatch.setattr(bot.generate, "build_provider", build)
    return providers


def running(progress: float | None = None, poll_after: float | None = None, state: str = "dreaming"):
    return ProviderStatus(ProviderState.RUNNING, "job-1", raw_state=state, progress=progress, poll_after=poll_after)


# --- run: configuration errors ----------------------------------------------------------------------


def test_run_lists_every_config_problem_at_once_and_exits_2(capsys):
    """Bad configuration stops `python -m bot` with exit 2 and one message naming every problem."""
    secret = "luma-secret-key-0123"
    code = cli.main(
        [],
        environ={
            "VIDEO_PROVIDERS": "luma,sora,segmind",
            "LUMAAI_API_KEY": secret,
            "QUOTA_DAILY": secret,  # pasted into the wrong variable: still never printed
            "MAX_ACTIVE_JOBS": "lots",
        },
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "DISCORD_TOKEN is required" in err
    assert "unknown provider 'sora'" in err
    assert "SEGMIND_API_KEY is not set" in err
    assert "QUOTA_DAILY must be a whole number" in err and "MAX_ACTIVE_JOBS must be a whole number" in err
    assert secret not in err and "***" in err


def test_python_dash_m_bot_runs_as_a_module(tmp_path):
    """The real `python -m bot` entry point: a config error gives exit 2 on stderr, nothing on stdout."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "QUOTA_CONCURRENT": "0"}
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Configuration problems:" in done.stderr and "QUOTA_CONCURRENT must be at least 1" in done.stderr
    assert done.stdout == ""


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    """`.env` fills in what the environment lacks; a variable set in both takes the environment's value."""
    (tmp_path / ".env").write_text("QUOTA_DAILY=9\nLOG_LEVEL=DEBUG\n# comment\nEMPTY\n")
    env = cli.load_env({"QUOTA_DAILY": "3"})
    assert env["QUOTA_DAILY"] == "3" and env["LOG_LEVEL"] == "DEBUG" and "EMPTY" not in env


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (discord.LoginFailure(f"Improper token has been passed: {TOKEN}"), "Discord refused DISCORD_TOKEN"),
        (aiohttp.ServerDisconnectedError(f"lost {TOKEN}"), "cannot reach Discord"),
        (RuntimeError(f"boom {TOKEN}"), "the bot stopped with an error"),
    ],
)
def test_run_builds_the_bot_and_reports_why_it_stopped(monkeypatch, capsys, failure, message):
    """Valid config → create_bot(env) is started with the token; a refused token, no network or a crash
    exits 1 with a clear, redacted log line."""
    started: list[str] = []

    class RefusingBot:
        async def start(self, token):
            started.append(token)
            raise failure

        def is_closed(self):
            return True

        async def close(self):
            pass

    fake_client = type(sys)("bot.client")
    fake_client.create_bot = lambda env: RefusingBot()
    monkeypatch.setitem(sys.modules, "bot.client", fake_client)
    code = cli.main([], environ={"DISCORD_TOKEN": TOKEN})
    err = capsys.readouterr().err
    assert code == 1 and started == [TOKEN]
    assert message in err and TOKEN not in err


async def test_serve_closes_the_bot_on_sigterm():
    """SIGTERM makes serve() close the bot (which keeps job state) and return 0 well within 10 s."""
    closed = asyncio.Event()

    class WaitingBot:
        async def start(self, token):
            await closed.wait()

        def is_closed(self):
            return closed.is_set()

        async def close(self):
            closed.set()

    loop = asyncio.get_running_loop()
    loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    started = loop.time()
    assert await cli.serve(WaitingBot(), TOKEN, grace=2) == 0
    assert closed.is_set() and loop.time() - started < 2


async def test_serve_gives_up_on_a_close_that_hangs():
    """A bot whose close() never finishes cannot keep the process alive past the grace period."""

    class StuckBot:
        async def start(self, token):
            await asyncio.sleep(3600)

        def is_closed(self):
            return False

        async def close(self):
            await asyncio.sleep(3600)

    loop = asyncio.get_running_loop()
    loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    started = loop.time()
    assert await cli.serve(StuckBot(), TOKEN, grace=0.2) == 0
    assert loop.time() - started < 2


def test_invite_permissions_are_exactly_the_needed_ones():
    """The invite asks for View Channel, Send Messages (+ in Threads), Embed Links, Attach Files and
    Read Message History — nothing administrative."""
    perms = cli.required_permissions()
    assert perms.value == PERMISSIONS
    assert perms.view_channel and perms.send_messages and perms.send_messages_in_threads
    assert perms.embed_links and perms.attach_files and perms.read_message_history
    assert not (perms.administrator or perms.manage_messages or perms.mention_everyone or perms.manage_guild)
    assert cli.invite_url(42) == (
        f"https://discord.com/oauth2/authorize?client_id=42&scope=bot+applications.commands&permissions={PERMISSIONS}"
    )


# --- check -------------------------------------------------------------------------------------------


def test_check_with_demo_and_fake_discord_passes_and_prints_the_invite(capsys):
    """`check` with the demo provider and a valid token exits 0 and prints the invite URL; no secret shown."""
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(
            ["check"],
            environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo", "DISCORD_API_BASE": f"{base}/api/v10"},
        )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert (
        f"https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=bot+applications.commands&permissions={PERMISSIONS}"
    ) in out
    assert "[ ok ] discord: token accepted; logged in as reelbot" in out
    assert "[ ok ] Demo (free sample clip): ready" in out and "[FAIL]" not in out
    assert "Everything is usable." in out
    assert TOKEN not in out + err


def test_check_fails_on_a_refused_token_without_printing_it(capsys):
    """A token Discord refuses → exit 1, a pointer to the Developer Portal, the token never printed."""
    with serve_in_thread(fake_discord(token="another-token")) as base:
        code = cli.main(
            ["check"],
            environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo", "DISCORD_API_BASE": f"{base}/api/v10"},
        )
    out, err = capsys.readouterr()
    assert code == 1
    assert "[FAIL] discord: DISCORD_TOKEN was refused (401)" in out
    assert "oauth2/authorize" not in out
    assert TOKEN not in out + err


def test_check_reports_each_provider_and_fails_on_a_refused_key(monkeypatch, capsys):
    """Every configured provider is reached: a balance is shown, a missing balance call is only a note,
    a refused key fails the check (exit 1) while the invite URL is still printed."""
    key = "seg-secret-key-987"
    install(
        monkeypatch,
        luma=StubProvider("luma", None, [running()], credits="$12.34"),
        segmind=StubProvider("segmind", None, [running()], credits=ProviderAuthError("HTTP 401", status=401)),
        umami=StubProvider("umami", None, [running()], credits=None),
    )
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(
            ["check"],
            environ={
                "DISCORD_TOKEN": TOKEN,
                "LUMAAI_API_KEY": "luma-key",
                "SEGMIND_API_KEY": key,
                "UMAMI_API_KEY": "umami-key",
                "DISCORD_API_BASE": f"{base}/api/v10",
            },
        )
    out, err = capsys.readouterr()
    assert code == 1
    assert "[ ok ] luma (Stub luma): key accepted; balance $12.34" in out
    assert "[FAIL] segmind (Stub segmind): the key was refused (HTTP 401); check SEGMIND_API_KEY" in out
    assert "[ -- ] umami (Stub umami): no balance call; key not verified" in out
    assert f"permissions={PERMISSIONS}" in out
    assert key not in out + err and TOKEN not in out + err


def test_check_fails_when_a_provider_is_unreachable(monkeypatch, capsys):
    """A provider that is down (connection error / 5xx) fails the check."""
    install(monkeypatch, luma=StubProvider("luma", None, [running()], credits=ProviderUnavailableError("refused")))
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(
            ["check"],
            environ={"DISCORD_TOKEN": TOKEN, "LUMAAI_API_KEY": "luma-key", "DISCORD_API_BASE": f"{base}/api/v10"},
        )
    out = capsys.readouterr().out
    assert code == 1 and "[FAIL] luma (Stub luma): not reachable" in out


def test_check_fails_when_discord_is_unreachable(capsys):
    """No Discord API at the address → exit 1 with a clear line."""
    code = cli.main(
        ["check"],
        environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo", "DISCORD_API_BASE": "http://127.0.0.1:9/api"},
    )
    out = capsys.readouterr().out
    assert code == 1 and "[FAIL] discord: not reachable at http://127.0.0.1:9/api" in out


def test_check_flags_an_application_that_requires_a_code_grant(capsys):
    """'Requires OAuth2 Code Grant' makes the plain invite fail, so check says so and exits 1."""
    with serve_in_thread(fake_discord(code_grant=True)) as base:
        code = cli.main(
            ["check"],
            environ={"DISCORD_TOKEN": TOKEN, "VIDEO_PROVIDERS": "demo", "DISCORD_API_BASE": f"{base}/api/v10"},
        )
    assert code == 1 and "Requires OAuth2 Code Grant" in capsys.readouterr().out


def test_check_fails_on_an_unwritable_database_directory(tmp_path, capsys):
    """The SQLite file must be creatable: a path under a read-only directory fails the check."""
    if os.geteuid() == 0:
        target = "/proc/reelbot/reelbot.db"  # even root cannot create a directory under /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = str(locked / "reelbot.db")
    with serve_in_thread(fake_discord()) as base:
        code = cli.main(
            ["check"],
            environ={
                "DISCORD_TOKEN": TOKEN,
                "VIDEO_PROVIDERS": "demo",
                "DATABASE_URL": f"sqlite:///{target}",
                "DISCORD_API_BASE": f"{base}/api/v10",
            },
        )
    assert code == 1 and "[FAIL] database: cannot write SQLite" in capsys.readouterr().out


def test_check_config_error_exits_2(capsys):
    """`check` validates the configuration first; problems → exit 2, all listed."""
    code = cli.main(["check"], environ={"VIDEO_PROVIDERS": "luma", "JOB_TIMEOUT_S": "soon"})
    err = capsys.readouterr().err
    assert code == 2
    assert "DISCORD_TOKEN is required" in err and "LUMAAI_API_KEY is not set" in err and "JOB_TIMEOUT_S" in err


# --- generate ----------------------------------------------------------------------------------------


def test_generate_with_the_demo_provider_writes_an_mp4(tmp_path, capsys):
    """`generate` through the real demo provider produces a real MP4 at -o (clock injected: no waiting)."""
    out = tmp_path / "fox.mp4"
    clock = ManualClock()
    code = cli.main(
        ["generate", "a red fox running through snow", "--aspect-ratio", "9:16", "-o", str(out)],
        environ={"VIDEO_PROVIDERS": "demo"},
        clock=clock,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 1000
    assert captured.out.strip() == str(out)
    assert "saved" in captured.err and "[" in captured.err  # progress bar lines on stderr
    assert sum(clock.sleeps) >= 6  # polled on the provider's interval until the render finished
    assert not any(p.name.startswith(".reelbot-") for p in tmp_path.iterdir())  # temp dir cleaned up


def test_generate_polls_on_the_interval_and_honours_poll_after(monkeypatch, tmp_path, capsys):
    """Polls wait provider.poll_interval, or the provider's poll_after when given; progress is drawn."""
    stub = StubProvider(
        "luma",
        None,
        [
            ProviderStatus(ProviderState.QUEUED, "job-1", raw_state="queued"),
            running(0.25),
            running(0.5, poll_after=7.0),
            finished_with_file,
        ],
    )
    install(monkeypatch, luma=stub)
    clock = ManualClock()
    out = tmp_path / "o.mp4"
    code = cli.main(
        ["generate", "waves at dusk", "--loop", "--model", "stub-1", "-o", str(out)],
        environ={"LUMAAI_API_KEY": "luma-key"},
        clock=clock,
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert clock.sleeps == [3.0, 3.0, 7.0]
    assert stub.polled == ["job-1", "job-1", "job-1"]
    assert stub.submitted[0].loop and stub.submitted[0].model == "stub-1"
    assert out.read_bytes() == MP4
    assert "[######------------------]  25%" in err and "dreaming" in err and "100%" in err


def test_generate_downloads_a_video_url(monkeypatch, tmp_path, capsys):
    """A provider that finishes with a URL is downloaded (streamed, size-capped) to -o."""

    async def clip(request: web.Request) -> web.Response:
        return web.Response(body=MP4, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/v.mp4", clip)
    with serve_in_thread(app) as base:
        install(
            monkeypatch,
            luma=StubProvider(
                "luma", None, [running(), ProviderStatus(ProviderState.COMPLETED, "job-1", video_url=f"{base}/v.mp4")]
            ),
        )
        out = tmp_path / "u.mp4"
        code = cli.main(
            ["generate", "a city at night", "-o", str(out)], environ={"LUMAAI_API_KEY": "luma-key"}, clock=ManualClock()
        )
    assert code == 0, capsys.readouterr().err
    assert out.read_bytes() == MP4


def test_generate_refuses_what_the_provider_cannot_do_before_submitting(monkeypatch, tmp_path, capsys):
    """`--resolution 4k` on a 720p-only provider is refused with the possible values; nothing is sent."""
    stub = install(monkeypatch, luma=StubProvider("luma", None, [running()]))["luma"]
    code = cli.main(
        ["generate", "a cat", "--resolution", "4k", "--duration", "10", "-o", str(tmp_path / "x.mp4")],
        environ={"LUMAAI_API_KEY": "luma-key"},
        clock=ManualClock(),
    )
    err = capsys.readouterr().err
    assert code == 2 and stub.submitted == []
    assert "resolution `4k` is not possible; use `720p`" in err and "duration `10s`" in err


def test_generate_reports_a_failed_generation(monkeypatch, tmp_path, capsys):
    """The provider's failure reason (e.g. moderation) is shown and the exit code is 1; no file is left."""
    install(
        monkeypatch,
        luma=StubProvider(
            "luma",
            None,
            [running(), ProviderStatus(ProviderState.FAILED, "job-1", failure_reason="400: prompt failed moderation")],
        ),
    )
    out = tmp_path / "f.mp4"
    code = cli.main(["generate", "something", "-o", str(out)], environ={"LUMAAI_API_KEY": "luma-key"}, clock=ManualClock())
    err = capsys.readouterr().err
    assert code == 1 and "the generation failed: 400: prompt failed moderation" in err
    assert not out.exists()


def test_generate_gives_up_at_job_timeout_and_cancels(monkeypatch, tmp_path, capsys):
    """A job still running after JOB_TIMEOUT_S is abandoned with a clear message and cancelled upstream."""
    stub = install(monkeypatch, luma=StubProvider("luma", None, [running()]))["luma"]
    clock = ManualClock()
    code = cli.main(
        ["generate", "forever", "-o", str(tmp_path / "t.mp4")],
        environ={"LUMAAI_API_KEY": "luma-key", "JOB_TIMEOUT_S": "60"},
        clock=clock,
    )
    err = capsys.readouterr().err
    assert code == 1 and "JOB_TIMEOUT_S=60" in err
    assert stub.cancelled == ["job-1"]
    assert 60 <= sum(clock.sleeps) <= 63


def test_generate_falls_back_when_the_first_provider_is_down(monkeypatch, tmp_path, capsys):
    """A provider that is down before accepting the job is skipped for the next one in VIDEO_PROVIDERS."""
    stubs = install(
        monkeypatch,
        luma=StubProvider("luma", None, [ProviderUnavailableError("connection refused")]),
        umami=StubProvider("umami", None, [running(), finished_with_file]),
    )
    out = tmp_path / "fb.mp4"
    code = cli.main(
        ["generate", "a lighthouse", "-o", str(out)],
        environ={"LUMAAI_API_KEY": "luma-key", "UMAMI_API_KEY": "umami-key"},
        clock=ManualClock(),
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "luma is unavailable" in err and len(stubs["umami"].submitted) == 1
    assert out.read_bytes() == MP4


def test_generate_provider_option_and_auth_error(monkeypatch, tmp_path, capsys):
    """--provider picks one provider (its key is required); a refused key names the variable to fix."""
    key = "umami-secret-key-55"
    install(monkeypatch, umami=StubProvider("umami", None, [ProviderAuthError(f"HTTP 401 for {key}", status=401)]))
    code = cli.main(
        ["generate", "a lighthouse", "--provider", "umami", "-o", str(tmp_path / "a.mp4")],
        environ={"LUMAAI_API_KEY": "luma-key", "UMAMI_API_KEY": key},
        clock=ManualClock(),
    )
    err = capsys.readouterr().err
    assert code == 1 and "check UMAMI_API_KEY" in err and key not in err
    code = cli.main(["generate", "a lighthouse", "--provider", "segmind"], environ={}, clock=ManualClock())
    assert code == 2 and "SEGMIND_API_KEY is not set" in capsys.readouterr().err


def test_generate_validates_the_prompt_length(tmp_path, capsys):
    """Prompts outside 3-5000 characters are refused before any provider is built."""
    code = cli.main(["generate", "hi"], environ={"VIDEO_PROVIDERS": "demo"}, clock=ManualClock())
    assert code == 2 and "3 to 5000 characters" in capsys.readouterr().err


def test_generate_names_the_provider_option_when_it_is_unknown(capsys):
    """`--provider nope` is refused naming `--provider` and the possible providers; nothing is built."""
    code = cli.main(["generate", "a lighthouse", "--provider", "nope"], environ={}, clock=ManualClock())
    err = capsys.readouterr().err
    assert code == 2 and "--provider 'nope'" in err and "luma, segmind, onemin, umami, demo" in err


def test_generate_on_the_demo_says_its_notice_once_without_doubled_words(tmp_path, capsys):
    """The demo's "set LUMAAI_API_KEY" hint is printed once, as written, and never doubled into each line."""
    code = cli.main(["generate", "a red fox", "-o", str(tmp_path / "d.mp4")], environ={"VIDEO_PROVIDERS": "demo"},
                    clock=ManualClock())  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("LUMAAI_API_KEY") == 1 and "lumaai_api_key" not in err
    assert "demo demo" not in err and "Demo (Demo" not in err


def test_generate_goes_to_the_first_provider_that_can_do_the_request(monkeypatch, tmp_path, capsys):
    """Like /video: a provider that can't do the options is skipped (not asked), the next able one runs it."""
    narrow = Capabilities(models=("stub-1",), default_model="stub-1", resolutions=("720p",))
    wide = Capabilities(models=("stub-1",), default_model="stub-1", resolutions=("720p", "1080p"))
    stubs = install(
        monkeypatch,
        luma=StubProvider("luma", None, [running()], caps=narrow),
        segmind=StubProvider("segmind", None, [running(), finished_with_file], caps=wide),
    )
    out = tmp_path / "hd.mp4"
    code = cli.main(
        ["generate", "a lighthouse", "--resolution", "1080", "-o", str(out)],
        environ={"LUMAAI_API_KEY": "luma-key", "SEGMIND_API_KEY": "seg-key"},
        clock=ManualClock(),
    )
    assert code == 0, capsys.readouterr().err
    assert stubs["luma"].submitted == [] and stubs["segmind"].submitted[0].resolution == "1080p"
    assert out.read_bytes() == MP4


def test_generate_refusal_names_the_provider_that_offers_the_model(monkeypatch, tmp_path, capsys):
    """When nothing fits, the refusal explains the limits of the provider owning the chosen model."""
    install(
        monkeypatch,
        luma=StubProvider("luma", None, [running()]),
        segmind=StubProvider("segmind", None, [running()], caps=Capabilities(models=("seg-x",), default_model="seg-x")),
    )
    code = cli.main(
        ["generate", "a lighthouse", "--model", "seg-x", "--duration", "9s"],
        environ={"LUMAAI_API_KEY": "luma-key", "SEGMIND_API_KEY": "seg-key"},
        clock=ManualClock(),
    )
    err = capsys.readouterr().err
    assert code == 2 and "Stub segmind can't do that: duration `9s` is not possible; use `5s`" in err
