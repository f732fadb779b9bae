"""Log in with Podio in a real browser: the example site, allauth and the fake Podio.

Headless Chromium clicks what a person clicks (the site's POST button, the fake's consent
page, "Refresh now", "Log out"), so the CSRF-protected POST, the ``state`` round trip, the
cookies and the redirects are the browser's own, not a test client's approximation.

The example site's URLs and templates run inside the pytest-django run (``tests.settings``,
``live_server``), pointed at a FakePodio on a free port.

Playwright's sync API keeps an event loop running in this thread while a browser is open, and
Django refuses ORM calls there; so every database check runs after the browser is closed.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.urls import reverse
from playwright.sync_api import Page

from django_podio.fields import decrypt
from django_podio.models import PodioConnection
from django_podio.testing import FakePodio
from tests.scan import database_dump, find_leaks, sessions_dump

from .conftest import chromium, screenshot, serve_example_site

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()


@pytest.fixture
def demo_site(settings, chromium_path, request):
    """The example site (``demo.urls`` and its templates) served against a fresh fake Podio."""
    if not settings.STATIC_URL:
        # Django's live server cannot serve a single request without it (a TypeError per hit).
        pytest.fail("tests/settings.py must set STATIC_URL for the live_server fixture")
    live_server = request.getfixturevalue("live_server")
    app = settings.SOCIALACCOUNT_PROVIDERS["podio"]["APP"]
    with FakePodio(client_id=app["client_id"], client_secret=app["secret"], port=0) as fake:
        fake.authorize_mode = "consent"
        seeded = fake.seed_demo(items=40)
        serve_example_site(settings, fake)
        settings.ACCOUNT_LOGOUT_REDIRECT_URL = "/"
        settings.TIME_ZONE = "UTC"
        yield SimpleNamespace(url=live_server.url, fake=fake, seeded=seeded, chromium=chromium_path)


def open_consent_page(page: Page, site: SimpleNamespace) -> None:
    page.goto(site.url + "/")
    page.click("#podio-login")  # a POST with the CSRF token, as a person's click sends it
    page.wait_for_url(lambda url: url.startswith(site.fake.authorize_url))


def raw_token_columns(pk: int) -> tuple[str, str]:
    """The token columns as stored, bypassing the fields' decryption."""
    table = db_connection.ops.quote_name(PodioConnection._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token, refresh_token FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()


def test_log_in_with_podio_then_refresh_and_log_out(demo_site):
    fake = demo_site.fake
    pages: dict[str, str] = {}
    with chromium(demo_site.chromium) as page:
        open_consent_page(page, demo_site)
        pages["consent"] = page.content()
        page.click("#allow")
        page.wait_for_url(demo_site.url + "/dashboard/")
        name = page.inner_text("#podio-profile-name")
        mail = page.inner_text("#podio-profile-mail")
        status = page.inner_text("#connection-status")
        expires_in = page.inner_text("#connection-expires-in")
        expires_at = page.inner_text("#connection-expires-at")
        heading = page.inner_text("#items-heading")
        cache_hint = page.is_visible("#cache-hint")
        screenshot(page, "dashboard-test")
        pages["dashboard"] = page.content()
        first_page_rows = page.locator("#items-table tbody tr").count()
        items_source = page.inner_text("#items-source")
        page.click("#items-next")
        page.wait_for_url(demo_site.url + "/dashboard/?page=2")
        second_page_rows = page.locator("#items-table tbody tr").count()
        pages["items page 2"] = page.content()

        page.click("#refresh-now")
        page.wait_for_selector("ul.messages")
        message = page.inner_text("ul.messages")
        last_refreshed = page.inner_text("#connection-last-refreshed")
        status_after_refresh = page.inner_text("#connection-status")
        pages["refreshed"] = page.content()

        page.click("#logout")
        page.wait_for_url(demo_site.url + "/")
        logged_out = page.is_visible("#podio-login")

    assert "Allow" in pages["consent"]
    # The seeded app's 40 items, 25 a page, read live from Podio (nothing cached yet).
    assert (first_page_rows, second_page_rows) == (25, 15)
    assert "40 items" in items_source and "live" in items_source
    assert name == "Demo User"
    assert mail == "demo@example.com"
    assert status == "active"
    assert expires_in.startswith("(expires in ") and expires_in.endswith(" minutes)")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", expires_at)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", last_refreshed)
    assert heading == f"Items of Projects (app {demo_site.seeded['app_id']})"
    assert cache_hint
    assert "Refreshed" in message
    assert not last_refreshed.startswith("never")
    assert status_after_refresh == "active"
    assert logged_out

    user = User.objects.get()
    assert user.email == "demo@example.com"
    assert (user.first_name, user.last_name) == ("Demo", "User")
    account = SocialAccount.objects.get(user=user, provider="podio")
    connection = PodioConnection.objects.get()
    assert (connection.user, connection.social_account) == (user, account)
    assert connection.kind == "user" and connection.status == "active"
    assert connection.last_refreshed_at is not None
    assert SocialToken.objects.count() == 0

    # Stored encrypted: the raw columns are ciphertext of tokens the fake really issued
    # (after "Refresh now", the rotated pair).
    secrets = fake.issued_secrets()
    assert connection.access_token in secrets and connection.refresh_token in secrets
    raw = raw_token_columns(connection.pk)
    for stored, plaintext in zip(
        raw, (connection.access_token, connection.refresh_token), strict=True
    ):
        assert stored and plaintext not in stored
        assert decrypt(stored) == plaintext

    leaks = find_leaks(
        secrets,
        **pages,
        database=database_dump(),
        sessions=sessions_dump(),
        extra_data=repr(account.extra_data),
    )
    assert leaks == {}, f"issued secrets found in: {sorted(leaks)}"


def test_deny_on_the_consent_page_cancels_the_login(demo_site):
    cancelled_path = reverse("socialaccount_login_cancelled")
    with chromium(demo_site.chromium) as page:
        open_consent_page(page, demo_site)
        page.click("#deny")
        page.wait_for_url(demo_site.url + cancelled_path)
        heading = page.inner_text("h1")
        page.click("#back-home")  # the page's own way back, not the address bar
        page.wait_for_url(demo_site.url + "/")
        home_button = page.is_visible("#podio-login")

    assert "Cancelled" in heading
    assert home_button
    assert User.objects.count() == 0
    assert SocialAccount.objects.count() == 0
    assert PodioConnection.objects.count() == 0


def test_a_failed_login_offers_try_again_which_then_works(demo_site):
    """Podio's token endpoint fails once: the error page's "Try again" completes the login."""
    fake = demo_site.fake
    fake.add_fault("500", path="/oauth/token", count=1)
    with chromium(demo_site.chromium) as page:
        open_consent_page(page, demo_site)
        page.click("#allow")
        page.wait_for_selector("#try-again")
        heading = page.inner_text("h1")
        back_home = page.get_attribute("#back-home", "href")
        screenshot(page, "login-failed")
        page.click("#try-again")
        page.wait_for_url(lambda url: url.startswith(fake.authorize_url))
        page.click("#allow")
        page.wait_for_url(demo_site.url + "/dashboard/")
        name = page.inner_text("#podio-profile-name")

    assert heading == "Log in with Podio failed"
    assert back_home == "/"
    assert name == "Demo User"
    assert PodioConnection.objects.get().status == "active"


def test_a_password_user_connects_podio_from_the_dashboard(demo_site):
    user = User.objects.create_user("pat", "pat@example.com", "a-long-demo-password")
    with chromium(demo_site.chromium) as page:
        page.goto(demo_site.url + "/")
        page.click("#password-login")
        page.fill("input[name=login]", "pat")
        page.fill("input[name=password]", "a-long-demo-password")
        page.click("form button[type=submit]:not(#logout)")
        page.wait_for_url(demo_site.url + "/dashboard/")
        no_account = page.inner_text("#profile")
        page.click("#podio-connect")
        page.wait_for_url(lambda url: url.startswith(demo_site.fake.authorize_url))
        page.click("#allow")
        page.wait_for_url(demo_site.url + "/dashboard/")
        name = page.inner_text("#podio-profile-name")
        status = page.inner_text("#connection-status")
        connect_left = page.locator("#podio-connect").count()
        rows = page.locator("#items-table tbody tr").count()

    assert "no Podio account is linked to pat" in no_account
    assert (name, status, connect_left, rows) == ("Demo User", "active", 0, 25)
    connection = PodioConnection.objects.get()
    assert connection.user == user
    assert SocialAccount.objects.get(provider="podio").user == user
    assert User.objects.count() == 1
