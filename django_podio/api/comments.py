"""Comments: the smallest endpoint family, and the pattern for the next one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .shape import ClientShape
else:
    ClientShape = object


class CommentsAPI(ClientShape):
    def add_comment(self, item_id: int, text: str) -> dict[str, Any]:
        """Comment on an item (Podio's answer: the comment, with ``comment_id``).

        Sent once: a comment has no external id to look it up by, so a failure after it may
        have reached Podio is raised, not retried (a retry could post it twice).
        """
        return self.write("POST", f"/comment/item/{int(item_id)}/", json={"value": str(text)})


__all__ = ["CommentsAPI"]
