"""allauth signals → the token service. Connected once, from ``AppConfig.ready()``."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_signed_up
from allauth.socialaccount.signals import (
    pre_social_login,
    social_account_added,
    social_account_updated,
)

from .. import tokens


def _capture(sender: Any, request: Any = None, sociallogin: Any = None, **kwargs: Any) -> None:
    if sociallogin is not None:
        tokens.store_from_login(sociallogin)


def _seal(sender: Any, request: Any = None, sociallogin: Any = None, **kwargs: Any) -> None:
    # pre_social_login comes after social_account_updated (existing accounts are already
    # stored) and before allauth may stash the login in the session for a pending sign-up.
    if sociallogin is not None:
        tokens.seal_login(sociallogin)


def connect() -> None:
    for signal in (social_account_added, social_account_updated, user_signed_up):
        signal.connect(_capture, dispatch_uid=f"django_podio.capture.{id(signal)}")
    pre_social_login.connect(_seal, dispatch_uid="django_podio.seal")
