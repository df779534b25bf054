"""Option types shared by several commands, within the bounds Discord accepts."""

from __future__ import annotations

from discord import app_commands

# Discord rejects an integer option whose min_value/max_value lies outside ±(2^53 − 1), JavaScript's safe
# integers (the spec's Int53Type): a bigger bound fails the whole command sync with 400 / 50035.
MAX_INTEGER_OPTION = 2**53 - 1

# A job number as typed in `/job id:` or `/videoadmin cancel job:` (job ids are positive integers).
JobId = app_commands.Range[int, 1, MAX_INTEGER_OPTION]
