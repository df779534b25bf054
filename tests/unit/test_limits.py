"""Unit: fitting embeds and message text to Discord's limits, and the caps on free text (cogs/_limits.py);
and the simulator extension that refuses what Discord refuses (tests/simcord_limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot.domain import VideoRequest
from bot.errors import InvalidRequestError
from cogs._limits import (
    BLANK,
    CONTENT,
    ELLIPSIS,
    check_request_text,
    cut,
    fit_content,
    fit_embed,
    share_cap,
)
from tests.simcord_limits import message_problems

WIDE = "🦊"


def within_limits(embed: discord.Embed) -> bool:
    return message_problems({"embeds": [embed.to_dict()]}) == []


def huge_embed(n_fields: int = 30) -> discord.Embed:
    embed = discord.Embed(title=WIDE * 300, description=WIDE * 5000, colour=discord.Colour.red(),
                          timestamp=datetime(2026, 1, 1, tzinfo=UTC), url="https://example.com/x")  # fmt: skip
    for n in range(n_fields):
        embed.add_field(name=f"{n}" + "n" * 300, value=WIDE * 2000, inline=n % 2 == 0)
    embed.set_footer(text="job #7 · Luma" + "f" * 3000)
    embed.set_author(name="a" * 300)
    return embed


def test_cut_keeps_short_text_and_ends_long_text_with_an_ellipsis():
    """Text within the limit is unchanged; longer text is exactly `limit` characters, ending in …."""
    assert cut("abc", 3) == "abc"
    assert cut(WIDE * 10, 4) == WIDE * 3 + ELLIPSIS


def test_fit_content_cuts_message_text_to_2000_characters():
    """Message content is at most 2000 characters; None stays None."""
    assert len(fit_content("x" * 5000)) == CONTENT and fit_content(None) is None


def test_fit_embed_brings_every_part_and_the_total_within_the_limits():
    """An embed over every limit (title, description, 30 fields, names, values, footer, author) comes back
    within all of them and the 6000 total, keeping its colour, link, timestamp and inline flags."""
    embed = huge_embed()
    assert not within_limits(embed)
    fitted = fit_embed(embed)
    assert within_limits(fitted) and len(fitted) <= 6000 and len(fitted.fields) == 25
    assert fitted.colour == embed.colour and fitted.url == embed.url and fitted.timestamp == embed.timestamp
    assert [f.inline for f in fitted.fields] == [f.inline for f in embed.fields[:25]]
    assert fitted.footer.text.startswith("job #7 · Luma"), "the job marker at the footer's start survives"
    assert len(embed.fields) == 30 and len(embed.description) == 5000, "the original is left as it was"


def test_fit_embed_leaves_an_embed_within_the_limits_unchanged():
    """An embed that already fits is returned with the same content."""
    embed = discord.Embed(title="t", description="d").add_field(name="n", value="v").set_footer(text="f")
    assert fit_embed(embed).to_dict() == embed.to_dict()


def test_fit_embed_shortens_the_longest_texts_first():
    """Over the total, short fields stay whole and the long ones share what is left."""
    embed = discord.Embed(description="d" * 4000)
    embed.add_field(name="Model", value="ray-2").add_field(name="Prompt", value="p" * 1000)
    for n in range(3):
        embed.add_field(name=f"Long {n}", value="v" * 1000)
    fitted = fit_embed(embed)
    assert len(fitted) == 6000 and fitted.fields[0].value == "ray-2"
    assert [f.value for f in fitted.fields[1:]] == [f.value for f in embed.fields[1:]], "1000s fit under the cap"
    assert fitted.description.endswith(ELLIPSIS) and len(fitted.description) == 6000 - (len(embed) - 4000)


def test_fit_embed_fills_an_empty_field_instead_of_sending_one_discord_refuses():
    """An empty field name or value (Discord: 400) becomes a zero-width space."""
    fitted = fit_embed(discord.Embed().add_field(name="", value=""))
    assert fitted.fields[0].name == BLANK and fitted.fields[0].value == BLANK and within_limits(fitted)


@pytest.mark.parametrize(("lengths", "total", "cap"), [([10, 20, 5000], 1000, 970), ([5, 5], 100, 5),
                                                        ([100, 100, 100], 150, 50), ([], 10, 0)])  # fmt: skip
def test_share_cap_is_the_largest_cap_that_fits(lengths, total, cap):
    """share_cap is the largest c with sum(min(length, c)) <= total."""
    assert share_cap(lengths, total) == cap
    assert sum(min(n, cap) for n in lengths) <= total


OVER_CAP = [("prompt", "p" * 5001, 5000), ("camera", "c" * 101, 100), ("model", "m" * 101, 100),
            ("aspect_ratio", "9" * 101, 100)]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "cap"), OVER_CAP)
def test_check_request_text_names_the_cap_of_the_field_too_long(field, value, cap):
    """A request with one free-text field over its cap is refused with a message naming the field and cap."""
    request = VideoRequest(**{"prompt": "a red fox", field: value})
    with pytest.raises(InvalidRequestError) as refused:
        check_request_text(request)
    assert f"at most {cap} characters" in refused.value.public_message
    assert field.replace("_", " ") in refused.value.public_message


def test_check_request_text_accepts_text_at_the_caps():
    """Exactly at every cap is allowed."""
    check_request_text(VideoRequest(prompt=WIDE * 5000, camera=WIDE * 100, model="m" * 100))


def test_simulator_refuses_what_discord_refuses():
    """The simcord extension names content over 2000, a field value over 1024, 26 fields and a 6000+ total."""
    assert message_problems({"content": "x" * 2000, "embeds": [{"title": "t"}]}) == []
    assert message_problems({"content": "x" * 2001}) == ["content: 2001 > 2000"]
    over = {"embeds": [{"description": "d" * 4096, "fields": [{"name": "n", "value": "v" * 1025}] * 26}]}
    problems = message_problems(over)
    assert "embeds[0].fields: 26 > 25" in problems and "embeds[0].fields[0].value: 1025 > 1024" in problems
    assert any("in all > 6000" in p for p in problems)
