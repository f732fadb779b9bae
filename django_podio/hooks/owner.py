"""Which connection does a hook's work: a hook belongs to its app, not to a user.

The connection that registered a hook may go (its user deleted or disconnected, its refresh
token dead). Processing, ``sync`` and ``delete`` then use another active connection that can
read the app, in this order: the hook's own connection, the app's own connection (app
authentication), then the connections that registered or took over other hooks of the same
app (they have read it). A connection Podio refuses (403, a dead token) is passed over for the
next. When none is left, the app's hooks are marked orphaned (``orphaned_at``, system check
W007) and
their events wait, counting no attempt, until ``podio_hooks sync APP --user U`` re-homes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Q
from django.utils import timezone

from ..exceptions import (
    ConnectionNotFound,
    Forbidden,
    InvalidGrant,
    InvalidToken,
    ReauthorizationRequired,
)
from ..models import PodioConnection, PodioHook

#: Errors that say "not this connection" rather than "not now": the next candidate is tried.
PASSED_OVER = (ConnectionNotFound, ReauthorizationRequired, Forbidden, InvalidGrant, InvalidToken)


class Orphaned(ConnectionNotFound):
    """No active connection can do this app's hook work."""

    def __init__(self, app_id: int) -> None:
        super().__init__(
            f"No active Podio connection can read app {app_id}: its hooks are orphaned "
            f"(podio_hooks sync {app_id} --user USERNAME re-homes them)"
        )
        self.app_id = app_id


def candidates(app_id: int, preferred: PodioConnection | None = None) -> Iterator[PodioConnection]:
    """Active connections that may do app ``app_id``'s hook work, best first, each once."""
    active = PodioConnection.objects.filter(status=PodioConnection.Status.ACTIVE)
    seen: set[int] = set()
    if preferred is not None and preferred.status == PodioConnection.Status.ACTIVE:
        seen.add(preferred.pk)
        yield preferred
    app = active.filter(kind=PodioConnection.Kind.APP, app_id=app_id).first()
    if app is not None and app.pk not in seen:
        seen.add(app.pk)
        yield app
    others = active.filter(
        Q(podio_hooks__app_id=app_id), ~Q(pk__in=seen) if seen else Q()
    ).distinct()
    for connection in others.order_by("pk"):
        if connection.pk not in seen:
            seen.add(connection.pk)
            yield connection


def with_app_client(
    app_id: int,
    work: Callable[[Any], Any],
    *,
    preferred: PodioConnection | None = None,
    **client_options: Any,
) -> tuple[Any, PodioConnection]:
    """Run ``work(client)`` with the first candidate connection Podio accepts.

    Returns the result and the connection that did it. With no active candidate at all the
    app's hooks are marked orphaned and :class:`Orphaned` is raised (the events wait for a
    person); when candidates exist but Podio refused each (a 403: access lost, the app
    deleted), the last refusal is raised, and counts as a failed attempt like any other.
    """
    from ..tokens import get_client

    refused: BaseException | None = None
    for connection in candidates(app_id, preferred):
        try:
            client = get_client(connection=connection, **client_options)
        except PASSED_OVER as error:
            refused = error if isinstance(error, Forbidden) else refused
            continue
        try:
            return work(client), connection
        except PASSED_OVER as error:
            refused = error if isinstance(error, Forbidden) else refused
            continue
        finally:
            client.close()
    if refused is not None:
        raise refused
    mark_orphaned(app_id)
    raise Orphaned(app_id)


def adopt(app_id: int, connection: PodioConnection) -> int:
    """Give the app's hooks whose connection is gone (or orphaned) to ``connection``.

    The events that waited for a connection are due at once. Returns how many hooks moved.
    """
    from ..models import PodioHookEvent

    homeless = PodioHook.objects.filter(app_id=app_id).filter(
        Q(connection__isnull=True)
        | Q(orphaned_at__isnull=False)
        | ~Q(connection__status=PodioConnection.Status.ACTIVE)
    )
    pks = list(homeless.values_list("pk", flat=True))
    if not pks:
        return 0
    PodioHook.objects.filter(pk__in=pks).update(connection=connection, orphaned_at=None)
    PodioHookEvent.objects.filter(
        app_id=app_id, status=PodioHookEvent.Status.FAILED, last_error__startswith="Orphaned:"
    ).update(next_attempt_at=timezone.now())
    return len(pks)


def mark_orphaned(app_id: int) -> int:
    """Mark the app's hooks that have no active connection orphaned; how many were."""
    return (
        PodioHook.objects.filter(app_id=app_id, orphaned_at__isnull=True)
        .filter(Q(connection__isnull=True) | ~Q(connection__status=PodioConnection.Status.ACTIVE))
        .update(orphaned_at=timezone.now())
    )


def homeless_apps(using: str = "default") -> list[tuple[int, int]]:
    """``(app_id, hooks)`` of apps whose hooks are orphaned or have no active connection
    while no candidate (:func:`candidates`) is left to take them over (system check W007)."""
    rows = PodioHook.objects.using(using).filter(
        Q(orphaned_at__isnull=False)
        | Q(connection__isnull=True)
        | ~Q(connection__status=PodioConnection.Status.ACTIVE)
    )
    counts: dict[int, int] = {}
    for app_id in rows.values_list("app_id", flat=True)[:1000]:
        counts[app_id] = counts.get(app_id, 0) + 1
    found = []
    for app_id, count in sorted(counts.items()):
        orphaned = rows.filter(app_id=app_id, orphaned_at__isnull=False).exists()
        if orphaned or not _has_candidate(app_id, using):
            found.append((app_id, count))
    return found


def _has_candidate(app_id: int, using: str) -> bool:
    active = PodioConnection.objects.using(using).filter(status=PodioConnection.Status.ACTIVE)
    return active.filter(
        Q(kind=PodioConnection.Kind.APP, app_id=app_id) | Q(podio_hooks__app_id=app_id)
    ).exists()
