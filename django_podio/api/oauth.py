"""Podio's token endpoint, for every grant: the only code that asks Podio for tokens.

Form-encoded to ``PODIO["TOKEN_URL"]`` as Podio's own clients do; JSON to ``/oauth/token/v2``
when ``PODIO["TOKEN_JSON"]`` is on. Token requests are never retried on their own: a refresh
that reached Podio may already have spent the refresh token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from .. import conf
from ..conf import AppCredentials
from ..exceptions import InvalidGrant, PodioAPIError, PodioConfigurationError, ServerError
from .transport import Transport


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False, default="")
    expires_in: int | None = None
    scope: str = ""
    ref_type: str = ""
    ref_id: int | None = None
    token_type: str = "bearer"  # noqa: S105 - the token type name, not a secret

    def expires_at(self, now: datetime | None = None) -> datetime | None:
        if self.expires_in is None:
            return None
        return (now or timezone.now()) + timedelta(seconds=self.expires_in)

    @classmethod
    def from_json(cls, data: Any) -> TokenResponse:
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ServerError(description="token response without an access_token")
        ref = data.get("ref") if isinstance(data.get("ref"), dict) else {}
        expires_in = data.get("expires_in")
        try:
            ref_id = int(ref["id"]) if ref.get("id") is not None else None
            expires_in = int(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            raise ServerError(description="token response with malformed fields") from None
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or "",
            expires_in=expires_in,
            scope=str(data.get("scope") or ""),
            ref_type=str(ref.get("type") or ""),
            ref_id=ref_id,
            token_type=str(data.get("token_type") or "bearer"),
        )


def request_token(
    grant_type: str,
    params: dict[str, Any],
    *,
    credentials: AppCredentials | None = None,
    transport: Transport | None = None,
) -> TokenResponse:
    credentials = credentials or conf.get_app_credentials()
    body = {
        "grant_type": grant_type,
        "client_id": credentials.client_id,
        "client_secret": credentials.secret,
        **params,
    }
    url = conf.token_url()
    own = transport is None
    transport = transport or Transport()
    try:
        if url.rstrip("/").endswith("/v2"):
            response = transport.send("POST", url, json=body, safe=False)
        else:
            response = transport.send("POST", url, data=body, safe=False)
        return TokenResponse.from_json(response.podio_data)
    finally:
        if own:
            transport.close()


def exchange_code(code: str, redirect_uri: str, **kwargs: Any) -> TokenResponse:
    return request_token(
        "authorization_code", {"code": code, "redirect_uri": redirect_uri}, **kwargs
    )


def refresh(refresh_token: str, **kwargs: Any) -> TokenResponse:
    return request_token("refresh_token", {"refresh_token": refresh_token}, **kwargs)


def app_auth(app_id: int, app_token: str, **kwargs: Any) -> TokenResponse:
    return request_token("app", {"app_id": str(app_id), "app_token": app_token}, **kwargs)


def password(username: str, password: str, **kwargs: Any) -> TokenResponse:
    """For trusted scripts only; the password is sent once and never stored."""
    return request_token("password", {"username": username, "password": password}, **kwargs)


def client_credentials(**kwargs: Any) -> TokenResponse:
    """The standard OAuth server-to-server grant, which Podio does not document.

    Podio's way to act without a user is app authentication, so a refusal becomes a
    configuration error that says so instead of a bare ``invalid_grant``.
    """
    try:
        return request_token("client_credentials", {}, **kwargs)
    except PodioAPIError as error:
        if isinstance(error, InvalidGrant) or error.error in {
            "unsupported_grant_type",
            "invalid_grant",
            "unauthorized_client",
        }:
            raise PodioConfigurationError(
                "Podio does not support the client_credentials grant. To call Podio without "
                "a user, use app authentication: `manage.py podio_app_auth APP_ID`, then "
                "get_client(app_id=APP_ID)."
            ) from None
        raise
