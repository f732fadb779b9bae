from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse


class Sleeper:
    """Records the sleeps the client asks for (backoff, 420 waits) instead of sleeping."""

    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeper():
    return Sleeper()


@pytest.fixture
def fake(fake_podio):
    """The fake Podio (from our pytest plugin) with one Podio user at the browser."""
    fake_podio.add_user(mail="ada@example.com", name="Ada Lovelace")
    return fake_podio


@pytest.fixture
def podio_settings(settings, fake):
    """Merge extra ``PODIO`` keys over the fake's URLs: ``podio_settings(MAX_RETRIES=0)``."""

    def apply(**extra):
        settings.PODIO = {**settings.PODIO, **extra}
        return settings.PODIO

    return apply


@pytest.fixture
def creds(fake):
    """The fake's client credentials, for calling the token endpoint directly."""
    from django_podio.conf import AppCredentials

    return AppCredentials(fake.client_id, fake.client_secret)


@pytest.fixture
def user_token(fake, creds):
    """A live token pair for a second Podio user (password grant: no browser needed)."""
    from django_podio.api import oauth

    fake.add_user(mail="grace@example.com", password="pw-grace")
    return oauth.password("grace@example.com", "pw-grace", credentials=creds)


def start_login(client, **params) -> str:
    """POST allauth's login view (as the button does) and return Podio's authorize URL."""
    response = client.post(reverse("podio_login"), params)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def authorize(authorize_url: str) -> str:
    """What the browser does at Podio: follow the authorize URL, return our callback URL."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"]


def callback_path(callback_url: str) -> str:
    parts = urlsplit(callback_url)
    return f"{parts.path}?{parts.query}"


def callback_params(callback_url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}


def login_with_podio(client, **params):
    """The whole browser round trip; returns the callback response (not followed)."""
    callback_url = authorize(start_login(client, **params))
    return client.get(callback_path(callback_url))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name every skipped browser or gettext test and why, in every run's summary (not only
    with -rs): a laptop without Chromium must see that the login was never clicked through,
    one without GNU gettext that the catalogs were not checked. Under ``CI`` both fail
    instead of skipping (tests/browser/conftest.py, tests/test_translations.py)."""
    if terminalreporter.hasopt("s"):
        return  # -rs lists them already
    for marker in ("browser", "gettext"):
        skipped = [
            report
            for report in terminalreporter.stats.get("skipped", [])
            if marker in getattr(report, "keywords", {})
        ]
        if not skipped:
            continue
        plural = "" if len(skipped) == 1 else "s"
        terminalreporter.write_sep(
            "=", f"{len(skipped)} {marker} test{plural} skipped", yellow=True
        )
        for report in skipped:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            terminalreporter.write_line(f"SKIPPED {report.nodeid}: {reason}")
