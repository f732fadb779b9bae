"""Podio's client-side flow against the fake, and allauth's headless token endpoint.

``client_side_flow`` is what a single-page app's browser does at Podio (``response_type=token``)
and gets back in the URL fragment; ``provider_token`` posts those tokens to allauth headless,
as the page's JavaScript does.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ..reports import admin_mail, tracker  # noqa: F401  (fixtures for the error-report tests)

SPA_URL = "http://testserver/spa/"
CLIENTS = ("browser", "app")


@pytest.fixture
def token_auth(settings):
    """Turn the provider's token login on (it is off by default)."""
    providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
    providers["podio"] = {**providers["podio"], "TOKEN_AUTH": True}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    return providers["podio"]


@pytest.fixture
def our_client_id(settings) -> str:
    return settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]["client_id"]


def client_side_flow(fake, client_id: str, **params: str) -> dict[str, str]:
    """Podio's authorize page with ``response_type=token``: the tokens in the fragment."""
    query = {"client_id": client_id, "redirect_uri": SPA_URL, "response_type": "token", **params}
    response = requests.get(fake.authorize_url, params=query, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:300]
    return {k: v[-1] for k, v in parse_qs(urlsplit(response.headers["Location"]).fragment).items()}


def token_body(fragment: dict[str, str], client_id: str, process: str = "login", **extra) -> dict:
    token = {
        "client_id": client_id,
        "access_token": fragment.get("access_token"),
        "refresh_token": fragment.get("refresh_token"),
        "expires_in": fragment.get("expires_in"),
        "scope": fragment.get("scope"),
        **extra,
    }
    return {
        "provider": "podio",
        "process": process,
        "token": {k: v for k, v in token.items() if v is not None},
    }


def provider_token(client, body: dict, *, kind: str = "browser", session_token: str = ""):
    """POST allauth headless' ``auth/provider/token`` as a front end does; returns the JSON."""
    headers = {"HTTP_X_SESSION_TOKEN": session_token} if session_token else {}
    response = client.post(
        f"/_allauth/{kind}/v1/auth/provider/token",
        data=json.dumps(body),
        content_type="application/json",
        **headers,
    )
    return response.status_code, response.json()


def error_codes(payload: dict) -> list[str]:
    return [error.get("code") for error in payload.get("errors", [])]


def refresh_at_podio(fake, refresh_token: str, client_id: str, secret: str) -> requests.Response:
    body = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": secret,
        "refresh_token": refresh_token,
    }
    return requests.post(fake.token_url, data=body, timeout=10)


def accepted_token_requests(fake, client_id: str) -> list:
    """Token-endpoint requests with this client's credentials that Podio answered 200."""
    return [
        r
        for r in fake.requests_to("/oauth/token", "POST")
        if (r.form or r.json or {}).get("client_id") == client_id and r.status == 200
    ]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """allauth counts login attempts per IP in the cache: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
