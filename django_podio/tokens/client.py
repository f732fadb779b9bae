"""``get_client``: a Podio client whose token is fresh and stays fresh.

Which connection: an explicit ``connection``; else the app connection of ``app_id``; else the
user's connection with ``podio_user_id`` when given; else the user's *first* connection (the
lowest pk: the Podio account they connected first). The rule never depends on which token was
refreshed last, so a user with two Podio accounts never switches identity between calls.
"""

from __future__ import annotations

from typing import Any

from django.views.decorators.debug import sensitive_variables

from .. import conf
from ..api.client import PodioClient
from ..api.transport import without_frames
from ..exceptions import ConnectionNotFound, PodioError, ReauthorizationRequired
from ..models import PodioConnection
from .refresh import Outcome, refresh_connection


class _NotFound(ConnectionNotFound, PodioConnection.DoesNotExist):
    """Raised as ``ConnectionNotFound``; still a ``PodioConnection.DoesNotExist`` for code
    written against 0.1, which raised that."""


_NotFound.__name__ = _NotFound.__qualname__ = "ConnectionNotFound"


def find_connection(
    user: Any = None, *, app_id: int | None = None, podio_user_id: int | None = None
) -> PodioConnection:
    """The connection ``get_client`` would use (see the module docstring for the rule)."""
    if app_id is not None:
        found = PodioConnection.objects.filter(kind=PodioConnection.Kind.APP, app_id=app_id)
        what = f"app {app_id}"
    else:
        if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
            raise _NotFound("An anonymous user has no Podio connection.")
        found = PodioConnection.objects.filter(kind=PodioConnection.Kind.USER, user=user)
        what = f"user {user.pk}"
        if podio_user_id is not None:
            found = found.filter(ref_id=podio_user_id)
            what += f" with Podio user id {podio_user_id}"
    connection = found.order_by("pk").first()
    if connection is None:
        raise _NotFound(f"No Podio connection for {what}.")
    return connection


def _reauth(connection: Any) -> ReauthorizationRequired:
    return ReauthorizationRequired(
        f"Podio connection {connection.pk} needs its user to log in with Podio again."
    )


def _still_valid(connection: PodioConnection) -> bool:
    return bool(
        connection.access_token
        and connection.expires_at is not None
        and not connection.expires_within(0)
    )


@sensitive_variables()
def usable_token(connection: PodioConnection, *, stale_token: str | None = None) -> str:
    """A token to send now: refreshed if due (or refused), else the stored one.

    A token that is due but has not expired yet is still good: when another worker is
    refreshing it, use it rather than wait for that worker.
    """
    result = refresh_connection(
        connection, stale_token=stale_token, skip_locked=stale_token is None
    )
    if result.outcome is Outcome.SKIPPED and result.connection is not None:
        if stale_token is None and _still_valid(result.connection):
            return result.connection.access_token
        result = refresh_connection(connection, stale_token=stale_token)
    current = result.connection
    # The refresh's exception is re-raised without its frames: they hold the token request's
    # body (client secret, refresh token), and Django's DEBUG page ignores sensitive_variables.
    cause = without_frames(result.exception) if result.exception is not None else None
    if result.outcome is Outcome.REAUTH_REQUIRED:
        raise _reauth(current or connection) from cause
    if result.outcome is Outcome.FAILED:
        # A token that is merely close to expiry still works: use it and try again later.
        known = current or connection
        if stale_token is None and _still_valid(known):
            return known.access_token
        if cause is not None:
            raise cause
        raise PodioError(f"Could not refresh Podio connection {known.pk}: {result.error}")
    if current is None:  # deleted meanwhile (a disconnect)
        raise _NotFound(f"Podio connection {connection.pk} no longer exists.")
    return current.access_token


@sensitive_variables()
def get_client(
    user: Any = None,
    *,
    app_id: int | None = None,
    connection: PodioConnection | None = None,
    podio_user_id: int | None = None,
    **client_options: Any,
) -> PodioClient:
    """A client for a user's, an app's or a given connection's Podio identity.

    The token is refreshed first when it expires within ``REFRESH_MARGIN``; later, a 401
    ``expired_token`` refreshes once (under the refresh's lease) and replays the request once.
    Raises :class:`~django_podio.exceptions.ConnectionNotFound` when there is no connection,
    :class:`~django_podio.exceptions.ReauthorizationRequired` when its refresh token is dead,
    and the refresh's own error (e.g. ``RateLimited`` with ``wait_seconds``) when a due
    refresh failed and the stored token has expired.
    """
    if connection is None:
        if user is None and app_id is None:
            raise TypeError("get_client() needs user, app_id or connection")
        connection = find_connection(user, app_id=app_id, podio_user_id=podio_user_id)
    if connection.status != PodioConnection.Status.ACTIVE:
        raise _reauth(connection)
    if connection.expires_at is None or connection.expires_within(conf.get("REFRESH_MARGIN")):
        token = usable_token(connection)
    else:
        token = connection.access_token
    pk = connection.pk

    @sensitive_variables()
    def refresh(stale: str) -> str:
        return usable_token(PodioConnection(pk=pk), stale_token=stale)

    if "observer" not in client_options:
        from ..items.write import CacheFollower

        client_options["observer"] = CacheFollower()  # the cache follows our own writes
    return PodioClient(token, refresh=refresh, **client_options)
