"""Text from Podio made storable in every database we support.

PostgreSQL refuses the NUL character (``\\x00``) in ``text`` columns and in ``jsonb`` strings,
where SQLite and MariaDB/MySQL keep it. Podio's answers can hold one (a token answer's
``scope``, an item's title or field values, an error description, a webhook form), and a
refused write must never cost what came with it (a rotated token pair, an item, a delivery),
so NUL is dropped from everything we store. Dropping it is the one change made: the rest of
the text is kept as it came, and the same data is stored on every database.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The character PostgreSQL refuses in text and jsonb.
NUL = "\x00"
# NUL as json.dumps writes it, unless its backslash is itself escaped ("\\\\u0000" is the
# text backslash-u-0-0-0-0): an escape starts a run of backslashes, and pairs are literal.
_ESCAPED_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def storable_text(value: str) -> str:
    """``value`` without NUL characters."""
    return value.replace(NUL, "") if NUL in value else value


def storable_json(value: Any) -> Any:
    """``value`` (parsed JSON) with NUL dropped from every string, keys included.

    Two keys that differ only by NUL become one; the later one wins, as in a JSON object
    that repeats a key.
    """
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value


class NulFreeJSONEncoder(json.JSONEncoder):
    """A ``JSONField`` encoder that stores :func:`storable_json` of the value.

    For the large JSON of the item cache: it drops NUL from the encoded text (one scan of a
    string, in C) instead of copying the value, so an item without NUL costs nothing more.
    """

    def encode(self, o: Any) -> str:
        text = super().encode(o)
        if "\\u0000" not in text:
            return text
        return _ESCAPED_NUL.sub(r"\1", text)
