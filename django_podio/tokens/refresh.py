"""The refresh: the one critical section that spends a refresh token.

Lock the row, re-read it, and only if it is still due ask Podio and save the new pair in the
same transaction — a transaction of its own that no caller can roll back
(:mod:`.transactions`). ``token_refreshed`` is sent after that commit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import conf, db, signals
from ..api import oauth
from ..api.transport import Transport
from ..db import take_write_lock
from ..events import auth_event
from ..exceptions import DecryptionError, InvalidGrant, PodioError
from ..models import PodioConnection
from ..redaction import get_logger, redact
from .transactions import run_outside_callers_transaction

logger = get_logger("django_podio.tokens")


class Outcome(enum.Enum):
    REFRESHED = "refreshed"
    ALREADY_FRESH = "already_fresh"  # another worker refreshed it first: nothing spent
    SKIPPED = "skipped"  # locked by another worker (skip_locked), gone, or a dry run
    FAILED = "failed"  # network error, 5xx, rate limit, database busy: old tokens kept
    REAUTH_REQUIRED = "reauth_required"  # refresh token refused: the user must log in again


@dataclass
class RefreshResult:
    outcome: Outcome
    connection: PodioConnection | None
    error: str = ""
    #: The exception behind a FAILED or REAUTH_REQUIRED outcome (e.g. ``RateLimited`` with
    #: its ``wait_seconds``), so callers can re-raise the real thing.
    exception: BaseException | None = None


@sensitive_variables()
def _save_tokens(connection: PodioConnection, token: oauth.TokenResponse) -> bool:
    """Store a validated token answer; ``False`` when it lacked an access token.

    The refresh token is stored whatever else is odd: Podio has already spent the old one.
    """
    now = timezone.now()
    complete = bool(token.access_token)
    if complete:
        connection.access_token = token.access_token
        connection.expires_at = token.expires_at(now)
    else:
        connection.expires_at = now - timedelta(seconds=1)  # due: the next use refreshes again
    if token.refresh_token:
        connection.refresh_token = token.refresh_token
    if token.scope:
        connection.scope = token.scope
    connection.last_refreshed_at = now
    connection.failure_count = 0 if complete else connection.failure_count + 1
    connection.last_error = "" if complete else "Podio's token answer had no access token"
    connection.status = PodioConnection.Status.ACTIVE
    connection.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "expires_at",
            "scope",
            "last_refreshed_at",
            "failure_count",
            "last_error",
            "status",
            "updated_at",
        ]
    )
    return complete


@sensitive_variables()
def _spend(
    connection: PodioConnection,
    transport: Transport | None,
    credentials: conf.AppCredentials | None,
) -> oauth.TokenResponse:
    """Trade the refresh token for a new pair; an app connection falls back to its app token."""
    try:
        if not connection.refresh_token:
            raise InvalidGrant(status=400, error="invalid_grant", description="no refresh token")
        return oauth.refresh(connection.refresh_token, transport=transport, credentials=credentials)
    except InvalidGrant:
        if (
            connection.kind == PodioConnection.Kind.APP
            and connection.app_id is not None  # always, by the model's check constraint
            and connection.app_token
        ):
            return oauth.app_auth(
                connection.app_id,
                connection.app_token,
                transport=transport,
                credentials=credentials,
            )
        raise


def _lock_row(pk: int, *, skip_locked: bool) -> PodioConnection | None:
    """Lock and read the row: the lock is held before Podio is asked (:mod:`django_podio.db`)."""
    if not skip_locked or db.is_sqlite():  # SKIP LOCKED never waits: no timeout to set
        take_write_lock(lock_timeout=db.LOCK_TIMEOUT)
    # A list, not .first(): one row by pk needs no ORDER BY (compiling one costs ~0.3 ms).
    rows = list(PodioConnection.objects.select_for_update(skip_locked=skip_locked).filter(pk=pk))
    return rows[0] if rows else None


@sensitive_variables()
def _critical_section(
    pk: int,
    *,
    stale_token: str | None,
    margin: float,
    force: bool,
    skip_locked: bool,
    dry_run: bool,
    transport: Transport | None,
    credentials: conf.AppCredentials | None,
) -> RefreshResult:
    with transaction.atomic():
        try:
            current = _lock_row(pk, skip_locked=skip_locked)
        except DatabaseError as error:  # busy or lock timeout: nothing was spent, try later
            return RefreshResult(
                Outcome.FAILED, None, f"database busy: {redact(str(error))}", error
            )
        if current is None:
            return RefreshResult(Outcome.SKIPPED, None)
        if current.status != PodioConnection.Status.ACTIVE:
            return RefreshResult(Outcome.REAUTH_REQUIRED, current, current.last_error)
        if stale_token is not None:
            due = current.access_token == stale_token
        else:
            due = force or current.expires_at is None or current.expires_within(margin)
        if not due:
            return RefreshResult(Outcome.ALREADY_FRESH, current)
        if dry_run:
            return RefreshResult(Outcome.SKIPPED, current)
        try:
            token = _spend(current, transport, credentials)
        except InvalidGrant as error:
            text = redact(str(error))
            current.status = PodioConnection.Status.REAUTH_REQUIRED
            current.failure_count += 1
            current.last_error = text
            current.save(update_fields=["status", "failure_count", "last_error", "updated_at"])
            return RefreshResult(Outcome.REAUTH_REQUIRED, current, text, error)
        except PodioError as error:
            text = redact(str(error))
            current.failure_count += 1
            current.last_error = text
            current.save(update_fields=["failure_count", "last_error", "updated_at"])
            return RefreshResult(Outcome.FAILED, current, text, error)
        if _save_tokens(current, token):
            return RefreshResult(Outcome.REFRESHED, current)
        return RefreshResult(Outcome.FAILED, current, current.last_error)


def refresh_connection(
    connection: PodioConnection | int,
    *,
    stale_token: str | None = None,
    force: bool = False,
    margin: float | None = None,
    skip_locked: bool = False,
    dry_run: bool = False,
    transport: Transport | None = None,
    credentials: conf.AppCredentials | None = None,
) -> RefreshResult:
    """Refresh one connection if it still needs it, safely against every other worker.

    Due means: the stored access token is still ``stale_token`` (the one Podio just refused);
    or, without one, ``force``, or it expires within ``margin`` seconds (default
    ``REFRESH_MARGIN``). The row stays locked while Podio is asked, so a rotated refresh token is
    spent exactly once; the new pair is committed in a transaction of its own before this
    returns, even when the caller is inside ``atomic()``.

    Raises :class:`~django_podio.exceptions.DecryptionError` when the stored secrets cannot be
    read (a local fault: nothing was sent to Podio).
    """
    pk = connection.pk if isinstance(connection, PodioConnection) else connection
    margin = conf.get("REFRESH_MARGIN") if margin is None else margin
    try:
        result = run_outside_callers_transaction(
            lambda: _critical_section(
                pk,
                stale_token=stale_token,
                margin=margin,
                force=force,
                skip_locked=skip_locked,
                dry_run=dry_run,
                transport=transport,
                credentials=credentials,
            )
        )
    except DecryptionError:
        auth_event("undecryptable", connection=PodioConnection(pk=pk), level=40)
        raise
    _announce(result)
    return result


def _announce(result: RefreshResult) -> None:
    """Log and signal a committed outcome (never before the commit)."""
    current = result.connection
    if result.outcome is Outcome.REFRESHED:
        logger.info("Refreshed %r", current)
        auth_event("refresh", connection=current)
        signals.token_refreshed.send(sender=PodioConnection, connection=current)
    elif result.outcome is Outcome.REAUTH_REQUIRED and result.exception is not None:
        logger.warning("Reauthorization required for %r: %s", current, result.error)
        auth_event("reauth_required", connection=current, level=30, error=_kind(result))
        signals.reauthorization_required.send(
            sender=PodioConnection, connection=current, error=result.error
        )
    elif result.outcome is Outcome.FAILED:
        logger.warning("Refresh failed for %r: %s", current, result.error)
        auth_event("refresh_failed", connection=current, level=30, error=_kind(result))


def _kind(result: RefreshResult) -> str:
    return type(result.exception).__name__ if result.exception else "unknown"
