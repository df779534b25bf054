"""The Edit prompt modal: the job's prompt pre-filled; submitting starts a new job with the same options.

A modal text input holds at most 4000 characters but a prompt may have 5000, so the modal has a second,
optional box for the rest (pre-filled with the tail of a long prompt); the two are joined with a space.

discord.py only routes a submission to a modal object this process showed. A modal left open across a
restart is answered by `on_stale_modal` instead, from its custom id (`reel:editmodal:<job>:<boot>:<nonce>`).
"""

from __future__ import annotations

import re
import secrets
import weakref
from dataclasses import replace
from typing import Any

import discord

from bot.domain import Job
from cogs.errors import report

PART_MAX = 4000  # Discord's limit for one text input
MORE_MAX = 1000  # the rest of Luma's 5000
TITLE_MAX = 45
MODAL_ID = re.compile(r"reel:editmodal:(?P<job_id>[0-9]+):(?P<boot>[0-9a-f]+):[0-9a-f]+")
GONE = "That job no longer exists, so its prompt can't be edited."


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


_boots: weakref.WeakKeyDictionary[discord.Client, str] = weakref.WeakKeyDictionary()


def boot_id(client: discord.Client) -> str:
    """A random id for this run of the bot, in the custom id of every modal it shows."""
    return _boots.setdefault(client, secrets.token_hex(4))


class EditPromptModal(discord.ui.Modal):
    def __init__(self, job: Job, client: discord.Client) -> None:
        super().__init__(
            title=f"Edit the prompt of job #{job.id}"[:TITLE_MAX], timeout=15 * 60,
            custom_id=f"reel:editmodal:{job.id}:{boot_id(client)}:{secrets.token_hex(4)}",
        )  # fmt: skip
        self.job = job
        head, tail = split_prompt(job.request.prompt)
        self.prompt: discord.ui.TextInput[EditPromptModal] = discord.ui.TextInput(
            label="Prompt", style=discord.TextStyle.paragraph, default=head, max_length=PART_MAX, required=True,
            custom_id="prompt",
        )  # fmt: skip
        self.more: discord.ui.TextInput[EditPromptModal] = discord.ui.TextInput(
            label="Prompt, continued (optional)", style=discord.TextStyle.paragraph, default=tail or None,
            max_length=MORE_MAX, required=False, custom_id="more",
            placeholder="Only for prompts over 4000 characters (5000 in all)",
        )  # fmt: skip
        self.add_item(self.prompt)
        self.add_item(self.more)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await submit_edit(interaction, self.job, self.prompt.value, self.more.value)


async def submit_edit(interaction: discord.Interaction, job: Job, first: str, more: str | None) -> None:
    """Start the edited job: the new prompt, `job`'s options, credited as an edit of it."""
    from cogs.video import check_prompt  # cogs.video imports this module through _views

    try:
        request = replace(job.request, prompt=check_prompt(join_prompt(first, more)))
        video = interaction.client.get_cog("Video")  # type: ignore[attr-defined]
        await video.start_job(interaction, request, parent=job, kind="edit")
    except Exception as error:  # refusals (length, quota, policy) are answered, not raised
        await report(interaction, error, f"edit of job {job.id}")


async def on_stale_modal(interaction: discord.Interaction) -> None:
    """Listener: answer an Edit prompt modal shown by an earlier run of the bot (unknown to discord.py now).
    Only the user it was shown to can submit it, and they were allowed when they clicked."""
    if interaction.type is not discord.InteractionType.modal_submit or not interaction.data:
        return
    match = MODAL_ID.fullmatch(str(interaction.data.get("custom_id", "")))
    if match is None or match["boot"] == boot_id(interaction.client):
        return
    job = await interaction.client.storage.get_job(int(match["job_id"]))  # type: ignore[attr-defined]
    if job is None:
        await interaction.response.send_message(GONE, ephemeral=True)
        return
    values = text_values(interaction.data.get("components", []))  # type: ignore[arg-type]
    await submit_edit(interaction, job, values.get("prompt", ""), values.get("more"))


def text_values(components: list[Any]) -> dict[str, str]:
    """custom_id → value of the text inputs in a modal submission (action rows or labels)."""
    out: dict[str, str] = {}
    for component in components:
        children = component.get("components") or ([component["component"]] if component.get("component") else [])
        for child in children or [component]:
            if child.get("type") == discord.ComponentType.text_input.value and "custom_id" in child:
                out[child["custom_id"]] = child.get("value") or ""
    return out
