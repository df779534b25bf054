"""Who counts as a server admin for reelbot: Manage Server (or Administrator) in the channel at hand.

`default_permissions` on a command is only a hint Discord shows to members (server admins can change
it, and it is ignored on subcommands), so every admin-only path checks this in code as well.

Who may see a job: `may_see_job`, for every command that shows or acts on a job by its number.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.domain import Job


def is_server_admin(interaction: discord.Interaction) -> bool:
    permissions = getattr(interaction, "permissions", None)
    return bool(permissions and (permissions.manage_guild or permissions.administrator))


class NotServerAdminError(app_commands.CheckFailure):
    """Refused: the member lacks Manage Server. Its text is shown to them ephemerally by cogs/errors.py."""

    def __init__(self) -> None:
        super().__init__("Only server admins (Manage Server permission) can use this command.")


def require_admin(interaction: discord.Interaction) -> bool:
    """An app-command check; raises NotServerAdminError so the member is told why."""
    if not is_server_admin(interaction):
        raise NotServerAdminError
    return True


def may_see_job(interaction: discord.Interaction, job: Job) -> bool:
    """A job of this server that is the caller's own, or whose channel the caller can view (resolved from the
    guild cache; a channel the bot no longer knows shows nothing). Everything else must be answered exactly
    like a job that does not exist, so job numbers can't be used to find out about other servers or private
    channels."""
    if interaction.guild is None or job.guild_id != interaction.guild.id:
        return False
    if job.user_id == interaction.user.id:
        return True
    channel = interaction.guild.get_channel_or_thread(job.channel_id)
    member = interaction.user
    if channel is None or not isinstance(member, discord.Member):
        return False
    permissions = channel.permissions_for(member)
    if isinstance(channel, discord.Thread) and channel.is_private() and channel.owner_id != member.id:
        # Only its members see a private thread; without the member list, trust only those who see them all.
        return permissions.view_channel and permissions.manage_threads
    return permissions.view_channel
