"""The Edit prompt modal: the job's prompt pre-filled; submitting starts a new job with the same options.

A modal text input holds at most 4000 characters but a prompt may have 5000, so the modal has a second,
optional box for the rest (pre-filled with the tail of a long prompt); the two are joined with a space.
"""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.domain import Job
from cogs.errors import report

PART_MAX = 4000  # Discord's limit for one text input
MORE_MAX = 1000  # the rest of Luma's 5000
TITLE_MAX = 45


def split_prompt(prompt: str) -> tuple[str, str]:
    """(first box, second box) for `prompt`, cut at a space so that joining them restores it."""
    if len(prompt) <= PART_MAX:
        return prompt, ""
    cut = prompt.rfind(" ", max(0, len(prompt) - MORE_MAX - 1), PART_MAX + 1)
    if cut < 0:
        return prompt[:PART_MAX], prompt[PART_MAX:]
    return prompt[:cut], prompt[cut + 1 :]


def join_prompt(first: str, more: str | None) -> str:
    first, more = first.strip(), (more or "").strip()
    return f"{first} {more}" if more else first


class EditPromptModal(discord.ui.Modal):
    def __init__(self, job: Job) -> None:
        super().__init__(title=f"Edit the prompt of job #{job.id}"[:TITLE_MAX], timeout=15 * 60)
        self.job = job
        head, tail = split_prompt(job.request.prompt)
        self.prompt: discord.ui.TextInput[EditPromptModal] = discord.ui.TextInput(
            label="Prompt", style=discord.TextStyle.paragraph, default=head, max_length=PART_MAX, required=True
        )
        self.more: discord.ui.TextInput[EditPromptModal] = discord.ui.TextInput(
            label="Prompt, continued (optional)", style=discord.TextStyle.paragraph, default=tail or None,
            max_length=MORE_MAX, required=False,
            placeholder="Only for prompts over 4000 characters (5000 in all)",
        )  # fmt: skip
        self.add_item(self.prompt)
        self.add_item(self.more)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        from cogs.video import check_prompt  # cogs.video imports this module through _views

        try:
            request = replace(self.job.request, prompt=check_prompt(join_prompt(self.prompt.value, self.more.value)))
            video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
            await video.start_job(interaction, request, parent=self.job, kind="edit")
        except Exception as error:  # refusals (length, quota, policy) are answered, not raised
            await report(interaction, error, f"edit of job {self.job.id}")
