"""Buttons as DynamicItems keyed by job id (`reel:<action>:<job_id>`), so they work after a restart."""

from __future__ import annotations

import re

import discord


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=r"reel:cancel:(?P<job_id>[0-9]+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Cancel", style=discord.ButtonStyle.danger, custom_id=f"reel:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
        await video.cancel_from_button(interaction, self.job_id)


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


DYNAMIC_ITEMS = (CancelButton,)


def may_manage(interaction: discord.Interaction, owner_id: int) -> bool:
    """The requester, or a server admin (manage_guild), may act on a job."""
    if interaction.user.id == owner_id:
        return True
    permissions = getattr(interaction, "permissions", None)
    return bool(permissions and (permissions.manage_guild or permissions.administrator))
