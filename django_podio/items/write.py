"""The item cache follows the site's own writes (write-through), through the one upsert service.

A site that creates an item and then shows a cached list should show the item at once, not
after a sync or the webhook. The client from :func:`django_podio.get_client` tells
:class:`CacheFollower` of each write Podio accepted:

* a create or an update of an app the cache holds (it has rows of it, a sync checkpoint or a
  hook) is written through: from the whole item when the write already had it (a create
  found by its external id), else from one ``GET /item/{id}``. The row then holds the
  item's current revision, so the webhook that follows finds it up to date and needs no
  second refetch (:mod:`django_podio.hooks.process`);
* a delete removes the row;
* an update that changed nothing, or a row that already holds the revision (the webhook got
  there first), costs nothing.

No database write happens inside a network call: inside the caller's transaction (say,
``ATOMIC_REQUESTS``) the row is written when it commits, and not at all if it rolls back
(the webhook or the next sync brings the item then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..models import PodioHook, PodioItem, PodioItemSync
from .cache import delete_item, item_app_id, upsert_items

if TYPE_CHECKING:
    from ..api.client import PodioClient
    from ..api.items import Written


def after_commit(work: Callable[[], object]) -> None:
    """Now, or when the caller's transaction commits (never while it is open)."""
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(work, robust=True)
    else:
        work()


def app_is_cached(app_id: int) -> bool:
    """Whether the cache keeps this app: it holds rows of it, a sync of it ran, or a hook
    keeps it current."""
    return (
        PodioItem.objects.filter(app_id=app_id).exists()
        or PodioItemSync.objects.filter(app_id=app_id).exists()
        or PodioHook.objects.filter(app_id=app_id).exists()
    )


class CacheFollower:
    """The item cache as a :class:`~django_podio.api.items.WriteObserver`."""

    def app_of(self, item_id: int) -> int | None:
        return PodioItem.objects.filter(item_id=item_id).values_list("app_id", flat=True).first()

    def written(self, client: PodioClient, write: Written) -> None:
        if write.kind == "delete":
            after_commit(lambda: delete_item(write.item_id))
            return
        if not write.changed:
            return
        stored = (
            PodioItem.objects.filter(item_id=write.item_id)
            .values_list("revision", flat=True)
            .first()
        )
        if stored is None and (write.app_id is None or not app_is_cached(write.app_id)):
            return
        if stored is not None and write.revision is not None and stored >= write.revision:
            return  # the webhook's refetch (or a sync) already brought this revision
        fetched_at = timezone.now()
        item = write.item if write.item is not None else client.get_item(write.item_id)
        app_id = item_app_id(item) or write.app_id
        if app_id is None:
            return
        after_commit(lambda: upsert_items(app_id, [item], now=fetched_at, lock=True))
