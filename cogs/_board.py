"""The board of an idea with two or more clips: one Components V2 message showing every clip side by side
(a media gallery of the clips, a numbered list with who made each, what changed, and links), a Vote button
with a live count per clip, Pick for the requester (or an admin), and Final on the picked clip.

Buttons are DynamicItems keyed by job id (`reel:vote:<id>`, `reel:pick:<id>`, `reel:final:<id>`), and votes
live in the database, so a board works after a restart. The board is edited in place, at most once per
EDIT_INTERVAL per idea (like status messages); a click on it answers with the re-rendered board at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.domain import Job, JobState, VideoRequest
from cogs import _render

if TYPE_CHECKING:
    from bot.client import ReelBot

log = logging.getLogger(__name__)

EDIT_INTERVAL = 5.0  # as for status messages (cogs/_delivery.py)
BOARD_MAX = 8  # clips shown: 4 components each, with the header and gallery, stay under Discord's 40
GALLERY_MAX = 10  # Discord's media gallery limit
CLIP_TEXT = 300
OPTION_NAMES = ("aspect_ratio", "resolution", "duration", "loop", "hdr", "camera", "model", "enhance")


@dataclass(frozen=True, slots=True)
class BoardClip:
    job: Job
    votes: int
    jump_url: str | None
    media_url: str | None  # the clip itself, for the gallery (None: only the link in the list)


def prompt_diff(base: str, prompt: str, limit: int = 160) -> str:
    """The words added (+) and removed (-) from the idea's first prompt, or '' when it is the same."""
    if base == prompt:
        return ""
    old, new = base.split(), prompt.split()
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            parts.append("-" + " ".join(old[i1:i2]))
        if tag in ("replace", "insert"):
            parts.append("+" + " ".join(new[j1:j2]))
    return _render.shorten(" ".join(parts), limit)


def option_changes(base: VideoRequest, request: VideoRequest) -> str:
    """'duration 5s→9s · hdr' for the options that differ from the idea's first request."""
    changes = []
    for name in OPTION_NAMES:
        old, new = getattr(base, name), getattr(request, name)
        if old != new:
            changes.append(name if isinstance(new, bool) and new else f"{name} {old or '-'}→{new or '-'}")
    if request.extend_of and not base.extend_of:
        changes.append("extended")
    return " · ".join(changes)


def clip_text(number: int, clip: BoardClip, base: Job, picked: bool) -> str:
    job = clip.job
    made = f"take {job.take}" if job.take else (_render.credit(job) if job.parent_job_id else "first clip")
    line = f"**{number}.** {made} · by <@{job.user_id}> · #{job.id}"
    if picked:
        line = "🏆 " + line + " · **picked**"
    changed = [part for part in (prompt_diff(base.request.prompt, job.request.prompt),
                                 option_changes(base.request, job.request)) if part]  # fmt: skip
    if changed:
        line += "\n" + " · ".join(f"`{part}`" if i == 0 and part[:1] in "+-" else part for i, part in enumerate(changed))
    if clip.jump_url:
        line += f"\n[open the clip]({clip.jump_url})"
    return _render.shorten(line, CLIP_TEXT)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reel:(?P<action>vote|pick|final):(?P<job_id>[0-9]+)"
):
    """Vote (toggled), Pick and Final on a board; the Board cog does the work."""

    def __init__(self, action: str, job_id: int, *, label: str | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:  # fmt: skip
        super().__init__(discord.ui.Button(label=label or action.capitalize(), style=style,
                                           custom_id=f"reel:{action}:{job_id}"))  # fmt: skip
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["action"], int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        board = interaction.client.get_cog("Board")  # type: ignore[attr-defined]
        await board.clicked(interaction, self.action, self.job_id)


def board_view(idea: dict[str, Any], clips: list[BoardClip], *, final_ok: bool) -> discord.ui.LayoutView:
    """The board message: a header, a media gallery of the clips that have a media link, then per clip its
    numbered line and a row of Vote (count) / Pick (/ Final on the picked clip)."""
    base = clips[0].job
    shown = clips[:BOARD_MAX]
    view = discord.ui.LayoutView(timeout=None)
    header = (f"## 🗳️ Board · idea #{idea['id']}\n> {_render.shorten(' '.join(base.request.prompt.split()), 300)}\n"
              f"Vote for your favourites; <@{idea['user_id']}> (or an admin) picks the winner.")  # fmt: skip
    if len(clips) > BOARD_MAX:
        header += f"\nShowing the first {BOARD_MAX} of {len(clips)} clips."
    view.add_item(discord.ui.TextDisplay(header))
    media = [(n, c) for n, c in enumerate(shown, 1) if c.media_url][:GALLERY_MAX]
    if media:
        gallery: discord.ui.MediaGallery[discord.ui.LayoutView] = discord.ui.MediaGallery()
        for number, clip in media:
            gallery.add_item(media=clip.media_url, description=f"{number}. #{clip.job.id}")  # type: ignore[arg-type]
        view.add_item(gallery)
    for number, clip in enumerate(shown, 1):
        picked = idea.get("picked_job_id") == clip.job.id
        view.add_item(discord.ui.TextDisplay(clip_text(number, clip, base, picked)))
        row: discord.ui.ActionRow[discord.ui.LayoutView] = discord.ui.ActionRow()
        row.add_item(VoteButton("vote", clip.job.id, label=f"Vote ({clip.votes})", style=discord.ButtonStyle.primary))
        row.add_item(VoteButton("pick", clip.job.id, label="Picked" if picked else "Pick",
                                style=discord.ButtonStyle.success if picked else discord.ButtonStyle.secondary))  # fmt: skip
        if picked and final_ok and clip.job.parent_kind != "final":
            row.add_item(VoteButton("final", clip.job.id, label="Final", style=discord.ButtonStyle.success))
        view.add_item(row)
    return view


def jump_url(job: Job) -> str | None:
    if not job.result_message_id:
        return None
    return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.result_message_id}"


def video_url_of(message: discord.Message) -> str | None:
    for attachment in message.attachments:
        if (attachment.content_type or "").startswith("video/") or attachment.filename.endswith(".mp4"):
            return attachment.url
    return None


class BoardKeeper:
    """Posts and edits each idea's board, throttled per idea."""

    def __init__(self, bot: ReelBot) -> None:
        self.bot = bot
        self._media: dict[int, str] = {}  # job id → its clip's attachment URL, as posted (saves a fetch)
        self._last: dict[int, float] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}

    def clip_posted(self, job: Job, message: discord.Message) -> None:
        """A clip of an idea was posted: remember its media link and refresh the board soon."""
        if job.idea_id is None:
            return
        url = video_url_of(message)
        if url:
            self._media[job.id] = url
        self.request(job.idea_id)

    def request(self, idea_id: int) -> None:
        task = self._pending.get(idea_id)
        if task is None or task.done():
            self._pending[idea_id] = asyncio.create_task(self._refresh_later(idea_id), name=f"reelbot-board-{idea_id}")

    async def _refresh_later(self, idea_id: int) -> None:
        # At least one turn later: the clip that asked is recorded as completed (with its message) first.
        wait = max(0.05, self._last.get(idea_id, float("-inf")) + EDIT_INTERVAL - self.bot.clock.monotonic())
        await self.bot.clock.sleep(wait)
        try:
            await self.refresh(idea_id)
        except Exception:
            log.exception("board of idea %s could not be updated", idea_id)

    async def clips(self, idea_id: int) -> list[BoardClip]:
        storage = self.bot.storage
        assert storage is not None
        jobs = [j for j in await storage.idea_jobs(idea_id) if j.state is JobState.COMPLETED and j.result_message_id]
        votes = await storage.vote_counts(idea_id)
        media = await asyncio.gather(*(self._media_url(job) for job in jobs))
        return [BoardClip(job, votes.get(job.id, 0), jump_url(job), url) for job, url in zip(jobs, media, strict=True)]

    async def _media_url(self, job: Job) -> str | None:
        if job.id in self._media:
            return self._media[job.id]
        channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            message = await channel.fetch_message(job.result_message_id)  # type: ignore[arg-type]
        except discord.HTTPException:
            return None
        url = video_url_of(message)
        if url:
            self._media[job.id] = url
        return url

    async def render(self, idea_id: int) -> tuple[dict[str, Any], discord.ui.LayoutView] | None:
        """The idea and its board, or None when it has fewer than two clips."""
        storage = self.bot.storage
        assert storage is not None
        idea = await storage.get_idea(idea_id)
        clips = await self.clips(idea_id) if idea else []
        if idea is None or len(clips) < 2:
            return None
        return idea, board_view(idea, clips, final_ok=self.bot.get_cog("Board") is not None)

    async def refresh(self, idea_id: int, *, repost: bool = False) -> int | None:
        """Edit the board in place (post it the first time, or again at the bottom with `repost`)."""
        rendered = await self.render(idea_id)
        if rendered is None:
            return None
        idea, view = rendered
        self._last[idea_id] = self.bot.clock.monotonic()
        channel = self.bot.get_partial_messageable(idea["channel_id"], guild_id=idea["guild_id"])
        old = idea["board_message_id"]
        if old and not repost:
            try:
                await channel.get_partial_message(old).edit(view=view)
                return int(old)
            except discord.NotFound:
                pass  # deleted: post a new one
        message = await channel.send(view=view)
        await self.bot.storage.update_idea(idea_id, board_message_id=message.id)  # type: ignore[union-attr]
        if old and old != message.id:
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(old).delete()
        return message.id
