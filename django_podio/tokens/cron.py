"""Cron: refresh every connection that is due, from one host or several at once."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import DatabaseError, close_old_connections, router
from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from .. import conf, db
from ..api.transport import Transport
from ..exceptions import DecryptionError
from ..models import PodioConnection
from ..redaction import get_logger, redact
from .refresh import (
    Answer,
    Outcome,
    RefreshResult,
    ask_claimed,
    lease_seconds,
    refresh_connection,
    settle_claimed,
)

logger = get_logger("django_podio.tokens")

PAGE = 500


def due_connections(within: float | None = None) -> Any:
    """Active connections expiring within ``within`` seconds (or with no known expiry)."""
    within = conf.get("REFRESH_MARGIN") if within is None else within
    deadline = timezone.now() + timedelta(seconds=within)
    return PodioConnection.objects.filter(
        Q(expires_at__lte=deadline) | Q(expires_at__isnull=True),
        status=PodioConnection.Status.ACTIVE,
    ).order_by("expires_at", "pk")


@dataclass
class RefreshReport:
    refreshed: int = 0
    skipped: int = 0  # locked by another host, or already refreshed by someone else
    failed: int = 0
    reauth_required: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    concurrency: int = 1

    @property
    def total(self) -> int:
        return self.refreshed + self.skipped + self.failed + self.reauth_required

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.reauth_required == 0 and not self.interrupted

    def add(self, pk: int, result: RefreshResult) -> None:
        if result.outcome is Outcome.REFRESHED:
            self.refreshed += 1
        elif result.outcome in (Outcome.SKIPPED, Outcome.ALREADY_FRESH):
            self.skipped += 1
        else:
            if result.outcome is Outcome.REAUTH_REQUIRED:
                self.reauth_required += 1
            else:
                self.failed += 1
            self.failures.append(
                {"connection": pk, "outcome": result.outcome.value, "error": result.error}
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "refreshed": self.refreshed,
            "skipped": self.skipped,
            "failed": self.failed,
            "reauth_required": self.reauth_required,
            "interrupted": self.interrupted,
            "failures": self.failures,
        }


def _iter_due(within: float, size: int) -> Iterator[list[PodioConnection] | list[int]]:
    """Due rows in batches of ``size``, most urgent first, read a page at a time by keyset.

    Each page is read in full and its cursor closed before any of its rows is refreshed: an
    open read cursor across the refreshes would, on SQLite, hold a read lock that every
    refresh's commit waits for. Keyset paging (not OFFSET) keeps each page cheap and skips
    nothing while refreshed rows leave the window; memory stays one page. Whole rows, so no
    refresh needs a read of its own; a page holding a secret that cannot be decrypted is
    handed out as primary keys instead, so that row fails alone, in its worker.
    """
    started = timezone.now()
    base = due_connections(within).filter(  # the window is fixed when the run starts, and a
        Q(last_refreshed_at__isnull=True) | Q(last_refreshed_at__lt=started)  # row refreshed
    )  # since (by us or another host) is never visited twice, however long the window
    after: tuple[Any, int] | None = None
    null_phase = False
    while True:
        rows = base
        if null_phase:
            rows = rows.filter(expires_at__isnull=True)
            if after is not None:
                rows = rows.filter(pk__gt=after[1])
        else:
            rows = rows.filter(expires_at__isnull=False)
            if after is not None:
                rows = rows.filter(
                    Q(expires_at__gt=after[0]) | Q(expires_at=after[0], pk__gt=after[1])
                )
        try:
            whole = list(rows[:PAGE])
        except DecryptionError:
            keys = list(rows.values_list("expires_at", "pk")[:PAGE])
            pks = [pk for _, pk in keys]
            for start in range(0, len(pks), size):
                yield pks[start : start + size]
        else:
            keys = [(row.expires_at, row.pk) for row in whole]
            for start in range(0, len(whole), size):
                yield whole[start : start + size]
        if len(keys) == PAGE:
            after = keys[-1]
        elif not null_phase:
            null_phase, after = True, None
        else:
            return


#: Rows claimed by one statement: a batch is claimed just before its rows are handed out.
CLAIM_BATCH = 8
#: Seconds a claimed row's lease allows for its wait in the queue, beyond the refresh itself.
QUEUE_ALLOWANCE = 30


def _claim(
    rows: list[PodioConnection], seconds: float, owner: str
) -> tuple[db.Lease | None, set[int]]:
    """Lease a batch of due rows with one committed ``UPDATE``, each fenced on the version read.

    A row whose pair changed since it was read (another host refreshed it, a login), or that
    another worker holds, stays unclaimed. Returns the lease and the claimed primary keys.
    """
    using = router.db_for_write(PodioConnection)
    lease = db.claim_rows(
        PodioConnection,
        [{"pk": row.pk, "token_version": row.token_version} for row in rows],
        seconds,
        where={"status": PodioConnection.Status.ACTIVE},
        using=using,
        owner=owner,
    )
    if not lease:
        return None, set()
    if lease.count == len(rows):
        return lease, {row.pk for row in rows}
    claimed = (
        PodioConnection.objects.using(using)
        .filter(pk__in=[row.pk for row in rows], lease_owner=lease.owner)
        .values_list("pk", flat=True)
    )
    return lease, set(claimed)


def _failed(pk: int, error: Exception) -> RefreshResult:
    logger.error("Refresh of connection %s failed: %s", pk, type(error).__name__)
    return RefreshResult(Outcome.FAILED, None, redact(str(error)), error)


def _release(held: dict[int, db.Lease], claiming: str | None) -> None:
    """Give back leases claimed but never worked on (an interrupted run), rather than let
    them run out: ``held`` rows, and every row of a batch claim (``claiming``, its owner)
    interrupted before its rows were recorded: none of those was handed to a worker."""
    for owner in {lease.owner for lease in held.values()}:
        pks = [pk for pk, lease in held.items() if lease.owner == owner]
        with contextlib.suppress(DatabaseError):
            db.release(PodioConnection.objects.filter(pk__in=pks), owner)
    if claiming:
        with contextlib.suppress(DatabaseError):
            db.release(PodioConnection.objects.filter(lease_owner=claiming), claiming)


def refresh_due(
    *,
    within: float | None = None,
    concurrency: int | None = None,
    on_result: Callable[[int, RefreshResult], None] | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> RefreshReport:
    """Refresh every due connection with ``concurrency`` threads; safe on many hosts at once.

    Due rows are read a page at a time and claimed a batch at a time (a lease per row, one
    short committed ``UPDATE`` per batch, fenced on the version read), so each refresh costs
    one statement of its own: the store. A row another host holds or has just refreshed is
    not claimed; it goes the way of :func:`refresh_connection`, which reads it again and
    skips it. No transaction is open while Podio answers, so the threads run side by side on
    every database, SQLite included. Ctrl-C lets the refreshes in flight store their new
    pairs, gives back the leases not yet worked on, then re-raises ``KeyboardInterrupt``.
    """
    within = conf.get("REFRESH_MARGIN") if within is None else within
    concurrency = max(1, int(concurrency or conf.get("REFRESH_CONCURRENCY")))
    credentials = conf.get_app_credentials()  # once per run, not one query per refresh
    report = RefreshReport(concurrency=concurrency)
    lock = threading.Lock()
    work: queue.Queue[tuple[PodioConnection, db.Lease] | int | None] = queue.Queue(
        maxsize=concurrency * 2
    )
    answers: queue.Queue[tuple[PodioConnection, db.Lease, Answer] | None] = queue.Queue(
        maxsize=concurrency
    )
    stop = threading.Event()
    #: Claimed rows not yet taken by a worker (given back if the run is interrupted).
    held: dict[int, db.Lease] = {}
    #: The owner of a batch claim between its ``UPDATE`` and ``held`` knowing its rows.
    claiming: str | None = None
    # A claimed row waits in the queue behind at most two refreshes per worker; a worker
    # renews a lease with less time left than its own token requests may take (slow Podio).
    seconds = lease_seconds() + QUEUE_ALLOWANCE

    def record(pk: int, result: RefreshResult) -> None:
        with lock:
            report.add(pk, result)
        if on_result:
            try:
                on_result(pk, result)
            except Exception:  # a progress callback never stops the stores after it
                logger.exception("on_result failed for connection %s", pk)

    def worker() -> None:
        """Asks Podio: at most ``concurrency`` token requests in flight, never more."""
        transport = transport_factory() if transport_factory else Transport()
        try:
            while True:
                due = work.get()
                if due is None or stop.is_set():
                    return
                pk = due if isinstance(due, int) else due[0].pk
                with lock:
                    held.pop(pk, None)
                try:
                    if isinstance(due, int):
                        record(pk, _refresh_one(pk, transport))
                        continue
                    row, lease = due
                    answer = ask_claimed(row, lease, transport=transport, credentials=credentials)
                except Exception as error:  # one bad row (e.g. DecryptionError) stops no other
                    record(pk, _failed(pk, error))
                    continue
                if isinstance(answer, RefreshResult):
                    record(pk, answer)
                else:  # stored by a storer while this worker asks for the next row
                    answers.put((row, lease, answer))
        finally:
            transport.close()
            db_connection.close()

    def storer() -> None:
        """Stores Podio's answers as they come: never stopped before the queue is empty."""
        try:
            while True:
                item = answers.get()
                if item is None:
                    return
                row, lease, answer = item
                try:
                    result = settle_claimed(row, lease, answer)
                except Exception as error:
                    result = _failed(row.pk, error)
                record(row.pk, result)
        finally:
            db_connection.close()

    def _refresh_one(pk: int, transport: Transport) -> RefreshResult:
        return refresh_connection(
            pk, margin=within, skip_locked=True, transport=transport, credentials=credentials
        )

    threads = [
        threading.Thread(target=worker, name=f"podio-refresh-{i}", daemon=True)
        for i in range(concurrency)
    ]
    storers = [
        threading.Thread(target=storer, name=f"podio-refresh-store-{i}", daemon=True)
        for i in range(1 + concurrency // 8)
    ]
    for thread in threads + storers:
        thread.start()
    try:
        for batch in _iter_due(within, CLAIM_BATCH):
            if isinstance(batch[0], int):
                for pk in batch:
                    work.put(pk)
                continue
            rows: list[PodioConnection] = batch
            claiming = db.new_owner()
            lease, claimed = db.run_outside_callers_transaction(
                partial(_claim, rows, seconds, claiming)
            )
            if lease:
                with lock:
                    held.update((pk, lease) for pk in claimed)
            claiming = None
            for row in rows:
                if lease and row.pk in claimed:
                    work.put((row, db.Lease(lease.owner, lease.expires_at)))
                else:
                    work.put(row.pk)
    except KeyboardInterrupt:
        stop.set()
        report.interrupted = True
        raise
    finally:
        if stop.is_set():  # drop what was queued so the sentinels below always fit
            while not work.empty():
                work.get_nowait()
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        for _ in storers:  # after every worker: each answer a worker queued gets stored
            answers.put(None)
        for thread in storers:
            thread.join()
        if held or claiming:
            db.run_outside_callers_transaction(partial(_release, held, claiming))
        close_old_connections()
    return report
