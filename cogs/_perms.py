"""Who counts as a server admin for reelbot: Manage Server (or Administrator) in the channel at hand.

`default_permissions` on a command is only a hint Discord shows to members (server admins can change
it, and it is ignored on subcommands), so every admin-only path checks this in code as well.
"""

from __future__ import annotations

import discord
from discord import app_commands


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
