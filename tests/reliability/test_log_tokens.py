"""Interaction tokens never reach the log, at DEBUG either: the real bot under simcord with the log handler
at DEBUG, and discord.py's own DEBUG lines for the requests it made (its HTTP client's and webhook
adapter's URL lines, the gateway's INTERACTION_CREATE payload), carry no interaction token.

simcord answers discord.py's HTTP and gateway calls below the layer that writes those DEBUG lines, so the
test replays them through discord.py's own loggers with discord.py's own format strings (discord/http.py,
discord/webhook/async_.py, discord/gateway.py in 2.7.1) and the tokens simcord really issued."""

from __future__ import annotations

import io
import logging
import re

import pytest

from bot.log import setup_logging
from tests.e2e.helpers import advance_until, results

pytestmark = pytest.mark.simcord(settle_timeout=1)

API = "https://discord.com/api/v10"
TOKEN_IN_PATH = re.compile(r"/(?:webhooks/\d+|interactions/\d+)/([^/]+)")


def replay_discord_debug_lines(requests) -> None:
    """discord.py's DEBUG lines for these requests, word for word (format strings from discord.py 2.7.1)."""
    for request in requests:
        url = API + request.path
        logging.getLogger("discord.http").debug("%s %s with %s has returned %s", request.method, url, None, 200)
        logging.getLogger("discord.http").debug("%s %s has received %s", request.method, url, {"id": "1"})
        match = TOKEN_IN_PATH.search(request.path)
        if match and request.path.startswith("/webhooks/"):
            webhook_id = request.path.split("/")[2]
            logging.getLogger("discord.webhook.async_").debug(
                "Webhook ID %s with %s %s has returned status code %s", webhook_id, request.method, url, 200
            )
        if match and request.path.startswith("/interactions/"):
            data = {"id": request.path.split("/")[2], "type": 2, "token": match.group(1), "version": 1}
            payload = {"t": "INTERACTION_CREATE", "s": 5, "op": 0, "d": data}
            logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", None, payload)
            logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", None,
                                                       str(payload).replace("'", '"'))  # fmt: skip


async def test_no_interaction_token_in_the_debug_log(simcord_env, simcord_bot, world):
    """A /video delivered through interaction callbacks and webhook follow-ups, logged at DEBUG, leaves no
    interaction token in any line (the ids before them stay)."""
    stream = io.StringIO()
    handler = setup_logging("DEBUG", "text", ["unused-offline"], stream=stream)
    try:
        _, channel, alice, _ = world
        await alice.slash(channel, "video", prompt="a lighthouse in a storm at night")
        await advance_until(simcord_env, lambda: results(channel), step=5)
        requests = list(simcord_env.http_requests)
        replay_discord_debug_lines(requests)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    tokens = {m.group(1) for r in requests if (m := TOKEN_IN_PATH.search(r.path))}
    assert tokens, "the bot answered through interaction callbacks / webhooks"
    text = stream.getvalue()
    assert "/interactions/" in text and "INTERACTION_CREATE" in text
    leaked = sorted(token for token in tokens if token in text)
    assert not leaked, f"interaction tokens in the log: {leaked}"
    assert "/***/callback" in text and "'token': '***'" in text and '"token": "***"' in text
