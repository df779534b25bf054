"""A newcomer's first hour: the demo tells the truth, messages read as written, the CLI names itself."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot.__main__ as cli
from bot.domain import Job, JobState, VideoRequest
from bot.jobs import JobProgress
from bot.providers import demo
from cogs._render import result_embed, status_embed


def mp4_facts(data: bytes) -> tuple[float, int, int]:
    """(seconds, width, height) from an MP4's moov/mvhd and its first trak/tkhd."""
    seconds, size = 0.0, (0, 0)

    def walk(start: int, end: int) -> None:
        nonlocal seconds, size
        offset = start
        while offset + 8 <= end:
            length, kind = struct.unpack(">I4s", data[offset : offset + 8])
            if length == 1:
                length = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            if kind == b"mvhd":
                if data[offset + 8] == 0:
                    scale, duration = struct.unpack(">II", data[offset + 20 : offset + 28])
                else:
                    scale, duration = struct.unpack(">IQ", data[offset + 28 : offset + 40])
                seconds = duration / scale
            elif kind == b"tkhd" and size == (0, 0):
                width, height = struct.unpack(">II", data[offset + length - 8 : offset + length])
                size = (width >> 16, height >> 16)
            elif kind in (b"moov", b"trak"):
                walk(offset + 8, offset + length)
            offset += max(length, 8)

    walk(0, len(data))
    return seconds, *size


def make_job(provider: str | None, state: JobState = JobState.COMPLETED) -> Job:
    return Job(
        id=7, guild_id=10, channel_id=20, user_id=30, created_at=datetime(2026, 1, 1, tzinfo=UTC), state=state,
        request=VideoRequest(prompt="a red fox", resolution="1080p", duration="9s"), provider=provider,
    )  # fmt: skip


def test_the_demo_clip_facts_are_those_of_the_shipped_file():
    """The demo's stated length and size (3 s, 640x360) are read back from bot/assets/demo.mp4 itself."""
    seconds, width, height = mp4_facts(demo.packaged_clip().read_bytes())
    assert (round(seconds), width, height) == (demo.CLIP_SECONDS, demo.CLIP_WIDTH, demo.CLIP_HEIGHT) == (3, 640, 360)
    assert demo.CLIP_FACTS == "3 s, 640×360"


def test_the_demo_result_embed_describes_the_sample_clip_not_the_asked_options():
    """A demo result says it is the 3 s 640x360 sample; a real provider's result shows the options asked for."""
    fields = {f.name: f.value for f in result_embed(make_job("demo"), model="demo", provider_name="Demo",
                                                    taken=6.0).fields}  # fmt: skip
    assert fields["Options"] == "demo sample clip, 3 s, 640×360 (asked for 16:9 · 1080p · 9s)"
    fields = {f.name: f.value for f in result_embed(make_job("luma"), model="ray-2", provider_name="Luma",
                                                    taken=6.0).fields}  # fmt: skip
    assert fields["Options"] == "16:9 · 1080p · 9s"


def test_status_text_keeps_variable_names_as_written_and_says_demo_once():
    """The demo's status line keeps LUMAAI_API_KEY in capitals and never reads "demo demo"."""
    progress = JobProgress(JobState.RUNNING, provider_state=demo.DEMO_NOTICE, elapsed=3.0, fraction=0.5)
    embed = status_embed(make_job("demo", JobState.RUNNING), progress, demo.DemoProvider.display_name)
    text = f"{embed.description} {embed.footer.text}"
    assert "LUMAAI_API_KEY" in text and "lumaai_api_key" not in text
    assert text.startswith("Free sample clip (3 s, 640×360) — set LUMAAI_API_KEY")
    assert "demo demo" not in f"demo {demo.DEMO_NOTICE}".lower()  # `generate` prints "<provider> <status>"


def test_check_labels_the_demo_without_doubling_its_name(capsys, tmp_path, monkeypatch):
    """`check` shows the demo as "Demo (free sample clip)", not "demo (Demo (…))"."""
    monkeypatch.chdir(tmp_path)
    cli.main(["check"], environ={"VIDEO_PROVIDERS": "demo", "DISCORD_TOKEN": "t" * 30,
                                 "DISCORD_API_BASE": "http://127.0.0.1:9/api"})  # fmt: skip
    out = capsys.readouterr().out
    assert "[ ok ] Demo (free sample clip): ready (needs no key); costs nothing" in out
    assert "demo (Demo" not in out


def test_a_missing_token_names_the_dotenv_looked_for_and_check_still_checks_the_rest(capsys, tmp_path, monkeypatch):
    """No DISCORD_TOKEN: `check` names ./.env and `cp .env.example .env`, checks database and provider, exits 2."""
    monkeypatch.chdir(tmp_path)
    code = cli.main(["check"], environ={"VIDEO_PROVIDERS": "demo"})
    out, err = capsys.readouterr()
    assert code == 2
    assert "DISCORD_TOKEN is required" in err
    assert f"{tmp_path / '.env'} (does not exist)" in err and "cp .env.example .env" in err
    assert "[ ok ] database: SQLite at" in out and "[ ok ] Demo (free sample clip)" in out
    assert "[FAIL] discord: DISCORD_TOKEN is not set" in out


def test_a_missing_token_with_other_problems_lists_them_all_at_once(capsys, tmp_path, monkeypatch):
    """With other bad values too, `check` and start-up list every problem with the .env hint, exit 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QUOTA_DAILY=lots\n")
    for argv in (["check"], []):
        assert cli.main(argv, environ={"JOB_TIMEOUT_S": "soon"}) == 2
        out, err = capsys.readouterr()
        assert "QUOTA_DAILY must be a whole number" in err and "JOB_TIMEOUT_S" in err
        assert f"{tmp_path / '.env'} (exists but has no DISCORD_TOKEN)" in err and "cp .env.example .env" in err
        assert "[ ok ]" not in out


@pytest.mark.parametrize(("argv0", "shown"), [("/usr/local/bin/reelbot", "reelbot"),
                                              (str(Path(cli.__file__)), "python -m bot")])  # fmt: skip
def test_help_names_the_command_as_typed(argv0, shown):
    """`reelbot --help` says reelbot; `python -m bot --help` says python -m bot."""
    assert cli.build_parser(cli.program_name(argv0)).format_usage().startswith(f"usage: {shown} ")


def test_version_prints_the_installed_version(capsys):
    """`--version` prints "reelbot <version>" and exits 0."""
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"reelbot {cli.version()}"
