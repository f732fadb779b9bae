"""The example site's single-page screen in headless Chromium: Podio's client-side flow.

The page's own JavaScript runs the flow: it sends the browser to the fake Podio's consent
page with ``response_type=token``, takes the tokens out of its URL fragment, and posts them to
allauth's headless token endpoint with the session's CSRF token. Database checks run after the
browser is closed (Playwright's event loop and Django's ORM do not share a thread).
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model

from django_podio import get_client
from django_podio.models import PodioConnection
from django_podio.testing import FakePodio
from tests.browser.conftest import (  # noqa: F401
    chromium,
    chromium_path,
    screenshot,
    serve_example_site,
)
from tests.scan import database_dump, find_leaks, sessions_dump

from .conftest import refresh_at_podio

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()
PASSWORD = "a-long-demo-password"


@pytest.fixture
def spa_site(settings, chromium_path, token_auth, request):  # noqa: F811
    """The example site (``demo.urls``, its templates) with token login on, against a fake."""
    live_server = request.getfixturevalue("live_server")
    app = settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]
    with FakePodio(client_id=app["client_id"], client_secret=app["secret"], port=0) as fake:
        fake.authorize_mode = "consent"
        fake.seed_demo(items=5)
        serve_example_site(settings, fake)
        yield SimpleNamespace(url=live_server.url, fake=fake, chromium=chromium_path)


def fragment_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).fragment).items()}


def test_spa_signs_in_with_the_client_side_flow_then_connects_a_password_user(spa_site):
    fake, spa = spa_site.fake, spa_site.url + "/spa/"
    pat = User.objects.create_user("pat", "pat@example.com", PASSWORD)
    grace = fake.add_user(mail="grace@podio.example", name="Grace Hopper")
    arrivals: list[str] = []  # every URL the page was loaded with, fragment included
    seen: dict[str, object] = {}
    with chromium(spa_site.chromium) as page:
        page.on("framenavigated", lambda frame: arrivals.append(frame.url))
        page.goto(spa_site.url + "/")
        page.click("#spa-link")
        page.wait_for_selector("#spa-status:has-text('Signed out.')")

        # Sign in with Podio: consent at the fake, tokens back in the fragment.
        page.click("#spa-podio-login")
        page.wait_for_url(lambda url: url.startswith(fake.authorize_url))
        seen["consent"] = page.content()
        page.click("#allow")
        page.wait_for_selector("#spa-status:has-text('Signed in as')")
        seen["notice"] = page.inner_text("#spa-notice")
        seen["status"] = page.inner_text("#spa-status")
        seen["accounts"] = page.inner_text("#spa-accounts")
        seen["url_after_login"] = page.url
        seen["hash_after_login"] = page.evaluate("window.location.hash")
        page.click("#spa-check-podio")
        page.wait_for_selector("#spa-podio-profile:has-text('The server asked Podio')")
        seen["profile"] = page.inner_text("#spa-podio-profile")
        screenshot(page, "spa-signed-in")
        seen["page"] = page.content()

        # Sign out; sign in with a password; connect another Podio account.
        page.click("#spa-logout")
        page.wait_for_selector("#spa-status:has-text('Signed out.')")
        page.fill("#spa-username", "pat")
        page.fill("#spa-password", PASSWORD)
        page.click("#spa-password-login")
        page.wait_for_selector("#spa-status:has-text('Signed in as pat')")
        seen["before_connect"] = page.inner_text("#spa-accounts")
        fake.current_user = grace
        page.click("#spa-podio-connect")
        page.wait_for_url(lambda url: url.startswith(fake.authorize_url))
        page.click("#allow")
        page.wait_for_selector("#spa-notice:has-text('Podio is connected.')")
        page.wait_for_selector("#spa-accounts:has-text('Podio user')")
        seen["after_connect"] = page.inner_text("#spa-accounts")
        seen["hash_after_connect"] = page.evaluate("window.location.hash")
        page.click("#spa-check-podio")
        page.wait_for_selector("#spa-podio-profile:has-text('The server asked Podio')")
        seen["connect_profile"] = page.inner_text("#spa-podio-profile")
        screenshot(page, "spa-connected")

    assert "Allow" in seen["consent"] and "response_type" in seen["consent"]
    assert seen["notice"] == "Signed in with Podio."
    assert seen["status"].startswith("Signed in as") and "demo@example.com" in seen["status"]
    assert "Podio user" in seen["accounts"]
    # The page took the tokens out of its address bar at once.
    assert seen["url_after_login"] == spa and seen["hash_after_login"] == ""
    assert seen["hash_after_connect"] == ""
    assert seen["profile"].endswith("Demo User <demo@example.com>.")
    assert seen["before_connect"] == "none yet"
    assert "Grace Hopper" in seen["connect_profile"]

    # The browser really arrived with the client-side flow's tokens in its URL (twice).
    fragments = [fragment_of(url) for url in arrivals if "#access_token=" in url]
    assert len(fragments) == 2 and all(f.get("refresh_token") for f in fragments)
    demo_user = User.objects.get(email="demo@example.com")
    connection = PodioConnection.objects.get(user=demo_user)
    pat_connection = PodioConnection.objects.get(user=pat)
    assert SocialAccount.objects.get(user=pat).uid == str(grace.user_id)
    assert not SocialToken.objects.exists()
    for stored, from_url in ((connection, fragments[0]), (pat_connection, fragments[1])):
        # The connection holds tokens that work ...
        assert stored.access_token != from_url["access_token"]
        assert stored.refresh_token != from_url["refresh_token"]
        assert get_client(connection=stored).get("/user/status")["user"]["user_id"] == (
            stored.ref_id
        )
        # ... and the URL's refresh token no longer does.
        dead = refresh_at_podio(fake, from_url["refresh_token"], fake.client_id, fake.client_secret)
        assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
    leaks = find_leaks(
        fake.issued_secrets(),
        page=str(seen["page"]),
        database=database_dump(),
        sessions=sessions_dump(),
    )
    assert leaks == {}


def test_spa_ignores_tokens_it_did_not_ask_for(spa_site):
    """Login CSRF: a link carrying someone's tokens in the fragment signs nobody in."""
    fake = spa_site.fake
    # Tokens for our client, obtained by someone else (the attacker's own Podio login).
    query = {"client_id": fake.client_id, "response_type": "token", "redirect_uri": "http://x/"}
    fake.authorize_mode = "auto"
    planted = requests.get(
        fake.authorize_url, params={**query, "state": "forged"}, allow_redirects=False, timeout=10
    ).headers["Location"]
    fake.reset_log()
    with chromium(spa_site.chromium) as page:
        page.goto(spa_site.url + "/spa/#" + urlsplit(planted).fragment)
        page.wait_for_selector("#spa-error:has-text('state mismatch')")
        # The status follows the page's own session check, which may answer after the error.
        page.wait_for_function(
            "document.getElementById('spa-status').textContent !== 'Loading\u2026'"
        )
        status = page.inner_text("#spa-status")
        address = page.url

    assert status == "Signed out."
    assert address == spa_site.url + "/spa/"
    assert fake.requests == []  # the planted tokens never reached the server, let alone Podio
    assert not User.objects.exists() and not PodioConnection.objects.exists()
