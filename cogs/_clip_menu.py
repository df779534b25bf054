"""The "More…" select menu under a finished clip (row 2, below the four buttons): the actions the provider
that made the clip can do (its `capabilities.actions`), keyed by job id (`reel:more:<job_id>`) so it works
after a restart. A choice that needs input opens a modal (prompt, strength, aspect ratio, the other clip of
a bridge); the others start at once. Each starts through cogs/_clip.py, like /clip. A form left open across
a restart is still answered (`on_stale_clip_modal`), as the Edit prompt modal is.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import discord

from bot.domain import MODIFY_STRENGTHS, Job
from bot.errors import InvalidRequestError
from bot.providers.base import Capabilities
from cogs import _clip
from cogs._limits import NEGATIVE_MAX
from cogs._modals import PART_MAX, TITLE_MAX, boot_id, text_values
from cogs.errors import report

MODAL_ID = re.compile(r"reel:clipmodal:(?P<choice>[a-z]+):(?P<job_id>[0-9]+):(?P<boot>[0-9a-f]+):[0-9a-f]+")
NEEDS_INPUT = {"audio": "Add audio…", "modify": "Modify…", "reframe": "Reframe…", "bridge": "Bridge to another clip…"}


def menu_options(caps: Capabilities) -> list[discord.SelectOption]:
    """What the menu lists for a clip made by a provider with `caps` (value: `action` or `action:argument`)."""
    note = caps.action_notes.get("upscale", "")[:100] or None
    options = [discord.SelectOption(label=f"Upscale to {r}", value=f"upscale:{r}", emoji="🔍", description=note)
               for r in caps.upscale_resolutions if "upscale" in caps.actions]  # fmt: skip
    for action, label in (("audio", NEEDS_INPUT["audio"]), ("modify", NEEDS_INPUT["modify"]),
                          ("reframe", NEEDS_INPUT["reframe"])):  # fmt: skip
        if action in caps.actions:
            options.append(discord.SelectOption(label=label, value=action, description=caps.action_notes.get(action)))
    if "extend" in caps.actions:
        options.append(discord.SelectOption(label="Extend backward", value="extend:backward", emoji="⏪",
                                            description="A new clip that ends where this one starts"))  # fmt: skip
    if "bridge" in caps.actions:
        options.append(discord.SelectOption(label=NEEDS_INPUT["bridge"], value="bridge", emoji="🌉"))
    return options


class MoreSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"reel:more:(?P<job_id>[0-9]+)"):
    def __init__(self, job_id: int, options: list[discord.SelectOption]) -> None:
        super().__init__(discord.ui.Select(placeholder="More…", options=options, custom_id=f"reel:more:{job_id}",
                                           row=1))  # fmt: skip
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MoreSelect:
        options = list(item.options) if isinstance(item, discord.ui.Select) else []
        return cls(int(match["job_id"]), options or [discord.SelectOption(label="More…")])

    async def callback(self, interaction: discord.Interaction) -> None:
        choice = (self.item.values or [""])[0]
        action, _, argument = choice.partition(":")
        try:
            job = await _clip.find_job(interaction, self.job_id, action if action in _clip.LABELS else "extend")
            if action in NEEDS_INPUT:
                _clip.source_provider(interaction.client.runner, job, action)  # type: ignore[attr-defined]
                await interaction.response.send_modal(ActionModal(action, job, interaction.client))
            elif action == "upscale":
                await _clip.start_clip_action(interaction, "upscale", job, resolution=argument)
            elif action == "extend":
                await _clip.start_clip_action(interaction, "extend", job, direction=argument or "forward")
            else:
                raise InvalidRequestError(f"menu choice {choice!r}", public_message="That choice is not available.")
        except Exception as error:  # never let a choice end in "This interaction failed"
            await report(interaction, error, f"{choice} of job {self.job_id}")


def add_menu(view: discord.ui.View, job: Job, caps: Capabilities | None) -> discord.ui.View:
    """`view` with the menu added below its buttons, where the clip's provider can do anything."""
    options = menu_options(caps) if caps is not None and job.provider_job_id else []
    if options:
        view.add_item(MoreSelect(job.id, options[:25]))
    return view


def _select(custom_id: str, values: tuple[str, ...], default: str) -> discord.ui.Select[Any]:
    options = [discord.SelectOption(label=v, value=v, default=v == default) for v in values]
    return discord.ui.Select(custom_id=custom_id, options=options[:25], min_values=1, max_values=1)


class ActionModal(discord.ui.Modal):
    """The input one action needs: audio (prompt, negative), modify (prompt, strength), reframe (aspect ratio),
    bridge (the other clip's job number, prompt)."""

    def __init__(self, action: str, job: Job, client: discord.Client) -> None:
        super().__init__(title=f"{NEEDS_INPUT[action].rstrip('…')} · job #{job.id}"[:TITLE_MAX], timeout=15 * 60,
                         custom_id=f"reel:clipmodal:{action}:{job.id}:{boot_id(client)}:{secrets.token_hex(4)}")  # fmt: skip
        self.action, self.job = action, job
        self.texts: dict[str, discord.ui.TextInput[ActionModal]] = {}
        self.selects: dict[str, discord.ui.Select[ActionModal]] = {}
        if action == "bridge":
            self._text("to", "Job number of the clip to lead into", required=True, max_length=16)
        if action in ("audio", "modify", "bridge"):
            default = None if action == "audio" else job.request.prompt[:PART_MAX]
            self._text("prompt", "Prompt", default=default, required=action != "bridge", paragraph=True)
        if action == "audio":
            self._text("negative", "Leave out (optional)", required=False, max_length=NEGATIVE_MAX)
        if action == "modify":
            self._choice("strength", "Strength: adhere = close, reimagine = loose", MODIFY_STRENGTHS, "flex_1")
        if action == "reframe":
            runner = client.runner  # type: ignore[attr-defined]
            ratios = _clip.source_provider(runner, job, action).capabilities.aspect_ratios
            self._choice("aspect_ratio", "New aspect ratio", ratios, "9:16" if "9:16" in ratios else ratios[0])

    def _text(self, name: str, label: str, *, required: bool, default: str | None = None, paragraph: bool = False,
              max_length: int = PART_MAX) -> None:  # fmt: skip
        box: discord.ui.TextInput[ActionModal] = discord.ui.TextInput(
            label=label[:45], custom_id=name, required=required, default=default, max_length=max_length,
            style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
        )  # fmt: skip
        self.texts[name] = box
        self.add_item(box)

    def _choice(self, name: str, label: str, values: tuple[str, ...], default: str) -> None:
        select = _select(name, values, default)
        self.selects[name] = select
        self.add_item(discord.ui.Label(text=label[:45], component=select))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        values = {n: box.value for n, box in self.texts.items()}
        values |= {n: (s.values or [""])[0] for n, s in self.selects.items()}
        await submit_action(interaction, self.action, self.job.id, values)


async def submit_action(interaction: discord.Interaction, action: str, job_id: int, values: dict[str, str]) -> None:
    """Start `action` on job `job_id` with a submitted form's values (custom id → value)."""
    from cogs.video import check_prompt  # cogs.video imports the views this module sits beside

    values = {name: value.strip() for name, value in values.items()}
    try:
        job = await _clip.find_job(interaction, job_id, action)
        prompt = check_prompt(values["prompt"]) if values.get("prompt") else None
        if action == "bridge":
            to = values.get("to", "")
            if not to.isdigit() or not 1 <= int(to) <= _clip.JOB_MAX:
                raise _clip.refuse("The other clip must be given by its job number. Nothing was charged.")
            other = await _clip.find_job(interaction, int(to), "bridge")
            if other.id == job.id:
                raise _clip.refuse("A bridge needs two different clips. Nothing was charged.")
            await _clip.start_clip_action(interaction, "bridge", job, to=other, prompt=prompt)
        elif action == "audio":
            await _clip.start_clip_action(interaction, "audio", job, prompt=prompt, negative=values.get("negative") or None)
        elif action == "modify":
            await _clip.start_clip_action(interaction, "modify", job, prompt=prompt, strength=values.get("strength"))
        else:
            await _clip.start_clip_action(interaction, "reframe", job, aspect_ratio=values.get("aspect_ratio"))
    except Exception as error:  # refusals (quota, policy, the provider can't) are answered, not raised
        await report(interaction, error, f"{action} of job {job_id}")


async def on_stale_clip_modal(interaction: discord.Interaction) -> None:
    """Listener: a clip action form shown by an earlier run of the bot (discord.py no longer knows it) is
    submitted from its custom id and values; the user was allowed when they chose, and is checked again."""
    if interaction.type is not discord.InteractionType.modal_submit or not interaction.data:
        return
    match = MODAL_ID.fullmatch(str(interaction.data.get("custom_id", "")))
    if match is None or match["boot"] == boot_id(interaction.client) or match["choice"] not in NEEDS_INPUT:
        return
    components = interaction.data.get("components", [])
    values = text_values(components) | select_values(components)  # type: ignore[arg-type]
    await submit_action(interaction, match["choice"], int(match["job_id"]), values)


def select_values(components: list[Any]) -> dict[str, str]:
    """custom_id → first chosen value of the string selects (inside labels) of a modal submission."""
    out: dict[str, str] = {}
    for component in components:
        child = component.get("component") or {}
        if child.get("type") == discord.ComponentType.select.value and child.get("values"):
            out[child["custom_id"]] = str(child["values"][0])
    return out
