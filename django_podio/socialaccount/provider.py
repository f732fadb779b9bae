from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider
from django.http import HttpRequest

from ..conf import PROVIDER_ID
from ..text import NUL, storable_json, storable_text
from . import token_login
from .views import PodioOAuth2Adapter


class PodioAccount(ProviderAccount):
    def get_profile_url(self) -> str | None:
        return (self.account.extra_data.get("profile") or {}).get("link")

    def get_avatar_url(self) -> str | None:
        return (self.account.extra_data.get("profile") or {}).get("thumbnail_link")

    def to_str(self) -> str:
        profile = self.account.extra_data.get("profile") or {}
        user = self.account.extra_data.get("user") or {}
        return profile.get("name") or user.get("mail") or super().to_str()


class PodioProvider(OAuth2Provider):
    id = PROVIDER_ID
    name = "Podio"
    account_class = PodioAccount
    oauth2_adapter_class = PodioOAuth2Adapter

    @property
    def supports_token_authentication(self) -> bool:  # type: ignore[override,unused-ignore]
        """Headless token login (Podio's client-side flow): opt-in, ``TOKEN_AUTH``."""
        return token_login.enabled(self)

    def verify_token(self, request: HttpRequest, token: dict[str, Any]) -> Any:
        """Bind the client-side flow's tokens to our client, then read the profile."""
        return token_login.verify_token(self, request, token)

    def extract_uid(self, data: dict[str, Any]) -> str:
        # The numeric Podio user id: stable, unlike an e-mail address that can change hands.
        return str(int(data["user"]["user_id"]))

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        user = data.get("user") or {}
        profile = data.get("profile") or {}
        name = storable_text(profile.get("name") or "").strip()
        first, _, last = name.partition(" ")
        return {
            "email": _mail(user),
            "name": name,
            "first_name": first,
            "last_name": last,
        }

    def extract_email_addresses(self, data: dict[str, Any]) -> list[EmailAddress]:
        mail = _mail(data.get("user") or {})
        # Podio does not tell whether the address was verified: claim nothing.
        return [EmailAddress(email=mail, verified=False, primary=True)] if mail else []

    def extract_extra_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Keep a small, token-free profile: ``extra_data`` is stored in plaintext."""
        user = data.get("user") or {}
        profile = data.get("profile") or {}
        image = profile.get("image") or {}
        # Stored as text (jsonb on PostgreSQL, which refuses NUL): NUL dropped.
        return storable_json(
            {
                "user": {
                    **{key: user.get(key) for key in ("user_id", "status", "locale", "timezone")},
                    "mail": _mail(user),
                    "created_on": user.get("created_on"),
                },
                "profile": {
                    "profile_id": profile.get("profile_id"),
                    "name": profile.get("name"),
                    "link": profile.get("link"),
                    "thumbnail_link": image.get("thumbnail_link")
                    if isinstance(image, dict)
                    else None,
                },
            }
        )


def _mail(user: dict[str, Any]) -> str | None:
    """The profile's e-mail address, if any. One holding NUL is not used at all: without the
    NUL it could be someone else's address (allauth may match accounts by e-mail)."""
    mail = user.get("mail")
    if not isinstance(mail, str) or not mail or NUL in mail:
        return None
    return mail


provider_classes = [PodioProvider]
