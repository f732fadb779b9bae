"""Keeping an app's whole cache exact over runs: deletions, checkpoints and resume.

* **Deletions.** A full run pages in ``item_id`` order, so each batch covers a contiguous id
  range; cached rows in that range that Podio no longer returned are deleted with the batch.
  A ``--since`` run cannot see deletions, so the runner compares Podio's ``total`` with the
  cached row count afterwards and, when the cache holds more, runs a full pass to find them.
* **Resume.** Each batch commits together with a checkpoint (:class:`PodioItemSync`): the
  highest item id done and how many items had passed. A ``--store`` run that writes no file
  and finds an unfinished run of the same kind continues after that id instead of starting
  over (a file must hold every item, so an export always starts from the beginning).
* **Edits while paging** are picked up by the next ``--since`` run, provided its ``since``
  is before the earlier run started; ``since="last"`` does that with a safety margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from ..db import write_atomic
from ..models import PodioItem, PodioItemSync
from .cache import delete_rows, upsert_items
from .times import SINCE_MARGIN


class Counts(Protocol):
    created: int
    updated: int
    unchanged: int
    deleted: int

    def add_odd(self, message: str) -> None: ...


class CacheSync:
    """Writes batches into the cache and moves the checkpoint in the same transaction."""

    def __init__(self, app_id: int, since: datetime | None, *, resume: bool) -> None:
        self.app_id = app_id
        self.full = since is None
        self.now = timezone.now()
        with write_atomic():
            state, _ = PodioItemSync.objects.select_for_update().get_or_create(app_id=app_id)
            resumable = (
                resume
                and state.in_progress
                and state.run_since == since
                and state.cursor_item_id is not None
            )
            if not resumable:
                state.run_started_at = self.now
                state.run_since = since
                state.cursor_item_id = None
                state.cursor_count = 0
                state.save()
        self.state = state
        self.resumed_after = state.cursor_item_id if resumable else None
        self.cursor = state.cursor_item_id
        self.count = state.cursor_count

    def store(
        self, batch: Sequence[Any], report: Counts, *, counted_odd: frozenset[int] = frozenset()
    ) -> None:
        """``counted_odd``: ``id()`` of items the report already counted as odd (export)."""
        if not batch:
            return
        with write_atomic():
            done = upsert_items(self.app_id, batch, now=self.now)
            report.created += done.created
            report.updated += done.updated
            report.unchanged += done.unchanged
            for position, message in done.odd:
                if id(batch[position]) not in counted_odd:
                    report.add_odd(message)
            ids = done.seen
            if self.full and ids:
                # Paging is by ascending item_id and complete, so a cached row in the range
                # this batch covers that Podio did not return is gone from Podio.
                gone = PodioItem.objects.filter(app_id=self.app_id, item_id__lte=max(ids))
                if self.cursor is not None:
                    gone = gone.filter(item_id__gt=self.cursor)
                report.deleted += delete_rows(gone.exclude(item_id__in=ids))
            if ids:
                self.cursor = max(self.cursor or 0, max(ids))
            self.count += len(batch)
            PodioItemSync.objects.filter(pk=self.state.pk).update(
                cursor_item_id=self.cursor, cursor_count=self.count
            )

    def finish(self, report: Counts) -> None:
        now = timezone.now()
        with write_atomic():
            if self.full:
                tail = PodioItem.objects.filter(app_id=self.app_id)
                if self.cursor is not None:
                    tail = tail.filter(item_id__gt=self.cursor)
                report.deleted += delete_rows(tail)
            state = PodioItemSync.objects.select_for_update().get(pk=self.state.pk)
            state.last_run_started_at = state.run_started_at or self.now
            state.last_run_finished_at = now
            if self.full:
                state.last_full_run_finished_at = now
            state.run_started_at = None
            state.run_since = None
            state.cursor_item_id = None
            state.cursor_count = 0
            state.save()


def last_since(app_id: int) -> datetime | None:
    """``since`` for "everything edited since the last completed sync" (None: never synced)."""
    state = PodioItemSync.objects.filter(app_id=app_id).first()
    if state is None or state.last_run_started_at is None:
        return None
    return state.last_run_started_at - SINCE_MARGIN
