"""The token service: the only code that writes Podio tokens.

* :func:`store_from_login` — capture tokens when a user logs in or connects with Podio.
* :func:`refresh_connection` — the one critical section: lock the row, re-read it, spend the
  refresh token at most once, save the new pair in the same transaction.
* :func:`get_client` — a :class:`PodioClient` whose token is fresh and stays fresh.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import close_old_connections, transaction
from django.db import connection as db_connection
from django.utils import timezone

from . import conf, fields, signals
from .api import oauth
from .api.client import PodioClient
from .api.transport import Transport
from .exceptions import (
    InvalidGrant,
    PodioError,
    ReauthorizationRequired,
)
from .models import PodioConnection
from .redaction import get_logger, redact

logger = get_logger("django_podio.tokens")


# Capture --------------------------------------------------------------------------------


def store_from_login(sociallogin: Any) -> PodioConnection | None:
    """Upsert the connection of a Podio login or connect; ``None`` for other providers.

    A login that brings no refresh token keeps the stored one: Podio (like most providers)
    may omit it on later logins, and blanking it would silently end background access.
    """
    account = sociallogin.account
    token = sociallogin.token
    if account.provider != conf.PROVIDER_ID or account.pk is None or token is None:
        return None
    access, refresh = fields.unseal(token.token or ""), fields.unseal(token.token_secret or "")
    if not access:
        return None
    with transaction.atomic():
        connection = (
            PodioConnection.objects.select_for_update().filter(social_account=account).first()
        )
        if connection is None:
            connection = PodioConnection(kind=PodioConnection.Kind.USER, social_account=account)
        connection.user_id = account.user_id
        connection.access_token = access
        if refresh:
            connection.refresh_token = refresh
        connection.expires_at = token.expires_at
        connection.ref_type = "user"
        connection.ref_id = int(account.uid)
        scope = getattr(sociallogin, "_django_podio_scope", None)
        if scope is not None:
            connection.scope = scope
        connection.status = PodioConnection.Status.ACTIVE
        connection.failure_count = 0
        connection.last_error = ""
        connection.save()
    logger.info("Stored Podio tokens for %r", connection)
    return connection


def seal_login(sociallogin: Any) -> None:
    """Encrypt the tokens a Podio login carries before allauth can stash them.

    When sign-up cannot finish at once (a form to fill in, a connect that needs
    reauthentication), allauth keeps the whole login, tokens included, in the session until
    the user comes back. Sealed, those copies are ciphertext; :func:`store_from_login` unseals.
    """
    token = sociallogin.token
    if sociallogin.account.provider != conf.PROVIDER_ID or token is None:
        return
    token.token = fields.seal(token.token or "")
    token.token_secret = fields.seal(token.token_secret or "")


# Refresh --------------------------------------------------------------------------------


class Outcome(enum.Enum):
    REFRESHED = "refreshed"
    ALREADY_FRESH = "already_fresh"  # another worker refreshed it first: nothing spent
    SKIPPED = "skipped"  # locked by another worker (skip_locked), or gone
    FAILED = "failed"  # network error, 5xx, rate limit: old tokens kept
    REAUTH_REQUIRED = "reauth_required"  # refresh token refused: the user must log in again


@dataclass
class RefreshResult:
    outcome: Outcome
    connection: PodioConnection | None
    error: str = ""


def _save_tokens(connection: PodioConnection, token: oauth.TokenResponse) -> None:
    now = timezone.now()
    connection.access_token = token.access_token
    if token.refresh_token:
        connection.refresh_token = token.refresh_token
    connection.expires_at = token.expires_at(now)
    if token.scope:
        connection.scope = token.scope
    connection.last_refreshed_at = now
    connection.failure_count = 0
    connection.last_error = ""
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
        if connection.kind == PodioConnection.Kind.APP and connection.app_token:
            return oauth.app_auth(
                connection.app_id,
                connection.app_token,
                transport=transport,
                credentials=credentials,
            )
        raise


def refresh_connection(
    connection: PodioConnection | int,
    *,
    stale_token: str | None = None,
    margin: float | None = None,
    skip_locked: bool = False,
    dry_run: bool = False,
    transport: Transport | None = None,
    credentials: conf.AppCredentials | None = None,
) -> RefreshResult:
    """Refresh one connection if it still needs it, safely against every other worker.

    Due means: the stored access token is still ``stale_token`` (the one Podio just refused),
    or, without one, it expires within ``margin`` seconds (default ``REFRESH_MARGIN``). The
    row stays locked while Podio is asked, so a rotated refresh token is spent exactly once.
    """
    pk = connection.pk if isinstance(connection, PodioConnection) else connection
    margin = conf.get("REFRESH_MARGIN") if margin is None else margin
    error_text = ""
    with transaction.atomic():
        current = (
            PodioConnection.objects.select_for_update(skip_locked=skip_locked).filter(pk=pk).first()
        )
        if current is None:
            return RefreshResult(Outcome.SKIPPED, None)
        if current.status != PodioConnection.Status.ACTIVE:
            return RefreshResult(Outcome.REAUTH_REQUIRED, current, current.last_error)
        due = (
            current.access_token == stale_token
            if stale_token is not None
            else current.expires_within(margin)
        )
        if not due:
            return RefreshResult(Outcome.ALREADY_FRESH, current)
        if dry_run:
            return RefreshResult(Outcome.SKIPPED, current)
        try:
            token = _spend(current, transport, credentials)
        except InvalidGrant as error:
            error_text = redact(str(error))
            current.status = PodioConnection.Status.REAUTH_REQUIRED
            current.failure_count += 1
            current.last_error = error_text
            current.save(update_fields=["status", "failure_count", "last_error", "updated_at"])
            outcome = Outcome.REAUTH_REQUIRED
        except PodioError as error:
            error_text = redact(str(error))
            current.failure_count += 1
            current.last_error = error_text
            current.save(update_fields=["failure_count", "last_error", "updated_at"])
            outcome = Outcome.FAILED
        else:
            _save_tokens(current, token)
            outcome = Outcome.REFRESHED
    if outcome is Outcome.REFRESHED:
        logger.info("Refreshed %r", current)
        signals.token_refreshed.send(sender=PodioConnection, connection=current)
    elif outcome is Outcome.REAUTH_REQUIRED:
        logger.warning("Reauthorization required for %r: %s", current, error_text)
        signals.reauthorization_required.send(
            sender=PodioConnection, connection=current, error=error_text
        )
    else:
        logger.warning("Refresh failed for %r: %s", current, error_text)
    return RefreshResult(outcome, current, error_text)


# Cron: refresh everything that is due ---------------------------------------------------


def due_connections(within: float | None = None) -> Any:
    """Active connections expiring within ``within`` seconds; reads only the cron index."""
    within = conf.get("REFRESH_MARGIN") if within is None else within
    deadline = timezone.now() + timedelta(seconds=within)
    return PodioConnection.objects.filter(
        status=PodioConnection.Status.ACTIVE, expires_at__lte=deadline
    ).order_by("expires_at", "pk")


@dataclass
class RefreshReport:
    refreshed: int = 0
    skipped: int = 0  # locked by another host, or already refreshed by someone else
    failed: int = 0
    reauth_required: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

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
    # Streamed (server-side cursor on PostgreSQL): memory stays flat however many are due.
    yield from due_connections(within).values_list("pk", flat=True).iterator(chunk_size=500)


def refresh_due(
    *,
    within: float | None = None,
    concurrency: int | None = None,
    on_result: Callable[[int, RefreshResult], None] | None = None,
    transport_factory: Callable[[], Transport] | None = None,
) -> RefreshReport:
    """Refresh every due connection with ``concurrency`` threads; safe on many hosts at once.

    Each refresh locks its row with ``SKIP LOCKED``: a row another host is refreshing is
    skipped, and one it has just refreshed is no longer due when re-read. Ctrl-C lets the
    refreshes in flight commit, then re-raises ``KeyboardInterrupt``.
    """
    within = conf.get("REFRESH_MARGIN") if within is None else within
    concurrency = max(1, int(concurrency or conf.get("REFRESH_CONCURRENCY")))
    credentials = conf.get_app_credentials()  # once per run, not one query per refresh
    report = RefreshReport()
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
                    logger.error("Refresh of connection %s failed: %s", pk, error)
                    result = RefreshResult(Outcome.FAILED, None, redact(str(error)))
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


# App authentication ---------------------------------------------------------------------


def store_app_connection(
    app_id: int, app_token: str, *, transport: Transport | None = None
) -> PodioConnection:
    """Verify an app's credentials with Podio, then keep them (encrypted) for ``get_client``.

    The app token is stored too: when the refresh token dies, the connection signs in again
    with it instead of needing a person.
    """
    token = oauth.app_auth(app_id, app_token, transport=transport)
    with transaction.atomic():
        connection = (
            PodioConnection.objects.select_for_update()
            .filter(kind=PodioConnection.Kind.APP, app_id=app_id)
            .first()
        ) or PodioConnection(kind=PodioConnection.Kind.APP, app_id=app_id)
        connection.app_token = app_token
        connection.ref_type = token.ref_type or "app"
        connection.ref_id = token.ref_id or app_id
        connection.access_token = token.access_token
        connection.refresh_token = token.refresh_token or connection.refresh_token
        connection.expires_at = token.expires_at()
        connection.scope = token.scope
        connection.status = PodioConnection.Status.ACTIVE
        connection.failure_count = 0
        connection.last_error = ""
        connection.last_refreshed_at = timezone.now()
        connection.save()
    logger.info("Stored app authentication for %r", connection)
    return connection


# Key rotation ---------------------------------------------------------------------------

SECRET_COLUMNS = ("access_token", "refresh_token", "app_token")


@dataclass
class ReencryptReport:
    current: int = 0  # already under the first key
    reencrypted: int = 0  # (or, in a dry run, would be)
    undecryptable: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.undecryptable == 0


def _with_raw_secrets(queryset: Any) -> Any:
    from django.db.models import TextField
    from django.db.models.functions import Cast

    return queryset.annotate(**{f"raw_{c}": Cast(c, TextField()) for c in SECRET_COLUMNS})


def _stale_columns(raw: dict[str, str | None], report: ReencryptReport) -> list[str]:
    stale = []
    for column, value in raw.items():
        if value is None:
            continue
        index = fields.key_index(value)
        if index is None:
            report.undecryptable += 1
        elif index == 0:
            report.current += 1
        else:
            report.reencrypted += 1
            stale.append(column)
    return stale


def reencrypt_all(*, dry_run: bool = False, chunk_size: int = 500) -> ReencryptReport:
    """Re-encrypt every stored secret under the first key of ``FIELD_ENCRYPTION_KEY``.

    A first pass only reads: if any value cannot be decrypted, nothing is written at all (the
    operator has dropped a key too early and must put it back). Then each chunk is rewritten in
    its own transaction with its rows locked, so a refresh running meanwhile is not lost; the
    values go through the model field, never through a bulk path.
    """
    census = ReencryptReport(dry_run=dry_run)
    raw_values = _with_raw_secrets(PodioConnection.objects.order_by("pk")).values_list(
        *[f"raw_{c}" for c in SECRET_COLUMNS]
    )
    for row in raw_values.iterator(chunk_size=chunk_size):
        _stale_columns(dict(zip(SECRET_COLUMNS, row, strict=True)), census)
    if dry_run or not census.ok or census.reencrypted == 0:
        return census

    report = ReencryptReport()
    pks = list(PodioConnection.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), chunk_size):
        with transaction.atomic():
            rows = _with_raw_secrets(
                PodioConnection.objects.select_for_update().filter(
                    pk__in=pks[start : start + chunk_size]
                )
            ).defer(*SECRET_COLUMNS)
            for row in rows:
                raw = {c: getattr(row, f"raw_{c}") for c in SECRET_COLUMNS}
                stale = _stale_columns(raw, report)
                if stale:
                    connection = PodioConnection.objects.get(pk=row.pk)  # decrypts, any key
                    connection.save(update_fields=stale)  # encrypts under the first key
    logger.info("Re-encrypted %d secret(s); %d already current", report.reencrypted, report.current)
    return report


# Use ------------------------------------------------------------------------------------


def _find_connection(user: Any, app_id: int | None) -> PodioConnection:
    if app_id is not None:
        return PodioConnection.objects.get(kind=PodioConnection.Kind.APP, app_id=app_id)
    connection = (
        PodioConnection.objects.filter(kind=PodioConnection.Kind.USER, user=user)
        .order_by("status", "-updated_at")  # "active" sorts before "reauth_required"
        .first()
    )
    if connection is None:
        raise PodioConnection.DoesNotExist(f"{user} has no Podio connection")
    return connection


def _usable_token(connection: PodioConnection, *, stale_token: str | None = None) -> str:
    result = refresh_connection(connection, stale_token=stale_token)
    current = result.connection
    if result.outcome is Outcome.REAUTH_REQUIRED or current is None:
        raise ReauthorizationRequired(
            f"Podio connection {connection.pk} needs its user to log in with Podio again."
        )
    if result.outcome is Outcome.FAILED:
        # A token that is merely close to expiry still works: use it and try again later.
        if stale_token is None and not current.expires_within(0):
            return current.access_token
        raise PodioError(f"Could not refresh Podio connection {current.pk}: {result.error}")
    return current.access_token


def get_client(
    user: Any = None,
    *,
    app_id: int | None = None,
    connection: PodioConnection | None = None,
    **client_options: Any,
) -> PodioClient:
    """A client for a user's, an app's or a given connection's Podio identity.

    The token is refreshed first when it expires within ``REFRESH_MARGIN``; later, a 401
    ``expired_token`` refreshes once (under the row lock) and replays the request once.
    Raises ``PodioConnection.DoesNotExist`` when there is no connection and
    :class:`ReauthorizationRequired` when its refresh token is dead.
    """
    if connection is None:
        if user is None and app_id is None:
            raise TypeError("get_client() needs user, app_id or connection")
        connection = _find_connection(user, app_id)
    if connection.status != PodioConnection.Status.ACTIVE:
        raise ReauthorizationRequired(
            f"Podio connection {connection.pk} needs its user to log in with Podio again."
        )
    token = connection.access_token
    if connection.expires_within(conf.get("REFRESH_MARGIN")):
        token = _usable_token(connection)
    pk = connection.pk

    def refresh(stale: str) -> str:
        return _usable_token(PodioConnection(pk=pk), stale_token=stale)

    return PodioClient(token, refresh=refresh, **client_options)
