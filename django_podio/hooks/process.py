"""Processing stored deliveries: refetch, write the cache, send the signals; retry failures.

* ``hook.verify`` → ``POST /hook/{id}/verify/validate`` through the hook's connection.
* ``item.create``/``item.update``/``item.delete`` → all due events of that item are claimed
  together (coalesced) and answered with one ``GET /item/{id}`` (the payload is never
  trusted): the item is upserted into the cache through the sync's own service, or removed
  when Podio says it is gone. No request at all when the cached row was fetched after the
  newest of those events arrived: it already shows that change.
* ``app.update``/``app.delete`` → the app's cached field definitions are dropped (the next
  write reads them again).
* Failures (rate limit, 5xx, network, a revoked connection) leave the events ``failed`` with
  the error, an attempt count and a ``next_attempt_at`` (exponential backoff, or Podio's
  rate-limit wait); :func:`process_pending` takes them up again when due. Nothing is dropped.

Claims are a conditional ``UPDATE`` with a random token, so two processes never handle the
same event; a claim older than :data:`CLAIM_TIMEOUT` (a crashed worker) is taken over.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from .. import items
from ..api.apps import forget_app
from ..exceptions import (
    DecryptionError,
    DjangoPodioError,
    Gone,
    NotFound,
    PodioAPIError,
    RateLimited,
)
from ..hidden import frames_cut
from ..models import PodioHook, PodioHookEvent, PodioItem
from ..redaction import get_logger
from ..signals import hook_event, item_changed, item_deleted
from ..text import storable_text
from .receive import ITEM_EVENTS

#: Events that say an app's field definitions changed.
APP_EVENTS = frozenset({"app.update", "app.delete"})

log = get_logger("django_podio.hooks")

BACKOFF_BASE = 30  # seconds before the first retry; doubles per attempt
BACKOFF_MAX = 3600
CLAIM_TIMEOUT = timedelta(minutes=10)
Status = PodioHookEvent.Status


@dataclass
class ProcessReport:
    processed: int = 0
    done: int = 0
    failed: int = 0
    refetches: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: ProcessReport) -> None:
        self.processed += other.processed
        self.done += other.done
        self.failed += other.failed
        self.refetches += other.refetches
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backoff(attempts: int, error: Exception | None = None) -> timedelta:
    seconds = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    if isinstance(error, RateLimited) and error.wait_seconds:
        seconds = max(seconds, int(error.wait_seconds))
    return timedelta(seconds=seconds)


def _due(now: datetime) -> Q:
    return (
        Q(status=Status.PENDING)
        | Q(status=Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Status.PROCESSING, claimed_at__lt=now - CLAIM_TIMEOUT)
    )


def _claim(queryset: Any, now: datetime) -> list[PodioHookEvent]:
    token = secrets.token_hex(8)
    pks = list(queryset.filter(_due(now), duplicate_of__isnull=True).values_list("pk", flat=True))
    if not pks:
        return []
    PodioHookEvent.objects.filter(_due(now), pk__in=pks, duplicate_of__isnull=True).update(
        status=Status.PROCESSING, claimed_by=token, claimed_at=now
    )
    return list(
        PodioHookEvent.objects.select_related("hook", "hook__connection")
        .filter(claimed_by=token, status=Status.PROCESSING)
        .order_by("received_at", "pk")
    )


def _finish(events: Iterable[PodioHookEvent], now: datetime) -> None:
    PodioHookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        status=Status.DONE,
        processed_at=now,
        last_error="",
        next_attempt_at=None,
        claimed_by="",
        claimed_at=None,
    )
    for event in events:
        event.status, event.processed_at, event.last_error = Status.DONE, now, ""


def _fail(
    events: Iterable[PodioHookEvent], error: Exception, now: datetime, *, retry: bool = True
) -> str:
    message = storable_text(f"{type(error).__name__}: {error}")[:1000]
    for event in events:
        attempts = event.attempts + 1
        PodioHookEvent.objects.filter(pk=event.pk).update(
            status=Status.FAILED,
            attempts=attempts,
            last_error=message,
            next_attempt_at=now + backoff(attempts, error) if retry else None,
            claimed_by="",
            claimed_at=None,
        )
    return message


def _send(signal: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=PodioHookEvent, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "A receiver of a django_podio hook signal failed",
                exc_info=(type(result), result, result.__traceback__),
                extra={"receiver": getattr(receiver, "__qualname__", repr(receiver))},
            )


def _client_for(hook: PodioHook) -> Any:
    from ..tokens import get_client

    if hook.connection is None:
        raise DjangoPodioError(f"Podio hook {hook.hook_id} has no connection any more")
    return get_client(connection=hook.connection)


# Entry points -----------------------------------------------------------------------------


def process_event(pk: int, *, force: bool = False) -> ProcessReport:
    """Process one stored event (and, for an item event, every due event of its item)."""
    event = PodioHookEvent.objects.select_related("hook").filter(pk=pk).first()
    if event is None or event.duplicate_of_id is not None:
        return ProcessReport()
    if event.type in ITEM_EVENTS and event.item_id is not None:
        return process_item(event.hook.app_id, event.item_id, force=force)
    now = timezone.now()
    claimed = _claim(PodioHookEvent.objects.filter(pk=pk), now)
    if not claimed:
        return ProcessReport()
    if event.type == "hook.verify":
        return _verify(claimed[0], now)
    if event.type in APP_EVENTS:
        # Podio says the app changed: the next write reads its field definitions again.
        forget_app(event.hook.app_id)
    for claimed_event in claimed:
        _send(hook_event, event=claimed_event)
    _finish(claimed, now)
    return ProcessReport(processed=len(claimed), done=len(claimed))


def _already_cached(
    events: list[PodioHookEvent], fetched_at: datetime, cached_revision: Any, newest: datetime
) -> bool:
    """Whether the cache row already shows every one of these events, so no refetch is due.

    Either it was fetched after the newest of them arrived, or each of them names the very
    revision the row holds (``item_revision_id``): a delivery that arrives after its item's
    refetch began is often of the revision that refetch already got. Only equality counts:
    Podio does not document that revision ids grow.
    """
    if fetched_at > newest:
        return True
    try:
        cached = int(cached_revision)
    except (TypeError, ValueError):
        return False
    return all(event.revision == cached for event in events)


def process_item(app_id: int, item_id: int, *, force: bool = False) -> ProcessReport:
    """Bring one item's cache row up to date with every due event of it, in one refetch."""
    now = timezone.now()
    events = _claim(
        PodioHookEvent.objects.filter(
            hook__app_id=app_id, item_id=item_id, type__in=sorted(ITEM_EVENTS)
        ),
        now,
    )
    report = ProcessReport(processed=len(events))
    if not events:
        return report
    deleting = any(e.type == "item.delete" for e in events)
    newest = max(e.received_at for e in events)
    row = (
        PodioItem.objects.filter(item_id=item_id)
        .values_list("fetched_at", "data__current_revision__item_revision_id")
        .first()
    )
    if not force and not deleting and row is not None and _already_cached(events, *row, newest):
        for event in events:
            _send(hook_event, event=event)
        _finish(events, now)
        report.done = len(events)
        return report
    try:
        client = _client_for(next((e.hook for e in events if e.hook.connection), events[0].hook))
        fetch_started = timezone.now()
        report.refetches += 1
        try:
            item = client.get_item(item_id)
        except (NotFound, Gone):
            item = None
        finally:
            client.close()
        changed = None
        if item is None:
            removed = items.delete_item(item_id)
        else:
            changed = items.upsert_items(
                items.item_app_id(item) or app_id, [item], now=fetch_started, lock=True
            )
            if changed.odd:
                raise items.OddItem(changed.odd[0][1])
            removed = False
    except (DjangoPodioError, items.OddItem) as error:
        message = _fail(events, error, now, retry=not isinstance(error, DecryptionError))
        report.failed = len(events)
        report.errors.append(message)
        log.warning(
            "Processing Podio hook events failed",
            extra={"podio_item_id": item_id, "podio_events": len(events), "error": message},
        )
        return report
    # Signals go out before the events are marked done: a crash in between means the host
    # hears of a change twice (at least once), never not at all.
    if item is None:
        if removed or deleting:
            _send(item_deleted, app_id=app_id, item_id=item_id)
    elif changed is not None and (changed.created or changed.updated):
        latest = next((e.type for e in reversed(events) if e.type != "item.delete"), None)
        _send(
            item_changed,
            app_id=items.item_app_id(item) or app_id,
            item_id=item_id,
            event=latest or "item.update",
            item=item,
        )
    for event in events:
        _send(hook_event, event=event)
    _finish(events, timezone.now())
    report.done = len(events)
    return report


def _verify(event: PodioHookEvent, now: datetime) -> ProcessReport:
    hook = event.hook
    report = ProcessReport(processed=1)
    hook_id = int(event.payload.get("hook_id") or 0)
    try:
        client = _client_for(hook)
        try:
            # The code travels in plain JSON through the client's and requests' frames: a
            # bug in there is re-raised without them (the full traceback goes to the log).
            with frames_cut(log, "Validating a hook", expected=(DjangoPodioError,)):
                client.post(f"/hook/{hook_id}/verify/validate", json={"code": event.code or ""})
        finally:
            client.close()
    except DjangoPodioError as error:
        refused = isinstance(error, PodioAPIError) and 400 <= (error.status or 0) < 500
        refused = refused and not isinstance(error, RateLimited)
        message = _fail([event], error, now, retry=not refused)
        if refused:
            PodioHook.objects.filter(pk=hook.pk).update(
                status=PodioHook.Status.FAILED, last_error=message
            )
        else:
            PodioHook.objects.filter(pk=hook.pk).update(last_error=message)
        report.failed = 1
        report.errors.append(message)
        _send(hook_event, event=event)
        return report
    PodioHook.objects.filter(pk=hook.pk).update(
        status=PodioHook.Status.ACTIVE, verified_at=now, last_error=""
    )
    PodioHook.objects.filter(pk=hook.pk, hook_id__isnull=True).update(hook_id=hook_id)
    PodioHookEvent.objects.filter(pk=event.pk).update(code=None)
    _send(hook_event, event=event)
    _finish([event], timezone.now())
    report.done = 1
    return report


_draining = threading.Lock()


def has_due() -> bool:
    return PodioHookEvent.objects.filter(_due(timezone.now()), duplicate_of__isnull=True).exists()


def drain_in_process() -> ProcessReport:
    """Process what is due, one thread per process at a time (the receiving view's path).

    A thread that finds another one draining leaves its event to it: events that pile up
    meanwhile coalesce into one refetch per item. The check after releasing closes the gap
    where an event committed just before the drainer let go would wait for the next delivery.
    """
    report = ProcessReport()
    while True:
        if not _draining.acquire(blocking=False):
            return report
        try:
            while True:
                step = process_pending()
                report.add(step)
                if not step.processed:
                    break
        finally:
            _draining.release()
        if not has_due():
            return report


def process_pending(*, limit: int | None = None, force: bool = False) -> ProcessReport:
    """Process every due event (pending, failed and due for retry, or stale claims)."""
    report = ProcessReport()
    now = timezone.now()
    due = PodioHookEvent.objects.filter(_due(now), duplicate_of__isnull=True)
    seen_items: set[tuple[int, int]] = set()
    handled = 0
    for pk, kind, item_id, app_id in due.order_by("received_at", "pk").values_list(
        "pk", "type", "item_id", "hook__app_id"
    ):
        if limit is not None and handled >= limit:
            break
        if kind in ITEM_EVENTS and item_id is not None:
            if (app_id, item_id) in seen_items:
                continue
            seen_items.add((app_id, item_id))
            report.add(process_item(app_id, item_id, force=force))
        else:
            report.add(process_event(pk, force=force))
        handled += 1
    return report


def replay(*, failed_only: bool = False, since: datetime | None = None) -> ProcessReport:
    """Process stored events again: the failed ones, or every one received since ``since``.

    Replayed item events always refetch (the point of a replay is not to trust the cache).
    """
    events = (
        PodioHookEvent.objects.filter(duplicate_of__isnull=True)
        .exclude(status=Status.PROCESSING)
        # A used verification code is gone; Podio sends a new one on request (``verify``).
        .exclude(type="hook.verify", status=Status.DONE)
    )
    if failed_only:
        events = events.filter(status=Status.FAILED)
    if since is not None:
        events = events.filter(received_at__gte=since)
    events.update(status=Status.PENDING, next_attempt_at=None)
    return process_pending(force=True)
