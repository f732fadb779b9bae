"""Text from Podio made storable in every database we support.

PostgreSQL refuses the NUL character (``\\x00``) in ``text`` columns and in ``jsonb`` strings,
where SQLite and MariaDB/MySQL keep it. Podio's answers can hold one (a token answer's
``scope``, an item's title or field values), and a refused write must never cost what came
with it (a rotated token pair, an item), so NUL is dropped from everything we store.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def storable_text(value: str) -> str:
    """``value`` without NUL characters."""
    return value.replace(NUL, "") if NUL in value else value


def storable_json(value: Any) -> Any:
    """``value`` (parsed JSON) with NUL dropped from every string, keys included."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value
