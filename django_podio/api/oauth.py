"""Podio's token endpoint, for every grant: the only code that asks Podio for tokens.

Form-encoded to ``PODIO["TOKEN_URL"]`` as Podio's own clients do; JSON to ``/oauth/token/v2``
when ``PODIO["TOKEN_JSON"]`` is on. Token requests are never retried on their own: a refresh
that reached Podio may already have spent the refresh token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from .. import conf
from ..conf import AppCredentials
from ..exceptions import InvalidGrant, PodioAPIError, PodioConfigurationError, ServerError
from ..redaction import get_logger
from .transport import Transport

DEFAULT_EXPIRES_IN = 8 * 60 * 60  # Podio documents 8 hours for an access token
MAX_EXPIRES_IN = 30 * 24 * 60 * 60  # anything longer is not a lifetime Podio would issue

logger = get_logger("django_podio.api.oauth")


@dataclass(frozen=True)
class TokenResponse:
    """A token answer, validated: odd fields are repaired, never a reason to drop the pair.

    Podio rotates the refresh token on every refresh, so once it has answered 200 the old
    one is spent: whatever else is wrong with the answer, the new refresh token must reach the
    database. ``access_token`` may therefore be empty (the caller stores the refresh token and
    refreshes again); ``expires_in`` is always a sane number of seconds.
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False, default="")
    expires_in: int = DEFAULT_EXPIRES_IN
    scope: str = ""
    ref_type: str = ""
    ref_id: int | None = None
    token_type: str = "bearer"  # noqa: S105 - the token type name, not a secret
    problems: tuple[str, ...] = ()

    def expires_at(self, now: datetime | None = None) -> datetime:
        return (now or timezone.now()) + timedelta(seconds=self.expires_in)

    @classmethod
    def from_json(cls, data: Any) -> TokenResponse:
        if not isinstance(data, dict):
            raise ServerError(description="token response is not a JSON object")
        access, refresh = (
            _token_text(data.get("access_token")),
            _token_text(data.get("refresh_token")),
        )
        if not access and not refresh:
            raise ServerError(description="token response without an access or refresh token")
        problems: list[str] = []
        if not access:
            problems.append("no access_token")
        expires_in = _lifetime(data.get("expires_in"))
        if expires_in is None:
            problems.append("missing or invalid expires_in")
            expires_in = DEFAULT_EXPIRES_IN
        raw_ref = data.get("ref")
        ref = raw_ref if isinstance(raw_ref, dict) else {}
        ref_id = _positive_int(ref.get("id"))
        if ref.get("id") is not None and ref_id is None:
            problems.append("invalid ref.id")
        if problems:
            # The field names only: the values may be anything Podio sent, tokens included.
            logger.warning("Podio's token answer was odd (%s); kept it", ", ".join(problems))
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_in=expires_in,
            scope=_plain_text(data.get("scope")),
            ref_type=_plain_text(ref.get("type")),
            ref_id=ref_id,
            token_type=_plain_text(data.get("token_type")) or "bearer",
            problems=tuple(problems),
        )


def _token_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _plain_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 else None


def _lifetime(value: Any) -> int | None:
    """Seconds from ``expires_in``, or ``None`` for anything Podio would not mean."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(seconds) or not 1 <= seconds <= MAX_EXPIRES_IN:
        return None
    return int(seconds)


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
        return TokenResponse.from_json(response.podio_data)  # type: ignore[attr-defined]
    finally:
        if own:
            transport.close()


def exchange_code(
    code: str, redirect_uri: str, *, code_verifier: str | None = None, **kwargs: Any
) -> TokenResponse:
    """The authorization code grant; ``code_verifier`` completes PKCE when the login used it."""
    params = {"code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        params["code_verifier"] = code_verifier
    return request_token("authorization_code", params, **kwargs)


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
