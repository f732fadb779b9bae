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
* **One sync per app**, whoever runs it (a command, a task, several hosts): the run holds a
  lease on the app's :class:`PodioItemSync` row (``django_podio.db``), renewed with every
  batch it commits, and each batch is committed only while the lease is still its own. No
  database lock is held while Podio is asked, so this works on every database, behind
  transaction poolers and on every OS. A run whose worker died leaves a lease that expires
  after ``PODIO["SYNC_LEASE"]`` seconds; the next run then resumes from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import conf, db
from ..db import write_atomic
from ..exceptions import SyncAlreadyRunning
from ..models import PodioItem, PodioItemSync
from .cache import delete_rows, upsert_items
from .times import SINCE_MARGIN


def sync_lease() -> float:
    """Seconds a sync's lease holds without a committed batch (``PODIO["SYNC_LEASE"]``).

    Longer than a page can take (its timeouts, retries and rate-limit waits); renewed with
    every batch.
    """
    return float(conf.get("SYNC_LEASE"))


class LeaseLost(SyncAlreadyRunning):
    """Our lease ran out and another run took the app over: stop without writing."""


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
        for _ in range(3):  # a claim lost to a run that finished meanwhile: read again
            state = _sync_row(app_id)
            resumable = bool(
                resume
                and state.in_progress
                and state.run_since == since
                and state.cursor_item_id is not None
            )
            start: dict[str, Any] = {}
            if not resumable:
                start = {
                    "run_started_at": self.now,
                    "run_since": since,
                    "cursor_item_id": None,
                    "cursor_count": 0,
                }
            rows = PodioItemSync.objects.filter(pk=state.pk)
            if resumable:  # only the checkpoint we read: a run in between would have moved it
                rows = rows.filter(cursor_item_id=state.cursor_item_id)
            lease = db.claim(rows, sync_lease(), now=self.now, **start)
            if lease is not None:
                break
            state.refresh_from_db()
            if state.lease_owner and (
                state.lease_expires_at is None or state.lease_expires_at >= timezone.now()
            ):
                raise SyncAlreadyRunning(app_id, state.lease_expires_at)
        else:
            raise SyncAlreadyRunning(app_id)
        self.lease: db.Lease | None = lease
        for name, value in start.items():
            setattr(state, name, value)
        self.state = state
        self.resumed_after = state.cursor_item_id if resumable else None
        self.cursor = state.cursor_item_id
        self.count = state.cursor_count

    def _fenced(self) -> Any:
        """This app's sync row, only while our lease holds it (else :class:`LeaseLost`)."""
        if self.lease is None:
            raise LeaseLost(self.app_id)
        return PodioItemSync.objects.filter(pk=self.state.pk, **{db.OWNER_FIELD: self.lease.owner})

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
            cursor = max(self.cursor or 0, max(ids)) if ids else self.cursor
            moved = self._fenced().update(
                cursor_item_id=cursor,
                cursor_count=self.count + len(batch),
                lease_expires_at=timezone.now() + timedelta(seconds=sync_lease()),
            )
            if not moved:  # another run took over: roll this batch back with the transaction
                self.lease = None
                raise LeaseLost(self.app_id)
            self.cursor = cursor
            self.count += len(batch)

    def finish(self, report: Counts) -> None:
        now = timezone.now()
        with write_atomic():
            rows = self._fenced()
            state = rows.select_for_update().first()
            if state is None:
                self.lease = None
                raise LeaseLost(self.app_id)
            if self.full:
                tail = PodioItem.objects.filter(app_id=self.app_id)
                if self.cursor is not None:
                    tail = tail.filter(item_id__gt=self.cursor)
                report.deleted += delete_rows(tail)
            done = {
                "last_run_started_at": state.run_started_at or self.now,
                "last_run_finished_at": now,
                "run_started_at": None,
                "run_since": None,
                "cursor_item_id": None,
                "cursor_count": 0,
                db.OWNER_FIELD: "",
                db.EXPIRES_FIELD: None,
            }
            if self.full:
                done["last_full_run_finished_at"] = now
            rows.update(**done)
        self.lease = None

    def close(self) -> None:
        """Give the app back (the checkpoint stays, for the next run to resume from)."""
        if self.lease is not None:
            lease, self.lease = self.lease, None
            db.release(PodioItemSync.objects.filter(pk=self.state.pk), lease)


def _sync_row(app_id: int) -> PodioItemSync:
    """The app's sync row, created on first use (two first runs may race to create it)."""
    state = PodioItemSync.objects.filter(app_id=app_id).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return PodioItemSync.objects.create(app_id=app_id)
    except IntegrityError:
        return PodioItemSync.objects.get(app_id=app_id)


def defer(app_id: int, until: datetime) -> None:
    """Record that this app's sync waits for Podio's rate limit until ``until`` (a task for
    then is enqueued): see :func:`deferred_until`."""
    _sync_row(app_id)
    PodioItemSync.objects.filter(app_id=app_id).update(deferred_until=until)


def deferred_until(app_id: int, now: datetime | None = None) -> datetime | None:
    """When the sync deferred by a 420 runs again, if that is still to come.

    A sync task enqueued meanwhile (cron's, every few minutes) would only meet Podio's 420
    again and spend a call of the budget being waited out; it returns at once instead.
    """
    until = (
        PodioItemSync.objects.filter(app_id=app_id).values_list("deferred_until", flat=True).first()
    )
    if until is None or until <= (now or timezone.now()):
        return None
    return until


def last_since(app_id: int) -> datetime | None:
    """``since`` for "everything edited since the last completed sync" (None: never synced)."""
    state = PodioItemSync.objects.filter(app_id=app_id).first()
    if state is None or state.last_run_started_at is None:
        return None
    return state.last_run_started_at - SINCE_MARGIN
