"""Embeds: what a link field's value refers to (``POST /embed/`` with a URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .shape import ClientShape
else:
    ClientShape = object


class EmbedsAPI(ClientShape):
    def create_embed(self, url: str) -> dict[str, Any]:
        """Podio's embed for ``url`` (``embed_id``, ``title`` …).

        Retried like a read: an embed nothing refers to is harmless, so a second one after a
        lost answer costs nothing.
        """
        return self.write("POST", "/embed/", json={"url": str(url)}, safe=True)


__all__ = ["EmbedsAPI"]
