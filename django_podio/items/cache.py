"""The ``PodioItem`` cache: the one upsert service (the sync and the webhooks both write here).

* **Upserts are idempotent.** A row is written only when its ``revision`` or
  ``last_event_on`` differs from Podio's, so writing the same item twice writes once.
* **Never backwards.** A row is not replaced by an older revision of its item: a slow
  refetch or a sync page read before an edit cannot undo a newer copy already stored.
* **Text is stored whatever it holds.** NUL characters, which PostgreSQL refuses, are dropped
  from the row's columns and its ``data`` (:mod:`django_podio.text`); the item is stored.
* **Deletes stay deleted.** An item Podio said is deleted leaves a tombstone
  (:class:`~django_podio.models.PodioItemTombstone`): data fetched before the delete was
  learnt (a sync page in flight, a late refetch) does not bring the row back; data fetched
  after it, or of a newer revision than the delete's, does (Podio had the item then).
* **Odd items are set aside.** An item whose columns cannot be read (no ``item_id``, a
  ``revision`` that is not a number, an unreadable ``last_event_on``) is reported, not stored,
  and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from django.core.paginator import Page, Paginator
from django.db import connections, router
from django.utils import timezone

from ..db import write_atomic
from ..models import PodioItem, PodioItemTombstone
from ..text import storable_text
from ..values import parse_podio_datetime
from .odd import OddItem, item_label

ROW_FIELDS = (
    "app_id",
    "app_item_id",
    "external_id",
    "title",
    "revision",
    "last_event_on",
    "data",
    "fetched_at",
)


@overload
def _int(item: Mapping[str, Any], key: str, *, default: int) -> int: ...
@overload
def _int(item: Mapping[str, Any], key: str, *, default: None) -> int | None: ...
def _int(item: Mapping[str, Any], key: str, *, default: int | None) -> int | None:
    value = item.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise OddItem(f"{item_label(item)}: {key} {value!r} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OddItem(f"{item_label(item)}: {key} {str(value)[:40]!r} is not a number") from None


def item_app_id(item: Mapping[str, Any]) -> int | None:
    """The app an item belongs to, from the item itself (``item["app"]["app_id"]``)."""
    app = item.get("app") if isinstance(item, Mapping) else None
    if isinstance(app, Mapping):
        try:
            return int(app["app_id"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def item_row(item: Any, app_id: int, now: datetime) -> PodioItem:
    """The cache row for one item as Podio returned it; :class:`OddItem` if it cannot be one."""
    if not isinstance(item, Mapping):
        raise OddItem(f"{item_label(item)}: not an object")
    item_id = _int(item, "item_id", default=None)
    if item_id is None:
        raise OddItem(f"{item_label(item)}: no item_id")
    event = item.get("last_event_on")
    try:
        last_event_on = parse_podio_datetime(event) if isinstance(event, str) or not event else None
    except ValueError:
        last_event_on = None
    if event and last_event_on is None:
        raise OddItem(f"{item_label(item)}: last_event_on {str(event)[:40]!r} is not a time")
    return PodioItem(
        item_id=item_id,
        app_id=app_id,
        app_item_id=_int(item, "app_item_id", default=None),
        external_id=storable_text(str(item.get("external_id") or "")),
        title=storable_text(str(item.get("title") or "")),
        revision=_int(item, "revision", default=0),
        last_event_on=last_event_on,
        data=dict(item),
        fetched_at=now,
    )


@dataclass
class Upserted:
    """What one upsert did. ``seen`` holds every readable item id, stored or not."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    seen: list[int] = field(default_factory=list)
    odd: list[tuple[int, str]] = field(default_factory=list)  # (position in the batch, why)
    rows: dict[int, PodioItem] = field(default_factory=dict)


def upsert_items(
    app_id: int, items: Iterable[Any], *, now: datetime | None = None, lock: bool = False
) -> Upserted:
    """Write items of one app into the cache, changed ones only, in one transaction.

    ``lock`` takes the existing rows' locks first (PostgreSQL), for callers that may race
    with each other on the same items (webhook processing).
    """
    now = now or timezone.now()
    result = Upserted()
    rows: list[PodioItem] = []
    for position, item in enumerate(items):
        try:
            row = item_row(item, app_id, now)
        except OddItem as odd:
            result.odd.append((position, str(odd)))
            with_id = _readable_id(item) if isinstance(item, Mapping) else None
            if with_id is not None:
                result.seen.append(with_id)
            continue
        rows.append(row)
        result.seen.append(row.item_id)
    if not rows:
        return result
    latest: dict[int, PodioItem] = {}
    for row in rows:  # a batch may hold an item twice (paging overlap): keep the newest
        kept = latest.get(row.item_id)
        if kept is None or row.revision >= kept.revision:
            latest[row.item_id] = row
    with write_atomic():
        existing_rows = PodioItem.objects.filter(item_id__in=list(latest))
        if lock:
            existing_rows = existing_rows.select_for_update()
        existing = {
            item_id: (revision, event)
            for item_id, revision, event in existing_rows.values_list(
                "item_id", "revision", "last_event_on"
            )
        }
        buried = _buried(latest, now)
        changed = []
        for row in latest.values():
            if row.item_id in buried:
                result.unchanged += 1
                continue
            stored = existing.get(row.item_id)
            if stored is not None and (
                stored == (row.revision, row.last_event_on) or stored[0] > row.revision
            ):
                result.unchanged += 1
                continue
            if stored is None:
                result.created += 1
            else:
                result.updated += 1
            changed.append(row)
            result.rows[row.item_id] = row
        if changed:
            PodioItemTombstone.objects.filter(item_id__in=[r.item_id for r in changed]).delete()
            PodioItem.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=_conflict_target(),
                update_fields=list(ROW_FIELDS),
            )
    return result


def _revision_id(row: PodioItem) -> int | None:
    current = row.data.get("current_revision") if isinstance(row.data, dict) else None
    try:
        return int(current["item_revision_id"]) if isinstance(current, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def _buried(rows: Mapping[int, PodioItem], fetched_at: datetime) -> set[int]:
    """Items of ``rows`` deleted in Podio after this data was fetched: not to be stored.

    A tombstone yields to data fetched after it was laid, or to a revision newer than the one
    the delete named: in both cases Podio had the item after the delete we heard of.
    """
    buried = set()
    for item_id, deleted_at, revision in PodioItemTombstone.objects.filter(
        item_id__in=list(rows)
    ).values_list("item_id", "deleted_at", "revision"):
        newer = _revision_id(rows[item_id])
        if revision is not None and newer is not None and newer > revision:
            continue
        if deleted_at >= fetched_at:
            buried.add(item_id)
    return buried


def _conflict_target() -> list[str] | None:
    """The columns whose conflict turns an insert into an update: ``item_id``.

    MariaDB/MySQL's ``ON DUPLICATE KEY UPDATE`` names no columns (Django refuses
    ``unique_fields`` there): it fires on any unique key, and ``item_id`` is the only one an
    insert of ours can break (the primary key is never given).
    """
    if connections[router.db_for_write(PodioItem)].features.supports_update_conflicts_with_target:
        return ["item_id"]
    return None


def _readable_id(item: Mapping[str, Any]) -> int | None:
    try:
        return _int(item, "item_id", default=None)
    except OddItem:
        return None


def store_item(item: Mapping[str, Any], *, app_id: int | None = None) -> str:
    """Upsert one item (as ``GET /item/{id}`` returned it): ``created``, ``updated`` or
    ``unchanged``. Raises :class:`OddItem` when the item cannot be cached."""
    app = app_id if app_id is not None else item_app_id(item)
    if app is None:
        raise OddItem(f"{item_label(item)}: no app_id")
    result = upsert_items(app, [item], lock=True)
    if result.odd:
        raise OddItem(result.odd[0][1])
    if result.created:
        return "created"
    return "updated" if result.updated else "unchanged"


def delete_item(item_id: int, *, app_id: int | None = None, revision: int | None = None) -> bool:
    """Remove one item from the cache, remembering it deleted (a tombstone with the time and
    ``revision``, Podio's ``item_revision_id`` of the delete when known); False when it was
    not cached. Without ``app_id`` (and no cached row to take it from) no tombstone is laid.
    """
    now = timezone.now()
    with write_atomic():
        rows = PodioItem.objects.filter(item_id=int(item_id))
        app = app_id if app_id is not None else rows.values_list("app_id", flat=True).first()
        removed = rows.delete()[0] > 0
        if app is not None:
            laid = PodioItemTombstone.objects.filter(item_id=int(item_id)).update(
                deleted_at=now, revision=revision, app_id=app
            )
            if not laid:
                PodioItemTombstone.objects.bulk_create(
                    [
                        PodioItemTombstone(
                            item_id=item_id, app_id=app, deleted_at=now, revision=revision
                        )
                    ],
                    ignore_conflicts=True,
                )
    return removed


def tombstone_of(item_id: int) -> tuple[datetime, int | None] | None:
    """``(deleted_at, revision)`` when the item is remembered deleted, else None."""
    found = (
        PodioItemTombstone.objects.filter(item_id=int(item_id))
        .values_list("deleted_at", "revision")
        .first()
    )
    return (found[0], found[1]) if found else None


def delete_rows(rows: Any) -> int:
    """Delete ``rows`` if there are any: a run that changes nothing issues no write at all."""
    gone = list(rows.values_list("pk", flat=True)[:10_000])
    deleted = 0
    while gone:
        deleted += PodioItem.objects.filter(pk__in=gone).delete()[0]
        gone = list(rows.values_list("pk", flat=True)[:10_000])
    return deleted


def cached_count(app_id: int) -> int:
    return PodioItem.objects.filter(app_id=app_id).count()


def page_of_items(app_id: int, page: int | str = 1, per_page: int = 25) -> Page:
    """One page of an app's cached items, newest first, for views (e.g. the demo page).

    An out-of-range or malformed page number gives the nearest valid page, as views want.
    """
    items = PodioItem.objects.filter(app_id=app_id).order_by("-item_id")
    return Paginator(items, per_page).get_page(page)


def has_cached_items(app_id: int) -> bool:
    return PodioItem.objects.filter(app_id=app_id).exists()
