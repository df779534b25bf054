"""The conformance checker itself: real discord.py payloads pass, and each rule catches its violation."""

from __future__ import annotations

import copy
import io

import discord
import pytest
from discord.http import handle_message_parameters
from discord.webhook.async_ import handle_message_parameters as webhook_message_parameters
from discord.webhook.async_ import interaction_message_response_params

from bot.discord_spec import find_operation, schema_violations, schema_violations_cached
from tests.discord_conformance import recorder, rules
from tests.discord_conformance.plugin import Conformance, ConformanceError

ORIGINAL = "/webhooks/111111111111111111/tok/messages/@original"
CALLBACK = "/interactions/222222222222222222/tok/callback"
CHANNEL = "/channels/333333333333333333/messages"


def view(*custom_ids: str) -> discord.ui.View:
    v = discord.ui.View(timeout=None)
    for custom_id in custom_ids:
        v.add_item(discord.ui.Button(label=custom_id, custom_id=custom_id))
    return v


def embed() -> discord.Embed:
    e = discord.Embed(title="Your video", description="a paper lantern", colour=discord.Colour.blurple())
    e.add_field(name="Model", value="ray-2").set_footer(text="job #1").set_author(name="alice")
    return e


def request_of(method: str, path: str, params) -> recorder.Request:
    if params.multipart:
        return recorder.from_form(method, path, None, params.multipart)
    return recorder.from_json(method, path, None, params.payload)


def test_real_discord_py_payloads_pass():
    """What discord.py itself builds — a callback, an @original edit with a file, a channel message — passes."""
    clip = discord.File(io.BytesIO(b"\0" * 2048), filename="clip.mp4")
    built = [
        ("POST", CALLBACK, interaction_message_response_params(type=4, content="hi", embed=embed(), view=view("a", "b"),
                                                               flags=discord.MessageFlags(ephemeral=True))),
        ("POST", CALLBACK, interaction_message_response_params(type=5, flags=discord.MessageFlags(ephemeral=True))),
        ("PATCH", ORIGINAL, webhook_message_parameters(embed=embed(), attachments=[clip],
                                                       view=view("reel:reroll:1", "reel:delete:1"))),
        ("POST", CHANNEL, handle_message_parameters(content="<@1> done", embed=embed(), file=discord.File(
            io.BytesIO(b"\0" * 10), filename="clip.mp4"), allowed_mentions=discord.AllowedMentions(users=True))),
    ]  # fmt: skip
    for method, path, params in built:
        request = request_of(method, path, params)
        assert request.body is not None
        assert rules.violations(request) == [], request


def message_request(message: dict, *, method="PATCH", path=ORIGINAL, files=()) -> recorder.Request:
    request = recorder.from_json(method, path, None, message)
    request.files = [recorder.UploadedFile(f"files[{i}]", name, size) for i, (name, size) in enumerate(files)]
    request.size += sum(size for _, size in files)
    return request


def row(*custom_ids: str) -> dict:
    return {"type": 1, "components": [{"type": 2, "style": 1, "label": c, "custom_id": c} for c in custom_ids]}


def big_embed(**fields) -> dict:
    return {"title": "t", "description": "d", **fields}


BAD = {
    "schema: wrong type": ({"content": 5}, "content: 5 is not of type"),
    "schema: embed title over 256": ({"embeds": [{"title": "x" * 257}]}, "embeds[0].title"),
    "content over 2000": ({"content": "x" * 2001}, "[limit: content]"),
    "11 embeds": ({"embeds": [big_embed()] * 11}, "[limit: embeds]"),
    "embed description over 4096": ({"embeds": [big_embed(description="x" * 4097)]}, "[limit: embed description]"),
    "26 fields": ({"embeds": [big_embed(fields=[{"name": "n", "value": "v"}] * 26)]}, "[limit: embed fields]"),
    "field name over 256": ({"embeds": [big_embed(fields=[{"name": "n" * 257, "value": "v"}])]}, "[limit: field name]"),
    "field value over 1024": ({"embeds": [big_embed(fields=[{"name": "n", "value": "v" * 1025}])]}, "[limit: field value]"),
    "footer over 2048": ({"embeds": [big_embed(footer={"text": "f" * 2049})]}, "[limit: embed footer text]"),
    "author over 256": ({"embeds": [big_embed(author={"name": "a" * 257})]}, "[limit: embed author name]"),
    "embed total over 6000": ({"embeds": [big_embed(description="x" * 4000),
                                          big_embed(description="y" * 2001)]}, "[limit: embed total]"),
    "6 action rows": ({"components": [row(f"r{i}") for i in range(6)]}, "[limit: action rows]"),
    "6 buttons in a row": ({"components": [row(*"abcdef")]}, "[limit: row width]"),
    "select beside a button": ({"components": [{"type": 1, "components": [
        {"type": 3, "custom_id": "s", "options": [{"label": "l", "value": "v"}]},
        {"type": 2, "style": 1, "label": "b", "custom_id": "b"}]}]}, "[limit: row width]"),
    "41 components with Components V2": ({"flags": 1 << 15, "components": [
        {"type": 10, "content": f"t{i}"} for i in range(41)]}, "[limit: components]"),
    "duplicate custom_id": ({"components": [row("a", "b"), row("a")]}, "[limit: unique custom_id]"),
    "custom_id over 100": ({"components": [row("c" * 101)]}, "custom_id"),
    "button style 9": ({"components": [{"type": 1, "components": [
        {"type": 2, "style": 9, "label": "b", "custom_id": "b"}]}]}, "components[0].components[0].style"),
    "attachment naming no file": ({"attachments": [{"id": 1, "filename": "clip.mp4"}]}, "[limit: files ↔ attachments]"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD, ids=str)
def test_each_rule_catches_its_violation(case):
    """A deliberately invalid message is caught, naming the field and the rule."""
    message, expected = BAD[case]
    found = rules.violations(message_request(copy.deepcopy(message)))
    assert any(expected in v for v in found), found


def test_components_v2_allows_more_than_five_top_level_components():
    """With the IS_COMPONENTS_V2 flag the 5-row rule gives way to the 40-component one."""
    message = {"flags": 1 << 15, "components": [{"type": 10, "content": f"t{i}"} for i in range(8)]}
    assert rules.violations(message_request(message)) == []


def test_files_and_attachments_must_match():
    """An upload missing from an edit's attachments, or under another filename, is caught."""
    missing = message_request({"attachments": []}, files=[("clip.mp4", 10)])
    assert any("files[0]: 'clip.mp4' has no attachments entry" in v for v in rules.violations(missing))
    renamed = message_request({"attachments": [{"id": 0, "filename": "other.mp4"}]}, files=[("clip.mp4", 10)])
    assert any("attachments[0].filename" in v for v in rules.violations(renamed))
    kept = message_request({"attachments": [{"id": 1456074443980800014}, {"id": 0}]}, files=[("clip.mp4", 10)])
    assert rules.violations(kept) == []


def test_a_request_over_25_mib_is_caught():
    """A body plus files over 25 MiB is refused by Discord, whatever the per-file limit."""
    big = message_request({"attachments": [{"id": 0}]}, method="POST", path=CHANNEL, files=[("clip.mp4", 25 * 2**20)])
    assert any("[limit: request size]" in v for v in rules.violations(big))


def test_unknown_routes_and_query_parameters_are_caught():
    """A path the spec does not have, or a query parameter its operation does not take, is a violation."""
    assert "no operation" in rules.violations(recorder.from_json("POST", "/channels/1/nonsense", None, {}))[0]
    query = recorder.from_json("PATCH", ORIGINAL, {"wat": "1"}, {"content": "x"})
    assert any("(query) wat" in v for v in rules.violations(query))


def test_a_modal_with_duplicate_custom_ids_is_caught():
    """A modal callback (type 9) whose inputs share a custom_id is a violation."""
    text = {"type": 4, "custom_id": "same", "style": 1, "label": "Prompt"}
    body = {"type": 9, "data": {"custom_id": "m", "title": "Edit", "components": [
        {"type": 1, "components": [text]}, {"type": 1, "components": [dict(text)]}]}}  # fmt: skip
    assert any("[limit: unique custom_id]" in v for v in rules.violations(recorder.from_json("POST", CALLBACK, None, body)))


def test_tolerated_artefacts_are_narrow():
    """Snowflakes as integers and channel type 16 pass; a negative id or an unknown channel type still fail."""
    mentions = find_operation("PATCH", ORIGINAL).body_pointer()
    assert schema_violations(mentions, {"allowed_mentions": {"users": [1456074443980800014]}}) == []
    assert schema_violations(mentions, {"allowed_mentions": {"users": [-1]}})
    command = {"type": 1, "name": "c", "description": "d", "options": [
        {"type": 7, "name": "ch", "description": "d", "channel_types": [0, 16]}]}  # fmt: skip
    pointer = find_operation("PUT", "/applications/1/commands").body_pointer()
    assert schema_violations(pointer, [command]) == []
    command["options"][0]["channel_types"] = [17]
    assert schema_violations(pointer, [command])


def test_a_violation_fails_the_test_naming_the_request_field_and_rule():
    """The plugin turns a recorded bad request into a ConformanceError at the end of the test phase."""
    checker = Conformance()
    checker.observe(message_request({"content": "x" * 2001}))
    with pytest.raises(ConformanceError, match=r"PATCH /webhooks/.*/@original: content: .*\[limit: content\]"):
        checker.raise_pending("the test")
    assert checker.validated == 1
    checker.raise_pending("the test")  # reported once


@pytest.mark.parametrize("case", BAD, ids=str)
def test_split_cached_validation_equals_whole_schema_validation(case):
    """Validating part by part (the suite's fast path) gives the whole-body verdict and every violation it
    names (inside a union it may name more: each failing field rather than the one best match)."""
    message, _ = BAD[case]
    pointer = find_operation("PATCH", ORIGINAL).body_pointer()
    whole = set(map(str, schema_violations(pointer, message)))
    split = set(map(str, schema_violations_cached(pointer, message)))
    assert bool(split) == bool(whole) and whole <= split, (whole, split)
