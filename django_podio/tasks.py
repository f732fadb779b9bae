"""Background work as Django tasks: the host project picks the engine that runs them.

Each task is a thin wrapper over a service and takes ids and plain values only, so any
backend can queue it (a database worker, Celery through :mod:`django_podio.contrib.celery`,
RQ, ...). Django >= 6.0 ships the Tasks API as ``django.tasks``; on Django 5.2 it comes from
the ``django-tasks`` backport (``pip install django-podio[tasks]``). Without either, this module
still imports and ``available()`` is False: the package works without background work.

Why the tasks look the way they do:

* **No sleeping workers.** A task that meets Podio's rate limit (``RateLimited``) does not wait
  in the worker: it enqueues itself again with ``run_after`` and returns, giving its worker
  back. Podio's budget is per identity, so tasks of one identity re-enqueued after the same
  wait are spread over a window as long as the wait (by a stable hash of the task's key)
  instead of all hitting Podio in the same second.
* **Refreshes are idempotent.** ``refresh_connection`` refreshes only if the row is still due
  when it claims the row's lease, so a connection enqueued twice (cron ran again before the
  workers caught up, or a killed worker's task was re-delivered) is spent once.
* **Webhook events** are processed by ``process_hook_event`` when the host's default backend
  runs tasks elsewhere (:func:`uses_workers`); otherwise in the web process after the response.
* **One sync per app**, whichever host runs it: a lease on the app's ``PodioItemSync`` row
  (``django_podio.items.sync``), the same primitive as the refresh's, so it works on every
  database, behind transaction poolers and on every OS. A sync enqueued while another runs
  returns at once; a dead worker's lease expires and the next sync resumes from its
  checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .exceptions import ConnectionNotFound, RateLimited, SyncAlreadyRunning
from .redaction import get_logger

logger = get_logger("django_podio.tasks")

try:  # Django >= 6.0
    from django import tasks as api
except ImportError:  # Django 5.2: the backport, when installed
    try:
        import django_tasks as api  # type: ignore[no-redef,unused-ignore]
    except ImportError:
        api = None  # type: ignore[assignment,unused-ignore]

#: Re-enqueued tasks of one identity spread over at most this many seconds past Podio's wait.
MAX_SPREAD = 300
#: ``refresh_due`` enqueues this many connections per task by default. Measured on real
#: workers (benchmarks/scale.py), batches cost far less queueing overhead than one task per
#: connection (about 1.5 x the throughput per worker), and 25 still leaves hundreds of tasks
#: to share among workers at a few thousand due connections.
REFRESH_BATCH = 25


NO_TASKS_API = (
    "django_podio.tasks needs Django's Tasks API: Django >= 6.0, or "
    "`pip install django-podio[tasks]` (the django-tasks backport) on Django 5.2."
)


def available() -> bool:
    """True when a Tasks API (``django.tasks`` or the backport) is importable."""
    return api is not None


def check_backend(backend: str | None = None) -> None:
    """Raise ``ImproperlyConfigured`` unless tasks can be enqueued on ``backend`` (default:
    the default one): a Tasks API is installed, the backend loads, and its own checks pass.

    Enqueueing calls it first, so a host that cannot run tasks hears so at once, not only on
    the day something is due (``podio_refresh --enqueue`` with nothing due would otherwise
    report "0 refreshes enqueued" on a set-up that can never enqueue one).
    """
    if api is None:
        raise ImproperlyConfigured(NO_TASKS_API)
    alias = backend or api.DEFAULT_TASK_BACKEND_ALIAS
    try:
        instance = api.task_backends[alias]
    except ImproperlyConfigured as error:  # InvalidTaskBackend(Error): unknown alias, no class
        raise ImproperlyConfigured(f"TASKS[{alias!r}]: {error}") from None
    serious = [message for message in instance.check() if message.is_serious()]
    if serious:
        first = serious[0]
        hint = f" {first.hint}" if first.hint else ""
        raise ImproperlyConfigured(f"TASKS[{alias!r}]: {first.msg}{hint}")


def _unavailable(func: Callable[..., Any]) -> Any:
    """Stand-in for ``@task`` without a Tasks API: importable, but enqueueing says what to do."""

    class Unavailable:
        __doc__ = func.__doc__
        name = func.__name__

        def __init__(self) -> None:
            self.func = func

        def using(self, **_: Any) -> Unavailable:
            return self

        def enqueue(self, *args: Any, **kwargs: Any) -> Any:
            raise ImproperlyConfigured(NO_TASKS_API)

    return Unavailable()


def task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    if api is None:
        return _unavailable
    return api.task(**options)


# Helpers ----------------------------------------------------------------------------------


def retry_at(key: str, wait: float, *, now: datetime | None = None) -> datetime:
    """When a task for ``key`` rate-limited for ``wait`` seconds should run again.

    The wait plus a stable share of a window as long as the wait (at most ``MAX_SPREAD``):
    tasks of one identity that met the same 420 come back spread out, not all at once.
    """
    wait = max(1.0, float(wait))
    window = min(float(MAX_SPREAD), wait)
    share = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")
    offset = window * (share / 2**32)
    return (now or timezone.now()) + timedelta(seconds=wait + offset)


def _backend(context: Any) -> str:
    return context.task_result.backend


def _again(context: Any, task_obj: Any, key: str, error: RateLimited, *args: Any) -> str:
    """Enqueue ``task_obj(*args)`` again after Podio's wait; return when it will run."""
    alias = _backend(context)
    if not api.task_backends[alias].supports_defer:  # e.g. ImmediateBackend: fail as in-process
        raise error
    wait = error.wait_seconds if error.wait_seconds is not None else 60
    when = retry_at(key, wait)
    task_obj.using(backend=alias, run_after=when).enqueue(*args)
    logger.info("Rate limited: %s re-enqueued to run at %s", key, when.isoformat())
    return when.isoformat()


def _transport() -> Any:
    """A transport that never sleeps on a 420: the task re-enqueues itself instead."""
    from .api.transport import Transport

    return Transport(rate_limit_max_wait=0)


# Tokens -----------------------------------------------------------------------------------


def _refresh_one(pk: int, within: float | None) -> tuple[str, RateLimited | None]:
    from . import tokens

    transport = _transport()
    try:
        result = tokens.refresh_connection(pk, margin=within, skip_locked=True, transport=transport)
    finally:
        transport.close()
    limited = result.exception if isinstance(result.exception, RateLimited) else None
    return result.outcome.value, limited


@task(takes_context=True)
def refresh_connection(context: Any, connection_id: int, within: float | None = None) -> dict:
    """Refresh one connection if it is still due (``within`` seconds, default
    ``REFRESH_MARGIN``) when its lease is claimed: enqueued twice, it is spent once."""
    outcome, limited = _refresh_one(connection_id, within)
    report: dict[str, Any] = {"connection": connection_id, "outcome": outcome}
    if limited is not None:
        report["retry_at"] = _again(
            context, refresh_connection, f"refresh:{connection_id}", limited, connection_id, within
        )
    return report


@task(takes_context=True)
def refresh_connections(
    context: Any, connection_ids: list[int], within: float | None = None
) -> dict:
    """A batch of ``refresh_connection``; on a 420 the rest of the batch waits as one task."""
    outcomes: dict[str, int] = {}
    for position, pk in enumerate(connection_ids):
        outcome, limited = _refresh_one(pk, within)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if limited is not None:
            rest = list(connection_ids[position:])
            when = _again(context, refresh_connections, f"refresh:{pk}", limited, rest, within)
            return {"outcomes": outcomes, "retry_at": when, "deferred": len(rest)}
    return {"outcomes": outcomes}


def enqueue_due(
    within: float | None = None,
    *,
    batch_size: int = REFRESH_BATCH,
    backend: str | None = None,
) -> int:
    """Enqueue a refresh for every due connection (what cron runs with workers); returns how
    many connections were enqueued.

    Enqueueing twice is harmless (a refresh re-checks when it claims the lease), which is also how
    a refresh lost with a killed worker is recovered: the connection is still due next time.
    """
    from . import tokens

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    check_backend(backend)
    pks = list(tokens.due_connections(within).values_list("pk", flat=True))
    one = refresh_connection.using(backend=backend) if backend else refresh_connection
    many = refresh_connections.using(backend=backend) if backend else refresh_connections
    for start in range(0, len(pks), batch_size):
        chunk = pks[start : start + batch_size]
        if batch_size == 1:
            one.enqueue(chunk[0], within)
        else:
            many.enqueue(chunk, within)
    return len(pks)


@task(takes_context=True)
def refresh_due(context: Any, within: float | None = None, batch_size: int = REFRESH_BATCH) -> dict:
    """Fan out: one ``refresh_connection`` (or a batch) per due connection, on this backend.

    Schedule it (cron: ``podio_refresh --enqueue``, or the backend's own scheduler) more often
    than ``REFRESH_MARGIN``.
    """
    count = enqueue_due(within, batch_size=batch_size, backend=_backend(context))
    return {"enqueued": count}


# Items ------------------------------------------------------------------------------------


def _sync_client(app_id: int, user_id: int | None, connection_id: int | None) -> Any:
    from . import tokens
    from .models import PodioConnection

    options = {"transport": _transport()}
    if connection_id is not None:
        connection = PodioConnection.objects.filter(pk=connection_id).first()
        if connection is None:
            raise ConnectionNotFound(f"No Podio connection {connection_id}")
        return tokens.get_client(connection=connection, **options)
    if user_id is not None:
        from django.contrib.auth import get_user_model

        user = get_user_model()._default_manager.filter(pk=user_id).first()
        if user is None:
            raise ConnectionNotFound(f"No user {user_id}")
        return tokens.get_client(user, **options)
    return tokens.get_client(app_id=app_id, **options)


@task(takes_context=True)
def sync_app(
    context: Any,
    app_id: int,
    since: str | None = "last",
    user_id: int | None = None,
    connection_id: int | None = None,
    after_wait: bool = False,
) -> dict:
    """Bring the item cache of one app up to date (``podio_fetch_items APP --store``).

    ``since="last"``: items edited since the previous completed sync (a full run the first
    time); ``None``: a full run, which also removes items deleted in Podio; or an ISO 8601
    time. Podio is called as the app (default), a user (``user_id``) or one connection.
    Only one sync of an app runs at a time; an interrupted one resumes from its checkpoint.
    A sync that met a 420 enqueues itself again for after Podio's wait (``after_wait``);
    one enqueued meanwhile (cron's) returns at once rather than meet the same 420.
    """
    from . import items

    if not after_wait:
        until = items.deferred_until(app_id)
        if until is not None:
            logger.info("Sync of app %s waits for Podio's rate limit: skipped", app_id)
            return {"app_id": app_id, "skipped": "rate limited", "retry_at": until.isoformat()}

    # The identity whose budget the sync spends, and the app: syncs of several apps under
    # one identity come back at different times.
    if connection_id is not None:
        key = f"sync:connection:{connection_id}:{app_id}"
    else:
        key = f"sync:user:{user_id}:{app_id}" if user_id is not None else f"sync:app:{app_id}"
    args = (app_id, since, user_id, connection_id, True)

    def again(error: RateLimited) -> str:
        when = _again(context, sync_app, key, error, *args)
        items.defer(app_id, datetime.fromisoformat(when))
        return when

    try:
        client = _sync_client(app_id, user_id, connection_id)
    except RateLimited as error:  # the connection's refresh met the limit
        return {"app_id": app_id, "retry_at": again(error)}
    try:
        report = items.fetch_items(client, app_id, since=since, store=True)
    except SyncAlreadyRunning:
        logger.info("Sync of app %s is already running elsewhere: skipped", app_id)
        return {"app_id": app_id, "skipped": "already running"}
    finally:
        client.close()
    result = report.as_dict()
    result.pop("exception", None)
    failure = getattr(report, "exception", None)
    if isinstance(failure, RateLimited):
        result["retry_at"] = again(failure)
    elif report.error:
        raise RuntimeError(f"Sync of app {app_id} failed: {report.error}")
    return result


# Webhooks ---------------------------------------------------------------------------------


def uses_workers(alias: str = "default") -> bool:
    """Whether the host set ``TASKS`` to a backend that runs tasks elsewhere (not Django's
    immediate backend, which would run them in the request): webhook events then go to
    :func:`process_hook_event` instead of being processed in the web process."""
    from django.conf import settings

    if api is None or not getattr(settings, "TASKS", None):
        return False
    from importlib import import_module

    immediate = import_module(f"{api.__name__}.backends.immediate").ImmediateBackend
    return not isinstance(api.task_backends[alias], immediate)


@task(takes_context=True)
def process_hook_event(context: Any, event_id: int) -> dict:
    """Process one stored webhook event (and every due event of its item, coalesced).

    A failure stays on the event with its next attempt time (Podio's wait after a 420, which
    the task never sleeps on); the task enqueues itself again for then, spread per event,
    when the backend can defer, and returns at once with ``retry_at``.
    """
    from . import hooks
    from .models import PodioHookEvent

    transport = _transport()  # a 420 is recorded on the event at once, never slept on
    try:
        report = hooks.process_event(event_id, transport=transport)
    finally:
        transport.close()
    result = report.as_dict()
    if report.failed:
        row = PodioHookEvent.objects.filter(pk=event_id).values("status", "next_attempt_at").first()
        alias = _backend(context)
        if (
            row
            and row["status"] == PodioHookEvent.Status.FAILED
            and row["next_attempt_at"] is not None
            and api.task_backends[alias].supports_defer
        ):
            wait = max(1.0, (row["next_attempt_at"] - timezone.now()).total_seconds())
            when = retry_at(f"hook-event:{event_id}", wait)
            process_hook_event.using(backend=alias, run_after=when).enqueue(event_id)
            result["retry_at"] = when.isoformat()
    return result


def enqueue_sync(
    app_id: int,
    *,
    since: str | None = "last",
    user_id: int | None = None,
    connection_id: int | None = None,
    backend: str | None = None,
) -> Any:
    """Enqueue :func:`sync_app` (what ``podio_fetch_items --store --enqueue`` does)."""
    check_backend(backend)
    target = sync_app.using(backend=backend) if backend else sync_app
    return target.enqueue(app_id, since, user_id, connection_id)


__all__ = [
    "available",
    "check_backend",
    "enqueue_due",
    "enqueue_sync",
    "process_hook_event",
    "refresh_connection",
    "refresh_connections",
    "refresh_due",
    "retry_at",
    "sync_app",
    "uses_workers",
]
