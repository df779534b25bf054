"""The bot's disk: temp files a crash left behind are removed at start-up (only ours, never a clip an
unfinished job still needs), and a full disk during a download tells the user "the bot's disk is full",
logs it, and refunds. ENOSPC is injected at the file layer (the file object the download writes to)."""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

import pytest

from bot import media
from bot.errors import DiskFullError
from tests.e2e.helpers import advance_until, reply_of, title
from tests.reliability.helpers import all_terminal, jobs

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a lighthouse in a storm at night"
DAY_AGO = time.time() - 86400


def _aged(path: Path, content: bytes = b"x") -> Path:
    path.write_bytes(content)
    os.utime(path, (DAY_AGO, DAY_AGO))
    return path


@pytest.fixture
def leftovers(bot_env):
    """Files in the bot's temp directory before it starts, as a crash would leave them."""
    temp = Path(bot_env["DATA_DIR"]) / "tmp"
    temp.mkdir(parents=True)
    fresh = temp / "reel-beingwritten.mp4"
    fresh.write_bytes(b"x")
    return {
        "crashed": _aged(temp / "reel-abc123.mp4"),
        "crashed_too": _aged(temp / "reel-def456.mp4"),
        "not_ours": _aged(temp / "notes.txt"),
        "fresh": fresh,
    }


async def test_temp_files_left_by_a_crash_are_removed_at_start_up(leftovers, simcord_env, simcord_bot, world):
    """At start-up our old `reel-*` temp files are deleted; a file of someone else's and one being written
    right now (recently touched) stay."""
    assert not leftovers["crashed"].exists() and not leftovers["crashed_too"].exists()
    assert leftovers["not_ours"].exists() and leftovers["fresh"].exists()


async def test_a_clip_an_unfinished_job_points_to_survives_the_clean_up(tmp_path):
    """A clip handed over by a synchronous provider (kept for an unfinished job) is not removed."""
    kept = _aged(tmp_path / "reel-kept.mp4")
    gone = _aged(tmp_path / "reel-gone.mp4")
    assert await media.remove_stale_temp_files(tmp_path, keep=[kept]) == 1
    assert kept.exists() and not gone.exists()


class _FullDisk:
    """A file object whose writes fail as they do when the disk is full."""

    def __init__(self, path, mode):
        self._file = open(path, mode)  # noqa: SIM115 - closed through close()

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self):
        self._file.close()


async def test_a_full_disk_during_the_download_says_so_logs_it_and_refunds(
    simcord_env, simcord_bot, bot_env, world, fake_luma, monkeypatch, caplog
):
    """ENOSPC while writing the clip: the status message says the bot's disk is full, the log has an
    ERROR saying so, the job fails refunded, and no partial file is left behind."""
    _, channel, alice, _ = world
    monkeypatch.setattr(media, "open", _FullDisk, raising=False)
    caplog.set_level(logging.ERROR, logger="bot.media")
    started = await alice.slash(channel, "video", prompt=PROMPT)
    await advance_until(simcord_env, lambda: all_terminal(bot_env), step=5)
    [row] = jobs(bot_env)
    assert row["state"] == "failed" and row["cost"] == 0, row
    assert title(reply_of(started)) == "❌ Failed"
    shown = reply_of(started).embeds[0].description
    assert "the bot's disk is full" in shown and "refunded" in shown
    assert any("disk is full" in record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR)
    assert not list((Path(bot_env["DATA_DIR"]) / "tmp").glob("reel-*"))
    assert DiskFullError.code == "disk_full"
