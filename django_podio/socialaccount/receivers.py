"""allauth signals → the token service, and authentication events. Connected once, from
``AppConfig.ready()``.

allauth's order (see notes/allauth.md): a returning login or a connect of a known account
sends ``social_account_updated`` and then, with ``SOCIALACCOUNT_STORE_TOKENS`` on, writes the
login's token to ``SocialToken``; a new account is saved (token included) after
``pre_social_login``. So the tokens are sealed at both points, after our own capture: whatever
allauth writes to ``SocialToken`` or stashes in the session is ciphertext.
"""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_signed_up
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.signals import (
    pre_social_login,
    social_account_added,
    social_account_removed,
    social_account_updated,
)
from django.db.models.signals import pre_delete

from .. import tokens
from ..conf import PROVIDER_ID
from ..events import auth_event
from ..exceptions import DjangoPodioError
from ..hidden import frames_cut
from ..models import PodioConnection
from ..redaction import get_logger
from . import kept
from .token_login import FLOW_STATE_KEY

logger = get_logger("django_podio.tokens")

_REMOVED_ATTR = "_django_podio_connection"


def _is_podio(sociallogin: Any) -> bool:
    account = getattr(sociallogin, "account", None)
    return getattr(account, "provider", None) == PROVIDER_ID


def _event_name(signal: Any, sociallogin: Any) -> str:
    if signal is social_account_added:
        return "connect"
    if signal is social_account_updated and sociallogin.state.get("process") == "connect":
        return "connect"
    return "login"


def _capture(
    sender: Any, request: Any = None, sociallogin: Any = None, signal: Any = None, **kwargs: Any
) -> None:
    if sociallogin is None or not _is_podio(sociallogin):
        return
    # Below here the pair is in clear (unsealed, then in the ORM's frames while it is saved):
    # a failure there (the database down) must not print it in an error report.
    with frames_cut(logger, "Storing a Podio login's tokens", expected=(DjangoPodioError,)):
        connection = tokens.store_from_login(sociallogin)
        # Next, allauth may copy this token into SocialToken (STORE_TOKENS): only sealed.
        tokens.seal_login(sociallogin)
    # Stored: the pair a token login kept for a retry is not needed any more.
    kept.forget(sociallogin.state.get(kept.STATE_KEY))
    if connection is not None:
        # Which browser flow brought the tokens: the client-side one is named on the event.
        flow = sociallogin.state.get(FLOW_STATE_KEY)
        extra: dict[str, Any] = {"flow": flow} if isinstance(flow, str) else {}
        auth_event(_event_name(signal, sociallogin), connection=connection, **extra)


def _seal(sender: Any, request: Any = None, sociallogin: Any = None, **kwargs: Any) -> None:
    # pre_social_login comes after social_account_updated (existing accounts are already
    # stored) and before allauth saves a new account's token or stashes the login in the
    # session for a pending sign-up.
    if sociallogin is not None and _is_podio(sociallogin):
        with frames_cut(logger, "Sealing a Podio login's tokens"):
            tokens.seal_login(sociallogin)


def _remember_connection(sender: Any, instance: Any, **kwargs: Any) -> None:
    # The cascade deletes the connection with the account; keep its ids for the event.
    # Only ids are loaded: a row under a lost key can still be disconnected.
    if instance.provider == PROVIDER_ID:
        connection = (
            PodioConnection.objects.filter(social_account_id=instance.pk)
            .only("pk", "kind", "user_id", "ref_type", "ref_id")
            .first()
        )
        setattr(instance, _REMOVED_ATTR, connection)


def _disconnected(sender: Any, request: Any = None, socialaccount: Any = None, **kw: Any) -> None:
    if socialaccount is None or socialaccount.provider != PROVIDER_ID:
        return
    auth_event(
        "disconnect",
        connection=getattr(socialaccount, _REMOVED_ATTR, None),
        user=socialaccount.user,
    )


def connect() -> None:
    for signal in (social_account_added, social_account_updated, user_signed_up):
        signal.connect(_capture, dispatch_uid=f"django_podio.capture.{id(signal)}")
    pre_social_login.connect(_seal, dispatch_uid="django_podio.seal")
    pre_delete.connect(
        _remember_connection, sender=SocialAccount, dispatch_uid="django_podio.remember"
    )
    social_account_removed.connect(_disconnected, dispatch_uid="django_podio.disconnect")
