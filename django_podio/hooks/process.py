"""Processing stored deliveries: refetch, write the cache, send the signals; retry failures.

* ``hook.verify`` → ``POST /hook/{id}/verify/validate`` through the hook's connection.
* ``item.create``/``item.update``/``item.delete`` → all due events of that item are claimed
  together (coalesced) and answered with one ``GET /item/{id}`` (the payload is never
  trusted): the item is upserted into the cache through the sync's own service, or removed
  when Podio says it is gone. No request at all when the cached row was fetched after the
  newest of those events arrived: it already shows that change.
* ``app.update``/``app.delete`` → the app's cached field definitions are dropped (the next
  write reads them again).
* Every event ends. Any failure (Podio's rate limit, a 5xx, the network, a revoked
  connection, a database error, a bug) leaves the events ``failed`` with the error, an attempt
  count and a ``next_attempt_at`` (exponential backoff, or Podio's rate-limit wait), and the
  pass goes on with the other events; :func:`process_pending` takes them up again when due.
  After ``PODIO["HOOK_MAX_ATTEMPTS"]`` attempts (or at once for a failure no retry can mend)
  an event is ``dead``: kept, shown, announced by ``hook_event_dead``, replayable.
* A hook whose connection is gone is served by another one (:mod:`.owner`); with none left,
  its events wait without counting attempts until the hook is re-homed.

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

from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.db.models import Q
from django.utils import timezone

from .. import conf, items
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
from ..signals import hook_event, hook_event_dead, item_changed, item_deleted
from ..text import storable_text
from .owner import Orphaned, adopt, with_app_client
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
    dead: int = 0
    refetches: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: ProcessReport) -> None:
        self.processed += other.processed
        self.done += other.done
        self.failed += other.failed
        self.dead += other.dead
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


def max_attempts() -> int:
    """``PODIO["HOOK_MAX_ATTEMPTS"]``: attempts before an event is ``dead``."""
    return max(1, int(conf.get("HOOK_MAX_ATTEMPTS")))


def _fail(
    events: Iterable[PodioHookEvent], error: BaseException, now: datetime, *, retry: bool = True
) -> tuple[str, int]:
    """Record a failed attempt on each event: ``failed`` with a backoff, or ``dead`` once the
    attempts are spent (or ``retry`` is off). Returns the stored message and how many died.

    Whatever went wrong, the record is made on a working database connection: a connection
    the error broke (a dropped server, a pooler restart) is replaced first.
    """
    message = storable_text(f"{type(error).__name__}: {error}")[:1000]
    if isinstance(error, (OperationalError, InterfaceError)):
        _reconnect()
    limit = max_attempts()
    died: list[PodioHookEvent] = []
    for event in events:
        attempts = event.attempts + 1
        dead = not retry or attempts >= limit
        PodioHookEvent.objects.filter(pk=event.pk).update(
            status=Status.DEAD if dead else Status.FAILED,
            attempts=attempts,
            last_error=message,
            next_attempt_at=None if dead else now + backoff(attempts, _exception(error)),
            claimed_by="",
            claimed_at=None,
        )
        event.attempts, event.last_error = attempts, message
        event.status = Status.DEAD if dead else Status.FAILED
        if dead:
            died.append(event)
    for event in died:
        log.warning(
            "A Podio hook event is dead after %s attempts",
            event.attempts,
            extra={"podio_hook_event": event.pk, "error": message},
        )
        _send(hook_event_dead, event=event)
    return message, len(died)


def _exception(error: BaseException) -> Exception | None:
    return error if isinstance(error, Exception) else None


def _wait(events: Iterable[PodioHookEvent], error: BaseException, now: datetime) -> str:
    """No connection can do the work: the events wait for one, counting no attempt."""
    message = storable_text(f"{type(error).__name__}: {error}")[:1000]
    PodioHookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        status=Status.FAILED,
        last_error=message,
        next_attempt_at=now + timedelta(seconds=BACKOFF_MAX),
        claimed_by="",
        claimed_at=None,
    )
    return message


def _reconnect() -> None:
    """Drop database connections an error left unusable; the next query opens a new one."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def _failed(
    report: ProcessReport,
    events: list[PodioHookEvent],
    error: BaseException,
    now: datetime,
    *,
    retry: bool = True,
) -> ProcessReport:
    """Record ``error`` on ``events`` (never raising: the pass goes on) and count it."""
    try:
        if isinstance(error, Orphaned):
            message, died = _wait(events, error, now), 0
        else:
            message, died = _fail(events, error, now, retry=retry)
    except DatabaseError as second:  # the database cannot take the record: the claim expires
        message, died = storable_text(f"{type(error).__name__}: {error}")[:1000], 0
        log.error(
            "Recording a failed Podio hook event failed",
            extra={"podio_hook_events": [e.pk for e in events], "error": str(second)},
        )
        _reconnect()
    report.failed += len(events)
    report.dead += died
    report.errors.append(message)
    log.warning(
        "Processing Podio hook events failed",
        extra={"podio_hook_events": [e.pk for e in events], "error": message},
        exc_info=not isinstance(error, DjangoPodioError),
    )
    return report


def _send(signal: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=PodioHookEvent, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "A receiver of a django_podio hook signal failed",
                exc_info=(type(result), result, result.__traceback__),
                extra={"receiver": getattr(receiver, "__qualname__", repr(receiver))},
            )


def _app_of(event: PodioHookEvent) -> int | None:
    if event.app_id is not None:
        return event.app_id
    return event.hook.app_id if event.hook is not None else None


def _with_client(events: list[PodioHookEvent], work: Any, options: dict[str, Any]) -> Any:
    """``work(client)`` through the events' hook connection, else another one of the app."""
    hook = next((e.hook for e in events if e.hook and e.hook.connection), None)
    app_id = _app_of(events[0])
    if app_id is None:
        raise Orphaned(0)
    result, connection = with_app_client(
        app_id, work, preferred=hook.connection if hook else None, **options
    )
    # The hook belongs to the app: hooks whose connection is gone take the one that worked,
    # and events that waited for a connection are due again.
    adopt(app_id, connection)
    return result


# Entry points -----------------------------------------------------------------------------


def process_event(pk: int, *, force: bool = False, **client_options: Any) -> ProcessReport:
    """Process one stored event (and, for an item event, every due event of its item).

    ``client_options`` go to the Podio client (a task passes a transport that never sleeps
    on a 420). Never raises for a failure of the work: it is recorded on the event.
    """
    event = PodioHookEvent.objects.select_related("hook").filter(pk=pk).first()
    if event is None or event.duplicate_of_id is not None:
        return ProcessReport()
    app_id = _app_of(event)
    if event.type in ITEM_EVENTS and event.item_id is not None and app_id is not None:
        return process_item(app_id, event.item_id, force=force, **client_options)
    now = timezone.now()
    claimed = _claim(PodioHookEvent.objects.filter(pk=pk), now)
    if not claimed:
        return ProcessReport()
    if event.type == "hook.verify":
        return _verify(claimed[0], now, client_options)
    report = ProcessReport(processed=len(claimed))
    try:
        if event.type in APP_EVENTS and app_id is not None:
            # Podio says the app changed: the next write reads its field definitions again.
            forget_app(app_id)
        for claimed_event in claimed:
            _send(hook_event, event=claimed_event)
        _finish(claimed, now)
    except Exception as error:
        return _failed(report, claimed, error, now)
    report.done = len(claimed)
    return report


def cached_revision(data_revision: Any) -> int | None:
    try:
        return int(data_revision)
    except (TypeError, ValueError):
        return None


def _already_cached(
    events: list[PodioHookEvent], fetched_at: datetime, cached_revision_id: Any, newest: datetime
) -> bool:
    """Whether the cache row already shows every one of these events, so no refetch is due.

    Either it was fetched after the newest of them arrived, or each of them names a revision
    (``item_revision_id``) no newer than the one the row holds: a delivery that arrives after
    its item's refetch began, or late and out of order, is of a revision the row already got
    or passed. Podio's revision ids of one item grow with each revision (``podio-api.md`` §4:
    an item's ``revision`` is 0 at creation and +1 per change; its ``item_revision_id`` is the
    id of that revision, allocated in the order they are made).
    """
    if fetched_at > newest:
        return True
    cached = cached_revision(cached_revision_id)
    if cached is None:
        return False
    return all(event.revision is not None and event.revision <= cached for event in events)


def _tombstoned(events: list[PodioHookEvent], item_id: int) -> bool:
    """Whether the item is known deleted at a revision at least as new as every event's."""
    tomb = items.tombstone_of(item_id)
    if tomb is None:
        return False
    deleted_at, revision = tomb
    return all(
        (e.revision is not None and revision is not None and e.revision <= revision)
        or e.received_at < deleted_at
        for e in events
    )


def process_item(
    app_id: int, item_id: int, *, force: bool = False, **client_options: Any
) -> ProcessReport:
    """Bring one item's cache row up to date with every due event of it, in one refetch."""
    now = timezone.now()
    events = _claim(
        PodioHookEvent.objects.filter(app_id=app_id, item_id=item_id, type__in=sorted(ITEM_EVENTS)),
        now,
    )
    report = ProcessReport(processed=len(events))
    if not events:
        return report
    try:
        return _process_item(report, events, app_id, item_id, now, force, client_options)
    except DecryptionError as error:  # a local fault no retry mends: the event is dead
        return _failed(report, events, error, now, retry=False)
    except Exception as error:
        return _failed(report, events, error, now)


def _process_item(
    report: ProcessReport,
    events: list[PodioHookEvent],
    app_id: int,
    item_id: int,
    now: datetime,
    force: bool,
    client_options: dict[str, Any],
) -> ProcessReport:
    deleting = any(e.type == "item.delete" for e in events)
    newest = max(e.received_at for e in events)
    row = (
        PodioItem.objects.filter(item_id=item_id)
        .values_list("fetched_at", "data__current_revision__item_revision_id")
        .first()
    )
    known = not force and not deleting
    if known and (
        (row is not None and _already_cached(events, *row, newest))
        or (row is None and _tombstoned(events, item_id))
    ):
        for event in events:
            _send(hook_event, event=event)
        _finish(events, now)
        report.done = len(events)
        return report
    fetch_started = timezone.now()
    report.refetches += 1

    def refetch(client: Any) -> Any:
        try:
            return client.get_item(item_id)
        except (NotFound, Gone):
            return None

    item = _with_client(events, refetch, client_options)
    changed = None
    if item is None:
        deleted_revision = max(
            (e.revision for e in events if e.type == "item.delete" and e.revision is not None),
            default=None,
        )
        removed = items.delete_item(item_id, app_id=app_id, revision=deleted_revision)
    else:
        changed = items.upsert_items(
            items.item_app_id(item) or app_id, [item], now=fetch_started, lock=True
        )
        if changed.odd:
            raise items.OddItem(changed.odd[0][1])
        removed = False
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


def _verify(event: PodioHookEvent, now: datetime, client_options: dict[str, Any]) -> ProcessReport:
    """Validate a ``hook.verify`` code. Idempotent: a repeat (Podio answers 400 to a spent
    code) never demotes a hook that Podio's list shows active."""
    hook = event.hook
    report = ProcessReport(processed=1)
    if hook is None:  # the hook was deleted here: nothing left to verify
        return _failed(report, [event], Orphaned(_app_of(event) or 0), now, retry=False)
    hook_id = int(event.payload.get("hook_id") or 0)

    def validate(client: Any) -> None:
        # The code travels in plain JSON through the client's and requests' frames: a
        # bug in there is re-raised without them (the full traceback goes to the log).
        with frames_cut(log, "Validating a hook", expected=(DjangoPodioError,)):
            client.post(f"/hook/{hook_id}/verify/validate", json={"code": event.code or ""})

    try:
        _with_client([event], validate, client_options)
    except Exception as error:
        refused = isinstance(error, PodioAPIError) and 400 <= (error.status or 0) < 500
        refused = refused and not isinstance(error, RateLimited)
        if refused and _active_anyway(hook, hook_id, client_options):
            return _verified(report, event, hook, hook_id, now)
        _failed(report, [event], error, now, retry=not refused)
        message = report.errors[-1]
        if refused:
            PodioHook.objects.filter(pk=hook.pk).update(
                status=PodioHook.Status.FAILED, last_error=message
            )
        else:
            PodioHook.objects.filter(pk=hook.pk).update(last_error=message)
        _send(hook_event, event=event)
        return report
    return _verified(report, event, hook, hook_id, now)


def _active_anyway(hook: PodioHook, hook_id: int, client_options: dict[str, Any]) -> bool:
    """Whether a refused validation is a repeat: Podio lists the hook as active (a spent code
    is refused, the hook it activated stays active). Podio's list decides, not our row."""
    try:
        listed = _with_client_for_hook(hook, client_options)
    except Exception:
        return False
    return any(
        int(h.get("hook_id") or 0) == hook_id and h.get("status") == "active" for h in listed
    )


def _with_client_for_hook(hook: PodioHook, client_options: dict[str, Any]) -> list[dict]:
    result, _ = with_app_client(
        hook.app_id,
        lambda client: client.get(f"/hook/app/{int(hook.app_id)}/") or [],
        preferred=hook.connection,
        **client_options,
    )
    return list(result)


def _verified(
    report: ProcessReport, event: PodioHookEvent, hook: PodioHook, hook_id: int, now: datetime
) -> ProcessReport:
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
        "pk", "type", "item_id", "app_id"
    ):
        if limit is not None and handled >= limit:
            break
        try:
            if kind in ITEM_EVENTS and item_id is not None and app_id is not None:
                if (app_id, item_id) in seen_items:
                    continue
                seen_items.add((app_id, item_id))
                report.add(process_item(app_id, item_id, force=force))
            else:
                report.add(process_event(pk, force=force))
        except DatabaseError as error:  # not even claimed: the events stay due, the pass goes on
            _reconnect()
            report.failed += 1
            report.errors.append(storable_text(f"{type(error).__name__}: {error}")[:1000])
            log.warning("Claiming a Podio hook event failed", exc_info=True)
        handled += 1
    return report


def replay(
    *, failed_only: bool = False, dead_only: bool = False, since: datetime | None = None
) -> ProcessReport:
    """Process stored events again: the failed ones, the dead ones, or every one received
    since ``since``. A dead event replayed gets its attempts back.

    Replayed item events always refetch (the point of a replay is not to trust the cache).
    """
    events = (
        PodioHookEvent.objects.filter(duplicate_of__isnull=True)
        .exclude(status=Status.PROCESSING)
        # A used verification code is gone; Podio sends a new one on request (``verify``).
        .exclude(type="hook.verify", status=Status.DONE)
    )
    if failed_only or dead_only:
        wanted = [Status.FAILED] if failed_only else []
        events = events.filter(status__in=wanted + ([Status.DEAD] if dead_only else []))
    if since is not None:
        events = events.filter(received_at__gte=since)
    events.filter(status=Status.DEAD).update(attempts=0)
    events.update(status=Status.PENDING, next_attempt_at=None)
    return process_pending(force=True)
