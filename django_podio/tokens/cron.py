"""Cron: refresh every connection that is due, from one host or several at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import close_old_connections
from django.db import connection as db_connection
from django.db.models import Q
from django.utils import timezone

from .. import conf
from ..api.transport import Transport
from ..models import PodioConnection
from ..redaction import get_logger, redact
from .refresh import Outcome, RefreshResult, refresh_connection

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


def _iter_due_pks(within: float) -> Iterator[int]:
    """Due pks, most urgent first, a page at a time by keyset.

    Each page is read in full and its cursor closed before any of its rows is refreshed: an
    open read cursor across the refreshes would, on SQLite, hold a read lock that every
    refresh's commit waits for. Keyset paging (not OFFSET) keeps each page cheap and skips
    nothing while refreshed rows leave the window; memory stays one page.
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
        page = list(rows.values_list("expires_at", "pk")[:PAGE])
        yield from (pk for _, pk in page)
        if len(page) == PAGE:
            after = page[-1]
        elif not null_phase:
            null_phase, after = True, None
        else:
            return


def refresh_due(
    *,
    within: float | None = None,
    concurrency: int | None = None,
    on_result: Callable[[int, RefreshResult], None] | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> RefreshReport:
    """Refresh every due connection with ``concurrency`` threads; safe on many hosts at once.

    Each refresh claims its row with a lease and skips it when another host holds one; a row
    another host has just refreshed is no longer due when re-read. No transaction is open
    while Podio answers, so the threads run side by side on every database, SQLite included
    (each claim and store is one short write). Ctrl-C lets the refreshes in flight store
    their new pairs, then re-raises ``KeyboardInterrupt``.
    """
    within = conf.get("REFRESH_MARGIN") if within is None else within
    concurrency = max(1, int(concurrency or conf.get("REFRESH_CONCURRENCY")))
    credentials = conf.get_app_credentials()  # once per run, not one query per refresh
    report = RefreshReport(concurrency=concurrency)
    lock = threading.Lock()
    work: queue.Queue[int | None] = queue.Queue(maxsize=concurrency * 2)
    stop = threading.Event()

    def worker() -> None:
        transport = transport_factory() if transport_factory else Transport()
        try:
            while True:
                pk = work.get()
                if pk is None or stop.is_set():
                    return
                try:
                    result = refresh_connection(
                        pk,
                        margin=within,
                        skip_locked=True,
                        transport=transport,
                        credentials=credentials,
                    )
                except Exception as error:  # one bad row (e.g. DecryptionError) stops no other
                    logger.error("Refresh of connection %s failed: %s", pk, type(error).__name__)
                    result = RefreshResult(Outcome.FAILED, None, redact(str(error)), error)
                with lock:
                    report.add(pk, result)
                if on_result:
                    on_result(pk, result)
        finally:
            transport.close()
            db_connection.close()

    threads = [
        threading.Thread(target=worker, name=f"podio-refresh-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        for pk in _iter_due_pks(within):
            work.put(pk)
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
        close_old_connections()
    return report
