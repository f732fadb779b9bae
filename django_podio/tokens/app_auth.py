"""App authentication: an app's own Podio identity, for work that acts as no person."""

from __future__ import annotations

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..api import oauth
from ..api.transport import Transport
from ..census import SECRET_COLUMNS
from ..db import run_outside_callers_transaction, write_atomic
from ..events import auth_event
from ..models import PodioConnection
from ..redaction import get_logger
from ..text import storable_text

logger = get_logger("django_podio.tokens")


@sensitive_variables()
def store_app_connection(
    app_id: int, app_token: str, *, transport: Transport | None = None
) -> PodioConnection:
    """Verify an app's credentials with Podio, then keep them (encrypted) for ``get_client``.

    The app token is stored too: when the refresh token dies, the connection signs in again
    with it instead of needing a person. Committed in a transaction of its own, like a refresh:
    Podio has issued a pair that must not be rolled back with the caller's work.
    """
    token = oauth.app_auth(app_id, app_token, transport=transport)

    @sensitive_variables()
    def save() -> PodioConnection:
        with write_atomic():
            connection = (
                PodioConnection.objects.select_for_update()
                .defer(*SECRET_COLUMNS)  # overwritten, never read: they may be unreadable
                .filter(kind=PodioConnection.Kind.APP, app_id=app_id)
                .first()
            ) or PodioConnection(kind=PodioConnection.Kind.APP, app_id=app_id)
            connection.app_token = app_token
            connection.ref_type = token.ref_type or "app"
            connection.ref_id = token.ref_id or app_id
            connection.access_token = token.access_token
            if token.refresh_token or connection.pk is None:
                connection.refresh_token = token.refresh_token or None
            connection.expires_at = token.expires_at()
            connection.scope = storable_text(token.scope)
            connection.status = PodioConnection.Status.ACTIVE
            connection.failure_count = 0
            connection.last_error = ""
            connection.last_refreshed_at = timezone.now()
            connection.token_version += 1  # a new pair: a refresh still spending the old one
            connection.save()  # must not mark this connection reauth_required
            return connection

    connection = run_outside_callers_transaction(save)
    logger.info("Stored app authentication for %r", connection)
    auth_event("app_auth", connection=connection, app_id=app_id)
    return connection
