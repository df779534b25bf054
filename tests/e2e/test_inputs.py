"""/video inputs end to end: image keyframes (accepted and refused), loop with an end image, camera
autocomplete from Luma's concept list (and without it), camera as free text, enhance."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import advance_until, reply_of, results

pytestmark = pytest.mark.simcord(settle_timeout=1)

PROMPT = "a hummingbird hovering over a red flower"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64
CONCEPTS = "/generations/concepts/list"


async def sent_to_luma(env, fake_luma) -> dict:
    await advance_until(env, lambda: fake_luma.requests_to("POST", "/generations"), step=1)
    return fake_luma.requests_to("POST", "/generations")[-1].json


async def assert_refused(user, channel, fake_luma, says: str, **options) -> None:
    result = await user.slash(channel, "video", prompt=PROMPT, **options)
    assert reply_of(result).ephemeral
    assert says in reply_of(result).content
    assert "Nothing was charged" in reply_of(result).content
    assert fake_luma.requests_to("POST", "/generations") == []
    quota = await user.slash(channel, "quota")
    assert "0 of 5 videos used" in reply_of(quota).embeds[0].description


# --- images ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "data"), [("start.png", PNG), ("start.jpg", JPEG), ("start.webp", WEBP)])
async def test_png_jpeg_and_webp_start_images_are_passed_to_luma_at_once(simcord_env, world, fake_luma, filename, data):
    """A PNG, JPEG or WebP start image reaches Luma as an image keyframe with the attachment's URL."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT, start_image=(filename, data))
    assert not reply_of(started).ephemeral
    body = await sent_to_luma(simcord_env, fake_luma)
    frame0 = body["keyframes"]["frame0"]
    assert frame0["type"] == "image" and frame0["url"].startswith("https://") and filename in frame0["url"]
    assert "frame1" not in body["keyframes"]


async def test_end_image_alone_becomes_frame1(simcord_env, world, fake_luma):
    """An end image without a start image is sent as keyframes.frame1 only."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, end_image=("end.webp", WEBP))
    body = await sent_to_luma(simcord_env, fake_luma)
    assert list(body["keyframes"]) == ["frame1"] and "end.webp" in body["keyframes"]["frame1"]["url"]


@pytest.mark.parametrize(
    ("option", "filename", "data", "says"),
    [
        ("start_image", "anim.gif", b"GIF89a" + b"\x00" * 32, "must be a PNG, JPEG or WebP image (got image/gif)"),
        ("end_image", "clip.mp4", b"\x00\x00\x00\x18ftypmp42", "end image must be a PNG, JPEG or WebP image"),
        ("start_image", "huge.png", PNG + b"\x00" * (10 * 1024 * 1024), "the limit is 10 MB"),
    ],
)
async def test_wrong_type_or_oversized_images_are_refused(simcord_env, world, fake_luma, option, filename, data, says):
    """A non-image, a GIF or an image over 10 MB is refused ephemerally before anything is charged."""
    _, channel, alice, _ = world
    await assert_refused(alice, channel, fake_luma, says, **{option: (filename, data)})


async def test_loop_with_an_end_image_is_refused(simcord_env, world, fake_luma):
    """loop + end image is refused up front, as Luma refuses it ('Loop is not supported for end frame')."""
    _, channel, alice, _ = world
    await assert_refused(alice, channel, fake_luma, "loop cannot be combined with an end image",
                         loop=True, start_image=("start.png", PNG), end_image=("end.png", PNG))  # fmt: skip


async def test_loop_with_only_a_start_image_is_accepted(simcord_env, world, fake_luma):
    """loop with a start image alone is a mode Luma accepts, so it goes through."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, loop=True, start_image=("start.png", PNG))
    body = await sent_to_luma(simcord_env, fake_luma)
    assert body["loop"] is True and body["keyframes"]["frame0"]["type"] == "image"
    await advance_until(simcord_env, lambda: results(channel))


# --- camera ----------------------------------------------------------------------------------------


async def test_camera_autocomplete_comes_from_lumas_concept_list_and_is_cached(simcord_env, world, fake_luma):
    """Typing 'orb' offers Luma's live concepts (including ones only the live list has); the list is fetched once."""
    fake_luma.concepts = ["orbit_left", "orbit_right", "orbit_upside_down", "static"]
    _, channel, alice, _ = world
    choices = await alice.autocomplete(channel, "video", "camera", "orb")
    assert [c["value"] for c in choices] == ["orbit_left", "orbit_right", "orbit_upside_down"]
    again = await alice.autocomplete(channel, "video", "camera", "sta")
    assert [c["value"] for c in again] == ["static"]
    assert len(fake_luma.requests_to("GET", CONCEPTS)) == 1


async def test_camera_autocomplete_falls_back_to_the_built_in_list(simcord_env, world, fake_luma):
    """Without the concept endpoint (404) autocomplete still offers the built-in camera moves."""
    fake_luma.concepts = ["orbit_upside_down"]
    fake_luma.fail_next("GET", CONCEPTS, 404, {"detail": "Not Found"})
    _, channel, alice, _ = world
    choices = await alice.autocomplete(channel, "video", "camera", "orb")
    assert {c["value"] for c in choices} == {"orbit_left", "orbit_right"}
    assert len(await alice.autocomplete(channel, "video", "camera", "")) == 25, "at most 25 choices"
    assert len(fake_luma.requests_to("GET", CONCEPTS)) == 1, "the failure is remembered for a while"


async def test_known_camera_becomes_a_luma_concept_and_free_text_goes_into_the_prompt(simcord_env, world, fake_luma):
    """A concept key is sent as concepts=[{key}]; words Luma has no concept for become a camera instruction."""
    _, channel, alice, _ = world
    await alice.slash(channel, "video", prompt=PROMPT, camera="Orbit left")
    first = await sent_to_luma(simcord_env, fake_luma)
    assert first["concepts"] == [{"key": "orbit_left"}] and first["prompt"] == PROMPT
    await advance_until(simcord_env, lambda: results(channel))
    await alice.slash(channel, "video", prompt=PROMPT, camera="slow spiral upward")
    await advance_until(simcord_env, lambda: len(fake_luma.requests_to("POST", "/generations")) == 2, step=1)
    second = fake_luma.requests_to("POST", "/generations")[-1].json
    assert "concepts" not in second
    assert second["prompt"] == f"{PROMPT}, camera: slow spiral upward"


async def test_enhance_is_not_sent_to_luma_which_has_no_such_field(simcord_env, world, fake_luma):
    """enhance on Luma (which has no prompt expansion) is accepted and sends no unknown field."""
    _, channel, alice, _ = world
    started = await alice.slash(channel, "video", prompt=PROMPT, enhance=True)
    assert not reply_of(started).ephemeral
    body = await sent_to_luma(simcord_env, fake_luma)
    assert not {"expand_prompt", "enhance"} & set(body)


class TestUmami:
    """Inputs on a bot whose only provider is UmamiAI (Luma v1 legacy)."""

    @pytest.fixture
    def bot_env(self, umami_bot_env):
        return umami_bot_env

    async def test_enhance_is_sent_as_expand_prompt(self, simcord_env, world, fake_umami):
        """enhance:true reaches UmamiAI as expand_prompt: true (false when not asked)."""
        _, channel, alice, _ = world
        await alice.slash(channel, "video", prompt=PROMPT)
        await advance_until(simcord_env, lambda: results(channel))
        await alice.slash(channel, "video", prompt=PROMPT, enhance=True)
        await advance_until(simcord_env, lambda: len(results(channel)) == 2)
        assert [r.json["expand_prompt"] for r in fake_umami.log_for("create")] == [False, True]

    async def test_camera_goes_into_the_prompt(self, simcord_env, world, fake_umami):
        """UmamiAI has no concepts: the camera move is appended to the prompt as an instruction."""
        _, channel, alice, _ = world
        await alice.slash(channel, "video", prompt=PROMPT, camera="orbit_left")
        await advance_until(simcord_env, lambda: fake_umami.log_for("create"), step=1)
        [create] = fake_umami.log_for("create")
        assert create.json["user_prompt"] == f"{PROMPT}, camera orbit left"

    async def test_camera_autocomplete_uses_the_built_in_list(self, simcord_env, world, fake_umami):
        """Without a concept endpoint at the provider, autocomplete offers the built-in camera moves."""
        _, channel, alice, _ = world
        choices = await alice.autocomplete(channel, "video", "camera", "push")
        assert [c["value"] for c in choices] == ["push_in"]

    async def test_images_are_passed_as_image_url_and_image_end_url(self, simcord_env, world, fake_umami):
        """Start and end images go to UmamiAI as image_url / image_end_url."""
        _, channel, alice, _ = world
        await alice.slash(channel, "video", prompt=PROMPT, start_image=("a.png", PNG), end_image=("b.jpg", JPEG))
        await advance_until(simcord_env, lambda: fake_umami.log_for("create"), step=1)
        [create] = fake_umami.log_for("create")
        assert "a.png" in create.json["image_url"] and "b.jpg" in create.json["image_end_url"]
