"""The item cache follows the site's own writes (write-through), through the one upsert service.

A site that creates an item and then shows a cached list should show the item at once, not
after a sync or the webhook. The client from :func:`django_podio.get_client` tells
:class:`CacheFollower` of each write Podio accepted:

* a create or an update of an app the cache holds (it has rows of it, a sync checkpoint or a
  hook) is written through: from the whole item when the write already had it (a create
  found by its external id), else from one ``GET /item/{id}``. The row then holds the
  item's current revision, so the webhook that follows finds it up to date and needs no
  second refetch (``django_podio.hooks.process``). A webhook processed while that GET is
  still in flight refetches too (one GET more); whichever stores first sends the signal;
* a delete removes the row;
* an update that changed nothing, or a row that already holds the revision (the webhook got
  there first), costs nothing.

When the row changes, ``item_changed`` (or ``item_deleted``) is sent with ``sender=PodioItem``
after the commit, as webhook processing sends it for changes made elsewhere: the webhook that
follows finds the row current and stays silent, so a receiver hears of each change once (a
delete's webhook still reports it again: it cannot tell our delete from another one).

No database write happens inside a network call: inside the caller's transaction (say,
``ATOMIC_REQUESTS``) the row is written when it commits, and not at all if it rolls back
(the webhook or the next sync brings the item then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ..models import PodioHook, PodioItem, PodioItemSync
from ..signals import item_changed, item_deleted
from .cache import delete_item, item_app_id, upsert_items

if TYPE_CHECKING:
    from ..api.client import PodioClient
    from ..api.items import Written

log = logging.getLogger("django_podio.items")


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
            app_of_row = write.app_id or self.app_of(write.item_id)
            after_commit(lambda: _delete(write.item_id, app_of_row))
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
        event = "item.create" if write.kind == "create" else "item.update"
        after_commit(lambda: _store(app_id, item, fetched_at, event))


def _store(app_id: int, item: Mapping[str, Any], fetched_at: Any, event: str) -> None:
    result = upsert_items(app_id, [item], now=fetched_at, lock=True)
    if result.created or result.updated:
        _send(item_changed, app_id=app_id, item_id=int(item["item_id"]), event=event, item=item)


def _delete(item_id: int, app_id: int | None) -> None:
    if delete_item(item_id) and app_id is not None:
        _send(item_deleted, app_id=app_id, item_id=item_id)


def _send(signal: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=PodioItem, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "A receiver of a django_podio item signal failed",
                exc_info=(type(result), result, result.__traceback__),
                extra={"receiver": getattr(receiver, "__qualname__", repr(receiver))},
            )


__all__ = ["CacheFollower"]
