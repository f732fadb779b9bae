"""Capture: the tokens of a Podio login or connect, encrypted into ``PodioConnection``.

allauth hands us the tokens through its signals; nothing of them stays in ``SocialToken`` or
``SocialAccount.extra_data``.
"""

from __future__ import annotations

from typing import Any

from .. import conf, fields
from ..census import SECRET_COLUMNS
from ..db import write_atomic
from ..models import PodioConnection
from ..redaction import get_logger
from ..text import storable_text

logger = get_logger("django_podio.tokens")


def _granted_scope(sociallogin: Any) -> str | None:
    # The provider keeps the scope in extra_data (it is not a secret), which, unlike an
    # attribute on the login, survives allauth's session round trip of a pending sign-up.
    extra = getattr(sociallogin.account, "extra_data", None) or {}
    scope = extra.get("scope") if isinstance(extra, dict) else None
    if scope is None:
        scope = getattr(sociallogin, "_django_podio_scope", None)
    return scope if isinstance(scope, str) else None


def store_from_login(sociallogin: Any) -> PodioConnection | None:
    """Upsert the connection of a Podio login or connect; ``None`` for other providers.

    A login that brings no refresh token keeps the stored one: Podio (like most providers)
    may omit it on later logins, and blanking it would silently end background access. A row
    whose secrets can no longer be decrypted (a key dropped too early) is replaced by the fresh
    login instead of failing it: logging in again is the natural repair.
    """
    account = sociallogin.account
    token = sociallogin.token
    if account.provider != conf.PROVIDER_ID or account.pk is None or token is None:
        return None
    access, refresh = fields.unseal(token.token or ""), fields.unseal(token.token_secret or "")
    if not access:
        return None
    with write_atomic():
        # Deferred: the stored secrets are overwritten, never read (they may be unreadable).
        connection = (
            PodioConnection.objects.select_for_update()
            .defer(*SECRET_COLUMNS)
            .filter(social_account=account)
            .first()
        )
        if connection is None:
            connection = PodioConnection(kind=PodioConnection.Kind.USER, social_account=account)
        connection.user_id = account.user_id
        connection.access_token = access
        if refresh:
            connection.refresh_token = refresh
        elif connection.pk is not None and not _refresh_token_readable(connection.pk):
            connection.refresh_token = None  # unreadable and not replaced: drop, don't keep junk
        connection.expires_at = token.expires_at
        connection.ref_type = "user"
        connection.ref_id = int(account.uid)
        scope = _granted_scope(sociallogin)
        if scope is not None:
            connection.scope = storable_text(scope)
        connection.status = PodioConnection.Status.ACTIVE
        connection.failure_count = 0
        connection.last_error = ""
        connection.token_version += 1  # a new pair (see tokens.refresh: the version fence)
        if connection.pk is None:
            connection.save()
        else:
            connection.save(
                update_fields=[
                    "user",
                    "access_token",
                    *(["refresh_token"] if "refresh_token" in connection.__dict__ else []),
                    "expires_at",
                    "ref_type",
                    "ref_id",
                    "scope",
                    "status",
                    "failure_count",
                    "last_error",
                    "token_version",
                    "updated_at",
                ]
            )
    logger.info("Stored Podio tokens for %r", connection)
    return connection


def _refresh_token_readable(pk: int) -> bool:
    from ..census import SecretState, row_states, with_raw_secrets

    row = with_raw_secrets(PodioConnection.objects.filter(pk=pk)).first()
    return row is not None and row_states(row)["refresh_token"] is not SecretState.UNDECRYPTABLE


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
