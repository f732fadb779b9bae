"""Items in shapes Podio does not send: set aside with a message, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A run keeps this many messages about odd items (it counts them all).
MAX_ODD_MESSAGES = 20


class OddItem(ValueError):
    """One item cannot be exported or cached as it is; the message says which and why."""


def item_label(item: Any) -> str:
    if isinstance(item, Mapping) and item.get("item_id") is not None:
        return f"item {str(item.get('item_id'))[:40]!s}"
    return "an item without an item_id"
