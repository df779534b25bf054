"""Text from Discord made safe to store and send on, applied where it enters (commands, modals, admin input).

Discord passes through what a client sends, and JSON can carry a NUL (`\\u0000`) or a lone UTF-16 surrogate
(`\\ud800`). PostgreSQL refuses both (`jsonb` and `text` reject NUL; a surrogate can't be encoded as UTF-8),
SQLite stores them but the next hop (a provider's JSON, a log shipper) may not. So every free-text input is:

- stripped of NUL characters;
- given U+FFFD (the replacement character) for each lone surrogate (a valid pair becomes the one character
  it encodes);
- NFC-normalised, so the same text typed on different keyboards is stored and matched the same way.
"""

from __future__ import annotations

import unicodedata


def clean_text(text: str) -> str:
    """`text` without NULs, lone surrogates replaced by U+FFFD, in Unicode NFC."""
    text = text.replace("\x00", "")
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return unicodedata.normalize("NFC", text)
