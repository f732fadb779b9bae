"""The refresh: the one place that spends a refresh token, held as a lease, never as a transaction.

Podio rotates the refresh token on every refresh (a second use of the old one is
``invalid_grant``), so two workers must never both spend it, and the new pair must reach the
database the moment Podio has answered. Holding a transaction or a row lock while Podio answers
would do the first, but PostgreSQL's ``idle_in_transaction_session_timeout`` kills such a
session after Podio has rotated, transaction poolers break it, and on SQLite it blocks every
other writer of the site. So, with no transaction open at any point (``django_podio.db``):

1. **Read** the row; if it is no longer due, there is nothing to spend.
2. **Claim** it with one committed conditional ``UPDATE``: still active, still the pair that was
   read (``token_version``), no live lease. A worker that loses the claim waits for the lease
   to clear and uses the new token (cron skips the row instead).
3. **Ask Podio**, with no transaction open.
4. **Store** the new pair with an ``UPDATE`` fenced on the lease (or, if the lease ran out, on
   the version spent: nobody has stored a newer pair). A refusal marks the connection
   ``reauth_required`` only while the stored pair is still the one that was refused.

Cron takes steps 1 and 2 itself, for a batch of rows at once (:mod:`.cron`), then steps 3
and 4 through :func:`ask_claimed` and :func:`settle_claimed`.

The lease outlives the token request's timeouts, so only a dead holder's lease expires. What a
dead holder loses is the answer it never stored: if its request reached Podio, the old refresh
token is spent and the next refresh is refused (``reauth_required``). A read timeout on the
token request is the same case: Podio may have rotated, and nobody can know.
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connections, router
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import conf, db, signals, statements
from ..api import oauth
from ..api.transport import Transport
from ..events import auth_event
from ..exceptions import DecryptionError, InvalidGrant, PodioError
from ..models import PodioConnection
from ..redaction import get_logger, redact
from ..text import storable_text

logger = get_logger("django_podio.tokens")

#: Seconds a lease outlives the token requests it covers (two for an app connection whose
#: refresh token died: the refresh, then its app token), beyond their connect and read timeouts.
LEASE_MARGIN = 30
#: Waiting for another worker's lease: first pause and the longest pause between looks.
WAIT_FIRST, WAIT_MAX = 0.05, 1.0
#: Attempts to store a new pair when the database fails (a dropped connection, a busy SQLite).
STORE_ATTEMPTS = 4


class Outcome(enum.Enum):
    REFRESHED = "refreshed"
    ALREADY_FRESH = "already_fresh"  # another worker refreshed it first: nothing spent
    SKIPPED = "skipped"  # leased by another worker (skip_locked), gone, or a dry run
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


def lease_seconds(transport: Transport | None = None) -> float:
    """How long a refresh's lease holds: longer than its token requests can take."""
    connect, read = transport.timeout if transport is not None else conf.timeout()
    return 2 * (float(connect) + float(read)) + LEASE_MARGIN


def _is_due(current: PodioConnection, stale_token: str | None, margin: float, force: bool) -> bool:
    if stale_token is not None:
        return current.access_token == stale_token
    return force or current.expires_at is None or current.expires_within(margin)


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


@sensitive_variables()
def _new_pair(token: oauth.TokenResponse, now: datetime) -> dict[str, Any]:
    """The columns a token answer writes. The refresh token is stored whatever else is odd:
    Podio has already spent the old one."""
    complete = bool(token.access_token)
    values: dict[str, Any] = {
        "last_refreshed_at": now,
        "status": PodioConnection.Status.ACTIVE,
        "token_version": statements.Add(1),
        "updated_at": now,
    }
    if complete:
        values.update(
            access_token=token.access_token,
            expires_at=token.expires_at(now),
            failure_count=0,
            last_error="",
        )
    else:
        values.update(
            expires_at=now - timedelta(seconds=1),  # due: the next use refreshes again
            failure_count=statements.Add(1),
            last_failed_at=now,
            last_error="Podio's token answer had no access token",
        )
    if token.refresh_token:
        values["refresh_token"] = token.refresh_token
    if token.scope:
        values["scope"] = storable_text(token.scope)
    return values


def _reconnect_after(error: DatabaseError) -> None:
    """A connection that failed mid-refresh (killed by the server, a pooler restart) is
    replaced before the next attempt; Django would only notice at the end of a request."""
    if isinstance(error, (OperationalError, InterfaceError)):
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()


def _using() -> str:
    """The database the refresh reads and writes: the connection's write database, so that a
    read replica's lag never makes a spent pair look current."""
    return router.db_for_write(PodioConnection)


@sensitive_variables()
def _store(pk: int, lease: db.Lease, version: int, values: dict[str, Any]) -> int:
    """Write the new pair, fenced; retried when the database fails, because Podio has already
    rotated: this write is the only copy of the new refresh token."""
    for attempt in range(STORE_ATTEMPTS):
        try:
            return db.release_row(
                PodioConnection,
                pk,
                lease,
                fence={"token_version": version},
                using=_using(),
                **values,
            )
        except DatabaseError as error:
            if attempt == STORE_ATTEMPTS - 1:
                raise
            logger.warning(
                "Storing the new token pair of connection %s failed (%s); retrying",
                pk,
                type(error).__name__,
            )
            _reconnect_after(error)
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _claim(pk: int, version: int, seconds: float) -> db.Lease | None:
    return db.claim_row(
        PodioConnection,
        pk,
        seconds,
        where={"status": PodioConnection.Status.ACTIVE, "token_version": version},
        using=_using(),
    )


@sensitive_variables()
def _refresh(
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
    seconds = lease_seconds(transport)
    deadline: float | None = None
    pause = WAIT_FIRST
    while True:
        try:
            current = statements.select_by_pk(PodioConnection, pk, _using())
            if current is None:
                return RefreshResult(Outcome.SKIPPED, None)
            if current.status != PodioConnection.Status.ACTIVE:
                return RefreshResult(Outcome.REAUTH_REQUIRED, current, current.last_error)
            if not _is_due(current, stale_token, margin, force):
                return RefreshResult(Outcome.ALREADY_FRESH, current)
            if dry_run:
                return RefreshResult(Outcome.SKIPPED, current)
            lease = _claim(pk, current.token_version, seconds)
        except DecryptionError:
            raise
        except DatabaseError as error:  # busy, or a lock timeout: nothing was spent
            _reconnect_after(error)
            text = f"database busy: {redact(str(error))}"
            return RefreshResult(Outcome.FAILED, None, text, error)
        if lease:
            return _spend_and_store(current, lease, transport, credentials)
        # Another worker holds the lease (or stored a new pair since we read): look again.
        if skip_locked:
            return RefreshResult(Outcome.SKIPPED, current)
        now = time.monotonic()
        if deadline is None:
            deadline = now + seconds + 5
        elif now > deadline:
            return RefreshResult(
                Outcome.FAILED,
                current,
                "another worker's refresh of this connection did not finish in time",
            )
        time.sleep(pause)
        pause = min(WAIT_MAX, pause * 2)


@dataclass
class Answer:
    """Podio's answer to one claimed refresh: a new pair, or the error it raised."""

    token: oauth.TokenResponse | None = None
    error: PodioError | None = None


@sensitive_variables()
def _spend_and_store(
    current: PodioConnection,
    lease: db.Lease,
    transport: Transport | None,
    credentials: conf.AppCredentials | None,
) -> RefreshResult:
    return _settle(current, lease, _ask(current, lease, transport, credentials))


@sensitive_variables()
def _ask(
    current: PodioConnection,
    lease: db.Lease,
    transport: Transport | None,
    credentials: conf.AppCredentials | None,
) -> Answer:
    """Spend the claimed row's refresh token (no transaction open)."""
    try:
        return Answer(token=_spend(current, transport, credentials))
    except PodioError as error:
        return Answer(error=error)
    except BaseException:
        # Our own fault or an interrupt (Ctrl-C) while Podio was asked: let the next worker
        # try at once rather than after the lease. If the request reached Podio, the old
        # refresh token is spent and that worker finds out (the documented loss window).
        _release_quietly(current.pk, lease)
        raise


@sensitive_variables()
def _settle(current: PodioConnection, lease: db.Lease, answer: Answer) -> RefreshResult:
    """Write what Podio answered, fenced on the lease (or the version spent), and say so."""
    pk, version = current.pk, current.token_version
    error = answer.error
    if isinstance(error, InvalidGrant):
        text = storable_text(redact(str(error)))
        now = timezone.now()
        marked = db.release_row(
            PodioConnection,
            pk,
            lease,
            where={"token_version": version},  # still the pair that was refused
            using=_using(),
            status=PodioConnection.Status.REAUTH_REQUIRED,
            failure_count=statements.Add(1),
            last_error=text,
            last_failed_at=now,
            updated_at=now,
        )
        if not marked:
            return _settled_elsewhere(pk, lease)
        current.refresh_from_db()
        return RefreshResult(Outcome.REAUTH_REQUIRED, current, text, error)
    if error is not None:
        text = storable_text(redact(str(error)))
        now = timezone.now()
        db.release_row(
            PodioConnection,
            pk,
            lease,
            using=_using(),
            failure_count=statements.Add(1),
            last_error=text,
            last_failed_at=now,
            updated_at=now,
        )
        current.refresh_from_db()
        return RefreshResult(Outcome.FAILED, current, text, error)
    token = answer.token
    if token is None:
        raise RuntimeError("an Answer holds a token or an error")
    values = _new_pair(token, timezone.now())
    try:
        stored = _store(pk, lease, version, values)
    except DatabaseError as db_error:
        logger.error(
            "Podio rotated the tokens of connection %s but the new pair could not be stored "
            "(%s): the connection will need its user to log in again",
            pk,
            type(db_error).__name__,
        )
        auth_event("token_lost", connection=current, level=40, error=type(db_error).__name__)
        return RefreshResult(
            Outcome.FAILED, current, "database error storing the new pair", db_error
        )
    if not stored:
        return _settled_elsewhere(pk, lease, token)
    _apply(current, values, version)
    if not token.access_token:
        return RefreshResult(Outcome.FAILED, current, current.last_error)
    return RefreshResult(Outcome.REFRESHED, current)


@sensitive_variables()
def _apply(current: PodioConnection, values: dict[str, Any], version: int) -> None:
    """What :func:`_store` wrote, on the instance the caller gets (no second read)."""
    for name, value in values.items():
        if isinstance(value, statements.Add):
            setattr(current, name, getattr(current, name) + value.amount)
        else:
            setattr(current, name, value)
    current.token_version = version + 1
    current.lease_owner, current.lease_expires_at = "", None


def _release_quietly(pk: int, lease: db.Lease) -> None:
    with contextlib.suppress(DatabaseError):  # else the lease simply runs out
        db.release_row(PodioConnection, pk, lease, using=_using())


@sensitive_variables()
def _settled_elsewhere(
    pk: int, lease: db.Lease, token: oauth.TokenResponse | None = None
) -> RefreshResult:
    """Our fenced write matched nothing: our lease ran out and someone stored a newer pair
    (another worker, or a fresh login). What is stored now stands."""
    current = statements.select_by_pk(PodioConnection, pk, _using())
    if current is None:
        return RefreshResult(Outcome.SKIPPED, None)
    if token is not None and token.access_token and current.access_token == token.access_token:
        # Our write did land: the database failed after committing it, and the retry's fence
        # no longer matched.
        return RefreshResult(Outcome.REFRESHED, current)
    logger.warning("Refresh of connection %s lost its lease; kept the newer stored pair", pk)
    if current.status != PodioConnection.Status.ACTIVE:
        return RefreshResult(Outcome.REAUTH_REQUIRED, current, current.last_error)
    return RefreshResult(Outcome.ALREADY_FRESH, current)


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
    ``REFRESH_MARGIN``). A rotated refresh token is spent exactly once (a lease, see the
    module doc), and the new pair is committed before this returns, even when the caller is
    inside ``atomic()``. With ``skip_locked``, a connection another worker is refreshing is
    ``SKIPPED`` at once; otherwise this waits for that worker and returns its result.

    Raises :class:`~django_podio.exceptions.DecryptionError` when the stored secrets cannot be
    read (a local fault: nothing was sent to Podio).
    """
    pk = connection.pk if isinstance(connection, PodioConnection) else connection
    margin = conf.get("REFRESH_MARGIN") if margin is None else margin
    try:
        result = db.run_outside_callers_transaction(
            lambda: _refresh(
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


def ask_claimed(
    row: PodioConnection,
    lease: db.Lease,
    *,
    transport: Transport | None = None,
    credentials: conf.AppCredentials | None = None,
) -> Answer | RefreshResult:
    """The first half of a refresh for a due row its caller has read and claimed itself.

    Cron claims its rows a batch at a time (:func:`django_podio.tokens.cron.refresh_due`),
    fenced on the version it read, so a claimed row still holds the pair read: what is left
    is to spend it (this) and to store the answer (:func:`settle_claimed`), the same two
    steps :func:`refresh_connection` takes. A lease with less time left than the token
    requests may take is renewed first; a :class:`RefreshResult` means Podio was not asked.
    """
    seconds = lease_seconds(transport)
    held: db.Lease | None = lease
    if lease.expires_at - timezone.now() < timedelta(seconds=seconds):
        try:
            held = db.renew(PodioConnection.objects.filter(pk=row.pk), lease, seconds)
        except DatabaseError as error:  # nothing was spent; the lease runs out
            _reconnect_after(error)
            return RefreshResult(Outcome.FAILED, row, f"database busy: {redact(str(error))}")
    if held is None:  # ran out while queued and someone else took it
        return RefreshResult(Outcome.SKIPPED, row)
    return _ask(row, held, transport, credentials)


def settle_claimed(row: PodioConnection, lease: db.Lease, answer: Answer) -> RefreshResult:
    """The second half (see :func:`ask_claimed`): store the answer, log and signal it."""
    result = db.run_outside_callers_transaction(lambda: _settle(row, lease, answer))
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
